with

source as (

    select * from {{ warehouse_table('embed_models') }}

),

renamed as (

    select
        ---------- ids
        model_key,

        ---------- model
        model_name,
        pretrained,
        weights_sha256,
        preprocess,
        embed_dim

    from source

)

select * from renamed
