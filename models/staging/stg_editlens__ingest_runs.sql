with

source as (

    select * from {{ warehouse_table('ingest_runs') }}

),

renamed as (

    select
        ---------- ids
        ingest_run_id,

        ---------- file
        lower(dataset) as dataset,
        part,
        source_file,
        checksum,
        reader,

        ---------- counts
        records_read,
        records_loaded,
        records_rejected,

        ---------- timing
        started_at,
        duration_s

    from source

)

select * from renamed
