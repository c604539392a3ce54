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
    text: str = ""
    datasets: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    score: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    region: str | None = None  # a map region (data.browse.Region.encode(): the map page's link)


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
        conds.append(
            f"e.edit_id in (select edit_id from edit_labels where {in_list('label', f.labels, params)})"
        )
    if f.flags and m.has("edit_quality_flags"):
        valid = set(flag_columns(m))
        fl = [x for x in f.flags if x in valid]
        if fl:
            conds.append(
                "e.edit_id in (select edit_id from edit_quality_flags where "
                + " or ".join(f'"{x}"' for x in fl)
                + ")"
            )
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
    # mart order (no ORDER BY): the scan stops once the page is filled (limits inlined: a bound parameter
    # would keep DuckDB from planning a streaming limit or a top-N)
    return m.df(
        f"select {select_list(cols)} from edits e {where} limit {int(page_size)} offset {offset}", params
    )


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
