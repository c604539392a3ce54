-- One row per edit and perceived-attribute concept (presentation, age, skin tone): source and target zero-shot
-- scores and their shift (target - source), for edits whose source or target shows a person: a face found by
-- the face detector, or a zero-shot `person` score over its calibrated threshold. Elsewhere the attribute
-- scores mean nothing. Only attribute concepts the calibration seed lists for the chosen embedding model
-- (int_concept_calibration): an uncalibrated model gives no rows.
-- depends_on: {{ ref('int_image_facts_by_dataset') }}
-- Incremental by dataset (macros/incremental.sql): recomputed for datasets whose edits or image facts changed;
-- every row when embed's concepts or detections (their Parquet footers), the chosen model or its calibration
-- changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id',
        'also': [{'input': 'int_image_facts_by_dataset', 'by': 'dataset',
                  'fingerprint': ['image_id', 'file_exists', 'sha256', 'phash', 'width', 'height', 'blur', 'status']}],
        'global': [{'input': 'files:image_concepts'}, {'input': 'files:image_detections'},
                   {'input': 'int_score_model'}, {'input': 'int_concept_calibration'}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
{%- set reusable = incremental_reusable() %}
with

chosen_model as (

    select model_key from {{ ref('int_score_model') }}

),

calibration as (

    select concept_group, concept, threshold from {{ ref('int_concept_calibration') }} where is_calibrated

),

edits as (

    select edit_id from {{ ref('stg_editlens__edits') }}
    where {{ partition_filter() }}

),

pairs as {{ 'materialized' if reusable else 'not materialized' }} (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}
    semi join edits using (edit_id)
    where source_sha256 is not null and target_sha256 is not null

),

{% if reusable -%}
-- an incremental run recomputes a few datasets: the concept table is scanned once for the person and attribute
-- scores of their contents (a small hash table to probe)
contents as materialized (

    select source_sha256 as sha256 from pairs
    union
    select target_sha256 from pairs

),

scores as materialized (

    select concepts.sha256, concepts.concept_group, concepts.concept, concepts.score, calibration.threshold
    from {{ ref('stg_editlens__image_concepts') }} as concepts
    semi join chosen_model using (model_key)
    semi join contents using (sha256)
    join calibration using (concept_group, concept)
    where concepts.concept_group <> 'safety'

),
{%- endif %}

with_person as (

    {% if reusable -%}
    select sha256 from scores
    where concept_group = 'person' and concept = 'person' and score >= threshold
    {%- else -%}
    -- every dataset: the contents showing a person first, then the attribute scores of those edits' contents only
    select distinct concepts.sha256
    from {{ ref('stg_editlens__image_concepts') }} as concepts
    semi join chosen_model using (model_key)
    join calibration using (concept_group, concept)
    where concepts.concept_group = 'person' and concepts.concept = 'person' and concepts.score >= calibration.threshold
    {%- endif %}
    union
    select sha256 from {{ ref('stg_editlens__image_detections') }}
    {% if reusable %}semi join contents using (sha256){% endif %}
    where detector = 'opencv-haar-face' and status = 'ok' and n_detections > 0

),

images as materialized (

    select * from pairs
    where source_sha256 in (select sha256 from with_person) or target_sha256 in (select sha256 from with_person)

),

{% if reusable -%}
attributes as materialized (

    select sha256, concept_group, concept, score from scores
    where concept_group <> 'person'
        and (sha256 in (select source_sha256 from images) or sha256 in (select target_sha256 from images))

),
{%- else -%}
-- only the contents of those edits: the concept table is scanned once more, probing a small hash table
relevant as materialized (

    select source_sha256 as sha256 from images
    union
    select target_sha256 from images

),

attributes as materialized (

    select sha256, concept_group, concept, score
    from {{ ref('stg_editlens__image_concepts') }}
    semi join chosen_model using (model_key)
    semi join relevant using (sha256)
    semi join calibration using (concept_group, concept)
    where concept_group <> 'safety' and concept_group <> 'person'

),
{%- endif %}

-- materialized, so the planner cannot pair source and target concepts before restricting to the edit
source_side as materialized (

    select images.edit_id, images.target_sha256, src.concept_group, src.concept, src.score as source_score
    from images
    join attributes as src on src.sha256 = images.source_sha256

),

shifts as (

    select
        source_side.edit_id,
        source_side.concept_group,
        source_side.concept,
        source_side.source_score,
        tgt.score as target_score,
        tgt.score - source_side.source_score as shift
    from source_side
    join attributes as tgt
        on tgt.sha256 = source_side.target_sha256
        and tgt.concept_group = source_side.concept_group
        and tgt.concept = source_side.concept

)

select * from shifts
