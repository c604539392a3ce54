"""Queries of the Edit explorer page: filters, capped counts, one page of edits, the CSV / Parquet export."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from editlens.dashboards.data.columns import example_columns, flag_columns, score_columns
from editlens.dashboards.data.connection import Marts, in_list, select_list
from editlens.dashboards.data.overview import parts


@dataclass(frozen=True)
class Filters:
    """What the explorer shows. ``flags``: quality-flag columns of `edit_quality_flags` or defect keys of the
    Overview's findings (an edit matches any of them); ``label_origin``: the origin the ``labels`` are of
    (``derived`` or ``provided``; empty = either); ``safety``: safety categories (instruction term or flagged
    image, `safety_flagged_edits.categories`); ``groups``: demographic groups mentioned; ``null_reasons``: why a
    score is missing (one part of `score_null_reason`); ``score_min`` / ``score_max`` None = no bound; ``sort``:
    a score column (or ``edit_id``), server-side, ``descending`` or not, missing scores last."""

    text: str = ""
    datasets: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    label_origin: str = ""
    flags: tuple[str, ...] = ()
    safety: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    null_reasons: tuple[str, ...] = ()
    score: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    region: str | None = None  # a map region (data.browse.Region.encode(): the map page's link)
    sort: str | None = None
    descending: bool = False


def _where(m: Marts, f: Filters) -> tuple[str, list]:
    conds, params = [], []
    if f.text.strip():
        conds.append("e.instruction ilike ?")
        params.append(
            "%" + f.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conds[-1] += " escape '\\'"
    if f.datasets:
        conds.append(in_list("e.dataset", f.datasets, params))
    if f.parts:
        conds.append(in_list("e.part", f.parts, params))
    if f.labels and m.has("edit_labels"):
        origin = ""
        if f.label_origin:
            origin = " and origin = ?"
        conds.append(
            f"e.edit_id in (select edit_id from edit_labels where {in_list('label', f.labels, params)}{origin})"
        )
        if f.label_origin:
            params.append(f.label_origin)
    if f.flags:
        from editlens.dashboards.data.findings import DEFECTS, defect_where

        ors = []
        if m.has("edit_quality_flags"):
            valid = set(filter_columns(m))
            fl = [x for x in f.flags if x in valid]
            if fl:
                ors.append(
                    "e.edit_id in (select edit_id from edit_quality_flags where "
                    + " or ".join(f'"{x}"' for x in fl)
                    + ")"
                )
        for x in f.flags:
            if x in DEFECTS:
                try:
                    ors.append(defect_where(m, x))
                except Exception:  # noqa: BLE001 (a mart missing: that defect selects nothing)
                    continue
        conds.append("(" + " or ".join(ors) + ")" if ors else "false")
    if f.safety and m.has("safety_flagged_edits"):
        conds.append(
            "e.edit_id in (select edit_id from safety_flagged_edits where "
            + " or ".join("list_contains(categories, ?)" for _ in f.safety)
            + ")"
        )
        params.extend(f.safety)
    if f.groups and m.has("edit_quality_flags") and "demographic_groups" in m.columns("edit_quality_flags"):
        conds.append(
            "e.edit_id in (select edit_id from edit_quality_flags where "
            + " or ".join("list_contains(demographic_groups, ?)" for _ in f.groups)
            + ")"
        )
        params.extend(f.groups)
    if f.null_reasons and "score_null_reason" in m.columns("edits"):
        conds.append(
            "(" + " or ".join("list_contains(string_split(e.score_null_reason, ';'), ?)" for _ in f.null_reasons) + ")"
        )
        params.extend(f.null_reasons)
    if f.score and f.score in score_columns(m):
        if f.score_min is not None:
            conds.append(f'e."{f.score}" >= ?')
            params.append(float(f.score_min))
        if f.score_max is not None:
            conds.append(f'e."{f.score}" <= ?')
            params.append(float(f.score_max))
    if f.region and m.has("edit_map"):
        from editlens.dashboards.data.browse import Region

        r = Region.decode(f.region)
        conds.append(r.sql(params) if r is not None else "false")
    return ("where " + " and ".join(conds)) if conds else "", params


COUNT_CAP = 10_000


def explore_count(m: Marts, f: Filters, cap: int | None = COUNT_CAP) -> tuple[int, bool]:
    """(matching edits, capped): counting stops after ``cap`` matches, so a broad filter answers quickly."""
    m.require("edits")
    where, params = _where(m, f)
    if not where:
        return int(parts(m)["n_edits"].sum()), False
    if not (
        f.text.strip()
        or f.labels
        or f.flags
        or f.region
        or f.safety
        or f.groups
        or f.null_reasons
        or (f.score and (f.score_min is not None or f.score_max is not None))
    ):
        p = parts(m)  # only dataset / part filters: the counts are known
        if f.datasets:
            p = p[p["dataset"].isin(f.datasets)]
        if f.parts:
            p = p[p["part"].isin(f.parts)]
        return int(p["n_edits"].sum()), False
    if cap is None:
        return int(m.df(f"select count(*) as n from edits e {where}", params)["n"].iloc[0]), False
    n = int(
        m.df(f"select count(*) as n from (select 1 from edits e {where} limit {int(cap) + 1})", params)[
            "n"
        ].iloc[0]
    )
    return min(n, int(cap)), n > cap


def explore_page(m: Marts, f: Filters, page: int = 1, page_size: int = 20) -> pd.DataFrame:
    m.require("edits")
    where, params = _where(m, f)
    cols = example_columns(m, ("source_image_id", "target_image_id", *score_columns(m)[:4]))
    offset = (max(int(page), 1) - 1) * int(page_size)
    order = ""
    if f.sort and (f.sort in score_columns(m) or f.sort == "edit_id"):
        if f.sort not in cols:
            cols = [*cols, f.sort]
        # server-side: a top-N over the whole filtered set, missing scores last, edit id breaking ties
        order = f'order by e."{f.sort}" {"desc" if f.descending else "asc"} nulls last, e.edit_id '
    # without a sort, mart order (no ORDER BY): the scan stops once the page is filled (limits inlined: a bound
    # parameter would keep DuckDB from planning a streaming limit or a top-N)
    return m.df(
        f"select {select_list(cols)} from edits e {where} {order}limit {int(page_size)} offset {offset}", params
    )


def filter_columns(m: Marts) -> list[str]:
    """Boolean columns of `edit_quality_flags` the explorer filters on: the quality flags, then the others."""
    if not m.has("edit_quality_flags"):
        return []
    types = m.df("select column_name, column_type from (describe edit_quality_flags)")
    bools = [c for c, t in zip(types["column_name"], types["column_type"]) if t == "BOOLEAN"]
    first = [c for c in flag_columns(m) if c in bools]
    return first + [c for c in bools if c not in first]


def null_reasons(m: Marts) -> list[str]:
    """The reasons a score is missing (the parts of `edits.score_null_reason`), most frequent first."""
    if not m.has("edits") or "score_null_reason" not in m.columns("edits"):
        return []
    return m.df(
        """select r, count(*) as n from (select unnest(string_split(score_null_reason, ';')) as r from edits
           where score_null_reason is not null) where r <> '' group by 1 order by n desc, r"""
    )["r"].tolist()


def demographic_groups(m: Marts) -> list[str]:
    if not m.has("edit_quality_flags") or "demographic_groups" not in m.columns("edit_quality_flags"):
        return []
    return m.df(
        "select distinct unnest(demographic_groups) as g from edit_quality_flags order by 1"
    )["g"].dropna().tolist()


EXPORT_ROW_CAP = 1_000_000


def explore_export(m: Marts, f: Filters, fmt: str = "csv", cap: int = EXPORT_ROW_CAP) -> bytes:
    """The filtered edits (all columns of `edits`, at most ``cap`` rows) as CSV or Parquet bytes."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    m.require("edits")
    where, params = _where(m, f)
    sel = "e.*"
    if fmt == "csv":  # CSV has no nested types: lists and structs are written in their text form
        types = m.df("select column_name, column_type from (describe edits)")
        nested = [
            c
            for c, t in zip(types["column_name"], types["column_type"])
            if "[]" in t or t.upper().startswith(("STRUCT", "MAP"))
        ]
        if nested:
            sel = "e.* replace (" + ", ".join(f'cast(e."{c}" as varchar) as "{c}"' for c in nested) + ")"
    t = m.arrow(f"select {sel} from edits e {where} limit {int(cap)}", params)
    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(t, buf, compression="zstd")
    elif fmt == "csv":
        pacsv.write_csv(t, buf)
    else:
        raise ValueError(f"unknown export format {fmt}")
    return buf.getvalue()
