-- Pairs of distinct source-image contents whose perceptual hashes differ in 1..4 bits.
-- Banded candidate join, never a quadratic self-join: the 64-bit pHash is cut into 6 blocks (11,11,11,11,10,10
-- bits, int_source_phash_blocks) and every pair of blocks forms a band (15 bands of 21-22 bits). Hashes within
-- 4 bits differ in at most 4 blocks, so at least 2 blocks, hence one band, agree exactly: joining on equal band
-- values finds every such pair, and the bit count of the XOR then keeps the true ones.
-- Incremental, new against old (macros/incremental.sql, pairs pattern): a build compares only the contents added
-- since the last one with each other and with the old ones, keeps the pairs of two old contents, and drops the
-- pairs of contents gone.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'pairs': {'input': 'int_source_phash_blocks', 'key': 'sha256', 'columns': ['sha256_a', 'sha256_b'],
                    'added': 'added_build'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

blocks as (

    select * from {{ ref('int_source_phash_blocks') }}

),

new_blocks as materialized (

    select * from blocks where {{ new_rows_filter() }}

),

old_blocks as (

    select * from blocks where {{ old_rows_filter() }}

),

candidates as (

    -- new against new, each pair once
    {%- for i in range(6) %}{% for j in range(i + 1, 6) %}
    select a.image_no as image_a, b.image_no as image_b, bit_count(xor(a.phash, b.phash)) as hamming
    from new_blocks as a
    join new_blocks as b on a.b{{ i }} = b.b{{ i }} and a.b{{ j }} = b.b{{ j }} and a.image_no < b.image_no
    union all
    {%- endfor %}{% endfor %}
    -- new against old
    {%- for i in range(6) %}{% for j in range(i + 1, 6) %}
    select a.image_no as image_a, b.image_no as image_b, bit_count(xor(a.phash, b.phash)) as hamming
    from new_blocks as a
    join old_blocks as b on a.b{{ i }} = b.b{{ i }} and a.b{{ j }} = b.b{{ j }}
    {% if not (i == 4 and j == 5) %}union all{% endif %}
    {%- endfor %}{% endfor %}

),

pairs as (

    select distinct image_a, image_b, hamming
    from candidates
    where hamming <= {{ threshold('near_duplicate_max_hamming') }}

),

final as (

    select
        -- the smaller content first: the pair reads the same whatever order the images were numbered in
        least(a.sha256, b.sha256) as sha256_a,
        greatest(a.sha256, b.sha256) as sha256_b,
        pairs.hamming
    from pairs
    join blocks as a on a.image_no = pairs.image_a
    join blocks as b on b.image_no = pairs.image_b

)

select * from final
