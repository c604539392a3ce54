{#- Bootstrap percentile intervals of a mean, in SQL, deterministic. `values_relation` has the `group_cols`,
    `unit_id` (the resampled unit: an edit) and `metric_value`. Each group of n units is resampled
    `replicates` times (seed bootstrap_settings): draw j of replicate r takes unit 1 + hash(seed, r, j) mod n
    of the group's units ordered by unit_id, so a rebuild gives the same intervals. Emits CTEs ending in
    `bootstrap_intervals`: the group columns, n_units, mean_value, ci_low, ci_high (nearest-rank percentiles
    of the replicate means at (1 - c) / 2 and (1 + c) / 2; null for a group of one unit), replicates. -#}
{% macro bootstrap_ctes(values_relation, group_cols) -%}
{%- set g = group_cols | join(', ') -%}
bootstrap_settings as (

    select
        cast(max(case when name = 'replicates' then value end) as integer) as replicates,
        cast(max(case when name = 'seed' then value end) as bigint) as seed,
        max(case when name = 'confidence' then value end) as confidence
    from {{ ref('bootstrap_settings') }}

),

bootstrap_numbered as (

    select
        {{ g }},
        metric_value,
        row_number() over (partition by {{ g }} order by unit_id) as unit_number
    from {{ values_relation }}

),

bootstrap_groups as (

    select
        {{ g }},
        count(*) as n_units,
        avg(metric_value) as mean_value
    from bootstrap_numbered
    group by {{ g }}

),

bootstrap_replicates as (

    select
        bootstrap_groups.*,
        bootstrap_settings.seed,
        unnest(range(1, bootstrap_settings.replicates + 1)) as replicate
    from bootstrap_groups
    cross join bootstrap_settings

),

bootstrap_draw_numbers as (

    select
        {{ g }},
        seed,
        n_units,
        replicate,
        unnest(range(1, n_units + 1)) as draw
    from bootstrap_replicates

),

bootstrap_draws as (

    select
        {{ g }},
        replicate,
        1 + cast(hash(seed, replicate, draw) % n_units as bigint) as unit_number
    from bootstrap_draw_numbers

),

bootstrap_means as (

    select
        {%- for c in group_cols %}
        bootstrap_draws.{{ c }},
        {%- endfor %}
        bootstrap_draws.replicate,
        avg(bootstrap_numbered.metric_value) as replicate_mean
    from bootstrap_draws
    inner join bootstrap_numbered
        on
            {%- for c in group_cols %}
            bootstrap_draws.{{ c }} = bootstrap_numbered.{{ c }} and
            {%- endfor %}
            bootstrap_draws.unit_number = bootstrap_numbered.unit_number
    group by all

),

bootstrap_intervals as (

    select
        {%- for c in group_cols %}
        bootstrap_groups.{{ c }},
        {%- endfor %}
        bootstrap_groups.n_units,
        bootstrap_groups.mean_value,
        -- one unit has no spread to resample: no interval
        case when any_value(bootstrap_groups.n_units) >= 2 then list_sort(list(bootstrap_means.replicate_mean))[
            1 + cast(floor((count(*) - 1) * (1 - any_value(bootstrap_settings.confidence)) / 2) as bigint)
        ] end as ci_low,
        case when any_value(bootstrap_groups.n_units) >= 2 then list_sort(list(bootstrap_means.replicate_mean))[
            1 + cast(ceil((count(*) - 1) * (1 + any_value(bootstrap_settings.confidence)) / 2) as bigint)
        ] end as ci_high,
        count(*) as replicates
    from bootstrap_groups
    inner join bootstrap_means
        on
            {%- for c in group_cols %}
            bootstrap_groups.{{ c }} = bootstrap_means.{{ c }}{{ " and" if not loop.last }}
            {%- endfor %}
    cross join bootstrap_settings
    group by all

)
{%- endmacro %}
