-- One row per dataset x part: volume, rejects, score summaries and every defect count with its share.
with

edits as (

    select * from {{ ref('edits') }}

),

flags as (

    select * from {{ ref('edit_quality_flags') }}

),

rejects as (

    select dataset, part, count(*) as n_rejects from {{ ref('stg_editlens__rejects') }} group by all

),

dups as (

    -- edits also found in another annotation file (kept once by staging)
    select dataset, part, count(*) as n_duplicate_record
    from {{ ref('stg_editlens__edits') }}
    where duplicate_record
    group by all

),

runs as (

    select dataset, part, count(distinct source_file) as n_annotation_files, sum(records_read) as n_records_read
    from {{ ref('stg_editlens__ingest_runs') }}
    group by all

),

per_part as (

    select
        edits.dataset,
        edits.part,
        count(*) as n_edits,
        count(distinct edits.session_id) as n_sessions,
        count(distinct edits.source_image_id) + count(distinct edits.target_image_id) as n_image_references,
        count(edits.clip_i) as n_scored,
        median(edits.clip_i) as clip_i_median,
        median(coalesce(edits.directional_caption, edits.directional_instruction)) as directional_median,
        median(coalesce(edits.clip_t_target_caption, edits.clip_t_instruction)) as clip_t_median,
        -- judged = the three filter scores exist (passes_ip2p_filter not null): the one denominator of the pass rate
        count(edits.passes_ip2p_filter) as n_ip2p_judged,
        count(*) filter (where edits.passes_ip2p_filter) as n_passing_ip2p_filter,
        count(*) filter (where flags.is_noop) as n_noop,
        count(*) filter (where flags.is_misaligned) as n_misaligned,
        count(*) filter (where flags.is_change_below_resolution) as n_change_below_resolution,
        count(*) filter (where flags.is_full_regeneration) as n_full_regeneration,
        count(*) filter (where flags.has_broken_image) as n_broken_image,
        count(*) filter (where 'missing' in (edits.source_status, edits.target_status)) as n_missing_image,
        count(*) filter (where edits.source_status not in ('ok', 'unknown', 'missing')
                            or edits.target_status not in ('ok', 'unknown', 'missing')) as n_unreadable_image,
        count(*) filter (where flags.is_duplicate_pair) as n_duplicate_pair,
        count(*) filter (where flags.has_near_duplicate_source) as n_near_duplicate_source,
        count(*) filter (where flags.is_near_duplicate_within_session) as n_near_duplicate_within_session,
        count(*) filter (where flags.is_chain_break) as n_chain_break,
        count(*) filter (where flags.has_content_overlap) as n_content_overlap,
        count(*) filter (where flags.mentions_demographic_term) as n_demographic_mention,
        count(*) filter (where flags.mentions_unsafe_term) as n_unsafe_term,
        -- null where no edit could be judged (no calibrated image signal, or images missing)
        case when count(flags.unsafe_image_introduced) > 0 then
            count(*) filter (where flags.unsafe_image_introduced) end as n_unsafe_image_introduced,
        count(*) filter (where flags.asks_watermark_removal) as n_watermark_removal_request,
        count(*) filter (where flags.n_quality_flags > 0) as n_with_any_quality_flag
    from edits
    join flags using (edit_id)
    group by all

)

select
    per_part.dataset,
    per_part.part,
    per_part.n_edits,
    coalesce(rejects.n_rejects, 0) as n_rejects,
    runs.n_records_read,
    runs.n_annotation_files,
    per_part.n_sessions,
    per_part.n_image_references,
    per_part.n_scored,
    per_part.n_scored / per_part.n_edits as share_scored,
    per_part.clip_i_median,
    per_part.directional_median,
    per_part.clip_t_median,
    per_part.n_ip2p_judged,
    per_part.n_passing_ip2p_filter,
    per_part.n_passing_ip2p_filter / nullif(per_part.n_ip2p_judged, 0) as ip2p_filter_pass_rate,
    per_part.n_noop,
    per_part.n_noop / per_part.n_edits as noop_share,
    per_part.n_misaligned,
    per_part.n_misaligned / nullif(per_part.n_scored, 0) as misaligned_share,
    per_part.n_change_below_resolution,
    per_part.n_full_regeneration,
    per_part.n_broken_image,
    per_part.n_broken_image / per_part.n_edits as broken_image_share,
    per_part.n_missing_image,
    per_part.n_missing_image / per_part.n_edits as missing_image_share,
    per_part.n_unreadable_image,
    per_part.n_unreadable_image / per_part.n_edits as unreadable_image_share,
    coalesce(dups.n_duplicate_record, 0) as n_duplicate_record,
    per_part.n_duplicate_pair,
    per_part.n_near_duplicate_source,
    per_part.n_near_duplicate_within_session,
    per_part.n_chain_break,
    per_part.n_content_overlap,
    per_part.n_demographic_mention,
    per_part.n_unsafe_term,
    per_part.n_unsafe_image_introduced,
    per_part.n_watermark_removal_request,
    per_part.n_with_any_quality_flag,
    per_part.n_with_any_quality_flag / per_part.n_edits as share_with_any_quality_flag
from per_part
left join rejects using (dataset, part)
left join runs using (dataset, part)
left join dups using (dataset, part)
