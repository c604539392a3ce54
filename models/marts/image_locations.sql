-- One row per image and part that lists it: where its encoded bytes are (a file under the dataset root, or a value
-- in a Parquet file). The dashboards read images through this mart only; sorted by dataset and part so a lookup
-- for one part's images reads only that part's row groups.
with

images as (

    select * from {{ ref('stg_editlens__images') }}

)

select
    ---------- ids
    image_id,
    dataset,
    part,

    ---------- location
    location_kind,
    root,
    path,
    row_group,
    parquet_row,
    parquet_column,

    ---------- checks
    file_exists

from images
order by dataset, part, image_id
