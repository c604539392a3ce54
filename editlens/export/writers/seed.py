"""SEED-Data-Edit JSON Lines as the dataset ships them: each kept edit back in its annotation file (same
repo-relative file name, under a folder named like its repo), with the original keys rebuilt from the
canonical columns and `extra`; Part-3 sessions as one line with their kept turns 1..k. Images are copied
(hard-linked where possible) to the same repo-relative paths, or left out (``reference``). Re-ingesting the
export gives the kept edits with the same edit ids."""

from __future__ import annotations

import json
import os
import shutil
from itertools import groupby
from pathlib import Path

from editlens.export.policy import PolicyError
from editlens.ingest.detect import SEED, seed_part


def _image_root(source_file: str) -> str:
    info = seed_part(source_file)
    return info[2] if info else ""


def _rel(ref, image_root: str) -> str:
    """An image path as the record wrote it: relative to the part's image folder."""
    prefix = image_root.rstrip("/") + "/" if image_root else ""
    return ref.path[len(prefix):] if prefix and ref.path.startswith(prefix) else ref.path


def _single(r: dict, image_root: str) -> dict:
    rec = {"source_image": _rel(r["source_image"], image_root), "target_image": _rel(r["target_image"], image_root),
           "instruction": r["instruction"]}
    for key in ("instruction_ori", "source_caption", "target_caption"):
        if r[key] is not None:
            rec[key] = r[key]
    if r["provided_labels"] is not None:
        rec["task_type"] = list(r["provided_labels"])
    rec.update((k, v) for k, v in r["extra"].items() if k not in rec)
    return rec


def _session(turns: list[dict], image_root: str) -> dict:
    rec = {"source_image": _rel(turns[0]["source_image"], image_root)}
    for t in turns:
        k = t["turn_index"]
        rec[f"instruction_{k}"] = t["instruction"]
        rec[f"edit_image_{k}"] = _rel(t["target_image"], image_root)
    rec.update((k, v) for k, v in turns[0]["extra"].items() if k not in rec)
    return rec


def _repo_names(rows: list[dict]) -> dict[str, str]:
    """Dataset root -> the folder it is written under (its own name; a suffix when two roots share one)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for root in sorted({r["source_image"].root for r in rows}):
        base = os.path.basename(root.rstrip("/")) or "dataset"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names[root] = name
    return names


def _copy(src: str, dst: Path) -> bool:
    if not os.path.isfile(src):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return True


def write(rows: list[dict], out: Path, images: str) -> tuple[list[str], int]:
    others = sorted({r["dataset"] for r in rows} - {SEED})
    if others:
        raise PolicyError(f"format `seed` writes SEED-Data-Edit edits only; the policy keeps edits of {', '.join(others)}"
                          f" (add e.g. `where: dataset = '{SEED}'`, or use --format parquet / manifest)")
    if any(r["source_image"] is None or r["target_image"] is None for r in rows):
        raise PolicyError("some kept edits have no image location in the warehouse (re-run `editlens ingest`)")
    names = _repo_names(rows)
    files: dict[Path, list[str]] = {}
    wanted: set[tuple[str, str]] = set()
    key = lambda r: (r["source_image"].root, r["source_file"], r["source_record"])
    for (root, source_file, _), group in groupby(sorted(rows, key=lambda r: key(r) + (r["turn_index"],)), key=key):
        group = list(group)
        image_root = _image_root(source_file)
        if group[0]["session_id"] is not None:
            lines = [_session(group, image_root)]
        else:
            lines = [_single(r, image_root) for r in group]
        target = Path(names[root]) / source_file
        files.setdefault(target, []).extend(json.dumps(rec, ensure_ascii=False) for rec in lines)
        for r in group:
            for ref in (r["source_image"], r["target_image"], r["mask_image"]):
                if ref is not None and ref.location_kind == "file":
                    wanted.add((ref.root, ref.path))
    for rel, lines in files.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    n_images = 0
    if images == "copy":
        for root, path in sorted(wanted):
            n_images += _copy(os.path.join(root, path), out / names[root] / path)
    return sorted(str(p) for p in files), n_images
