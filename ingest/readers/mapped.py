"""Readers of JSON records with image paths: the generic ``--map`` reader (any editing dataset in JSON Lines,
JSON or Parquet, canonical fields named by the user) and the ImgEdit benchmark JSONs.

``--map source=COL,target=COL,instruction=COL[,mask=COL][,source_caption=COL][,target_caption=COL]
[,session=COL][,turn=COL][,labels=COL+COL][,scores=COL+COL][,dataset=NAME]``: ``source`` and ``instruction``
are required, ``target`` may be omitted (a benchmark without targets). Image columns hold paths relative to the
file's folder, or (Parquet) embedded images. The mapping is part of each file's checksum (a new mapping re-reads
the file) and is saved in ``ingest_runs.reader`` (``mapped(source=...,...)``).

ImgEdit benchmark (``Benchmark/Basic/basic_edit.json``, ``Benchmark/UGE/UGE_edit.json``): one JSON object
``{key: {"id": <image path>, "prompt": <instruction>, "edit_type": <label>}}``; image paths are relative to the
JSON file's folder. Aliases are accepted (``image``/``image_path`` for ``id``, ``instruction`` for ``prompt``,
``task``/``category`` for ``edit_type``); a list of such objects is read too.
"""

from __future__ import annotations

import hashlib
import os

import orjson
import pyarrow.parquet as pq

from editlens.contract import tables as T
from editlens.contract.errors import UnusableInput
from editlens.ingest.fields import BadField, check_rel_path
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import dumps, json_lines, parse_error, parse_line, raw_text
from editlens.ingest.readers.parquet import image_column_kind, iter_parquet
from editlens.ingest.readers.tabular import Columns, emit

CANONICAL = ("source", "target", "instruction", "mask", "source_caption", "target_caption", "session", "turn",
             "labels", "scores", "dataset")
REQUIRED = ("source", "instruction")
DEFAULT_DATASET = "custom"


# ---- the mapping -----------------------------------------------------------------------------------------------

def parse_map(text: str) -> dict[str, str]:
    """``source=a,target=b,...`` -> {canonical name: column}; UnusableInput (exit 2) when it cannot be used."""
    out: dict[str, str] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        name, sep, col = (s.strip() for s in item.partition("="))
        if not sep or not col:
            raise UnusableInput(f"--map: {item!r} is not NAME=COLUMN")
        if name not in CANONICAL:
            raise UnusableInput(f"--map: unknown canonical name {name!r}; known: {', '.join(CANONICAL)}")
        if name in out:
            raise UnusableInput(f"--map: {name!r} is given twice")
        out[name] = col
    missing = [r for r in REQUIRED if r not in out]
    if missing:
        raise UnusableInput(f"--map: {', '.join(missing)} must be given (e.g. --map source=COL,target=COL,"
                            f"instruction=COL)")
    return out


def map_text(mapping: dict[str, str]) -> str:
    return ",".join(f"{k}={mapping[k]}" for k in CANONICAL if k in mapping)


def spec_from_map(mapping: dict[str, str]) -> Columns:
    def multi(name):
        return tuple(c for c in mapping.get(name, "").split("+") if c)
    return Columns(source=mapping["source"], instruction=mapping["instruction"], target=mapping.get("target"),
                   mask=mapping.get("mask"), source_caption=mapping.get("source_caption"),
                   target_caption=mapping.get("target_caption"), session=mapping.get("session"),
                   turn=mapping.get("turn"), labels=multi("labels"), scores=multi("scores"))


def columns_needed(mapping: dict[str, str]) -> list[str]:
    spec = spec_from_map(mapping)
    return sorted(spec.known)


def _first_record(path: str) -> dict | None:
    with open(path, "rb") as fh:
        data = fh.read(64 << 20)
    if path.endswith(".jsonl"):
        for _, line in json_lines(data):
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                return rec
        return None
    for _, _, rec, _ in json_records(data):
        if isinstance(rec, dict):
            return rec
    return None


def check_columns(path: str, mapping: dict[str, str]) -> None:
    """UnusableInput (exit 2) when a mapped column is not in the file (Parquet schema; first JSON record)."""
    try:
        if path.endswith(".parquet"):
            names = set(pq.read_schema(path).names)
        else:
            rec = _first_record(path)
            if rec is None:
                raise UnusableInput(f"--map: {path} holds no JSON object record")
            names = set(rec)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UnusableInput(f"--map: cannot read {path}: {exc}") from exc
    except UnusableInput:
        raise
    except Exception as exc:  # an unreadable Parquet footer
        raise UnusableInput(f"--map: cannot read {path}: {type(exc).__name__}: {exc}") from exc
    absent = [c for c in columns_needed(mapping) if c not in names]
    if absent:
        raise UnusableInput(f"--map: column(s) {', '.join(absent)} not in {path}; its columns: "
                            f"{', '.join(sorted(names))}")


def mapped_units(p: str, mapping: dict[str, str]):
    """Units for ``--map``: a .jsonl/.json/.parquet file, or every such file below a folder."""
    from editlens.ingest.readers.parquet import split_of
    from editlens.ingest.units import Unit

    exts = (".jsonl", ".json", ".parquet")
    if os.path.isfile(p):
        files, root = [p], os.path.dirname(p)
    else:
        root = p
        files = sorted(os.path.join(dp, f) for dp, _, fns in os.walk(p) for f in fns if f.endswith(exts)
                       and not f.startswith("."))
    if not files:
        raise UnusableInput(f"--map: no .jsonl, .json or .parquet file at {p}")
    for f in files:
        check_columns(f, mapping)
    dataset = mapping.get("dataset", DEFAULT_DATASET)
    params = tuple(sorted(mapping.items()))
    units = []
    for f in files:
        rel = os.path.relpath(f, root).replace(os.sep, "/")
        image_root = os.path.dirname(rel)
        units.append(Unit(dataset, "mapped", split_of(rel), "mapped", root, rel, image_root, "", params))
    return units


def reader_label(unit) -> str:
    """What ``ingest_runs.reader`` records for a unit: the reader name, with the mapping for ``mapped``."""
    if unit.reader == "mapped" and unit.params:
        return f"mapped({map_text(dict(unit.params))})"
    return unit.reader


# ---- JSON records ----------------------------------------------------------------------------------------------

def json_records(data: bytes):
    """(record number, key, object, raw) of a JSON file holding a list of objects (1-based index) or an object of
    objects (1-based position, key = the member name). Raises orjson.JSONDecodeError when it does not parse."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    doc = orjson.loads(data)
    if isinstance(doc, dict):
        items = [(str(k), v) for k, v in doc.items()]
    elif isinstance(doc, list):
        items = [(None, v) for v in doc]
    else:
        items = [(None, doc)]
    for n, (k, v) in enumerate(items, 1):
        yield n, k, v, raw_text(v)


def _path_images(values: dict, cols, m: UnitMapper) -> tuple[dict, dict]:
    imgs, problems = {}, {}
    for c in cols:
        v = values.get(c)
        if v is None:
            imgs[c] = None
            continue
        try:
            imgs[c] = check_rel_path(v, c)
        except BadField as bad:
            problems[c] = (bad.reason, bad.message)
    return imgs, problems


def _map_json(unit, data: bytes, m: UnitMapper, spec: Columns, aliases: dict | None = None) -> None:
    path_cols = spec.image_columns

    def one(n, key, rec, raw):
        if not isinstance(rec, dict):
            m.reject(n, T.WRONG_TYPE, f"record is a JSON {type(rec).__name__}, expected an object", raw)
            return
        if aliases:
            rec = _resolve(rec, aliases)
        imgs, problems = _path_images(rec, path_cols, m)
        values = {k: v for k, v in rec.items() if k not in path_cols}
        emit(m, spec, n, values, imgs, raw, problems, key)

    if unit.source_file.endswith(".jsonl"):
        for n, line in json_lines(data):
            rec = parse_line(n, line, m)
            if rec is not None:
                one(n, None, rec, line)
        return
    try:
        records = list(json_records(data))
    except orjson.JSONDecodeError as exc:
        reason, msg = parse_error(data, exc)
        m.reject(None, reason, f"{unit.source_file}: {msg}", data)
        return
    for n, key, rec, raw in records:
        one(n, key, rec, raw)


# ---- the generic reader ------------------------------------------------------------------------------------------

def load(unit):
    path = os.path.join(unit.root, unit.source_file)
    h = hashlib.sha256()
    data = None
    if unit.source_file.endswith(".parquet"):
        with open(path, "rb") as fh:
            for b in iter(lambda: fh.read(8 << 20), b""):
                h.update(b)
    else:
        with open(path, "rb") as fh:
            data = fh.read()
        h.update(data)
    h.update(b"\x00map\x00" + map_text(dict(unit.params)).encode())
    return h.hexdigest(), data


def map_records(unit, payload, m: UnitMapper) -> None:
    spec = spec_from_map(dict(unit.params))
    if not unit.source_file.endswith(".parquet"):
        _map_json(unit, payload, m, spec)
        return
    schema = pq.read_schema(os.path.join(unit.root, unit.source_file))
    embedded = tuple(c for c in spec.image_columns if image_column_kind(schema, c) in ("struct", "binary"))
    paths = tuple(c for c in spec.image_columns if c not in embedded)

    def on_row(row):
        imgs = {c: row.images.get(c) for c in embedded}
        p_imgs, problems = _path_images(row.values, paths, m)
        imgs.update(p_imgs)
        values = {k: v for k, v in row.values.items() if k not in paths}
        emit(m, spec, row.file_row, values, imgs, dumps(row.values)[:T.RAW_EXCERPT_CHARS], problems)

    iter_parquet(unit, m, embedded, on_row)


# ---- ImgEdit benchmark -------------------------------------------------------------------------------------------

IMGEDIT_FILES = ("basic_edit.json", "UGE_edit.json")
IMGEDIT_ALIASES = {"id": ("id", "image", "image_path", "img"), "prompt": ("prompt", "instruction"),
                   "edit_type": ("edit_type", "task", "category")}
IMGEDIT_SPEC = Columns(source="id", instruction="prompt", labels=("edit_type",))


def _resolve(rec: dict, aliases: dict) -> dict:
    out = dict(rec)
    for canon, names in aliases.items():
        if canon in out:
            continue
        for n in names:
            if n in out:
                out[canon] = out.pop(n)
                break
    return out


def imgedit_units(p: str):
    """Units for ImgEdit benchmark JSONs at or below ``p`` (root = the folder holding ``Basic/``/``UGE/``)."""
    from editlens.ingest.units import Unit

    if os.path.isfile(p):
        files = [p] if os.path.basename(p) in IMGEDIT_FILES else []
    else:  # the benchmark folder, its parent, or one of its sub-folders (never a walk of image folders)
        files = []
        for base in (p, os.path.join(p, "Benchmark")):
            for sub in ("", "Basic", "UGE"):
                for name in IMGEDIT_FILES:
                    f = os.path.join(base, sub, name)
                    if os.path.isfile(f) and f not in files:
                        files.append(f)
    units = []
    for f in files:
        folder = os.path.dirname(f)
        root = os.path.dirname(folder)
        rel = os.path.relpath(f, root).replace(os.sep, "/")
        part = "uge" if os.path.basename(f) == "UGE_edit.json" else "basic"
        units.append(Unit("imgedit", f"benchmark-{part}", "test", "imgedit-benchmark", root, rel,
                          os.path.dirname(rel)))
    return units


def load_imgedit(unit):
    with open(os.path.join(unit.root, unit.source_file), "rb") as fh:
        data = fh.read()
    return hashlib.sha256(data).hexdigest(), data


def map_imgedit(unit, payload, m: UnitMapper) -> None:
    _map_json(unit, payload, m, IMGEDIT_SPEC, IMGEDIT_ALIASES)
