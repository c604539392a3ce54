-- One row per multi-turn edit whose source is not the previous turn's target (compared by content hash when
-- both are known, else by image id).
with

edits as (

    select edit_id, dataset, part, session_id, turn_index, source_image_id, target_image_id
    from {{ ref('stg_editlens__edits') }}
    where session_id is not null

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}

),

turns as (

    select
        edits.*,
        images.source_sha256,
        lag(edits.turn_index) over session as previous_turn_index,
        lag(edits.target_image_id) over session as previous_target_image_id,
        lag(images.target_sha256) over session as previous_target_sha256
    from edits
    join images using (edit_id)
    window session as (partition by edits.dataset, edits.part, edits.session_id order by edits.turn_index)

),

breaks as (

    select
        edit_id,
        dataset,
        part,
        session_id,
        turn_index,
        previous_turn_index,
        case
            when previous_turn_index <> turn_index - 1 then 'turn_gap'
            when source_sha256 is not null and previous_target_sha256 is not null
                then case when source_sha256 <> previous_target_sha256 then 'content_differs' end
            when source_image_id <> previous_target_image_id then 'image_differs'
        end as break_reason
    from turns
    where previous_turn_index is not null

)

select * from breaks where break_reason is not null
