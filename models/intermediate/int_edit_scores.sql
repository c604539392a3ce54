{{ config(materialized="view") }}
-- One row per edit: the scores of the chosen embedding model (int_score_model).
with

scores as (

    select * from {{ ref('stg_editlens__edit_scores') }}

),

chosen_model as (

    select model_key from {{ ref('int_score_model') }}

),

final as (

    -- one row per edit and model by the embed contract (tested: edit_id unique here)
    select scores.*
    from scores
    semi join chosen_model using (model_key)

)

select * from final
