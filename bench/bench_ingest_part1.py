"""Part-1 ingest benchmark: SEED-Data-Edit Part-1 OpenImages annotations in the layout the dataset ships
(``SEED-Data-Edit-Part1-Openimages/auto_editing/openimages/annotations/split_0001.jsonl`` ...; 100 files of 10K
``source_image``/``target_image``/``instruction`` records by default), ingested by ``editlens ingest`` against a
bare DuckDB ``COPY (SELECT * FROM read_json(...)) TO '...parquet'`` of the same files, measured in the same run.

    .venv/bin/python bench/bench_ingest_part1.py [--files 100] [--per-file 10000] [--rounds 1] [--record]

The baseline never looks at images, so the compared ingest runs with the image check off (``--no-check-images``,
as a user without the extracted images runs it); the ingest with the image check on (every image reported
missing through the cached folder listing: the images are not generated) is timed too and reported beside it.
Both get the same cores: the baseline DuckDB runs with ``threads`` = ``--workers`` (default 2), ingest with
``--workers``. Each round times the baseline, then ingest (check off), then ingest (check on), each into a
fresh output; every ingest is checked to hold every record (edits + rejects = records, per file and in total).
Target: ingest wall <= 1.5x the baseline wall (the median over rounds); exit code 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bench_ingest import _load, _texts, timed  # noqa: E402 - the shared timing and text helpers

REPO_NAME = "SEED-Data-Edit-Part1-Openimages"
ANNOTATIONS = Path("auto_editing") / "openimages" / "annotations"
TARGET = 1.5

BASELINE = """
import duckdb, sys, glob
files = sorted(glob.glob(sys.argv[1] + '/**/*.jsonl', recursive=True))
con = duckdb.connect()
con.execute("SET enable_progress_bar=false")
con.execute("SET threads=" + str(int(sys.argv[3])))
con.execute("COPY (SELECT * FROM read_json(?, format='newline_delimited')) TO '"
            + sys.argv[2] + "' (FORMAT parquet)", [files])
print(con.execute("SELECT count(*) FROM read_parquet(?)", [sys.argv[2]]).fetchone()[0])
"""


def generate(out: Path, files: int, per_file: int, seed: int = 0) -> dict:
    """Write ``out/SEED-Data-Edit-Part1-Openimages`` (cached by a stamp file); return its counts."""
    import random

    root = out / REPO_NAME
    stamp = out / f"stamp-part1-{files}-{per_file}-{seed}.json"
    if stamp.exists() and root.exists():
        return json.loads(stamp.read_text())
    for old in out.glob("stamp-part1-*.json"):
        old.unlink()
    if root.exists():
        shutil.rmtree(root)
    d = root / ANNOTATIONS
    d.mkdir(parents=True)
    instr = _texts(random.Random(seed), 4096)
    uid = 0
    for f in range(1, files + 1):
        lines = []
        for _ in range(per_file):
            uid += 1
            h = f"{uid * 2654435761 % (1 << 48):012x}"
            lines.append(f'{{"source_image": "source_images/{h}.jpg", "target_image": '
                         f'"target_images/{h}_{uid % 7}.jpg", "instruction": "{instr[uid & 4095]}"}}')
        (d / f"split_{f:04d}.jsonl").write_text("\n".join(lines) + "\n")
    counts = {"files": files, "records": uid, "bytes": sum(p.stat().st_size for p in d.glob("*.jsonl"))}
    stamp.write_text(json.dumps(counts))
    return counts


def _check(wh: Path) -> tuple[int, int, int, int]:
    """(edits rows, rejects rows, records read, edits loaded + rejected) of a warehouse, from its Parquet."""
    import duckdb

    con = duckdb.connect()
    edits = con.sql(f"select count(*) from read_parquet('{wh}/parquet/edits/*.parquet')").fetchone()[0]
    rejects = con.sql(f"select count(*) from read_parquet('{wh}/parquet/rejects/*.parquet')").fetchone()[0]
    read, acc = con.sql(f"select sum(records_read), sum(records_loaded + records_rejected) "
                        f"from read_parquet('{wh}/parquet/ingest_runs/*.parquet')").fetchone()
    return edits, rejects, int(read), int(acc)


def _ingest(py: str, root: Path, wh: Path, workers: int, check_images: bool) -> dict:
    shutil.rmtree(wh, ignore_errors=True)
    cmd = [py, "-m", "editlens.cli", "ingest", str(root), "--warehouse", str(wh), "--workers", str(workers)]
    if not check_images:
        cmd.append("--no-check-images")
    load = _load()
    wall, rss, r = timed(cmd, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"ingest failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    edits, rejects, read, acc = _check(wh)
    return {"wall": wall, "rss": rss, "cpu": r.cpu_s, "load": load, "edits": edits, "rejects": rejects,
            "read": read, "accounted": acc}


def _sha1_path() -> str:
    """Which SHA-1 the measured ingest uses: the compiled batch, or hashlib (not built in this checkout). The
    measured ingest runs from the checkout, which this script imports too (the repo is first on its path)."""
    from editlens.ingest import ids

    if ids._c_sha1 is not None:
        return "the compiled batch SHA-1"
    print("warning: the compiled SHA-1 is not built in this checkout (`make install` builds it): ingest is "
          "measured with hashlib", file=sys.stderr)
    return "hashlib (the compiled batch SHA-1 is not built in this checkout)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/editlens-bench-part1"))
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--per-file", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2, help="ingest worker processes = baseline DuckDB threads")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--note", default="", help="text added to the recorded notes (e.g. an earlier run's figures)")
    ap.add_argument("--record", action="store_true",
                    help="write bench/results/ingest-part1.json (then `python bench/results.py` renders RESULTS.md)")
    args = ap.parse_args(argv)
    py = sys.executable
    args.out.mkdir(parents=True, exist_ok=True)
    counts = generate(args.out, args.files, args.per_file)
    root = args.out / REPO_NAME
    sha1 = _sha1_path()
    print(f"data: {root}: {counts['files']} files, {counts['records']} records, {counts['bytes'] / 2**20:.0f} MiB; "
          f"{os.cpu_count()} cores; ids hashed by {sha1}", flush=True)
    rounds = []
    ok_counts = True
    for k in range(1, args.rounds + 1):
        base_out = args.out / "baseline.parquet"
        base_out.unlink(missing_ok=True)
        b_load = _load()
        b_wall, b_rss, b = timed([py, "-c", BASELINE, str(root), str(base_out), str(args.workers)])
        if b.returncode != 0 or int(b.stdout.strip()) != counts["records"]:
            print(b.stdout, b.stderr)
            return 1
        print(f"[{k}] duckdb baseline: {b_wall:.2f} s wall, {b.cpu_s:.2f} s CPU, peak RSS {b_rss / 2**20:.0f} MiB "
              f"(load before: {b_load})", flush=True)
        res = {"baseline": {"wall": b_wall, "rss": b_rss, "cpu": b.cpu_s, "load": b_load}}
        for name, check in (("ingest", False), ("ingest_check_images", True)):
            r = res[name] = _ingest(py, root, args.out / "warehouse", args.workers, check)
            good = r["edits"] + r["rejects"] == counts["records"] == r["read"] == r["accounted"]
            ok_counts &= good
            print(f"[{k}] editlens ingest{'' if not check else ' (image check on)'}: {r['wall']:.2f} s wall, "
                  f"{r['cpu']:.2f} s CPU, peak RSS {r['rss'] / 2**20:.0f} MiB, {r['wall'] / b_wall:.2f}x baseline "
                  f"(load before: {r['load']}); edits {r['edits']} + rejects {r['rejects']} of {counts['records']} "
                  f"records{'' if good else ' MISMATCH'}", flush=True)
        rounds.append(res)
    ratios = [r["ingest"]["wall"] / r["baseline"]["wall"] for r in rounds]
    ratios_on = [r["ingest_check_images"]["wall"] / r["baseline"]["wall"] for r in rounds]
    ratio = statistics.median(ratios)
    ok = ratio <= TARGET and ok_counts
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    fmt = ", ".join
    print(f"{'PASS' if ok else 'FAIL'}: ingest (image check off) {fmt(f'{x:.2f}x' for x in ratios)} the DuckDB "
          f"baseline wall (median {ratio:.2f}x, target <= {TARGET}x); image check on "
          f"{fmt(f'{x:.2f}x' for x in ratios_on)}; every record accounted for: {ok_counts}; load after: {load}",
          flush=True)
    if args.record:
        from bench.results import record

        def span(key: str, field: str, scale: float = 1.0, digits: int = 1) -> str:
            vals = [r[key][field] / scale for r in rounds]
            lo, hi = min(vals), max(vals)
            return f"{lo:.{digits}f}" if round(lo, digits) == round(hi, digits) else \
                f"{lo:.{digits}f}-{hi:.{digits}f}"

        record("ingest-part1", stage="ingest",
               measured=f"ids hashed by {sha1}; SEED-Data-Edit Part-1 OpenImages layout "
                        f"({REPO_NAME}/{ANNOTATIONS}/split_NNNN.jsonl, {counts['files']} files, {counts['records']} records, {counts['bytes'] / 2**20:.0f} MiB; "
                        f"no image files) ingested with --workers {args.workers}, against DuckDB COPY (SELECT * "
                        f"FROM read_json(...)) TO parquet of the same files with threads={args.workers} in the same "
                        f"run; {args.rounds} round(s)",
               result=f"image check off: ingest {span('ingest', 'wall', digits=2)} s wall, "
                      f"{span('ingest', 'cpu')} s CPU, {span('ingest', 'rss', 2**20, 0)} MiB peak RSS; DuckDB "
                      f"{span('baseline', 'wall', digits=2)} s wall, {span('baseline', 'cpu')} s CPU, "
                      f"{span('baseline', 'rss', 2**20, 0)} MiB; wall ratio {fmt(f'{x:.2f}x' for x in ratios)}; "
                      f"image check on: {span('ingest_check_images', 'wall', digits=2)} s wall, ratio "
                      f"{fmt(f'{x:.2f}x' for x in ratios_on)}",
               target=f"ingest (image check off) <= {TARGET}x the baseline wall (median over rounds)",
               met="yes" if ok else "no",
               notes="load average before each measurement: "
                     + "; ".join(f"round {k}: baseline {r['baseline']['load']}, ingest {r['ingest']['load']}, "
                                 f"check on {r['ingest_check_images']['load']}" for k, r in enumerate(rounds, 1))
                     + f"; after: {load}" + (f"; {args.note}" if args.note else ""),
               figures={"records": counts["records"], "files": counts["files"], "workers": args.workers,
                        "ratios": [round(x, 3) for x in ratios],
                        "ratios_check_images": [round(x, 3) for x in ratios_on],
                        "rounds": [{k: {f: (round(v, 3) if isinstance(v, float) else v) for f, v in d.items()}
                                    for k, d in r.items()} for r in rounds]})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
