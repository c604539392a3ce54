-- One row per edit flagged for safety: unsafe terms in the instruction, images flagged by a calibrated signal
-- (zero-shot concept with a calibrated threshold, dedicated detector), whether the edit introduced the content
-- (flagged on the target, not on the source; null = unknown: an image missing or broken, or no calibrated image
-- signal), and requests to remove watermarks, logos or signatures. `reasons` says why, one entry per finding;
-- `signals` which signals fired.
-- depends_on: {{ ref('stg_editlens__edits') }}
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits, mentions or image safety
-- changed (the one flag read from edit_quality_flags depends on the edit's own dataset only); every row when the
-- image flags changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [{'state': 'edits'}, {'state': 'edit_quality_flags'}, {'state': 'int_edit_image_safety'},
                 {'state': 'int_safety_mentions'}, {'state': 'int_image_safety_flags'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select edit_id, dataset, part, split, instruction, source_sha256, target_sha256 from {{ ref('edits') }}
    where {{ partition_filter() }}

),

flags as (

    select edit_id, asks_watermark_removal from {{ ref('edit_quality_flags') }}

),

image_safety as (

    select edit_id, image_safety_status, unsafe_image_introduced, introduced_categories, introduced_signals
    from {{ ref('int_edit_image_safety') }}

),

image_flags as (

    select * from {{ ref('int_image_safety_flags') }}

),

text_hits as (

    select edit_id, category, 'instruction_lexicon' as signal,
        'instruction mentions "' || term || '" (' || category || ')' as reason
    from {{ ref('int_safety_mentions') }}
    where category <> 'watermark'

),

image_hits as (

    select edits.edit_id, f.category, f.signal,
        'source image: ' || f.signal || ' ' || f.label || ' score ' || round(f.score, 3)
            || ' >= ' || f.threshold || ' (' || f.category || ')' as reason
    from edits
    join image_flags as f on f.sha256 = edits.source_sha256
    union all
    select edits.edit_id, f.category, f.signal,
        'target image: ' || f.signal || ' ' || f.label || ' score ' || round(f.score, 3)
            || ' >= ' || f.threshold || ' (' || f.category || ')' as reason
    from edits
    join image_flags as f on f.sha256 = edits.target_sha256

),

findings as (

    select edit_id, category, signal, reason from text_hits
    union all
    select edit_id, category, signal, reason from image_hits
    union all
    select edit_id, 'watermark' as category, 'instruction_lexicon' as signal,
        'asks to remove a watermark, logo or signature' as reason
    from flags where asks_watermark_removal
    union all
    select edit_id, null as category, null as signal,
        'the edit introduced ' || array_to_string(introduced_categories, ', ')
            || ' (on the target, not on the source: ' || array_to_string(introduced_signals, ', ') || ')' as reason
    from image_safety where unsafe_image_introduced

),

final as (

    select
        edits.edit_id,
        edits.dataset,
        edits.part,
        edits.split,
        edits.instruction,
        list(distinct findings.category order by findings.category) filter (where findings.category is not null)
            as categories,
        list(distinct findings.signal order by findings.signal) filter (where findings.signal is not null)
            as signals,
        list(distinct findings.reason order by findings.reason) as reasons,
        any_value(image_safety.unsafe_image_introduced) as unsafe_image_introduced,
        any_value(image_safety.introduced_categories) as introduced_categories,
        any_value(image_safety.image_safety_status) as image_safety_status,
        any_value(flags.asks_watermark_removal) as asks_watermark_removal
    from findings
    join edits using (edit_id)
    join flags using (edit_id)
    join image_safety using (edit_id)
    group by all

)

select * from final
