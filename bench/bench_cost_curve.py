"""Cost curve: ingest, `dbt build` (full and incremental) and dashboard first render at growing warehouse sizes.

    .venv/bin/python bench/bench_cost_curve.py                               # 1M, 3.77M, 10M, 20M edits
    .venv/bin/python bench/bench_cost_curve.py --sizes 20000000 --record     # one size; rows merge by size
    .venv/bin/python bench/bench_cost_curve.py --report                      # the recorded rows, checked

Per size, in one run, each step in its own process (wall time; peak RSS = the sampled sum over the process tree):
1. ingest: SEED-Data-Edit-shaped annotations of that many records (bench/bench_ingest.py's generator: Part-1
   split files of the real layout, Part-2, Part-3 sessions; no image files), `editlens ingest` of them against a
   bare DuckDB ``COPY (read_json) TO parquet`` of the same files; both deleted afterwards;
2. the synthetic warehouse in the real contract (bench/synthetic_warehouse.py, without the neighbour indexes,
   which neither dbt nor the Overview reads), standing in for ingest + embed output: setup, not measured; reused
   when ``DIR/synthetic/stamp.json`` matches (its build outputs are deleted first);
3. dbt baseline: one DuckDB pass reading every source table once (as bench/bench_dbt.py);
4. build: `editlens build` on a fresh database. At the --incremental-at sizes (default 3.77M) the first build
   leaves out the HQ-Edit dataset's edits files; then `incremental`: the files added back and `editlens build`
   again (the default, incremental path; its dbt timings are kept in DIR/incremental_run_results.json), and
   `full`: `editlens build -- --full-refresh` of the same files; then `incremental_all`: adding the dataset as a
   user does, its edits with its ingest and embed outputs (every table's HQ-Edit shards removed and built, then
   added back and built: the second build is timed; printed beside the target, not checked against it: the
   browse stage refits its projection on every edit, so the edit map recomputes whole);
5. render: the Overview page's first render on a fresh server (AppTest, caches emptied).
DuckDB's memory limit and spill folder are the project's settings (editlens/contract/resources.py: `editlens build`
takes 60% of the machine's memory; profiles.yml the spill folder); --memory overrides the limit for every step
through EDITLENS_DUCKDB_MEMORY. Each row records the limit it ran under.

Checks, over the rows of this run plus (with --record / --report) those recorded before for other sizes: the
full build and ingest at or under linear growth (time per edit at the largest size <= 1.25x that at the
smallest), peak RSS of every step within --max-rss-gb (24), and incremental < 1/3 of the full rebuild at 3.77M
(the ratio at any other size where both were measured is printed beside it). Exit code 0 when all hold.
--record merges this run's rows into bench/results/cost-curve.json by size (each row keeps its own command,
commit, date and load average).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_ingest  # noqa: E402
from bench.bench_dbt import BASELINE, TABLES  # noqa: E402
from bench.synthetic_warehouse import stamp  # noqa: E402

SIZES = [1_000_000, 3_770_000, 10_000_000, 20_000_000]
INCREMENTAL_TARGET_AT = 3_770_000  # the size the incremental target is checked at (the others are printed)
HELD_OUT = "hq-edit-*.parquet"  # the HQ-Edit dataset's edits files (the generator names files by dataset part)
# every table the dataset's ingest and embed runs write (the generator writes one shard per dataset part in each)
DATASET_TABLES = ("edits", "images", "image_facts", "image_concepts", "image_detections", "edit_scores",
                  "edit_projections")
INGEST_RECORDS_AT_SCALE_1 = 3_647_000  # bench_ingest.generate(scale=1.0): 3.5M Part-1, 52K Part-2, ~95K turns
KEEP = {"parquet", "index", "synthetic"}  # what the generator writes; the rest of a warehouse is build output
RENDER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from bench.bench_dashboards import _app, _clear_caches
_clear_caches()
t = time.perf_counter()
at = _app(None)
at.run()
assert not at.exception, at.exception
print("@@", time.perf_counter() - t)
"""
STEPS = ["ingest", "ingest_baseline", "baseline", "build", "incremental", "full", "incremental_all", "render"]


def step(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall s, peak RSS GB of the process tree, stdout) of cmd in its own process; exits on failure."""
    wall, peak, done = bench_ingest.timed(cmd, env=env, cwd=str(REPO))
    if done.returncode != 0:
        raise SystemExit(f"step failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")
    return wall, peak / 2**30, done.stdout


def _at(out: str) -> float:
    """The seconds a script printed after '@@' (its own timing of the measured part)."""
    return float([ln for ln in out.splitlines() if ln.startswith("@@")][-1].split()[1])


def ingest(n: int, work: Path, row: dict, env: dict) -> None:
    py = sys.executable
    counts = bench_ingest.generate(work, n / INGEST_RECORDS_AT_SCALE_1)
    root = work / "SEED-Data-Edit"
    out = work / "baseline.parquet"
    row["ingest_records"] = counts["records"]
    row["ingest_baseline_s"], row["ingest_baseline_gb"], _ = step([py, "-c", bench_ingest.BASELINE, str(root),
                                                                   str(out)], env)
    out.unlink(missing_ok=True)
    wh = work / "warehouse"
    shutil.rmtree(wh, ignore_errors=True)
    row["ingest_s"], row["ingest_gb"], text = step([py, "-m", "editlens.cli", "ingest", str(root), "--warehouse",
                                                    str(wh), "--workers", "2"], env)
    row["ingest_total"] = next((ln for ln in text.splitlines() if ln.startswith("total:")), "")
    shutil.rmtree(work, ignore_errors=True)


def synthetic(n: int, root: Path, seed: int, env: dict) -> float:
    """Generate (or reuse) the synthetic warehouse; returns the generation seconds (0 when reused)."""
    want = stamp(n, seed, index=False)
    have = root / "synthetic" / "stamp.json"
    if have.exists() and json.loads(have.read_text()) == want:
        for f in root.glob(HELD_OUT):  # a run stopped with the held-out files moved
            f.rename(root / "parquet" / "edits" / f.name)
        for f in (root / "held").glob("*--*.parquet") if (root / "held").is_dir() else []:
            table, name = f.name.split("--", 1)
            f.rename(root / "parquet" / table / name)
        for p in root.iterdir():
            if p.name not in KEEP:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        return 0.0
    shutil.rmtree(root, ignore_errors=True)
    wall, _, _ = step([sys.executable, str(REPO / "bench" / "synthetic_warehouse.py"), str(root), "--edits", str(n),
                       "--seed", str(seed), "--no-index"], env)
    return wall


def one_size(n: int, root: Path, seed: int, memory: str | None, incremental: bool, skip_ingest: bool) -> dict:
    py = sys.executable
    from editlens.contract.resources import build_memory_default

    memory = memory or os.environ.get("EDITLENS_DUCKDB_MEMORY") or build_memory_default()
    env = dict(os.environ, PYTHONPATH=str(REPO), EDITLENS_DUCKDB_MEMORY=memory)
    row: dict = {"edits": n, "memory_limit": memory}
    if not skip_ingest:
        ingest(n, root.with_name(root.name + "-ingest"), row, env)
    row["generate_s"] = synthetic(n, root, seed, env)
    tables = [t for t in TABLES if (root / "parquet" / t).is_dir()]
    _, row["baseline_gb"], out = step([py, "-c", BASELINE, str(root), memory, str(os.cpu_count() or 2), *tables], env)
    row["baseline_s"] = float(out.split()[-2])
    build = [py, "-m", "editlens.cli", "build", "--warehouse", str(root), "--", "--quiet"]
    held = sorted((root / "parquet" / "edits").glob(HELD_OUT)) if incremental else []
    assert held or not incremental, f"no {HELD_OUT} under {root}/parquet/edits"
    for f in held:
        f.rename(root / f.name)
    row["build_s"], row["build_gb"], _ = step(build, env)
    if incremental:
        row["build_without"] = "hq-edit"
        for f in held:
            (root / f.name).rename(f)
        row["incremental_s"], row["incremental_gb"], _ = step(build, env)
        # where the incremental run's time went (dbt's per-node timings; the full rebuild overwrites target/)
        shutil.copy(root / "dbt" / "target" / "run_results.json", root / "incremental_run_results.json")
        row["full_s"], row["full_gb"], _ = step(build + ["--full-refresh"], env)
        # adding a dataset as a user does: its ingest and embed outputs arrive with its edits (every table's
        # HQ-Edit shards removed, built, then added back and built: the second build is the one timed)
        shards = [f for t in DATASET_TABLES for f in sorted((root / "parquet" / t).glob(HELD_OUT))]
        away = root / "held"
        away.mkdir(exist_ok=True)
        for f in shards:
            f.rename(away / f"{f.parent.name}--{f.name}")
        step(build, env)
        for f in shards:
            (away / f"{f.parent.name}--{f.name}").rename(f)
        row["incremental_all_s"], row["incremental_all_gb"], _ = step(build, env)
        shutil.copy(root / "dbt" / "target" / "run_results.json", root / "incremental_all_run_results.json")
    _, row["render_gb"], out = step([py, "-c", RENDER, str(REPO)], dict(env, EDITLENS_WAREHOUSE=str(root)))
    row["render_s"] = _at(out)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    row.update(command="python " + " ".join(shlex.quote(a) for a in sys.argv), commit=commit.stdout.strip(),
               date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               load_after=round(os.getloadavg()[0], 1))
    return row


def _full(r: dict) -> float:
    """The seconds of a build of every edit on a fresh database (or --full-refresh where incremental was run)."""
    return r.get("full_s", r["build_s"])


def _summary(r: dict) -> str:
    out = [f"{r['edits']:,}:"]
    if "ingest_s" in r:
        out.append(f"ingest {r['ingest_s']:.0f} s (COPY {r['ingest_baseline_s']:.0f} s),")
    out.append(f"build {_full(r):.0f} s / {r.get('full_gb', r['build_gb']):.2f} GB (baseline {r['baseline_s']:.0f} s),")
    if "incremental_s" in r:
        out.append(f"incremental {r['incremental_s']:.0f} s,")
    if "incremental_all_s" in r:
        out.append(f"incremental with its ingest and embed outputs {r['incremental_all_s']:.0f} s,")
    out.append(f"render {r['render_s']:.1f} s")
    return " ".join(out)


def check(rows: list[dict], max_rss_gb: float) -> tuple[bool, list[str]]:
    rows = sorted(rows, key=lambda r: r["edits"])
    small, big = rows[0], rows[-1]
    lines = []
    linear = None
    if len(rows) > 1:
        def per(r: dict, key: str) -> float:
            return (r[key] if key in r else _full(r)) / (r.get("ingest_records", r["edits"]) if "ingest" in key
                                                         else r["edits"])
        keys = ["full"] + (["ingest_s"] if "ingest_s" in small and "ingest_s" in big else [])
        linear = all(per(big, k) <= 1.25 * per(small, k) for k in keys)
        lines.append(f"growth linear or better ({' and '.join(keys)} s per edit, {big['edits']:,} vs "
                     f"{small['edits']:,} <= 1.25x): {linear}")
    gb = [v for r in rows for k, v in r.items() if k.endswith("_gb")]
    rss_ok = bool(gb) and max(gb) <= max_rss_gb
    lines.append(f"peak RSS <= {max_rss_gb:.0f} GB at every step: {rss_ok} (largest {max(gb):.2f} GB)")
    inc = [(r["edits"], r["incremental_s"] / r["full_s"]) for r in rows if "incremental_s" in r]
    # the target holds at 3.77M (SEED-Data-Edit's size); at other sizes the ratio is printed, not checked
    at = [x for n, x in inc if n == INCREMENTAL_TARGET_AT]
    inc_ok = bool(at) and all(x < 1 / 3 for x in at)
    lines.append("incremental / full rebuild: " + (", ".join(f"{x:.2f} at {n:,}" for n, x in inc) or "not run")
                 + f" (target < 0.33 at {INCREMENTAL_TARGET_AT:,})")
    inc_all = [(r["edits"], r["incremental_all_s"] / r["full_s"]) for r in rows if "incremental_all_s" in r]
    if inc_all:  # printed, not checked: its edit map recomputes whole (the browse stage refits its projection)
        lines.append("incremental with the dataset's ingest and embed outputs / full rebuild: "
                     + ", ".join(f"{x:.2f} at {n:,}" for n, x in inc_all))
    sizes_ok = sorted(r["edits"] for r in rows) == SIZES
    lines.append(f"all four sizes ({', '.join(f'{s:,}' for s in SIZES)}) measured: {sizes_ok}")
    return bool(linear in (True, None) and rss_ok and inc_ok), lines


def table(rows: list[dict]) -> str:
    head = f"{'edits':>11} " + " ".join(f"{c + ' s / GB':>24}" for c in STEPS) + "  commit"
    out = [head]
    for r in sorted(rows, key=lambda r: r["edits"]):
        cells = [f"{r[c + '_s']:>14.1f} / {r[c + '_gb']:>6.2f}" if c + "_s" in r else f"{'-':>23}" for c in STEPS]
        out.append(f"{r['edits']:>11,} " + " ".join(cells) + f"  {r.get('commit', '')} {r.get('date', '')}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    ap.add_argument("--incremental-at", type=int, nargs="*", default=[3_770_000],
                    help="sizes at which the incremental build and the full rebuild are measured too")
    ap.add_argument("--dir", type=Path, default=REPO / "bench" / "out" / "cost-curve")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory", default=None,
                    help="DuckDB memory_limit of every step (default: the project's, as `editlens build` sets it)")
    ap.add_argument("--max-rss-gb", type=float, default=24.0)
    ap.add_argument("--skip-ingest", action="store_true", help="leave out step 1")
    ap.add_argument("--keep", action="store_true", help="keep the synthetic warehouses (reused by the next run)")
    ap.add_argument("--record", action="store_true",
                    help="merge the rows into bench/results/cost-curve.json (by size)")
    ap.add_argument("--report", action="store_true", help="print and check the recorded rows; run nothing")
    a = ap.parse_args(argv)

    path = REPO / "bench" / "results" / "cost-curve.json"
    recorded = json.loads(path.read_text())["figures"]["rows"] if path.exists() and (a.record or a.report) else []
    rows: list[dict] = []
    if not a.report:
        for n in sorted(a.sizes):
            root = (a.dir / f"n{n}").resolve()
            print(f"{n:,} edits ...", flush=True)
            rows.append(one_size(n, root, a.seed, a.memory, n in a.incremental_at, a.skip_ingest))
            print(json.dumps(rows[-1]), flush=True)
            if not a.keep:
                shutil.rmtree(root, ignore_errors=True)
    new = {r["edits"] for r in rows}
    every = [r for r in recorded if r["edits"] not in new] + rows
    print(table(every))
    ok, lines = check(every, a.max_rss_gb)
    print("\n".join(lines))
    if a.record and rows:
        from bench.results import record

        every.sort(key=lambda r: r["edits"])
        sizes = ", ".join(f"{r['edits']:,}" for r in every)
        record("cost-curve", stage="scale",
               measured=f"per size ({sizes} edits), each size in one run: ingest of SEED-shaped annotations vs "
               "bare DuckDB COPY, read-every-table baseline, full dbt build, incremental build after adding one "
               "dataset and full rebuild (where measured), incremental build after adding the dataset with its "
               "ingest and embed outputs (printed, not checked), Overview first render; wall s / peak GB "
               "(process tree)",
               result="; ".join(_summary(r) for r in every),
               target="linear growth, <= 24 GB at every step, incremental < 1/3 of the full rebuild at 3.77M",
               met="yes" if ok else "no: " + "; ".join(lines),
               notes="rows from separate runs, one per size; each row has its command, commit, date and load "
                     "average in the JSON", figures={"rows": every})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
