"""Edit ids and image ids: 16 hex characters of SHA-1 (the formulas, per value and per Arrow column)."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEP = "\x1f"


def short_sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _edit_inputs(dataset, part, session_id, turn_index, source_loc, target_loc, instruction) -> tuple:
    """The edit-id inputs, in order (the formula): for one edit (strings, ``turn_index`` an int) or a column of
    edits (Arrow string arrays, ``turn_index`` an int32 array; a plain value where the column shares it).
    ``session_id`` None (single-turn data) counts as the empty string."""
    if session_id is None:
        session_id = ""
    turn = str(turn_index) if type(turn_index) is int or not isinstance(turn_index, pa.Array) \
        else turn_index.cast(pa.string())
    return dataset, part, session_id, turn, source_loc, target_loc, instruction


def edit_id(dataset: str, part: str, session_id: str | None, turn_index: int, source_loc: str, target_loc: str,
            instruction: str) -> str:
    """``edit_id``: sha1 of dataset, part, session_id, turn_index, source and target location, instruction."""
    return short_sha1(SEP.join(_edit_inputs(dataset, part, session_id, turn_index, source_loc, target_loc,
                                            instruction)))


def edit_digests(dataset: str, part: str, session_ids: pa.Array | None, turns: pa.Array | int,
                 source_locs: pa.Array, target_locs: pa.Array, instructions: pa.Array) -> bytes:
    """``edit_id``'s SHA-1 digests for a column of edits (``short_ids`` turns them into the ids)."""
    return sha1_digests(pc.binary_join_element_wise(
        *_edit_inputs(dataset, part, session_ids, turns, source_locs, target_locs, instructions), SEP))


def edit_ids_of(dataset: str, part: str, session_id: str | None, turn_index: int, source_locs: list[str],
                target_locs: list[str], instructions: list[str]) -> list[str]:
    """``edit_id`` for lists of edits sharing dataset, part, session and turn (values Arrow may not hold)."""
    *head, _, _, _ = _edit_inputs(dataset, part, session_id, turn_index, "", "", "")
    prefix = SEP.join(head) + SEP
    return [short_sha1(f"{prefix}{s}{SEP}{t}{SEP}{i}") for s, t, i in zip(source_locs, target_locs, instructions)]


def image_id(dataset: str, location: str) -> str:
    """``image_id``: sha1 of dataset and the image's location (path, or the embedded image's address)."""
    return short_sha1(dataset + SEP + location)


def image_ids_of(dataset: str, locations: list[str]) -> list[str]:
    """``image_id`` for a list of locations."""
    prefix = dataset + SEP
    return [short_sha1(prefix + loc) for loc in locations]


def image_digests(dataset: str, locations: pa.Array) -> bytes:
    """``image_id``'s SHA-1 digests for a column of locations."""
    return sha1_digests(pc.binary_join_element_wise(dataset, locations, SEP))


def session_id(dataset: str, part: str, source_image, first_target, first_instruction) -> str:
    """A multi-turn session's key: sha1 of dataset, part and the session's first source, target and instruction
    as the record gives them (``str()`` of each, so a missing one reads ``None``)."""
    return short_sha1(SEP.join((dataset, part, str(source_image), str(first_target), str(first_instruction))))


try:  # the optional compiled batch SHA-1 (setup.py); hashlib below gives the same digests without it
    from editlens.ingest._sha1batch import digests as _c_sha1
except ImportError:
    _c_sha1 = None

_HEX = np.array([int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype="<u2")


def short_ids(digests: bytes, n: int) -> pa.Array:
    """16-hex-char ids (``hexdigest()[:16]``) of ``n`` concatenated 20-byte SHA-1 digests, as an Arrow array."""
    data = _HEX[np.frombuffer(digests, np.uint8).reshape(n, 20)[:, :8]]
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(np.arange(0, 16 * n + 1, 16, dtype=np.int32)),
                                                  pa.py_buffer(data)])


def sha1_digests(texts: pa.Array, batch=_c_sha1) -> bytes:
    """SHA-1 digests (20 bytes each, concatenated) of each value's UTF-8 bytes (no nulls): in one C call when
    the optional extension is built (``batch``), else one hashlib call per value; the same bytes either way."""
    n = len(texts)
    if n == 0:
        return b""
    offsets = np.frombuffer(texts.buffers()[1], np.int32, n + 1, texts.offset * 4)
    buf = texts.buffers()[2]
    if batch is not None:
        return batch(b"" if buf is None else buf, offsets)
    offsets = offsets.tolist()
    data = b"" if buf is None else buf.to_pybytes()
    sha1 = hashlib.sha1
    return b"".join([sha1(data[a:b]).digest() for a, b in zip(offsets, offsets[1:])])


def distinct(digests: bytes, n: int) -> bool:
    """No two of the ``n`` concatenated digests share their first 8 bytes (the 16-hex-char id)."""
    key = np.sort(np.frombuffer(digests, np.uint8).reshape(n, 20)[:, :8].copy().view(">u8").ravel())
    return not (key[1:] == key[:-1]).any()
