"""SIGKILL at several points, then rerun: the tables equal an uninterrupted run's. Ray equals local."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from editlens.embeddings.main import EmbedConfig, run_embed
from embed_warehouses import build_warehouse

REPO = Path(__file__).resolve().parents[1]

KEYS = {
    "image_facts": "image_id",
    "image_embeddings": "sha256, model_key",
    "text_embeddings": "text_hash, model_key",
    "image_concepts": "sha256, model_key, concept_group, concept",
    "edit_scores": "edit_id, model_key",
    "embed_models": "model_key",
}

KILLER = r"""
import os, signal, sys
from pathlib import Path
from editlens.warehouse import Warehouse
from editlens.embeddings import tables
from editlens.embeddings.main import EmbedConfig, run_embed

root, kill_at, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
original = tables.atomic_write_table
calls = 0

def dying_write(table, path, **kw):
    global calls
    calls += 1
    if calls == kill_at:
        if mode == "mid":  # killed while writing: a half temporary file is left behind
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / f".{path.name}.dead.tmp").write_bytes(b"PAR1 half a file")
        os.kill(os.getpid(), signal.SIGKILL)
    return original(table, path, **kw)

tables.atomic_write_table = dying_write
run_embed(EmbedConfig(warehouse=Warehouse(Path(root)), allow_random_weights=True, shard_size=4, workers=0,
                      threads=1, progress=False, batch_size=3, edit_shard_size=3))
print("FINISHED")
"""


def cfg(wh, **kw):
    base = {"warehouse": wh, "allow_random_weights": True, "shard_size": 4, "workers": 0, "threads": 1,
            "progress": False, "batch_size": 3, "edit_shard_size": 3}
    base.update(kw)
    return EmbedConfig(**base)


def table_rows(wh, table):
    return duckdb.sql(f"select * from read_parquet('{wh.table_glob(table)}') order by {KEYS[table]}").fetchall()


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_tables(wh_a, wh_b):
    for table in KEYS:
        ra, rb = table_rows(wh_a, table), table_rows(wh_b, table)
        assert len(ra) == len(rb), table
        for x, y in zip(ra, rb):
            assert all(same_value(u, v) for u, v in zip(x, y)), (table, x[:3], y[:3])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    info = build_warehouse(tmp_path_factory.mktemp("ref"))
    run_embed(cfg(info["warehouse"]))
    return info["warehouse"]


def test_sigkill_then_rerun_equals_uninterrupted(reference, tmp_path):
    wh = build_warehouse(tmp_path)["warehouse"]
    # three killed runs in a row (mid-shard, mid-write, later stage), then one that finishes
    for kill_at, mode in ((2, "after"), (3, "mid"), (9, "after")):
        out = subprocess.run([sys.executable, "-c", KILLER, str(wh.root), str(kill_at), mode], cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == -9 and "FINISHED" not in out.stdout, out.stderr[-2000:]
        if mode == "mid":
            assert list(wh.parquet_dir.rglob(".*.tmp")), "the mid-write kill leaves a temporary file"
        if kill_at == 2:
            assert len(list(wh.table_dir("image_facts").glob("*.parquet"))) < 3  # 3 image shards in all
    final = run_embed(cfg(wh))
    assert final.edits_scored > 0  # the killed runs left work to do
    assert not list(wh.parquet_dir.rglob(".*.tmp"))
    assert_same_tables(wh, reference)


@pytest.mark.parametrize("layout", [{"workers": 1}, {"streams": 1}, {"streams": 3}])
def test_local_layouts_equal(reference, tmp_path, layout):
    """Decode worker processes, one in-process stream and several streams write the same tables as the
    reference run (two streams)."""
    wh = build_warehouse(tmp_path)["warehouse"]
    s = run_embed(cfg(wh, **layout))
    assert (s.workers, s.streams) == (layout.get("workers", 0), 1 if "workers" in layout else layout["streams"])
    assert_same_tables(wh, reference)


@pytest.mark.slow
def test_ray_backend_equals_local(reference, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    import ray

    wh = build_warehouse(tmp_path)["warehouse"]
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        s = run_embed(cfg(wh, backend="ray", ray_actors=1))
    finally:
        ray.shutdown()
    assert s.images_planned == 12 and s.backend == "ray"
    assert_same_tables(wh, reference)


# Every shard write of the reference run, in order: 3 image shards (embeddings, then facts), 5 text shards,
# 3 concept shards, 3 edit-score shards. A kill just before write k leaves exactly k - 1 shard files.
N_WRITES = 17
SWEEP = [(1, "after"), (2, "mid"), (3, "after"), (5, "mid"), (6, "after"), (7, "after"), (9, "mid"),
         (11, "after"), (12, "mid"), (14, "after"), (15, "after"), (17, "mid")]
DEFAULT_POINTS = {(2, "mid"), (9, "mid"), (15, "after")}
SWEEP_ONLY = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("EDITLENS_KILL_SWEEP") != "1",
                                                   reason="full sweep: EDITLENS_KILL_SWEEP=1")]


@pytest.mark.parametrize("kill_at, mode", [
    pytest.param(k, m, marks=() if (k, m) in DEFAULT_POINTS else SWEEP_ONLY) for k, m in SWEEP])
def test_sigkill_at_each_write_then_rerun_equals_uninterrupted(reference, tmp_path, kill_at, mode):
    """One kill per point, spread over the whole run (image shards, texts, concepts, edit scores), each while the
    job was running (before its k-th shard write); the rerun then equals the uninterrupted run."""
    wh = build_warehouse(tmp_path)["warehouse"]
    out = subprocess.run([sys.executable, "-c", KILLER, str(wh.root), str(kill_at), mode], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == -9 and "FINISHED" not in out.stdout, out.stderr[-2000:]
    written = [p for t in KEYS if t != "embed_models" for p in wh.table_dir(t).glob("*.parquet")]
    assert len(written) == kill_at - 1  # the kill came after exactly k - 1 shard writes (the model row first)
    assert bool(list(wh.parquet_dir.rglob(".*.tmp"))) == (mode == "mid")
    run_embed(cfg(wh))
    assert not list(wh.parquet_dir.rglob(".*.tmp"))
    assert_same_tables(wh, reference)
    assert len([p for t in KEYS if t != "embed_models" for p in wh.table_dir(t).glob("*.parquet")]) == N_WRITES
