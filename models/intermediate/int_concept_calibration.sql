{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'whole': {'global': [{'input': 'int_score_model'}, {'input': 'files:embed_models'}, {'input': 'files:image_concepts'}]}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- One row per zero-shot concept of the chosen embedding model (int_score_model): whether a calibration seed row
-- (concept_calibration, matched on model_key) gives it a threshold. Without one the concept's scores are kept in
-- the warehouse but flag nothing (`null_reason = 'not_calibrated'`); `no_scores` = embed wrote no concept
-- scores for the model.
with

chosen_model as (

    select model_key from {{ ref('int_score_model') }}

),

model_names as (

    select model_key, model_name, pretrained from {{ ref('stg_editlens__embed_models') }}
    semi join chosen_model using (model_key)
    qualify row_number() over (partition by model_key order by model_name) = 1

),

scored as (

    select concept_group, concept, count(*) as n_images_scored
    from {{ ref('stg_editlens__image_concepts') }}
    semi join chosen_model using (model_key)
    group by all

),

categories as (

    select concept_group, concept, category from {{ ref('concept_categories') }}

),

calibration as (

    select * from {{ ref('concept_calibration') }}
    semi join chosen_model using (model_key)

),

concepts as (

    select concept_group, concept from scored
    union
    select concept_group, concept from categories

),

final as (

    select
        ---------- model
        chosen_model.model_key,
        model_names.model_name,
        model_names.pretrained,

        ---------- concept
        concepts.concept_group,
        concepts.concept,
        categories.category,
        coalesce(scored.n_images_scored, 0) as n_images_scored,

        ---------- calibration
        scored.n_images_scored is not null and calibration.model_key is not null as is_calibrated,
        calibration.threshold,
        calibration.method,
        calibration.calibration_data,
        case
            when scored.n_images_scored is null then 'no_scores'
            when calibration.model_key is null then 'not_calibrated'
        end as null_reason

    from concepts
    cross join chosen_model
    left join model_names using (model_key)
    left join scored using (concept_group, concept)
    left join categories using (concept_group, concept)
    left join calibration using (concept_group, concept)

)

select * from final
where {{ whole_filter() }}
