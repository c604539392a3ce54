{{ config(materialized='view') }}

-- One row per scored edit of the chosen model: its dataset and its scores. A view: incremental models
-- fingerprint it per dataset, so a dataset whose edits were scored again (or another chosen model) is recomputed.
with

edits as (

    select edit_id, dataset from {{ ref('stg_editlens__edits') }}

),

scores as (

    select * from {{ ref('int_edit_scores') }}

),

joined as (

    select
        edits.dataset,
        scores.*
    from scores
    inner join edits on edits.edit_id = scores.edit_id

)

select * from joined
