with

source as (

    select * from {{ warehouse_table('edit_projections') }}

),

renamed as (

    select
        ---------- ids
        edit_id,
        model_key,
        space,
        method,

        ---------- coordinates
        x,
        y

    from source

),

deduplicated as (

    -- a rerun of the browse stage replaces a model's files; a copy left by a killed run is kept once
    select * from renamed
    qualify row_number() over (partition by edit_id, model_key, space, method order by x, y) = 1

)

select * from deduplicated
