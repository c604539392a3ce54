with

source as (

    select * from {{ warehouse_table('edit_scores') }}

),

renamed as (

    select
        ---------- ids
        edit_id,
        model_key,

        ---------- model
        model_name,
        pretrained,
        preprocess,

        ---------- CLIP alignment
        clip_i,
        clip_t_target_caption,
        clip_t_instruction,
        directional_caption,
        directional_instruction,
        directional_instruction_core,

        ---------- pixel change
        pixel_l1,
        pixel_mse,
        pixel_changed_frac,
        phash_distance,

        ---------- why scores are null
        null_reason

    from source

)

select * from renamed
