-- One row per edit and label: labels derived by the taxonomy rules and labels the dataset provides.
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits changed (an
-- instruction's derived labels depend only on its text and the seeds, part of the fingerprint).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select edit_id, instruction_key, provided_labels from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

derived as (

    select edits.edit_id, labels.label, 'derived' as origin
    from edits
    join {{ ref('int_instruction_labels_derived') }} as labels
        on labels.instruction_key = edits.instruction_key

),

provided as (

    select distinct edit_id, unnest(provided_labels) as label, 'provided' as origin
    from edits
    where len(provided_labels) > 0

),

unioned as (

    select * from derived
    union all
    select * from provided where label is not null

),

final as (

    select
        edit_id,
        label,
        origin,
        split_part(label, '-', 1) as scope,
        nullif(substr(label, length(split_part(label, '-', 1)) + 2), '') as operation
    from unioned

)

select * from final
