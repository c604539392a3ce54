-- One row per benchmark edit and setting of each editing model (`editlens predictions`), with its protocol
-- scores under the marts' embedding model (int_score_model): what the comparison marts count and average.
-- MagicBrush's iterative setting is judged on the final turn of each session (in_scope).
with

predictions as (

    select * from {{ ref('stg_editlens__predictions') }}
    where edit_id is not null

),

scores as (

    select scores.*
    from {{ ref('stg_editlens__prediction_scores') }} as scores
    inner join {{ ref('int_score_model') }} as score_model
        on scores.model_key = score_model.model_key

),

edits as (

    select
        edit_id,
        session_id,
        turn_index,
        max(turn_index) over (partition by dataset, coalesce(session_id, edit_id)) as last_turn
    from {{ ref('stg_editlens__edits') }}

),

joined as (

    select
        predictions.prediction_id,
        predictions.predictions_run_id,
        predictions.editing_model,
        predictions.benchmark,
        predictions.setting,
        predictions.edit_id,
        predictions.benchmark_key,
        predictions.turn_index,
        edits.turn_index = edits.last_turn as is_final_turn,
        predictions.status as prediction_status,
        predictions.message as prediction_message,
        predictions.location_kind,
        predictions.root,
        predictions.path,
        predictions.row_group,
        predictions."row",
        predictions."column",
        scores.model_key,
        scores.model_name as embedding_model,
        scores.protocol,
        scores.output_status,
        scores.output_status_message,
        scores.l1,
        scores.l2,
        scores.clip_i,
        scores.clip_t,
        scores.directional_caption,
        scores.dino,
        scores.null_reason
    from predictions
    left join edits on predictions.edit_id = edits.edit_id
    left join scores
        on
            predictions.prediction_id = scores.prediction_id
            and predictions.predictions_run_id = scores.predictions_run_id

),

final as (

    select
        *,
        setting != 'iter' or coalesce(is_final_turn, true) as in_scope,
        case
            when prediction_status != 'ok' then 'missing'
            when output_status is null then 'not_scored'
            when output_status != 'ok' then 'unreadable'
            else 'scored'
        end as outcome
    from joined

)

select * from final
