-- One row per image and part that lists it: where its encoded bytes are (a file under the dataset root, or a value
-- in a Parquet file). The dashboards read images through this mart only; sorted by dataset and part so a lookup
-- for one part's images reads only that part's row groups.
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose image rows changed; a build
-- appends them sorted, so each part's rows stay together.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {'input': 'stg_editlens__images', 'by': 'dataset', 'column': 'dataset', 'fingerprint': ['_in']}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

images as (

    select * from {{ ref('stg_editlens__images') }}
    where {{ partition_filter() }}

)

select
    ---------- ids
    image_id,
    dataset,
    part,

    ---------- location
    location_kind,
    root,
    path,
    row_group,
    parquet_row,
    parquet_column,

    ---------- checks
    file_exists

from images
order by dataset, part, image_id
