-- The learned taxonomy model's score per distinct instruction and model label (taxonomy_model_* seeds, written
-- by training/taxonomy_model.py): TF-IDF of word unigrams and bigrams (tf = 1 + ln(count), scaled to unit
-- length over the vocabulary) dotted with the label's weights, plus the weights of the rules' labels, plus the
-- label's intercept; `passes` when the score is above the label's threshold.
-- Incremental by key (macros/incremental.sql): a build scores only instructions not yet in the table.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'keyed': {'input': 'int_instructions', 'key': 'instruction_key'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

instructions as (

    select instruction_key, regexp_extract_all(instruction_norm, '[a-z]+') as words
    from {{ ref('int_instructions') }}
    where {{ new_keys_filter('instruction_key') }}

),

rule_labels as (

    select * from {{ ref('int_instruction_rule_labels') }}

),

vocabulary as (

    select * from {{ ref('taxonomy_model_vocabulary') }}

),

weights as (

    select * from {{ ref('taxonomy_model_weights') }}

),

model_labels as (

    select * from {{ ref('taxonomy_model_labels') }}

),

grams as (

    select instruction_key, unnest(words) as feature from instructions
    union all
    select instruction_key, unnest(list_transform(range(1, len(words)), i -> words[i] || ' ' || words[i + 1]))
        as feature
    from instructions

),

tfidf as (

    select
        grams.instruction_key,
        grams.feature,
        (1 + ln(count(*))) * any_value(vocabulary.idf) as x
    from grams
    join vocabulary using (feature)
    group by all

),

unit_tfidf as (

    select
        instruction_key,
        feature,
        x / sqrt(sum(x * x) over (partition by instruction_key)) as x
    from tfidf

),

word_scores as (

    select unit_tfidf.instruction_key, weights.label, sum(unit_tfidf.x * weights.weight) as score
    from unit_tfidf
    join weights using (feature)
    group by all

),

rule_scores as (

    select rule_labels.instruction_key, weights.label, sum(weights.weight) as score
    from rule_labels
    join weights on weights.feature = 'rule:' || rule_labels.label
    group by all

),

scored as (

    select
        instructions.instruction_key,
        model_labels.label,
        model_labels.intercept + coalesce(word_scores.score, 0) + coalesce(rule_scores.score, 0) as score,
        model_labels.threshold
    from instructions
    cross join model_labels
    left join word_scores
        on word_scores.instruction_key = instructions.instruction_key and word_scores.label = model_labels.label
    left join rule_scores
        on rule_scores.instruction_key = instructions.instruction_key and rule_scores.label = model_labels.label

),

final as (

    select
        instruction_key,
        label,
        score,
        threshold,
        score > threshold as passes
    from scored

)

select * from final
