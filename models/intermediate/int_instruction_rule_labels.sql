-- Scope-operation labels per distinct instruction from the taxonomy_rules seed alone: within each clause
-- the matching rules of the highest priority give labels; priority-0 rules label instructions left unlabelled.
-- The seed's rules are read when the model compiles.
-- depends_on: {{ ref('taxonomy_rules') }}
-- Incremental by key (macros/incremental.sql): a build processes only instructions not yet in the table.
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

    select * from {{ ref('int_instructions') }}
    where {{ new_keys_filter('instruction_key') }}

),

clauses as (

    select
        instruction_key,
        unnest(clauses) as clause,
        unnest(range(len(clauses))) as clause_index
    from instructions

),

clause_hits as (

    select
        instruction_key,
        clause_index,
        unnest({{ taxonomy_hits('clause') }}) as hit
    from clauses

),

ranked as (

    select
        instruction_key,
        clause_index,
        hit.label,
        hit.priority,
        max(hit.priority) over (partition by instruction_key, clause_index) as top_priority
    from clause_hits

),

clause_labels as (

    select distinct instruction_key, label
    from ranked
    where priority = top_priority and label <> 'none'

),

unlabelled as (

    select instruction_key, instruction_norm
    from instructions
    anti join clause_labels using (instruction_key)

),

fallback_labels as (

    select distinct instruction_key, unnest({{ taxonomy_hits('instruction_norm', fallback=true) }}).label as label
    from unlabelled

),

final as (

    select instruction_key, label from clause_labels
    union
    select instruction_key, label from fallback_labels where label <> 'none'

)

select * from final
