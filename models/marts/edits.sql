-- depends_on: {{ ref('int_image_facts_by_dataset') }}
-- depends_on: {{ ref('int_edit_scores_by_dataset') }}
-- One row per edit: coordinates, instruction and its features, labels, the chosen model's scores, image status.
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits, image facts or scores
-- changed (an instruction's features and labels depend only on its text and the seeds, part of the fingerprint).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'export': {'by': 'dataset'}, 'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [
            {'input': 'int_image_facts_by_dataset', 'by': 'dataset',
             'fingerprint': ['image_id', 'file_exists', 'sha256', 'phash', 'width', 'height', 'blur', 'status']},
            {'input': 'int_edit_scores_by_dataset', 'by': 'dataset', 'fingerprint': ['_in']},
        ],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

edits as (

    select * from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

features as (

    select * from {{ ref('int_instruction_features') }}

),

derived as (

    select instruction_key, list(label order by label) as derived_labels
    from {{ ref('int_instruction_labels_derived') }}
    group by instruction_key

),

scores as (

    select * from {{ ref('int_edit_scores') }}

),

images as (

    select * from {{ ref('int_edit_images') }}

),

final as (

    select
        ---------- ids and coordinates
        edits.edit_id,
        edits.dataset,
        edits.part,
        edits.split,
        edits.session_id,
        edits.turn_index,
        edits.source_image_id,
        edits.target_image_id,
        edits.mask_image_id,

        ---------- instruction
        edits.instruction,
        edits.source_caption,
        edits.target_caption,
        edits.instruction_key,
        features.n_words,
        features.n_clauses,
        features.language_guess,
        features.leading_verb,
        features.object_nouns,

        ---------- labels
        coalesce(derived.derived_labels, []::varchar[]) as derived_labels,
        coalesce(edits.provided_labels, []::varchar[]) as provided_labels,

        ---------- scores (one model): every score column of edit_scores, in the staging model's order
        scores.model_key as score_model_key,
        scores.model_name as score_model_name,
        scores.* exclude (edit_id, model_key, model_name, pretrained, preprocess, null_reason),
        scores.null_reason as score_null_reason,
        case
            when scores.clip_i is null
                or coalesce(scores.directional_caption, scores.directional_instruction) is null
                or coalesce(scores.clip_t_target_caption, scores.clip_t_instruction) is null then null
            else scores.clip_i >= {{ threshold('ip2p_clip_i') }}
                and coalesce(scores.directional_caption, scores.directional_instruction) >= {{ threshold('ip2p_directional') }}
                and coalesce(scores.clip_t_target_caption, scores.clip_t_instruction) >= {{ threshold('ip2p_clip_t') }}
        end as passes_ip2p_filter,

        ---------- images
        images.source_status,
        images.target_status,
        images.source_sha256,
        images.target_sha256,
        images.source_width,
        images.source_height,
        images.target_width,
        images.target_height,
        images.source_sharpness,
        images.target_sharpness,

        ---------- provenance
        edits.source_file,
        edits.source_record,
        edits.ingest_run_id

    from edits
    left join features on features.instruction_key = edits.instruction_key
    left join derived on derived.instruction_key = edits.instruction_key
    left join scores on scores.edit_id = edits.edit_id
    left join images on images.edit_id = edits.edit_id

)

select * from final
