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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from editlens.warehouse import ENV_VAR, Warehouse

# --- the contract with models/marts (edit here when the marts change) -------------------------------------------

MARTS = (
    "edits",  # one row per edit: coordinates, instruction, derived/provided labels, scores, image status
    "edit_labels",  # edit_id, label, origin (derived | provided), scope, operation
    "edit_quality_flags",  # one row per edit: boolean flags, reasons, n_quality_flags
    "dataset_scorecard",  # dataset x part: counts, rejects, medians, n_<defect> and <defect>_share
    "instruction_type_stats",  # dataset x part x origin x label: n_edits, n_edits_in_part, medians
    "label_cooccurrence",  # dataset x part x origin x ordered label pair: n_edits
    "score_histograms",  # dataset x part x metric x bin: bin_lower, bin_upper, n_edits
    "bias_slices",  # demographic_group x subgroup x dataset x label: mentions, filter impact, each with denominator
    "attribute_shifts",  # dataset x label x perceived-attribute concept: n_edits, mean shift
    "safety_slices",  # category x dataset x part: flagged counts and their denominators
    "safety_flagged_edits",  # one row per edit flagged for safety: categories, signals, reasons, introduced
    "safety_signals",  # signal x category: in use or why not (not_calibrated, not_run), version, threshold
)

# score columns of `edits`, in display order, with a readable name and whether higher is better
SCORES: dict[str, tuple[str, bool]] = {
    "clip_i": ("CLIP-I (source vs target image)", True),
    "clip_t_target_caption": ("CLIP-T (target image vs target caption)", True),
    "clip_t_instruction": ("CLIP-T (target image vs instruction)", True),
    "directional_caption": ("Directional (caption-based)", True),
    "directional_instruction": ("Directional (instruction-only, weak)", True),
    "directional_instruction_core": ("Directional (instruction core, no framing phrases)", True),
    "pixel_l1": ("Pixel L1", False),
    "pixel_mse": ("Pixel MSE", False),
    "pixel_changed_frac": ("Changed pixel fraction", False),
    "phash_distance": ("pHash distance", False),
}
# the quality flags of edit_quality_flags (the ones counted in n_quality_flags), with the score that ranks the
# worst examples first (and whether a high value is the bad end)
QUALITY_FLAGS: dict[str, tuple[str | None, bool]] = {
    "is_noop": ("clip_i", True),
    "is_misaligned": ("directional_instruction_core", False),  # the score the flag's main rule reads
    "is_full_regeneration": ("clip_i", False),
    "has_broken_image": (None, False),
    "is_duplicate_pair": (None, False),
    "has_near_duplicate_source": (None, False),
    "is_chain_break": (None, False),
    "has_content_overlap": (None, False),
}
FLAG_COUNT_COLUMN = "n_quality_flags"
# edits columns shown in example tables, when present
EXAMPLE_COLUMNS = ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction")
# image location columns (ARCHITECTURE.md, `images` table)
IMAGE_LOOKUP_COLUMNS = ("image_id", "location_kind", "root", "path", "row_group", "row", "column")
# default filter thresholds: the dbt seed when the repo has it, else InstructPix2Pix's generation code
THRESHOLDS_SEED = Path(__file__).resolve().parents[1] / "seeds" / "thresholds.csv"
DEFAULT_THRESHOLDS = {
    "clip_i": ("ip2p_clip_i", 0.7),
    "directional_caption": ("ip2p_directional", 0.2),
    "clip_t_target_caption": ("ip2p_clip_t", 0.2),
}

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


_LOCAL = threading.local()


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
    def open(cls, root: str | Path | None = None) -> Marts:
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

    def console_views(self) -> dict[str, Path]:
        """Every exported mart (any ``DIR/marts/<name>.parquet`` with a plain identifier name)."""
        import re

        d = self.marts_dir
        files = sorted(d.glob("*.parquet")) if d.is_dir() else []
        # `tmp_<mart>.parquet` is an export being written (renamed into place when whole): never read it
        return {
            p.stem: p
            for p in files
            if re.fullmatch(r"[a-z_][a-z0-9_]*", p.stem) and not p.stem.startswith("tmp_")
        }

    def _image_sources(self) -> list[Path]:
        mart = self.marts_dir / "images.parquet"
        if mart.is_file():
            return [mart]
        d = Warehouse(self.root).table_dir("images")
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def version(self) -> tuple:
        """Changes whenever a mart (or the image lookup) is rebuilt: part of every cache key."""
        out = []
        for p in (
            sorted({*(self.path(m) for m in MARTS), *self.console_views().values()}) + self._image_sources()
        ):
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
                    c.con.execute(
                        f"create or replace view {m} as select * from read_parquet({_sql_str(str(self.path(m)))})"
                    )
                else:
                    c.con.execute(f"drop view if exists {m}")
            srcs = self._image_sources()
            if srcs:
                files = "[" + ", ".join(_sql_str(str(p)) for p in srcs) + "]"
                c.con.execute(
                    f"create or replace view images as select * from read_parquet({files}, union_by_name=true)"
                )
            else:
                c.con.execute("drop view if exists images")
            c.views_for = version

    def _conn(self) -> _Conn:
        own = getattr(_LOCAL, "conn", None)  # the warm-up thread brings its own connection
        return own if own is not None else _connection(str(self.root))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` uncached (a fresh cursor per call: safe across Streamlit's session threads)."""
        c = self._conn()
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
        c = self._conn()
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
    """The quality flags present in edit_quality_flags."""
    cols = set(m.columns("edit_quality_flags"))
    return [c for c in QUALITY_FLAGS if c in cols]


def flag_label(col: str) -> str:
    return col.removeprefix("is_").removeprefix("has_").replace("_", " ")


def example_columns(m: Marts, extra: Sequence[str] = ()) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in (*EXAMPLE_COLUMNS, *extra) if c in cols]


def default_thresholds(m: Marts) -> dict[str, float]:
    """Filter thresholds for the Quality page's sliders, from seeds/thresholds.csv where present."""
    seeded: dict[str, float] = {}
    try:
        seed = pd.read_csv(THRESHOLDS_SEED)
        seeded = dict(zip(seed["name"], seed["value"].astype(float)))
    except (OSError, KeyError, ValueError):
        pass
    present = set(score_columns(m))
    return {
        col: float(seeded.get(name, dv)) for col, (name, dv) in DEFAULT_THRESHOLDS.items() if col in present
    }


# headline scores of one edit: (name, preferred column, fallback column); the caption-based score where the
# dataset has captions, else the instruction-based one
HEADLINE_SCORES = (
    ("CLIP-I", "clip_i", None),
    ("CLIP-T", "clip_t_target_caption", "clip_t_instruction"),
    ("directional", "directional_caption", "directional_instruction"),
)


def headline_scores(row: dict) -> list[tuple[str, float | None]]:
    out = []
    for name, first, second in HEADLINE_SCORES:
        v = row.get(first)
        if (v is None or pd.isna(v)) and second:
            v = row.get(second)
            name = f"{name} (instr.)" if v is not None and not pd.isna(v) else name
        if first in row or (second and second in row):
            out.append((name, None if v is None or pd.isna(v) else float(v)))
    return out


def _sel(cols: Sequence[str], alias: str = "e") -> str:
    return ", ".join(f'{alias}."{c}"' for c in cols)


def _in(col: str, values: Sequence[str], params: list) -> str:
    params.extend(values)
    return f"{col} in ({', '.join('?' for _ in values)})"


def _has_flags(m: Marts) -> bool:
    return m.has("edit_quality_flags") and FLAG_COUNT_COLUMN in m.columns("edit_quality_flags")


# --- overview ----------------------------------------------------------------------------------------------------


def _card_has(m: Marts, *cols: str) -> bool:
    return m.has("dataset_scorecard") and set(cols) <= set(m.columns("dataset_scorecard"))


def datasets(m: Marts) -> list[str]:
    return parts(m)["dataset"].drop_duplicates().tolist()


def parts(m: Marts) -> pd.DataFrame:
    """Dataset, part and edit count (from the scorecard when present: no scan of `edits`)."""
    if _card_has(m, "dataset", "part", "n_edits"):
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
    if "reject_rate" not in df.columns and {"n_rejects", "n_records_read"} <= set(df.columns):
        read = pd.to_numeric(df["n_records_read"], errors="coerce")
        df.insert(
            df.columns.get_loc("n_rejects") + 1,
            "reject_rate",
            pd.to_numeric(df["n_rejects"], errors="coerce") / read.where(read > 0),
        )
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
    "reject_rate": "n_records_read",
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
    if _card_has(m, "n_edits", "n_sessions", "n_with_any_quality_flag"):
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
    if _has_flags(m):
        out["flagged_rate"] = float(
            m.df(f"select avg(({FLAG_COUNT_COLUMN} > 0)::int) as r from edit_quality_flags")["r"].iloc[0] or 0
        )
    return out


# --- instruction types -------------------------------------------------------------------------------------------


def label_origins(m: Marts) -> list[str]:
    if m.has("instruction_type_stats"):
        return m.df("select distinct origin from instruction_type_stats order by 1")["origin"].tolist()
    m.require("edit_labels")
    return m.df("select distinct origin from edit_labels order by 1")["origin"].tolist()


def _label_filters(origin: str | None, datasets_: Sequence[str], params: list) -> list[str]:
    """SQL conditions (with their parameters appended to ``params``) for one label origin and some datasets."""
    conds = []
    if origin:
        conds.append("origin = ?")
        params.append(origin)
    if datasets_:
        conds.append(_in("dataset", datasets_, params))
    return conds


def label_distribution(m: Marts, datasets_: Sequence[str] = (), origin: str | None = None) -> pd.DataFrame:
    """Edits per label and dataset (one origin), with the dataset's edit count as denominator."""
    params: list = []
    conds = _label_filters(origin, datasets_, params)
    where = ("where " + " and ".join(conds)) if conds else ""
    if m.has("instruction_type_stats"):
        sql = f"""
            with d as (select dataset, sum(n) as denominator from
                       (select distinct dataset, part, n_edits_in_part as n from instruction_type_stats) group by 1)
            select s.dataset, s.label, sum(s.n_edits)::bigint as n_edits, any_value(d.denominator)::bigint as denominator,
                   sum(s.n_edits) / any_value(d.denominator) as share
            from instruction_type_stats s join d using (dataset) {where}
            group by all order by n_edits desc, label"""
    else:
        m.require("edits", "edit_labels")
        sql = f"""
            with d as (select dataset, count(*) as denominator from edits group by 1),
            l as (select e.dataset, l.label, l.origin from edit_labels l join edits e using (edit_id))
            select l.dataset, l.label, count(*) as n_edits, any_value(d.denominator) as denominator,
                   count(*) / any_value(d.denominator) as share
            from l join d using (dataset) {where}
            group by all order by n_edits desc, label"""
    return m.df(sql, params)


def label_cooccurrence(m: Marts, origin: str | None = None, datasets_: Sequence[str] = ()) -> pd.DataFrame:
    """Unordered pairs of labels given to the same edit, with counts, most frequent first."""
    params: list = []
    conds = ["label_a < label_b", *_label_filters(origin, datasets_, params)]
    if m.has("label_cooccurrence"):
        return m.df(
            f"""select label_a, label_b, sum(n_edits)::bigint as n_edits from label_cooccurrence
                        where {" and ".join(conds)} group by all order by n_edits desc, label_a, label_b""",
            params,
        )
    m.require("edits", "edit_labels")
    return m.df(
        f"""with p as (select e.dataset, a.origin, a.label as label_a, b.label as label_b
                               from edit_labels a join edit_labels b
                               on a.edit_id = b.edit_id and a.origin = b.origin and a.label <> b.label
                               join edits e on e.edit_id = a.edit_id)
                    select label_a, label_b, count(*) as n_edits from p where {" and ".join(conds)}
                    group by all order by n_edits desc, label_a, label_b""",
        params,
    )


def label_quality(m: Marts, origin: str | None = None, datasets_: Sequence[str] = ()) -> pd.DataFrame:
    """Per label: edits and score medians (per dataset and part, where the stats mart has them)."""
    params: list = []
    conds = _label_filters(origin, datasets_, params)
    where = ("where " + " and ".join(conds)) if conds else ""
    if m.has("instruction_type_stats"):
        cols = m.columns("instruction_type_stats")
        keep = [
            c
            for c in (
                "dataset",
                "part",
                "label",
                "n_edits",
                "n_edits_in_part",
                "share_of_part",
                "n_scored",
                "clip_i_median",
                "directional_median",
                "clip_t_median",
            )
            if c in cols
        ]
        return m.df(
            f"select {', '.join(keep)} from instruction_type_stats {where} order by label, dataset, part",
            params,
        )
    m.require("edits", "edit_labels")
    meds = "".join(f', median(e."{c}") as "{c}_median"' for c in score_columns(m)[:3])
    return m.df(
        f"""select e.dataset, l.label, count(*) as n_edits{meds}
                    from edit_labels l join edits e using (edit_id) {where.replace("dataset", "e.dataset")}
                    group by all order by l.label, e.dataset""",
        params,
    )


def labels(m: Marts) -> list[str]:
    if m.has("instruction_type_stats"):
        return m.df("select distinct label from instruction_type_stats order by 1")["label"].tolist()
    if not m.has("edit_labels"):
        return []
    return m.df("select distinct label from edit_labels order by 1")["label"].tolist()


def label_examples(
    m: Marts, label: str, origin: str | None = None, datasets_: Sequence[str] = (), limit: int = 6
) -> pd.DataFrame:
    m.require("edits", "edit_labels")
    params: list = [label]
    lfilter = ""
    if origin:
        lfilter = " and origin = ?"
        params.append(origin)
    cols = example_columns(m, ("source_image_id", "target_image_id", *score_columns(m)[:2]))
    every = not datasets_ or set(datasets_) >= set(datasets(m))
    if every:  # the first few labelled edits, in mart order: a LIMIT that stops reading early
        ids = m.df(f"select edit_id from edit_labels where label = ?{lfilter} limit {int(limit)}", params)[
            "edit_id"
        ].tolist()
        return rows_by_id(m, ids, cols)
    dfilter = "and " + _in("e.dataset", datasets_, params)
    return m.df(
        f"""select {_sel(cols)} from edits e
            where e.edit_id in (select edit_id from edit_labels where label = ?{lfilter}) {dfilter}
            limit {int(limit)}""",
        params,
    )


def rows_by_id(m: Marts, ids: Sequence[str], cols: Sequence[str]) -> pd.DataFrame:
    """Rows of `edits` for a few edit ids, in the order given: their row numbers first (from the row index once
    the warm-up has built it, else from a scan of the id column alone), then those rows only."""
    if not ids:
        return pd.DataFrame(columns=list(cols))
    ids = list(dict.fromkeys(ids))
    path = _sql_str(str(m.path("edits")))
    idx = _row_index(m, build=False)
    rows = idx.lookup(ids) if idx is not None else None
    if rows is None:  # one narrow column instead of every selected column of 3.77M rows (5x less to decode)
        params: list = []
        rows = m.df(
            f"""select file_row_number as r from read_parquet({path}, file_row_number=true)
                where {_in("edit_id", ids, params)}""",
            params,
        )["r"].tolist()
    if not rows:  # none of the ids is in the mart
        return pd.DataFrame(columns=list(cols))
    df = None
    if "edit_id" in cols:
        df = m.df(
            f"""select {_sel(cols)} from read_parquet({path}, file_row_number=true) e
                where file_row_number in ({", ".join(str(int(r)) for r in sorted(rows))})""",
        )
        if len(df) != len(rows) or not set(df["edit_id"]) <= set(ids):
            df = None  # the mart was replaced between the two steps: look the ids up directly
    if df is None:
        params = []
        df = m.df(f"select {_sel(cols)} from edits e where {_in('e.edit_id', ids, params)}", params)
    order = {k: i for i, k in enumerate(ids)}
    return df.sort_values("edit_id", key=lambda s: s.map(order)).reset_index(drop=True)


# --- bias --------------------------------------------------------------------------------------------------------


def bias_datasets(m: Marts) -> list[str]:
    m.require("bias_slices")
    return m.df("select distinct dataset from bias_slices order by 1")["dataset"].tolist()


def group_mentions(m: Marts, dataset: str | None = None, label: str = "all") -> pd.DataFrame:
    """Per demographic group and subgroup: edits mentioning it, out of the slice's edits (the denominator)."""
    m.require("bias_slices")
    params: list = [label]
    where = "label = ? and subgroup <> 'all'"
    if dataset:
        where += " and dataset = ?"
        params.append(dataset)
    return m.df(
        f"""with s as (select * from bias_slices where {where}),
            d as (select sum(n) as denominator from (select distinct dataset, n_edits_in_slice as n from s))
            select demographic_group, subgroup, sum(n_edits)::bigint as n_edits, any_value(d.denominator)::bigint as denominator,
                   sum(n_edits) / any_value(d.denominator) as mention_rate
            from s, d group by all order by demographic_group, n_edits desc""",
        params,
    )


def filter_impact(m: Marts, dataset: str | None = None, label: str = "all") -> pd.DataFrame:
    """Per group (all its subgroups together): share of its scored edits passing the quality filter, vs overall."""
    m.require("bias_slices")
    params: list = [label]
    where = "label = ? and subgroup = 'all'"
    if dataset:
        where += " and dataset = ?"
        params.append(dataset)
    df = m.df(
        f"""with s as (select * from bias_slices where {where}),
            o as (select sum(p) as overall_n_passing, sum(n) as overall_n_scored from
                  (select distinct dataset, overall_n_passing as p, overall_n_scored as n from s))
            select demographic_group, sum(n_passing)::bigint as n_passing, sum(n_scored)::bigint as n_scored,
                   sum(n_passing) / nullif(sum(n_scored), 0) as filter_pass_rate,
                   any_value(o.overall_n_passing)::bigint as overall_n_passing,
                   any_value(o.overall_n_scored)::bigint as overall_n_scored
            from s, o group by all order by demographic_group""",
        params,
    )
    df["overall_filter_pass_rate"] = df["overall_n_passing"] / df["overall_n_scored"].where(
        df["overall_n_scored"] > 0
    )
    return df


def attribute_shift(m: Marts, dataset: str | None = None) -> pd.DataFrame:
    """Per instruction label and perceived-attribute concept: edits and their mean score shift (target - source)."""
    m.require("attribute_shifts")
    params: list = []
    where = "where label <> 'all'"
    if dataset:
        where += " and dataset = ?"
        params.append(dataset)
    return m.df(
        f"""select label, concept_group, concept, sum(n_edits)::bigint as n_edits,
                   sum(shift_mean * n_edits) / nullif(sum(n_edits), 0) as mean_shift
            from attribute_shifts {where} group by all order by concept_group, concept, label""",
        params,
    )


# --- safety ------------------------------------------------------------------------------------------------------


def safety_rates(m: Marts) -> pd.DataFrame:
    """Per dataset and category: flagged counts with their denominators. Image counts are null (never 0) where
    no calibrated image signal covers the category; `image_null_reason` says why."""
    m.require("safety_slices")
    cols = set(m.columns("safety_slices"))
    want = [
        "n_instruction_flagged",
        "n_source_image_flagged",
        "n_target_image_flagged",
        "n_introduced_by_edit",
        "n_edits_image_unknown",
    ]
    sums = "".join(f", sum({c})::bigint as {c}" for c in want if c in cols)
    img = next((c for c in ("n_edits_image_computed", "n_edits_with_images") if c in cols), "n_edits")
    reason = ", min(image_null_reason) as image_null_reason" if "image_null_reason" in cols else ""
    df = m.df(f"""select dataset, category, sum(n_edits)::bigint as n_edits, sum({img})::bigint as n_edits_image_computed{sums}{reason}
                  from safety_slices group by all order by dataset, category""")
    den = df["n_edits_image_computed"].where(df["n_edits_image_computed"] > 0)
    if "n_target_image_flagged" in df.columns:
        df["target_image_flagged_rate"] = df["n_target_image_flagged"] / den
    if "n_introduced_by_edit" in df.columns:
        df["introduced_rate"] = df["n_introduced_by_edit"] / den
    if "n_instruction_flagged" in df.columns:
        df["instruction_flagged_rate"] = df["n_instruction_flagged"] / df["n_edits"].where(df["n_edits"] > 0)
    return df


def safety_signals(m: Marts) -> pd.DataFrame:
    """Per signal and category: in use or not (and why), version, threshold, calibration."""
    if not m.has("safety_signals"):
        return pd.DataFrame(columns=["signal", "category", "signal_version", "is_in_use", "null_reason"])
    return m.df("select * from safety_signals order by signal, category")


def safety_counts(m: Marts) -> dict[str, int | None]:
    """Flagged edits, edits that introduced unsafe image content (None when no edit could be judged: no
    calibrated image signal), watermark removal requests."""
    m.require("safety_flagged_edits")
    r = m.df("""select count(*) as n_flagged, count(*) filter (where unsafe_image_introduced) as n_introduced,
                       count(*) filter (where asks_watermark_removal) as n_watermark from safety_flagged_edits""").iloc[
        0
    ]
    out: dict[str, int | None] = {k: int(r[k] or 0) for k in r.index}
    sig = safety_signals(m)
    if len(sig) and "is_in_use" in sig.columns:
        img = sig[sig["signal"] != "instruction_lexicon"]
        if not img["is_in_use"].fillna(False).astype(bool).any():
            out["n_introduced"] = None
    return out


def safety_gallery(
    m: Marts, category: str | None = None, introduced_only: bool = False, limit: int = 8
) -> pd.DataFrame:
    """Edits flagged for safety (with their image ids and reasons), most reasons first."""
    m.require("safety_flagged_edits", "edits")
    params: list = []
    conds = []
    if category:
        conds.append("list_contains(s.categories, ?)")
        params.append(category)
    if introduced_only:
        conds.append("s.unsafe_image_introduced")
    where = ("where " + " and ".join(conds)) if conds else ""
    # pick the ids first (a top-N over two small columns), then the lists of those few
    ids = m.df(
        f"""select s.edit_id from safety_flagged_edits s {where}
                   order by len(s.reasons) desc, s.edit_id limit {int(limit)}""",
        params,
    )["edit_id"].tolist()
    if not ids:
        return pd.DataFrame(columns=["edit_id", "categories", "reasons", "unsafe_image_introduced"])
    ip: list = []
    pick = m.df(
        f"""select edit_id, categories, reasons, unsafe_image_introduced from safety_flagged_edits
                    where {_in("edit_id", ids, ip)}""",
        ip,
    )
    pick = pick.set_index("edit_id").loc[ids].reset_index()
    rows = rows_by_id(m, ids, example_columns(m, ("source_image_id", "target_image_id")))
    return pick.merge(rows, on="edit_id", how="left")


def safety_categories(m: Marts) -> list[str]:
    m.require("safety_slices")
    return m.df("select distinct category from safety_slices where category is not null order by 1")[
        "category"
    ].tolist()


# --- quality -----------------------------------------------------------------------------------------------------


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
    if col not in score_columns(m):
        raise ValueError(f"unknown score column {col}")
    stats = _parquet_min_max(str(m.path("edits")), m.version(), col)
    if stats is not None:  # from the Parquet footer's row-group statistics: no scan
        lo, hi = stats
    else:
        r = m.df(f'select min("{col}")::double as lo, max("{col}")::double as hi from edits').iloc[0]
        lo, hi = float(r["lo"] if pd.notna(r["lo"]) else 0.0), float(r["hi"] if pd.notna(r["hi"]) else 1.0)
    return lo, hi if hi > lo else lo + 1.0


@st.cache_data(show_spinner=False, max_entries=256)
def _parquet_min_max(path: str, version: tuple, col: str) -> tuple[float, float] | None:
    import math

    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(path).metadata
        i = md.schema.to_arrow_schema().get_field_index(col)
        if i < 0:
            return None
        lo, hi = math.inf, -math.inf
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
    """Per dataset: edits, edits passing every threshold (``col >= v`` or ``col <= v``), pass rate."""
    m.require("edits")
    valid = set(score_columns(m))
    for col, (op, v) in thresholds.items():
        if col not in valid or op not in (">=", "<="):
            raise ValueError(f"bad threshold {col} {op}")
    arrays = _score_arrays(m, tuple(sorted(thresholds)), build=False)
    if arrays is not None:  # in memory: a slider move is a few vectorised comparisons, not a scan
        return arrays.pass_counts(thresholds)
    conds, params = [], []
    for col, (op, v) in sorted(thresholds.items()):
        conds.append(f'coalesce("{col}" {op} ?, false)')
        params.append(float(v))
    cond = " and ".join(conds) or "true"
    df = m.df(
        f"select dataset, count(*) as n_edits, sum(({cond})::int)::bigint as n_pass from edits "
        "group by 1 order by 1",
        params,
    )
    df["pass_rate"] = df["n_pass"] / df["n_edits"]
    return df


def n_alignment_not_judged(m: Marts) -> int | None:
    """Edits the misaligned flag does not judge (`is_change_below_resolution`: the change is below what the
    model resolves); None for marts built before that column existed."""
    if _card_has(m, "n_change_below_resolution"):
        return int(m.df("select sum(n_change_below_resolution)::bigint as n from dataset_scorecard")["n"].iloc[0] or 0)
    if m.has("edit_quality_flags") and "is_change_below_resolution" in m.columns("edit_quality_flags"):
        return int(m.df("select count(*) filter (where is_change_below_resolution) as n from edit_quality_flags")
                   ["n"].iloc[0])
    return None


def flag_counts(m: Marts) -> pd.DataFrame:
    m.require("edit_quality_flags")
    flags = flag_columns(m)
    if not flags:
        return pd.DataFrame(columns=["flag", "n_edits", "denominator", "rate"])
    card = {f: "n_" + f.removeprefix("is_").removeprefix("has_") for f in flags}
    if _card_has(m, "n_edits", *card.values()):
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


def worst_examples(m: Marts, flag: str, limit: int = 6) -> pd.DataFrame:
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
            f'select edit_id{rsel} from edit_quality_flags where "{flag}" {ordering} limit {int(limit)}'
        )
        rows = rows_by_id(m, pick["edit_id"].tolist(), cols)
        return rows.merge(pick, on="edit_id", how="left") if reasons else rows
    return m.df(
        f"""select {_sel(cols)}{extra} from edits e join edit_quality_flags f using (edit_id)
            where f."{flag}" order by {order_sql}e.edit_id limit {int(limit)}"""
    )


# --- multi-turn --------------------------------------------------------------------------------------------------


def session_summary(m: Marts) -> pd.DataFrame:
    """Every multi-turn session: dataset, part, turns, chain breaks, its edit ids in turn order (one scan)."""
    m.require("edits")
    brk = "0"
    join = ""
    if m.has("edit_quality_flags") and "is_chain_break" in m.columns("edit_quality_flags"):
        brk = "(f.edit_id is not null)::int"
        join = "left join (select edit_id from edit_quality_flags where is_chain_break) f using (edit_id)"
    return m.df(
        f"""select e.session_id, any_value(e.dataset) as dataset, any_value(e.part) as part,
                   count(*) as n_turns, sum({brk})::bigint as n_chain_breaks
            from edits e {join} where e.session_id is not null group by e.session_id
            order by n_chain_breaks desc, e.session_id"""
    )


def sessions(
    m: Marts, only_breaks: bool = False, dataset: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """Multi-turn sessions with their turn count and chain breaks (those with breaks first)."""
    df = session_summary(m)
    if only_breaks:
        df = df[df["n_chain_breaks"] > 0]
    if dataset:
        df = df[df["dataset"] == dataset]
    return df.head(int(limit)).reset_index(drop=True)


def session_counts(m: Marts) -> dict[str, int]:
    df = session_summary(m)
    return {"n_sessions": len(df), "n_with_breaks": int((df["n_chain_breaks"] > 0).sum())}


def session_turns(m: Marts, session_id: str) -> pd.DataFrame:
    m.require("edits")
    extra = ["source_image_id", "target_image_id", *score_columns(m)]
    cols = example_columns(m, extra)
    brk = ""
    join = ""
    reason = ""
    fcols = m.columns("edit_quality_flags")
    if "is_chain_break" in fcols:
        brk = ", coalesce(f.is_chain_break, false) as is_chain_break"
        reason = ", chain_break_reason" if "chain_break_reason" in fcols else ""
        if reason:
            brk += ", f.chain_break_reason"
        join = f"left join (select edit_id, is_chain_break{reason} from edit_quality_flags where is_chain_break) f using (edit_id)"
    if _row_index(m, build=False) is not None:  # the session's edit ids are known: fetch them by row number
        hit = m.df("select edit_id from edits where session_id = ? order by turn_index", [session_id])
        if len(hit):
            ids = hit["edit_id"].tolist()
            rows = rows_by_id(m, ids, cols)
            if "is_chain_break" in fcols:  # the chain breaks are few: one cached list, merged here
                fl = m.df(
                    f"select edit_id, is_chain_break{reason} from edit_quality_flags where is_chain_break"
                )
                rows = rows.merge(fl[fl["edit_id"].isin(ids)], on="edit_id", how="left")
                rows["is_chain_break"] = rows["is_chain_break"].fillna(False).astype(bool)
            return rows.sort_values("turn_index", ignore_index=True)
    return m.df(
        f"select {_sel(cols)}{brk} from edits e {join} where e.session_id = ? order by e.turn_index",
        [session_id],
    )


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
        params.append(
            "%" + f.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
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
    return m.df(f"select {_sel(cols)} from edits e {where} limit {int(page_size)} offset {offset}", params)


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


# --- images ------------------------------------------------------------------------------------------------------


def image_refs(
    m: Marts, image_ids: Sequence[str], datasets_: Sequence[str] = (), parts_: Sequence[str] = ()
) -> dict[str, dict]:
    """image_id -> location row (``location_kind, root, path, row_group, row, column``) for the ids known.

    ``datasets_`` / ``parts_``: the datasets and parts of the edits the images belong to, when known. Until the
    warm-up's row index exists they narrow the scan to those shards (the lookup's `dataset` / `part` statistics
    prune the others): an image id is a hash of its dataset and location, so an edit's images are always in its
    own dataset; an id not found in the given parts is looked for in the whole dataset."""
    ids = sorted({i for i in image_ids if isinstance(i, str) and i})
    if not ids or not m.has("images"):
        return {}
    cols = set(m.columns("images"))
    sel = ", ".join(f'"{c}"' if c in cols else f'null as "{c}"' for c in IMAGE_LOOKUP_COLUMNS)
    idx = _row_index(m, build=False, table="images")
    loc = idx.locate(ids) if idx is not None else None
    if loc is None:  # no index yet: (file, row) of each id from a scan of the id column alone
        loc = _image_locations(m, ids, cols, datasets_, parts_)
    by_file: dict[str, list[int]] = {}
    for f, r in loc:
        by_file.setdefault(f, []).append(r)
    frames = [  # by (file, row): no scan of a lookup that can hold millions of images
        m.df(f"""select {sel} from read_parquet({_sql_str(f)}, file_row_number=true)
                 where file_row_number in ({", ".join(str(int(r)) for r in sorted(rows))})""")
        for f, rows in sorted(by_file.items())
    ]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(IMAGE_LOOKUP_COLUMNS))
    if len(df) != len(loc) or not set(df["image_id"]) <= set(ids):  # the lookup changed meanwhile: scan it
        params: list = []
        df = m.df(f"select {sel} from images where {_in('image_id', ids, params)}", params)
    out: dict[str, dict] = {}
    for rec in df.to_dict("records"):
        out.setdefault(rec["image_id"], {k: (None if pd.isna(v) else v) for k, v in rec.items()})
    return out


def _image_locations(
    m: Marts, ids: list[str], cols: set[str], datasets_: Sequence[str], parts_: Sequence[str]
) -> list[tuple[str, int]]:
    """(file, row) of each id found in the image lookup, reading only its id column (and, given the edits'
    datasets and parts, only their shards: the `dataset` / `part` statistics prune the others)."""
    files = "[" + ", ".join(_sql_str(str(p)) for p in m._image_sources()) + "]"
    src = f"read_parquet({files}, filename=true, file_row_number=true, union_by_name=true)"
    dss = sorted({d for d in datasets_ if isinstance(d, str)}) if "dataset" in cols else []
    pts = sorted({p for p in parts_ if isinstance(p, str)}) if dss and "part" in cols else []
    # an image id is a hash of its dataset and location: an edit's images are in its own dataset (usually its own
    # part too; an id not found there is looked for in the whole dataset); no hint: the whole lookup
    scopes = [(dss, pts), (dss, [])] if pts else [(dss, [])] if dss else [([], [])]
    out: list[tuple[str, int]] = []
    todo = ids
    for ds_, pt_ in scopes:
        params: list = []
        where = _in("image_id", todo, params)
        if ds_:
            where += " and " + _in("dataset", ds_, params)
        if pt_:
            where += " and " + _in("part", pt_, params)
        hit = m.df(f"select image_id, filename as f, file_row_number as r from {src} where {where}", params)
        hit = hit.drop_duplicates("image_id")
        out += [(str(f), int(r)) for f, r in zip(hit["f"], hit["r"])]
        found = set(hit["image_id"])
        todo = [i for i in todo if i not in found]
        if not todo:
            break
    return out


# --- SQL console -------------------------------------------------------------------------------------------------


def sql_console(m: Marts):
    """The read-only console over the marts present now (rebuilt when a mart changes)."""
    return _console(str(m.root), m.version())


@st.cache_resource(show_spinner=False, max_entries=4)
def _console(root: str, version: tuple):
    from dashboards.sql_console import SqlConsole

    mm = Marts(Path(root))
    return SqlConsole.over(mm.console_views())


# --- in-memory accelerators (built once per mart version) ----------------------------------------------------------


class _ScoreArrays:
    """Score columns and dataset codes of `edits` as numpy arrays, for live threshold counts."""

    def __init__(self, datasets_: list[str], codes, columns: dict):
        self.datasets, self.codes, self.columns = datasets_, codes, columns

    def pass_counts(self, thresholds: dict[str, tuple[str, float]]) -> pd.DataFrame:
        import numpy as np

        ok = np.ones(len(self.codes), dtype=bool)
        for col, (op, v) in thresholds.items():
            x = self.columns[col]
            with np.errstate(invalid="ignore"):
                ok &= (x >= v) if op == ">=" else (x <= v)  # NaN (no score) never passes
        k = len(self.datasets)
        n = np.bincount(self.codes, minlength=k)
        p = np.bincount(self.codes[ok], minlength=k)
        df = pd.DataFrame(
            {"dataset": self.datasets, "n_edits": n.astype("int64"), "n_pass": p.astype("int64")}
        )
        df = df[df["n_edits"] > 0].sort_values("dataset", ignore_index=True)
        df["pass_rate"] = df["n_pass"] / df["n_edits"]
        return df


@st.cache_resource(show_spinner=False, max_entries=8)
def _score_arrays_cached(root: str, version: tuple, cols: tuple[str, ...]) -> _ScoreArrays:
    import numpy as np
    import pyarrow.compute as pc

    mm = Marts(Path(root))
    t = mm.arrow(f"select dataset, {', '.join(chr(34) + c + chr(34) for c in cols)} from edits")
    enc = pc.dictionary_encode(t.column("dataset")).combine_chunks()
    names = enc.dictionary.to_pylist()
    order = sorted(range(len(names)), key=lambda i: str(names[i]))
    remap = np.empty(len(names), dtype=np.int32)
    remap[order] = np.arange(len(names), dtype=np.int32)
    codes = remap[enc.indices.to_numpy(zero_copy_only=False)]
    columns = {c: t.column(c).to_numpy().astype(np.float32, copy=False) for c in cols}
    return _ScoreArrays([str(names[i]) for i in order], codes, columns)


_ARRAYS_READY: set[tuple] = set()


def _score_arrays(m: Marts, cols: tuple[str, ...], build: bool = True) -> _ScoreArrays | None:
    """The score arrays when built (``build``: build them now if not; a page never waits for this)."""
    key = (str(m.root), m.version(), cols)
    if not build and key not in _ARRAYS_READY:
        return None
    try:
        arrays = _score_arrays_cached(*key)
    except (duckdb.Error, ValueError, TypeError):
        return None
    _ARRAYS_READY.add(key)
    return arrays


class _RowIndex:
    """id (16 hex digits) -> (Parquet file, row number), as sorted uint64 keys: point lookups in microseconds."""

    def __init__(self, keys, files: list[str], file_idx, rows):
        self.keys, self.files, self.file_idx, self.rows = keys, files, file_idx, rows

    def locate(self, ids: Sequence[str]) -> list[tuple[str, int]] | None:
        """(file, row) per id, or None when an id is not 16-hex or not in the index (then scan instead)."""
        import numpy as np

        try:
            q = np.array([int(i, 16) for i in ids], dtype=np.uint64)
        except (TypeError, ValueError, OverflowError):
            return None
        pos = np.minimum(np.searchsorted(self.keys, q), len(self.keys) - 1)
        if not (self.keys[pos] == q).all():
            return None
        return [(self.files[int(f)], int(r)) for f, r in zip(self.file_idx[pos], self.rows[pos])]

    def lookup(self, ids: Sequence[str]) -> list[int] | None:
        loc = self.locate(ids)
        return None if loc is None else [r for _, r in loc]


_INDEXED = {"edits": "edit_id", "images": "image_id"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _row_index_cached(root: str, version: tuple, table: str = "edits") -> _RowIndex | None:
    import numpy as np

    mm = Marts(Path(root))
    files = [str(mm.path("edits"))] if table == "edits" else [str(p) for p in mm._image_sources()]
    if not files:
        return None
    key = _INDEXED[table]
    lst = "[" + ", ".join(_sql_str(f) for f in files) + "]"
    # sorted and numbered by DuckDB, handed over as numeric arrays: building it holds the GIL only for moments,
    # so the page renders it competes with are not starved (no Python object per id)
    try:
        t = mm.arrow(f"""select try_cast(('0x' || {key}) as ubigint) as k,
                                (list_position({lst}, filename) - 1)::int as fi, file_row_number as r
                         from read_parquet({lst}, filename=true, file_row_number=true, union_by_name=true)
                         order by k, fi, r""")
    except duckdb.Error:
        return None
    k = t.column("k")
    if k.null_count or t.num_rows == 0 or t.column("fi").null_count:  # ids not 16-hex: no index, lookups scan
        return None
    keys, fidx, rows = (t.column(c).to_numpy() for c in ("k", "fi", "r"))
    return _RowIndex(keys.astype(np.uint64), files, fidx.astype(np.int32), rows)


_INDEX_STATE: dict[tuple, threading.Event] = {}
_INDEX_LOCK = threading.Lock()


def _row_index(m: Marts, build: bool = True, table: str = "edits") -> _RowIndex | None:
    """The row index of ``table`` when it is ready (``build``: build it now if it is not)."""
    key = (str(m.root), m.version(), table)
    ev = _INDEX_STATE.get(key)
    if ev is not None and ev.is_set():
        return _row_index_cached(*key)
    if build:
        idx = _row_index_cached(*key)
        with _INDEX_LOCK:
            _INDEX_STATE.setdefault(key, threading.Event()).set()
        return idx
    return None


_WARM: set[tuple] = set()


_STOP = threading.Event()
_RUNNING: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}


def _stop_warm_ups() -> None:
    """At interpreter exit: interrupt and join the warm-up threads (a DuckDB query still running in a daemon
    thread while Python tears down aborts the process)."""
    _STOP.set()
    for th, con in list(_RUNNING.items()):
        try:
            con.interrupt()
        except Exception:  # noqa: BLE001, S110 (closed already: nothing to interrupt)
            pass
        th.join(timeout=10)


import atexit

atexit.register(_stop_warm_ups)


def warm_up(m: Marts, wait: bool = False) -> threading.Thread | None:
    """Build the in-memory accelerators and prefill the caches of every page's default view, in a background
    thread started once per mart version (so the first visit of each page does not pay for it)."""
    if not m.has("edits"):
        return None
    key = (str(m.root), m.version())
    with _INDEX_LOCK:
        if key in _WARM:
            return None
        _WARM.add(key)

    def _run() -> None:
        import logging

        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
        logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
        try:  # yield the CPU to page renders: lowest priority, one DuckDB thread, its own connection
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        con = duckdb.connect(":memory:")
        con.execute("set threads to 1")
        _RUNNING[threading.current_thread()] = con
        _LOCAL.conn = _Conn(con)
        try:
            thresholds = {c: (">=" if SCORES[c][1] else "<=", v) for c, v in default_thresholds(m).items()}
        except Exception:  # noqa: BLE001 (interrupted at exit, or the marts changed: the steps do what they can)
            thresholds = {}
        steps = [
            lambda: _row_index(m, build=True),
            lambda: _row_index(m, build=True, table="images"),
            lambda: _score_arrays(m, tuple(sorted(thresholds)), build=True),
            lambda: pass_counts(m, thresholds),
            lambda: session_summary(m),
            lambda: (
                m.df(
                    "select edit_id, is_chain_break, chain_break_reason from edit_quality_flags "
                    "where is_chain_break"
                )
                if "chain_break_reason" in m.columns("edit_quality_flags")
                else None
            ),
            lambda: flag_counts(m),
            lambda: [score_range(m, c) for c in score_columns(m)],
            lambda: [worst_examples(m, flag_counts(m)["flag"].iloc[0])],
            lambda: safety_gallery(m, None, False) if m.has("safety_flagged_edits") else None,
        ]
        try:
            for step in steps:
                if _STOP.is_set():
                    break
                try:
                    step()
                except Exception:  # noqa: BLE001, S110 (a warm-up never breaks the app; pages compute on demand)
                    pass
        finally:
            _LOCAL.conn = None
            _RUNNING.pop(threading.current_thread(), None)
            con.close()

    th = threading.Thread(target=_run, name="editlens-warm-up", daemon=True)
    th.start()
    if wait:
        th.join()
    return th
