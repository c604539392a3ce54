{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'whole': {'global': [{'input': 'int_concept_calibration'}, {'input': 'files:image_detections'}]}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- One row per safety signal x category: whether the signal is in use, and if not why (`not_calibrated`: the
-- chosen embedding model has no calibration seed row for the category's concepts; `no_scores`: embed wrote no
-- concept scores; `not_run`: the detector did not run on this warehouse). Signals: the instruction lexicon, the
-- chosen model's zero-shot concepts (`clip`), dedicated detectors (`nudenet`).
with

lexicon as (

    select
        'instruction_lexicon' as signal,
        category,
        'seeds/safety_lexicon.csv (' || count(*) || ' terms)' as signal_version,
        true as is_in_use,
        null as null_reason,
        cast(null as double) as threshold,
        'whole-word match of the lexicon terms, plurals included' as method,
        cast(null as varchar) as calibration_data,
        cast(null as bigint) as n_images_scored
    from {{ ref('safety_lexicon') }}
    group by category

),

concept as (

    select
        'clip' as signal,
        category,
        any_value(model_name || ' ' || pretrained || ' (model_key ' || model_key || ')') as signal_version,
        bool_or(is_calibrated) as is_in_use,
        case when not bool_or(is_calibrated) then min(null_reason) end as null_reason,
        min(threshold) filter (where is_calibrated) as threshold,
        any_value(method) filter (where is_calibrated) as method,
        any_value(calibration_data) filter (where is_calibrated) as calibration_data,
        max(n_images_scored) as n_images_scored
    from {{ ref('int_concept_calibration') }}
    where category is not null
    group by category

),

detector_runs as (

    select detector, string_agg(distinct detector_version, ', ') as detector_version, count(*) as n_images_scored
    from {{ ref('stg_editlens__image_detections') }}
    where status = 'ok'
    group by detector

),

detector as (

    select
        thresholds.detector as signal,
        thresholds.category,
        any_value(detector_runs.detector_version) as signal_version,
        any_value(detector_runs.detector) is not null as is_in_use,
        case when any_value(detector_runs.detector) is null then 'not_run' end as null_reason,
        min(thresholds.threshold) as threshold,
        'max class score over ' || string_agg(distinct thresholds.label, ', ' order by thresholds.label)
            as method,
        any_value(thresholds.source) as calibration_data,
        coalesce(any_value(detector_runs.n_images_scored), 0) as n_images_scored
    from {{ ref('detector_thresholds') }} as thresholds
    left join detector_runs on detector_runs.detector = thresholds.detector
    group by all

),

final as (

    select * from lexicon
    union all by name
    select * from concept
    union all by name
    select * from detector

)

select * from final
where {{ whole_filter() }}
