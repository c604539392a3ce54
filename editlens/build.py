"""`editlens build`: run `dbt build` on a warehouse, which also exports the marts to DIR/marts/*.parquet.

The dbt project is the repository root (dbt_project.yml, profiles.yml, models/, seeds/, macros/, tests/dbt/),
shipped inside the package as `editlens/dbt/` (links to those in a checkout, copies in an installed wheel) and
found with importlib.resources, so an installed `editlens build` needs no checkout. This module only points dbt
at the warehouse: it sets EDITLENS_WAREHOUSE (absolute) and DBT_PROFILES_DIR, keeps dbt's target/ and logs/ inside the
warehouse (DIR/dbt/), sizes DuckDB's memory limit from this machine unless EDITLENS_DUCKDB_MEMORY is set
(editlens/contract/resources.py: 60% of RAM; a plain `dbt build` gets the profile's fixed 5GB), and runs the
venv's `dbt build` in a subprocess. The same build works by hand:

    EDITLENS_WAREHOUSE=DIR dbt build --profiles-dir .

Exit codes: 0 success, 1 a model or test failed (dbt's own 1 and 2 both map here), 2 unusable input (no
ingested edits in the warehouse, dbt missing).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from editlens.contract.errors import UnusableInput
from editlens.contract.resources import ENV_MEMORY, ENV_TEMP, build_memory_default, ensure_spill_parent
from editlens.warehouse import ENV_VAR, Warehouse


def project_dir() -> Path:
    """The dbt project folder shipped with the package (package data `editlens/dbt/`)."""
    path = Path(str(resources.files("editlens") / "dbt"))
    if not (path / "dbt_project.yml").is_file():
        raise UnusableInput(f"the dbt project is missing from the installed package ({path}): reinstall editlens")
    return path


@dataclass(frozen=True)
class BuildConfig:
    warehouse: Warehouse
    dbt_args: list[str] = field(default_factory=list)
    command: str = "build"  # a dbt subcommand, e.g. "build", "run", "docs generate"
    project_dir: Path = field(default_factory=project_dir)
    duckdb_memory: str | None = None  # DuckDB memory_limit; else $EDITLENS_DUCKDB_MEMORY, else 60% of RAM
    duckdb_threads: int | None = None


def dbt_executable() -> str:
    """The dbt beside this Python (the venv's), else the one on PATH."""
    here = Path(sys.executable).parent / "dbt"
    if here.exists():
        return str(here)
    found = shutil.which("dbt")
    if not found:
        raise UnusableInput("dbt is not installed (pip install dbt-duckdb)")
    return found


def macros_checksum(project: Path) -> str:
    """sha1 over the project's macro files: part of every incremental model's fingerprint (macros/incremental.sql),
    so a macro edit rebuilds the incremental models in full, as a model or seed edit does."""
    h = hashlib.sha1()
    macros = project / "macros"
    for p in sorted(macros.rglob("*.sql")) if macros.is_dir() else []:
        h.update(str(p.relative_to(macros)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def dbt_command(cfg: BuildConfig) -> tuple[list[str], dict[str, str]]:
    """The dbt command line and environment for a build of ``cfg.warehouse``."""
    wh = cfg.warehouse.resolved()
    dbt_dir = wh.root / "dbt"
    cmd = [
        dbt_executable(),
        *cfg.command.split(),
        "--project-dir", str(cfg.project_dir),
        "--profiles-dir", str(cfg.project_dir),
        "--target-path", str(dbt_dir / "target"),
        "--log-path", str(dbt_dir / "logs"),
        *cfg.dbt_args,
    ]
    env = dict(os.environ)
    env[ENV_VAR] = str(wh.root)
    env["DBT_PROFILES_DIR"] = str(cfg.project_dir)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("EDITLENS_MACROS_CHECKSUM", macros_checksum(cfg.project_dir))
    if cfg.duckdb_memory:
        env[ENV_MEMORY] = cfg.duckdb_memory
    elif not env.get(ENV_MEMORY):
        env[ENV_MEMORY] = build_memory_default()  # sized from this machine, not profiles.yml's fixed 5GB
    if cfg.duckdb_threads:
        env["EDITLENS_DUCKDB_THREADS"] = str(cfg.duckdb_threads)
    return cmd, env


def check_warehouse(wh: Warehouse) -> None:
    if not wh.root.is_dir():
        raise UnusableInput(f"warehouse {wh.root} does not exist: run `editlens ingest` first")
    if not wh.has_table("edits"):
        raise UnusableInput(f"no ingested edits under {wh.table_dir('edits')}: run `editlens ingest` first")


def remove_stale_exports(wh: Warehouse) -> int:
    """Delete `tmp_*.parquet` left in DIR/marts (or in a mart's per-dataset folder) by an export that was killed
    mid-write."""
    n = 0
    if wh.marts_dir.is_dir():
        for p in [*wh.marts_dir.glob("tmp_*.parquet"), *wh.marts_dir.glob("*.parquet/tmp_*.parquet")]:
            p.unlink(missing_ok=True)
            n += 1
    return n


def build(cfg: BuildConfig) -> int:
    wh = cfg.warehouse.resolved()
    check_warehouse(wh)
    wh.ensure()
    remove_stale_exports(wh)
    cmd, env = dbt_command(cfg)
    ensure_spill_parent(env.get(ENV_TEMP) or wh.spill_dir)  # profiles.yml's temp_directory
    rc = subprocess.run(cmd, cwd=str(cfg.project_dir), env=env).returncode
    return 0 if rc == 0 else 1


def run_build(warehouse: Warehouse, extra_dbt_args: list[str] | None = None) -> int:
    """Entry point of `editlens build`: `dbt build` on ``warehouse`` plus the marts export; returns an exit code."""
    return build(BuildConfig(warehouse=warehouse, dbt_args=list(extra_dbt_args or [])))
