-- One row per edit and safety lexicon term its instruction mentions (whole words, any case, plurals).
with

edits as (

    select edit_id, instruction_norm from {{ ref('stg_editlens__edits') }}

),

lexicon as (

    select term, category from {{ ref('safety_lexicon') }}

),

forms as (

    select distinct edit_id, unnest({{ lexicon_matches('instruction_norm', 'safety_lexicon') }}) as matched_form
    from edits

),

matched as (

    select distinct forms.edit_id, lexicon.term, lexicon.category
    from forms
    join lexicon on {{ lexicon_join('forms.matched_form', 'lexicon.term') }}

)

select * from matched
