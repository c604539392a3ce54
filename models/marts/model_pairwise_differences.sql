-- One row per benchmark, setting, label, metric and pair of editing models (model_a < model_b by name): the
-- mean of the per-edit difference a - b over the edits both models have a score for, with a paired
-- bootstrap 95% interval (macro bootstrap_ctes), and the better model where the interval excludes zero
-- (seed prediction_metrics says which direction is better).
with

metric_values as (

    select * from {{ ref('int_prediction_metric_values') }}

),

paired as (

    select
        a.benchmark,
        a.setting,
        a.label_origin,
        a.label,
        a.metric,
        a.editing_model as model_a,
        b.editing_model as model_b,
        a.edit_id as unit_id,
        a.metric_value as value_a,
        b.metric_value as value_b,
        a.metric_value - b.metric_value as metric_value
    from metric_values as a
    inner join metric_values as b
        on
            a.benchmark = b.benchmark
            and a.setting = b.setting
            and a.label_origin = b.label_origin
            and a.label = b.label
            and a.metric = b.metric
            and a.edit_id = b.edit_id
            and a.editing_model < b.editing_model

),

means as (

    select
        benchmark,
        setting,
        label_origin,
        label,
        metric,
        model_a,
        model_b,
        avg(value_a) as mean_a,
        avg(value_b) as mean_b
    from paired
    group by all

),

{{ bootstrap_ctes('paired', ['benchmark', 'setting', 'label_origin', 'label', 'metric', 'model_a', 'model_b']) }},

final as (

    select
        bootstrap_intervals.benchmark,
        bootstrap_intervals.setting,
        bootstrap_intervals.label_origin,
        bootstrap_intervals.label,
        bootstrap_intervals.metric,
        bootstrap_intervals.model_a,
        bootstrap_intervals.model_b,
        bootstrap_intervals.n_units as n_paired,
        means.mean_a,
        means.mean_b,
        bootstrap_intervals.mean_value as mean_diff,
        bootstrap_intervals.ci_low,
        bootstrap_intervals.ci_high,
        bootstrap_intervals.replicates,
        metrics.higher_is_better,
        case
            when bootstrap_intervals.ci_low > 0 then
                case when metrics.higher_is_better then bootstrap_intervals.model_a else bootstrap_intervals.model_b end
            when bootstrap_intervals.ci_high < 0 then
                case when metrics.higher_is_better then bootstrap_intervals.model_b else bootstrap_intervals.model_a end
        end as better_model
    from bootstrap_intervals
    inner join means
        on
            bootstrap_intervals.benchmark = means.benchmark
            and bootstrap_intervals.setting = means.setting
            and bootstrap_intervals.label_origin = means.label_origin
            and bootstrap_intervals.label = means.label
            and bootstrap_intervals.metric = means.metric
            and bootstrap_intervals.model_a = means.model_a
            and bootstrap_intervals.model_b = means.model_b
    left join {{ ref('prediction_metrics') }} as metrics on bootstrap_intervals.metric = metrics.metric

)

select * from final
