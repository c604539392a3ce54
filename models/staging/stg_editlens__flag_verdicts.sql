with

source as (

    select * from {{ warehouse_table('flag_verdicts') }}

),

renamed as (

    select
        ---------- ids
        edit_id,
        flag,

        ---------- what was reviewed
        flagged,
        sample,
        sample_seed,
        model_key,

        ---------- verdict
        verdict,
        reviewer,
        created_at as reviewed_at

    from source

),

latest as (

    -- append-only: a later verdict on the same edit and flag replaces the earlier one
    select
        *,
        count(*) over (partition by edit_id, flag) as n_saves
    from renamed
    qualify row_number() over (partition by edit_id, flag order by reviewed_at desc, verdict asc) = 1

)

select * from latest
