"""Speed of the sample generator against a bare baseline measured in the same run.

    python -m editlens.sample.bench [--edits 2000] [--seed 0]

baseline: encode and write as many JPEGs (same sizes, quality, one solid colour each) as the sample writes;
sample:   `generate()` itself (scenes, edits, texts, defects, annotation files, ground truth).
Prints both times, the ratio, edits per second and the peak memory of the sample run (ru_maxrss). The target
is "well under a minute for 2000 edits on one core"; the ratio says what the generator costs over raw JPEG I/O.
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image


def _baseline(out: Path, sizes: list[tuple[int, int]], quality: int) -> float:
    t0 = time.perf_counter()
    for i, (w, h) in enumerate(sizes):
        buf = io.BytesIO()
        Image.new("RGB", (w, h), (i % 256, 90, 160)).save(buf, format="JPEG", quality=quality)
        (out / f"{i}.jpg").write_bytes(buf.getvalue())
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    from editlens.sample import generate
    from editlens.sample.config import JPEG_QUALITY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edits", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = generate(Path(tmp) / "sample", n_edits=args.edits, seed=args.seed)
        t_sample = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sizes = []
        for p in sorted((Path(tmp) / "sample").rglob("*.jpg")):
            with Image.open(p) as im:
                sizes.append(im.size)
        base = Path(tmp) / "baseline"
        base.mkdir()
        t_base = _baseline(base, sizes, JPEG_QUALITY)
    print(f"edits {args.edits}, images {summary.images_written}")
    print(f"baseline (bare JPEG encode+write of {len(sizes)} images): {t_base:.2f} s")
    print(
        f"sample generate(): {t_sample:.2f} s = {args.edits / t_sample:.0f} edits/s, peak RSS {rss_mb:.0f} MB"
    )
    print(f"ratio sample/baseline: {t_sample / max(t_base, 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
