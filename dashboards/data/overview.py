"""Queries of the Overview page: datasets and parts, the scorecard, totals."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from editlens.dashboards.data.columns import FLAG_COUNT_COLUMN, has_flag_count, score_columns
from editlens.dashboards.data.connection import Marts


def card_has(m: Marts, *cols: str) -> bool:
    return m.has("dataset_scorecard") and set(cols) <= set(m.columns("dataset_scorecard"))


def datasets(m: Marts) -> list[str]:
    return parts(m)["dataset"].drop_duplicates().tolist()


def parts(m: Marts) -> pd.DataFrame:
    """Dataset, part and edit count (from the scorecard when present: no scan of `edits`)."""
    if card_has(m, "dataset", "part", "n_edits"):
        return m.df(
            "select dataset, part, sum(n_edits)::bigint as n_edits from dataset_scorecard "
            "group by all order by 1, 2"
        )
    m.require("edits")
    return m.df("select dataset, part, count(*) as n_edits from edits group by all order by 1, 2")


def scorecard(m: Marts) -> pd.DataFrame:
    """One row per dataset and part: counts, reject rate, defect rates, score medians."""
    if m.has("dataset_scorecard"):
        df = m.df("select * from dataset_scorecard order by dataset, part")
    else:
        m.require("edits")
        meds = "".join(f', median("{c}") as "{c}_median"' for c in score_columns(m)[:3])
        df = m.df(f"select dataset, part, count(*) as n_edits{meds} from edits group by all order by 1, 2")
    if "reject_rate" not in df.columns and {"n_rejects", "n_edits"} <= set(df.columns):
        # rejects count edits (a multi-edit record rejected whole counts once per edit), so the rate's
        # denominator is edits loaded + edits rejected, not records read (an HQ-Edit row is one record, two edits)
        rejected = pd.to_numeric(df["n_rejects"], errors="coerce")
        seen = pd.to_numeric(df["n_edits"], errors="coerce") + rejected
        at = df.columns.get_loc("n_rejects") + 1
        df.insert(at, "n_edits_and_rejects", seen)
        df.insert(at + 1, "reject_rate", rejected / seen.where(seen > 0))
    return df


def scorecard_metric_columns(df: pd.DataFrame) -> dict[str, list[str]]:
    """Group a scorecard's columns by kind: counts, rates (shares), medians."""
    num = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    counts = [c for c in num if c.startswith("n_")]
    rates = [c for c in num if c.endswith(("_rate", "_share")) or c.startswith(("rate_", "share_"))]
    meds = [c for c in num if c.endswith("_median") or c.startswith("median_")]
    return {"counts": counts, "rates": rates, "medians": meds}


# what each scorecard rate is a share of (default: the part's edits; medians: its scored edits)
SCORECARD_DENOMINATORS = {
    "reject_rate": "n_edits_and_rejects",
    "ip2p_filter_pass_rate": "n_scored",
    "misaligned_share": "n_scored",
}


def scorecard_denominator(metric: str, columns: Sequence[str]) -> str | None:
    if metric in SCORECARD_DENOMINATORS:
        den = SCORECARD_DENOMINATORS[metric]
    elif metric.endswith("_median") or metric.startswith("median_"):
        den = "n_scored"
    else:
        den = "n_edits"
    return den if den in columns else ("n_edits" if "n_edits" in columns else None)


def totals(m: Marts) -> dict[str, float]:
    if card_has(m, "n_edits", "n_sessions", "n_with_any_quality_flag"):
        row = m.df("""select sum(n_edits)::bigint as n_edits, count(distinct dataset) as n_datasets,
                             sum(n_sessions)::bigint as n_sessions,
                             sum(n_with_any_quality_flag) / sum(n_edits) as flagged_rate
                      from dataset_scorecard""").iloc[0]
        out = {k: int(row[k] or 0) for k in ("n_edits", "n_datasets", "n_sessions")}
        out["flagged_rate"] = float(row["flagged_rate"] or 0)
        return out
    m.require("edits")
    row = m.df(
        "select count(*) as n_edits, count(distinct dataset) as n_datasets, "
        "count(distinct session_id) as n_sessions from edits"
    ).iloc[0]
    out = {k: int(row[k]) for k in row.index}
    if has_flag_count(m):
        out["flagged_rate"] = float(
            m.df(f"select avg(({FLAG_COUNT_COLUMN} > 0)::int) as r from edit_quality_flags")["r"].iloc[0] or 0
        )
    return out
