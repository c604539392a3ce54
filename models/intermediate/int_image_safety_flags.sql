{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'whole': {'global': [{'input': 'int_score_model'}, {'input': 'int_concept_calibration'},
                                   {'input': 'files:image_concepts'}, {'input': 'files:image_detections'}]}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- One row per image content, safety category and image signal that flags it: a zero-shot concept of the chosen
-- embedding model over its calibrated threshold (int_concept_calibration; uncalibrated concepts flag nothing),
-- or a dedicated detector's class score over its seeded threshold (detector_thresholds).
with

chosen_model as (

    select model_key from {{ ref('int_score_model') }}

),

calibrated as (

    select concept_group, concept, category, threshold from {{ ref('int_concept_calibration') }}
    where is_calibrated and category is not null and threshold is not null

),

concept_hits as (

    select
        concepts.sha256,
        calibrated.category,
        'clip' as signal,
        max(concepts.score) as score,
        arg_max(concepts.concept, concepts.score) as label,
        arg_max(calibrated.threshold, concepts.score) as threshold
    from {{ ref('stg_editlens__image_concepts') }} as concepts
    semi join chosen_model using (model_key)
    join calibrated
        on calibrated.concept_group = concepts.concept_group
        and calibrated.concept = concepts.concept
        and concepts.score >= calibrated.threshold
    group by all

),

detector_scores as (

    select sha256, detector, unnest(class_labels) as label, unnest(class_scores) as score
    from {{ ref('stg_editlens__image_detections') }}
    where status = 'ok' and len(class_labels) > 0

),

detector_hits as (

    select
        detector_scores.sha256,
        thresholds.category,
        detector_scores.detector as signal,
        max(detector_scores.score) as score,
        arg_max(detector_scores.label, detector_scores.score) as label,
        arg_max(thresholds.threshold, detector_scores.score) as threshold
    from detector_scores
    join {{ ref('detector_thresholds') }} as thresholds
        on thresholds.detector = detector_scores.detector
        and thresholds.label = detector_scores.label
        and detector_scores.score >= thresholds.threshold
    group by all

),

final as (

    select * from concept_hits
    union all
    select * from detector_hits

)

select * from final
where {{ whole_filter() }}
