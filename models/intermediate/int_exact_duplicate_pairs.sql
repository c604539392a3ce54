-- Edits whose (source, target) pair repeats another edit's of the same dataset and part: same image contents
-- (or, without content hashes, the same image references). The first in file order is the original; later ones
-- are duplicates. (A part that re-annotates another part's pairs, e.g. SEED's GPT-4V rewrites, is not a duplicate.)
-- depends_on: {{ ref('int_image_facts_by_dataset') }}
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits or image facts changed.
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

    select edit_id, dataset, part, source_file, source_record from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

images as (

    select
        edit_id,
        coalesce(source_sha256, source_image_id) as source_key,
        coalesce(target_sha256, target_image_id) as target_key
    from {{ ref('int_edit_images') }}

),

keyed as (

    select edits.*, images.source_key, images.target_key
    from edits join images using (edit_id)

),

-- a hash aggregate, not a window over every edit: only repeated pairs come out
groups as (

    select
        dataset, part, source_key, target_key,
        count(*) as duplicate_group_size,
        min(struct_pack(source_file, source_record, edit_id)).edit_id as original_edit_id
    from keyed
    group by all
    having count(*) > 1

),

members as (

    select
        keyed.edit_id,
        groups.duplicate_group_size,
        row_number() over (
            partition by keyed.dataset, keyed.part, keyed.source_key, keyed.target_key
            order by keyed.source_file, keyed.source_record, keyed.edit_id
        ) as duplicate_rank,
        groups.original_edit_id
    from keyed
    join groups using (dataset, part, source_key, target_key)

)

select * from members
