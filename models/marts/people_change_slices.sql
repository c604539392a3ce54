-- One row per dataset x derived label ('all' = every edit) x people change (int_edit_faces): edits that add or
-- remove people, change the number of faces, keep a face in place or move it, out of the edits whose two
-- images the face detector scored (the denominator). Empty when `editlens embed --detectors faces` did not run.
with

edits as (

    select edit_id, dataset, derived_labels from {{ ref('edits') }}

),

faces as (

    select edit_id, people_change from {{ ref('int_edit_faces') }}

),

edit_label as (

    select edits.edit_id, edits.dataset, 'all' as label from edits semi join faces using (edit_id)
    union all
    select edits.edit_id, edits.dataset, unnest(edits.derived_labels) as label from edits semi join faces using (edit_id)

),

counts as (

    select edit_label.dataset, edit_label.label, faces.people_change, count(*) as n_edits
    from edit_label join faces using (edit_id)
    group by all

),

final as (

    select
        dataset,
        label,
        people_change,
        n_edits,
        sum(n_edits) over (partition by dataset, label) as n_edits_faces_scored,
        n_edits / sum(n_edits) over (partition by dataset, label) as share
    from counts

)

select * from final
