"""MagicBrush readers: the Hugging Face Parquet release and the test-set folder layout.

Parquet (``osunlp/MagicBrush``): ``img_id`` (session) + ``turn_index`` (1-based), ``source_img``, ``target_img``,
``mask_img`` (white = editable), ``instruction``. A repeated (img_id, turn_index) in one file is a duplicate.

Test set: ``edit_sessions.json`` = ``{img_id: [{input, mask, output, instruction}, ...]}`` (list order = turn),
images ``images/<img_id>/<file>``; ``global_descriptions.json`` gives captions (source: the turn's input image,
target: its output image), ``local_descriptions.json`` the local description of the output, kept in ``extra``.
source_record is the 1-based position of the session in ``edit_sessions.json``.
"""

from __future__ import annotations

import hashlib
import os

import orjson

from editlens.contract import tables as T
from editlens.ingest.fields import BadField, check_instruction, check_rel_path
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import (
    FileRefused,
    document_fast,
    document_members,
    dumps,
    load_value,
    parse_error,
    raw_text,
    read_optional,
)
from editlens.ingest.readers.parquet import ParquetRow, iter_parquet

# ---- Parquet ---------------------------------------------------------------------------------------------------

PQ_KNOWN = frozenset(("img_id", "turn_index", "instruction"))


def _image_paths(unit, columns: tuple[str, ...]) -> dict[str, list]:
    """The HF image structs' ``path`` (e.g. ``327726-input.png``, which links a row to the test layout's files),
    per image column, by file row; {} for a column without one."""
    import pyarrow.parquet as pq

    out = {}
    try:
        pf = pq.ParquetFile(os.path.join(unit.root, unit.source_file))
        for c in columns:
            if c not in pf.schema_arrow.names:
                continue
            t = pf.schema_arrow.field(c).type
            if getattr(t, "num_fields", 0) and t.get_field_index("path") >= 0:
                out[c] = pf.read(columns=[f"{c}.path"]).column(c).combine_chunks().field("path").to_pylist()
    except Exception:  # noqa: BLE001 - paths are extra information: an unreadable file is rejected elsewhere
        return {}
    return out


def map_parquet(unit, _payload, m: UnitMapper) -> None:
    """Rows in file order. Turn k >= 2's source is turn k-1's target of the same session (the same picture, which
    HF stores again in the row's own ``source_img`` cell): the edit references that image, so a session's turns
    chain; the row's own cell stays named in ``extra.source_img_cell``. The structs' ``path`` go to
    ``extra.image_paths``."""
    seen = set()
    rows: list = []
    targets: dict[tuple, object] = {}  # (img_id, turn) -> the target image of its first row

    def on_row(row: ParquetRow) -> None:
        rows.append(row)
        v = row.values
        sid, turn = v.get("img_id"), v.get("turn_index")
        tgt = row.images.get("target_img")
        if sid is not None and isinstance(turn, int) and tgt is not None:
            targets.setdefault((str(sid), turn), tgt)

    iter_parquet(unit, m, ("source_img", "target_img", "mask_img"), on_row)
    paths = _image_paths(unit, ("source_img", "target_img", "mask_img"))
    for row in rows:
        v = row.values
        raw = raw_text(v)
        try:
            for c in ("source_img", "target_img"):
                if c in row.image_problem:
                    raise BadField(*row.image_problem[c])
            sid = v.get("img_id")
            if sid is None:
                raise BadField(T.MISSING_KEY, "`img_id` is absent or null")
            if not isinstance(sid, (str, int)) or isinstance(sid, bool):
                raise BadField(T.WRONG_TYPE, "`img_id` must be a string")
            turn = v.get("turn_index")
            if turn is None:
                raise BadField(T.MISSING_KEY, "`turn_index` is absent or null")
            if not isinstance(turn, int) or isinstance(turn, bool) or turn < 1:
                raise BadField(T.WRONG_TYPE, f"`turn_index` must be a positive integer, got {turn!r}")
            instr = check_instruction(v.get("instruction"))
        except BadField as bad:
            m.reject(row.file_row, bad.reason, bad.message, raw)
            continue
        sid = str(sid)
        if (sid, turn) in seen:
            m.reject(row.file_row, T.DUPLICATE_RECORD, f"session {sid} turn {turn} appears twice", raw,
                     turn_index=turn)
            continue
        seen.add((sid, turn))
        mask = row.images.get("mask_img")
        if mask is not None and mask.exists is False:
            mask = None  # an empty mask cell: no mask
        extra = {k: x for k, x in v.items() if k not in PQ_KNOWN}
        names = {c: paths[c][row.file_row] for c in paths if row.file_row < len(paths[c])
                 and paths[c][row.file_row] is not None}
        if names:
            extra["image_paths"] = names
        source = row.images["source_img"]
        prev = targets.get((sid, turn - 1)) if turn > 1 else None
        if prev is not None and source is not None and (prev.exists is not False or source.exists is False):
            extra["source_img_cell"] = source.location
            source = prev
        m.add_edit(record=row.file_row, raw=raw, instruction=instr, source=source,
                   target=row.images["target_img"], mask=mask, session_id=sid, turn_index=turn,
                   extra=dumps(extra) if extra else "{}")


# ---- test-set layout -------------------------------------------------------------------------------------------

AUX = ("global_descriptions.json", "local_descriptions.json")
TURN_KNOWN = frozenset(("input", "mask", "output", "instruction"))


def load_test(unit):
    base = os.path.dirname(os.path.join(unit.root, unit.source_file))
    main = read_optional(os.path.join(unit.root, unit.source_file), unit.root)
    if main is None:
        raise FileNotFoundError(unit.source_file)
    aux = {a: _optional(os.path.join(base, a), unit.root) for a in AUX}
    h = hashlib.sha256(main)
    for a in AUX:
        b = aux[a]
        h.update(b"\x00" if b is None else b"\x01%d\x01" % len(b) + b)
    return h.hexdigest(), (main, aux)


def _optional(path: str, root: str) -> bytes | None:
    """A descriptions file (optional: captions only); a special file or a symlink out of the root is not read."""
    try:
        return read_optional(path, root)
    except FileRefused:
        return None


def _descriptions(b: bytes | None) -> dict:
    if b is None:
        return {}
    try:
        d = orjson.loads(b)
    except orjson.JSONDecodeError:
        return {}
    return d if isinstance(d, dict) else {}


def _lookup(desc: dict, sid: str, fname: str | None):
    """Descriptions are keyed ``{img_id: {file: text}}``; also accept ``{file: text}``."""
    if fname is None:
        return None
    inner = desc.get(sid)
    v = inner.get(fname) if isinstance(inner, dict) else desc.get(fname)
    return v if isinstance(v, str) else None


def _sessions(main: bytes, m: UnitMapper):
    """(position, session id, turns) for each session of ``edit_sessions.json``, in file order. The whole file is
    parsed at once when no record check can fail; otherwise it is cut into its sessions, each parsed alone, so a
    session nested too deep, naming a key twice or holding bad bytes is one reject, and a session id named twice
    is a reject (`duplicate_key`; the first is kept), never a silent overwrite."""
    doc = document_fast(main, m.limits)
    if doc is not None:
        if not isinstance(doc, dict):
            m.reject(None, T.WRONG_TYPE, "edit_sessions.json must be an object {img_id: [turns]}", main)
            return
        yield from ((pos, sid, turns) for pos, (sid, turns) in enumerate(doc.items(), 1))
        return
    members, problem = document_members(main)
    if members and members[0][0] is None:
        m.reject(None, T.WRONG_TYPE, "edit_sessions.json must be an object {img_id: [turns]}", main)
        return
    if not members:
        try:
            orjson.loads(main)
            reason, msg = T.WRONG_TYPE, "edit_sessions.json must be an object {img_id: [turns]}"
        except orjson.JSONDecodeError as exc:
            reason, msg = parse_error(main, exc)
        m.reject(None, reason, f"edit_sessions.json: {msg}", main)
        return
    first: dict[str, int] = {}
    for pos, (ktext, vtext) in enumerate(members, 1):
        raw = ktext + b": " + vtext[: T.RAW_EXCERPT_CHARS * 4]
        try:
            sid = orjson.loads(ktext)
        except orjson.JSONDecodeError as exc:
            m.reject(pos, *parse_error(ktext, exc), raw)
            continue
        if sid in first:
            m.reject(pos, T.DUPLICATE_KEY, f"session {str(sid)[:200]} is named twice (first at session "
                                           f"{first[sid]}, which is kept)", raw)
            continue
        first[sid] = pos
        try:
            turns = load_value(vtext, m.limits)
        except BadField as bad:
            m.reject(pos, bad.reason, f"session {str(sid)[:200]}: {bad.message}", raw)
            continue
        yield pos, sid, turns
    if problem is not None and not problem.startswith("the document ends inside"):
        m.reject(None, T.MALFORMED_JSON, f"edit_sessions.json after session {len(members)}: {problem}; "
                                         "the rest of the file cannot be read", main[-T.RAW_EXCERPT_CHARS:])


def map_test(unit, payload, m: UnitMapper) -> None:
    main, aux = payload
    gdesc, ldesc = _descriptions(aux["global_descriptions.json"]), _descriptions(aux["local_descriptions.json"])
    for pos, sid, turns in _sessions(main, m):
        raw = raw_text({sid: turns})
        if not isinstance(turns, list) or not turns:
            m.reject(pos, T.WRONG_TYPE if not isinstance(turns, list) else T.MISSING_KEY,
                     f"session {sid} must be a non-empty list of turns", raw)
            continue
        prev_out = None
        for k, t in enumerate(turns, 1):
            traw = raw_text(t)
            try:
                if not isinstance(t, dict):
                    raise BadField(T.WRONG_TYPE, f"turn {k} is not an object")
                sid_ok = check_rel_path(sid, "img_id")
                if "/" in sid_ok:
                    raise BadField(T.UNSAFE_PATH, f"session id {sid[:200]} is not a plain folder name")
                src_name = t.get("input", prev_out)
                src = check_rel_path(src_name, "input")
                tgt = check_rel_path(t.get("output"), "output")
                mask = check_rel_path(t["mask"], "mask") if t.get("mask") is not None else None
                instr = check_instruction(t.get("instruction"))
                for p in (src, tgt, mask):
                    if p is not None and "/" in p:
                        raise BadField(T.UNSAFE_PATH, f"image name {p[:200]} must be a file name")
            except BadField as bad:
                m.reject(pos, bad.reason, f"turn {k}: {bad.message}", traw, turn_index=k)
                prev_out = t.get("output") if isinstance(t, dict) else None
                continue
            prev_out = tgt
            extra = {k2: v for k2, v in t.items() if k2 not in TURN_KNOWN}
            local = _lookup(ldesc, sid, tgt)
            if local is not None:
                extra["local_description"] = local
            try:
                extra_json = dumps(extra)
            except BadField as bad:
                m.reject(pos, bad.reason, f"turn {k}: {bad.message}", traw, turn_index=k)
                continue
            m.add_edit(record=pos, raw=traw, instruction=instr, source=f"{sid}/{src}", target=f"{sid}/{tgt}",
                       mask=f"{sid}/{mask}" if mask else None, session_id=str(sid), turn_index=k,
                       source_caption=_lookup(gdesc, sid, src), target_caption=_lookup(gdesc, sid, tgt),
                       extra=extra_json)
