-- The comparison marts' input: one row per scored prediction in scope, label and metric (long form), the
-- labels being every label of the edit (derived by the taxonomy, and the benchmark's own task / edit_type)
-- plus `all`.
with

outcomes as (

    select * from {{ ref('int_prediction_outcomes') }}
    where in_scope

),

edits as (

    select edit_id, instruction_key, provided_labels from {{ ref('stg_editlens__edits') }}

),

labels as (

    select edits.edit_id, 'derived' as label_origin, derived.label
    from edits
    inner join {{ ref('int_instruction_labels_derived') }} as derived
        on edits.instruction_key = derived.instruction_key
    union distinct
    select edit_id, 'provided' as label_origin, unnest(provided_labels) as label
    from edits
    where len(provided_labels) > 0

),

edit_labels as (

    select outcomes.edit_id, labels.label_origin, labels.label
    from (select distinct edit_id from outcomes) as outcomes
    inner join labels on outcomes.edit_id = labels.edit_id
    where labels.label is not null
    union all
    select distinct edit_id, 'all' as label_origin, 'all' as label from outcomes

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
