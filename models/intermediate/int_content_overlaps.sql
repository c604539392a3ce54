-- depends_on: {{ ref('int_image_facts_by_dataset') }}
-- depends_on: {{ ref('int_content_uses') }}
-- Image contents (sha256) used in more than one dataset, or in more than one split of a dataset.
-- Incremental, new against old (macros/incremental.sql, partition pattern with `recheck`): a build recomputes only
-- the contents that a changed dataset uses now or that an old row lists with a changed or removed dataset; the
-- rows of contents only old datasets use stay.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'partition': {
        'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'sha256',
        'recheck': {'list': 'datasets', 'keys': 'int_content_uses'},
        'also': [{'input': 'int_image_facts_by_dataset', 'by': 'dataset',
                  'fingerprint': ['image_id', 'file_exists', 'sha256', 'phash', 'width', 'height', 'blur', 'status']}],
    }},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}

with

edits as (

    select edit_id, dataset, split from {{ ref('stg_editlens__edits') }}

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}
    {%- if incremental_reusable() %}
    where source_sha256 in (select sha256 from {{ recheck_relation() }})
        or target_sha256 in (select sha256 from {{ recheck_relation() }})
    {%- endif %}

),

uses as (

    select images.source_sha256 as sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.source_sha256 is not null
    union all
    select images.target_sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.target_sha256 is not null

),

rechecked as (

    select * from uses
    {%- if incremental_reusable() %}
    where sha256 in (select sha256 from {{ recheck_relation() }})
    {%- endif %}

),

-- min <> max finds contents used by two dataset/splits in one cheap hash aggregate; details only for those few
candidates as (

    select sha256
    from rechecked
    group by sha256
    having min(dataset || '/' || split) <> max(dataset || '/' || split)

),

per_content as (

    select
        sha256,
        count(distinct dataset) as n_datasets,
        count(distinct dataset || '/' || split) as n_dataset_splits,
        list(distinct dataset order by dataset) as datasets
    from rechecked
    semi join candidates using (sha256)
    group by sha256

),

final as (

    select
        sha256,
        n_datasets,
        n_dataset_splits,
        datasets,
        case when n_datasets > 1 then 'cross_dataset' else 'cross_split' end as overlap_kind
    from per_content

)

select * from final
