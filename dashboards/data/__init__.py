"""The dashboards' data access: every page reads the warehouse through this package; nothing else opens a file or
builds SQL.

``connection`` opens the exported marts (one in-memory DuckDB view per ``DIR/marts/<mart>.parquet``, results cached
per mart version); ``columns`` names the marts' columns by role; one query module per page (``overview``,
``instruction_types``, ``bias``, ``safety``, ``quality``, ``multi_turn``, ``explorer``, ``sql``, ``policy``);
``lookup`` finds edits and images by id; ``speedups`` holds the in-memory indexes and arrays and ``warmup`` builds them in the
background (``reset()`` forgets them). The names below are what the pages use (``data.parts(m)`` and so on).
"""

from editlens.dashboards.data.bias import (
    attribute_shift,
    bias_datasets,
    filter_impact,
    group_mentions,
    people_change,
)
from editlens.dashboards.data.columns import (
    EXAMPLE_COLUMNS,
    FLAG_COUNT_COLUMN,
    HEADLINE_SCORES,
    QUALITY_FLAGS,
    SCORES,
    default_thresholds,
    example_columns,
    flag_columns,
    flag_label,
    headline_scores,
    score_columns,
    score_label,
)
from editlens.dashboards.data.connection import (
    BUILD_HINT,
    MARTS,
    Marts,
    MissingMart,
    duckdb,
    marts,
    warehouse_root,
)
from editlens.dashboards.data.explorer import (
    COUNT_CAP,
    EXPORT_ROW_CAP,
    Filters,
    explore_count,
    explore_export,
    explore_page,
)
from editlens.dashboards.data.instruction_types import (
    label_cooccurrence,
    label_distribution,
    label_examples,
    label_origins,
    label_quality,
    labels,
)
from editlens.dashboards.data.lookup import IMAGE_LOOKUP_COLUMNS, image_refs, rows_by_id
from editlens.dashboards.data.model_compare import (
    COMPARE_MARTS,
    METRIC_NAMES,
    compare_options,
    coverage,
    label_scores,
    largest_differences,
    output_location,
    pair_differences,
)
from editlens.dashboards.data.multi_turn import session_counts, session_summary, session_turns, sessions
from editlens.dashboards.data.overview import (
    SCORECARD_DENOMINATORS,
    datasets,
    parts,
    scorecard,
    scorecard_denominator,
    scorecard_metric_columns,
    totals,
)
from editlens.dashboards.data.policy import (
    load_saved_policy,
    policy_effect,
    policy_model,
    policy_scores,
    save_page_policy,
    saved_policies,
)
from editlens.dashboards.data.quality import (
    flag_counts,
    n_alignment_not_judged,
    pass_counts,
    score_histogram,
    score_range,
    worst_examples,
)
from editlens.dashboards.data.safety import (
    safety_categories,
    safety_counts,
    safety_gallery,
    safety_rates,
    safety_signals,
)
from editlens.dashboards.data.speedups import row_index
from editlens.dashboards.data.sql import sql_console
from editlens.dashboards.data.warmup import reset, warm_up

__all__ = [
    "COMPARE_MARTS",
    "METRIC_NAMES",
    "compare_options",
    "coverage",
    "label_scores",
    "largest_differences",
    "output_location",
    "pair_differences",
    "BUILD_HINT",
    "COUNT_CAP",
    "EXAMPLE_COLUMNS",
    "EXPORT_ROW_CAP",
    "FLAG_COUNT_COLUMN",
    "HEADLINE_SCORES",
    "IMAGE_LOOKUP_COLUMNS",
    "MARTS",
    "QUALITY_FLAGS",
    "SCORECARD_DENOMINATORS",
    "SCORES",
    "Filters",
    "Marts",
    "MissingMart",
    "attribute_shift",
    "bias_datasets",
    "datasets",
    "default_thresholds",
    "duckdb",
    "example_columns",
    "explore_count",
    "explore_export",
    "explore_page",
    "filter_impact",
    "flag_columns",
    "flag_counts",
    "flag_label",
    "group_mentions",
    "headline_scores",
    "image_refs",
    "label_cooccurrence",
    "label_distribution",
    "label_examples",
    "label_origins",
    "label_quality",
    "labels",
    "load_saved_policy",
    "marts",
    "n_alignment_not_judged",
    "parts",
    "people_change",
    "pass_counts",
    "policy_effect",
    "policy_model",
    "policy_scores",
    "reset",
    "row_index",
    "rows_by_id",
    "safety_categories",
    "safety_counts",
    "safety_gallery",
    "safety_rates",
    "safety_signals",
    "save_page_policy",
    "saved_policies",
    "score_columns",
    "score_histogram",
    "score_label",
    "score_range",
    "scorecard",
    "scorecard_denominator",
    "scorecard_metric_columns",
    "session_counts",
    "session_summary",
    "session_turns",
    "sessions",
    "sql_console",
    "totals",
    "warehouse_root",
    "warm_up",
    "worst_examples",
]
