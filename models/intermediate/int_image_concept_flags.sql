-- One row per image content and safety category whose zero-shot concept score is over the seeded threshold
-- (concept_thresholds); the chosen embedding model only (int_score_model).
with

concepts as (

    select sha256, model_key, concept_group, concept, score
    from {{ ref('stg_editlens__image_concepts') }}
    where concept_group = 'safety'

),

chosen_model as (

    select model_key from {{ ref('int_score_model') }}

),

thresholds as (

    select * from {{ ref('concept_thresholds') }}

),

flagged as (

    select
        concepts.sha256,
        thresholds.category,
        max(concepts.score) as score,
        arg_max(concepts.concept, concepts.score) as concept
    from concepts
    semi join chosen_model using (model_key)
    join thresholds
        on thresholds.concept_group = concepts.concept_group
        and thresholds.concept = concepts.concept
        and concepts.score >= thresholds.threshold
    group by all

)

select * from flagged
