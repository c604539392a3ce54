-- A table, not a view: a dozen models read it, and the normalised instruction (regexp work) is computed once.
{{ config(materialized='table') }}

with

source as (

    select * from {{ warehouse_table('edits') }}

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

final as (

    select *, hash(instruction_norm) as instruction_key from normalised

)

select * from final
