with

source as (

    select * from {{ warehouse_table('image_concepts') }}

),

renamed as (

    select
        ---------- ids
        sha256,
        model_key,

        ---------- model
        model_name,
        pretrained,
        preprocess,

        ---------- concept score
        concept_group,
        concept,
        score

    from source

)

select * from renamed
