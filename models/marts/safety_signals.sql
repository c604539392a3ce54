-- One row per safety signal x category: which signals are in use on this warehouse, with their version
-- (lexicon file, embedding model key, detector version), threshold and how it was calibrated; a signal not in
-- use says why (`not_calibrated`: no calibration seed row for the chosen model; `no_scores`; `not_run`).
select * from {{ ref('int_safety_signals') }}
