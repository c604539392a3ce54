"""Cost curve: load, `dbt build` (full and incremental) and dashboard first render at growing warehouse sizes.

    .venv/bin/python bench/bench_cost_curve.py                              # 1M, 3.77M, 10M, 20M edits
    .venv/bin/python bench/bench_cost_curve.py --sizes 1000000 3770000      # the sizes that fit
    .venv/bin/python bench/bench_cost_curve.py --sizes 200000 --record      # -> bench/results/cost-curve.json

Per size, in one run, each step in its own process (wall time and that process tree's peak RSS):
1. load: the synthetic warehouse in the real contract (bench/synthetic_warehouse.py), standing in for ingest +
   embed output (the ingest stage alone is bench/bench_ingest.py);
2. baseline: one DuckDB pass reading every source table once (as bench/bench_dbt.py);
3. full build: `editlens build` on a fresh database, without the HQ-Edit dataset's edits file;
4. incremental: the file added back, `editlens build` again (the default, incremental path);
5. full rebuild: `editlens build -- --full-refresh` of the same files as 4;
6. dashboard first render: the Overview page on a fresh server (AppTest, caches emptied).
Prints the table, then checks: every build at or under linear growth in edits (time per edit at the largest size
<= 1.25x that at the smallest), peak RSS of every step within --max-rss-gb (24), and incremental < 1/3 of the
full rebuild at the largest size. Exit code 0 when all hold. Warehouses go under --dir and are deleted after each
size unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bench_dbt import BASELINE, TABLES  # noqa: E402

HELD_OUT = "hq-edit-*.parquet"  # the HQ-Edit dataset's edits files (the generator names files by dataset part)
RENDER = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from bench.bench_dashboards import _app, _clear_caches
_clear_caches()
t = time.perf_counter()
at = _app(None)
at.run()
assert not at.exception, at.exception
print(time.perf_counter() - t)
"""
# runs a command and reports its peak RSS (children's maxrss: the whole tree's largest process)
WRAP = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
print("@@", rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
"""


def step(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall s, peak RSS GB, stdout) of cmd in its own process."""
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, env=env, cwd=str(REPO))
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("@@ ")][-1].split()
    rc, wall, rss = int(line[1]), float(line[2]), int(line[3])
    if rc != 0:
        raise SystemExit(f"step failed (exit {rc}): {' '.join(cmd)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return wall, rss / 1024 / 1024, out.stdout


def one_size(n: int, root: Path, seed: int, memory: str) -> dict:
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=str(REPO), EDITLENS_DUCKDB_MEMORY=memory)
    if root.exists():
        shutil.rmtree(root)
    row: dict = {"edits": n}
    row["load_s"], row["load_gb"], _ = step([py, str(REPO / "bench" / "synthetic_warehouse.py"), str(root),
                                            "--edits", str(n), "--seed", str(seed)], env)
    tables = [t for t in TABLES if (root / "parquet" / t).is_dir()]
    wall, gb, out = step([py, "-c", BASELINE, str(root), memory, str(os.cpu_count() or 2), *tables], env)
    row["baseline_s"], row["baseline_gb"] = float(out.split("@@")[0].split()[-2]), gb
    build = [py, "-m", "editlens.cli", "build", "--warehouse", str(root), "--", "--quiet"]
    files = sorted((root / "parquet" / "edits").glob(HELD_OUT))
    assert files, f"no {HELD_OUT} under {root}/parquet/edits"
    for f in files:
        f.rename(root / f.name)
    row["first_build_s"], row["first_build_gb"], _ = step(build, env)
    for f in files:
        (root / f.name).rename(f)
    row["incremental_s"], row["incremental_gb"], _ = step(build, env)
    row["full_s"], row["full_gb"], _ = step(build + ["--full-refresh"], env)
    wall, gb, out = step([py, "-c", RENDER, str(REPO)], dict(env, EDITLENS_WAREHOUSE=str(root)))
    row["render_s"], row["render_gb"] = float(out.split("@@")[0].split()[-1]), gb
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_770_000, 10_000_000, 20_000_000])
    ap.add_argument("--dir", type=Path, default=REPO / "bench" / "out" / "cost-curve")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory", default="5GB", help="DuckDB memory_limit of every step (EDITLENS_DUCKDB_MEMORY)")
    ap.add_argument("--max-rss-gb", type=float, default=24.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--record", action="store_true", help="write bench/results/cost-curve.json")
    a = ap.parse_args(argv)

    rows = []
    for n in sorted(a.sizes):
        root = (a.dir / f"n{n}").resolve()
        print(f"{n:,} edits ...", flush=True)
        rows.append(one_size(n, root, a.seed, a.memory))
        print(json.dumps(rows[-1]), flush=True)
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)

    cols = ["load", "baseline", "first_build", "incremental", "full", "render"]
    print(f"{'edits':>11} " + " ".join(f"{c + ' s / GB':>22}" for c in cols))
    for r in rows:
        print(f"{r['edits']:>11,} " + " ".join(f"{r[c + '_s']:>12.1f} / {r[c + '_gb']:>6.2f}" for c in cols))
    small, big = rows[0], rows[-1]
    linear = all(big[c + "_s"] / big["edits"] <= 1.25 * small[c + "_s"] / small["edits"]
                 for c in ("first_build", "full")) if len(rows) > 1 else None
    rss_ok = all(r[c + "_gb"] <= a.max_rss_gb for r in rows for c in cols)
    inc_ratio = big["incremental_s"] / big["full_s"]
    print(f"growth linear or better (full build s/edit, largest vs smallest <= 1.25x): {linear}")
    print(f"peak RSS <= {a.max_rss_gb:.0f} GB at every step: {rss_ok}")
    print(f"incremental / full rebuild at {big['edits']:,}: {inc_ratio:.2f} (target < 0.33)")
    ok = bool(linear in (True, None) and rss_ok and inc_ratio < 1 / 3)
    if a.record:
        from bench.results import record

        sizes = ", ".join(f"{r['edits']:,}" for r in rows)
        record("cost-curve", stage="scale",
               measured=f"per size ({sizes} edits): synthetic load, read-every-table baseline, full dbt build, "
               "incremental build after adding one dataset, full rebuild, Overview first render; wall s / peak GB",
               result="; ".join(f"{r['edits']:,}: build {r['full_s']:.1f} s / {r['full_gb']:.2f} GB (baseline "
                                f"{r['baseline_s']:.1f} s), incremental {r['incremental_s']:.1f} s, render "
                                f"{r['render_s']:.1f} s" for r in rows),
               target="linear growth, <= 24 GB, incremental < 1/3 of full at the largest size",
               met=f"linear {linear}, memory {rss_ok}, incremental ratio {inc_ratio:.2f}",
               notes=f"load average after: {os.getloadavg()[0]:.1f}; sizes run: {sizes}",
               figures={"rows": rows})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
