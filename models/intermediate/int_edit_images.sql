-- depends_on: {{ ref('int_image_facts_by_dataset') }}
-- One row per edit: what is known about its source and target images (existence, decode status, content hashes,
-- sharpness). Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits or image facts
-- changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [{'input': 'int_image_facts_by_dataset', 'by': 'dataset',
                  'fingerprint': ['image_id', 'file_exists', 'sha256', 'phash', 'width', 'height', 'blur', 'status']}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

edits as (

    select edit_id, source_image_id, target_image_id from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

missing_files as (

    -- images ingest found missing on disk (few): they count as `missing` even before embed
    select distinct image_id from {{ ref('stg_editlens__images') }} where file_exists = false

),

facts as (

    -- one row per image_id by the embed contract
    select image_id, sha256, phash, width, height, blur, status from {{ ref('stg_editlens__image_facts') }}

),

joined as (

    select
        edits.edit_id,
        edits.source_image_id,
        edits.target_image_id,
        src.sha256 as source_sha256,
        tgt.sha256 as target_sha256,
        src.phash as source_phash,
        tgt.phash as target_phash,
        src.width as source_width,
        src.height as source_height,
        tgt.width as target_width,
        tgt.height as target_height,
        src.blur as source_sharpness,
        tgt.blur as target_sharpness,
        coalesce(src.status, case when src_missing.image_id is not null then 'missing' end, 'unknown')
            as source_status,
        coalesce(tgt.status, case when tgt_missing.image_id is not null then 'missing' end, 'unknown')
            as target_status
    from edits
    left join facts as src on src.image_id = edits.source_image_id
    left join facts as tgt on tgt.image_id = edits.target_image_id
    left join missing_files as src_missing on src_missing.image_id = edits.source_image_id
    left join missing_files as tgt_missing on tgt_missing.image_id = edits.target_image_id

)

select * from joined
