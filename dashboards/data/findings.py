"""The Overview's findings: per dataset and part, each defect with its count, its denominator, its share with a
Wilson 95% interval, and a few example edits; ranked by share. Counts come from `dataset_scorecard` (the same
numbers the scorecard table shows); the explorer filter of a defect (``DEFECTS[key].where``) selects exactly the
edits it counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from editlens.dashboards.data.connection import Marts
from editlens.dashboards.data.headline import scores_computed
from editlens.dashboards.data.overview import scorecard
from editlens.dashboards.data.rates import with_interval


@dataclass(frozen=True)
class Defect:
    label: str
    numerator: str  # a scorecard count column, or "a-b" (one count minus another)
    denominator: str  # a scorecard count column
    where: str  # SQL over `edit_quality_flags f` (and `edits e` where it says so): the edits counted
    needs_scores: bool = False
    unit: str = "edits"


# key -> defect, in a fixed order (ties in share keep it)
DEFECTS: dict[str, Defect] = {
    "ip2p_fail": Defect("Fails the InstructPix2Pix filter", "n_ip2p_judged-n_passing_ip2p_filter", "n_ip2p_judged",
                        "e.passes_ip2p_filter = false", True),
    "misaligned": Defect("Edit does not follow the instruction", "n_misaligned", "n_scored", "f.is_misaligned", True),
    "noop": Defect("Target equals the source (no-op)", "n_noop", "n_edits", "f.is_noop"),
    "full_regeneration": Defect("Whole image regenerated", "n_full_regeneration", "n_scored",
                                "f.is_full_regeneration", True),
    "broken_image": Defect("Image missing or unreadable", "n_broken_image", "n_edits", "f.has_broken_image"),
    "duplicate_pair": Defect("Exact duplicate pair", "n_duplicate_pair", "n_edits", "f.is_duplicate_pair"),
    "near_duplicate_across": Defect(
        "Near-duplicate source (across sessions)", "n_near_duplicate_source-n_near_duplicate_within_session",
        "n_edits", "f.has_near_duplicate_source and not f.is_near_duplicate_within_session"),
    "near_duplicate_within_session": Defect(
        "Near-duplicate source (turns of one session)", "n_near_duplicate_within_session", "n_edits",
        "f.is_near_duplicate_within_session"),
    "chain_break": Defect("Multi-turn chain break", "n_chain_break", "n_edits", "f.is_chain_break"),
    "content_overlap": Defect("Image shared with another dataset or split", "n_content_overlap", "n_edits",
                              "f.has_content_overlap"),
    "unsafe_term": Defect("Unsafe term in the instruction", "n_unsafe_term", "n_edits", "f.mentions_unsafe_term"),
    "watermark_removal": Defect("Asks to remove a watermark", "n_watermark_removal_request", "n_edits",
                                "f.asks_watermark_removal"),
}


def _count(sc: pd.DataFrame, expr: str) -> pd.Series | None:
    names = expr.split("-")
    if not set(names) <= set(sc.columns):
        return None
    out = pd.to_numeric(sc[names[0]], errors="coerce")
    for n in names[1:]:
        out = out - pd.to_numeric(sc[n], errors="coerce")
    return out


def findings(m: Marts) -> pd.DataFrame:
    """One row per dataset, part and defect found (n > 0): label, n, denominator, share, ci_low, ci_high,
    small_n; ranked by share within each part. Score-based defects are left out when nothing is scored."""
    sc = scorecard(m)
    computed = scores_computed(m)
    rows = []
    for key, d in DEFECTS.items():
        if d.needs_scores and not computed:
            continue
        num, den = _count(sc, d.numerator), _count(sc, d.denominator)
        if num is None or den is None:
            continue
        rows.append(pd.DataFrame({"dataset": sc["dataset"], "part": sc["part"], "defect": key, "label": d.label,
                                  "n": num, "denominator": den}))
    cols = ["dataset", "part", "defect", "label", "n", "denominator"]
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
    df = df[(df["n"].fillna(0) > 0) & (df["denominator"].fillna(0) > 0)]
    df = with_interval(df, "n", "denominator").rename(columns={"rate": "share"})
    order = {k: i for i, k in enumerate(DEFECTS)}
    df["_o"] = df["defect"].map(order)
    return df.sort_values(["dataset", "part", "share", "_o"], ascending=[True, True, False, True],
                          ignore_index=True).drop(columns="_o")


def defect_where(m: Marts, key: str) -> str:
    """SQL condition on `edits e` selecting the edits a defect counts."""
    d = DEFECTS[key]
    if d.where.startswith("e."):
        return d.where
    m.require("edit_quality_flags")
    return f"e.edit_id in (select f.edit_id from edit_quality_flags f where {d.where})"


def finding_examples(m: Marts, per: int = 3) -> pd.DataFrame:
    """Up to ``per`` example edits per dataset, part and defect (first by edit id): dataset, part, defect,
    edit_id, source_image_id, target_image_id, instruction. One query over the flags mart (and one over `edits`
    for the defects defined on it)."""
    m.require("edits", "edit_quality_flags")
    fcols = set(m.columns("edit_quality_flags"))
    branches = []
    for key, d in DEFECTS.items():
        if d.where.startswith("e."):
            if "passes_ip2p_filter" in m.columns("edits"):
                branches.append(f"select dataset, part, '{key}' as defect, edit_id from edits e where {d.where}")
            continue
        needed = {w.split(".")[1].split(" ")[0] for w in d.where.replace("not ", "").split(" and ")}
        if needed <= fcols:
            branches.append(f"select dataset, part, '{key}' as defect, edit_id from edit_quality_flags f "
                            f"where {d.where}")
    if not branches:
        return pd.DataFrame(columns=["dataset", "part", "defect", "edit_id"])
    picks = m.df(
        "select * from (" + " union all ".join(branches) + ") "
        f"qualify row_number() over (partition by dataset, part, defect order by edit_id) <= {int(per)} "
        "order by dataset, part, defect, edit_id"
    )
    if picks.empty:
        return picks
    from editlens.dashboards.data.columns import example_columns
    from editlens.dashboards.data.lookup import rows_by_id

    rows = rows_by_id(m, picks["edit_id"].unique().tolist(),
                      example_columns(m, ("source_image_id", "target_image_id")))
    return picks.merge(rows.drop(columns=[c for c in ("dataset", "part") if c in rows.columns]), on="edit_id",
                       how="left")
