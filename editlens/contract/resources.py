"""DuckDB resource settings, one definition for the dbt profile and the jobs' connections.

Every connection the project opens on warehouse-sized data runs with a memory limit, a spill folder and
`preserve_insertion_order = false`, so a big build or plan spills to disk instead of dying. Defaults per caller
(the dbt build through `editlens build`: 60% of this machine's memory, see `build_memory_default`; a plain `dbt build`:
the profile's 5GB; the dashboards and the export 4GB; the embed plan 2GB), each overridable by the environment:

| variable | DuckDB setting | default |
|---|---|---|
| `EDITLENS_DUCKDB_MEMORY` | `memory_limit` | the caller's (`editlens build`: 60% of RAM; plain dbt: 5GB) |
| `EDITLENS_DUCKDB_THREADS` | `threads` | the caller's (dbt: 2) |
| `EDITLENS_DUCKDB_TEMP` | `temp_directory` (spill folder) | `DIR/tmp/duckdb` |
| `EDITLENS_DUCKDB_MAX_TEMP` | `max_temp_directory_size` | DuckDB's (90% of the free disk) |

`profiles.yml` reads the first three (its temp default: `$EDITLENS_WAREHOUSE/tmp/duckdb`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

ENV_MEMORY = "EDITLENS_DUCKDB_MEMORY"
ENV_THREADS = "EDITLENS_DUCKDB_THREADS"
ENV_TEMP = "EDITLENS_DUCKDB_TEMP"
ENV_MAX_TEMP = "EDITLENS_DUCKDB_MAX_TEMP"

BUILD_MEMORY_SHARE = 0.6  # of physical memory (or of the cgroup's limit, when lower) for `editlens build`
BUILD_MEMORY_FALLBACK = "5GB"  # when the machine's memory cannot be read; also profiles.yml's own default


def physical_memory_bytes() -> int | None:
    """This machine's memory in bytes, or the container's cgroup limit when that is lower; None when unknown."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0 and (total is None or int(text) < total):
            total = int(text)
    return total if total and total > 0 else None


def build_memory_default(total_bytes: int | None = None, share: float = BUILD_MEMORY_SHARE) -> str:
    """DuckDB's memory_limit for `editlens build`: ``share`` of the machine's memory, in whole MB (at least 1GB).

    A fixed limit does not scale: at 20M edits the `edits` and `edit_map` marts' joins and sorts need about 5x what
    they need at 3.77M, and under the old fixed 5GB the spill grew past the free disk. The rest of the memory is
    left to the dbt process, DuckDB's allocations outside its buffer pool and the page cache."""
    total = physical_memory_bytes() if total_bytes is None else total_bytes
    if not total:
        return BUILD_MEMORY_FALLBACK
    return f"{max(1024, int(total * share / 2**20))}MB"


@dataclass(frozen=True)
class DuckDBResources:
    memory_limit: str = "5GB"
    threads: int | None = None
    temp_directory: str | None = None
    max_temp_directory_size: str | None = None
    preserve_insertion_order: bool = False

    @classmethod
    def from_env(cls, memory_limit: str = "5GB", threads: int | None = None,
                 temp_directory: str | Path | None = None) -> DuckDBResources:
        """The caller's defaults, each replaced by its environment variable when set."""
        env = os.environ
        t = env.get(ENV_THREADS)
        return cls(
            memory_limit=env.get(ENV_MEMORY) or memory_limit,
            threads=int(t) if t else threads,
            temp_directory=env.get(ENV_TEMP) or (str(temp_directory) if temp_directory else None),
            max_temp_directory_size=env.get(ENV_MAX_TEMP) or None,
        )

    def statements(self) -> list[str]:
        out = [f"set memory_limit = '{self.memory_limit}'",
               f"set preserve_insertion_order = {'true' if self.preserve_insertion_order else 'false'}"]
        if self.threads:
            out.append(f"set threads = {int(self.threads)}")
        if self.temp_directory:
            out.append("set temp_directory = '{}'".format(str(self.temp_directory).replace("'", "''")))
        if self.max_temp_directory_size:
            out.append(f"set max_temp_directory_size = '{self.max_temp_directory_size}'")
        return out

    def apply(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        if self.temp_directory:
            ensure_spill_parent(self.temp_directory)
        for stmt in self.statements():
            con.execute(stmt)
        return con


def ensure_spill_parent(temp_directory: str | Path) -> None:
    """Create the spill folder's parent: DuckDB creates the folder itself when it first spills, but not its
    parents, and a spill that cannot create its folder fails the query. A read-only place is left as it is
    (a query that never spills still runs)."""
    try:
        Path(temp_directory).parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass


def connect(resources: DuckDBResources, database: str = ":memory:", read_only: bool = False):
    """A DuckDB connection with ``resources`` applied."""
    return resources.apply(duckdb.connect(database, read_only=read_only))
