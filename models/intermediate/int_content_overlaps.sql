-- Image contents (sha256) used in more than one dataset, or in more than one split of a dataset.
with

edits as (

    select edit_id, dataset, split from {{ ref('stg_editlens__edits') }}

),

images as (

    select edit_id, source_sha256, target_sha256 from {{ ref('int_edit_images') }}

),

uses as (

    select images.source_sha256 as sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.source_sha256 is not null
    union all
    select images.target_sha256, edits.dataset, edits.split
    from edits join images using (edit_id) where images.target_sha256 is not null

),

-- min <> max finds contents used by two dataset/splits in one cheap hash aggregate; details only for those few
candidates as (

    select sha256
    from uses
    group by sha256
    having min(dataset || '/' || split) <> max(dataset || '/' || split)

),

per_content as (

    select
        sha256,
        count(distinct dataset) as n_datasets,
        count(distinct dataset || '/' || split) as n_dataset_splits,
        list(distinct dataset order by dataset) as datasets
    from uses
    semi join candidates using (sha256)
    group by sha256

)

select
    sha256,
    n_datasets,
    n_dataset_splits,
    datasets,
    case when n_datasets > 1 then 'cross_dataset' else 'cross_split' end as overlap_kind
from per_content
