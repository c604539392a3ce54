-- One row per edit flagged for safety: unsafe terms in the instruction, unsafe zero-shot scores on its images,
-- whether the edit introduced the unsafe content (target flagged, source not), and requests to remove
-- watermarks, logos or signatures. `reasons` says why, one entry per finding.
with

edits as (

    select edit_id, dataset, part, split, instruction, source_sha256, target_sha256 from {{ ref('edits') }}

),

flags as (

    select edit_id, asks_watermark_removal, unsafe_image_introduced from {{ ref('edit_quality_flags') }}

),

text_hits as (

    select edit_id, category, 'instruction mentions "' || term || '" (' || category || ')' as reason
    from {{ ref('int_safety_mentions') }}
    where category <> 'watermark'

),

image_hits as (

    select edits.edit_id, f.category,
        side || ' image ' || f.concept || ' score ' || round(f.score, 3) || ' (' || f.category || ')' as reason, side
    from edits
    join {{ ref('int_image_concept_flags') }} as f on f.sha256 = edits.source_sha256
    cross join (select 'source' as side)
    union all
    select edits.edit_id, f.category,
        'target image ' || f.concept || ' score ' || round(f.score, 3) || ' (' || f.category || ')', 'target'
    from edits
    join {{ ref('int_image_concept_flags') }} as f on f.sha256 = edits.target_sha256

),

findings as (

    select edit_id, category, reason from text_hits
    union all
    select edit_id, category, reason from image_hits
    union all
    select edit_id, 'watermark', 'asks to remove a watermark, logo or signature' from flags where asks_watermark_removal
    union all
    select edit_id, null, 'the edit introduced unsafe content (target flagged, source not)'
    from flags where unsafe_image_introduced

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
        list(distinct findings.reason order by findings.reason) as reasons,
        any_value(flags.unsafe_image_introduced) as unsafe_image_introduced,
        any_value(flags.asks_watermark_removal) as asks_watermark_removal
    from findings
    join edits using (edit_id)
    join flags using (edit_id)
    group by all

)

select * from final
