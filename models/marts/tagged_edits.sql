-- Reviewer tags (keep, drop, needs-review) with the edit's coordinates: the latest tag per edit.
with

tags as (

    select * from {{ ref('stg_editlens__edit_tags') }}

),

edits as (

    select edit_id, dataset, part, instruction from {{ ref('edits') }}

),

final as (

    select
        tags.edit_id,
        edits.dataset,
        edits.part,
        edits.instruction,
        tags.tag,
        tags.reviewer,
        tags.tagged_at,
        tags.n_saves
    from tags
    inner join edits on edits.edit_id = tags.edit_id

)

select * from final
