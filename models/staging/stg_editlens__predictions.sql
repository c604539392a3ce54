with

source as (

    select * from {{ warehouse_table('predictions') }}

),

renamed as (

    select
        ---------- ids
        prediction_id,
        predictions_run_id,
        edit_id,

        ---------- what was predicted
        model_name as editing_model,
        benchmark,
        layout,
        setting,
        benchmark_key,
        turn_index,

        ---------- where the output is
        location_kind,
        root,
        path,
        row_group,
        "row",
        "column",

        ---------- found or not
        status,
        message,
        created_at

    from source

)

select * from renamed
