with

source as (

    select * from {{ warehouse_table('rejects') }}

),

renamed as (

    select
        ---------- ids
        ingest_run_id,

        ---------- where
        lower(dataset) as dataset,
        part,
        source_file,
        source_record,

        ---------- why
        reason,
        message,
        raw

    from source

)

select * from renamed
