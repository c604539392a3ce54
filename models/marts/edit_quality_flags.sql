-- One row per edit: every quality flag, with a list of the flags raised.
with

edits as (

    select * from {{ ref('edits') }}

),

duplicates as (

    select * from {{ ref('int_exact_duplicate_pairs') }}

),

near_dup_contents as (

    select sha256_a as sha256, min(hamming) as hamming from {{ ref('int_near_duplicate_sources') }} group by sha256_a
    union all
    select sha256_b as sha256, min(hamming) as hamming from {{ ref('int_near_duplicate_sources') }} group by sha256_b

),

near_dup as (

    select sha256, min(hamming) as hamming from near_dup_contents group by sha256

),

near_dup_partners as (

    -- per near-duplicate source content: do all the edits of its near-duplicate partners sit in one session?
    -- (turns of one session start from near-identical images: counted apart from duplicates across sessions)
    select
        pairs.sha256,
        count(distinct partner.session_id) = 1 and count(partner.session_id) = count(*) as partners_one_session,
        any_value(partner.session_id) as partner_session_id
    from (
        select sha256_a as sha256, sha256_b as other from {{ ref('int_near_duplicate_sources') }}
        union all
        select sha256_b, sha256_a from {{ ref('int_near_duplicate_sources') }}
    ) as pairs
    join edits as partner on partner.source_sha256 = pairs.other
    group by pairs.sha256

),

chain_breaks as (

    select * from {{ ref('int_session_chain_breaks') }}

),

content_overlaps as (

    select * from {{ ref('int_content_overlaps') }}

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
        near_dup.sha256 is not null as has_near_duplicate_source,
        near_dup.hamming as near_duplicate_hamming,
        coalesce(near_dup.sha256 is not null and near_dup_partners.partners_one_session
            and near_dup_partners.partner_session_id = edits.session_id, false) as is_near_duplicate_within_session,
        chain_breaks.edit_id is not null as is_chain_break,
        chain_breaks.break_reason as chain_break_reason,
        src_overlap.sha256 is not null or tgt_overlap.sha256 is not null as has_content_overlap,
        coalesce(src_overlap.overlap_kind, tgt_overlap.overlap_kind) as overlap_kind,

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
    left join near_dup on near_dup.sha256 = edits.source_sha256
    left join near_dup_partners on near_dup_partners.sha256 = edits.source_sha256
    left join chain_breaks on chain_breaks.edit_id = edits.edit_id
    left join content_overlaps as src_overlap on src_overlap.sha256 = edits.source_sha256
    left join content_overlaps as tgt_overlap on tgt_overlap.sha256 = edits.target_sha256
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
