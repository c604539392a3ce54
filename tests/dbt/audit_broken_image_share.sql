-- Audit (warn, failures stored in the audit schema): dataset parts whose broken_image_share exceeds the
-- `audit_max_broken_share` threshold seed.
{{ config(severity='warn', store_failures=true, tags=['audit']) }}

select dataset, part, n_edits, broken_image_share, {{ threshold('audit_max_broken_share') }} as threshold
from {{ ref('dataset_scorecard') }}
where broken_image_share > {{ threshold('audit_max_broken_share') }}
