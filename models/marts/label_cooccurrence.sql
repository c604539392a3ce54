{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}, {'state': 'edit_labels'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- depends_on: {{ ref('stg_editlens__edits') }}
-- One row per dataset x part x origin x ordered label pair given to the same edit.
with

edits as (

    select edit_id, dataset, part from {{ ref('edits') }}
    where {{ partition_filter() }}

),

labels as (

    select * from {{ ref('edit_labels') }}

),

label_counts as (

    select edits.dataset, edits.part, labels.origin, labels.label, count(*) as n_edits_with_label
    from labels join edits using (edit_id)
    group by all

),

pairs as (

    select edits.dataset, edits.part, a.origin, a.label as label_a, b.label as label_b, count(*) as n_edits
    from labels as a
    join labels as b on a.edit_id = b.edit_id and a.origin = b.origin and a.label <> b.label
    join edits on edits.edit_id = a.edit_id
    group by all

)

select
    pairs.*,
    label_counts.n_edits_with_label as n_edits_with_label_a,
    pairs.n_edits / label_counts.n_edits_with_label as share_of_label_a
from pairs
join label_counts
    on label_counts.dataset = pairs.dataset and label_counts.part = pairs.part
    and label_counts.origin = pairs.origin and label_counts.label = pairs.label_a
