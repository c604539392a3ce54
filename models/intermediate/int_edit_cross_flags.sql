-- One row per edit whose flags depend on other datasets' edits: a source with a near-duplicate (pHash within
-- the seeded distance) or a source or target content that another dataset or split also uses. edit_quality_flags
-- takes these flags from here; an incremental build recomputes the flags of the edits listed here and of those
-- it listed before, besides the changed datasets' edits.
with

edits as (

    select edit_id, session_id, source_sha256, target_sha256 from {{ ref('edits') }}

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

content_overlaps as (

    select * from {{ ref('int_content_overlaps') }}

),

final as (

    select
        edits.edit_id,

        ---------- near-duplicate source
        near_dup.sha256 is not null as has_near_duplicate_source,
        near_dup.hamming as near_duplicate_hamming,
        coalesce(near_dup.sha256 is not null and near_dup_partners.partners_one_session
            and near_dup_partners.partner_session_id = edits.session_id, false) as is_near_duplicate_within_session,

        ---------- content used elsewhere
        src_overlap.sha256 is not null or tgt_overlap.sha256 is not null as has_content_overlap,
        coalesce(src_overlap.overlap_kind, tgt_overlap.overlap_kind) as overlap_kind

    from edits
    left join near_dup on near_dup.sha256 = edits.source_sha256
    left join near_dup_partners on near_dup_partners.sha256 = edits.source_sha256
    left join content_overlaps as src_overlap on src_overlap.sha256 = edits.source_sha256
    left join content_overlaps as tgt_overlap on tgt_overlap.sha256 = edits.target_sha256
    where near_dup.sha256 is not null or src_overlap.sha256 is not null or tgt_overlap.sha256 is not null

)

select * from final
