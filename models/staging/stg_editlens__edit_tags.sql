with

source as (

    select * from {{ warehouse_table('edit_tags') }}

),

renamed as (

    select
        ---------- ids
        edit_id,

        ---------- tag
        tag,
        reviewer,
        created_at as tagged_at

    from source

),

latest as (

    -- append-only: a later save of the same edit replaces the earlier tag
    select
        *,
        count(*) over (partition by edit_id) as n_saves
    from renamed
    qualify row_number() over (partition by edit_id order by tagged_at desc, tag asc) = 1

)

select * from latest
