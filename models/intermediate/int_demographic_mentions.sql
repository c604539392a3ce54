-- One row per edit, text field and demographic lexicon term mentioned there (whole words, any case, plurals).
with

edits as (

    select edit_id, instruction_norm, lower(source_caption) as source_caption, lower(target_caption) as target_caption
    from {{ ref('stg_editlens__edits') }}

),

lexicon as (

    select term, "group" as demographic_group, subgroup from {{ ref('demographic_lexicon') }}

),

texts as (

    select edit_id, 'instruction' as field, instruction_norm as text from edits
    union all
    select edit_id, 'source_caption', source_caption from edits where source_caption is not null
    union all
    select edit_id, 'target_caption', target_caption from edits where target_caption is not null

),

forms as (

    select distinct edit_id, field, unnest({{ lexicon_matches('text', 'demographic_lexicon') }}) as matched_form
    from texts

),

matched as (

    select distinct
        forms.edit_id,
        forms.field,
        lexicon.term,
        lexicon.demographic_group,
        lexicon.subgroup
    from forms
    join lexicon on {{ lexicon_join('forms.matched_form', 'lexicon.term') }}

)

select * from matched
