-- One row per edit: the safety categories its source and target images are flagged for (int_image_safety_flags,
-- calibrated signals only), the categories the edit introduced (flagged on the target, not on the source) and
-- which signal fired. Unknown, never safe, when an image is missing or broken, or when no calibrated image
-- signal covers the pair (`image_safety_status` says which).
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edit images changed; every row
-- when the image flags, the signals in use or embed's detection files changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [{'state': 'int_edit_images'}, {'state': 'int_image_safety_flags'}, {'state': 'int_safety_signals'}],
        'global': [{'input': 'files:image_detections'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select edit_id from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

images as (

    select edit_id, source_sha256, target_sha256, source_status, target_status
    from {{ ref('int_edit_images') }}
    semi join edits using (edit_id)

),

clip_in_use as (

    -- the chosen model has concept scores for every decoded image: one calibrated safety concept is enough
    select count(*) > 0 as in_use from {{ ref('int_safety_signals') }} where signal = 'clip' and is_in_use

),

in_use_detectors as (

    select signal as detector from {{ ref('int_safety_signals') }} where is_in_use

),

detector_contents as (

    select distinct detections.sha256, detections.detector
    from {{ ref('stg_editlens__image_detections') }} as detections
    semi join in_use_detectors using (detector)
    where detections.status = 'ok'

),

flags as (

    select sha256, list(distinct category order by category) as categories,
        list(distinct signal || ':' || category order by signal || ':' || category) as signals
    from {{ ref('int_image_safety_flags') }}
    group by sha256

),

detector_pairs as (

    -- edits whose both images a detector in use scored
    select images.edit_id, list(distinct src.detector order by src.detector) as detectors
    from images
    join detector_contents as src on src.sha256 = images.source_sha256
    join detector_contents as tgt on tgt.sha256 = images.target_sha256 and tgt.detector = src.detector
    group by images.edit_id

),

joined as (

    select
        images.edit_id,
        images.source_status,
        images.target_status,
        src.categories as source_categories,
        tgt.categories as target_categories,
        tgt.signals as target_signals,
        list_filter(
            coalesce(case when images.source_status = 'ok' and images.target_status = 'ok'
                          and (select in_use from clip_in_use) then ['clip'] end, [])
            || coalesce(detector_pairs.detectors, []),
            x -> x is not null) as signals_computed
    from images
    left join flags as src on src.sha256 = images.source_sha256
    left join flags as tgt on tgt.sha256 = images.target_sha256
    left join detector_pairs using (edit_id)

),

judged as (

    select
        *,
        case
            when source_status not in ('ok', 'unknown') then 'unknown_source_' || source_status
            when target_status not in ('ok', 'unknown') then 'unknown_target_' || target_status
            when source_status = 'unknown' or target_status = 'unknown' then 'unknown_not_embedded'
            when len(signals_computed) = 0 then 'not_calibrated'
            else 'computed'
        end as image_safety_status
    from joined

),

final as (

    select
        edit_id,
        source_status,
        target_status,
        signals_computed,
        image_safety_status,
        case when image_safety_status = 'computed' then coalesce(source_categories, []) end as source_categories,
        case when image_safety_status = 'computed' then coalesce(target_categories, []) end as target_categories,
        case when image_safety_status = 'computed' then
            list_filter(coalesce(target_categories, []), c -> not list_contains(coalesce(source_categories, []), c))
        end as introduced_categories,
        case when image_safety_status = 'computed' then
            list_filter(coalesce(target_signals, []),
                s -> not list_contains(coalesce(source_categories, []), split_part(s, ':', 2)))
        end as introduced_signals,
        case when image_safety_status = 'computed' then
            len(list_filter(coalesce(target_categories, []),
                c -> not list_contains(coalesce(source_categories, []), c))) > 0
        end as unsafe_image_introduced
    from judged

)

select * from final
