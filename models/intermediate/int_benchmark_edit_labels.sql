-- One row per benchmark edit (an edit registered editing models' outputs are compared on), label origin and
-- label: the labels the taxonomy derives from its instruction, the benchmark's own (task, edit_type) and `all`.
with

benchmark_edits as (

    select distinct edit_id from {{ ref('int_prediction_outcomes') }}
    where in_scope

),

edits as (

    select
        -- ids
        stg.edit_id,
        stg.instruction_key,
        -- labels
        stg.provided_labels
    from {{ ref('stg_editlens__edits') }} as stg
    inner join benchmark_edits on stg.edit_id = benchmark_edits.edit_id

),

labels as (

    select
        edits.edit_id,
        'derived' as label_origin,
        derived.label
    from edits
    inner join {{ ref('int_instruction_labels_derived') }} as derived
        on edits.instruction_key = derived.instruction_key
    union distinct
    select
        edit_id,
        'provided' as label_origin,
        unnest(provided_labels) as label
    from edits
    where len(provided_labels) > 0

),

final as (

    select edit_id, label_origin, label from labels
    where label is not null
    union all
    select edit_id, 'all' as label_origin, 'all' as label from edits

)

select * from final
