"""Reruns and interruptions: a rerun changes nothing, a changed or new file is ingested alone, and a run killed
with SIGKILL at any write step and then rerun leaves exactly the tables of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fixtures_ingest import ingest, seed_repo, snapshot, table, write_lines

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def parquet_files(wh: Path) -> dict[str, float]:
    return {str(p.relative_to(wh)): p.stat().st_mtime_ns for p in (wh / "parquet").rglob("*.parquet")}


def test_rerun_changes_nothing(tmp_path):
    seed_repo(tmp_path / "seed")
    s1 = ingest(tmp_path / "seed", tmp_path / "wh", workers=1)
    before_files, before = parquet_files(tmp_path / "wh"), {t: table(tmp_path / "wh", t) for t in
                                                          ("edits", "images", "rejects", "ingest_runs")}
    s2 = ingest(tmp_path / "seed", tmp_path / "wh", workers=1)
    assert len(s2.ingested) == 0 and len(s2.unchanged) == len(s1.ingested) == 5
    assert parquet_files(tmp_path / "wh") == before_files
    assert {t: table(tmp_path / "wh", t) for t in before} == before
    assert "5 unchanged" in s2.describe() and s2.warehouse_edits == s1.records_loaded


def test_worker_processes_take_every_unit_exactly_once(tmp_path, monkeypatch):
    """With --workers 3 the three worker processes take every unit and this process none: every unit ingested
    exactly once, the same tables as one process, results in unit order."""
    import editlens.ingest.main as ingest_main

    ann = tmp_path / "seed" / "SEED-Data-Edit-Part1-Openimages" / "auto_editing/openimages/annotations"
    for f in range(24):
        write_lines(ann / f"split_{f:04d}.jsonl", [
            {"source_image": f"source_images/{f}_{k}.jpg", "target_image": f"target_images/{f}_{k}.jpg",
             "instruction": f"make it {f} {k}"} for k in range(1 + f % 5)])
    write_lines(ann / "split_0099.jsonl", [{"source_image": "source_images/x.jpg", "instruction": "no target"}])
    one = ingest(tmp_path / "seed", tmp_path / "one", workers=1)
    here: list[str] = []
    real = ingest_main.process_unit

    def counted(unit, *args, **kw):
        here.append(unit.source_file)
        return real(unit, *args, **kw)

    monkeypatch.setattr(ingest_main, "process_unit", counted)
    three = ingest(tmp_path / "seed", tmp_path / "three", workers=3)
    assert snapshot(tmp_path / "three") == snapshot(tmp_path / "one")
    assert [f.source_file for f in three.files] == [f.source_file for f in one.files] == sorted(
        f"auto_editing/openimages/annotations/split_{f:04d}.jsonl" for f in [*range(24), 99])
    assert [f.status for f in three.files] == ["ingested"] * 25
    assert (three.records_loaded, three.records_rejected) == (one.records_loaded, one.records_rejected) == (70, 1)
    assert here == []  # the workers' calls are counted in their own memory: this process took none


def test_changed_or_new_file_is_ingested_alone(tmp_path):
    facts = seed_repo(tmp_path / "seed")
    s1 = ingest(tmp_path / "seed", tmp_path / "wh", workers=1)
    run1 = s1.run_id
    p2 = facts["p23"] / "real_editing/annotations/split_0001.jsonl"
    write_lines(p2, [{"source_image": "images/7_0.jpg", "target_image": "images/7_1.jpg", "instruction": "new one",
                      "task_type": ["object-add"]},
                     {"source_image": "images/8_0.jpg", "target_image": "images/8_1.jpg", "instruction": "two"}])
    write_lines(facts["p23"] / "real_editing/annotations/split_0002.jsonl",
                [{"source_image": "images/9_0.jpg", "target_image": "images/9_1.jpg", "instruction": "third"}])
    s2 = ingest(tmp_path / "seed", tmp_path / "wh", workers=1)
    assert sorted(f.source_file for f in s2.ingested) == ["real_editing/annotations/split_0001.jsonl",
                                                          "real_editing/annotations/split_0002.jsonl"]
    assert len(s2.unchanged) == 5 - 1
    edits = table(tmp_path / "wh", "edits")
    part2 = sorted(e["instruction"] for e in edits if e["part"] == "part2")
    assert part2 == ["new one", "third", "two"]  # the old record of the changed file is gone, nothing doubled
    assert {e["ingest_run_id"] for e in edits if e["part"] != "part2"} == {run1}
    assert {e["ingest_run_id"] for e in edits if e["part"] == "part2"} == {s2.run_id}
    assert len(edits) == len({e["edit_id"] for e in edits})
    assert len(table(tmp_path / "wh", "ingest_runs")) == 6
    assert (s2.warehouse_edits, s2.warehouse_rejects) == (len(edits), len(table(tmp_path / "wh", "rejects")))


def _killed_run(src: Path, wh: Path, steps: int) -> int:
    code = ("import sys; sys.path[:0] = [%r, %r]\n"
            "from fixtures_ingest import ingest\n"
            "ingest(%r, %r, workers=1, kill_after_steps=%d)\n") % (str(TESTS), str(REPO), str(src), str(wh), steps)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=120).returncode


def _small_repo(base: Path) -> Path:
    write_lines(base / "real_editing/annotations/split_0001.jsonl",
                [{"source_image": f"images/{i}_0.jpg", "target_image": f"images/{i}_1.jpg", "instruction": f"e{i}",
                  "task_type": ["object-add"]} for i in range(5)] + ["{bad"])
    write_lines(base / "multi_turn_editing/annotations/split_0001.jsonl",
                [{"source_image": "d/a.jpg", "instruction_1": "x", "edit_image_1": "d/a1.jpg",
                  "instruction_2": "y", "edit_image_2": "d/a2.jpg"}])
    return base


STEPS_PER_UNIT = 4 * 2 + 1 + 4 + 1  # 4 shards x (tmp written, renamed to pending), journal, 4 publishes, journal gone


def test_sigkill_at_every_write_step_then_rerun_equals_uninterrupted(tmp_path):
    src = _small_repo(tmp_path / "seed")
    ingest(src, tmp_path / "ref", workers=1)
    want = snapshot(tmp_path / "ref")
    steps_per_run = 2 * STEPS_PER_UNIT
    for k in list(range(1, STEPS_PER_UNIT + 2)) + [steps_per_run - 5, steps_per_run]:
        wh = tmp_path / f"wh{k}"
        rc = _killed_run(src, wh, k)
        assert rc == -signal.SIGKILL, (k, rc)
        visible = list((wh / "parquet").rglob("*.parquet"))
        if k <= 9:  # before the first unit is published nothing is visible to `*.parquet` readers
            assert visible == [], k
        for p in visible:
            pq.read_table(p)  # never a half-written file
        s = ingest(src, wh, workers=1)
        assert snapshot(wh) == want, k
        assert not [p for p in (wh / "parquet").rglob("*") if p.name.startswith((".tmp-", ".pending-", ".commit-"))]
        assert s.warehouse_edits == 7
    assert _killed_run(src, tmp_path / "whall", steps_per_run + 1) == 0  # the run really has that many steps


def test_sigkill_while_replacing_a_changed_file(tmp_path):
    src = _small_repo(tmp_path / "seed")
    ref, f = tmp_path / "ref", src / "real_editing/annotations/split_0001.jsonl"
    for k in (1, 2, 7, 8, 9, 10, 12, 13, 14):  # before the commit point, at it, while publishing, after
        wh = tmp_path / f"wh{k}"
        write_lines(f, [{"source_image": "images/1_0.jpg", "target_image": "images/1_1.jpg", "instruction": "a"}])
        ingest(src, wh, workers=1)
        write_lines(f, [{"source_image": "images/2_0.jpg", "target_image": "images/2_1.jpg", "instruction": "b"},
                        {"source_image": "images/3_0.jpg", "target_image": "images/3_1.jpg", "instruction": "c"}])
        if k == 1:
            ingest(src, ref, workers=1)
        assert _killed_run(src, wh, k) == -signal.SIGKILL
        ingest(src, wh, workers=1)
        assert snapshot(wh) == snapshot(ref), k
        assert sorted(e["instruction"] for e in table(wh, "edits") if e["part"] == "part2") == ["b", "c"]


@pytest.mark.slow
def test_cli_killed_at_random_times_with_worker_processes(tmp_path):
    """Killed CLI runs never leave a half-written file or an uncommitted unit visible to `*.parquet` readers."""
    src = tmp_path / "seed"
    for n in range(12):
        write_lines(src / f"auto_editing/openimages/annotations/split_{n:04d}.jsonl",
                    [{"source_image": f"source_images/{n}_{i}.jpg", "target_image": f"target_images/{n}_{i}.jpg",
                      "instruction": f"edit {n} {i}"} for i in range(3000)] + ["not json"])
    ingest(src, tmp_path / "ref", workers=2)
    want = snapshot(tmp_path / "ref")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = random.Random(7)
    for trial in range(2):
        wh = tmp_path / f"wh{trial}"
        proc = subprocess.Popen([sys.executable, "-m", "editlens.cli", "ingest", str(src), "--warehouse", str(wh),
                                 "--workers", "2"], cwd=REPO, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 4.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, all at once
        proc.wait()
        for p in (wh / "parquet").rglob("*.parquet"):
            pq.read_table(p)  # whatever is visible is whole
        ingest(src, wh, workers=2)
        assert snapshot(wh) == want, trial


def test_moved_dataset_or_first_check_of_images_reingests(tmp_path):
    src = _small_repo(tmp_path / "seed")
    s1 = ingest(src, tmp_path / "wh", workers=1, check_images=False)
    assert {i["exists"] for i in table(tmp_path / "wh", "images")} == {None}
    s2 = ingest(src, tmp_path / "wh", workers=1, check_images=False)
    assert len(s2.ingested) == 0
    s3 = ingest(src, tmp_path / "wh", workers=1)  # now the images are checked: re-ingested, not skipped
    assert len(s3.ingested) == len(s1.ingested) == 2
    assert {i["exists"] for i in table(tmp_path / "wh", "images")} == {False}
    assert len(ingest(src, tmp_path / "wh", workers=1, check_images=False).ingested) == 0
    moved = tmp_path / "moved"
    src.rename(moved)
    s5 = ingest(moved, tmp_path / "wh", workers=1)
    assert len(s5.ingested) == 2  # same bytes, new root: image locations must follow
    assert {i["root"] for i in table(tmp_path / "wh", "images")} == {str(moved)}
    assert len(table(tmp_path / "wh", "edits")) == s1.records_loaded  # replaced, not doubled


def test_second_ingest_on_the_same_warehouse_is_refused(tmp_path):
    from editlens.ingest.writer import IngestBusy, warehouse_lock
    from editlens.warehouse import Warehouse

    src = _small_repo(tmp_path / "seed")
    with warehouse_lock(Warehouse.at(tmp_path / "wh")):
        with pytest.raises(IngestBusy) as ei:
            ingest(src, tmp_path / "wh", workers=1)
    assert ei.value.exit_code == 2
    assert ingest(src, tmp_path / "wh", workers=1).records_loaded == 7  # lock released: works again


def test_formats_listed_for_the_cli():
    import editlens.ingest as pkg
    from editlens.ingest.readers import READERS

    assert set(pkg.formats) == set(READERS) | {"seed"}


def test_worker_processes_write_what_one_process_writes(tmp_path):
    """--workers 2 (largest units first, in worker processes) writes the same rows, in the same order per
    shard, as --workers 1 in this process."""
    facts = seed_repo(tmp_path / "seed")
    write_lines(facts["p23"] / "real_editing/annotations/split_0009.jsonl",
                [{"source_image": f"images/{i}_0.jpg", "target_image": f"images/{i}_1.jpg", "instruction": f"e {i}",
                  "task_type": ["object-add"]} for i in range(500)] + ["{bad"])
    one, two = ingest(tmp_path / "seed", tmp_path / "one", workers=1), ingest(tmp_path / "seed", tmp_path / "two",
                                                                             workers=2)
    assert [(f.unit, f.records_read, f.records_loaded) for f in one.files] == \
        [(f.unit, f.records_read, f.records_loaded) for f in two.files]
    for name in ("edits", "images", "rejects"):
        strip = [{k: v for k, v in r.items() if k != "ingest_run_id"} for r in table(tmp_path / "one", name)]
        assert strip == [{k: v for k, v in r.items() if k != "ingest_run_id"} for r in table(tmp_path / "two", name)]
    assert len(table(tmp_path / "two", "edits")) == one.records_loaded == two.records_loaded > 500


def test_default_workers_follow_the_usable_cores_up_to_a_cap(monkeypatch):
    from editlens.ingest import main

    monkeypatch.setattr(main.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert main.default_workers() == main.MAX_DEFAULT_WORKERS == 8
    monkeypatch.setattr(main.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert main.default_workers() == 1


def test_a_worker_maps_without_pandas(tmp_path):
    """A worker process never imports pandas (pyarrow would on its first conversion, ~0.2 s), and its units
    come out the same as in this process, which has pandas."""
    facts = seed_repo(tmp_path / "seed")
    ref = ingest(tmp_path / "seed", tmp_path / "ref", workers=1)
    code = f"""
import sys
from pathlib import Path
from editlens.ingest import main as M
from editlens.ingest.detect import discover
from editlens.ingest.writer import recover
from editlens.warehouse import Warehouse
assert "pandas" not in sys.modules
M._init_worker(True, None)
wh = Warehouse(Path({str(tmp_path / 'wh')!r})).ensure()
recover(wh)
units = discover(Path({str(tmp_path / 'seed')!r}), None, None, None).units
results = [M.process_unit(u, "run", str(wh.root), None) for u in units]
print("pandas" in sys.modules, sum(r.records_loaded for r in results), len(results))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", str(ref.records_loaded), str(len(ref.files))]
    assert facts and ref.records_loaded > 0
    for name in ("edits", "images", "rejects"):
        strip = [{k: v for k, v in row.items() if k != "ingest_run_id"} for row in table(tmp_path / "ref", name)]
        assert strip == [{k: v for k, v in row.items() if k != "ingest_run_id"} for row in table(tmp_path / "wh", name)]
