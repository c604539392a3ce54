-- Each quality flag's measured precision and recall per dataset, from the review queue's verdicts: a reviewer
-- says whether the flag's decision on a sampled edit is right. Precision = right among reviewed flagged edits;
-- false omission rate = wrong among reviewed unflagged edits; recall weighs both by how many edits the flag
-- fires and does not fire on (estimated true positives / (those + estimated false negatives)).
with

quality_flags as (

    select * from {{ ref('edit_quality_flags') }}

),

verdicts as (

    select * from {{ ref('stg_editlens__flag_verdicts') }}

),

flags_long as (

    unpivot (
        select
            edit_id, dataset,
            is_noop, is_misaligned, is_full_regeneration, has_broken_image,
            is_duplicate_pair, has_near_duplicate_source, is_chain_break, has_content_overlap
        from quality_flags
    )
    on is_noop, is_misaligned, is_full_regeneration, has_broken_image,
       is_duplicate_pair, has_near_duplicate_source, is_chain_break, has_content_overlap
    into name flag value flagged

),

population as (

    select
        flag,
        dataset,
        count(*) as n_edits,
        count(*) filter (where flagged) as n_flagged,
        count(*) filter (where not flagged) as n_unflagged
    from flags_long
    group by flag, dataset

),

reviewed as (

    select
        verdicts.flag,
        quality_flags.dataset,
        count(*) filter (where verdicts.flagged and verdicts.verdict = 'right') as n_true_positive,
        count(*) filter (where verdicts.flagged and verdicts.verdict = 'wrong') as n_false_positive,
        count(*) filter (where not verdicts.flagged and verdicts.verdict = 'right') as n_true_negative,
        count(*) filter (where not verdicts.flagged and verdicts.verdict = 'wrong') as n_false_negative,
        count(*) filter (where verdicts.verdict = 'unsure') as n_unsure
    from verdicts
    inner join quality_flags on quality_flags.edit_id = verdicts.edit_id
    group by verdicts.flag, quality_flags.dataset

),

counted as (

    select
        population.flag,
        population.dataset,
        population.n_edits,
        population.n_flagged,
        population.n_unflagged,
        coalesce(reviewed.n_true_positive, 0) as n_true_positive,
        coalesce(reviewed.n_false_positive, 0) as n_false_positive,
        coalesce(reviewed.n_true_negative, 0) as n_true_negative,
        coalesce(reviewed.n_false_negative, 0) as n_false_negative,
        coalesce(reviewed.n_unsure, 0) as n_unsure
    from population
    left join reviewed
        on reviewed.flag = population.flag and reviewed.dataset = population.dataset

),

rates as (

    select
        *,
        n_true_positive + n_false_positive as n_reviewed_flagged,
        n_true_negative + n_false_negative as n_reviewed_unflagged,

        ---------- precision: right among the reviewed flagged edits
        n_true_positive / nullif(n_true_positive + n_false_positive, 0)::double as precision,
        {{ wilson_bound('n_true_positive', 'n_true_positive + n_false_positive', 'lower') }} as precision_lo,
        {{ wilson_bound('n_true_positive', 'n_true_positive + n_false_positive', 'upper') }} as precision_hi,

        ---------- false omission rate: wrong among the reviewed unflagged edits
        n_false_negative / nullif(n_true_negative + n_false_negative, 0)::double as false_omission_rate,
        {{ wilson_bound('n_false_negative', 'n_true_negative + n_false_negative', 'lower') }} as false_omission_lo,
        {{ wilson_bound('n_false_negative', 'n_true_negative + n_false_negative', 'upper') }} as false_omission_hi
    from counted

),

final as (

    select
        *,
        ---------- recall: estimated true positives over those plus estimated false negatives; the interval puts
        ---------- the precision and false-omission bounds at their least and most favourable ends
        n_flagged * precision
            / nullif(n_flagged * precision + n_unflagged * false_omission_rate, 0) as recall,
        n_flagged * precision_lo
            / nullif(n_flagged * precision_lo + n_unflagged * false_omission_hi, 0) as recall_lo,
        n_flagged * precision_hi
            / nullif(n_flagged * precision_hi + n_unflagged * false_omission_lo, 0) as recall_hi
    from rates

)

select * from final
order by flag, dataset
