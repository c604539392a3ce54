-- Derived scope-operation labels per distinct instruction: the taxonomy rules' labels, except for the labels the
-- learned model decides (taxonomy_model_labels), which it gives where its score passes the label's threshold;
-- an instruction left with no label gets the model label of highest score above (or nearest to) its threshold.
with

rule_labels as (

    select * from {{ ref('int_instruction_rule_labels') }}

),

model_scores as (

    select * from {{ ref('int_instruction_label_scores') }}

),

model_labels as (

    select label from {{ ref('taxonomy_model_labels') }}

),

kept_rule_labels as (

    select instruction_key, label
    from rule_labels
    anti join model_labels using (label)

),

passed_model_labels as (

    select instruction_key, label
    from model_scores
    where passes

),

labelled as (

    select instruction_key, label from kept_rule_labels
    union
    select instruction_key, label from passed_model_labels

),

fallback_labels as (

    select instruction_key, arg_max(label, score - threshold) as label
    from model_scores
    anti join labelled using (instruction_key)
    group by instruction_key

),

final as (

    select instruction_key, label from labelled
    union
    select instruction_key, label from fallback_labels

)

select * from final
