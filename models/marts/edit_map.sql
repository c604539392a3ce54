-- The edit map: every edit's 2-D point per model, space and method, with what the page colours it by, and a
-- sample rank (a fixed hash order) so a page can draw the first N points of any space without reading the rest.
with

projections as (

    select * from {{ ref('stg_editlens__edit_projections') }}

),

edits as (

    select edit_id, dataset, part, instruction, derived_labels, provided_labels from {{ ref('edits') }}

),

flags as (

    select edit_id, quality_flags, n_quality_flags from {{ ref('edit_quality_flags') }}

),

joined as (

    select
        ---------- ids
        projections.edit_id,
        projections.model_key,
        projections.space,
        projections.method,

        ---------- point
        projections.x,
        projections.y,

        ---------- colours
        edits.dataset,
        edits.part,
        coalesce(edits.derived_labels[1], edits.provided_labels[1], '(no label)') as label,
        coalesce(flags.quality_flags, []::varchar[]) as quality_flags,
        coalesce(flags.n_quality_flags, 0) as n_quality_flags,
        edits.instruction,

        ---------- sampling
        row_number() over (
            partition by projections.model_key, projections.space, projections.method
            order by hash(projections.edit_id), projections.edit_id
        ) as sample_rank

    from projections
    inner join edits on edits.edit_id = projections.edit_id
    left join flags on flags.edit_id = projections.edit_id

)

select * from joined
order by model_key, space, method, sample_rank
