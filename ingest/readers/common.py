"""Helpers shared by readers: file reading with checksums, JSON Lines iteration, extra-field packing."""

from __future__ import annotations

import hashlib
import json
import os
import re

import orjson

from editlens.contract import tables as T
from editlens.contract.paths import NotRegularFile, UnsafePath, open_regular
from editlens.ingest.fields import BadField
from editlens.ingest.mapper import UnitMapper


class FileRefused(OSError):
    """A file a reader must not read (a special file, a symlink out of the root, over a size limit): one
    file-level reject with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _open(path: str, root: str | None):
    try:
        return open_regular(path, root)
    except UnsafePath as exc:
        raise FileRefused(T.UNSAFE_PATH, f"{exc}: not followed") from None
    except NotRegularFile as exc:
        if exc.kind == "missing":
            raise FileNotFoundError(2, "No such file or directory", path) from None
        raise FileRefused(T.SPECIAL_FILE, f"{exc.message}: never opened") from None


def read_bytes(path: str, root: str | None = None) -> tuple[str, bytes]:
    """(sha256, bytes) of a regular file (`editlens.contract.paths.open_regular`: never a FIFO or device; with
    `root`, a symlink only when it resolves inside it); raises FileRefused or OSError."""
    fh, _ = _open(path, root)
    with fh:
        data = fh.read()
    return hashlib.sha256(data).hexdigest(), data


def read_optional(path: str, root: str | None = None) -> bytes | None:
    """The file's bytes, or None when it does not exist (a companion file a record may lack); raises FileRefused
    for a special file or a symlink out of `root`."""
    try:
        fh, _ = _open(path, root)
    except FileNotFoundError:
        return None
    with fh:
        return fh.read()


def sha256_file(path: str, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def abspath(unit, rel: str) -> str:
    return os.path.join(unit.root, rel)


def _json_default(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return f"<{len(v)} bytes>"
    return str(v)


def dumps(obj) -> str:
    """JSON text of a value kept in a table (``extra``, ``provided_scores``); raises BadField(too_deep) for a
    value nested past what can be written (a record nested that deep is rejected, never its file)."""
    try:
        return orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError as exc:
        if "ecursion" in str(exc):
            raise BadField(T.TOO_DEEP, "a value is nested too deep to be stored") from None
        raise BadField(T.WRONG_TYPE, f"a value cannot be stored as JSON: {exc}") from None


def raw_text(obj) -> str:
    """A record as text for a reject's ``raw`` excerpt: never fails (a value too deep to write is cut)."""
    try:
        return orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()[:T.RAW_EXCERPT_CHARS]
    except orjson.JSONEncodeError:
        return "<value nested too deep to write>"


def depth_over(obj, limit: int) -> bool:
    """Is `obj` (parsed JSON) nested deeper than `limit` (a scalar: 0, ``[]``/``{}``: 1, ``[[1]]``: 2)?
    Iterative: never a RecursionError, stops at the first path past the limit."""
    if type(obj) not in (dict, list):
        return False
    stack = [(obj, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        for c in (v.values() if type(v) is dict else v):
            if type(c) in (dict, list):
                stack.append((c, d + 1))
    return False


def check_depth(obj, limits) -> None:
    if depth_over(obj, limits.max_depth):
        raise BadField(T.TOO_DEEP, f"a value is nested deeper than {limits.max_depth} levels "
                                   "(IngestLimits.max_depth)")


_KEY = re.compile(rb'"[ \t\r\n]*:')


def count_keys(obj) -> int:
    """Object keys in a parsed JSON value, at every level (iterative)."""
    n, stack = 0, [obj]
    while stack:
        v = stack.pop()
        if type(v) is dict:
            n += len(v)
            stack.extend(c for c in v.values() if type(c) in (dict, list))
        elif type(v) is list:
            stack.extend(c for c in v if type(c) in (dict, list))
    return n


def key_tokens(raw: bytes) -> int:
    """An upper bound of the object keys written in JSON text: every key ends in ``"`` then ``:``; inside a
    string a ``"`` is always escaped, so ``\\":`` is the only other match. Equal to `count_keys` of the parsed
    value: no key was written twice."""
    return len(_KEY.findall(raw))


class _Dup(Exception):
    pass


def _no_dup_pairs(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise _Dup(k)
            seen.add(k)
    return d


def duplicate_key(raw: bytes | str) -> str | None:
    """The first key an object of the JSON text `raw` names twice, or None (the exact, slower check)."""
    try:
        json.loads(raw, object_pairs_hook=_no_dup_pairs)
    except _Dup as d:
        return str(d.args[0])
    except (ValueError, RecursionError):
        return None
    return None


def check_keys(obj, raw: bytes) -> None:
    """BadField(duplicate_key) when the JSON text `raw` (parsed into `obj`) names a key twice in one object
    (a parser keeps the last: the first would be lost silently)."""
    if key_tokens(raw) != count_keys(obj):
        k = duplicate_key(raw)
        if k is not None:
            raise BadField(T.DUPLICATE_KEY, f"key `{k[:200]}` appears twice in one object")


def pack_extra(rec: dict, known: frozenset) -> str:
    if len(rec) == 0:
        return "{}"
    if rec.keys() <= known:
        return "{}"
    return dumps({k: v for k, v in rec.items() if k not in known})


def json_lines(data: bytes):
    """Yield (1-based line number counting every line, line bytes) for each non-blank line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for n, line in enumerate(data.split(b"\n"), 1):
        if line and not line.isspace():
            yield n, line


def parse_error(line: bytes, exc: Exception) -> tuple[str, str]:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return T.INVALID_UTF8, f"invalid UTF-8 at byte {u.start}"
    if "depth" in str(exc) or "ecursion" in str(exc):
        return T.TOO_DEEP, f"nested too deep to parse: {exc}"
    return T.MALFORMED_JSON, f"malformed JSON: {exc}"


def load_record(line: bytes, limits) -> dict:
    """One JSON Lines line as an object, every record check applied: size (`too_large`), parse
    (`malformed_json`, `invalid_utf8`, `too_deep`), an object (`wrong_type`), nesting (`too_deep`), keys named
    twice (`duplicate_key`); raises BadField."""
    if len(line) > limits.max_line_bytes:
        raise BadField(T.TOO_LARGE, f"line of {len(line)} bytes is over the limit of {limits.max_line_bytes} "
                                    "(IngestLimits.max_line_bytes): not parsed")
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadField(*parse_error(line, exc)) from None
    if type(rec) is not dict:
        raise BadField(T.WRONG_TYPE, f"line is a JSON {_json_type(rec)}, expected an object")
    check_depth(rec, limits)
    check_keys(rec, line)
    return rec


def _json_type(v) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(v), type(v).__name__)


def parse_line(n: int, line, m: UnitMapper) -> dict | None:
    """Line ``n`` as a JSON object, or None once its reject (malformed, not an object, over a limit, a key
    named twice) is recorded."""
    try:
        return load_record(line, m.limits)
    except BadField as bad:
        m.reject(n, bad.reason, bad.message, line[: T.RAW_EXCERPT_CHARS * 4])
        return None


def parse_lines(data: bytes, m: UnitMapper):
    """Yield (line number, dict, raw line); malformed or non-object lines become rejects."""
    for n, line in json_lines(data):
        rec = parse_line(n, line, m)
        if rec is not None:
            yield n, rec, line


# ---- JSON documents whose records are the members of one top-level object or array ------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_STRUCT = re.compile(rb'["\[\]{}]')
_SCALAR_END = re.compile(rb"[,\]}]")
_WS = b" \t\r\n"


def _skip_ws(data: bytes, i: int) -> int:
    n = len(data)
    while i < n and data[i] in _WS:
        i += 1
    return i


def _value_end(data: bytes, i: int) -> int | None:
    """End (exclusive) of the JSON value starting at ``i``, by brackets and strings alone (never parsed, so no
    depth limit applies); None when the text ends first."""
    c = data[i:i + 1]
    if c == b'"':
        m = _STRING.match(data, i)
        return m.end() if m else None
    if c not in (b"[", b"{"):
        m = _SCALAR_END.search(data, i)
        return m.start() if m else len(data)
    depth, j = 0, i
    while True:
        m = _STRUCT.search(data, j)
        if m is None:
            return None
        ch = data[m.start()]
        if ch == 0x22:  # a string: jump over it
            s = _STRING.match(data, m.start())
            if s is None:
                return None
            j = s.end()
            continue
        depth += 1 if ch in (0x5B, 0x7B) else -1
        j = m.end()
        if depth == 0:
            return j


def document_members(data: bytes) -> tuple[list[tuple[bytes | None, bytes]], str | None]:
    """The members of a JSON document's top-level object (``(key text, value text)``) or array (key None), cut
    apart by brackets and strings alone, so one member that cannot be parsed (nested past the parser's depth,
    a key named twice, bad bytes) costs only itself. The second value says why the cut stopped early (the text is
    truncated or malformed between members), or None."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    i = _skip_ws(data, 0)
    if i >= len(data) or data[i] not in (0x7B, 0x5B):
        return [], "the document is not a JSON object or array"
    is_obj = data[i] == 0x7B
    close = 0x7D if is_obj else 0x5D
    i = _skip_ws(data, i + 1)
    out: list[tuple[bytes | None, bytes]] = []
    if i < len(data) and data[i] == close:
        return out, None
    while True:
        key = None
        if is_obj:
            m = _STRING.match(data, i)
            if m is None:
                return out, f"expected a key at byte {i}"
            key = m.group()
            i = _skip_ws(data, m.end())
            if data[i:i + 1] != b":":
                return out, f"expected ':' at byte {i}"
            i = _skip_ws(data, i + 1)
        end = _value_end(data, i)
        if end is None or end <= i:
            out.append((key, data[i:]))
            return out, f"the document ends inside a value (byte {i})"
        out.append((key, data[i:end]))
        i = _skip_ws(data, end)
        if i >= len(data):
            return out, "the document ends before its closing bracket"
        if data[i] == 0x2C:
            i = _skip_ws(data, i + 1)
            continue
        if data[i] == close:
            return out, None
        return out, f"expected ',' at byte {i}"


def load_value(raw: bytes, limits):
    """One JSON value of a document's member with the record checks of `load_record` (any JSON type)."""
    if len(raw) > limits.max_line_bytes:
        raise BadField(T.TOO_LARGE, f"record of {len(raw)} bytes is over the limit of {limits.max_line_bytes} "
                                    "(IngestLimits.max_line_bytes): not parsed")
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadField(*parse_error(raw, exc)) from None
    check_depth(v, limits)
    check_keys(v, raw)
    return v


def document_fast(data: bytes, limits):
    """The parsed document when it parses and no record check can fail (no key named twice, nothing nested past
    the limit: ``limits.max_depth`` + 1 for the document's own level), else None (then `document_members`)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if depth_over(doc, limits.max_depth + 1) or key_tokens(data) != count_keys(doc):
        return None
    return doc
