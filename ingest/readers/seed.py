"""SEED-Data-Edit readers: Part-1 (OpenImages, Unsplash, Unsplash GPT-4V rewrites), Part-2 and Part-3.

All parts ship JSON Lines files; every file is read by its own keys (files of one repo do not share a column
set). Part-1/2: one record per line. Part-3: one session per line with ``source_image`` and
``instruction_k``/``edit_image_k`` for k = 1..N (N unbounded; later turns absent or null); each turn is one edit,
turn k's source being turn k-1's ``edit_image``.
"""

from __future__ import annotations

import re
from operator import itemgetter

import numpy as np
import orjson
import pyarrow as pa

from editlens.contract import tables as T
from editlens.ingest import ids
from editlens.ingest.fields import (
    BadField,
    check_instruction,
    check_labels,
    check_rel_path,
    is_clean_path,
    optional_text,
)
from editlens.ingest.mapper import UnitMapper, add_file_batch, add_turn_batch, add_uniform_batch, strings
from editlens.ingest.readers.common import (
    abspath,
    check_depth,
    dumps,
    key_tokens,
    pack_extra,
    parse_line,
    parse_lines,
    read_bytes,
)

SINGLE_KNOWN = frozenset(
    ("source_image", "target_image", "instruction", "instruction_ori", "source_caption", "target_caption",
     "task_type")
)
_TURN_KEY = re.compile(r"^(instruction|edit_image)_(\d+)$")


def load(unit):
    return read_bytes(abspath(unit, unit.source_file), unit.root)


CHUNK_LINES = 100_000  # bounds the parsed dicts held at once for very large files


def _split(data: bytes) -> list[bytes]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _keys_written_once(span: tuple[bytes, int, int], recs: list[dict]) -> bool:
    """True only when the chunk's text (``data[a:b]``) names no key twice and holds no nested object: its
    ``":`` count equals the records' keys and no ``:`` follows whitespace (else the exact count decides)."""
    data, a, b = span
    n = sum(map(len, recs))
    if data.count(b'":', a, b) != n:
        return False
    if data.count(b" :", a, b) or data.count(b"\t:", a, b) or data.count(b"\r:", a, b):
        return key_tokens(data[a:b]) == n
    return True


def _parse_chunk(lines: list[bytes], first: int, m: UnitMapper,
                 span: tuple[bytes, int, int] | None = None) -> tuple[list[int], list[dict], list[bytes]]:
    """Object lines of a chunk starting at line number ``first`` (``span``: the chunk's bytes in the file's
    buffer): (line numbers, dicts, raw lines). Bad lines become rejects (every check of ``load_record``); blank
    lines are not records. The fast path takes a chunk only when no line can fail a record check."""
    loads = orjson.loads
    try:  # fast path: every line is a flat JSON object within the limits, no key named twice
        if max(map(len, lines), default=0) <= m.limits.max_line_bytes:
            recs = list(map(loads, lines))
            if set(map(type, recs)) <= _DICT and _keys_written_once(span or (b"\n".join(lines), 0, None), recs):
                return list(range(first, first + len(lines))), recs, lines
    except orjson.JSONDecodeError:
        pass
    nums, recs, raws = [], [], []
    for n, line in enumerate(lines, first):
        if not line or line.isspace():
            continue
        rec = parse_line(n, line, m)
        if rec is None:
            continue
        nums.append(n)
        recs.append(rec)
        raws.append(line)
    return nums, recs, raws


_DICT = {dict}
_NONE = {type(None)}


def _validate_one(rec: dict) -> tuple:
    """Full checks of one single-turn record: normalised fields, or BadField."""
    get = rec.get
    src = check_rel_path(get("source_image"), "source_image")
    tgt = check_rel_path(get("target_image"), "target_image")
    instr = check_instruction(get("instruction"))
    ori = optional_text(get("instruction_ori"), "instruction_ori")
    sc = optional_text(get("source_caption"), "source_caption")
    tc = optional_text(get("target_caption"), "target_caption")
    labels = check_labels(get("task_type"))
    return src, tgt, instr, ori, sc, tc, labels


def _extra_or_bad(rec: dict, m: UnitMapper):
    """The record's other fields as ``extra`` JSON, or the BadField (too deep to keep) that rejects it."""
    other = {k: v for k, v in rec.items() if k not in SINGLE_KNOWN}
    try:
        check_depth(other, m.limits)
        return dumps(other)
    except BadField as bad:
        return bad


def map_single(unit, data: bytes, m: UnitMapper) -> None:
    """Part-1/Part-2, column-wise: clean rows go straight to columns; rows failing a quick check are checked one
    by one (normalised or rejected)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if _map_uniform(data, m):
        return
    lines = _split(data)
    pos = 0
    for start in range(0, len(lines), CHUNK_LINES):
        chunk = lines[start:start + CHUNK_LINES]
        end = pos + sum(map(len, chunk)) + len(chunk)  # each line and its newline
        _map_chunk(*_parse_chunk(chunk, start + 1, m, (data, pos, min(end, len(data)))), m)
        pos = end


_QUOTE, _NEWLINE = 34, 10
_STRING_KEYS = SINGLE_KNOWN - {"task_type"}
_REQUIRED = frozenset(("source_image", "target_image", "instruction"))


def _first_line_keys(first: bytes) -> tuple | None:
    """The keys, in order, of a first line that orjson parses into a flat object of known string keys holding
    the required ones, none named twice (its quotes then number four per key); else None."""
    try:
        rec = orjson.loads(first)
    except orjson.JSONDecodeError:
        return None
    if type(rec) is not dict or not rec.keys() <= _STRING_KEYS or not _REQUIRED <= rec.keys() or \
            not all(type(v) is str for v in rec.values()) or first.count(b'"') != 4 * len(rec):
        return None
    return tuple(rec)


def _map_uniform(data: bytes, m: UnitMapper) -> bool:
    """The whole-file fast path of the plain shape (SEED Part-1: every line one flat object of the same string
    keys in the same order, written the same way): the value columns are cut out of the file's bytes and handed
    to the column-wise batch without parsing a line into Python objects. Taken only when the file provably
    parses to what the record path parses: valid UTF-8, no backslash (no escapes) and no control byte but the
    line ends, no blank line, every line within ``max_line_bytes``, and every line with its values removed byte
    for byte the first line (which orjson parses: a flat object of known string keys, none named twice). Every
    record then passes the parse checks and the batch's whole-column checks decide the rest. Returns False,
    nothing changed, when a condition fails or the batch needs the per-record path, or the file has over
    ``CHUNK_LINES`` lines (the record path bounds what it holds at once): the record path then maps the file.
    The columns are cut by the compiled ``uniform_values`` where the extension is built, else by Arrow and
    numpy (``_uniform_columns_numpy``): the same columns, the same files refused."""
    if not data or len(data) >= 2**31 - 1 or data.count(b"\n") > CHUNK_LINES:  # memory: ~150 bytes a line
        return False
    if not data.isascii() and not _valid_utf8(data):
        return False
    if not data.endswith(b"\n"):
        data += b"\n"
    cut = _uniform_columns_numpy if _c_uniform is None else _uniform_columns_c
    cols = cut(data, m.limits.max_line_bytes)
    if cols is None:
        return False
    src, tgt, ins = cols["source_image"], cols["target_image"], cols["instruction"]
    if not (_paths_surely_clean(src) and _paths_surely_clean(tgt)
            and _instructions_surely_clean(ins, T.MAX_INSTRUCTION_CHARS)):
        return False
    return add_uniform_batch(m, len(src), src, tgt, ins, {"instruction_ori": cols.get("instruction_ori"),
                                                         "source_caption": cols.get("source_caption"),
                                                         "target_caption": cols.get("target_caption")})


try:  # the optional compiled cutter (setup.py)
    from editlens.ingest._sha1batch import uniform_values as _c_uniform
except ImportError:
    _c_uniform = None


def _uniform_columns_c(data: bytes, max_line: int) -> dict[str, pa.Array] | None:
    """``_uniform_columns_numpy`` in one pass of compiled code over the bytes."""
    keys = _first_line_keys(data[:data.index(b"\n")])
    if keys is None:
        return None
    got = _c_uniform(data, len(keys), max_line)
    if got is None:
        return None
    n = len(got[0][0]) // 4 - 1
    return {key: pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(o), pa.py_buffer(v)])
            for key, (o, v) in zip(keys, got)}


def _uniform_columns_numpy(data: bytes, max_line: int) -> dict[str, pa.Array] | None:
    """The value columns by key of valid UTF-8 ``data`` ending with a newline whose every line is its first line
    with other string values (no backslash, no control byte but the line ends, every line within ``max_line``
    bytes), else None. The file is split at its quotes by Arrow and the values taken."""
    d = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(d == _NEWLINE)
    n = len(ends)
    if np.count_nonzero(d < 32) != n or data.find(b"\\") >= 0:
        return None
    starts = np.empty(n, np.int64)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    if int((ends - starts).max()) > max_line:
        return None
    keys = _first_line_keys(data[:ends[0]])
    if keys is None:
        return None
    per = 4 * len(keys)  # quotes per line: a key's two and its value's two (no string holds a quote)
    q = np.flatnonzero(d == _QUOTE)
    if len(q) != per * n:
        return None
    q = q.reshape(n, per)
    if not ((q[:, 0] > starts).all() and (q[:, -1] < ends).all()):  # every line holds exactly ``per`` quotes
        return None
    # the file as segments: per line, what precedes its first quote, then each quote and what follows it
    width = 2 * per + 1
    bounds = np.empty((n, width), np.int32)
    bounds[:, 0], bounds[:, 1::2], bounds[:, 2::2] = starts, q, q + 1
    offsets = np.empty(n * width + 1, np.int32)
    offsets[:-1], offsets[-1] = bounds.ravel(), len(data)
    segs = pa.Array.from_buffers(pa.string(), n * width, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    base = np.arange(0, n * width, width)
    value_at = [8 * k + 6 for k in range(len(keys))]  # the segment after each value's opening quote
    skeleton = [j for j in range(width) if j not in value_at]
    skel = segs.take(pa.array((base[:, None] + np.array(skeleton)[None, :]).ravel()))
    sk = _buffers(skel)[1]
    row = int(ends[0]) + 1 - sum(int(q[0, 3 + 4 * k] - q[0, 2 + 4 * k] - 1) for k in range(len(keys)))
    if len(sk) != row * n or not (sk.reshape(n, row) == sk[:row]).all():  # each line's skeleton is the first's
        return None
    return {key: segs.take(pa.array(base + j)) for key, j in zip(keys, value_at)}


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _strings(col: list) -> pa.Array | None:
    """The column as one Arrow string array, or None when a value is neither a string nor None (or cannot be
    encoded: a lone surrogate), or the column holds over 2 GiB of text."""
    try:
        return strings(col)
    except (pa.ArrowException, UnicodeError):
        return None


def _buffers(a: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value offsets relative to the data, UTF-8 data) of a string array."""
    n = len(a)
    off = np.frombuffer(a.buffers()[1], np.int32, n + 1, a.offset * 4)
    data = a.buffers()[2]
    d = np.frombuffer(data, np.uint8, int(off[-1] - off[0]), int(off[0])) if data is not None else \
        np.zeros(0, np.uint8)
    return off - off[0], d


_SLASH, _DOT, _BACKSLASH, _COLON = (ord(c) for c in "/.\\:")


def _paths_surely_clean(a: pa.Array | None) -> bool:
    """True only when no path of the column can fail ``check_rel_path``'s quick test (then nothing needs a closer
    look): no null, no empty path, none starting with ``/`` or a byte that may begin whitespace, and no ``..``,
    ``//``, ``./``, backslash, colon or NUL anywhere in the column's bytes (pairs across two paths included)."""
    if a is None or a.null_count or len(a) == 0:
        return False
    off, d = _buffers(a)
    if (off[1:] == off[:-1]).any():
        return False
    first = d[off[:-1]]
    if ((first <= 32) | (first >= 128) | (first == _SLASH)).any():  # whitespace is ASCII <= 32 or non-ASCII
        return False
    dot, slash = d == _DOT, d == _SLASH
    if ((dot[:-1] | slash[:-1]) & slash[1:]).any() or (dot[:-1] & dot[1:]).any():
        return False
    return not ((d == _BACKSLASH) | (d == 0) | (d == _COLON)).any()


def _instructions_surely_clean(a: pa.Array | None, max_chars: int) -> bool:
    """True only when every instruction is a non-empty string within the limit that is not all whitespace."""
    if a is None or a.null_count or len(a) == 0:
        return False
    off, d = _buffers(a)
    lengths = off[1:] - off[:-1]  # bytes >= characters
    if lengths.min() == 0 or lengths.max() > max_chars:
        return False
    first = d[off[:-1]]
    return not ((first <= 32) | (first >= 128)).any()


def _column(recs: list[dict], keys: set, key: str) -> list:
    if key not in keys:
        return [None] * len(recs)
    try:  # the usual case: every record has the key
        return list(map(itemgetter(key), recs))
    except KeyError:
        return [r.get(key) for r in recs]


def _map_chunk(nums: list[int], recs: list[dict], raws: list[bytes], m: UnitMapper) -> None:
    keys = set().union(*recs)  # every key of the chunk: a column no record has is all None, not extracted
    src, tgt, ins, ori, sc, tc, lab = (_column(recs, keys, key) for key in (
        "source_image", "target_image", "instruction", "instruction_ori", "source_caption", "target_caption",
        "task_type"))
    mx = T.MAX_INSTRUCTION_CHARS
    bad: set[int] = set()
    arrays = {"source": _strings(src), "target": _strings(tgt), "instruction": _strings(ins)}
    for col, a in ((src, arrays["source"]), (tgt, arrays["target"])):
        if not _paths_surely_clean(a):
            bad.update(k for k, p in enumerate(col) if not is_clean_path(p))
    if not _instructions_surely_clean(arrays["instruction"], mx):
        bad.update(k for k, s in enumerate(ins) if type(s) is not str or not 0 < len(s) <= mx or s.isspace())
    for key, col in (("instruction_ori", ori), ("source_caption", sc), ("target_caption", tc)):
        if key in keys:
            arrays[key] = a = _strings(col)
            if a is None:
                bad.update(k for k, v in enumerate(col) if v is not None and type(v) is not str)
    if "task_type" in keys and not set(map(type, lab)) <= _NONE:
        bad.update(k for k, v in enumerate(lab)
                   if v is not None and (type(v) is not list or not all(type(x) is str for x in v)))
    if keys <= SINGLE_KNOWN:  # the usual case: no key beyond the known ones in the whole file
        extra = ["{}"] * len(recs)
    else:
        extra = ["{}" if r.keys() <= SINGLE_KNOWN else _extra_or_bad(r, m) for r in recs]
        bad.update(k for k, x in enumerate(extra) if type(x) is BadField)
    if bad:
        arrays = None  # values are normalised or rows dropped below: the batch converts the lists again
        rejected = set()
        for k in sorted(bad):
            try:
                if type(extra[k]) is BadField:
                    raise extra[k]
                src[k], tgt[k], ins[k], ori[k], sc[k], tc[k], lab[k] = _validate_one(recs[k])
            except BadField as b:
                m.reject(nums[k], b.reason, b.message, raws[k])
                rejected.add(k)
        if rejected:
            keep = [k for k in range(len(recs)) if k not in rejected]
            nums, raws, src, tgt, ins, ori, sc, tc, lab, extra = (
                [col[k] for k in keep] for col in (nums, raws, src, tgt, ins, ori, sc, tc, lab, extra))
    del recs
    add_file_batch(m, records=nums, raws=raws, instruction=ins, source=src, target=tgt, instruction_ori=ori,
                   source_caption=sc, target_caption=tc, labels=lab, extra=extra, arrays=arrays)


class _Rejects:
    """Reject rows held back (the arguments of ``UnitMapper.reject``) until the whole file is mapped."""

    def __init__(self, limits) -> None:
        self.rows: list[tuple] = []
        self.limits = limits

    def reject(self, *args, **kw) -> None:
        self.rows.append((args, kw))


_TURN_COLUMNS = ("session_ids", "turns", "source", "target", "instruction", "extra")


def map_multi_turn(unit, data: bytes, m: UnitMapper) -> None:
    """Part-3: the whole file's turns column-wise (``add_turn_batch``); a file with a turn that needs the
    record path (a duplicate edit, an image behind an escaping symlink) goes turn by turn (``add_edit``)."""
    held = _Rejects(m.limits)
    cols: dict[str, list] = {k: [] for k in ("records",) + _TURN_COLUMNS}
    for n, _, turn in _session_turns(data, m.dataset, m.part, held):
        cols["records"].append(n)
        for key, v in zip(_TURN_COLUMNS, turn):
            cols[key].append(v)
    if add_turn_batch(m, **cols):
        for args, kw in held.rows:
            m.reject(*args, **kw)
        return
    for n, line, (session_id, k, src, tgt, instr, extra) in _session_turns(data, m.dataset, m.part, m):
        m.add_edit(record=n, raw=line, instruction=instr, source=src, target=tgt, session_id=session_id,
                   turn_index=k, extra=extra)


def _session_turns(data: bytes, dataset: str, part: str, m):
    """(line number, raw line, (session_id, k, source, target, instruction, extra)) for each turn that passes
    the checks, in order; sessions and turns that do not become ``m.reject`` calls, in the same order."""
    known_by_keys: dict[tuple, tuple] = {}  # a line's keys -> its turn keys, known keys
    for n, rec, line in parse_lines(data, m):
        keys = tuple(rec)
        info = known_by_keys.get(keys)
        if info is None:
            turn_keys = [(k, int(mt.group(2))) for k in keys if (mt := _TURN_KEY.match(k))]
            known = frozenset(k for k, _ in turn_keys) | {"source_image"}
            info = known_by_keys[keys] = (turn_keys, known, rec.keys() <= known)
        turn_keys, known, no_extra = info
        n_turns = max((k for key, k in turn_keys if rec[key] is not None), default=0)  # highest non-null k
        if n_turns == 0:
            m.reject(n, T.MISSING_KEY, "session has no turns (no non-null `instruction_k`/`edit_image_k`)", line)
            continue
        if n_turns > m.limits.max_turns:
            m.reject(n, T.TOO_MANY_TURNS, f"session names turn {str(n_turns)[:40]}, over the limit of "
                                          f"{m.limits.max_turns} (IngestLimits.max_turns)", line)
            continue
        try:
            extra = "{}" if no_extra else pack_extra(rec, known)
        except BadField as bad:
            m.reject(n, bad.reason, bad.message, line)
            continue
        session_id = ids.session_id(dataset, part, rec.get("source_image"), rec.get("edit_image_1"),
                                    rec.get("instruction_1"))
        # image path of turn k's target (k >= 1) and of the session source (k = 0), or the BadField it raised
        paths: dict[int, object] = {}

        def path_of(k: int):
            if k not in paths:
                key = "source_image" if k == 0 else f"edit_image_{k}"
                try:
                    paths[k] = check_rel_path(rec.get(key), key)
                except BadField as bad:
                    paths[k] = bad
            return paths[k]

        for k in range(1, n_turns + 1):
            src, tgt = path_of(k - 1), path_of(k)
            try:
                if isinstance(src, BadField):
                    raise BadField(src.reason, f"turn {k} source: {src.message}")
                if isinstance(tgt, BadField):
                    raise tgt
                instr = check_instruction(rec.get(f"instruction_{k}"), f"instruction_{k}")
            except BadField as bad:
                m.reject(n, bad.reason, f"turn {k}: {bad.message}" if not bad.message.startswith("turn")
                         else bad.message, line, turn_index=k)
                continue
            yield n, line, (session_id, k, src, tgt, instr, extra)
