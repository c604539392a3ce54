-- One row per edit and perceived-attribute concept (presentation, age, skin tone): source and target zero-shot
-- scores and their shift (target - source). One embedding model only (the one that scored the most images).
with

concepts as (

    select * from {{ ref('stg_editlens__image_concepts') }}

),

chosen_model as (

    select model_key from concepts group by model_key order by count(*) desc, model_key limit 1

),

attributes as (

    select sha256, concept_group, concept, score, sha256 || '|' || concept_group || '|' || concept as attribute_key
    from concepts
    semi join chosen_model using (model_key)
    where concept_group not in ('safety', 'person')

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}
    where source_sha256 is not null and target_sha256 is not null

),

shifts as (

    select
        images.edit_id,
        src.concept_group,
        src.concept,
        src.score as source_score,
        tgt.score as target_score,
        tgt.score - src.score as shift
    from images
    join attributes as src on src.sha256 = images.source_sha256
    -- one composite key, so the planner cannot pair source and target concepts before restricting to the edit
    join attributes as tgt
        on tgt.attribute_key = images.target_sha256 || '|' || src.concept_group || '|' || src.concept

)

select * from shifts
