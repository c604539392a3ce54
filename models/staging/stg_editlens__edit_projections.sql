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

    -- a rerun of the browse stage replaces a model's files; a copy left by a killed run is kept once (the
    -- smallest point: a grouping, not a sort of every row)
    select edit_id, model_key, space, method, min({ 'x': x, 'y': y }) as point
    from renamed
    group by edit_id, model_key, space, method

),

final as (

    select edit_id, model_key, space, method, point.x, point.y from deduplicated

)

select * from final
