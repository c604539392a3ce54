"""Small dataset files in their real layouts (from /work/shared/formats.md), for the ingest tests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.ingest.main import IngestConfig, run_ingest
from editlens.warehouse import Warehouse

HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
PNG = b"\x89PNG\r\n\x1a\nfake-png-bytes"


def write_lines(path: Path, lines: list) -> Path:
    """Write JSON Lines; a ``str``/``bytes`` item is written verbatim (for malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ln in lines:
        if isinstance(ln, bytes):
            out.append(ln)
        elif isinstance(ln, str):
            out.append(ln.encode())
        else:
            out.append(json.dumps(ln, ensure_ascii=False).encode())
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 jpeg")


def seed_repo(base: Path) -> dict:
    """An umbrella folder with the three SEED-Data-Edit repos; returns facts the tests check."""
    oi = base / "SEED-Data-Edit-Part1-Openimages"
    write_lines(oi / "auto_editing/openimages/annotations/split_0000.jsonl", [
        {"source_image": "source_images/a1.jpg", "target_image": "target_images/a1.jpg",
         "instruction": "Remove the dog"},
        {"source_image": "source_images/a2.jpg", "target_image": "target_images/a2.jpg",
         "instruction": "Add a red hat", "pipeline": "lama"},
    ])
    touch(oi / "auto_editing/openimages/images/source_images/a1.jpg")
    touch(oi / "auto_editing/openimages/images/target_images/a1.jpg")
    un = base / "SEED-Data-Edit-Part1-Unsplash"
    write_lines(un / "auto_editing/unsplash/annotations/split_0000.jsonl", [
        {"source_image": "source_images/u1.jpg", "target_image": "target_images/u1.jpg",
         "instruction": "Make the sky pink", "source_caption": "a beach", "target_caption": "a beach, pink sky"},
    ])
    write_lines(un / "auto_editing/unsplash/annotations_GPT4V/split_0000.jsonl", [
        {"source_image": "source_images/u1.jpg", "target_image": "target_images/u1.jpg",
         "instruction": "Turn the sky pink.", "instruction_ori": "Make the sky pink",
         "source_caption": "a beach", "target_caption": "a beach, pink sky"},
    ])
    p23 = base / "SEED-Data-Edit-Part2-3"
    write_lines(p23 / "real_editing/annotations/split_0001.jsonl", [
        {"target_image": "images/2_1.jpg", "source_image": "images/2_0.jpg", "instruction": "Remove the man",
         "task_type": ["object-remove", "background-restore"], "instruction_cn": "移除男人"},
    ])
    touch(p23 / "real_editing/images/images/2_0.jpg")
    batch = "20240407_586P_2211turns/Data/176"
    write_lines(p23 / "multi_turn_editing/annotations/split_0001.jsonl", [
        # 3 turns, later ones null
        {"source_image": f"{batch}/h1.jpg", "instruction_1": "add a cat", "edit_image_1": f"{batch}/h1_edit1.jpg",
         "instruction_2": "make it black", "edit_image_2": f"{batch}/h1_edit2.jpg",
         "instruction_3": "blur the background", "edit_image_3": f"{batch}/h1_edit3.jpg",
         "instruction_4": None, "edit_image_4": None, "instruction_5": None, "edit_image_5": None},
        # 6 turns (more than the card's 5)
        dict({"source_image": f"{batch}/h2.jpg"},
             **{k: v for t in range(1, 7) for k, v in ((f"instruction_{t}", f"step {t}"),
                                                        (f"edit_image_{t}", f"{batch}/h2_edit{t}.jpg"))}),
        # 1 turn, later keys absent
        {"source_image": f"{batch}/h3.jpg", "instruction_1": "crop it", "edit_image_1": f"{batch}/h3_edit1.jpg"},
    ])
    touch(p23 / f"multi_turn_editing/images/data/{batch}/h1.jpg")
    touch(p23 / f"multi_turn_editing/images/data/{batch}/h1_edit1.jpg")
    return {"edits": 2 + 1 + 1 + 1 + (3 + 6 + 1), "oi": oi, "un": un, "p23": p23}


def hf_image(data: bytes | None, path: str | None = None):
    return None if data is None else {"bytes": data, "path": path}


def write_parquet(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def ingest(path, wh_dir, **kw):
    return run_ingest(IngestConfig(path=path, warehouse=Warehouse.at(wh_dir), **kw))


def table(wh_dir, name: str) -> list[dict]:
    d = Path(wh_dir) / "parquet" / name
    rows = []
    for p in sorted(d.glob("*.parquet")):
        rows += pq.read_table(p).to_pylist()
    return rows


VOLATILE = {"ingest_run_id", "started_at", "duration_s"}


def snapshot(wh_dir) -> dict:
    """All four tables without run ids and timings, rows sorted: equal for equal ingest results."""
    out = {}
    for name in ("edits", "images", "rejects", "ingest_runs"):
        rows = [{k: v for k, v in r.items() if k not in VOLATILE} for r in table(wh_dir, name)]
        out[name] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out
