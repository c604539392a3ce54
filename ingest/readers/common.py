"""Helpers shared by readers: file reading with checksums, JSON Lines iteration, extra-field packing."""

from __future__ import annotations

import hashlib
import os

import orjson

from editlens.contract import tables as T
from editlens.ingest.mapper import UnitMapper


def read_bytes(path: str) -> tuple[str, bytes]:
    with open(path, "rb") as fh:
        data = fh.read()
    return hashlib.sha256(data).hexdigest(), data


def read_optional(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist (a companion file a record may lack)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


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
    return orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


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
    return T.MALFORMED_JSON, f"malformed JSON: {exc}"


def parse_line(n: int, line, m: UnitMapper) -> dict | None:
    """Line ``n`` as a JSON object, or None once its reject (malformed, or not an object) is recorded."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason, msg = parse_error(line, exc)
        m.reject(n, reason, msg, line)
        return None
    if type(rec) is not dict:
        m.reject(n, T.WRONG_TYPE, f"line is a JSON {type(rec).__name__}, expected an object", line)
        return None
    return rec


def parse_lines(data: bytes, m: UnitMapper):
    """Yield (line number, dict, raw line); malformed or non-object lines become rejects."""
    for n, line in json_lines(data):
        rec = parse_line(n, line, m)
        if rec is not None:
            yield n, rec, line
