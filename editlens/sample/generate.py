"""Write a shapes-world sample in SEED-Data-Edit's on-disk layout, with injected defects and their ground truth.

Steps: plan (how many edits per part, which slot carries which defect) -> make each record's edit (scene, edit,
texts) -> write images and annotation lines -> write `ground_truth.jsonl`, `truth_edits.jsonl` and
`sample_manifest.json`. Everything is drawn from one numpy Generator seeded from `seed`, images are JPEG at a
fixed quality and files are written in a fixed order, so the same seed gives byte-identical output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from editlens.contract.errors import UnusableInput
from editlens.sample.config import DATASET, JPEG_QUALITY, OUTPUTS, REPO, SampleConfig, SampleSummary
from editlens.sample.defects import DEFECTS
from editlens.sample.plan import plan
from editlens.sample.records import Writer, write_gpt4v, write_part3, write_single


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UnusableInput(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "sample_manifest.json").exists():
            raise UnusableInput(
                f"{out} is not empty and holds no editlens sample (sample_manifest.json): "
                "choose an empty or new folder"
            )
        for name in OUTPUTS:  # replace a previous sample: only the paths this generator writes
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8"
    )


def run(cfg: SampleConfig) -> SampleSummary:
    if not isinstance(cfg.n_edits, int) or cfg.n_edits < 10:
        raise UnusableInput(f"--edits must be an integer >= 10 (got {cfg.n_edits})")
    if cfg.n_edits > 5_000_000:
        raise UnusableInput(f"--edits {cfg.n_edits} is more than this generator is meant for (5,000,000)")
    unknown = set(cfg.rates) - set(DEFECTS)
    if unknown:
        raise UnusableInput(f"unknown defect kinds: {sorted(unknown)}")
    if cfg.records_per_file < 1:
        raise UnusableInput(f"records_per_file must be >= 1 (got {cfg.records_per_file})")
    out = Path(cfg.out_dir)
    _prepare_out(out)
    rng = np.random.default_rng([int(cfg.seed), 0xED17])
    slots = plan(cfg, rng)
    w = Writer(out, int(cfg.seed), rng, cfg.records_per_file)
    gpt4v: list = []
    for part in ("part1-openimages", "part1-unsplash", "part2"):
        write_single(w, part, slots[part], int(cfg.seed), rng, gpt4v)
    n_rw = write_gpt4v(w, gpt4v, rng)
    write_part3(w, slots["part3"], int(cfg.seed), rng)
    files = w.flush()

    defects = {d: 0 for d in DEFECTS}
    for row in w.ground_truth:
        defects[row["defect"]] += 1
    part_order = {p: i for i, p in enumerate(REPO)}
    w.ground_truth.sort(
        key=lambda r: (part_order[r["part"]], r["source_file"], r["source_record"], r["turn_index"])
    )
    _write_jsonl(out / "ground_truth.jsonl", w.ground_truth)
    _write_jsonl(out / "truth_edits.jsonl", w.truth)
    edits = {p: sum(s.turns for s in slots[p]) for p in slots}
    records = {p: len(slots[p]) for p in slots}
    summary = SampleSummary(
        out_dir=out,
        seed=int(cfg.seed),
        n_edits=cfg.n_edits,
        edits_per_part=edits,
        records_per_part=records,
        files_per_part={p: files.get(p, 0) for p in slots},
        gpt4v_rewrites=n_rw,
        sessions=len(slots["part3"]),
        defects=defects,
        images_written=w.images_written,
    )
    manifest = {
        "generator": "editlens.sample",
        "version": 1,
        "dataset": DATASET,
        "seed": int(cfg.seed),
        "n_edits": cfg.n_edits,
        "edits_per_part": edits,
        "records_per_part": records,
        "files_per_part": summary.files_per_part,
        "gpt4v_rewrites": n_rw,
        "sessions": len(slots["part3"]),
        "defects": defects,
        "defect_rates": {d: cfg.rates.get(d, 0.0) for d in DEFECTS},
        "images_written": w.images_written,
        "jpeg_quality": JPEG_QUALITY,
        "repos": sorted(set(REPO.values())),
        "truth_rows": len(w.truth),
        "clean_edits": sum(1 for r in w.truth if r["clean"]),
    }
    (out / "sample_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # the ground-truth files are not annotations: ingest's discovery skips what this file names
    (out / ".editlensignore").write_text("ground_truth.jsonl\ntruth_edits.jsonl\nsample_manifest.json\n")
    return summary


def generate(out_dir, n_edits: int = 2000, seed: int = 0) -> SampleSummary:
    """Write a shapes-world sample of `n_edits` edits in SEED-Data-Edit's layout under `out_dir`."""
    return run(SampleConfig(out_dir=Path(out_dir), n_edits=n_edits, seed=seed))
