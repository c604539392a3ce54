"""The connection to the exported marts: where the warehouse is, one in-memory DuckDB view per mart, cached
queries keyed by the marts' version.

The app never touches ``DIR/editlens.duckdb``: it reads the marts dbt exports to ``DIR/marts/<mart>.parquet``
through views in an in-memory DuckDB connection, so ``dbt build`` can run (and replace the exports atomically) while
the app is open. Views are rebuilt, and cached results dropped, whenever a mart file changes (its mtime/size is part
of every cache key), so a rebuild shows up on the next rerun without a restart.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from editlens.contract.resources import DuckDBResources
from editlens.contract.resources import connect as resources_connect
from editlens.warehouse import ENV_VAR, Warehouse

# the marts the pages read (the contract with models/marts: edit here when the marts change)
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
    "image_locations",  # one row per image and part: where its bytes are (file, or Parquet row group/row/column)
    "thresholds_in_force",  # name, value, description: the thresholds seed this build used
    "people_change_slices",  # dataset x label x people change (face detector): n_edits of n_edits_faces_scored
    "edit_map",  # edit x model x space x method: 2-D point, colours, sample_key (the map page)
    "flag_precision",  # flag x dataset: reviewed verdicts -> precision, recall, Wilson intervals
    "tagged_edits",  # one row per tagged edit: the latest keep / drop / needs-review tag
    "model_label_scores",  # benchmark x setting x editing model x label x metric: coverage, mean, bootstrap CI
    "model_pairwise_differences",  # benchmark x setting x label x metric x model pair: mean difference, CI
    "prediction_outcomes",  # one row per editing model's prediction: outcome, scores, output location
    "near_duplicate_pairs",  # pairs of near-duplicate source contents: hamming, an example edit on each side
)


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
class Conn:
    con: duckdb.DuckDBPyConnection
    lock: threading.Lock = field(default_factory=threading.Lock)
    views_for: tuple = ()


LOCAL = threading.local()


APP_MEMORY = "4GB"  # the app's DuckDB memory limit unless EDITLENS_DUCKDB_MEMORY says otherwise


def open_duckdb(root: str | Path, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the contract's resources: memory limit, spill folder `DIR/tmp/duckdb` (both
    overridable by the environment, see editlens.contract.resources) and ``threads``; insertion order is kept, so
    a query without ORDER BY lists rows in mart order as before."""
    res = DuckDBResources.from_env(APP_MEMORY, threads, Warehouse(Path(root)).spill_dir)
    return resources_connect(replace(res, threads=threads, preserve_insertion_order=True))


@st.cache_resource(show_spinner=False)
def _connection(root: str) -> Conn:
    return Conn(open_duckdb(root))


def sql_str(s: str) -> str:
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
        return Warehouse(self.root).mart_path(name)

    def source(self, name: str) -> str | None:
        """The ``read_parquet`` argument of an exported mart: its file, or its per-dataset files."""
        return Warehouse(self.root).mart_source(name)

    def has(self, name: str) -> bool:
        return Warehouse(self.root).has_mart(name)

    def files(self, name: str) -> list[Path]:
        """The Parquet files of an exported mart: one, or one per dataset."""
        return Warehouse(self.root).mart_files(name)

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

        d = self.marts_dir
        files = sorted(d.glob("*.parquet")) if d.is_dir() else []
        # `tmp_<mart>.parquet` is an export being written (renamed into place when whole): never read it
        return {
            p.stem: p
            for p in files
            if re.fullmatch(r"[a-z_][a-z0-9_]*", p.stem) and not p.stem.startswith("tmp_")
        }

    def version(self) -> tuple:
        """Changes whenever a mart is rebuilt: part of every cache key."""
        out = []
        for name in sorted({*MARTS, *self.console_views()}):
            for f in self.files(name):  # one file, or one per dataset
                try:
                    s = f.stat()
                    out.append((str(f.relative_to(self.marts_dir)), s.st_mtime_ns, s.st_size))
                except FileNotFoundError:
                    pass
        return tuple(out)

    # -- queries --

    def _ensure_views(self, c: Conn, version: tuple) -> None:
        if c.views_for == version:
            return
        with c.lock:
            if c.views_for == version:
                return
            for m in MARTS:
                src = self.source(m)
                if src is not None:
                    c.con.execute(f"create or replace view {m} as select * from read_parquet({sql_str(src)})")
                else:
                    c.con.execute(f"drop view if exists {m}")
            c.views_for = version

    def _conn(self) -> Conn:
        own = getattr(LOCAL, "conn", None)  # the warm-up thread brings its own connection
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


def select_list(cols: Sequence[str], alias: str = "e") -> str:
    return ", ".join(f'{alias}."{c}"' for c in cols)


def in_list(col: str, values: Sequence[str], params: list) -> str:
    params.extend(values)
    return f"{col} in ({', '.join('?' for _ in values)})"
