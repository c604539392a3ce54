-- Audit (warn, failures stored in the audit schema): dataset parts whose noop_share exceeds the
-- `audit_max_noop_share` threshold seed.
{{ config(severity='warn', store_failures=true, tags=['audit']) }}

select dataset, part, n_edits, noop_share, {{ threshold('audit_max_noop_share') }} as threshold
from {{ ref('dataset_scorecard') }}
where noop_share > {{ threshold('audit_max_noop_share') }}
