"""The warehouse folder contract shared by every stage.

    DIR/parquet/<table>/<shard>.parquet   job outputs (ingest, embed)
    DIR/editlens.duckdb                   the database dbt builds
    DIR/marts/<mart>.parquet              marts exported for lock-free readers (dashboards): one file, or for
                                          the per-edit marts a folder of one file per dataset
                                          (``dataset-<url-encoded name>.parquet``; see `mart_source`)

Writers never leave a half-written file under a name a reader would take: every Parquet file is written to a
hidden temporary name in the same folder (``.<name>.<random>.tmp``: it must not end in ``.parquet``, since
DuckDB's ``*.parquet`` glob also matches dotfiles), fsynced, then renamed into place (rename is atomic on POSIX).

One writing command at a time: `job_lock` (``DIR/.editlens.lock``) makes a second ingest, embed, predictions or
build on the same warehouse wait for the first, with a message saying which command holds it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract.errors import UnusableInput

ENV_VAR = "EDITLENS_WAREHOUSE"


class WarehouseBusy(UnusableInput):
    """Another editlens command holds the warehouse lock (`job_lock` with ``wait=False``)."""


DEFAULT_DIR = "warehouse"

# the files of a mart exported per dataset (macros/export_marts.sql)
MART_PART_GLOB = "dataset-*.parquet"


def default_warehouse_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


@dataclass(frozen=True)
class Warehouse:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> "Warehouse":
        return cls(Path(root) if root is not None else default_warehouse_dir()).resolved()

    def resolved(self) -> "Warehouse":
        return Warehouse(self.root.expanduser().resolve())

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def duckdb_path(self) -> Path:
        return self.root / "editlens.duckdb"

    @property
    def marts_dir(self) -> Path:
        return self.root / "marts"

    def mart_path(self, name: str) -> Path:
        """``DIR/marts/<name>.parquet``: a file, or a folder of per-dataset files (the per-edit marts, so that a
        build rewrites only the datasets it changed)."""
        return self.marts_dir / f"{name}.parquet"

    def has_mart(self, name: str) -> bool:
        return self.mart_source(name) is not None

    def mart_source(self, name: str) -> str | None:
        """What to pass to DuckDB's ``read_parquet`` for an exported mart (None when it is not there): the file,
        or the folder's ``dataset-*.parquet`` files (never a ``tmp_`` file an export is writing)."""
        if not self.mart_files(name):
            return None
        p = self.mart_path(name)
        return str(p) if p.is_file() else str(p / MART_PART_GLOB)

    def mart_files(self, name: str) -> list[Path]:
        """The files an exported mart reads from (empty when it is not there)."""
        p = self.mart_path(name)
        if p.is_file():
            return [p]
        return sorted(p.glob(MART_PART_GLOB)) if p.is_dir() else []

    def table_dir(self, table: str) -> Path:
        return self.parquet_dir / table

    def table_glob(self, table: str) -> str:
        return str(self.table_dir(table) / "*.parquet")

    def has_table(self, table: str) -> bool:
        d = self.table_dir(table)
        return d.is_dir() and any(d.glob("*.parquet"))

    def shard_path(self, table: str, shard: str) -> Path:
        return self.table_dir(table) / f"{shard}.parquet"

    @property
    def spill_dir(self) -> Path:
        """DuckDB's default spill folder for this warehouse (editlens.contract.resources, profiles.yml)."""
        return self.root / "tmp" / "duckdb"

    def ensure(self) -> "Warehouse":
        self.parquet_dir.mkdir(parents=True, exist_ok=True)
        self.marts_dir.mkdir(parents=True, exist_ok=True)
        return self


def atomic_write_table(table: pa.Table, path: Path, compression: str = "zstd") -> Path:
    """Write ``table`` to ``path`` so that readers see either the old file, or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, compression=compression)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_stale_temporaries(folder: Path) -> int:
    """Delete ``.*.tmp`` leftovers of a killed writer; returns how many were removed."""
    n = 0
    if folder.is_dir():
        for p in folder.rglob(".*.tmp"):
            try:
                p.unlink()
                n += 1
            except FileNotFoundError:
                pass
    return n


# ---------------------------------------------------------------------------------------------------------
# one writing command at a time per warehouse

LOCK_FILE = ".editlens.lock"  # DIR/.editlens.lock: held (flock) by the command writing to the warehouse
_HELD: set[str] = set()  # warehouses this process holds, so a command run inside another does not wait on itself


@contextmanager
def job_lock(wh: Warehouse, command: str, wait: bool = True, say=None):
    """Hold the warehouse's command lock for the `with` block: `editlens ingest`, `embed`, `predictions` and
    `build` (and the demo's stages) take it, so two of them on one warehouse run one after the other. A command
    that finds it held says who holds it (command, pid, since when) through `say` (default: stderr) and waits
    (``wait=False``: raises `WarehouseBusy`). The lock is an advisory `flock`: a killed holder releases it at
    once, and the next command simply goes on. Readers (the dashboards, `editlens export`) never take it."""
    root = wh.resolved().root
    root.mkdir(parents=True, exist_ok=True)
    key = str(root)
    if key in _HELD:
        yield
        return
    fh = open(root / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another editlens command"
            msg = f"warehouse {root} is in use by {holder}"
            if not wait:
                raise WarehouseBusy(f"{msg}; try again when it has finished") from None
            (say or (lambda m: print(m, file=sys.stderr, flush=True)))(
                f"{msg}; waiting for it to finish (Ctrl-C to stop waiting)")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"`editlens {command}` (pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        fh.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fh.seek(0)
            fh.truncate()
            fh.flush()
    finally:
        fh.close()  # closing the file releases the flock
