"""`editlens build` (dbt) killed with SIGKILL at spread-out points of a running build, then rerun: every table of
the DuckDB file and every exported mart equals an uninterrupted build's (checksums). And a build never waits on
an open dashboard: the app reads the exported marts only, never the DuckDB file.

The full sweep (11 points on a first build, one on a rebuild) runs with ``EDITLENS_KILL_SWEEP=1``; the default
run keeps two of them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bench.synthetic_warehouse import make_synthetic_warehouse
from editlens.build import BuildConfig, build
from editlens.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
FULL_SWEEP = os.environ.get("EDITLENS_KILL_SWEEP") == "1"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DONE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP)\b")


def _env() -> dict:
    # one DuckDB thread: float aggregates come out bit-identical from run to run; unbuffered: dbt's lines arrive
    # as it prints them
    return {**os.environ, "EDITLENS_DUCKDB_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _build(wh: Warehouse) -> int:
    return build(BuildConfig(warehouse=wh, dbt_args=["--quiet"], duckdb_threads=1))


def _inputs(dst: Path, src: Path) -> Warehouse:
    shutil.copytree(src / "parquet", dst / "parquet")
    return Warehouse.at(dst)


def _rounded(con, rel: str) -> str:
    """A select list of `rel`'s columns with floating-point values rounded to 10 decimals: a sum over a join
    may add the same terms in another order after a rerun (the last bit of a double, 1e-16 relative), which is
    not a different table."""
    cols = []
    for name, typ, *_ in con.sql(f"describe select * from {rel}").fetchall():
        q = '"' + name.replace('"', '""') + '"'
        if typ in ("DOUBLE", "FLOAT", "REAL"):
            cols.append(f"round({q}, 10) as {q}")
        elif typ in ("DOUBLE[]", "FLOAT[]"):
            cols.append(f"list_transform({q}, v -> round(v, 10)) as {q}")
        else:
            cols.append(q)
    return ", ".join(cols) or "*"


def _checksum(con, rel: str) -> tuple:
    return con.sql(f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) from "
                   f"(select md5(t::varchar) as h from (select {_rounded(con, rel)} from {rel}) t)").fetchone()


def checksums(root: Path) -> dict[str, tuple]:
    """(rows, md5 of the sorted row md5s) of every table in DIR/editlens.duckdb and every DIR/marts/*.parquet."""
    out = {}
    con = duckdb.connect(str(root / "editlens.duckdb"), read_only=True)
    try:
        names = con.sql("select table_schema, table_name from information_schema.tables "
                        "where table_schema not in ('information_schema', 'pg_catalog')").fetchall()
        for schema, name in names:
            out[f"db:{schema}.{name}"] = _checksum(con, f'"{schema}"."{name}"')
    finally:
        con.close()
    con = duckdb.connect()
    try:
        for p in sorted((root / "marts").glob("*.parquet")):
            out[f"mart:{p.stem}"] = _checksum(con, f"read_parquet('{p}')")
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("build-ref")
    make_synthetic_warehouse(base / "src", n_edits=150, seed=5, concepts=False)
    wh = _inputs(base / "ref", base / "src")
    assert _build(wh) == 0
    sums = checksums(wh.root)
    assert sum(1 for k in sums if k.startswith("mart:")) >= 10 and len(sums) > 100
    return {"src": base / "src", "root": wh.root, "sums": sums}


def _killed_build(root: Path, kill_after: int | str) -> tuple[int, str, int]:
    """Run `editlens build` and SIGKILL its whole process group (editlens and dbt) right after the k-th finished
    node line (or after the line containing `kill_after`, a string); returns (exit code, output, nodes done)."""
    proc = subprocess.Popen([sys.executable, "-m", "editlens.cli", "build", "--warehouse", str(root)], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines, done = [], 0
    try:
        for raw in proc.stdout:
            line = ANSI.sub("", raw)
            lines.append(line)
            m = DONE.search(line)
            if m and "hook" not in line:
                done += 1
            hit = done >= kill_after if isinstance(kill_after, int) else kill_after in line
            if hit:
                assert proc.poll() is None, "the build had already ended"
                os.killpg(proc.pid, signal.SIGKILL)
                break
        rc = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return rc, "".join(lines), done


# finished nodes after which the build is killed (of ~220: seeds, staging, intermediate, marts, tests), then
# the export hook
SWEEP = [1, 12, 30, 55, 80, 105, 130, 155, 180, 205, "exported"]
DEFAULT_POINTS = {30, "exported"}
SWEEP_ONLY = [pytest.mark.slow, pytest.mark.skipif(not FULL_SWEEP, reason="full sweep: EDITLENS_KILL_SWEEP=1")]


@pytest.mark.parametrize("kill_after", [
    pytest.param(k, marks=() if k in DEFAULT_POINTS else SWEEP_ONLY) for k in SWEEP])
def test_sigkill_mid_build_then_rerun_equals_uninterrupted(reference, tmp_path, kill_after):
    wh = _inputs(tmp_path / "wh", reference["src"])
    rc, out, done = _killed_build(wh.root, kill_after)
    assert rc == -signal.SIGKILL and "Completed successfully" not in out, out[-3000:]
    if isinstance(kill_after, int):
        assert done == kill_after
    # the nodes' "k of N" (the run hooks count themselves apart: "1 of 1 ... hook")
    total = max((int(m.group(2)) for ln in out.splitlines() if "hook" not in ln and (m := DONE.search(ln))), default=0)
    assert isinstance(kill_after, str) or kill_after < total  # killed while nodes were still to run
    assert _build(wh) == 0
    assert not list(wh.marts_dir.glob("tmp_*"))
    got = checksums(wh.root)
    assert got.keys() == reference["sums"].keys()
    assert [k for k in got if got[k] != reference["sums"][k]] == []


@pytest.mark.slow
@pytest.mark.skipif(not FULL_SWEEP, reason="full sweep: EDITLENS_KILL_SWEEP=1")
def test_sigkill_of_a_rebuild_then_rerun_equals_uninterrupted(reference, tmp_path):
    """Killed while rebuilding over a complete earlier build (the marts and the DuckDB file already there)."""
    shutil.copytree(reference["root"], tmp_path / "wh")
    wh = Warehouse.at(tmp_path / "wh")
    rc, out, _ = _killed_build(wh.root, 90)
    assert rc == -signal.SIGKILL and "Completed successfully" not in out
    assert _build(wh) == 0
    assert checksums(wh.root) == reference["sums"]


def test_build_never_waits_on_an_open_dashboard(reference, tmp_path):
    """The app holds its connection (views over the exported marts) open and queried during a whole rebuild:
    the build finishes, the app never had the DuckDB file open, and its next read sees the new export."""
    from editlens.dashboards.data.connection import MARTS, Marts

    shutil.copytree(reference["root"], tmp_path / "wh")
    wh = Warehouse.at(tmp_path / "wh")
    m = Marts(wh.root)
    before = m.version()
    n = m.query("select count(*) as n from edits")["n"].iloc[0]
    for name in MARTS:
        if m.has(name):
            m.query(f"select count(*) from {name}")
    db = os.path.realpath(wh.duckdb_path)
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    assert db not in open_files  # the app never opens DIR/editlens.duckdb
    assert _build(wh) == 0  # would fail on DuckDB's file lock if the app held the database
    assert m.version() != before  # the marts were replaced under the open app
    assert m.query("select count(*) as n from edits")["n"].iloc[0] == n
    assert checksums(wh.root) == reference["sums"]
