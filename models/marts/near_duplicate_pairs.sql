-- One row per pair of distinct source-image contents within the near-duplicate pHash distance, with one edit
-- using each side (for looking at them).
with

pairs as (

    select * from {{ ref('int_near_duplicate_sources') }}

),

example_edits as (

    select source_sha256 as sha256, min(edit_id) as edit_id, arg_min(dataset, edit_id) as dataset, count(*) as n_edits
    from {{ ref('edits') }}
    where source_sha256 is not null
    group by source_sha256

)

select
    pairs.sha256_a,
    pairs.sha256_b,
    pairs.hamming,
    a.edit_id as example_edit_id_a,
    b.edit_id as example_edit_id_b,
    a.dataset as dataset_a,
    b.dataset as dataset_b,
    a.n_edits as n_edits_a,
    b.n_edits as n_edits_b
from pairs
join example_edits as a on a.sha256 = pairs.sha256_a
join example_edits as b on b.sha256 = pairs.sha256_b
