{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'column': 'dataset',
        'also': [{'state': 'edits'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}"
) }}

-- depends_on: {{ ref('stg_editlens__edits') }}
-- One row per dataset x part x score metric: how many edits have it, mean and quantiles.
with

scores as (

    select * from {{ ref('int_edit_score_metrics') }}
    where {{ partition_filter() }}

),

totals as (

    select dataset, part, count(*) as n_edits from {{ ref('edits') }}
    where {{ partition_filter() }}
    group by all

)

select
    scores.dataset,
    scores.part,
    scores.metric,
    totals.n_edits,
    count(scores.score) as n_scored,
    count(scores.score) / totals.n_edits as share_scored,
    avg(scores.score) as mean,
    stddev_samp(scores.score) as stddev,
    min(scores.score) as min,
    quantile_cont(scores.score, 0.1) as p10,
    quantile_cont(scores.score, 0.25) as p25,
    median(scores.score) as median,
    quantile_cont(scores.score, 0.75) as p75,
    quantile_cont(scores.score, 0.9) as p90,
    max(scores.score) as max
from scores
join totals using (dataset, part)
group by scores.dataset, scores.part, scores.metric, totals.n_edits
