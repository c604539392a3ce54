"""Long fuzz run of the ingest readers: N generated malformed datasets per reader (the generator and checker the
fuzz tests use, `tests/fuzz_ingest.py`), plus special annotation files and a few hostile inputs under the default
limits, each ingested on its own; figures through `bench.results.record` -> `bench/RESULTS.md`.

    python bench/fuzz_ingest.py [--per-reader 1000] [--special 20] [--readers seed-part1,...]

Counted: tracebacks (an exception out of `run_ingest` or a `reader_error` reject), records lost (neither loaded
nor rejected), clean records not loaded and files rejected whole for a bad record, defective records loaded,
unsafe image paths loaded, totals that do not add up, special files that hang (60 s watchdog) or are not
refused; memory: the process's peak RSS after the first 20 cases (the baseline, same run) and after all, and the
RSS growth of each hostile input under the default limits (a 100-byte Part-3 line naming turn 2,000,000, an
annotation file that is a symlink to /dev/zero, a FIFO).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

import fuzz_ingest as F  # noqa: E402
from bench.results import RESULTS_MD, load, record, render  # noqa: E402

COUNTS = ("tracebacks", "records_lost", "clean_not_loaded", "whole_file_rejects", "defect_loaded", "unsafe_loaded",
          "totals_mismatch")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def one(reader: str, i: int, tmp: Path, special: bool = False) -> dict:
    base = Path(tempfile.mkdtemp(dir=tmp))
    rng = random.Random(f"{reader}-{i}")
    try:
        case = F.build_special(reader, rng, base / "in") if special else F.build(reader, rng, base / "in")
        signal.alarm(60)
        try:
            v = F.check(case, base / "wh")
        except _Hang:
            v = {"hangs": 1, "records": len(case.expected)}
        finally:
            signal.alarm(0)
        v["defects"] = case.defects
        return v
    finally:
        shutil.rmtree(base, ignore_errors=True)


def hostile(tmp: Path) -> dict:
    """RSS growth (MB) of ingesting each hostile input with the default limits; and its reject reasons."""
    import pyarrow.parquet as pq

    from editlens.ingest.main import IngestConfig, run_ingest
    from editlens.warehouse import Warehouse

    out = {}
    cases = {
        "part3_turn_2000000": lambda d: (d / "multi_turn_editing/annotations").mkdir(parents=True) or
        (d / "multi_turn_editing/annotations/split_0001.jsonl").write_bytes(
            b'{"source_image": "a.jpg", "instruction_2000000": "x", "edit_image_2000000": "b.jpg"}\n'),
        "symlink_to_dev_zero": lambda d: (d / "real_editing/annotations").mkdir(parents=True) or
        (d / "real_editing/annotations/split_0001.jsonl").symlink_to("/dev/zero"),
        "fifo": lambda d: (d / "real_editing/annotations").mkdir(parents=True) or
        os.mkfifo(d / "real_editing/annotations/split_0001.jsonl"),
        "parquet_symlink_to_dev_zero": lambda d: (d / "hq/data").mkdir(parents=True) or
        (d / "hq/data/train-00000-of-00001.parquet").symlink_to("/dev/zero"),
    }
    for name, make in cases.items():
        base = Path(tempfile.mkdtemp(dir=tmp))
        try:
            make(base / "repo")
            before = _current_rss_mb()
            t0 = time.perf_counter()
            signal.alarm(60)
            try:
                s = run_ingest(IngestConfig(path=base / "repo", warehouse=Warehouse.at(base / "wh"), workers=1))
                rej = [r["reason"] for p in sorted((base / "wh/parquet/rejects").glob("*.parquet"))
                       for r in pq.read_table(p).to_pylist()]
                outcome = ",".join(sorted(set(rej))) or f"unplaced: {len(s.unplaced)}"
            except _Hang:
                outcome = "HANG"
            except Exception as exc:  # noqa: BLE001 - an unusable input is exit 2, reported here
                outcome = f"{type(exc).__name__}: {str(exc)[:80]}"
            finally:
                signal.alarm(0)
            out[name] = {"rss_growth_mb": round(max(0.0, _current_rss_mb() - before), 1),
                         "seconds": round(time.perf_counter() - t0, 2), "outcome": outcome}
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-reader", type=int, default=1000)
    ap.add_argument("--special", type=int, default=20, help="cases per special-file kind")
    ap.add_argument("--readers", default=",".join(F.READERS))
    ap.add_argument("--no-record", action="store_true", help="print only (no bench/results JSON)")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-ingest-"))
    t0 = time.perf_counter()
    per_reader: dict[str, dict] = {}
    baseline_rss = None
    examples: list[str] = []
    n_done = 0
    try:
        jobs = [(r, a.per_reader, False) for r in a.readers.split(",")] + [(k, a.special, True) for k in F.SPECIAL]
        for reader, n, special in jobs:
            tot = {k: 0 for k in COUNTS + ("records", "hangs", "special_rejected", "inputs")}
            defects: dict[str, int] = {}
            for i in range(n):
                v = one(reader, i, tmp, special)
                n_done += 1
                if n_done == 20:
                    baseline_rss = _rss_mb()
                tot["inputs"] += 1
                for k in tot:
                    if k != "inputs" and isinstance(v.get(k), int):
                        tot[k] += v[k]
                for d, c in v.get("defects", {}).items():
                    defects[d] = defects.get(d, 0) + c
                if any(v.get(k) for k in COUNTS + ("hangs",)) and len(examples) < 5:
                    examples.append(f"{reader} #{i}: " + str({k: v[k] for k in v if k in COUNTS and v[k]})
                                    + str(v.get("traceback", ""))[-300:])
            tot["defective_records"] = sum(defects.values())
            per_reader[("special:" if special else "") + reader] = tot
            print(reader, tot, flush=True)
        hostile_figs = hostile(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.perf_counter() - t0
    peak = _rss_mb()
    totals = {k: sum(t[k] for t in per_reader.values()) for k in COUNTS + ("records", "hangs")}
    normal = [r for r in per_reader if not r.startswith("special:")]
    special_not_refused = sum(t["inputs"] - t["special_rejected"] for r, t in per_reader.items()
                              if r.startswith("special:") and not r.endswith("directory_named_jsonl"))
    inputs = sum(per_reader[r]["inputs"] for r in normal)
    defective = sum(per_reader[r]["defective_records"] for r in normal)
    for name, h in hostile_figs.items():
        print("hostile", name, h)
    for e in examples:
        print("EXAMPLE", e)
    bad = sum(totals[k] for k in COUNTS) + totals["hangs"] + special_not_refused
    result = (f"{inputs:,} generated datasets over {len(normal)} readers ({a.per_reader:,} each; "
              f"{totals['records']:,} records, {defective:,} of them defective) + "
              f"{sum(per_reader[r]['inputs'] for r in per_reader if r.startswith('special:'))} special files: "
              f"tracebacks {totals['tracebacks']}, records lost {totals['records_lost']}, unsafe paths loaded "
              f"{totals['unsafe_loaded']}, whole-file rejects for a bad record {totals['whole_file_rejects']}, "
              f"clean records not loaded {totals['clean_not_loaded']}, defective records loaded "
              f"{totals['defect_loaded']}, totals not adding up {totals['totals_mismatch']}, hangs "
              f"{totals['hangs']}, special files not refused {special_not_refused}; peak RSS {peak:.0f} MB "
              f"(after the first 20 inputs: {baseline_rss or peak:.0f} MB); hostile inputs under the default limits: "
              + "; ".join(f"{k} +{h['rss_growth_mb']} MB in {h['seconds']} s ({h['outcome']})"
                          for k, h in hostile_figs.items()) + f"; {wall / 60:.1f} min")
    print(result)
    if not a.no_record:
        record("ingest-fuzz", stage="ingest", measured=(
            "generated malformed datasets in each reader's real layout (truncation, random bytes, wrong types, deep "
            "nesting, invalid UTF-8, duplicate keys, path tricks, oversize lines, absurd turn numbers; Parquet: null "
            "and empty texts, nested columns, non-image bytes, truncated files), each ingested alone with small "
            "limits (tests/fuzz_ingest.py LIMITS), checked record by record; special annotation files (FIFO, "
            "symlink to /dev/zero, symlink out of the root, non-UTF-8 name) with a 60 s watchdog; peak RSS of the "
            "process against its own peak after the first 20 inputs"),
            result=result, target=("over >= 1,000 inputs per reader: 0 tracebacks, 0 records lost, 0 unsafe paths "
                                   "loaded, no file rejected whole for a bad record, memory bounded"),
            met="yes" if bad == 0 and a.per_reader >= 1000 else "no",
            figures={"per_reader": per_reader, "hostile": hostile_figs, "peak_rss_mb": round(peak, 1),
                     "baseline_rss_mb": round(baseline_rss or peak, 1), "wall_s": round(wall, 1)})
        RESULTS_MD.write_text(render(load()), encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
