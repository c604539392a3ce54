-- One row per edit: what is known about its source and target images (existence, decode status, content hashes).
with

edits as (

    select edit_id, source_image_id, target_image_id from {{ ref('stg_editlens__edits') }}

),

images as (

    -- an image referenced from two parts (e.g. SEED's GPT-4V rewrites) is listed once per part: keep one row
    select image_id, bool_and(file_exists) as file_exists
    from {{ ref('stg_editlens__images') }}
    group by image_id

),

facts as (

    select * from {{ ref('stg_editlens__image_facts') }}
    qualify row_number() over (partition by image_id order by is_readable desc) = 1

),

image_state as (

    select
        images.image_id,
        images.file_exists,
        facts.sha256,
        facts.phash,
        facts.width,
        facts.height,
        -- decode status from embed; before embed, a failed existence check still says `missing`
        coalesce(facts.status, case when images.file_exists = false then 'missing' end) as status
    from images
    left join facts using (image_id)

),

joined as (

    select
        edits.edit_id,
        edits.source_image_id,
        edits.target_image_id,
        src.sha256 as source_sha256,
        tgt.sha256 as target_sha256,
        src.phash as source_phash,
        tgt.phash as target_phash,
        src.width as source_width,
        src.height as source_height,
        tgt.width as target_width,
        tgt.height as target_height,
        coalesce(src.status, 'unknown') as source_status,
        coalesce(tgt.status, 'unknown') as target_status,
        src.image_id is null as source_unreferenced,
        tgt.image_id is null as target_unreferenced
    from edits
    left join image_state as src on src.image_id = edits.source_image_id
    left join image_state as tgt on tgt.image_id = edits.target_image_id

)

select * from joined
