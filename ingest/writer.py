"""The canonical Parquet writer: one shard per work unit per table, published together.

Protocol for one unit (crash-safe under SIGKILL at any point):

1. each table's shard is written to a hidden temporary file, then renamed to a hidden pending name
   ``<table>/.pending-<shard>.parq`` (neither name matches ``*.parquet``, and DuckDB globs do match dotfiles,
   so no temporary or pending name ends in ``.parquet``);
2. the commit point: a journal file ``parquet/.commit-<shard>`` appears (atomic rename);
3. publish: each pending file is renamed over ``<table>/<shard>.parquet``, the ``ingest_runs`` shard (the
   unit's commit marker) last; then the journal is removed.

On startup (``recover``) a journal left by a killed run is rolled forward (its remaining pending files are
published), pending files without a journal and ``.tmp-*`` files are deleted, and a data shard without a marker
is deleted. So a killed run never exposes a half-written file, never exposes a unit before its commit point,
and the next run ends in exactly the state an uninterrupted run would have produced. Shards are not fsynced one
by one (that cost more than the parsing at full scale); the run ends with one ``os.sync()``.
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

from editlens.contract import tables as T
from editlens.contract.errors import UnusableInput
from editlens.warehouse import Warehouse


class IngestBusy(UnusableInput):
    """Another ingest holds the warehouse lock."""


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


# Columns of (nearly) unique values: dictionary encoding and min/max statistics cost more to write than they
# give readers (the encoder tries a dictionary first and falls back to plain pages for such columns).
HIGH_CARDINALITY = frozenset(("edit_id", "source_image_id", "target_image_id", "mask_image_id", "image_id",
                              "instruction", "instruction_ori", "source_caption", "target_caption", "path",
                              "message", "raw", "checksum"))


# Hex ids: LZ4 saves ~10% of their size and costs more to write than any other column.
UNCOMPRESSED = frozenset(("edit_id", "source_image_id", "target_image_id", "mask_image_id", "image_id"))


def _write_atomic(table: pa.Table, path: Path, kill: KillSwitch) -> None:
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}.partial"
    low = [c for c in table.column_names if c not in HIGH_CARDINALITY]
    compression = {c: "none" if c in UNCOMPRESSED else "lz4" for c in table.column_names}  # LZ4_RAW: cheapest
    try:
        pq.write_table(table, tmp, compression=compression, use_dictionary=low, write_statistics=low)
        kill.step()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    kill.step()


def _pending(wh: Warehouse, table: str, shard: str) -> Path:
    return wh.table_dir(table) / f".pending-{shard}.parq"


def _journal(wh: Warehouse, shard: str) -> Path:
    return wh.parquet_dir / f".commit-{shard}"


def _publish(wh: Warehouse, shard: str, kill: KillSwitch) -> None:
    for t in T.INGEST_TABLES:  # data tables first, the ingest_runs marker last
        p = _pending(wh, t, shard)
        if p.exists():
            os.replace(p, wh.shard_path(t, shard))
            kill.step()
    _unlink(_journal(wh, shard))
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
    """Finish or undo what a killed run left behind; return the committed units as {shard: ingest_runs row}."""
    for t in T.INGEST_TABLES:
        wh.table_dir(t).mkdir(parents=True, exist_ok=True)
    for p in wh.parquet_dir.glob(".tmp-*"):
        _unlink(p)
    for j in sorted(wh.parquet_dir.glob(".commit-*")):  # past the commit point: roll forward
        _publish(wh, j.name[len(".commit-"):], KillSwitch())
    for t in T.INGEST_TABLES:
        for p in list(wh.table_dir(t).glob(".tmp-*")) + list(wh.table_dir(t).glob(".pending-*")):
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
    for t in T.INGEST_DATA_TABLES:
        for p in wh.table_dir(t).glob("*.parquet"):
            if p.stem not in committed:
                _unlink(p)
    return committed


def remove_unit(wh: Warehouse, shard: str, kill: KillSwitch | None = None) -> None:
    kill = kill or KillSwitch()
    _unlink(wh.shard_path("ingest_runs", shard))
    kill.step()
    for t in T.INGEST_DATA_TABLES:
        _unlink(wh.shard_path(t, shard))


def write_unit(wh: Warehouse, shard: str, tables: dict[str, pa.Table], run_row: dict,
               kill: KillSwitch | None = None) -> None:
    """Write the unit's four shards as pending files, commit (journal), publish."""
    kill = kill or KillSwitch()
    tables = dict(tables, ingest_runs=pa.Table.from_pylist([run_row], schema=T.INGEST_RUNS))
    for t in T.INGEST_TABLES:
        _write_atomic(tables[t], _pending(wh, t, shard), kill)
    j = _journal(wh, shard)
    tmp = j.with_name(f".tmp-{uuid.uuid4().hex}-{j.name}")
    tmp.write_text(shard)
    os.replace(tmp, j)
    kill.step()
    _publish(wh, shard, kill)
