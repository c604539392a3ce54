"""Two commands on one warehouse: the second waits on the warehouse lock with a message naming the first, then
runs; a killed holder frees it at once; `dbt build` never waits on an open dashboard (it reads exported marts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from editlens.warehouse import Warehouse, WarehouseBusy, job_lock

REPO = Path(__file__).resolve().parents[1]

HOLDER = r"""
import sys, time
from pathlib import Path
from editlens.warehouse import Warehouse, job_lock
root = Path(sys.argv[1])
with job_lock(Warehouse(root), "embed"):
    print("HELD", flush=True)
    while not (root / "release").exists():
        time.sleep(0.05)
print("RELEASED", flush=True)
"""


def _holder(root: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "HELD"
    return p


def _wait_for_line(path: Path, needle: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        assert proc.poll() is None, f"the second command ended instead of waiting: {text}"
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} in {path.read_text() if path.exists() else ''!r}")


def test_second_command_waits_with_a_clear_message(tmp_path):
    root = tmp_path / "wh"
    holder = _holder(root)
    err = tmp_path / "err.txt"
    with open(err, "w") as fh:
        second = subprocess.Popen([sys.executable, "-m", "editlens.cli", "build", "--warehouse", str(root)],
                                  cwd=REPO, stderr=fh, stdout=subprocess.DEVNULL)
    try:
        text = _wait_for_line(err, "waiting for it to finish", second)
        assert f"warehouse {root.resolve()} is in use by `editlens embed` (pid {holder.pid}, since " in text
        time.sleep(1.0)
        assert second.poll() is None  # still waiting while the first holds the lock
        (root / "release").write_text("")
        assert holder.wait(30) == 0
        assert second.wait(120) == 2  # then it ran: this warehouse has nothing ingested (exit 2, one line)
        assert "no ingested edits" in err.read_text()
    finally:
        for p in (holder, second):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_killed_holder_frees_the_lock_at_once(tmp_path):
    root = tmp_path / "wh"
    holder = _holder(root)
    with pytest.raises(WarehouseBusy) as ei:
        with job_lock(Warehouse(root), "build", wait=False):
            pass
    assert f"pid {holder.pid}" in str(ei.value)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    with job_lock(Warehouse(root), "build", wait=False):  # no stale lock to clean up
        assert "`editlens build`" in (root / ".editlens.lock").read_text()
    assert (root / ".editlens.lock").read_text() == ""


def test_a_command_inside_another_does_not_wait_on_itself(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    with job_lock(wh, "demo (build)"):
        with job_lock(wh, "build", wait=False):
            pass
        assert "demo (build)" in (wh.root / ".editlens.lock").read_text()


def test_two_ingests_from_the_cli_run_one_after_the_other(tmp_path):
    """The CLI's ingest takes the warehouse lock before ingest's own: a second one waits instead of failing."""
    from fixtures_ingest import seed_repo

    seed_repo(tmp_path / "seed")
    root = tmp_path / "wh"
    holder = _holder(root)
    err = tmp_path / "err.txt"
    with open(err, "w") as fh:
        second = subprocess.Popen([sys.executable, "-m", "editlens.cli", "ingest", str(tmp_path / "seed"),
                                   "--warehouse", str(root), "--workers", "1"], cwd=REPO, stderr=fh,
                                  stdout=subprocess.DEVNULL)
    try:
        _wait_for_line(err, "waiting for it to finish", second)
        (root / "release").write_text("")
        holder.wait(30)
        assert second.wait(300) == 0, err.read_text()
    finally:
        for p in (holder, second):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert list((root / "parquet" / "edits").glob("*.parquet"))
