"""Speed and memory of `dbt build` (models, tests, marts export) over a full-scale synthetic warehouse.

    .venv/bin/python bench/bench_dbt.py                       # generate 3.77M edits under bench/out/, then build
    .venv/bin/python bench/bench_dbt.py --warehouse DIR       # build an existing warehouse (e.g. a kept one)
    .venv/bin/python bench/bench_dbt.py --edits 200000        # smaller

Prints wall time and peak RSS of the dbt process (DuckDB runs inside it), the ten slowest nodes, and the same
numbers for a bare baseline measured in the same run: one DuckDB pass reading every source table's columns
(`select count(*), sum(hash(columns(*)))` per table) with the build's memory and thread settings. Targets (issue 5):
build <= 180 s and <= 8 GB peak RSS on the 2-core machine. Exit code 0 when both hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from editlens.build import BuildConfig, dbt_command  # noqa: E402
from editlens.warehouse import Warehouse  # noqa: E402

TABLES = ["edits", "images", "rejects", "ingest_runs", "image_facts", "edit_scores", "image_concepts", "embed_models"]
BASELINE = """
import sys, time, resource, duckdb
wh, mem, threads = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(config={"memory_limit": mem, "threads": threads, "preserve_insertion_order": False})
con.execute("set enable_progress_bar = false")
t = time.perf_counter()
for table in sys.argv[4:]:
    con.sql(f"select count(*), sum(hash(columns(*))) from read_parquet('{wh}/parquet/{table}/*.parquet', union_by_name=true)").fetchall()
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def child_peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, default=None)
    ap.add_argument("--edits", type=int, default=3_770_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory", default="5GB", help="DuckDB memory_limit for the build (profile default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=180.0)
    ap.add_argument("--max-rss-gb", type=float, default=8.0)
    ap.add_argument("--record", action="store_true",
                    help="write the figures to bench/results/dbt.json (then `python bench/results.py` renders RESULTS.md)")
    a = ap.parse_args(argv)

    root = a.warehouse or (REPO / "bench" / "out" / f"synthetic-{a.edits}")
    wh = Warehouse.at(root)
    if not wh.has_table("edits"):
        from bench.synthetic_warehouse import make_synthetic_warehouse

        print(make_synthetic_warehouse(wh.root, a.edits, a.seed).describe(), flush=True)
    n_edits = int(subprocess.run(
        [sys.executable, "-c", f"import duckdb; print(duckdb.sql(\"select count(*) from read_parquet('{wh.table_glob('edits')}')\").fetchone()[0])"],
        capture_output=True, text=True, check=True).stdout)
    tables = [t for t in TABLES if wh.has_table(t)]

    # baseline: read every source table once, same memory and thread settings
    out = subprocess.run([sys.executable, "-c", BASELINE, str(wh.root), a.memory, str(a.threads), *tables],
                         capture_output=True, text=True, check=True).stdout.split("\n")[-2].split()
    base_s, base_rss = float(out[0]), int(out[1])

    # the build: fresh database, so every model is built from scratch
    for p in (wh.duckdb_path, wh.duckdb_path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    cfg = BuildConfig(warehouse=wh, dbt_args=["--quiet"], duckdb_memory=a.memory, duckdb_threads=a.threads)
    cmd, env = dbt_command(cfg)
    before = child_peak_rss_kib()
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=str(REPO)).returncode
    build_s = time.perf_counter() - t0
    peak_kib = max(child_peak_rss_kib(), before)

    results = json.loads((wh.root / "dbt" / "target" / "run_results.json").read_text())["results"]
    slow = sorted(results, key=lambda r: -r["execution_time"])[:10]
    n_marts = len(list(wh.marts_dir.glob("*.parquet")))
    gb = peak_kib / 1024 / 1024
    print(f"machine: {os.cpu_count()} cores; warehouse {wh.root} ({n_edits} edits; tables: {', '.join(tables)})")
    print(f"command: {' '.join(cmd[:2])} --project-dir . --profiles-dir . (EDITLENS_WAREHOUSE={wh.root}, "
          f"memory_limit {a.memory}, {a.threads} threads)")
    print(f"baseline (read every source table once): {base_s:.1f}s, peak RSS {base_rss / 1024 / 1024:.2f} GB")
    print(f"dbt build: exit {rc}, {build_s:.1f}s ({build_s / base_s:.1f}x baseline), peak RSS {gb:.2f} GB, "
          f"{len(results)} nodes, {n_marts} marts exported")
    print("slowest nodes:")
    for r in slow:
        print(f"  {r['execution_time']:7.1f}s  {r['unique_id']}")
    ok = rc == 0 and build_s <= a.max_seconds and gb <= a.max_rss_gb
    print(f"targets: <= {a.max_seconds:.0f}s and <= {a.max_rss_gb:.0f} GB: {'met' if ok else 'NOT met'}")
    if a.record:
        from bench.results import record

        record("dbt", stage="dbt", measured=f"dbt build (models, tests, marts export) over a warehouse of {n_edits} "
               "edits; baseline: one DuckDB pass reading every source table once",
               result=f"{build_s:.1f} s, {gb:.2f} GB peak (baseline {base_s:.1f} s)",
               target=f"<= {a.max_seconds:.0f} s, <= {a.max_rss_gb:.0f} GB", met="yes" if ok else "no",
               notes=f"load average after: {os.getloadavg()[0]:.1f}",
               figures={"build_s": round(build_s, 1), "peak_rss_gb": round(gb, 2), "baseline_s": round(base_s, 1),
                        "n_edits": n_edits, "exit": rc})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
