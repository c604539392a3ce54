"""The mapper: one work unit's canonical rows, rejects and image registry.

Readers parse their format and hand the mapper validated fields (``editlens.ingest.fields``); nothing else builds rows.
Two ways in, one set of rows: ``UnitMapper.add_edit`` (one edit; every reader, and the fallback) and the
column-wise batch (``add_file_batch`` for single-turn files, ``add_turn_batch`` for multi-turn sessions), which
builds Arrow pieces with no per-record Python objects and hands a batch it cannot take (a duplicate edit, an image
check that raises, a value Arrow cannot hold) to the per-record path, which gives the same rows. Ids come from
``editlens.ingest.ids``; tables are assembled by column name from the contract's schemas (``editlens.contract.tables``),
unset columns taking the unit's constants or their defaults.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from editlens.contract import tables as T
from editlens.contract.limits import DEFAULT_INGEST_LIMITS, IngestLimits
from editlens.ingest import ids as I
from editlens.ingest.fields import BadField, excerpt
from editlens.ingest.images import ImageChecker, ParquetImage


class UnitMapper:
    """Column-wise output of one work unit: edits, distinct images, rejects and the record counts."""

    def __init__(self, *, dataset: str, part: str, split: str, root: str, image_root: str, source_file: str,
                 run_id: str, checker: ImageChecker, limits: IngestLimits = DEFAULT_INGEST_LIMITS) -> None:
        self.dataset, self.part, self.split = dataset, part, split
        self.root = root  # absolute dataset root
        self.image_root = image_root  # relative to root ('' = root itself)
        self.image_root_abs = os.path.join(root, image_root) if image_root else root
        self._img_prefix = image_root.rstrip("/") + "/" if image_root else ""
        self.source_file = source_file
        self.run_id = run_id
        self.checker = checker
        self.limits = limits
        self.read = self.loaded = self.rejected = 0
        self._seen: set[str] = set()
        # rows of the per-record path, one list per column name
        self.e: dict[str, list] = {f.name: [] for f in T.EDITS}
        self.r: dict[str, list] = {f.name: [] for f in T.REJECTS}
        self.i: dict[str, list] = {f.name: [] for f in T.IMAGES}
        self._images: dict[str, str] = {}  # location -> image_id
        self.images_missing = 0
        # Arrow pieces of edits/images built column-wise, in row order with the per-record rows appended in
        # between (those are flushed into a piece before the next batch piece)
        self._pieces: dict[str, list[pa.Table]] = {"edits": [], "images": []}
        # batches whose edit ids and image locations are not yet in ``_seen``/``_images`` (added on first need)
        self._pending: list[tuple[pa.Array, pa.Array, pa.Array]] = []

    # ---- column defaults: what a table column holds when a path does not set it ----------------------------
    def edit_defaults(self) -> dict:
        return {"dataset": self.dataset, "part": self.part, "split": self.split, "turn_index": 1,
                "provided_scores": "{}", "extra": "{}", "source_file": self.source_file,
                "ingest_run_id": self.run_id}

    def image_defaults(self) -> dict:
        return {"dataset": self.dataset, "part": self.part, "location_kind": "file", "root": self.root}

    def _sync(self) -> None:
        """Bring ``_seen`` and ``_images`` up to date with the column-wise batches."""
        for edit_ids, locs, image_ids in self._pending:
            self._seen.update(edit_ids.to_pylist())
            self._images.update(zip(locs.to_pylist(), image_ids.to_pylist()))
        self._pending = []

    def _flush_rows(self) -> None:
        """Turn the per-record rows so far into Arrow pieces (keeps row order with batch pieces)."""
        for name, attr, schema in (("edits", "e", T.EDITS), ("images", "i", T.IMAGES)):
            cols = getattr(self, attr)
            if cols[schema[0].name]:
                self._pieces[name].append(build_table(schema, cols))
                setattr(self, attr, {f.name: [] for f in schema})

    # ---- rejects -------------------------------------------------------------------------------------------
    def reject(self, record: int | None, reason: str, message: str, raw: bytes | str | None = None,
               turn_index: int | None = None, source_file: str | None = None) -> None:
        self.read += 1
        self.rejected += 1
        r = self.r
        r["ingest_run_id"].append(self.run_id)
        r["dataset"].append(self.dataset)
        r["part"].append(self.part)
        r["source_file"].append(source_file or self.source_file)
        r["source_record"].append(record)
        r["turn_index"].append(turn_index)
        r["reason"].append(reason)
        r["message"].append(message[:1000])
        r["raw"].append(excerpt(raw))

    # ---- images --------------------------------------------------------------------------------------------
    def file_location(self, rel: str) -> str:
        """Location of an image path (relative to the image root) relative to the dataset root."""
        return self._img_prefix + rel

    def check_file(self, rel: str) -> bool | None:
        return self.checker.check(self.image_root_abs, rel)

    def _register(self, loc: str, exists: bool | None, img: ParquetImage | None = None) -> str:
        """The image id of a location; its `images` row on first sight (``img``: an embedded image)."""
        iid = self._images.get(loc)
        if iid is None:
            iid = self._images[loc] = I.image_id(self.dataset, loc)
            i = self.i
            i["image_id"].append(iid)
            i["dataset"].append(self.dataset)
            i["part"].append(self.part)
            i["root"].append(self.root)
            i["exists"].append(exists)
            if img is None:
                i["location_kind"].append("file")
                i["path"].append(loc)
                i["row_group"].append(None)
                i["row"].append(None)
                i["column"].append(None)
            else:
                i["location_kind"].append("parquet")
                i["path"].append(img.path)
                i["row_group"].append(img.row_group)
                i["row"].append(img.row)
                i["column"].append(img.column)
            if exists is False:
                self.images_missing += 1
        return iid

    # ---- edits ---------------------------------------------------------------------------------------------
    def add_edit(self, *, record: int, raw: bytes | str | None, instruction: str,
                 source, target, mask=None, session_id: str | None = None, turn_index: int = 1,
                 instruction_ori: str | None = None, source_caption: str | None = None,
                 target_caption: str | None = None, labels: list[str] | None = None,
                 scores: str = "{}", extra: str = "{}", source_file: str | None = None) -> bool:
        """Load one edit. ``source``/``target``/``mask`` are image paths relative to the image root (already
        lexically checked) or ``ParquetImage``s; ``target`` is None for a dataset without targets. Returns False
        (and writes a reject) if it is not loaded."""
        if self._pending:
            self._sync()
        imgs = []  # (location, exists, ParquetImage or None), or None
        try:
            for img in (source, target, mask):
                if img is None:
                    imgs.append(None)
                elif isinstance(img, str):
                    exists = self.checker.check(self.image_root_abs, img) if self.checker.enabled else None
                    imgs.append((self._img_prefix + img, exists, None))
                else:
                    imgs.append((img.location, img.exists, img))
        except BadField as bad:
            self.reject(record, bad.reason, bad.message, raw, turn_index if session_id else None, source_file)
            return False
        t_loc = "" if imgs[1] is None else imgs[1][0]  # None: a benchmark edit without a target
        edit_id = I.edit_id(self.dataset, self.part, session_id, turn_index, imgs[0][0], t_loc, instruction)
        if edit_id in self._seen:
            self.reject(record, T.DUPLICATE_RECORD, f"same edit as an earlier record of this file ({edit_id})",
                        raw, turn_index if session_id else None, source_file)
            return False
        self._seen.add(edit_id)
        s, t, m = imgs
        s_id = self._register(*s)
        t_id = None if t is None else self._register(*t)  # None: a benchmark edit without a target
        m_id = None if m is None else self._register(*m)
        self.read += 1
        self.loaded += 1
        e = self.e
        e["edit_id"].append(edit_id)
        e["dataset"].append(self.dataset)
        e["part"].append(self.part)
        e["split"].append(self.split)
        e["session_id"].append(session_id)
        e["turn_index"].append(turn_index)
        e["source_image_id"].append(s_id)
        e["target_image_id"].append(t_id)
        e["mask_image_id"].append(m_id)
        e["instruction"].append(instruction)
        e["instruction_ori"].append(instruction_ori)
        e["source_caption"].append(source_caption)
        e["target_caption"].append(target_caption)
        e["provided_labels"].append(labels)
        e["provided_scores"].append(scores)
        e["extra"].append(extra)
        e["source_file"].append(source_file or self.source_file)
        e["source_record"].append(record)
        e["ingest_run_id"].append(self.run_id)
        return True

    # ---- output --------------------------------------------------------------------------------------------
    def tables(self) -> dict[str, pa.Table]:
        assert self.read == self.loaded + self.rejected
        if self._pieces["edits"] or self._pieces["images"]:
            self._flush_rows()
        out = {}
        for name, cols, schema in (("edits", self.e, T.EDITS), ("images", self.i, T.IMAGES),
                                   ("rejects", self.r, T.REJECTS)):
            pieces = self._pieces.get(name)
            if pieces:
                out[name] = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
            else:
                out[name] = build_table(schema, cols)
        return out


# ---- tables by column name ---------------------------------------------------------------------------------

_CONSTANT_TYPES = (str, int, bool, type(None))


def _column(values: list, typ: pa.DataType) -> pa.Array:
    """``pa.array``, with a shortcut for the many columns that hold one value per unit (dataset, part, ...)."""
    n = len(values)
    if n > 64 and type(values[0]) in _CONSTANT_TYPES and values[0] is values[-1] is values[n // 2]:
        v = values[0]
        if values.count(v) == n:  # identity first: no comparisons for a repeated object; None counts None only
            return _const(v, typ, n)
    return pa.array(values, type=typ)


def _const(value, typ: pa.DataType, n: int) -> pa.Array:
    return pa.nulls(n, typ) if value is None else pa.repeat(pa.scalar(value, typ), n)


def build_table(schema: pa.Schema, columns: dict, n: int | None = None, defaults: dict | None = None) -> pa.Table:
    """A table of ``schema`` from columns by name: each an Arrow array or a list; a column not given (or None)
    is ``defaults[name]`` repeated (null when it has no default). ``n``: the row count when not all columns
    are given."""
    defaults = defaults or {}
    out = []
    for f in schema:
        col = columns.get(f.name)
        if col is None:
            out.append(_const(defaults.get(f.name), f.type, n))
        elif isinstance(col, pa.Array):
            out.append(col)
        else:
            out.append(_column(col, f.type))
    return pa.Table.from_arrays(out, schema=schema)


def strings(col: list) -> pa.Array:
    """A list of str (or None) as one Arrow string array; raises ``pa.ArrowException`` for other values and for
    more than 2 GiB of text, ``UnicodeError`` for a lone surrogate."""
    a = pa.array(col, pa.string())
    if isinstance(a, pa.ChunkedArray):  # over 2 GiB of text
        raise pa.ArrowCapacityError("column too large for one string array")
    return a


# ---- the batch path ------------------------------------------------------------------------------------------

def add_file_batch(m: UnitMapper, *, records: list[int], raws: list[bytes], instruction: list[str],
                   source: list[str], target: list[str], instruction_ori: list | None = None,
                   source_caption: list | None = None, target_caption: list | None = None,
                   labels: list | None = None, extra: list[str] | None = None,
                   arrays: dict[str, pa.Array] | None = None) -> None:
    """Column-wise ``add_edit`` for single-turn edits with file images whose fields are already validated
    (paths lexically clean, instruction a non-empty string within the limit). Same rows as calling
    ``add_edit`` record by record, in order: duplicates after their first occurrence and images behind an
    escaping symlink become rejects. ``arrays``: Arrow string arrays of some of the columns, by argument name
    (the same values), to save converting them again."""
    if not records:
        return
    arrays = arrays or {}

    def pieces():
        src, tgt, ins = (strings(col) if arrays.get(key) is None else arrays[key] for key, col in
                         (("source", source), ("target", target), ("instruction", instruction)))
        given = {"instruction_ori": instruction_ori, "source_caption": source_caption,
                 "target_caption": target_caption, "provided_labels": labels, "extra": extra}
        cols = {name: arrays.get(name) if arrays.get(name) is not None else col for name, col in given.items()}
        return _batch_pieces(m, records, source, target, src, tgt, ins, cols)

    if _commit(m, pieces):
        return
    m._sync()
    _row_batch(m, records, raws, instruction, source, target, instruction_ori, source_caption, target_caption,
               labels, extra)


def add_uniform_batch(m: UnitMapper, n: int, source: pa.Array, target: pa.Array, instruction: pa.Array,
                      columns: dict[str, pa.Array | None]) -> bool:
    """``add_file_batch`` for records 1..n of a file given as Arrow string arrays only (paths lexically clean,
    instructions valid; ``columns``: the other edits columns by name, None = unset). Returns False, having
    changed nothing, when the batch needs the per-record path (the caller then maps the file record by
    record)."""
    def pieces():
        rel_s, rel_t = (source.to_pylist(), target.to_pylist()) if m.checker.enabled else (source, target)
        return _batch_pieces(m, np.arange(1, n + 1), rel_s, rel_t, source, target, instruction, columns)

    return _commit(m, pieces)


def add_turn_batch(m: UnitMapper, *, records: list[int], session_ids: list[str], turns: list[int],
                   source: list[str], target: list[str], instruction: list[str], extra: list[str]) -> bool:
    """Column-wise ``add_edit`` for turns of multi-turn sessions (file images, fields already validated) into a
    mapper nothing was loaded into yet: the same rows as ``add_edit`` turn by turn, images first seen first.
    Returns False, having changed nothing, when a turn needs ``add_edit`` (a duplicate edit, an image check
    raising)."""
    if not records:
        return not (m._seen or m._images or m._pending)

    def pieces():
        src, tgt, ins, sid = map(strings, (source, target, instruction, session_ids))
        return _batch_pieces(m, records, source, target, src, tgt, ins, {"extra": extra}, sid=sid,
                             turns=pa.array(turns, pa.int32()), interleave=True)

    return _commit(m, pieces)


def _commit(m: UnitMapper, pieces) -> bool:
    """Build a batch's Arrow pieces (``pieces()``) and append them to ``m``; False, ``m`` unchanged, when the
    batch needs the per-record path: ``m`` already holds rows, or ``pieces`` finds a duplicate edit or an image
    check raising (None), or Arrow cannot hold a column (a lone surrogate, over 2 GiB of text)."""
    if m._seen or m._images or m._pending:
        return False
    try:
        built = pieces()
    except (pa.ArrowException, UnicodeError):
        return False
    if built is None:
        return False
    edits, images, pending, missing = built
    m._flush_rows()
    m._pieces["edits"].append(edits)
    m._pieces["images"].append(images)
    m._pending.append(pending)
    m.images_missing += missing
    m.read += edits.num_rows
    m.loaded += edits.num_rows
    return True


def _batch_pieces(m: UnitMapper, records, rel_s: list[str], rel_t: list[str], src: pa.Array,
                  tgt: pa.Array, ins: pa.Array, columns: dict, *, sid: pa.Array | None = None,
                  turns: pa.Array | None = None, interleave: bool = False) -> tuple | None:
    """(edits, images, pending ids, images missing) for a batch of edits with file images, or None when a
    duplicate edit or an image check raising needs the per-record path. Image rows: one per distinct
    location, first seen first, over all sources then all targets (``interleave``: source and target turn by
    turn)."""
    n = len(records)
    prefix = m._img_prefix
    src_loc = pc.binary_join_element_wise(prefix, src, "") if prefix else src
    tgt_loc = pc.binary_join_element_wise(prefix, tgt, "") if prefix else tgt
    edit_digests = I.edit_digests(m.dataset, m.part, sid, 1 if turns is None else turns, src_loc, tgt_loc, ins)
    if not I.distinct(edit_digests, n):
        return None
    try:
        exists = m.checker.check_many(m.image_root_abs, rel_s) + m.checker.check_many(m.image_root_abs, rel_t)
    except BadField:
        return None
    locs = pa.concat_arrays([src_loc, tgt_loc])
    image_digests = I.image_digests(m.dataset, locs)
    all_ids = I.short_ids(image_digests, 2 * n)
    order = None  # positions in locs of the image rows, in row order (None: all, in locs order)
    if interleave:
        order = np.empty(2 * n, np.int64)
        order[0::2], order[1::2] = np.arange(n), np.arange(n, 2 * n)
    if not I.distinct(image_digests, 2 * n):  # a location repeats: keep its first occurrence
        seq = locs if order is None else locs.take(pa.array(order))
        _, first = np.unique(seq.dictionary_encode().indices.to_numpy(zero_copy_only=False), return_index=True)
        order = first if order is None else order[first]
    if order is None:
        uniq, image_ids = locs, all_ids
    else:
        take = pa.array(order)
        uniq, image_ids, exists = locs.take(take), all_ids.take(take), [exists[j] for j in order.tolist()]
    edit_ids = I.short_ids(edit_digests, n)
    cols = {**columns, "edit_id": edit_ids, "session_id": sid, "turn_index": turns, "source_image_id": all_ids[:n],
            "target_image_id": all_ids[n:], "instruction": ins, "source_record": pa.array(records, pa.int64())}
    edits = build_table(T.EDITS, cols, n, m.edit_defaults())
    images = build_table(T.IMAGES, {"image_id": image_ids, "path": uniq, "exists": exists}, len(uniq),
                         m.image_defaults())
    return edits, images, (edit_ids, uniq, image_ids), exists.count(False)


# ---- the per-record fallback of a single-turn batch ----------------------------------------------------------

def _row_batch(m: UnitMapper, records, raws, instruction, source, target, instruction_ori, source_caption,
               target_caption, labels, extra) -> None:
    """``add_file_batch`` record by record in Python: rejects first (duplicates of an earlier record of the
    batch or of the unit, then images behind an escaping symlink), then the images (sources, then targets)
    and the edits of the records kept."""
    n = len(records)
    s_loc = [m.file_location(p) for p in source]
    t_loc = [m.file_location(p) for p in target]
    ids = I.edit_ids_of(m.dataset, m.part, None, 1, s_loc, t_loc, instruction)
    drop: dict[int, tuple[str, str]] = {}
    seen, local = m._seen, set()
    if len(set(ids)) != n or not seen.isdisjoint(ids):
        for k, eid in enumerate(ids):
            if eid in seen or eid in local:
                drop[k] = (T.DUPLICATE_RECORD, f"same edit as an earlier record of this file ({eid})")
            else:
                local.add(eid)
    exists_s = exists_t = [None] * n
    if m.checker.enabled:
        chk, base = m.checker.check, m.image_root_abs
        try:
            exists_s, exists_t = m.checker.check_many(base, source), m.checker.check_many(base, target)
        except BadField:
            exists_s, exists_t = [], []
            for k, (ps, pt) in enumerate(zip(source, target)):
                try:
                    es, et = chk(base, ps), chk(base, pt)
                except BadField as bad:
                    es = et = None
                    drop.setdefault(k, (bad.reason, bad.message))
                exists_s.append(es)
                exists_t.append(et)
    for k in sorted(drop):
        m.reject(records[k], *drop[k], raws[k])
    if drop:  # keep the other records' values only
        keep = [k for k in range(n) if k not in drop]
        records, instruction, ids, s_loc, t_loc, exists_s, exists_t = (
            [col[k] for k in keep] for col in (records, instruction, ids, s_loc, t_loc, exists_s, exists_t))
        instruction_ori, source_caption, target_caption, labels, extra = (
            None if col is None else [col[k] for k in keep]
            for col in (instruction_ori, source_caption, target_caption, labels, extra))
    nk = len(records)
    seen.update(ids)
    # images: the new locations, first seen first (sources, then targets)
    first = dict(zip(s_loc, exists_s))
    first.update(zip(t_loc, exists_t))
    images = m._images
    new = [loc for loc in first if loc not in images] if images else list(first)
    new_exists = [first[loc] for loc in new]
    new_ids = I.image_ids_of(m.dataset, new)
    images.update(zip(new, new_ids))
    i_cols = {"image_id": new_ids, "path": new, "exists": new_exists}
    i_defaults = m.image_defaults()
    for name, rows in m.i.items():
        rows += i_cols[name] if name in i_cols else [i_defaults.get(name)] * len(new)
    m.images_missing += new_exists.count(False)  # values are True, False or None
    get = images.__getitem__
    cols = {"edit_id": ids, "source_image_id": list(map(get, s_loc)), "target_image_id": list(map(get, t_loc)),
            "instruction": instruction, "source_record": records, "instruction_ori": instruction_ori,
            "source_caption": source_caption, "target_caption": target_caption, "provided_labels": labels,
            "extra": extra}
    defaults = m.edit_defaults()
    for name, rows in m.e.items():
        col = cols.get(name)
        rows += col if col is not None else [defaults.get(name)] * nk
    m.read += nk
    m.loaded += nk
