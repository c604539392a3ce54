-- One row per distinct normalised instruction, with its clauses: the unit the taxonomy and features work on.
with

edits as (

    select * from {{ ref('stg_editlens__edits') }}

),

distinct_instructions as (

    select distinct instruction_key, instruction_norm from edits

),

split as (

    select
        instruction_key,
        instruction_norm,
        list_filter({{ split_clauses('instruction_norm') }}, c -> length(trim(c)) > 0) as clauses
    from distinct_instructions

)

select * from split
