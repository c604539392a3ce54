-- One row per edit and safety lexicon term its instruction mentions (whole words, any case, plurals), less the
-- occurrences the word-sense guard cancels (seed lexicon_sense_guards: "water gun", "explosive hairstyle",
-- "shooting star", a knife beside a fork): a term stands while it has more occurrences than guarded ones.
-- The guard's rules are read when the model compiles.
-- depends_on: {{ ref('lexicon_sense_guards') }}
-- Incremental by dataset (macros/incremental.sql): a build recomputes only edits of datasets whose files changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select edit_id, instruction_norm from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

lexicon as (

    select term, category from {{ ref('safety_lexicon') }}

),

forms as (

    select edit_id, instruction_norm, unnest({{ lexicon_matches('instruction_norm', 'safety_lexicon') }}) as matched_form
    from edits

),

occurrences as (

    select
        forms.edit_id,
        lexicon.term,
        lexicon.category,
        any_value(forms.instruction_norm) as instruction_norm,
        count(*) as n_occurrences
    from forms
    join lexicon on {{ lexicon_join('forms.matched_form', 'lexicon.term') }}
    group by all

),

guarded as (

    select
        *,
        {{ lexicon_guarded_count('instruction_norm', 'term', 'safety', 'safety_lexicon', 'category') }} as n_guarded
    from occurrences

),

matched as (

    select edit_id, term, category
    from guarded
    where n_occurrences > n_guarded

)

select * from matched
