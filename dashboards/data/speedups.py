"""In-memory speed-ups, built once per mart version: the edit-id and image-id row indexes (id -> file and row
number) and numpy arrays of the threshold scores. A page never waits for them: until they are built it runs the
plain queries (``build=False``). ``editlens.dashboards.data.warmup`` builds them in the background; ``clear()`` forgets
them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from editlens.dashboards.data.connection import Marts, sql_str


class _ScoreArrays:
    """Score columns and dataset codes of `edits` as numpy arrays, for live threshold counts."""

    def __init__(self, datasets_: list[str], codes, columns: dict):
        self.datasets, self.codes, self.columns = datasets_, codes, columns

    def pass_counts(self, thresholds: dict[str, tuple[str, float]]) -> pd.DataFrame:
        import numpy as np

        ok = np.ones(len(self.codes), dtype=bool)
        judged = np.ones(len(self.codes), dtype=bool)
        for col, (op, v) in thresholds.items():
            x = self.columns[col]
            judged &= ~np.isnan(x)
            with np.errstate(invalid="ignore"):
                ok &= (x >= v) if op == ">=" else (x <= v)  # NaN (no score) never passes
        k = len(self.datasets)
        n = np.bincount(self.codes, minlength=k)
        j = np.bincount(self.codes[judged], minlength=k)
        p = np.bincount(self.codes[ok], minlength=k)
        df = pd.DataFrame(
            {
                "dataset": self.datasets,
                "n_edits": n.astype("int64"),
                "n_judged": j.astype("int64"),
                "n_pass": p.astype("int64"),
            }
        )
        df = df[df["n_edits"] > 0].sort_values("dataset", ignore_index=True)
        df["pass_rate"] = df["n_pass"] / df["n_judged"].where(df["n_judged"] > 0)
        df["n_not_judged"] = df["n_edits"] - df["n_judged"]
        return df


@st.cache_resource(show_spinner=False, max_entries=8)
def _score_arrays_cached(root: str, version: tuple, cols: tuple[str, ...]) -> _ScoreArrays:
    import numpy as np
    import pyarrow.compute as pc

    from editlens.dashboards.data.columns import score_sql

    mm = Marts(Path(root))
    t = mm.arrow(f"select dataset, {', '.join(score_sql(mm, c) + ' as ' + chr(34) + c + chr(34) for c in cols)} from edits")
    enc = pc.dictionary_encode(t.column("dataset")).combine_chunks()
    names = enc.dictionary.to_pylist()
    order = sorted(range(len(names)), key=lambda i: str(names[i]))
    remap = np.empty(len(names), dtype=np.int32)
    remap[order] = np.arange(len(names), dtype=np.int32)
    codes = remap[enc.indices.to_numpy(zero_copy_only=False)]
    # float64, as the marts compare: a float32 copy would move scores a hair from the seeded threshold across it
    columns = {c: t.column(c).to_numpy(zero_copy_only=False).astype(np.float64, copy=False) for c in cols}
    return _ScoreArrays([str(names[i]) for i in order], codes, columns)


_ARRAYS_READY: set[tuple] = set()


def score_arrays(m: Marts, cols: tuple[str, ...], build: bool = True) -> _ScoreArrays | None:
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


_INDEXED = {"edits": "edit_id", "image_locations": "image_id"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _row_index_cached(root: str, version: tuple, table: str = "edits") -> _RowIndex | None:
    import numpy as np

    mm = Marts(Path(root))
    if not mm.has(table):
        return None
    files = [str(f) for f in mm.files(table)]  # one file, or one per dataset
    key = _INDEXED[table]
    lst = "[" + ", ".join(sql_str(f) for f in files) + "]"
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


def row_index(m: Marts, build: bool = True, table: str = "edits") -> _RowIndex | None:
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


def clear() -> None:
    """Forget which indexes and arrays are ready (the next lookups scan until they are rebuilt)."""
    with _INDEX_LOCK:
        _INDEX_STATE.clear()
        _ARRAYS_READY.clear()
