-- One row per edit: the scores of one embedding model (var `score_model_key`, else the model that scored the
-- most edits), so scores of different models are never mixed.
with

scores as (

    select * from {{ ref('stg_editlens__edit_scores') }}

),

chosen_model as (

    {% if var('score_model_key', none) %}
    select '{{ var("score_model_key") }}' as model_key
    {% else %}
    select model_key from scores group by model_key order by count(*) desc, model_key limit 1
    {% endif %}

),

final as (

    select scores.*
    from scores
    semi join chosen_model using (model_key)
    qualify row_number() over (partition by edit_id order by null_reason nulls first) = 1

)

select * from final
