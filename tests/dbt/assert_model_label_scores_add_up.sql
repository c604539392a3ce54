-- Every benchmark edit of a label is an output or missing, the scored ones are outputs, and every interval
-- holds its mean; one row per group that breaks this.
select benchmark, setting, editing_model, label_origin, label, metric, n_edits, n_outputs, n_missing, n_scored,
    mean_value, ci_low, ci_high
from {{ ref('model_label_scores') }}
where
    n_edits != n_outputs + n_missing
    or n_scored + n_unreadable + n_not_scored != n_outputs
    or n_values > n_scored
    or ci_low > mean_value + 1e-12
    or ci_high < mean_value - 1e-12
