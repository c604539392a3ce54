{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}, {'state': 'int_edit_attribute_shifts'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- depends_on: {{ ref('stg_editlens__edits') }}
-- One row per dataset x derived label ('all' = every edit) x perceived-attribute concept: mean zero-shot score of
-- sources and targets and the mean shift (target - source) edits of that kind make.
with

edits as (

    select edit_id, dataset, derived_labels from {{ ref('edits') }}
    where {{ partition_filter() }}

),

edit_label as materialized (

    select edit_id, dataset, 'all' as label from edits
    union all
    select edit_id, dataset, unnest(derived_labels) as label from edits

),

shifts as (

    select * from {{ ref('int_edit_attribute_shifts') }}

)

select
    edit_label.dataset,
    edit_label.label,
    shifts.concept_group,
    shifts.concept,
    count(*) as n_edits,
    avg(shifts.source_score) as source_score_mean,
    avg(shifts.target_score) as target_score_mean,
    avg(shifts.shift) as shift_mean,
    quantile_cont(shifts.shift, 0.1) as shift_p10,
    quantile_cont(shifts.shift, 0.9) as shift_p90
from edit_label
join shifts using (edit_id)
group by all
