-- One row per safety category x dataset x part: rates of unsafe instruction terms, unsafe source and target
-- images, edits that introduced the category, and watermark removal requests, each with its denominator.
with

edits as (

    select edit_id, dataset, part, source_sha256, target_sha256 from {{ ref('edits') }}

),

totals as (

    select dataset, part, count(*) as n_edits, count(target_sha256) as n_edits_with_images
    from edits group by all

),

image_flags as (

    select sha256, category from {{ ref('int_image_concept_flags') }}

),

text_hits as (

    select distinct edits.dataset, edits.part, m.category, m.edit_id
    from {{ ref('int_safety_mentions') }} as m join edits using (edit_id)

),

image_hits as (

    select
        edits.dataset, edits.part, c.category, edits.edit_id,
        bool_or(src.sha256 is not null) as source_flagged,
        bool_or(tgt.sha256 is not null) as target_flagged
    from edits
    cross join (select distinct category from image_flags) as c
    left join image_flags as src on src.sha256 = edits.source_sha256 and src.category = c.category
    left join image_flags as tgt on tgt.sha256 = edits.target_sha256 and tgt.category = c.category
    where src.sha256 is not null or tgt.sha256 is not null
    group by all

),

watermark as (

    select edits.dataset, edits.part, count(*) as n
    from {{ ref('edit_quality_flags') }} as f join edits using (edit_id)
    where f.asks_watermark_removal
    group by all

),

categories as (

    select distinct dataset, part, category from text_hits
    union
    select distinct dataset, part, category from image_hits

),

final as (

    select
        categories.category,
        categories.dataset,
        categories.part,
        totals.n_edits,
        coalesce(t.n, 0) as n_instruction_flagged,
        coalesce(t.n, 0) / totals.n_edits as instruction_flagged_rate,
        totals.n_edits_with_images,
        coalesce(i.n_source, 0) as n_source_image_flagged,
        coalesce(i.n_target, 0) as n_target_image_flagged,
        coalesce(i.n_target, 0) / nullif(totals.n_edits_with_images, 0) as target_image_flagged_rate,
        coalesce(i.n_introduced, 0) as n_introduced_by_edit,
        coalesce(i.n_introduced, 0) / nullif(totals.n_edits_with_images, 0) as introduced_rate,
        case when categories.category = 'watermark' then coalesce(w.n, 0) end as n_watermark_removal_requests
    from categories
    join totals using (dataset, part)
    left join (select dataset, part, category, count(*) as n from text_hits group by all) as t
        using (dataset, part, category)
    left join (
        select dataset, part, category,
            count(*) filter (where source_flagged) as n_source,
            count(*) filter (where target_flagged) as n_target,
            count(*) filter (where target_flagged and not source_flagged) as n_introduced
        from image_hits group by all
    ) as i using (dataset, part, category)
    left join watermark as w using (dataset, part)

)

select * from final
