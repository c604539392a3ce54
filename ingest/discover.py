"""Discovery: every dataset below a folder, whatever else is beside it, plus the files that cannot be placed.

One walk of the tree, top down. A folder is claimed by the first layout it matches, and its claimed files are
never looked at again:

- a SEED-Data-Edit repo (a folder holding ``auto_editing/``, ``real_editing/`` or ``multi_turn_editing/``): its
  ``annotations*/`` files; the walk does not enter the part folders (images);
- an InstructPix2Pix original release (``seeds.json``): the folder and its prompt dirs;
- a MagicBrush test layout (``edit_sessions.json``, e.g. ``MagicBrush_test/test/``): the folder (its companions
  ``edit_turns.json``, ``global_descriptions.json``, ``local_descriptions.json`` and ``images/``);
- Parquet files, grouped by their Hugging Face repo (the folder above ``data/``, or the file's folder), each
  classified by its own columns (``detect._parquet_format``);
- ImgEdit benchmark JSONs (``Basic/basic_edit.json``, ``UGE/UGE_edit.json``);
- loose SEED JSON Lines files (classified by the keys of their first record), rooted at their own folder.

Annotation-like files (``.jsonl``, ``.json``, ``.parquet``) that match nothing are returned as ``Unplaced`` with
the reason; images, archives and documents are not annotation files and are not listed. Hidden files and
folders (``.git``, ``.cache``) are skipped, and so are the names a folder's ``.editlensignore`` lists (fnmatch
patterns, one a line; the bundled sample lists its ground-truth files there).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass

from editlens.contract.paths import file_kind, shown, within
from editlens.ingest.units import Unit

ANNOTATION_EXTS = (".jsonl", ".json", ".parquet")
MAGICBRUSH_COMPANIONS = frozenset(("edit_sessions.json", "edit_turns.json", "global_descriptions.json",
                                   "local_descriptions.json"))
# JSON files that are documentation, never annotations: EditLens's own export data card and sample manifest,
# Hugging Face dataset metadata
NOT_ANNOTATIONS = frozenset(("datacard.json", "sample_manifest.json", "dataset_info.json", "dataset_infos.json",
                             "state.json"))
MAGICBRUSH_SPLITS = frozenset(("train", "dev", "test", "validation", "val"))


IGNORE_FILE = ".editlensignore"  # names (fnmatch patterns, one a line) in a folder that discovery skips


def _ignored(folder: str) -> tuple[str, ...]:
    try:
        with open(os.path.join(folder, IGNORE_FILE), encoding="utf-8") as fh:
            return tuple(x.strip() for x in fh if x.strip() and not x.startswith("#"))
    except (OSError, UnicodeError):
        return ()


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass(frozen=True)
class Unplaced:
    """A file that looks like annotations but belongs to no dataset ingest can read."""

    path: str  # absolute
    reason: str


@dataclass
class Discovery:
    units: list[Unit]
    unplaced: list[Unplaced]


def refusal(path: str, real_top: str) -> str | None:
    """Why an annotation-like file must not be opened, or None: a name that is not valid UTF-8, a special file
    (FIFO, device, socket: `stat` only, never opened), a symlink resolving outside the folder given."""
    if not is_utf8(path):
        return f"file name is not valid UTF-8: {shown(path)}"
    kind = file_kind(path)
    if kind != "file":
        return f"not a regular file ({kind}): never opened"
    if os.path.islink(path) and not within(real_top, os.path.realpath(path)):
        return "a symlink leading outside the folder given: not followed"
    return None


def is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # surrogate-escaped bytes of a name that is not UTF-8
        return False
    return True


def _refuse_special(dirpath: str, files: list[str], top: str, unplaced: list) -> list[str]:
    """``files`` without the annotation-like ones `refusal` refuses (those are listed as unplaced)."""
    real_top = os.path.realpath(top)
    kept = []
    for f in files:
        if not is_utf8(f) or f.lower().endswith(ANNOTATION_EXTS):
            p = os.path.join(dirpath, f)
            why = refusal(p, real_top)
            if why is not None:
                if f.lower().endswith(ANNOTATION_EXTS) or not is_utf8(f):
                    unplaced.append(Unplaced(shown(p, 1000), why))
                continue
        kept.append(f)
    return kept


def file_sha256(path: str, chunk: int = 8 << 20) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while b := fh.read(chunk):
                h.update(b)
    except OSError:
        return None
    return h.hexdigest()


def parquet_fingerprint(path: str) -> str:
    """A content fingerprint of a Parquet file read from its footer alone (schema, row groups, sizes): cheap for
    files of many GB, and different for two different files of the same name."""
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(path).metadata
        bits = [str(os.path.getsize(path)), str(md.num_rows), str(md.schema)]
        bits += [f"{md.row_group(i).num_rows}:{md.row_group(i).total_byte_size}" for i in range(md.num_row_groups)]
    except Exception:  # noqa: BLE001 - an unreadable footer: the whole file's bytes
        return file_sha256(path) or ""
    return hashlib.sha256("\x1f".join(bits).encode()).hexdigest()


def hf_root(path: str) -> str:
    """The Hugging Face repo folder of a Parquet file: the folder above the nearest ``data/`` (``data/x.parquet``,
    ``data/<config>/x.parquet``), else the file's own folder."""
    cur = os.path.dirname(path)
    for _ in range(3):
        if os.path.basename(cur) == "data":
            return os.path.dirname(cur)
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    return os.path.dirname(path)


def magicbrush_unit(sessions: str) -> Unit:
    """A MagicBrush test-layout unit: the split is the folder's name (``test``, ``dev``), else ``test``; the
    dataset root is the folder above a split folder, so ``test/`` and ``dev/`` never share a location."""
    folder = os.path.dirname(sessions)
    name = os.path.basename(folder).lower()
    if name in MAGICBRUSH_SPLITS:
        root = os.path.dirname(folder)
        sub = os.path.basename(folder)
        return Unit("magicbrush", "test-layout", "dev" if name == "val" else name, "magicbrush-test", root,
                    f"{sub}/edit_sessions.json", f"{sub}/images")
    return Unit("magicbrush", "test-layout", "test", "magicbrush-test", folder, "edit_sessions.json", "images")


def loose_seed_unit(path: str, part: str, image_root: str | None = None) -> Unit:
    """A SEED JSON Lines file outside the repo layout: rooted at its own folder (images are relative to it, or to
    ``image_root``), identified by its name and content, so the same file typed by any path is one unit and two
    same-named files of different folders or parts never share a shard."""
    from editlens.ingest.detect import SEED

    reader = {"part2": "seed-part2", "part3": "seed-part3"}.get(part, "seed-part1")
    root = os.path.dirname(path)
    return Unit(SEED, part, "train", reader, root, os.path.basename(path), image_root or "",
                identity=file_sha256(path) or "")


def walk(top: str, image_root: str | None = None) -> Discovery:
    """Every unit below ``top`` (an absolute folder) and every annotation-like file no layout claims."""
    from editlens.ingest import detect as D
    from editlens.ingest.readers.mapped import IMGEDIT_FILES, imgedit_units

    units: list[Unit] = []
    unplaced: list[Unplaced] = []
    parquet: list[str] = []
    for dirpath, dirnames, filenames in os.walk(top, onerror=lambda e: unplaced.append(
            Unplaced(os.fspath(e.filename or top), f"cannot list folder: {e.strerror}"))):
        skip = _ignored(dirpath) if IGNORE_FILE in filenames else ()
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not _matches(d, skip))
        files = sorted(f for f in filenames if not f.startswith(".") and not _matches(f, skip))
        files = _refuse_special(dirpath, files, top, unplaced)
        if any(m in dirnames for m in D.SEED_MARKERS):
            seed = [u for u in D.seed_repo_units(dirpath)]
            units += seed
            dirnames[:] = [d for d in dirnames if d not in D.SEED_MARKERS]
            # loose files beside the part folders (README.md etc. are not annotation files) fall through below
        if "seeds.json" in files:
            units += D._ip2p_original_units(os.path.join(dirpath, "seeds.json"))
            dirnames[:] = []  # prompt dirs belong to the release
            continue
        if "edit_sessions.json" in files:
            units.append(magicbrush_unit(os.path.join(dirpath, "edit_sessions.json")))
            dirnames[:] = [d for d in dirnames if d != "images"]
            files = [f for f in files if f not in MAGICBRUSH_COMPANIONS]
        for f in files:
            p = os.path.join(dirpath, f)
            low = f.lower()
            if low.endswith(".parquet"):
                parquet.append(p)
            elif low.endswith(".jsonl"):
                part = D._peek_seed(p)
                if part is None:
                    unplaced.append(Unplaced(p, "JSON Lines whose first records match no known dataset's keys"))
                else:
                    units.append(loose_seed_unit(p, part, image_root))
            elif f in IMGEDIT_FILES:
                units += imgedit_units(p)
            elif f in NOT_ANNOTATIONS:
                continue
            elif low.endswith(".json"):
                why = ("edit_turns.json without edit_sessions.json beside it" if f in MAGICBRUSH_COMPANIONS
                       else "a .json file that is no known annotation file (seeds.json, edit_sessions.json)")
                unplaced.append(Unplaced(p, why))
    for p in parquet:
        sig, why = D.parquet_signature(p)
        if sig is None:
            unplaced.append(Unplaced(p, f"Parquet file of no known dataset: {why}"))
            continue
        units.append(parquet_unit(p, sig.reader, sig.dataset, sig.part))
    return Discovery(units, unplaced)


def parquet_unit(path: str, fmt: str, dataset: str | None = None, part: str | None = None) -> Unit:
    from editlens.ingest.detect import PARQUET_READERS
    from editlens.ingest.readers.parquet import split_of

    if dataset is None or part is None:
        dataset, part = PARQUET_READERS[fmt]
    root = hf_root(path)
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    in_data = rel.startswith("data/")
    return Unit(dataset, part, split_of(rel), fmt, root, rel, "", identity="" if in_data else
                parquet_fingerprint(path))
