{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'export': {'by': 'dataset'}, 'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}],
        'global': [{'input': 'files:edit_projections'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- depends_on: {{ ref('stg_editlens__edits') }}
-- The edit map: every edit's 2-D point per model, space and method, with what the page colours it by (its
-- dataset, part and label; the page joins the quality flags of the points it draws, which a dataset added later
-- can change), and a sample key (a fixed hash of the edit id) so a page can draw the N lowest keys of any space:
-- a uniform random sample that does not depend on the other rows (an added dataset leaves the old rows as
-- they are).
with

projections as (

    select * from {{ ref('stg_editlens__edit_projections') }}

),

edits as (

    select edit_id, dataset, part, instruction, derived_labels, provided_labels from {{ ref('edits') }}
    where {{ partition_filter() }}

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
        edits.instruction,

        ---------- sampling
        hash(projections.edit_id) as sample_key

    from projections
    inner join edits on edits.edit_id = projections.edit_id

)

select * from joined
