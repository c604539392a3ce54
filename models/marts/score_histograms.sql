-- One row per dataset x part x score metric x bin (width 0.05 for similarities, 1 for pHash distance).
with

scores as (

    unpivot (
        select dataset, part, clip_i, clip_t_target_caption, clip_t_instruction, directional_caption,
            directional_instruction, pixel_changed_frac, cast(phash_distance as double) as phash_distance
        from {{ ref('edits') }}
    )
    on clip_i, clip_t_target_caption, clip_t_instruction, directional_caption, directional_instruction,
        pixel_changed_frac, phash_distance
    into name metric value score

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
