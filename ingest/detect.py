"""Format auto-detection: a path (repo folder, part folder, one annotation file, Parquet file or folder) -> work
units. ``--format`` forces a reader. Unusable input raises ``UnusableInput`` (exit code 2)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import orjson

import editlens.ingest as ingest
from editlens.contract.errors import UnusableInput
from editlens.contract.paths import shown
from editlens.ingest.discover import Discovery, Unplaced, is_utf8, magicbrush_unit, walk
from editlens.ingest.readers.mapped import imgedit_units, mapped_units
from editlens.ingest.readers.signatures import SIGNATURES, Signature, match_file, unplaced_reason
from editlens.ingest.units import Unit

SEED = "seed-data-edit"
SEED_MARKERS = ("auto_editing", "real_editing", "multi_turn_editing")
IP2P_CHUNK = 5000
_TURN = re.compile(r"^(instruction|edit_image)_\d+$")


# ---- SEED-Data-Edit --------------------------------------------------------------------------------------------

def seed_part(rel: str) -> tuple[str, str, str] | None:
    """(part, reader, image root) for an annotation file path relative to a SEED repo root."""
    bits = rel.split("/")
    if bits[0] == "auto_editing" and len(bits) >= 3:
        sub = bits[1]
        gpt = "gpt4v" in "/".join(bits[2:-1]).lower()
        return f"part1-{sub}" + ("-gpt4v" if gpt else ""), "seed-part1", f"auto_editing/{sub}/images"
    if bits[0] == "real_editing":
        return "part2", "seed-part2", "real_editing/images"
    if bits[0] == "multi_turn_editing":
        return "part3", "seed-part3", "multi_turn_editing/images/data"
    return None


def _seed_root_above(p: str) -> str | None:
    cur = p if os.path.isdir(p) else os.path.dirname(p)
    if os.path.isdir(cur) and any(os.path.isdir(os.path.join(cur, m)) for m in SEED_MARKERS):
        return cur
    while True:
        if os.path.basename(cur) in SEED_MARKERS:
            return os.path.dirname(cur)
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


def _seed_roots_below(p: str, depth: int = 2) -> list[str]:
    out = []
    if depth == 0 or not os.path.isdir(p):
        return out
    try:
        children = sorted(e.path for e in os.scandir(p) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return out
    for c in children:
        if any(os.path.isdir(os.path.join(c, m)) for m in SEED_MARKERS):
            out.append(c)
        else:
            out.extend(_seed_roots_below(c, depth - 1))
    return out


def _annotation_files(root: str) -> list[str]:
    """Every .jsonl under the annotation folders of a SEED repo (never walks the image folders)."""
    found = []
    dirs = []
    for m in SEED_MARKERS:
        base = os.path.join(root, m)
        if not os.path.isdir(base):
            continue
        if m == "auto_editing":
            for sub in sorted(os.scandir(base), key=lambda e: e.name):
                if sub.is_dir():
                    dirs += [e.path for e in os.scandir(sub.path) if e.is_dir() and e.name.startswith("annotations")]
        else:
            dirs += [e.path for e in os.scandir(base) if e.is_dir() and e.name.startswith("annotations")]
    for d in dirs:
        for dp, _, fns in os.walk(d):
            found += [os.path.join(dp, f) for f in fns if f.endswith(".jsonl")]
    return sorted(found)


def _peek_seed(path: str) -> str | None:
    """Classify a loose JSON Lines file by the keys of its first object line."""
    try:
        with open(path, "rb") as fh:
            for _ in range(200):
                line = fh.readline()
                if not line:
                    break
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(rec, dict):
                    continue
                if any(_TURN.match(k) for k in rec):
                    return "part3"
                if "task_type" in rec or "instruction_cn" in rec:
                    return "part2"
                if "source_image" in rec and "target_image" in rec:
                    if "instruction_ori" in rec:
                        return "part1-unsplash-gpt4v"
                    if "source_caption" in rec or "target_caption" in rec:
                        return "part1-unsplash"
                    return "part1-openimages"
    except OSError:
        return None
    return None


def _loose_part(path: str, fmt: str | None) -> str | None:
    if fmt in ("seed-part2", "seed-part3"):
        return "part" + fmt[-1]
    if fmt == "seed-part1":
        peek = _peek_seed(path)
        return peek if peek and peek.startswith("part1") else "part1-openimages"
    return _peek_seed(path)


def seed_repo_units(root: str, under: str | None = None, fmt: str | None = None) -> list[Unit]:
    """The annotation files of the SEED repo at ``root`` (only those below ``under`` when given)."""
    units = []
    for f in _annotation_files(root):
        if under is not None and not (f == under or f.startswith(under.rstrip("/") + "/") or under == root):
            continue
        rel = os.path.relpath(f, root).replace(os.sep, "/")
        info = seed_part(rel)
        if info is None:
            continue
        part, reader, image_root = info
        if fmt not in (None, "seed") and reader != fmt:
            continue
        units.append(Unit(SEED, part, "train", reader, root, rel, image_root))
    return units


def _seed_units(p: str, fmt: str | None, image_root: str | None = None) -> list[Unit]:
    from editlens.ingest.discover import loose_seed_unit

    roots = []
    up = _seed_root_above(p)
    if up is not None:
        roots = [up]
    elif os.path.isdir(p):
        roots = _seed_roots_below(p, depth=64)
    units = []
    for root in roots:
        units += seed_repo_units(root, p, fmt)
    if units or roots:
        return units
    # loose files: a .jsonl file, or a folder of them, outside the SEED layout; each rooted at its own folder
    files = [p] if os.path.isfile(p) else sorted(str(x) for x in Path(p).rglob("*.jsonl"))
    for f in files:
        part = _loose_part(f, fmt)
        if part is not None:
            units.append(loose_seed_unit(f, part, image_root))
    return units


# ---- InstructPix2Pix original release ---------------------------------------------------------------------------

def _ip2p_original_units(seeds_path: str) -> list[Unit]:
    root = os.path.dirname(seeds_path)
    try:
        with open(seeds_path, "rb") as fh:
            entries = orjson.loads(fh.read())
        if not isinstance(entries, list):
            raise ValueError("not a list")
    except (orjson.JSONDecodeError, ValueError):
        return [Unit("instructpix2pix", "original", "train", "ip2p-original", root, "seeds.json", "",
                     "seeds.json", None)]
    units = []
    for start in range(0, max(len(entries), 1), IP2P_CHUNK):
        chunk = tuple((start + i + 1, e) for i, e in enumerate(entries[start:start + IP2P_CHUNK]))
        units.append(Unit("instructpix2pix", "original", "train", "ip2p-original", root, "seeds.json", "",
                          f"seeds.json[{start + 1}-{start + len(chunk)}]", chunk))
    return units


# ---- Parquet releases -------------------------------------------------------------------------------------------

def _parquet_readers() -> dict[str, tuple[str, str]]:
    """format name -> (dataset, first part) of every Parquet format (the parts are in the signature table)."""
    out: dict[str, tuple[str, str]] = {}
    for sig in SIGNATURES:
        out.setdefault(sig.reader, (sig.dataset, sig.part))
    return out


PARQUET_READERS = _parquet_readers()
_BY_NAME = (("magicbrush", "magicbrush-parquet"), ("hq-edit", "hqedit-parquet"), ("hqedit", "hqedit-parquet"),
            ("pix2pix", "ip2p-parquet"), ("ip2p", "ip2p-parquet"), ("ultraedit", "ultraedit-parquet"),
            ("omniedit", "omniedit-parquet"), ("anyedit", "anyedit-parquet"), ("emu_edit", "emu-edit-parquet"))


def parquet_signature(path: str, fmt: str | None = None) -> tuple[Signature | None, str | None]:
    """(signature, reason) of one Parquet file: its dataset/variant by its whole column signature
    (``editlens.ingest.readers.signatures``), or (None, why it cannot be placed, with its columns). With ``fmt`` forced,
    the signature of that format the file fits best (its reader rejects the file once when it fits none)."""
    sig, columns = match_file(path, fmt)
    if sig is not None:
        return sig, None
    if fmt is not None:
        return next(s for s in SIGNATURES if s.reader == fmt), None
    if columns is None:  # unreadable footer: named by its path, the reader then writes its one reject
        low = path.lower()
        for key, reader in _BY_NAME:
            if key in low:
                return next(s for s in SIGNATURES if s.reader == reader), None
    return None, unplaced_reason(columns)


def _parquet_format(path: str) -> str | None:
    sig, _ = parquet_signature(path)
    return sig.reader if sig else None


def _parquet_units(p: str, fmt: str | None) -> list[Unit]:
    from editlens.ingest.discover import parquet_unit

    files = [p] if os.path.isfile(p) else sorted(str(x) for x in Path(p).rglob("*.parquet"))
    units, unplaced = [], []
    for f in files:
        sig, why = parquet_signature(f, fmt)
        if sig is None:
            unplaced.append(f"{f}: {why}")
            continue
        units.append(parquet_unit(f, sig.reader, sig.dataset, sig.part))
    if unplaced:
        raise UnusableInput(f"{len(unplaced)} Parquet file(s) cannot be placed: " + "; ".join(unplaced))
    return units


# ---- entry point ------------------------------------------------------------------------------------------------

def discover(path: str | os.PathLike, fmt: str | None = None, image_root: str | None = None,
             column_map: dict | None = None) -> Discovery:
    """Units to ingest below ``path`` and the annotation-like files that cannot be placed (``editlens.ingest.discover``).
    ``fmt`` forces a reader; ``image_root`` (absolute) is where loose files' image paths are relative to."""
    if fmt is not None and fmt not in ingest.formats:
        raise UnusableInput(f"unknown format {fmt!r}; known formats: {', '.join(ingest.formats)}")
    p = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(p):
        raise UnusableInput(f"no such file or directory: {path}")
    if not (os.path.isdir(p) or os.path.isfile(p)):
        raise UnusableInput(f"not a file or folder: {path}")
    if not os.access(p, os.R_OK):
        raise UnusableInput(f"cannot read {path}: permission denied")
    unplaced: list[Unplaced] = []
    units: list[Unit] = []
    base = os.path.basename(p)
    if column_map is not None or fmt == "mapped":
        if column_map is None:
            raise UnusableInput("--format mapped needs --map source=COL,target=COL,instruction=COL")
        units = mapped_units(p, column_map)
    elif fmt == "imgedit-benchmark" or (fmt is None and os.path.isfile(p) and imgedit_units(p)):
        units = imgedit_units(p)
    elif fmt in PARQUET_READERS:
        units = _parquet_units(p, fmt)
    elif fmt == "ip2p-original" or (fmt is None and (base == "seeds.json" or (
            os.path.isdir(p) and os.path.isfile(os.path.join(p, "seeds.json"))))):
        seeds = p if os.path.isfile(p) else os.path.join(p, "seeds.json")
        if not os.path.isfile(seeds):
            raise UnusableInput(f"no seeds.json at {path}")
        units = _ip2p_original_units(seeds)
    elif fmt == "magicbrush-test" or (fmt is None and base == "edit_sessions.json"):
        sess = p if os.path.isfile(p) else os.path.join(p, "edit_sessions.json")
        if not os.path.isfile(sess):
            raise UnusableInput(f"no edit_sessions.json at {path}")
        units = [magicbrush_unit(sess)]
    elif fmt is not None and fmt.startswith("seed"):
        units = _seed_units(p, fmt, image_root)
    elif os.path.isfile(p):
        if _seed_root_above(p) is not None or p.endswith(".jsonl"):
            units = _seed_units(p, None, image_root)
        elif p.endswith(".parquet"):
            units = _parquet_units(p, None)
    elif _seed_root_above(p) not in (None, p):
        units = _seed_units(p, None, image_root)  # a part or annotation folder inside a SEED repo
    else:
        found = walk(p, image_root)
        units, unplaced = found.units, found.unplaced
    bad_names = [u for u in units if not (is_utf8(u.root) and is_utf8(u.source_file))]
    if bad_names:
        units = [u for u in units if u not in bad_names]
        unplaced += [Unplaced(shown(os.path.join(u.root, u.source_file), 1000),
                              f"file name is not valid UTF-8: {shown(u.source_file)}") for u in bad_names]
    if not units:
        why = "".join(f"\n  {u.path}: {u.reason}" for u in unplaced[:20])
        raise UnusableInput(f"cannot detect a dataset format at {path} (no annotation files found); "
                            f"use --format one of {', '.join(ingest.formats)}{why}")
    if image_root:
        units = [dataclasses.replace(u, image_dir=image_root) if u.reader.startswith("seed") or
                 u.reader in ("ip2p-original", "magicbrush-test") else u for u in units]
    return Discovery(sorted(units, key=lambda u: (u.dataset, u.root, u.source_file, u.name)),
                     sorted(unplaced, key=lambda u: u.path))


def detect(path: str | os.PathLike, fmt: str | None = None, column_map: dict | None = None) -> list[Unit]:
    """The units of ``discover`` (files that cannot be placed are left out: use ``discover`` to see them)."""
    return discover(path, fmt, column_map=column_map).units
