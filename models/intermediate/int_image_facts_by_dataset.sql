{{ config(materialized='view') }}

-- One row per ingested image: its dataset and embed's facts about it. A view: incremental models fingerprint it
-- per dataset, so a dataset whose images were embedded again is recomputed.
with

images as (

    select image_id, dataset, file_exists from {{ ref('stg_editlens__images') }}

),

facts as (

    select image_id, sha256, phash, width, height, blur, status from {{ ref('stg_editlens__image_facts') }}

),

joined as (

    select
        images.image_id,
        images.dataset,
        images.file_exists,
        facts.sha256,
        facts.phash,
        facts.width,
        facts.height,
        facts.blur,
        facts.status
    from images
    left join facts on facts.image_id = images.image_id

)

select * from joined
