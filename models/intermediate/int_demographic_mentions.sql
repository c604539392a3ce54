-- One row per edit, text field and demographic lexicon term mentioned there (whole words, any case, plurals),
-- less the occurrences the word-sense guard cancels (seed lexicon_sense_guards: "candy cane", "old photo",
-- "european palace", "the lion king"): a term stands while it has more occurrences than guarded ones.
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

    select edit_id, instruction_norm, lower(source_caption) as source_caption, lower(target_caption) as target_caption
    from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

lexicon as (

    select term, "group" as demographic_group, subgroup from {{ ref('demographic_lexicon') }}

),

texts as (

    select edit_id, 'instruction' as field, instruction_norm as text from edits
    union all
    select edit_id, 'source_caption' as field, source_caption as text from edits where source_caption is not null
    union all
    select edit_id, 'target_caption' as field, target_caption as text from edits where target_caption is not null

),

forms as (

    select edit_id, field, text, unnest({{ lexicon_matches('text', 'demographic_lexicon') }}) as matched_form
    from texts

),

occurrences as (

    select
        forms.edit_id,
        forms.field,
        lexicon.term,
        lexicon.demographic_group,
        lexicon.subgroup,
        any_value(forms.text) as text,
        count(*) as n_occurrences
    from forms
    join lexicon on {{ lexicon_join('forms.matched_form', 'lexicon.term') }}
    group by all

),

guarded as (

    select
        *,
        {{ lexicon_guarded_count('text', 'term', 'demographic', 'demographic_lexicon', 'group') }} as n_guarded
    from occurrences

),

matched as (

    select edit_id, field, term, demographic_group, subgroup
    from guarded
    where n_occurrences > n_guarded

)

select * from matched
