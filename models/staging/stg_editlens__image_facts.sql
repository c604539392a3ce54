with

source as (

    select * from {{ warehouse_table('image_facts') }}

),

renamed as (

    select
        ---------- ids
        image_id,
        sha256,
        phash,

        ---------- geometry and encoding
        width,
        height,
        format,
        mode,
        file_size,

        ---------- decode status
        status,
        status_message,
        status = 'ok' as is_readable,

        ---------- pixel statistics
        brightness,
        contrast,
        entropy,
        blur

    from source

)

select * from renamed
