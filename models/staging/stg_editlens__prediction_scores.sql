with

source as (

    select * from {{ warehouse_table('prediction_scores') }}

),

renamed as (

    select
        ---------- ids
        prediction_id,
        predictions_run_id,
        model_key,

        ---------- embedding model
        model_name,
        pretrained,
        preprocess,

        ---------- the output image
        protocol,
        status as output_status,
        status_message as output_status_message,
        output_sha256,
        output_width,
        output_height,

        ---------- protocol scores
        l1,
        l2,
        clip_i,
        clip_t,
        directional_caption,
        dino,
        dino_model,

        ---------- why scores are null
        null_reason

    from source

)

select * from renamed
