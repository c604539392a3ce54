with

source as (

    select * from {{ warehouse_table('images') }}

),

renamed as (

    select
        ---------- ids
        image_id,

        ---------- location
        lower(dataset) as dataset,
        part,
        location_kind,
        root,
        path,
        row_group,
        "row" as parquet_row,
        "column" as parquet_column,

        ---------- checks
        "exists" as file_exists

    from source

)

select * from renamed
