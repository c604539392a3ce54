-- A table, not a view: a dozen models read it, and the normalised instruction (regexp work) is computed once.
-- Incremental by dataset (macros/incremental.sql): a build recomputes only datasets whose files changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {'input': 'source:edits', 'by': 'lower(dataset)', 'column': 'dataset'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

source as (

    select * from {{ warehouse_table('edits') }}
    where {{ partition_filter() }}

),

normalised as (

    select
        ---------- ids
        edit_id,
        source_image_id,
        target_image_id,
        mask_image_id,
        session_id,

        ---------- dataset coordinates
        lower(dataset) as dataset,
        part,
        split,
        cast(coalesce(turn_index, 1) as integer) as turn_index,

        ---------- text
        instruction,
        instruction_ori,
        source_caption,
        target_caption,
        -- normalised instruction: lower case, straight quotes, single spaces
        trim(regexp_replace(lower(replace(replace(coalesce(instruction, ''), '’', ''''), '‘', '''')), '\s+', ' ', 'g'))
            as instruction_norm,
        provided_labels,
        provided_scores,
        extra,

        ---------- provenance
        source_file,
        source_record,
        ingest_run_id

    from source

),

deduplicated as (

    -- the same record in two annotation files (or two copies of a file) is loaded once per file by ingest;
    -- one row per edit_id here (the first file by name), the others named in duplicate_source_files
    select
        *,
        count(*) over (partition by edit_id) as n_copies,
        list(source_file) over (partition by edit_id) as all_source_files
    from normalised
    qualify row_number() over (partition by edit_id order by source_file, source_record) = 1

),

final as (

    select
        * exclude (all_source_files),
        n_copies > 1 as duplicate_record,
        list_filter(list_distinct(all_source_files), f -> f != source_file) as duplicate_source_files,
        hash(instruction_norm) as instruction_key
    from deduplicated

)

select * from final
