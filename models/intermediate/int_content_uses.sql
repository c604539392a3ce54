{{ config(materialized='view') }}

-- One row per use of an image content by an edit (its source, its target): the content, the edit's dataset and
-- split. A view: int_content_overlaps reads the uses of the contents it recomputes.
with

edits as (

    select edit_id, dataset, split from {{ ref('stg_editlens__edits') }}

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}

),

uses as (

    select images.source_sha256 as sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.source_sha256 is not null
    union all
    select images.target_sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.target_sha256 is not null

)

select * from uses
