-- Audit (warn, stored): demographic groups (with at least 30 scored edits) that the InstructPix2Pix filter keeps
-- at less than 80% of the overall pass rate of their dataset x label slice.
{{ config(severity='warn', store_failures=true, tags=['audit']) }}

select *
from {{ ref('bias_slices') }}
where n_scored >= 30 and filter_pass_rate_ratio < 0.8
