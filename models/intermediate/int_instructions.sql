-- One row per distinct normalised instruction, with its clauses: the unit the taxonomy and features work on.
-- Clauses come from the split_clauses macro; a negated or contrasted part ("..., but keep the face",
-- "... without changing the sky", "do not move the dog") is cut off as a clause of its own, so the seed's
-- `none` rules can silence it without silencing the positive part before it.
-- Incremental by key (macros/incremental.sql): a build processes only instructions not yet in the table.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'keyed': {'input': 'stg_editlens__edits', 'key': 'instruction_key'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

edits as (

    select * from {{ ref('stg_editlens__edits') }}

),

distinct_instructions as (

    select distinct instruction_key, instruction_norm from edits
    where {{ new_keys_filter('instruction_key') }}

),

split as (

    select
        instruction_key,
        instruction_norm,
        {{ split_clauses('instruction_norm') }} as clauses
    from distinct_instructions

),

negations_split as (

    select
        instruction_key,
        instruction_norm,
        list_filter(
            flatten(list_transform(clauses, c -> string_split_regex(
                regexp_replace(c,
                    '\s+(?:(?:but|and|yet|while|however)\s+)*(do not|don''t|never|without)\s+', ', \1 ', 'g'),
                ',\s*|\s+but\s+'))),
            c -> length(trim(c)) > 0) as clauses
    from split

)

select * from negations_split
