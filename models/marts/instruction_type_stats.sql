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
-- One row per dataset x part x label origin x label: counts and shares, co-occurring labels, instruction
-- length, score distributions (p10, median, p90) and multi-turn depth.
with

edits as materialized (

    select
        edit_id, dataset, part, session_id, turn_index, n_words, n_clauses, clip_i,
        coalesce(clip_t_target_caption, clip_t_instruction) as clip_t,
        coalesce(directional_caption, directional_instruction) as directional
    from {{ ref('edits') }}
    where {{ partition_filter() }}

),

labels as (

    select * from {{ ref('edit_labels') }}

),

totals as (

    select dataset, part, count(*) as n_edits_in_part from edits group by all

),

labelled_totals as (

    select edits.dataset, edits.part, labels.origin, count(distinct labels.edit_id) as n_labelled_edits
    from labels join edits using (edit_id)
    group by all

),

pairs as (

    select a.edit_id, a.origin, a.label, b.label as other_label
    from labels as a
    join labels as b on a.edit_id = b.edit_id and a.origin = b.origin and a.label <> b.label

),

cooccurrence as (

    select
        dataset, part, origin, label,
        list({ 'label': other_label, 'n_edits': n } order by n desc, other_label asc)[1:5] as top_cooccurring_labels
    from (
        select edits.dataset, edits.part, pairs.origin, pairs.label, pairs.other_label, count(*) as n
        from pairs join edits using (edit_id)
        group by all
    ) as pairs
    group by all

),

per_label as (

    select
        edits.dataset,
        edits.part,
        labels.origin,
        labels.label,
        any_value(labels.scope) as scope,
        any_value(labels.operation) as operation,
        count(*) as n_edits,
        count(distinct edits.session_id) as n_sessions,
        quantile_cont(edits.n_words, 0.1) as n_words_p10,
        median(edits.n_words) as n_words_median,
        quantile_cont(edits.n_words, 0.9) as n_words_p90,
        avg(edits.n_clauses) as n_clauses_mean,
        count(edits.clip_i) as n_scored,
        quantile_cont(edits.clip_i, 0.1) as clip_i_p10,
        median(edits.clip_i) as clip_i_median,
        quantile_cont(edits.clip_i, 0.9) as clip_i_p90,
        quantile_cont(edits.directional, 0.1) as directional_p10,
        median(edits.directional) as directional_median,
        quantile_cont(edits.directional, 0.9) as directional_p90,
        quantile_cont(edits.clip_t, 0.1) as clip_t_p10,
        median(edits.clip_t) as clip_t_median,
        quantile_cont(edits.clip_t, 0.9) as clip_t_p90,
        count(*) filter (where edits.session_id is not null) as n_multi_turn_edits,
        avg(edits.turn_index) filter (where edits.session_id is not null) as turn_index_mean,
        max(edits.turn_index) as turn_index_max
    from labels
    join edits using (edit_id)
    group by all

),

final as (

    select
        per_label.dataset,
        per_label.part,
        per_label.origin,
        per_label.label,
        per_label.scope,
        per_label.operation,
        per_label.n_edits,
        totals.n_edits_in_part,
        per_label.n_edits / totals.n_edits_in_part as share_of_part,
        labelled_totals.n_labelled_edits,
        per_label.n_edits / labelled_totals.n_labelled_edits as share_of_labelled,
        per_label.n_sessions,
        cooccurrence.top_cooccurring_labels,
        per_label.n_words_p10,
        per_label.n_words_median,
        per_label.n_words_p90,
        per_label.n_clauses_mean,
        per_label.n_scored,
        per_label.clip_i_p10,
        per_label.clip_i_median,
        per_label.clip_i_p90,
        per_label.directional_p10,
        per_label.directional_median,
        per_label.directional_p90,
        per_label.clip_t_p10,
        per_label.clip_t_median,
        per_label.clip_t_p90,
        per_label.n_multi_turn_edits,
        per_label.turn_index_mean,
        per_label.turn_index_max
    from per_label
    join totals using (dataset, part)
    join labelled_totals using (dataset, part, origin)
    left join cooccurrence using (dataset, part, origin, label)

)

select * from final
