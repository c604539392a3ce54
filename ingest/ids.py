"""Edit ids and image ids: 16 hex characters of SHA-1 (the formulas, per value and per Arrow column)."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

SEP = "\x1f"


def short_sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


try:  # the optional compiled batch SHA-1 (setup.py); hashlib below gives the same digests without it
    from ingest._sha1batch import digests as _c_sha1
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
