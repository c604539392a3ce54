-- One row per source content of int_source_phashes: a number, the pHash cut into 6 blocks (11,11,11,11,10,10
-- bits) for the near-duplicate bands, and the build that added it. Incremental by content (macros/incremental.sql):
-- a build adds the contents not seen before (`added_build`: 1 for the first build, then one more for each build
-- that adds some) and drops the ones gone.
{%- set offsets = [0, 11, 22, 33, 44, 54] -%}
{%- set widths = [11, 11, 11, 11, 10, 10] %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'keyed': {'input': 'int_source_phashes', 'key': 'sha256', 'generation': 'added_build'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

sources as (

    select sha256, phash from {{ ref('int_source_phashes') }}
    where {{ new_keys_filter('sha256') }}

),

numbered as (

    -- numbers after those already given (in content order: every build numbers alike): a content keeps its
    -- number while it stays
    select
        {% if incremental_reusable() %}(select coalesce(max(image_no), 0) from {{ this }}) + {% endif -%}
        row_number() over (order by sha256) as image_no,
        sha256,
        phash
    from sources

),

blocks as (

    select
        image_no,
        sha256,
        phash,
        {%- for i in range(6) %}
        (phash >> {{ offsets[i] }}) & {{ 2 ** widths[i] - 1 }} as b{{ i }},
        {%- endfor %}
        {{ next_generation() }} as added_build
    from numbered

)

select * from blocks
