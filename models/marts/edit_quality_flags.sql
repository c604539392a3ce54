-- depends_on: {{ ref('stg_editlens__edits') }}
-- One row per edit: every quality flag, with a list of the flags raised.
-- Incremental by dataset (macros/incremental.sql, the cross pattern): recomputed for datasets whose edits,
-- images, labels, mentions or image safety changed, and for the edits whose flags depend on other datasets'
-- edits (near-duplicate sources, contents used elsewhere: int_edit_cross_flags) now or at the last build.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'export': {'by': 'dataset'}, 'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [{'state': 'edits'}, {'state': 'int_exact_duplicate_pairs'}, {'state': 'int_demographic_mentions'},
                 {'state': 'int_safety_mentions'}, {'state': 'edit_labels'}, {'state': 'int_edit_image_safety'},
                 {'input': 'int_session_chain_breaks', 'by': 'dataset', 'fingerprint': ['_in']}],
        'cross': {'stored': 'has_near_duplicate_source or has_content_overlap', 'keys': 'int_edit_cross_flags'},
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select * from {{ ref('edits') }}
    where {{ cross_filter() }}

),

duplicates as (

    select * from {{ ref('int_exact_duplicate_pairs') }}

),

cross_flags as (

    select * from {{ ref('int_edit_cross_flags') }}

),

chain_breaks as (

    select * from {{ ref('int_session_chain_breaks') }}

),

demographic as (

    select edit_id, list(distinct demographic_group order by demographic_group) as demographic_groups
    from {{ ref('int_demographic_mentions') }}
    group by edit_id

),

safety_text as (

    select
        edit_id,
        list(distinct category order by category) filter (where category <> 'watermark') as unsafe_categories,
        bool_or(category = 'watermark') as mentions_watermark
    from {{ ref('int_safety_mentions') }}
    group by edit_id

),

image_safety as (

    select edit_id, unsafe_image_introduced, target_categories from {{ ref('int_edit_image_safety') }}

),

removal_labels as (

    select distinct edit_id from {{ ref('edit_labels') }}
    where origin = 'derived' and operation = 'remove'

),

flags as (

    select
        edits.edit_id,
        edits.dataset,
        edits.part,
        edits.split,

        ---------- pair integrity
        -- identical bytes, or all of: an unchanged pHash, no changed thumbnail pixel, CLIP-I of (nearly) 1, and
        -- the same sharpness. (Any one alone also fires on small real edits: a blur or a recoloured small shape;
        -- a blur of a mostly flat picture even passes the first three, as pHash ignores fine detail and the
        -- 32 px thumbnail smooths it away, but the Laplacian variance of the 64 px facts copy drops several-fold.)
        coalesce(
            edits.source_sha256 = edits.target_sha256
            or (edits.phash_distance = 0
                and edits.pixel_changed_frac <= {{ threshold('noop_pixel_changed_frac') }}
                and edits.clip_i >= {{ threshold('noop_clip_i') }}
                and coalesce(abs(edits.target_sharpness - edits.source_sharpness)
                             <= {{ threshold('noop_max_sharpness_change') }}
                                * greatest(edits.source_sharpness, edits.target_sharpness), true)),
            false) as is_noop,
        edits.source_status not in ('ok', 'unknown') or edits.target_status not in ('ok', 'unknown')
            as has_broken_image,
        case
            when edits.source_status not in ('ok', 'unknown') then 'source_' || edits.source_status
            when edits.target_status not in ('ok', 'unknown') then 'target_' || edits.target_status
        end as broken_image_reason,
        coalesce(duplicates.duplicate_rank > 1, false) as is_duplicate_pair_raw,
        coalesce(duplicates.duplicate_group_size, 1) as duplicate_group_size,
        duplicates.original_edit_id as duplicate_of_edit_id,
        coalesce(cross_flags.has_near_duplicate_source, false) as has_near_duplicate_source,
        cross_flags.near_duplicate_hamming,
        coalesce(cross_flags.is_near_duplicate_within_session, false) as is_near_duplicate_within_session,
        chain_breaks.edit_id is not null as is_chain_break,
        chain_breaks.break_reason as chain_break_reason,
        coalesce(cross_flags.has_content_overlap, false) as has_content_overlap,
        cross_flags.overlap_kind,

        ---------- alignment
        edits.clip_i,
        edits.directional_instruction,
        edits.directional_instruction_core,
        edits.directional_caption,
        -- the instruction's core where the embed job wrote it (older warehouses: the whole instruction)
        coalesce(coalesce(edits.directional_instruction_core, edits.directional_instruction)
                < {{ threshold('misaligned_directional_instruction') }}
            or edits.directional_caption < {{ threshold('misaligned_directional_caption') }}, false)
            as below_directional_threshold,
        -- source and target embeddings too close for the direction of their difference to mean anything
        coalesce(edits.clip_i >= {{ threshold('misaligned_max_clip_i') }}, false) as is_change_below_resolution,
        coalesce(edits.clip_i < {{ threshold('full_regeneration_clip_i') }}, false) as is_full_regeneration,

        ---------- content mentions
        demographic.edit_id is not null as mentions_demographic_term,
        demographic.demographic_groups,
        coalesce(len(safety_text.unsafe_categories) > 0, false) as mentions_unsafe_term,
        safety_text.unsafe_categories,
        coalesce(safety_text.mentions_watermark, false) and removal_labels.edit_id is not null
            as asks_watermark_removal,
        -- null = unknown: an image missing or broken, or no calibrated image signal (int_edit_image_safety)
        image_safety.unsafe_image_introduced,
        image_safety.target_categories as target_unsafe_categories

    from edits
    left join duplicates on duplicates.edit_id = edits.edit_id
    left join cross_flags on cross_flags.edit_id = edits.edit_id
    left join chain_breaks on chain_breaks.edit_id = edits.edit_id
    left join demographic on demographic.edit_id = edits.edit_id
    left join safety_text on safety_text.edit_id = edits.edit_id
    left join removal_labels on removal_labels.edit_id = edits.edit_id
    left join image_safety on image_safety.edit_id = edits.edit_id

),

final as (

    select
        * exclude (below_directional_threshold, is_duplicate_pair_raw),
        -- a no-op or an unreadable pair is reported as such, not as misaligned or as a duplicate; a change
        -- below the model's resolution is not judged
        is_duplicate_pair_raw and not is_noop as is_duplicate_pair,
        below_directional_threshold and not is_change_below_resolution and not is_noop and not has_broken_image
            as is_misaligned
    from flags

)

select
    *,
    list_filter([
        case when is_noop then 'noop' end,
        case when is_misaligned then 'misaligned' end,
        case when is_full_regeneration then 'full_regeneration' end,
        case when has_broken_image then 'broken_image' end,
        case when is_duplicate_pair then 'duplicate_pair' end,
        case when has_near_duplicate_source then 'near_duplicate_source' end,
        case when is_chain_break then 'chain_break' end,
        case when has_content_overlap then 'content_overlap' end
    ], x -> x is not null) as quality_flags,
    (is_noop::int + is_misaligned::int + is_full_regeneration::int + has_broken_image::int
        + is_duplicate_pair::int + has_near_duplicate_source::int + is_chain_break::int
        + has_content_overlap::int) as n_quality_flags
from final
