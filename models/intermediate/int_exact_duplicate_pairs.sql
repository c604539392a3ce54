-- Edits whose (source, target) pair repeats another edit's of the same dataset and part: same image contents
-- (or, without content hashes, the same image references). The first in file order is the original; later ones
-- are duplicates. (A part that re-annotates another part's pairs, e.g. SEED's GPT-4V rewrites, is not a duplicate.)
with

edits as (

    select edit_id, dataset, part, source_file, source_record from {{ ref('stg_editlens__edits') }}

),

images as (

    select
        edit_id,
        coalesce(source_sha256, source_image_id) as source_key,
        coalesce(target_sha256, target_image_id) as target_key
    from {{ ref('int_edit_images') }}

),

grouped as (

    select
        edits.edit_id,
        count(*) over (partition by edits.dataset, edits.part, images.source_key, images.target_key) as duplicate_group_size,
        row_number() over file_order as duplicate_rank,
        first_value(edits.edit_id) over file_order as original_edit_id
    from edits
    join images using (edit_id)
    window file_order as (
        partition by edits.dataset, edits.part, images.source_key, images.target_key
        order by edits.dataset, edits.part, edits.source_file, edits.source_record, edits.edit_id
    )

)

select * from grouped where duplicate_group_size > 1
