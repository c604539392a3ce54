"""The warehouse folder contract shared by every stage.

    DIR/parquet/<table>/<shard>.parquet   job outputs (ingest, embed)
    DIR/editlens.duckdb                   the database dbt builds
    DIR/marts/<mart>.parquet              marts exported for lock-free readers (dashboards)

Writers never leave a half-written file under a name a reader would take: every Parquet file is written to a
hidden temporary name in the same folder (``.<name>.<random>.tmp``: it must not end in ``.parquet``, since
DuckDB's ``*.parquet`` glob also matches dotfiles), fsynced, then renamed into place (rename is atomic on POSIX).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ENV_VAR = "EDITLENS_WAREHOUSE"
DEFAULT_DIR = "warehouse"


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

    def table_dir(self, table: str) -> Path:
        return self.parquet_dir / table

    def table_glob(self, table: str) -> str:
        return str(self.table_dir(table) / "*.parquet")

    def has_table(self, table: str) -> bool:
        d = self.table_dir(table)
        return d.is_dir() and any(d.glob("*.parquet"))

    def shard_path(self, table: str, shard: str) -> Path:
        return self.table_dir(table) / f"{shard}.parquet"

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
