{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}, {'state': 'int_demographic_mentions'}, {'state': 'int_edit_attribute_shifts'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- depends_on: {{ ref('stg_editlens__edits') }}
-- One row per demographic group x subgroup x dataset x derived label ('all' = every edit): how often the group
-- is mentioned (instruction or captions), its alignment scores, the perceived-attribute shift of its edits, and
-- the InstructPix2Pix filter impact: the share of the group's edits that pass, against the overall pass rate.
-- Every rate carries its numerator and denominator.
with

edits as (

    select
        edit_id, dataset, derived_labels, clip_i, passes_ip2p_filter,
        coalesce(directional_caption, directional_instruction) as directional,
        coalesce(clip_t_target_caption, clip_t_instruction) as clip_t
    from {{ ref('edits') }}
    where {{ partition_filter() }}

),

edit_label as materialized (

    select edit_id, dataset, 'all' as label from edits
    union all
    select edit_id, dataset, unnest(derived_labels) as label from edits

),

mentions as materialized (

    select distinct edit_id, demographic_group, subgroup from {{ ref('int_demographic_mentions') }}
    union all
    -- the group as a whole, every subgroup together
    select distinct edit_id, demographic_group, 'all' as subgroup from {{ ref('int_demographic_mentions') }}

),

shifts as (

    select edit_id, concept_group, concept, shift from {{ ref('int_edit_attribute_shifts') }}

),

slice_totals as (

    select
        edit_label.dataset,
        edit_label.label,
        count(*) as n_edits_in_slice,
        count(edits.passes_ip2p_filter) as n_scored_in_slice,
        count(*) filter (where edits.passes_ip2p_filter) as n_passing_in_slice
    from edit_label join edits using (edit_id)
    group by all

),

group_slices as (

    select
        mentions.demographic_group,
        mentions.subgroup,
        edit_label.dataset,
        edit_label.label,
        count(*) as n_edits,
        avg(edits.clip_i) as clip_i_mean,
        avg(edits.directional) as directional_mean,
        avg(edits.clip_t) as clip_t_mean,
        count(edits.passes_ip2p_filter) as n_scored,
        count(*) filter (where edits.passes_ip2p_filter) as n_passing
    from mentions
    join edit_label using (edit_id)
    join edits using (edit_id)
    group by all

),

group_shifts as (

    select
        demographic_group, subgroup, dataset, label,
        list({ 'concept_group': concept_group, 'concept': concept, 'n_edits': n, 'mean_shift': mean_shift }
            order by concept_group, concept) as attribute_shift
    from (
        select
            mentions.demographic_group, mentions.subgroup, edit_label.dataset, edit_label.label,
            shifts.concept_group, shifts.concept, count(*) as n, avg(shifts.shift) as mean_shift
        from mentions
        join edit_label using (edit_id)
        join shifts using (edit_id)
        group by all
    ) as mention_shifts
    group by all

),

final as (

    select
        group_slices.demographic_group,
        group_slices.subgroup,
        group_slices.dataset,
        group_slices.label,
        group_slices.n_edits,
        slice_totals.n_edits_in_slice,
        group_slices.n_edits / slice_totals.n_edits_in_slice as mention_rate,
        group_slices.clip_i_mean,
        group_slices.directional_mean,
        group_slices.clip_t_mean,
        group_shifts.attribute_shift,
        group_slices.n_passing,
        group_slices.n_scored,
        group_slices.n_passing / nullif(group_slices.n_scored, 0) as filter_pass_rate,
        slice_totals.n_passing_in_slice as overall_n_passing,
        slice_totals.n_scored_in_slice as overall_n_scored,
        slice_totals.n_passing_in_slice / nullif(slice_totals.n_scored_in_slice, 0) as overall_filter_pass_rate,
        (group_slices.n_passing / nullif(group_slices.n_scored, 0))
            / nullif(slice_totals.n_passing_in_slice / nullif(slice_totals.n_scored_in_slice, 0), 0)
            as filter_pass_rate_ratio
    from group_slices
    join slice_totals using (dataset, label)
    left join group_shifts using (demographic_group, subgroup, dataset, label)

)

select * from final
