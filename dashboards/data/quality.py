"""Queries of the Quality page: score histograms and ranges, live pass counts, flag counts, worst examples."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from editlens.dashboards.data.columns import (
    FILTER_SCORES,
    QUALITY_FLAGS,
    example_columns,
    flag_columns,
    score_columns,
    score_sql,
)
from editlens.dashboards.data.connection import Marts, select_list
from editlens.dashboards.data.lookup import rows_by_id
from editlens.dashboards.data.overview import card_has
from editlens.dashboards.data.speedups import score_arrays


def score_histogram(m: Marts, col: str, bins: int = 40) -> pd.DataFrame:
    """Binned counts of one score per dataset: ``dataset, bin_start, bin_end, n_edits``."""
    if m.has("score_histograms"):
        df = m.df(
            """select dataset, bin_lower as bin_start, bin_upper as bin_end, sum(n_edits)::bigint as n_edits
                     from score_histograms where metric = ? and bin_lower is not null
                     group by all order by dataset, bin_start""",
            [col],
        )
        if not df.empty:
            return df
    m.require("edits")
    if col not in score_columns(m):
        raise ValueError(f"unknown score column {col}")
    return m.df(
        f"""with r as (select min("{col}")::double as lo, max("{col}")::double as hi from edits),
            b as (select dataset,
                         coalesce(least(floor(("{col}" - lo) / nullif((hi - lo) / {bins}, 0)), {bins - 1}), 0)::int as bin
                  from edits, r where "{col}" is not null),
            c as (select dataset, bin, count(*) as n_edits from b group by all)
            select c.dataset, r.lo + c.bin * (r.hi - r.lo) / {bins} as bin_start,
                   r.lo + (c.bin + 1) * (r.hi - r.lo) / {bins} as bin_end, c.n_edits
            from c, r order by c.dataset, bin_start"""
    )


def score_range(m: Marts, col: str) -> tuple[float, float]:
    m.require("edits")
    if col in FILTER_SCORES and col not in score_columns(m):  # a coalesced filter score: the widest range of its columns
        rs = [score_range(m, c) for c in FILTER_SCORES[col][1] if c in score_columns(m)]
        if not rs:
            raise ValueError(f"unknown score column {col}")
        return min(r[0] for r in rs), max(r[1] for r in rs)
    if col not in score_columns(m):
        raise ValueError(f"unknown score column {col}")
    stats = _parquet_min_max(tuple(str(f) for f in m.files("edits")), m.version(), col)
    if stats is not None:  # from the Parquet footer's row-group statistics: no scan
        lo, hi = stats
    else:
        r = m.df(f'select min("{col}")::double as lo, max("{col}")::double as hi from edits').iloc[0]
        lo, hi = float(r["lo"] if pd.notna(r["lo"]) else 0.0), float(r["hi"] if pd.notna(r["hi"]) else 1.0)
    return lo, hi if hi > lo else lo + 1.0


@st.cache_data(show_spinner=False, max_entries=256)
def _parquet_min_max(paths: tuple[str, ...], version: tuple, col: str) -> tuple[float, float] | None:
    import math

    import pyarrow.parquet as pq

    if not paths:
        return None
    try:
        lo, hi = math.inf, -math.inf
        for path in paths:
            md = pq.ParquetFile(path).metadata
            i = md.schema.to_arrow_schema().get_field_index(col)
            if i < 0:
                return None
            for g in range(md.num_row_groups):
                st_ = md.row_group(g).column(i).statistics
                if st_ is None or not st_.has_min_max:
                    if md.row_group(g).num_rows and (st_ is None or st_.null_count != md.row_group(g).num_rows):
                        return None  # a row group without statistics: scan instead
                    continue
                lo, hi = min(lo, float(st_.min)), max(hi, float(st_.max))
        return (lo, hi) if lo <= hi else (0.0, 1.0)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def pass_counts(m: Marts, thresholds: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """Per dataset: edits, edits judged (every thresholded score present), edits passing every threshold
    (``score >= v`` or ``score <= v``), pass rate = passing / judged, edits not judged. A score is a column of
    `edits` or an InstructPix2Pix filter score (``clip_i``, ``directional``, ``clip_t``: the marts' coalesced
    definitions), so at the seeded thresholds this counts what `dataset_scorecard` and `bias_slices` count."""
    m.require("edits")
    exprs = {}
    for col, (op, v) in thresholds.items():
        if op not in (">=", "<="):
            raise ValueError(f"bad threshold {col} {op}")
        exprs[col] = score_sql(m, col)  # ValueError for an unknown score
    arrays = score_arrays(m, tuple(sorted(thresholds)), build=False)
    if arrays is not None:  # in memory: a slider move is a few vectorised comparisons, not a scan
        return arrays.pass_counts(thresholds)
    conds, judged, params = [], [], []
    for col, (op, v) in sorted(thresholds.items()):
        conds.append(f"coalesce({exprs[col]} {op} ?, false)")
        judged.append(f"{exprs[col]} is not null")
        params.append(float(v))
    cond = " and ".join(conds) or "true"
    jcond = " and ".join(judged) or "true"
    df = m.df(
        f"select dataset, count(*) as n_edits, count(*) filter (where {jcond}) as n_judged, "
        f"sum(({cond})::int)::bigint as n_pass from edits group by 1 order by 1",
        params,
    )
    df["pass_rate"] = df["n_pass"] / df["n_judged"].where(df["n_judged"] > 0)
    df["n_not_judged"] = df["n_edits"] - df["n_judged"]
    return df


def n_alignment_not_judged(m: Marts) -> int | None:
    """Edits the misaligned flag does not judge (`is_change_below_resolution`: the change is below what the
    model resolves); None for marts built before that column existed."""
    if card_has(m, "n_change_below_resolution"):
        return int(
            m.df("select sum(n_change_below_resolution)::bigint as n from dataset_scorecard")["n"].iloc[0]
            or 0
        )
    if m.has("edit_quality_flags") and "is_change_below_resolution" in m.columns("edit_quality_flags"):
        return int(
            m.df("select count(*) filter (where is_change_below_resolution) as n from edit_quality_flags")[
                "n"
            ].iloc[0]
        )
    return None


def flag_counts(m: Marts) -> pd.DataFrame:
    m.require("edit_quality_flags")
    flags = flag_columns(m)
    if not flags:
        return pd.DataFrame(columns=["flag", "n_edits", "denominator", "rate"])
    card = {f: "n_" + f.removeprefix("is_").removeprefix("has_") for f in flags}
    if card_has(m, "n_edits", *card.values()):
        # the scorecard already counts every flag: no scan of the flags mart
        sums = ", ".join(f'sum("{c}")::bigint as "{f}"' for f, c in card.items())
        row = m.df(f"select sum(n_edits)::bigint as denominator, {sums} from dataset_scorecard").iloc[0]
    else:
        sums = ", ".join(f'count(*) filter (where "{f}") as "{f}"' for f in flags)
        row = m.df(f"select count(*) as denominator, {sums} from edit_quality_flags").iloc[0]
    den = int(row["denominator"])
    df = pd.DataFrame({"flag": flags, "n_edits": [int(row[f] or 0) for f in flags]})
    df["denominator"] = den
    df["rate"] = df["n_edits"] / den if den else 0.0
    return df.sort_values(["n_edits", "flag"], ascending=[False, True], ignore_index=True)


def worst_examples(m: Marts, flag: str, limit: int = 6, offset: int = 0) -> pd.DataFrame:
    """Edits carrying ``flag``, worst first by the flag's ranking score (see QUALITY_FLAGS)."""
    m.require("edits", "edit_quality_flags")
    if flag not in flag_columns(m):
        raise ValueError(f"unknown flag {flag}")
    sc = score_columns(m)
    order, high_is_bad = QUALITY_FLAGS[flag]
    order_sql = f'e."{order}" {"desc" if high_is_bad else "asc"} nulls last, ' if order in sc else ""
    fcols = set(m.columns("edit_quality_flags"))
    reasons = [
        c
        for c in ("broken_image_reason", "chain_break_reason", "overlap_kind", "duplicate_of_edit_id")
        if c in fcols
    ]
    cols = example_columns(m, ("source_image_id", "target_image_id", *sc))
    extra = "".join(f', f."{c}"' for c in reasons)
    if order in fcols or not order_sql:
        # rank inside the flags mart (it carries the main scores): no scan of the wide `edits` mart
        forder = f'"{order}" {"desc" if high_is_bad else "asc"} nulls last, ' if order in fcols else ""
        rsel = "".join(f', "{c}"' for c in reasons)
        ordering = f"order by {forder}edit_id" if forder else ""  # unranked flags: first ones, mart order
        pick = m.df(
            f'select edit_id{rsel} from edit_quality_flags where "{flag}" {ordering} limit {int(limit)} '
            f"offset {int(offset)}"
        )
        rows = rows_by_id(m, pick["edit_id"].tolist(), cols)
        return rows.merge(pick, on="edit_id", how="left") if reasons else rows
    return m.df(
        f"""select {select_list(cols)}{extra} from edits e join edit_quality_flags f using (edit_id)
            where f."{flag}" order by {order_sql}e.edit_id limit {int(limit)} offset {int(offset)}"""
    )
