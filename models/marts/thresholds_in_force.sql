-- One row per threshold the models of this build used (the `thresholds` seed as it was when the marts were built),
-- so a reader of the exported marts (the dashboards' default filter values) never reads the repository's seed.
with

thresholds as (

    select * from {{ ref('thresholds') }}

)

select
    name,
    value,
    description
from thresholds
order by name
