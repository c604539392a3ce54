-- One row per edit whose source and target the face detector (opencv-haar-face) scored: face counts, the
-- largest face's share of each image, and what the edit did to people: adds_people (no face -> faces),
-- removes_people (faces -> none), more_faces, fewer_faces, face_kept_in_place (same count, the largest faces
-- overlap with IoU >= the face_kept_min_iou threshold), face_moved (same count, they do not), no_faces.
with

faces as (

    select
        sha256,
        n_detections as n_faces,
        largest_share,
        case when n_detections > 0 then
            list_transform(string_split(split_part(boxes, ';', 1), ','), x -> cast(x as integer))
        end as box
    from {{ ref('stg_editlens__image_detections') }}
    where detector = 'opencv-haar-face' and status = 'ok'

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}
    where source_status = 'ok' and target_status = 'ok'

),

paired as (

    select
        images.edit_id,
        src.n_faces as source_n_faces,
        tgt.n_faces as target_n_faces,
        src.largest_share as source_largest_face_share,
        tgt.largest_share as target_largest_face_share,
        -- intersection over union of the two largest faces (boxes in thousandths of width and height)
        greatest(0, least(src.box[3], tgt.box[3]) - greatest(src.box[1], tgt.box[1]))
            * greatest(0, least(src.box[4], tgt.box[4]) - greatest(src.box[2], tgt.box[2])) as inter,
        (src.box[3] - src.box[1]) * (src.box[4] - src.box[2])
            + (tgt.box[3] - tgt.box[1]) * (tgt.box[4] - tgt.box[2]) as area_sum
    from images
    join faces as src on src.sha256 = images.source_sha256
    join faces as tgt on tgt.sha256 = images.target_sha256

),

final as (

    select
        edit_id,
        source_n_faces,
        target_n_faces,
        source_largest_face_share,
        target_largest_face_share,
        case when inter is not null then inter / nullif(area_sum - inter, 0) end as largest_face_iou,
        case
            when source_n_faces = 0 and target_n_faces = 0 then 'no_faces'
            when source_n_faces = 0 then 'adds_people'
            when target_n_faces = 0 then 'removes_people'
            when target_n_faces > source_n_faces then 'more_faces'
            when target_n_faces < source_n_faces then 'fewer_faces'
            when inter / nullif(area_sum - inter, 0) >= {{ threshold('face_kept_min_iou') }} then 'face_kept_in_place'
            else 'face_moved'
        end as people_change
    from paired

)

select * from final
