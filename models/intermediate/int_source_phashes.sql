{{ config(materialized='view') }}

-- One row per distinct source-image content that decoded and has a perceptual hash: what the near-duplicate
-- search compares. A view: int_source_phash_blocks keeps the contents it has already cut into blocks.
with

edit_images as (

    select source_sha256, source_phash, source_status from {{ ref('int_edit_images') }}

),

sources as (

    select source_sha256 as sha256, any_value(source_phash) as phash
    from edit_images
    where source_sha256 is not null and source_phash is not null and source_status = 'ok'
    group by source_sha256

)

select * from sources
