"""The headline numbers, one definition and one denominator each, computed once here and shown by every page
that shows them (Overview, Bias, Quality, Safety): a page never recomputes a headline number its own way.

``None`` means *not computed* (an ingest-only warehouse: no scores, so no pass rate and no score-based flag),
never zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from editlens.dashboards.data.columns import score_columns
from editlens.dashboards.data.connection import Marts
from editlens.dashboards.data.overview import card_has

EMBED_HINT = "not computed: run `editlens embed`, then `editlens build`"


@dataclass(frozen=True)
class Rate:
    """``n`` of ``denominator`` (what the denominator counts is ``of``); ``rate`` is None when nothing was judged."""

    n: int
    denominator: int
    of: str

    @property
    def rate(self) -> float | None:
        return self.n / self.denominator if self.denominator else None


def scores_computed(m: Marts) -> bool:
    """Whether any edit has a score (False on an ingest-only warehouse: `editlens embed` has not run)."""
    if card_has(m, "n_scored"):
        return bool(m.df("select coalesce(sum(n_scored), 0) as n from dataset_scorecard")["n"].iloc[0])
    if not m.has("edits") or not score_columns(m):
        return False
    c = score_columns(m)[0]
    return bool(m.df(f'select count("{c}") as n from (select "{c}" from edits limit 100000)')["n"].iloc[0])


def ip2p_pass(m: Marts, dataset: str | None = None) -> Rate | None:
    """Edits passing the InstructPix2Pix filter (`edits.passes_ip2p_filter`) out of the edits it can judge (all
    three scores present). None when no edit is scored."""
    if not scores_computed(m):
        return None
    where, params = ("where dataset = ?", [dataset]) if dataset else ("", [])
    if card_has(m, "n_ip2p_judged", "n_passing_ip2p_filter"):
        r = m.df(
            "select coalesce(sum(n_passing_ip2p_filter), 0)::bigint as k, coalesce(sum(n_ip2p_judged), 0)::bigint as n "
            f"from dataset_scorecard {where}",
            params,
        ).iloc[0]
    else:
        m.require("edits")
        r = m.df(
            "select count(*) filter (where passes_ip2p_filter) as k, count(passes_ip2p_filter) as n "
            f"from edits {where}",
            params,
        ).iloc[0]
    return Rate(int(r["k"]), int(r["n"]), "edits with all three filter scores")


def any_flag(m: Marts) -> Rate | None:
    """Edits with at least one quality flag out of all edits; None when no edit is scored (most flags read
    scores, so a share without them would read as clean data) or the flags are not built."""
    if not scores_computed(m):
        return None
    if card_has(m, "n_with_any_quality_flag", "n_edits"):
        r = m.df(
            "select sum(n_with_any_quality_flag)::bigint as k, sum(n_edits)::bigint as n from dataset_scorecard"
        ).iloc[0]
    else:
        if not m.has("edit_quality_flags"):
            return None
        r = m.df("select count(*) filter (where n_quality_flags > 0) as k, count(*) as n from edit_quality_flags").iloc[0]
    return Rate(int(r["k"] or 0), int(r["n"] or 0), "edits")
