"""Hostile images cost no memory: peak RSS of one embed-job batch (read, header check, decode, model input) over
N ordinary images plus the hostile cases (a 259-byte 60000x1 and 1x60000 PNG, a 30000x30000 PNG header, a
3 GB sparse file, symlinks to /dev/zero and /dev/urandom, a FIFO, a zero-byte file, non-image bytes) against the
same batch without them, each in a fresh process in the same run. Also checks each hostile case's status.

    .venv/bin/python bench/bench_hostile_images.py [--n 64] [--record]

Target: peak RSS with the hostile cases <= the baseline's + 64 MiB, every status as expected, no stall (each
process has a 120 s limit). Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EXPECTED = {"wide.png": "unsupported", "tall.png": "unsupported", "bomb.png": "too_large",
            "sparse.jpg": "too_large", "zero.jpg": "unsafe_path", "urandom.jpg": "unsafe_path",
            "fifo.jpg": "unsupported", "empty.jpg": "truncated", "text.jpg": "unsupported"}

CHILD = r"""
import json, resource, sys
from editlens.embeddings.imageio import Preprocess, process_batch
rows = json.loads(open(sys.argv[1]).read())
b = process_batch(rows, Preprocess())
print(json.dumps({"status": dict(zip(b.facts["image_id"], b.facts["status"])),
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _png(w: int, h: int, body: bool = True) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = (b"\x00" + b"\x00" * ((w + 7) // 8)) * h if body else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make(root: Path, n: int) -> tuple[list[dict], list[dict]]:
    import numpy as np
    from PIL import Image

    img = root / "images"
    img.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def row(name: str) -> dict:
        return {"image_id": name, "location_kind": "file", "root": str(root), "path": f"images/{name}",
                "row_group": None, "row": None, "column": None, "exists": None}

    base = []
    for i in range(n):
        Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(img / f"ok{i}.jpg", quality=90)
        base.append(row(f"ok{i}.jpg"))
    (img / "wide.png").write_bytes(_png(60000, 1))
    (img / "tall.png").write_bytes(_png(1, 60000))
    (img / "bomb.png").write_bytes(_png(30000, 30000, body=False))
    with open(img / "sparse.jpg", "wb") as fh:
        fh.truncate(3 << 30)
    os.symlink("/dev/zero", img / "zero.jpg")
    os.symlink("/dev/urandom", img / "urandom.jpg")
    os.mkfifo(img / "fifo.jpg")
    (img / "empty.jpg").write_bytes(b"")
    (img / "text.jpg").write_bytes(b"<html>not a picture</html>" * 50)
    return base, base + [row(name) for name in EXPECTED]


def run(rows: list[dict], tmp: Path, tag: str) -> tuple[dict, float]:
    spec = tmp / f"{tag}.json"
    spec.write_text(json.dumps(rows))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(spec)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="ordinary 640x480 JPEGs in the batch")
    ap.add_argument("--record", action="store_true", help="write bench/results/hostile-images.json")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base_rows, hostile_rows = make(tmp / "data", a.n)
        base, t_base = run(base_rows, tmp, "base")
        hostile, t_hostile = run(hostile_rows, tmp, "hostile")
    got = {k: hostile["status"][k] for k in EXPECTED}
    statuses_ok = got == EXPECTED and all(hostile["status"][r["image_id"]] == "ok" for r in base_rows)
    extra = hostile["maxrss_mib"] - base["maxrss_mib"]
    met = statuses_ok and extra <= 64
    summary = {"n": a.n, "baseline_maxrss_mib": round(base["maxrss_mib"], 1),
               "hostile_maxrss_mib": round(hostile["maxrss_mib"], 1), "extra_mib": round(extra, 1),
               "baseline_s": round(t_base, 2), "hostile_s": round(t_hostile, 2), "statuses": got,
               "statuses_as_expected": statuses_ok}
    print(json.dumps(summary, indent=1))
    if a.record:
        from bench.results import record

        record("hostile-images", stage="embed (hostile input)",
               measured=f"peak RSS of one process_batch over {a.n} 640x480 JPEGs plus {len(EXPECTED)} hostile cases "
                        "(aspect-ratio and pixel bombs, 3 GB sparse file, /dev/zero and /dev/urandom symlinks, FIFO, "
                        "empty and non-image files) vs the same batch without them, fresh processes, same run",
               result=f"{summary['hostile_maxrss_mib']:.0f} MiB vs {summary['baseline_maxrss_mib']:.0f} MiB "
                      f"(+{extra:.0f} MiB); {t_hostile:.1f} s vs {t_base:.1f} s; statuses "
                      f"{'as expected' if statuses_ok else 'WRONG'}",
               target="<= baseline + 64 MiB, every status as expected, no stall", met="yes" if met else "no",
               figures=summary)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
