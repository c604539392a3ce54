-- The comparison marts' input: one row per scored prediction in scope, label and metric (long form), the
-- labels being every label of the edit (derived by the taxonomy, and the benchmark's own task / edit_type)
-- plus `all`.
with

outcomes as (

    select * from {{ ref('int_prediction_outcomes') }}
    where in_scope

),

edit_labels as (

    select * from {{ ref('int_benchmark_edit_labels') }}

),

metric_values as (

    unpivot (
        select prediction_id, editing_model, benchmark, setting, edit_id, model_key, l1, l2, clip_i, clip_t,
            directional_caption, dino
        from outcomes
        where outcome = 'scored'
    )
    on l1, l2, clip_i, clip_t, directional_caption, dino
    into name metric value metric_value

),

final as (

    select
        metric_values.benchmark,
        metric_values.setting,
        metric_values.editing_model,
        metric_values.model_key,
        edit_labels.label_origin,
        edit_labels.label,
        metric_values.metric,
        metric_values.edit_id,
        metric_values.prediction_id,
        metric_values.metric_value
    from metric_values
    inner join edit_labels on metric_values.edit_id = edit_labels.edit_id
    where metric_values.metric_value is not null

)

select * from final
