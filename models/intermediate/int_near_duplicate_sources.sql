-- Pairs of distinct source-image contents whose perceptual hashes differ in 1..4 bits.
-- Banded candidate join, never a quadratic self-join: the 64-bit pHash is cut into 6 blocks (11,11,11,11,10,10
-- bits) and every pair of blocks forms a band (15 bands of 21-22 bits). Hashes within 4 bits differ in at most
-- 4 blocks, so at least 2 blocks, hence one band, agree exactly: joining on equal band values finds every such
-- pair, and the bit count of the XOR then keeps the true ones.
{%- set offsets = [0, 11, 22, 33, 44, 54] -%}
{%- set widths = [11, 11, 11, 11, 10, 10] %}
with

edit_images as (

    select * from {{ ref('int_edit_images') }}

),

sources as (

    select source_sha256 as sha256, any_value(source_phash) as phash
    from edit_images
    where source_sha256 is not null and source_phash is not null and source_status = 'ok'
    group by source_sha256

),

numbered as materialized (

    select row_number() over () as image_no, sha256, phash from sources

),

blocks as materialized (

    select
        image_no,
        phash,
        {%- for i in range(6) %}
        (phash >> {{ offsets[i] }}) & {{ 2 ** widths[i] - 1 }} as b{{ i }}{{ "," if not loop.last }}
        {%- endfor %}
    from numbered

),

candidates as (

    {%- for i in range(6) %}{% for j in range(i + 1, 6) %}
    select a.image_no as image_a, b.image_no as image_b, bit_count(xor(a.phash, b.phash)) as hamming
    from blocks as a
    join blocks as b on a.b{{ i }} = b.b{{ i }} and a.b{{ j }} = b.b{{ j }} and a.image_no < b.image_no
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
    join numbered as a on a.image_no = pairs.image_a
    join numbered as b on b.image_no = pairs.image_b

)

select * from final
