"""The mapping layer: validated fields -> canonical columns, plus reject rows and the image registry.

Readers parse their format and call ``UnitMapper.add_edit`` / ``UnitMapper.reject``; nothing else builds rows.
One ``UnitMapper`` holds the output of one work unit (one annotation file, usually), column-wise, and turns it
into Arrow tables at the end.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest import tables as T
from ingest.fields import BadField, check_instruction, check_labels, check_rel_path, excerpt, optional_text  # noqa: F401
from ingest.ids import SEP, distinct, sha1_digests, short_ids, short_sha1
from ingest.images import ImageChecker, ParquetImage


class UnitMapper:
    """Column-wise output of one work unit: edits, distinct images, rejects and the record counts."""

    def __init__(self, *, dataset: str, part: str, split: str, root: str, image_root: str, source_file: str,
                 run_id: str, checker: ImageChecker) -> None:
        self.dataset, self.part, self.split = dataset, part, split
        self.root = root  # absolute dataset root
        self.image_root = image_root  # relative to root ('' = root itself)
        self.image_root_abs = os.path.join(root, image_root) if image_root else root
        self._img_prefix = image_root.rstrip("/") + "/" if image_root else ""
        self.source_file = source_file
        self.run_id = run_id
        self.checker = checker
        self.read = self.loaded = self.rejected = 0
        self._seen: set[str] = set()
        self.e: dict[str, list] = {f.name: [] for f in T.EDITS}
        self.r: dict[str, list] = {f.name: [] for f in T.REJECTS}
        self.i: dict[str, list] = {f.name: [] for f in T.IMAGES}
        self._images: dict[object, str] = {}
        self.images_missing = 0
        # Arrow pieces of edits/images built column-wise (``add_file_batch``), in row order with the rows
        # appended to ``e``/``i`` in between (those are flushed into a piece before the next batch piece)
        self._pieces: dict[str, list[pa.Table]] = {"edits": [], "images": []}
        # batches whose edit ids and image locations are not yet in ``_seen``/``_images`` (added on first need)
        self._pending: list[tuple[pa.Array, pa.Array, pa.Array]] = []

    def _sync(self) -> None:
        """Bring ``_seen`` and ``_images`` up to date with the column-wise batches."""
        for edit_ids, locs, image_ids in self._pending:
            self._seen.update(edit_ids.to_pylist())
            self._images.update(zip(locs.to_pylist(), image_ids.to_pylist()))
        self._pending = []

    def _flush_rows(self) -> None:
        """Turn the rows appended so far to ``e``/``i`` into Arrow pieces (keeps row order with batch pieces)."""
        for name, attr, schema in (("edits", "e", T.EDITS), ("images", "i", T.IMAGES)):
            cols = getattr(self, attr)
            if cols[schema[0].name]:
                self._pieces[name].append(
                    pa.table({f.name: _column(cols[f.name], f.type) for f in schema}, schema=schema))
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

    def _register_file(self, loc: str, exists: bool | None) -> str:
        iid = self._images.get(loc)
        if iid is None:
            iid = short_sha1(self.dataset + SEP + loc)
            self._images[loc] = iid
            i = self.i
            i["image_id"].append(iid)
            i["dataset"].append(self.dataset)
            i["part"].append(self.part)
            i["location_kind"].append("file")
            i["root"].append(self.root)
            i["path"].append(loc)
            i["row_group"].append(None)
            i["row"].append(None)
            i["column"].append(None)
            i["exists"].append(exists)
            if exists is False:
                self.images_missing += 1
        return iid

    def _register_parquet(self, img: ParquetImage) -> str:
        loc = img.location
        iid = self._images.get(loc)
        if iid is None:
            iid = short_sha1(self.dataset + SEP + loc)
            self._images[loc] = iid
            i = self.i
            i["image_id"].append(iid)
            i["dataset"].append(self.dataset)
            i["part"].append(self.part)
            i["location_kind"].append("parquet")
            i["root"].append(self.root)
            i["path"].append(img.path)
            i["row_group"].append(img.row_group)
            i["row"].append(img.row)
            i["column"].append(img.column)
            i["exists"].append(img.exists)
            if img.exists is False:
                self.images_missing += 1
        return iid

    # ---- edits ---------------------------------------------------------------------------------------------
    def add_edit(self, *, record: int, raw: bytes | str | None, instruction: str,
                 source, target, mask=None, session_id: str | None = None, turn_index: int = 1,
                 instruction_ori: str | None = None, source_caption: str | None = None,
                 target_caption: str | None = None, labels: list[str] | None = None,
                 scores: str = "{}", extra: str = "{}", source_file: str | None = None) -> bool:
        """Load one edit. ``source``/``target``/``mask`` are image paths relative to the image root (already
        lexically checked) or ``ParquetImage``s. Returns False (and writes a reject) if it is not loaded."""
        if self._pending:
            self._sync()
        imgs = []
        try:
            for img in (source, target, mask):
                if img is None:
                    imgs.append(None)
                elif isinstance(img, str):
                    loc = self._img_prefix + img
                    imgs.append((loc, self.checker.check(self.image_root_abs, img) if self.checker.enabled
                                 else None))
                else:
                    imgs.append(img)
        except BadField as bad:
            self.reject(record, bad.reason, bad.message, raw, turn_index if session_id else None, source_file)
            return False
        s, t, m = imgs
        s_loc = s[0] if isinstance(s, tuple) else s.location
        t_loc = t[0] if isinstance(t, tuple) else t.location
        edit_id = short_sha1(SEP.join((self.dataset, self.part, session_id or "", str(turn_index), s_loc, t_loc,
                                       instruction)))
        if edit_id in self._seen:
            self.reject(record, T.DUPLICATE_RECORD, f"same edit as an earlier record of this file ({edit_id})",
                        raw, turn_index if session_id else None, source_file)
            return False
        self._seen.add(edit_id)
        ids = []
        for img in imgs:
            if img is None:
                ids.append(None)
            elif isinstance(img, tuple):
                ids.append(self._register_file(img[0], img[1]))
            else:
                ids.append(self._register_parquet(img))
        self.read += 1
        self.loaded += 1
        e = self.e
        e["edit_id"].append(edit_id)
        e["dataset"].append(self.dataset)
        e["part"].append(self.part)
        e["split"].append(self.split)
        e["session_id"].append(session_id)
        e["turn_index"].append(turn_index)
        e["source_image_id"].append(ids[0])
        e["target_image_id"].append(ids[1])
        e["mask_image_id"].append(ids[2])
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
        out = {}
        if self._pieces["edits"] or self._pieces["images"]:
            self._flush_rows()
        for name, cols, schema in (("edits", self.e, T.EDITS), ("images", self.i, T.IMAGES),
                                   ("rejects", self.r, T.REJECTS)):
            pieces = self._pieces.get(name)
            if pieces:
                out[name] = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
            else:
                out[name] = pa.table({f.name: _column(cols[f.name], f.type) for f in schema}, schema=schema)
        return out


_CONSTANT_TYPES = (str, int, bool, type(None))


def _column(values: list, typ: pa.DataType) -> pa.Array:
    """``pa.array``, with a shortcut for the many columns that hold one value per unit (dataset, part, ...)."""
    n = len(values)
    if n > 64 and type(values[0]) in _CONSTANT_TYPES and values[0] is values[-1] is values[n // 2]:
        v = values[0]
        if values.count(v) == n:  # identity first: no comparisons for a repeated object; None counts None only
            return pa.nulls(n, typ) if v is None else pa.repeat(pa.scalar(v, typ), n)
    return pa.array(values, type=typ)


def _is_clean_path(p) -> bool:
    return (type(p) is str and p != "" and p[0] != "/" and ".." not in p and "\\" not in p and "//" not in p
            and "./" not in p and ":" not in p[:3] and "\x00" not in p and not p.isspace())


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
    if _arrow_batch(m, records, instruction, source, target, instruction_ori, source_caption, target_caption,
                    labels, extra, arrays or {}):
        return
    m._sync()
    _row_batch(m, records, raws, instruction, source, target, instruction_ori, source_caption, target_caption,
               labels, extra)


# ---- the column-wise batch in Arrow: no per-record Python objects beyond the SHA-1 inputs and digests -----------

def _const(value, typ: pa.DataType, n: int) -> pa.Array:
    return pa.nulls(n, typ) if value is None else pa.repeat(pa.scalar(value, typ), n)


def _commit(m: UnitMapper, pieces: tuple | None) -> bool:
    """Append a batch's Arrow pieces to ``m`` (False, ``m`` unchanged, when there are none)."""
    if pieces is None:
        return False
    edits, images, pending, missing = pieces
    m._flush_rows()
    m._pieces["edits"].append(edits)
    m._pieces["images"].append(images)
    m._pending.append(pending)
    m.images_missing += missing
    m.read += edits.num_rows
    m.loaded += edits.num_rows
    return True


def _arrow_batch(m: UnitMapper, records, instruction, source, target, instruction_ori, source_caption,
                 target_caption, labels, extra, arrays: dict[str, pa.Array]) -> bool:
    """``add_file_batch`` for the usual batch: nothing loaded into ``m`` before by the record path, no duplicate
    edit, no image check raising. Builds the same rows as ``_row_batch`` as Arrow pieces; returns False (having
    changed nothing) when the batch needs the row path."""
    if m._seen or m._images or m._pending:
        return False
    try:  # e.g. a lone surrogate, or columns over 2 GiB: the row path handles them as before
        return _commit(m, _file_pieces(m, records, instruction, source, target, instruction_ori, source_caption,
                                       target_caption, labels, extra, arrays))
    except (pa.ArrowException, UnicodeError):
        return False


def strings(col: list) -> pa.Array:
    """A list of str (or None) as one Arrow string array; raises ``pa.ArrowException`` for other values and for
    more than 2 GiB of text, ``UnicodeError`` for a lone surrogate."""
    a = pa.array(col, pa.string())
    if isinstance(a, pa.ChunkedArray):  # over 2 GiB of text
        raise pa.ArrowCapacityError("column too large for one string array")
    return a


def _file_pieces(m: UnitMapper, records, instruction, source, target, instruction_ori, source_caption,
                 target_caption, labels, extra, arrays: dict[str, pa.Array]) -> tuple | None:
    n = len(records)
    src, tgt, ins = (strings(col) if arrays.get(key) is None else arrays[key] for key, col in
                     (("source", source), ("target", target), ("instruction", instruction)))
    prefix = m._img_prefix
    if prefix:
        src_loc = pc.binary_join_element_wise(prefix, src, "")
        tgt_loc = pc.binary_join_element_wise(prefix, tgt, "")
    else:
        src_loc, tgt_loc = src, tgt
    edit_digests = sha1_digests(pc.binary_join_element_wise(f"{m.dataset}{SEP}{m.part}{SEP}{SEP}1", src_loc,
                                                             tgt_loc, ins, SEP))
    if not distinct(edit_digests, n):  # a duplicate edit within the batch: the row path writes its reject
        return None
    try:
        exists_s = m.checker.check_many(m.image_root_abs, source)
        exists_t = m.checker.check_many(m.image_root_abs, target)
    except BadField:
        return None
    # images: one id per source and target location (equal locations, equal ids); rows for the distinct
    # locations, first seen first (sources, then targets)
    locs = pa.concat_arrays([src_loc, tgt_loc])
    image_digests = sha1_digests(pc.binary_join_element_wise(m.dataset, locs, SEP))
    all_ids = short_ids(image_digests, 2 * n)
    src_ids, tgt_ids = all_ids[:n], all_ids[n:]
    exists = exists_s + exists_t
    if distinct(image_digests, 2 * n):  # distinct ids: distinct locations (the usual Part-1/Part-2 file)
        uniq, image_ids = locs, all_ids
    else:
        _, first = np.unique(locs.dictionary_encode().indices.to_numpy(zero_copy_only=False), return_index=True)
        first = pa.array(first)
        uniq, image_ids = locs.take(first), all_ids.take(first)
        exists = [exists[j] for j in first.to_pylist()]
    k = len(uniq)
    edit_ids = short_ids(edit_digests, n)
    string, nulls = pa.string(), pa.nulls(n, pa.string())

    def opt(col, typ=string, key=None):
        if col is None:
            return _const(None, typ, n)
        return _column(col, typ) if arrays.get(key) is None else arrays[key]

    edits = pa.table([
        edit_ids, _const(m.dataset, string, n), _const(m.part, string, n), _const(m.split, string, n), nulls,
        _const(1, pa.int32(), n), src_ids, tgt_ids, nulls, ins, opt(instruction_ori, key="instruction_ori"),
        opt(source_caption, key="source_caption"), opt(target_caption, key="target_caption"),
        opt(labels, T.EDITS.field("provided_labels").type), _const("{}", string, n),
        _const("{}", string, n) if extra is None else _column(extra, string), _const(m.source_file, string, n),
        pa.array(records, pa.int64()), _const(m.run_id, string, n),
    ], schema=T.EDITS)
    images = _file_images(m, image_ids, uniq, exists)
    return edits, images, (edit_ids, uniq, image_ids), exists.count(False)


def _file_images(m: UnitMapper, image_ids: pa.Array, uniq: pa.Array, exists: list[bool]) -> pa.Table:
    """`images` rows for files under the dataset root: one per distinct location, first seen first."""
    k, string = len(uniq), pa.string()
    return pa.table([
        image_ids, _const(m.dataset, string, k), _const(m.part, string, k), _const("file", string, k),
        _const(m.root, string, k), uniq, pa.nulls(k, pa.int32()), pa.nulls(k, pa.int64()), pa.nulls(k, string),
        _column(exists, pa.bool_()),
    ], schema=T.IMAGES)


def add_turn_batch(m: UnitMapper, *, records: list[int], session_ids: list[str], turns: list[int],
                   source: list[str], target: list[str], instruction: list[str], extra: list[str]) -> bool:
    """Column-wise ``add_edit`` for turns of multi-turn sessions (file images, fields already validated) into a
    mapper nothing was loaded into yet: the same rows as ``add_edit`` turn by turn, images first seen first.
    Returns False, having changed nothing, when a turn needs ``add_edit`` (a duplicate edit, an image check
    raising)."""
    if m._seen or m._images or m._pending or m.e["edit_id"] or m.i["image_id"]:
        return False
    if not records:
        return True
    try:  # e.g. a lone surrogate, or columns over 2 GiB: turn by turn as before
        return _commit(m, _turn_pieces(m, records, session_ids, turns, source, target, instruction, extra))
    except (pa.ArrowException, UnicodeError):
        return False


def _turn_pieces(m: UnitMapper, records, session_ids, turns, source, target, instruction, extra) -> tuple | None:
    n = len(records)
    src, tgt, ins, sid = map(strings, (source, target, instruction, session_ids))
    prefix = m._img_prefix
    src_loc = pc.binary_join_element_wise(prefix, src, "") if prefix else src
    tgt_loc = pc.binary_join_element_wise(prefix, tgt, "") if prefix else tgt
    turn = pa.array(turns, pa.int32())
    edit_digests = sha1_digests(pc.binary_join_element_wise(f"{m.dataset}{SEP}{m.part}", sid, turn.cast(pa.string()),
                                                             src_loc, tgt_loc, ins, SEP))
    if not distinct(edit_digests, n):
        return None
    rels = [None] * (2 * n)  # per turn: source, then target (add_edit's order)
    rels[0::2], rels[1::2] = source, target
    try:
        exists = m.checker.check_many(m.image_root_abs, rels)
    except BadField:
        return None
    order = np.empty(2 * n, np.int64)
    order[0::2], order[1::2] = np.arange(n), np.arange(n, 2 * n)
    locs = pa.concat_arrays([src_loc, tgt_loc]).take(pa.array(order))
    enc = locs.dictionary_encode()
    uniq, codes = enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)
    k = len(uniq)
    image_ids = short_ids(sha1_digests(pc.binary_join_element_wise(m.dataset, uniq, SEP)), k)
    _, first = np.unique(codes, return_index=True)
    exists = [exists[j] for j in first.tolist()]
    string, nulls = pa.string(), pa.nulls(n, pa.string())
    edit_ids = short_ids(edit_digests, n)
    edits = pa.table([
        edit_ids, _const(m.dataset, string, n), _const(m.part, string, n), _const(m.split, string, n), sid, turn,
        image_ids.take(pa.array(codes[0::2])), image_ids.take(pa.array(codes[1::2])), nulls, ins, nulls, nulls,
        nulls, _const(None, T.EDITS.field("provided_labels").type, n), _const("{}", string, n),
        _column(extra, string), _const(m.source_file, string, n), pa.array(records, pa.int64()),
        _const(m.run_id, string, n),
    ], schema=T.EDITS)
    images = _file_images(m, image_ids, uniq, exists)
    return edits, images, (edit_ids, uniq, image_ids), exists.count(False)


def _row_batch(m: UnitMapper, records, raws, instruction, source, target, instruction_ori, source_caption,
               target_caption, labels, extra) -> None:
    n = len(records)
    prefix = m._img_prefix
    s_loc = [prefix + p for p in source] if prefix else list(source)
    t_loc = [prefix + p for p in target] if prefix else list(target)
    head = f"{m.dataset}{SEP}{m.part}{SEP}{SEP}1{SEP}"
    sha1 = hashlib.sha1
    ids = [h.digest()[:8].hex() for h in map(sha1, [f"{head}{s}{SEP}{t}{SEP}{i}".encode("utf-8", "surrogatepass")
                                                     for s, t, i in zip(s_loc, t_loc, instruction)])]
    keep = None  # indices to keep when some rows are rejected here
    drop: dict[int, tuple[str, str]] = {}
    seen = m._seen
    if len(set(ids)) != n or not seen.isdisjoint(ids):
        local = set()
        for k, eid in enumerate(ids):
            if eid in seen or eid in local:
                drop[k] = (T.DUPLICATE_RECORD, f"same edit as an earlier record of this file ({eid})")
            else:
                local.add(eid)
    exists_s = exists_t = None
    if m.checker.enabled:
        chk, base = m.checker.check, m.image_root_abs
        try:
            exists_s = m.checker.check_many(base, source)
            exists_t = m.checker.check_many(base, target)
        except BadField:
            exists_s, exists_t = [], []
            for k, (ps, pt) in enumerate(zip(source, target)):
                try:
                    exists_s.append(chk(base, ps))
                    exists_t.append(chk(base, pt))
                except BadField as bad:
                    exists_s.append(None)
                    exists_t.append(None)
                    if k not in drop:
                        drop[k] = (bad.reason, bad.message)
    if drop:
        for k in sorted(drop):
            reason, msg = drop[k]
            m.reject(records[k], reason, msg, raws[k])
        keep = [k for k in range(n) if k not in drop]

        def sel(col):
            return None if col is None else [col[k] for k in keep]

        records, instruction, s_loc, t_loc, ids = sel(records), sel(instruction), sel(s_loc), sel(t_loc), sel(ids)
        instruction_ori, source_caption, target_caption = sel(instruction_ori), sel(source_caption), \
            sel(target_caption)
        labels, extra, exists_s, exists_t = sel(labels), sel(extra), sel(exists_s), sel(exists_t)
        n = len(records)
    seen.update(ids)
    # images: distinct locations, first seen first
    images = m._images
    if exists_s is None:
        exists_s = exists_t = [None] * n
    first = dict(zip(s_loc, exists_s))  # location -> exists, distinct, first seen first (sources, then targets)
    first.update(zip(t_loc, exists_t))
    if images:
        first = {k: v for k, v in first.items() if k not in images}
    new_locs, new_exists = list(first), list(first.values())
    dpre = m.dataset + SEP
    new_ids = [h.digest()[:8].hex() for h in map(sha1, [(dpre + loc).encode("utf-8", "surrogatepass")
                                                         for loc in new_locs])]
    fresh = len(new_locs) == 2 * n  # every source and target location is new and distinct (Part-1, Part-2)
    images.update(zip(new_locs, new_ids))
    i = m.i
    k_new = len(new_locs)
    i["image_id"] += new_ids
    i["dataset"] += [m.dataset] * k_new
    i["part"] += [m.part] * k_new
    i["location_kind"] += ["file"] * k_new
    i["root"] += [m.root] * k_new
    i["path"] += new_locs
    i["row_group"] += [None] * k_new
    i["row"] += [None] * k_new
    i["column"] += [None] * k_new
    i["exists"] += new_exists
    m.images_missing += new_exists.count(False)  # values are True, False or None (0 == False never arises)
    e = m.e
    nones = [None] * n
    e["edit_id"] += ids
    e["dataset"] += [m.dataset] * n
    e["part"] += [m.part] * n
    e["split"] += [m.split] * n
    e["session_id"] += nones
    e["turn_index"] += [1] * n
    if fresh:  # new_locs is then s_loc followed by t_loc
        e["source_image_id"] += new_ids[:n]
        e["target_image_id"] += new_ids[n:]
    else:
        e["source_image_id"] += map(images.__getitem__, s_loc)
        e["target_image_id"] += map(images.__getitem__, t_loc)
    e["mask_image_id"] += nones
    e["instruction"] += instruction
    e["instruction_ori"] += instruction_ori or nones
    e["source_caption"] += source_caption or nones
    e["target_caption"] += target_caption or nones
    e["provided_labels"] += labels or nones
    e["provided_scores"] += ["{}"] * n
    e["extra"] += extra or ["{}"] * n
    e["source_file"] += [m.source_file] * n
    e["source_record"] += records
    e["ingest_run_id"] += [m.run_id] * n
    m.read += n
    m.loaded += n
