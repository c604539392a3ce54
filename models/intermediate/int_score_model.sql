{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'whole': {'global': [{'input': 'files:edit_scores'}, {'input': 'files:embed_models'}]}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- The one embedding model whose scores the marts use: var `score_model_key`, else the model that scored the
-- most edits (else any model embed recorded). Scores of different models are never mixed.
-- (`scores` is used only when the var is unset: sqlfluff renders the var branch, hence its noqa.)
with

scores as (  -- noqa: ST03

    select model_key from {{ ref('stg_editlens__edit_scores') }}

),

models as (

    select model_key from {{ ref('stg_editlens__embed_models') }}

),

ranked as (

    {% if var('score_model_key', none) %}
    select '{{ var("score_model_key") }}' as model_key, 0 as preference
    {% else %}
    (select model_key, 0 as preference from scores group by model_key order by count(*) desc, model_key limit 1)
    {% endif %}
    union all
    select model_key, 1 as preference from models

),

final as (

    select model_key from ranked order by preference, model_key limit 1

)

select * from final
where {{ whole_filter() }}
