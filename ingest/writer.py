"""The canonical Parquet writer: one shard per work unit per table, each written atomically, the unit's
``ingest_runs`` shard last as its commit marker.

Crash safety (SIGKILL at any point): a shard is written to ``.tmp-*`` then renamed, so no reader ever sees a
half-written file; a unit whose marker is absent is not committed, and the next run deletes its data shards
before doing anything else (``recover``). Shards are not fsynced one by one (that cost more than the parsing
at full scale); the run ends with one ``os.sync()``. Re-ingesting a changed unit deletes its marker first, so a crash
mid-way leaves it uncommitted rather than half old, half new.
"""

from __future__ import annotations

import fcntl
import os
import signal
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.warehouse import Warehouse
from ingest import tables as T
from ingest.errors import IngestBusy


@dataclass
class KillSwitch:
    """Test hook: SIGKILL this process at the n-th write step (tmp written, renamed, marker removed...)."""

    after_steps: int | None = None
    steps: int = field(default=0)

    def step(self) -> None:
        if self.after_steps is None:
            return
        self.steps += 1
        if self.steps >= self.after_steps:
            os.kill(os.getpid(), signal.SIGKILL)


def _write_atomic(table: pa.Table, path: Path, kill: KillSwitch) -> None:
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    try:
        pq.write_table(table, tmp, compression="zstd", compression_level=1)
        kill.step()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    kill.step()


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def warehouse_lock(wh: Warehouse):
    wh.parquet_dir.mkdir(parents=True, exist_ok=True)
    fh = open(wh.parquet_dir / ".ingest.lock", "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestBusy(f"another ingest is writing to {wh.root}; wait for it to finish") from None
        yield
    finally:
        fh.close()


def recover(wh: Warehouse) -> dict[str, dict]:
    """Remove what a killed run left behind; return the committed units as {shard: ingest_runs row}."""
    for t in T.TABLES:
        d = wh.table_dir(t)
        d.mkdir(parents=True, exist_ok=True)
        for p in d.glob(".tmp-*"):
            _unlink(p)
    committed: dict[str, dict] = {}
    markers = sorted(wh.table_dir("ingest_runs").glob("*.parquet"))
    try:  # fast path: all markers in one multi-file read; any problem -> one by one below
        rows = pq.ParquetDataset([str(p) for p in markers], schema=T.INGEST_RUNS).read().to_pylist() \
            if markers else []
        if [r["shard"] for r in rows] == [p.stem for p in markers]:
            committed = {r["shard"]: r for r in rows}
            markers = []
    except Exception:  # noqa: BLE001
        committed = {}
    for p in markers:
        try:
            rows = pq.read_table(p).to_pylist()
            if len(rows) != 1:
                raise ValueError(f"{len(rows)} rows")
            committed[p.stem] = rows[0]
        except Exception:  # noqa: BLE001 - an unreadable marker means: not committed
            _unlink(p)
    for t in T.DATA_TABLES:
        for p in wh.table_dir(t).glob("*.parquet"):
            if p.stem not in committed:
                _unlink(p)
    return committed


def remove_unit(wh: Warehouse, shard: str, kill: KillSwitch | None = None) -> None:
    kill = kill or KillSwitch()
    _unlink(wh.shard_path("ingest_runs", shard))
    kill.step()
    for t in T.DATA_TABLES:
        _unlink(wh.shard_path(t, shard))


def write_unit(wh: Warehouse, shard: str, tables: dict[str, pa.Table], run_row: dict,
               kill: KillSwitch | None = None) -> None:
    kill = kill or KillSwitch()
    marker = wh.shard_path("ingest_runs", shard)
    if marker.exists():  # replacing a committed unit: uncommit it first
        _unlink(marker)
        kill.step()
    for t in T.DATA_TABLES:
        _write_atomic(tables[t], wh.shard_path(t, shard), kill)
    _write_atomic(pa.Table.from_pylist([run_row], schema=T.INGEST_RUNS), marker, kill)
