-- One row per dataset x part x score metric x bin (width 0.05 for similarities, 1 for pHash distance).
with

scores as (

    select * from {{ ref('int_edit_score_metrics') }}

),

binned as (

    select
        dataset,
        part,
        metric,
        case when metric = 'phash_distance' then 1.0 else 0.05 end as bin_width,
        floor(score / bin_width) * bin_width as bin_lower
    from scores

)

select
    dataset,
    part,
    metric,
    round(bin_lower, 4) as bin_lower,
    round(bin_lower + any_value(bin_width), 4) as bin_upper,
    count(*) as n_edits
from binned
group by dataset, part, metric, bin_lower
