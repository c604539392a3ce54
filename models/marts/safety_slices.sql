-- One row per safety category x dataset x part: the instruction lexicon rate, and the image rates of the
-- calibrated image signals (flagged source / target images, edits that introduced the category: absent in the
-- source, present in the target), each with its denominator: the edits whose two images a calibrated signal of
-- the category scored. With no calibrated image signal for a category the image counts are null and
-- `image_null_reason` says why (`not_calibrated`, `no_scores`, `not_run`, `no_image_signal`).
-- depends_on: {{ ref('stg_editlens__edits') }}
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits, mentions or image safety
-- changed (the watermark count read from edit_quality_flags depends on the edit's own dataset only); every row
-- when the signals in use changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}, {'state': 'edit_quality_flags'}, {'state': 'int_edit_image_safety'},
                 {'state': 'int_safety_mentions'}, {'state': 'int_safety_signals'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select edit_id, dataset, part from {{ ref('edits') }}
    where {{ partition_filter() }}

),

image_safety as (

    select * from {{ ref('int_edit_image_safety') }}

),

signals as (

    select * from {{ ref('int_safety_signals') }}

),

categories as (

    select distinct category from signals

),

image_signals as (

    -- per category: the image signals in use, or why none is
    select
        category,
        list(signal order by signal) filter (where is_in_use) as image_signals,
        coalesce(bool_or(is_in_use), false) as has_image_signal,
        case when not coalesce(bool_or(is_in_use), false) then
            coalesce(min(null_reason) filter (where null_reason = 'not_calibrated'), min(null_reason))
        end as image_null_reason
    from signals
    where signal <> 'instruction_lexicon'
    group by category

),

totals as (

    select edits.dataset, edits.part, count(*) as n_edits,
        count(*) filter (where image_safety.image_safety_status like 'unknown%') as n_edits_image_unknown
    from edits join image_safety using (edit_id)
    group by all

),

-- edits per computed signal set: a category's denominator sums the sets that contain one of its signals
signal_sets as (

    select edits.dataset, edits.part, image_safety.signals_computed, count(*) as n
    from edits join image_safety using (edit_id)
    where len(image_safety.signals_computed) > 0
    group by all

),

computable as (

    select signal_sets.dataset, signal_sets.part, image_signals.category, sum(signal_sets.n) as n
    from signal_sets
    join image_signals on len(list_intersect(signal_sets.signals_computed, image_signals.image_signals)) > 0
    group by all

),

text_hits as (

    select edits.dataset, edits.part, m.category, count(distinct m.edit_id) as n
    from {{ ref('int_safety_mentions') }} as m join edits using (edit_id)
    group by all

),

image_hits as (

    select edits.dataset, edits.part, image_safety.edit_id, image_safety.source_categories,
        image_safety.target_categories, image_safety.introduced_categories, image_safety.introduced_signals
    from image_safety join edits using (edit_id)
    where len(image_safety.target_categories) > 0 or len(image_safety.source_categories) > 0

),

image_counts as (

    select dataset, part, category,
        count(*) filter (where in_source) as n_source,
        count(*) filter (where in_target) as n_target,
        count(*) filter (where introduced) as n_introduced
    from (
        select dataset, part, c.category,
            list_contains(source_categories, c.category) as in_source,
            list_contains(target_categories, c.category) as in_target,
            list_contains(introduced_categories, c.category) as introduced
        from image_hits cross join categories as c
    ) as image_categories
    group by all

),

introduced_by as (

    select dataset, part, split_part(s, ':', 2) as category,
        list({ 'signal': split_part(s, ':', 1), 'n_edits': n } order by split_part(s, ':', 1)) as introduced_by_signal
    from (
        select dataset, part, s, count(*) as n
        from (select dataset, part, unnest(introduced_signals) as s from image_hits) as signals
        group by all
    ) as signal_counts
    group by all

),

watermark as (

    select edits.dataset, edits.part, count(*) as n
    from {{ ref('edit_quality_flags') }} as f join edits using (edit_id)
    where f.asks_watermark_removal
    group by all

),

final as (

    select
        categories.category,
        totals.dataset,
        totals.part,
        totals.n_edits,

        ---------- instruction lexicon
        coalesce(t.n, 0) as n_instruction_flagged,
        coalesce(t.n, 0) / totals.n_edits as instruction_flagged_rate,

        ---------- image signals (calibrated only)
        image_signals.image_signals,
        case when image_signals.category is null then 'no_image_signal' else image_signals.image_null_reason end
            as image_null_reason,
        totals.n_edits_image_unknown,
        case when image_signals.has_image_signal then coalesce(computable.n, 0) end as n_edits_image_computed,
        case when image_signals.has_image_signal then coalesce(i.n_source, 0) end as n_source_image_flagged,
        case when image_signals.has_image_signal then coalesce(i.n_target, 0) end as n_target_image_flagged,
        case when image_signals.has_image_signal then coalesce(i.n_target, 0) / nullif(computable.n, 0) end
            as target_image_flagged_rate,
        case when image_signals.has_image_signal then coalesce(i.n_introduced, 0) end as n_introduced_by_edit,
        case when image_signals.has_image_signal then coalesce(i.n_introduced, 0) / nullif(computable.n, 0) end
            as introduced_rate,
        introduced_by.introduced_by_signal,

        ---------- watermark
        case when categories.category = 'watermark' then coalesce(w.n, 0) end as n_watermark_removal_requests

    from categories
    cross join totals
    left join image_signals using (category)
    left join computable using (dataset, part, category)
    left join text_hits as t using (dataset, part, category)
    left join image_counts as i using (dataset, part, category)
    left join introduced_by using (dataset, part, category)
    left join watermark as w using (dataset, part)

)

select * from final
