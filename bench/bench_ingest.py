"""Full-scale ingest benchmark: SEED-Data-Edit-shaped annotations (3.5M Part-1 records, 52K Part-2, 21K Part-3
sessions with ~95K turns), ingested by `editlens ingest`, against a bare DuckDB
``COPY (SELECT * FROM read_json(...)) TO '...parquet'`` of the same files measured in the same run.

    .venv/bin/python bench/bench_ingest.py [--out /tmp/editlens-bench] [--scale 1.0] [--workers 2]

Targets (issue 3): ingest wall <= 90 s, peak RSS (whole process tree, sampled) <= 2 GB, and
ingest wall <= 2x the DuckDB baseline. The annotations are generated once per (scale, seed) and reused; image
files are not generated (every image is reported missing, via the cheap cached folder listing).
Prints one line per measurement and a final PASS/FAIL line; exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/bench_ingest.py --record` imports bench.results
    sys.path.insert(0, str(REPO))
PART1 = (("openimages", "annotations", 200), ("unsplash", "annotations", 100), ("unsplash", "annotations_GPT4V", 50))
PER_FILE = 10_000
PART2_RECORDS, PART2_FILES = 52_000, 6
PART3_SESSIONS, PART3_FILES = 21_000, 3

OBJECTS = ["dog", "cat", "car", "tree", "person", "bench", "lamp", "boat", "cup", "horse", "bird", "sign", "bike",
           "window", "flower", "chair", "clock", "bottle", "kite", "umbrella", "hat", "fence", "cloud", "house"]
PLACES = ["street", "beach", "park", "kitchen", "table", "field", "river", "room", "sky", "forest", "garden"]
VERBS = ["Remove the {o} from the {p}", "Add a {o} to the {p}", "Replace the {o} with a {o2}",
         "Make the {o} red", "Turn the {p} into a snowy {p}", "Change the style to watercolor",
         "Move the {o} to the left of the {o2}", "Make it look like sunset at the {p}"]
LABELS = ["object-add", "object-remove", "object-replace", "background-replace", "overall-color-adjustment",
          "object-recolor", "overall-stylize", "text-remove", "object-reposition", "overall-restore"]


def _texts(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        v = rng.choice(VERBS)
        out.append(v.format(o=rng.choice(OBJECTS), o2=rng.choice(OBJECTS), p=rng.choice(PLACES)))
    return out


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def generate(out: Path, scale: float = 1.0, seed: int = 0) -> dict:
    """Write the annotation tree under ``out/SEED-Data-Edit`` (cached by a stamp file); return its counts."""
    root = out / "SEED-Data-Edit"
    stamp = out / f"stamp-{scale}-{seed}.json"
    if stamp.exists() and root.exists():
        return json.loads(stamp.read_text())
    for old in out.glob("stamp-*.json"):  # every scale shares the folder: the one being written is the only one
        old.unlink()
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    instr = _texts(rng, 4096)
    weather = ["sunny", "rainy", "foggy", "bright"]
    caps = [f"a photo of a {rng.choice(OBJECTS)} in the {rng.choice(PLACES)}, {rng.choice(weather)} day"
            for _ in range(4096)]
    per_file = max(1, int(PER_FILE * scale))
    counts = {"part1": 0, "part2": 0, "part3_sessions": 0, "part3_turns": 0, "files": 0}
    uid = 0
    for sub, ann, n_files in PART1:
        d = root / "auto_editing" / sub / ann
        d.mkdir(parents=True, exist_ok=True)
        for f in range(1, n_files + 1):
            lines = []
            for _ in range(per_file):
                uid += 1
                h = f"{uid * 2654435761 % (1 << 48):012x}"
                i = uid & 4095
                if sub == "openimages":
                    lines.append(f'{{"source_image": "source_images/{h}.jpg", "target_image": '
                                 f'"target_images/{h}_{uid % 7}.jpg", "instruction": "{instr[i]}"}}')
                elif ann == "annotations":
                    lines.append(f'{{"source_image": "{h[:2]}/{h}.jpg", "target_image": "{h[:2]}/{h}_edit.jpg", '
                                 f'"instruction": "{instr[i]}", "source_caption": "{caps[i]}", '
                                 f'"target_caption": "{caps[(i * 7) & 4095]}"}}')
                else:
                    lines.append(f'{{"source_image": "{h[:2]}/{h}.jpg", "target_image": "{h[:2]}/{h}_edit.jpg", '
                                 f'"instruction": "{instr[i]}. Keep everything else unchanged.", '
                                 f'"instruction_ori": "{instr[i]}", "source_caption": "{caps[i]}", '
                                 f'"target_caption": "{caps[(i * 7) & 4095]}"}}')
            (d / f"split_{f:04d}.jsonl").write_text("\n".join(lines) + "\n")
            counts["part1"] += len(lines)
            counts["files"] += 1
    d = root / "real_editing" / "annotations"
    d.mkdir(parents=True, exist_ok=True)
    n2 = max(1, int(PART2_RECORDS * scale))
    for f in range(PART2_FILES):
        lines = []
        for k in range(f * n2 // PART2_FILES, (f + 1) * n2 // PART2_FILES):
            labels = rng.sample(LABELS, rng.randint(1, 3))
            lines.append(_dumps({"source_image": f"images/{k}_0.jpg", "target_image": f"images/{k}_1.jpg",
                                 "instruction": instr[k & 4095] + ", and make the result look realistic.",
                                 "task_type": labels, "instruction_cn": "移除多余背景，使画面更突出主体。"}))
        (d / f"split_{f + 1:04d}.jsonl").write_text("\n".join(lines) + "\n")
        counts["part2"] += len(lines)
        counts["files"] += 1
    d = root / "multi_turn_editing" / "annotations"
    d.mkdir(parents=True, exist_ok=True)
    n3 = max(1, int(PART3_SESSIONS * scale))
    weights = [1, 2, 3, 4, 5, 6]
    for f in range(PART3_FILES):
        lines = []
        for s in range(f * n3 // PART3_FILES, (f + 1) * n3 // PART3_FILES):
            turns = rng.choices(weights, weights=[0.03, 0.05, 0.1, 0.15, 0.52, 0.15])[0]
            batch = f"2024040{s % 9 + 1}_{s % 700}P_{s % 3000}turns/Data/{s % 300}"
            rec = {"source_image": f"{batch}/{s:08x}.jpg"}
            for t in range(1, 7):
                if t <= turns:
                    rec[f"instruction_{t}"] = instr[(s * 7 + t) & 4095]
                    rec[f"edit_image_{t}"] = f"{batch}/{s:08x}_edit{t}.jpg"
                elif t <= 5:
                    rec[f"instruction_{t}"] = None
                    rec[f"edit_image_{t}"] = None
            lines.append(_dumps(rec))
            counts["part3_sessions"] += 1
            counts["part3_turns"] += turns
        (d / f"split_{f + 1:04d}.jsonl").write_text("\n".join(lines) + "\n")
        counts["files"] += 1
    counts["records"] = counts["part1"] + counts["part2"] + counts["part3_turns"]
    counts["bytes"] = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
    stamp.write_text(json.dumps(counts))
    return counts


class TreeRss:
    """Sample the summed RSS of a process and all its descendants (Linux /proc) every ``interval`` s, and keep
    each one's last seen CPU time (user + sys) in ``cpu``: off Linux ingest's workers are children of a fork
    server the command never waits for, so the command's rusage misses them (here their last < ``interval`` s is
    missed)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self.cpu: dict[int, float] = {}
        self._tick = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    with open(f"/proc/{p}/statm") as fh:
                        total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                    with open(f"/proc/{p}/stat") as fh:
                        f = fh.read().rsplit(")", 1)[1].split()
                    self.cpu[p] = (int(f[11]) + int(f[12])) / self._tick
                except (OSError, ValueError, IndexError):
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak


def _load() -> str:
    """The 1, 5 and 15 minute load averages (other jobs on the machine inflate every wall time)."""
    with open("/proc/loadavg") as fh:
        return "/".join(fh.read().split()[:3])


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str], **kw) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and sampled peak tree RSS of a command; its CPU time (user + sys, all descendants: the larger of
    the waited-for descendants' rusage and the sampled sum over the process tree) is put in ``proc.cpu_s``."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    rss = TreeRss(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    peak = rss.stop()
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    done.cpu_s = max(_children_cpu() - c0, sum(rss.cpu.values()))
    return wall, peak, done


BASELINE = """
import duckdb, sys, glob
files = sorted(glob.glob(sys.argv[1] + '/**/*.jsonl', recursive=True))
con = duckdb.connect()
con.execute("SET enable_progress_bar=false")
con.execute("COPY (SELECT * FROM read_json(?, format='newline_delimited', union_by_name=true)) TO '"
            + sys.argv[2] + "' (FORMAT parquet)", [files])
print(con.execute("SELECT count(*) FROM read_parquet(?)", [sys.argv[2]]).fetchone()[0])
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/editlens-bench"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-check-images", action="store_true")
    ap.add_argument("--note", default="", help="text added to the recorded notes (e.g. other runs' figures)")
    ap.add_argument("--record", action="store_true",
                    help="write the figures to bench/results/ingest.json (then `python bench/results.py` renders RESULTS.md)")
    args = ap.parse_args(argv)
    py = sys.executable
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    counts = generate(args.out, args.scale, args.seed)
    print(f"data: {counts['files']} files, {counts['bytes'] / 1e6:.0f} MB, {counts['part1']} Part-1 records, "
          f"{counts['part2']} Part-2, {counts['part3_sessions']} Part-3 sessions / {counts['part3_turns']} turns "
          f"({time.perf_counter() - t0:.1f} s to generate or reuse)", flush=True)
    with open("/proc/loadavg") as fh:
        print(f"machine: {os.cpu_count()} cores, load average before runs: {fh.read().split()[:3]}", flush=True)
    root = args.out / "SEED-Data-Edit"
    base_out = args.out / "baseline.parquet"
    base_out.unlink(missing_ok=True)
    b_load = _load()
    b_wall, b_rss, b = timed([py, "-c", BASELINE, str(root), str(base_out)])
    if b.returncode != 0:
        print(b.stderr)
        return 1
    print(f"duckdb baseline: {b_wall:.1f} s wall, {b.cpu_s:.1f} s CPU, peak RSS {b_rss / 2**20:.0f} MiB, "
          f"rows {b.stdout.strip()} (load average before: {b_load})",
          flush=True)
    wh = args.out / "warehouse"
    shutil.rmtree(wh, ignore_errors=True)
    cmd = [py, "-m", "editlens.cli", "ingest", str(root), "--warehouse", str(wh), "--workers", str(args.workers)]
    if args.no_check_images:
        cmd.append("--no-check-images")
    i_load = _load()
    i_wall, i_rss, r = timed(cmd, cwd=REPO)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-4000:])
        return 1
    total_line = [ln for ln in r.stdout.splitlines() if ln.startswith("total:")]
    print(f"editlens ingest: {i_wall:.1f} s wall, {r.cpu_s:.1f} s CPU, peak RSS {i_rss / 2**20:.0f} MiB "
          f"(load average before: {i_load}); {total_line[0] if total_line else ''}",
          flush=True)
    import duckdb

    n_edits = duckdb.sql(f"select count(*) from read_parquet('{wh}/parquet/edits/*.parquet')").fetchone()[0]
    n_runs = duckdb.sql(f"select sum(records_read), sum(records_loaded), sum(records_rejected) "
                        f"from read_parquet('{wh}/parquet/ingest_runs/*.parquet')").fetchone()
    print(f"check: edits rows {n_edits}, expected records {counts['records']}, ingest_runs read/loaded/rejected "
          f"{n_runs}", flush=True)
    rr_wall, _, rr = timed(cmd, cwd=REPO)
    print(f"rerun, nothing changed: {rr_wall:.1f} s wall "
          f"({[ln for ln in rr.stdout.splitlines() if ln.startswith('total:')]})", flush=True)
    ratio = i_wall / b_wall
    ok = i_wall <= 90 and i_rss <= 2 * 2**30 and ratio <= 2.0 and n_edits == counts["records"]
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"{'PASS' if ok else 'FAIL'}: ingest {i_wall:.1f} s (<= 90), {i_rss / 2**20:.0f} MiB (<= 2048), "
          f"{ratio:.2f}x DuckDB wall (<= 2.0) [CPU ratio {r.cpu_s / max(b.cpu_s, 1e-9):.2f}x]; load average after: "
          f"{load}", flush=True)
    if args.record:
        from bench.results import record

        record("ingest", stage="ingest", measured=f"SEED-shaped annotations ({counts['records']} records, "
               f"{counts['bytes'] / 2**20:.0f} MiB) against DuckDB COPY (SELECT * FROM read_json(...)) TO parquet of "
               "the same files in the same run",
               result=f"ingest {i_wall:.1f} s wall, {r.cpu_s:.1f} s CPU, {i_rss / 2**20:.0f} MiB peak RSS; DuckDB "
                      f"{b_wall:.1f} s wall; ratio {ratio:.2f}x",
               target="<= 90 s, <= 2 GB, <= 2x baseline", met="yes" if ok else "no",
               notes=f"load average after: {' '.join(load)}" + (f"; {args.note}" if args.note else ""),
               figures={"ingest_wall_s": round(i_wall, 2), "ingest_cpu_s": round(r.cpu_s, 2),
                        "ingest_peak_mib": round(i_rss / 2**20), "baseline_wall_s": round(b_wall, 2),
                        "ratio": round(ratio, 3), "records": counts["records"], "edits": n_edits})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
