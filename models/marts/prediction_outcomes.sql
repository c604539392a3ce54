-- One row per editing model's prediction (benchmark edit and setting, in scope): its outcome, scores, the
-- edit's instruction and images, and where the output is: the comparison page's galleries read it.
with

outcomes as (

    select * from {{ ref('int_prediction_outcomes') }}
    where in_scope

),

edits as (

    select edit_id, instruction, source_image_id, target_image_id, provided_labels
    from {{ ref('stg_editlens__edits') }}

),

final as (

    select
        outcomes.prediction_id,
        outcomes.benchmark,
        outcomes.setting,
        outcomes.editing_model,
        outcomes.edit_id,
        outcomes.benchmark_key,
        outcomes.turn_index,
        outcomes.outcome,
        outcomes.prediction_message,
        outcomes.output_status_message,
        ---------- scores
        outcomes.protocol,
        outcomes.l1,
        outcomes.l2,
        outcomes.clip_i,
        outcomes.clip_t,
        outcomes.directional_caption,
        outcomes.dino,
        outcomes.null_reason,
        ---------- the edit
        edits.instruction,
        edits.provided_labels,
        edits.source_image_id,
        edits.target_image_id,
        ---------- the output's location
        outcomes.location_kind,
        outcomes.root,
        outcomes.path,
        outcomes.row_group,
        outcomes."row",
        outcomes."column",
        ---------- provenance
        outcomes.model_key,
        outcomes.embedding_model
    from outcomes
    left join edits on outcomes.edit_id = edits.edit_id

)

select * from final
