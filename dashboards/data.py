"""The dashboards' only data-access module.

Every page reads the warehouse through the functions here; nothing else opens a file or builds SQL. The app never
touches ``DIR/editlens.duckdb``: it reads the marts dbt exports to ``DIR/marts/<mart>.parquet`` through views in
an in-memory DuckDB connection, so ``dbt build`` can run (and replace the exports atomically) while the app is
open. Views are rebuilt, and cached results dropped, whenever a mart file changes (its mtime/size is part of every
cache key), so a rebuild shows up on the next rerun without a restart.

Mart columns are named in one place (the constants below); a page asks for logical things (``score columns``,
``flag columns``) and gets whatever the current marts provide, so a column added or dropped by the dbt models is
one edit here, and a missing mart makes a page say "run editlens build" instead of crashing.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pandas as pd
import streamlit as st

from editlens.warehouse import ENV_VAR, Warehouse

# --- the contract with models/marts (edit here when the marts change) -------------------------------------------

MARTS = (
    "edits",
    "edit_labels",
    "edit_quality_flags",
    "instruction_type_stats",
    "bias_slices",
    "safety_slices",
    "dataset_scorecard",
)

# score columns of `edits`, in display order, with a readable name and whether higher is better
SCORES: dict[str, tuple[str, bool]] = {
    "clip_i": ("CLIP-I (source vs target image)", True),
    "clip_t_target_caption": ("CLIP-T (target image vs target caption)", True),
    "clip_t_instruction": ("CLIP-T (target image vs instruction)", True),
    "directional_caption": ("Directional (caption-based)", True),
    "directional_instruction": ("Directional (instruction-only, weak)", True),
    "pixel_l1": ("Pixel L1", False),
    "pixel_mse": ("Pixel MSE", False),
    "pixel_changed_frac": ("Changed pixel fraction", False),
    "phash_distance": ("pHash distance", False),
}
# edits columns shown in example tables, when present
EXAMPLE_COLUMNS = ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction")
# per-edit safety columns (perceived, zero-shot)
SAFETY_TARGET = "target_unsafe_score"
SAFETY_SOURCE = "source_unsafe_score"
SAFETY_CATEGORY = "target_safety_category"
UNSAFE_THRESHOLD = 0.5
# flag columns are the boolean `is_*` columns of edit_quality_flags; these are summaries, not flags
FLAG_SUMMARY_COLUMNS = ("is_flagged",)
# image location columns (ARCHITECTURE.md, `images` table)
IMAGE_LOOKUP_COLUMNS = ("image_id", "location_kind", "root", "path", "row_group", "row", "column")

BUILD_HINT = "Run `editlens build` (or `dbt build`) to create it, then reload this page."


class MissingMart(Exception):
    """A page needs a mart the warehouse does not have (yet)."""

    def __init__(self, names: Sequence[str], marts_dir: Path):
        self.names = list(names)
        super().__init__(f"missing mart(s) {', '.join(self.names)} in {marts_dir}. {BUILD_HINT}")


# --- where the warehouse is --------------------------------------------------------------------------------------


def warehouse_root(argv: Sequence[str] | None = None) -> Path:
    """``--warehouse DIR`` after ``streamlit run app.py --``, else ``$EDITLENS_WAREHOUSE``, else ./warehouse."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--warehouse", default=None)
    args, _ = ap.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    return Warehouse.at(args.warehouse or os.environ.get(ENV_VAR) or None).root


# --- the connection ----------------------------------------------------------------------------------------------


@dataclass
class _Conn:
    con: duckdb.DuckDBPyConnection
    lock: threading.Lock = field(default_factory=threading.Lock)
    views_for: tuple = ()


@st.cache_resource(show_spinner=False)
def _connection(root: str) -> _Conn:
    con = duckdb.connect(":memory:")
    con.execute("set threads to 2")
    return _Conn(con)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class Marts:
    """The exported marts of one warehouse."""

    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None) -> "Marts":
        return cls(Path(root).resolve() if root is not None else warehouse_root())

    @property
    def marts_dir(self) -> Path:
        return Warehouse(self.root).marts_dir

    def path(self, name: str) -> Path:
        return self.marts_dir / f"{name}.parquet"

    def has(self, name: str) -> bool:
        if name == "images":
            return bool(self._image_sources())
        return self.path(name).is_file()

    def available(self) -> list[str]:
        return [m for m in MARTS if self.has(m)]

    def missing(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if not self.has(n)]

    def require(self, *names: str) -> None:
        miss = self.missing(names)
        if miss:
            raise MissingMart(miss, self.marts_dir)

    def _image_sources(self) -> list[Path]:
        mart = self.marts_dir / "images.parquet"
        if mart.is_file():
            return [mart]
        d = Warehouse(self.root).table_dir("images")
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def version(self) -> tuple:
        """Changes whenever a mart (or the image lookup) is rebuilt: part of every cache key."""
        out = []
        for p in [self.path(m) for m in MARTS] + self._image_sources():
            try:
                s = p.stat()
                out.append((p.name, s.st_mtime_ns, s.st_size))
            except FileNotFoundError:
                pass
        return tuple(out)

    # -- queries --

    def _ensure_views(self, c: _Conn, version: tuple) -> None:
        if c.views_for == version:
            return
        with c.lock:
            if c.views_for == version:
                return
            for m in MARTS:
                if self.has(m):
                    c.con.execute(f"create or replace view {m} as select * from read_parquet({_sql_str(str(self.path(m)))})")
                else:
                    c.con.execute(f"drop view if exists {m}")
            srcs = self._image_sources()
            if srcs:
                files = "[" + ", ".join(_sql_str(str(p)) for p in srcs) + "]"
                c.con.execute(f"create or replace view images as select * from read_parquet({files}, union_by_name=true)")
            else:
                c.con.execute("drop view if exists images")
            c.views_for = version

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` uncached (a fresh cursor per call: safe across Streamlit's session threads)."""
        c = _connection(str(self.root))
        self._ensure_views(c, self.version())
        cur = c.con.cursor()
        try:
            return cur.execute(sql, list(params or [])).df()
        finally:
            cur.close()

    def df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` with results cached per mart version."""
        return _cached_df(str(self.root), self.version(), sql, tuple(params or ()))

    def arrow(self, sql: str, params: Sequence[Any] | None = None):
        c = _connection(str(self.root))
        self._ensure_views(c, self.version())
        cur = c.con.cursor()
        try:
            res = cur.execute(sql, list(params or [])).arrow()
            return res.read_all() if hasattr(res, "read_all") else res
        finally:
            cur.close()

    def columns(self, name: str) -> list[str]:
        if not self.has(name):
            return []
        return _cached_columns(str(self.root), self.version(), name)


@st.cache_data(show_spinner=False, max_entries=2048)
def _cached_df(root: str, version: tuple, sql: str, params: tuple) -> pd.DataFrame:
    return Marts(Path(root)).query(sql, params)


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_columns(root: str, version: tuple, name: str) -> list[str]:
    return list(Marts(Path(root)).query(f"select * from {name} limit 0").columns)


def marts() -> Marts:
    """The marts of the warehouse this app serves."""
    return Marts.open()


# --- column roles ------------------------------------------------------------------------------------------------


def score_columns(m: Marts) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in SCORES if c in cols]


def score_label(col: str) -> str:
    return SCORES.get(col, (col, True))[0]


def flag_columns(m: Marts) -> list[str]:
    return [c for c in m.columns("edit_quality_flags") if c.startswith("is_") and c not in FLAG_SUMMARY_COLUMNS]


def flag_label(col: str) -> str:
    return col.removeprefix("is_").replace("_", " ")


def example_columns(m: Marts, extra: Sequence[str] = ()) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in (*EXAMPLE_COLUMNS, *extra) if c in cols]


def _sel(cols: Sequence[str], alias: str = "e") -> str:
    return ", ".join(f'{alias}."{c}"' for c in cols)


def _in(col: str, values: Sequence[str], params: list) -> str:
    params.extend(values)
    return f"{col} in ({', '.join('?' for _ in values)})"


# --- overview ----------------------------------------------------------------------------------------------------


def datasets(m: Marts) -> list[str]:
    m.require("edits")
    return m.df("select distinct dataset from edits order by 1")["dataset"].tolist()


def parts(m: Marts) -> pd.DataFrame:
    m.require("edits")
    return m.df("select dataset, part, count(*) as n_edits from edits group by all order by 1, 2")


def scorecard(m: Marts) -> pd.DataFrame:
    """One row per dataset and part: counts, reject rate, defect rates, score medians."""
    if m.has("dataset_scorecard"):
        df = m.df("select * from dataset_scorecard order by dataset, part")
    else:
        m.require("edits")
        meds = ", ".join(f'median("{c}") as "median_{c}"' for c in score_columns(m)[:3])
        df = m.df(f"select dataset, part, count(*) as n_edits{', ' + meds if meds else ''} "
                  "from edits group by all order by 1, 2")
    if "reject_rate" not in df.columns and {"n_rejects", "n_records_read"} <= set(df.columns):
        df["reject_rate"] = df["n_rejects"] / df["n_records_read"].where(df["n_records_read"] > 0)
    return df


def scorecard_metric_columns(df: pd.DataFrame) -> dict[str, list[str]]:
    """Group a scorecard's columns by kind: counts, rates, medians."""
    counts = [c for c in df.columns if c.startswith("n_")]
    rates = [c for c in df.columns if c.endswith("_rate") or c.startswith("rate_")]
    meds = [c for c in df.columns if c.startswith("median_")]
    return {"counts": counts, "rates": rates, "medians": meds}


def totals(m: Marts) -> dict[str, float]:
    m.require("edits")
    row = m.df("select count(*) as n_edits, count(distinct dataset) as n_datasets, "
               "count(distinct session_id) as n_sessions from edits").iloc[0]
    out = {k: int(row[k]) for k in row.index}
    if m.has("edit_quality_flags") and "is_flagged" in m.columns("edit_quality_flags"):
        out["flagged_rate"] = float(m.df("select avg(is_flagged::int) as r from edit_quality_flags")["r"].iloc[0] or 0)
    return out


# --- instruction types -------------------------------------------------------------------------------------------


def label_distribution(m: Marts, datasets_: Sequence[str] = ()) -> pd.DataFrame:
    """Edits per label and dataset, with the dataset's edit count as denominator."""
    m.require("edits", "edit_labels")
    params: list = []
    where = f"where {_in('e.dataset', datasets_, params)}" if datasets_ else ""
    return m.df(
        f"""
        with d as (select dataset, count(*) as denominator from edits group by 1)
        select e.dataset, l.label, count(*) as n_edits, any_value(d.denominator) as denominator,
               count(*) / any_value(d.denominator) as share
        from edit_labels l join edits e using (edit_id) join d using (dataset)
        {where}
        group by all order by n_edits desc
        """,
        params,
    )


def label_cooccurrence(m: Marts) -> pd.DataFrame:
    """Pairs of labels given to the same edit (each unordered pair once), with counts."""
    m.require("edit_labels")
    return m.df(
        """
        with multi as (select edit_id, list(distinct label order by label) as ls
                       from edit_labels group by edit_id having count(distinct label) > 1),
        pairs as (select ls[i] as label_a, ls[j] as label_b
                  from multi, range(1, len(ls) + 1) a(i), range(1, len(ls) + 1) b(j) where i < j)
        select label_a, label_b, count(*) as n_edits from pairs group by all order by n_edits desc
        """
    )


def label_quality(m: Marts) -> pd.DataFrame:
    """Per label: edits, flagged rate and score medians."""
    m.require("edits", "edit_labels")
    sc = score_columns(m)[:3]
    meds = "".join(f', median(e."{c}") as "median_{c}"' for c in sc)
    flag = ""
    join = ""
    if m.has("edit_quality_flags") and "is_flagged" in m.columns("edit_quality_flags"):
        flag = ", avg(f.is_flagged::int) as flagged_rate"
        join = "join edit_quality_flags f using (edit_id)"
    return m.df(
        f"""select l.label, count(*) as n_edits{meds}{flag}
            from edit_labels l join edits e using (edit_id) {join}
            group by all order by n_edits desc"""
    )


def labels(m: Marts) -> list[str]:
    if not m.has("edit_labels"):
        return []
    return m.df("select distinct label from edit_labels order by 1")["label"].tolist()


def label_examples(m: Marts, label: str, dataset: str | None = None, limit: int = 8) -> pd.DataFrame:
    m.require("edits", "edit_labels")
    params: list = [label]
    dfilter = ""
    if dataset:
        dfilter = "and e.dataset = ?"
        params.append(dataset)
    cols = example_columns(m, ("source_image_id", "target_image_id", *score_columns(m)[:2]))
    params.append(int(limit))
    return m.df(
        f"""select {_sel(cols)} from edits e
            where e.edit_id in (select edit_id from edit_labels where label = ?) {dfilter}
            order by e.edit_id limit ?""",
        params,
    )


# --- bias --------------------------------------------------------------------------------------------------------


def bias_slices(m: Marts, slice_kind: str) -> pd.DataFrame:
    m.require("bias_slices")
    return m.df("select * from bias_slices where slice_kind = ? order by dataset, part, label, attribute, group_name",
                [slice_kind])


def bias_kinds(m: Marts) -> list[str]:
    m.require("bias_slices")
    return m.df("select distinct slice_kind from bias_slices order by 1")["slice_kind"].tolist()


def bias_rollup(m: Marts, slice_kind: str, by: Sequence[str] = ("dataset", "attribute", "group_name")) -> pd.DataFrame:
    """Sum numerators and denominators over the other keys (so every share keeps its denominator)."""
    df = bias_slices(m, slice_kind)
    if df.empty:
        return df
    g = df.groupby(list(by), dropna=False, as_index=False).agg(n_edits=("n_edits", "sum"),
                                                             denominator=("denominator", "sum"))
    g["share"] = g["n_edits"] / g["denominator"].where(g["denominator"] > 0)
    return g


# --- safety ------------------------------------------------------------------------------------------------------


def safety_rates(m: Marts) -> pd.DataFrame:
    """Per dataset and category: edits, unsafe targets, introduced, with rates over the category's edits."""
    m.require("safety_slices")
    df = m.df(
        """select dataset, category, sum(n_edits)::bigint as n_edits, sum(n_unsafe_target)::bigint as n_unsafe_target,
                  sum(n_unsafe_source)::bigint as n_unsafe_source, sum(n_introduced)::bigint as n_introduced
           from safety_slices group by all order by dataset, category"""
    )
    df["unsafe_target_rate"] = df["n_unsafe_target"] / df["n_edits"].where(df["n_edits"] > 0)
    df["introduced_rate"] = df["n_introduced"] / df["n_edits"].where(df["n_edits"] > 0)
    return df


def safety_gallery(m: Marts, category: str | None = None, introduced_only: bool = False,
                   threshold: float = UNSAFE_THRESHOLD, limit: int = 12) -> pd.DataFrame:
    m.require("edits")
    cols = set(m.columns("edits"))
    if SAFETY_TARGET not in cols:
        return pd.DataFrame()
    params: list = [threshold]
    where = [f"{SAFETY_TARGET} >= ?"]
    if introduced_only and SAFETY_SOURCE in cols:
        where.append(f"{SAFETY_SOURCE} < ?")
        params.append(threshold)
    if category and SAFETY_CATEGORY in cols:
        where.append(f"{SAFETY_CATEGORY} = ?")
        params.append(category)
    extra = [c for c in (SAFETY_SOURCE, SAFETY_TARGET, SAFETY_CATEGORY) if c in cols]
    sel = example_columns(m, ("source_image_id", "target_image_id", *extra))
    params.append(int(limit))
    return m.df(f"select {_sel(sel)} from edits e where {' and '.join(where)} "
                f"order by {SAFETY_TARGET} desc, edit_id limit ?", params)


# --- quality -----------------------------------------------------------------------------------------------------


def score_histogram(m: Marts, col: str, bins: int = 40) -> pd.DataFrame:
    """Binned counts of one score column (bins over its observed range), per dataset."""
    m.require("edits")
    if col not in score_columns(m):
        raise ValueError(f"unknown score column {col}")
    return m.df(
        f"""with r as (select min("{col}")::double as lo, max("{col}")::double as hi from edits),
            b as (select dataset,
                         coalesce(least(floor(("{col}" - lo) / nullif((hi - lo) / {bins}, 0)), {bins - 1}), 0)::int as bin
                  from edits, r where "{col}" is not null),
            c as (select dataset, bin, count(*) as n_edits from b group by all)
            select c.dataset, c.bin, r.lo + c.bin * (r.hi - r.lo) / {bins} as bin_start,
                   r.lo + (c.bin + 1) * (r.hi - r.lo) / {bins} as bin_end, c.n_edits
            from c, r order by c.dataset, c.bin"""
    )


def score_range(m: Marts, col: str) -> tuple[float, float]:
    m.require("edits")
    if col not in score_columns(m):
        raise ValueError(f"unknown score column {col}")
    r = m.df(f'select min("{col}")::double as lo, max("{col}")::double as hi from edits').iloc[0]
    lo, hi = float(r["lo"] if pd.notna(r["lo"]) else 0.0), float(r["hi"] if pd.notna(r["hi"]) else 1.0)
    return lo, hi if hi > lo else lo + 1.0


def pass_counts(m: Marts, thresholds: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """Per dataset: edits, edits passing every threshold (``col >= v`` or ``col <= v``), pass rate."""
    m.require("edits")
    valid = set(score_columns(m))
    conds, params = [], []
    for col, (op, v) in sorted(thresholds.items()):
        if col not in valid or op not in (">=", "<="):
            raise ValueError(f"bad threshold {col} {op}")
        conds.append(f'coalesce("{col}" {op} ?, false)')
        params.append(float(v))
    cond = " and ".join(conds) or "true"
    df = m.df(f"select dataset, count(*) as n_edits, sum(({cond})::int)::bigint as n_pass from edits group by 1 order by 1",
              params)
    df["pass_rate"] = df["n_pass"] / df["n_edits"]
    return df


def flag_counts(m: Marts) -> pd.DataFrame:
    m.require("edit_quality_flags")
    flags = flag_columns(m)
    if not flags:
        return pd.DataFrame(columns=["flag", "n_edits", "denominator", "rate"])
    sums = ", ".join(f'sum("{f}"::int) as "{f}"' for f in flags)
    row = m.df(f"select count(*) as denominator, {sums} from edit_quality_flags").iloc[0]
    den = int(row["denominator"])
    df = pd.DataFrame({"flag": flags, "n_edits": [int(row[f] or 0) for f in flags]})
    df["denominator"] = den
    df["rate"] = df["n_edits"] / den if den else 0.0
    return df.sort_values("n_edits", ascending=False, ignore_index=True)


def worst_examples(m: Marts, flag: str, order_by: str | None = None, limit: int = 6) -> pd.DataFrame:
    """Edits carrying ``flag``, worst first by ``order_by`` (a score; its bad end first)."""
    m.require("edits", "edit_quality_flags")
    if flag not in flag_columns(m):
        raise ValueError(f"unknown flag {flag}")
    sc = score_columns(m)
    order = order_by if order_by in sc else (sc[0] if sc else None)
    direction = "asc" if order and SCORES[order][1] else "desc"
    order_sql = f'e."{order}" {direction} nulls last, ' if order else ""
    cols = example_columns(m, ("source_image_id", "target_image_id", *sc))
    return m.df(
        f"""select {_sel(cols)} from edits e join edit_quality_flags f using (edit_id)
            where f."{flag}" order by {order_sql}e.edit_id limit ?""",
        [int(limit)],
    )


# --- multi-turn --------------------------------------------------------------------------------------------------


def sessions(m: Marts, only_breaks: bool = False, dataset: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Multi-turn sessions with their turn count and chain breaks."""
    m.require("edits")
    brk = "0"
    join = ""
    if m.has("edit_quality_flags") and "is_chain_break" in m.columns("edit_quality_flags"):
        brk = "f.is_chain_break::int"
        join = "left join edit_quality_flags f using (edit_id)"
    params: list = []
    where = "where e.session_id is not null"
    if dataset:
        where += " and e.dataset = ?"
        params.append(dataset)
    having = "having sum(coalesce(" + brk + ", 0)) > 0" if only_breaks else ""
    params.append(int(limit))
    return m.df(
        f"""select e.session_id, any_value(e.dataset) as dataset, any_value(e.part) as part,
                   count(*) as n_turns, sum(coalesce({brk}, 0))::bigint as n_chain_breaks
            from edits e {join} {where} group by e.session_id {having}
            order by n_chain_breaks desc, e.session_id limit ?""",
        params,
    )


def session_counts(m: Marts) -> dict[str, int]:
    m.require("edits")
    brk = "0"
    join = ""
    if m.has("edit_quality_flags") and "is_chain_break" in m.columns("edit_quality_flags"):
        brk = "f.is_chain_break::int"
        join = "left join edit_quality_flags f using (edit_id)"
    r = m.df(f"""select count(*) as n_sessions, sum((b > 0)::int) as n_with_breaks from
                 (select e.session_id, sum(coalesce({brk}, 0)) as b from edits e {join}
                  where e.session_id is not null group by 1)""").iloc[0]
    return {"n_sessions": int(r["n_sessions"] or 0), "n_with_breaks": int(r["n_with_breaks"] or 0)}


def session_turns(m: Marts, session_id: str) -> pd.DataFrame:
    m.require("edits")
    extra = ["source_image_id", "target_image_id", *score_columns(m)[:3]]
    cols = example_columns(m, extra)
    brk = ""
    join = ""
    if m.has("edit_quality_flags") and "is_chain_break" in m.columns("edit_quality_flags"):
        brk = ", coalesce(f.is_chain_break, false) as is_chain_break"
        join = "left join edit_quality_flags f using (edit_id)"
    return m.df(f"select {_sel(cols)}{brk} from edits e {join} where e.session_id = ? order by e.turn_index",
                [session_id])


# --- edit explorer -----------------------------------------------------------------------------------------------


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


def _where(m: Marts, f: Filters) -> tuple[str, list]:
    conds, params = [], []
    if f.text.strip():
        conds.append("e.instruction ilike ?")
        params.append("%" + f.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        conds[-1] += " escape '\\'"
    if f.datasets:
        conds.append(_in("e.dataset", f.datasets, params))
    if f.parts:
        conds.append(_in("e.part", f.parts, params))
    if f.labels and m.has("edit_labels"):
        conds.append(f"e.edit_id in (select edit_id from edit_labels where {_in('label', f.labels, params)})")
    if f.flags and m.has("edit_quality_flags"):
        valid = set(flag_columns(m))
        fl = [x for x in f.flags if x in valid]
        if fl:
            conds.append("e.edit_id in (select edit_id from edit_quality_flags where "
                         + " or ".join(f'"{x}"' for x in fl) + ")")
    if f.score and f.score in score_columns(m):
        if f.score_min is not None:
            conds.append(f'e."{f.score}" >= ?')
            params.append(float(f.score_min))
        if f.score_max is not None:
            conds.append(f'e."{f.score}" <= ?')
            params.append(float(f.score_max))
    return ("where " + " and ".join(conds)) if conds else "", params


def explore_count(m: Marts, f: Filters) -> int:
    m.require("edits")
    where, params = _where(m, f)
    return int(m.df(f"select count(*) as n from edits e {where}", params)["n"].iloc[0])


def explore_page(m: Marts, f: Filters, page: int = 1, page_size: int = 20) -> pd.DataFrame:
    m.require("edits")
    where, params = _where(m, f)
    cols = example_columns(m, ("source_image_id", "target_image_id", *score_columns(m)[:4]))
    params += [int(page_size), (max(int(page), 1) - 1) * int(page_size)]
    return m.df(f"select {_sel(cols)} from edits e {where} order by e.edit_id limit ? offset ?", params)


EXPORT_ROW_CAP = 1_000_000


def explore_export(m: Marts, f: Filters, fmt: str = "csv", cap: int = EXPORT_ROW_CAP) -> bytes:
    """The filtered edits (all columns of `edits`, at most ``cap`` rows) as CSV or Parquet bytes."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    m.require("edits")
    where, params = _where(m, f)
    t = m.arrow(f"select e.* from edits e {where} order by e.edit_id limit ?", params + [int(cap)])
    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(t, buf, compression="zstd")
    elif fmt == "csv":
        # nested columns (lists) are written as their JSON-ish string form
        import pyarrow as pa

        cols = [c.cast(pa.string()) if pa.types.is_nested(c.type) else c for c in t.columns]
        pacsv.write_csv(pa.table(cols, names=t.column_names), buf)
    else:
        raise ValueError(f"unknown export format {fmt}")
    return buf.getvalue()


# --- images ------------------------------------------------------------------------------------------------------


def image_refs(m: Marts, image_ids: Sequence[str]) -> dict[str, dict]:
    """image_id -> location row (``location_kind, root, path, row_group, row, column``) for the ids known."""
    ids = sorted({i for i in image_ids if isinstance(i, str) and i})
    if not ids or not m.has("images"):
        return {}
    cols = set(m.columns("images"))
    sel = ", ".join(f'"{c}"' if c in cols else f'null as "{c}"' for c in IMAGE_LOOKUP_COLUMNS)
    params: list = []
    df = m.df(f"select {sel} from images where {_in('image_id', ids, params)}", params)
    out: dict[str, dict] = {}
    for rec in df.to_dict("records"):
        out.setdefault(rec["image_id"], {k: (None if pd.isna(v) else v) for k, v in rec.items()})
    return out


# --- SQL console -------------------------------------------------------------------------------------------------


def sql_console(m: Marts):
    """The read-only console over the marts present now (rebuilt when a mart changes)."""
    return _console(str(m.root), m.version())


@st.cache_resource(show_spinner=False, max_entries=4)
def _console(root: str, version: tuple):
    from dashboards.sql_console import SqlConsole

    mm = Marts(Path(root))
    return SqlConsole.over({name: mm.path(name) for name in mm.available()})
