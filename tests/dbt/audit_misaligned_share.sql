-- Audit (warn, failures stored in the audit schema): dataset parts whose misaligned_share exceeds the
-- `audit_max_misaligned_share` threshold seed.
{{ config(severity='warn', store_failures=true, tags=['audit']) }}

select dataset, part, n_edits, misaligned_share, {{ threshold('audit_max_misaligned_share') }} as threshold
from {{ ref('dataset_scorecard') }}
where misaligned_share > {{ threshold('audit_max_misaligned_share') }}
