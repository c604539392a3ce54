-- One row per benchmark, setting, editing model, label and metric: how many benchmark edits the label has,
-- how many outputs were found, missing, unreadable or scored, and the metric's mean with a bootstrap 95%
-- interval over the label's edits (macro bootstrap_ctes, seed bootstrap_settings). Labels: `all`, the
-- taxonomy's derived labels and the benchmark's own (task, edit_type). A group without any score keeps its
-- counts with a null metric.
with

outcomes as (

    select * from {{ ref('int_prediction_outcomes') }}
    where in_scope

),

metric_values as (

    select
        benchmark,
        setting,
        editing_model,
        label_origin,
        label,
        metric,
        edit_id as unit_id,
        metric_value
    from {{ ref('int_prediction_metric_values') }}

),

labels as (

    select * from {{ ref('int_benchmark_edit_labels') }}

),

counts as (

    select
        outcomes.benchmark,
        outcomes.setting,
        outcomes.editing_model,
        labels.label_origin,
        labels.label,
        count(distinct outcomes.edit_id) as n_edits,
        count(distinct outcomes.edit_id) filter (where outcomes.outcome != 'missing') as n_outputs,
        count(distinct outcomes.edit_id) filter (where outcomes.outcome = 'missing') as n_missing,
        count(distinct outcomes.edit_id) filter (where outcomes.outcome = 'unreadable') as n_unreadable,
        count(distinct outcomes.edit_id) filter (where outcomes.outcome = 'not_scored') as n_not_scored,
        count(distinct outcomes.edit_id) filter (where outcomes.outcome = 'scored') as n_scored,
        any_value(outcomes.model_key) filter (where outcomes.model_key is not null) as model_key,
        any_value(outcomes.embedding_model) filter (where outcomes.embedding_model is not null) as embedding_model,
        any_value(outcomes.protocol) filter (where outcomes.protocol is not null) as protocol
    from outcomes
    inner join labels on outcomes.edit_id = labels.edit_id
    group by all

),

{{ bootstrap_ctes('metric_values', ['benchmark', 'setting', 'editing_model', 'label_origin', 'label', 'metric']) }},

final as (

    select
        counts.benchmark,
        counts.setting,
        counts.editing_model,
        counts.label_origin,
        counts.label,
        bootstrap_intervals.metric,
        ---------- coverage
        counts.n_edits,
        counts.n_outputs,
        counts.n_missing,
        counts.n_unreadable,
        counts.n_not_scored,
        counts.n_scored,
        ---------- the metric
        bootstrap_intervals.n_units as n_values,
        bootstrap_intervals.mean_value,
        bootstrap_intervals.ci_low,
        bootstrap_intervals.ci_high,
        bootstrap_intervals.replicates,
        metrics.higher_is_better,
        ---------- provenance
        counts.protocol,
        counts.model_key,
        counts.embedding_model
    from counts
    left join bootstrap_intervals
        on
            counts.benchmark = bootstrap_intervals.benchmark
            and counts.setting = bootstrap_intervals.setting
            and counts.editing_model = bootstrap_intervals.editing_model
            and counts.label_origin = bootstrap_intervals.label_origin
            and counts.label = bootstrap_intervals.label
    left join {{ ref('prediction_metrics') }} as metrics on bootstrap_intervals.metric = metrics.metric

)

select * from final
