with

source as (

    select * from {{ warehouse_table('image_detections') }}

),

renamed as (

    select
        ---------- ids
        sha256,
        detector,

        ---------- detector
        detector_version,
        status,
        message,

        ---------- detections
        n_detections,
        largest_share,
        boxes,
        class_labels,
        class_scores

    from source

)

select * from renamed
