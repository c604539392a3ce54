"""Image locations: where an image's encoded bytes are, as one row of the ingest `images` table says, and the one
way to read them (`ImageLocation.read_bytes`).

``location_kind`` ``file``: ``root`` + ``path`` is the image file.
``parquet``: ``root`` + ``path`` is a Parquet file; ``row_group`` and ``row`` (0-based within the row group; no
row group: the whole file) say which value, ``column`` which column: ``col.bytes`` for a struct field (the
Hugging Face image struct), ``col`` for plain binary or a struct with a ``bytes`` field.

Reading a Parquet column is the expensive part, so `read_bytes` takes the column reader to use: `read_column`
(no cache) by default, `LastRowGroup()` to keep the last row group (rows of one shard cluster together), or any
caching wrapper of `read_column` the caller keeps.

Every read is confined and bounded (limits in `editlens.contract.limits`): the path must be relative and, with
every symlink resolved, stay inside the resolved ``root`` (else status ``unsafe_path``: no absolute path, no
``..`` escape, no symlink out of the root, no URL); the file is opened non-blocking and must be a regular file
(a FIFO or device: ``unsupported``, never a blocking read); its size, and an embedded value's length, must be at
most ``IMAGE_MAX_FILE_BYTES`` (``too_large``; a file that grows past it while read is cut off by a bounded read).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from editlens.contract.limits import IMAGE_MAX_FILE_BYTES, PARQUET_MAX_COLUMN_READ_BYTES
from editlens.contract.paths import relative_path

ColumnReader = Callable[[str, "int | None", str], pa.Array]


class ImageUnavailable(Exception):
    """The bytes at a location cannot be had; the message is a short reason (`missing file: a/b.jpg`) and
    `status` the `image_facts` status it gives (`missing`, `unsafe_path`, `unsupported`, `too_large`)."""

    def __init__(self, message: str, status: str = "missing"):
        super().__init__(message)
        self.status = status


def confined_path(root: str | None, path: str | None) -> str:
    """The real path of `path` under `root`, every symlink resolved; raises ImageUnavailable (`unsafe_path`) for
    no root, an absolute path, a URL, a NUL byte, or a path that resolves outside the resolved root."""
    if not path:
        raise ImageUnavailable("no path")
    try:
        relative_path(path)
    except ValueError:
        raise ImageUnavailable(f"unsafe path: {path[:200]!r} is not relative to the dataset root", "unsafe_path") \
            from None
    if not root:
        raise ImageUnavailable(f"unsafe path: no dataset root for {path[:200]!r}", "unsafe_path")
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise ImageUnavailable(f"unsafe path: {path[:200]!r} leads outside the dataset root", "unsafe_path")
    return real


def _check_stat(st: os.stat_result, shown: str, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ImageUnavailable(f"not a file: {shown}", "unsupported")
    if not stat.S_ISREG(st.st_mode):
        kind = ("fifo" if stat.S_ISFIFO(st.st_mode) else "device" if stat.S_ISCHR(st.st_mode) or
                stat.S_ISBLK(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "special file")
        raise ImageUnavailable(f"not a regular file ({kind}): {shown}", "unsupported")
    if st.st_size > max_bytes:
        raise ImageUnavailable(f"file of {st.st_size} bytes is over the limit of {max_bytes}: {shown}", "too_large")


def read_regular_file(path: str, shown: str, max_bytes: int = IMAGE_MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path` (`shown` names it in messages): opened non-blocking (a FIFO never
    blocks), `fstat` before any read (FIFOs, devices, sockets, directories: `unsupported`; over `max_bytes`:
    `too_large`), then one read bounded by `max_bytes` + 1. A `stat` before the open already refuses special
    files and oversized ones, so those are never opened; the `fstat` after it catches a file swapped in between."""
    try:
        _check_stat(os.stat(path), shown, max_bytes)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise ImageUnavailable(f"missing file: {shown}") from None
    except IsADirectoryError:
        raise ImageUnavailable(f"not a file: {shown}", "unsupported") from None
    except OSError as exc:
        raise ImageUnavailable(f"unreadable file: {exc.strerror or exc}") from None
    try:
        _check_stat(os.fstat(fd), shown, max_bytes)
        chunks, left = [], max_bytes + 1
        while left > 0:
            try:
                chunk = os.read(fd, min(left, 1 << 20))
            except BlockingIOError:  # pragma: no cover - regular files do not block
                break
            except OSError as exc:
                raise ImageUnavailable(f"unreadable file: {exc.strerror or exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise ImageUnavailable(f"file grew over the limit of {max_bytes} bytes while read: {shown}", "too_large")
        return data
    finally:
        os.close(fd)


def column_read_bytes(pf, row_group: int | None, top: str) -> int:
    """Uncompressed bytes of the top-level column `top` (all its leaves) in one row group of the open
    ParquetFile `pf` (None or negative: every row group), from the footer alone."""
    md = pf.metadata
    groups = range(md.num_row_groups) if row_group is None or int(row_group) < 0 else [int(row_group)]
    total = 0
    for g in groups:
        if not 0 <= g < md.num_row_groups:
            continue  # the read itself reports it
        rg = md.row_group(g)
        for j in range(rg.num_columns):
            c = rg.column(j)
            if c.path_in_schema == top or c.path_in_schema.startswith(top + "."):
                total += c.total_uncompressed_size
    return total


def read_column(path: str, row_group: int | None, column: str,
                max_bytes: int = PARQUET_MAX_COLUMN_READ_BYTES) -> pa.Array:
    """The binary array of `column` (``col`` or ``col.field``; a struct without a field gives its ``bytes``) in one
    row group of the Parquet file at `path` (None or negative: the whole file). A column larger than `max_bytes`
    (uncompressed, from the footer) is not read: ImageUnavailable with status ``too_large``."""
    import pyarrow.parquet as pq

    top, _, sub = column.partition(".")
    pf = pq.ParquetFile(path)
    size = column_read_bytes(pf, row_group, top)
    if size > max_bytes:
        raise ImageUnavailable(f"parquet column {top} of {size} bytes in one read is over the limit of {max_bytes}",
                               "too_large")
    if row_group is None or int(row_group) < 0:
        tbl = pf.read(columns=[top])
    else:
        tbl = pf.read_row_group(int(row_group), columns=[top])
    col = tbl.column(top).combine_chunks()
    if sub:
        col = col.field(sub)
    elif pa.types.is_struct(col.type):
        col = col.field("bytes")
    return col


class LastRowGroup:
    """A `ColumnReader` that keeps the last column it read (one per thread: it is not locked)."""

    def __init__(self) -> None:
        self.key: tuple[str, int, str] | None = None
        self.column: pa.Array | None = None

    def __call__(self, path: str, row_group: int | None, column: str) -> pa.Array:
        key = (path, -1 if row_group is None else int(row_group), column)
        if key != self.key:
            self.column = read_column(path, row_group, column)
            self.key = key
        return self.column


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


@dataclass(frozen=True)
class ImageLocation:
    """One `images` row's location columns (``exists`` is ingest's check and is not consulted here)."""

    location_kind: str | None
    root: str | None
    path: str | None
    row_group: int | None = None
    row: int | None = None
    column: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ImageLocation:
        return cls(location_kind=row.get("location_kind"), root=row.get("root"), path=row.get("path"),
                   row_group=_int(row.get("row_group")), row=_int(row.get("row")), column=row.get("column"))

    @property
    def kind(self) -> str:
        return (self.location_kind or "file").lower()

    def file(self) -> str:
        """The file the bytes are in (the image itself, or the Parquet file), resolved and confined to the
        dataset root (`confined_path`: raises ImageUnavailable with status `unsafe_path` otherwise)."""
        return confined_path(self.root, self.path)

    def read_bytes(self, columns: ColumnReader = read_column, max_bytes: int = IMAGE_MAX_FILE_BYTES) -> bytes:
        """The encoded image bytes (at most `max_bytes`); raises ImageUnavailable with a short reason and a
        status, never anything else for a location that cannot be read."""
        kind = self.kind
        if kind not in ("file", "parquet"):
            raise ImageUnavailable(f"unknown location kind {kind}", "unsupported")
        path = self.file()
        if kind == "file":
            return read_regular_file(path, self.path, max_bytes)
        if kind == "parquet":
            if self.row is None or not self.column:
                raise ImageUnavailable("incomplete parquet location")
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise ImageUnavailable(f"missing parquet file: {self.path}") from None
            except OSError as exc:
                raise ImageUnavailable(f"unreadable parquet: {exc.strerror or exc}") from None
            if not stat.S_ISREG(st.st_mode):
                raise ImageUnavailable(f"not a regular file: {self.path}", "unsupported")
            try:
                col = columns(path, self.row_group, self.column)
            except ImageUnavailable:
                raise
            except FileNotFoundError:
                raise ImageUnavailable(f"missing parquet file: {self.path}") from None
            except Exception as exc:  # noqa: BLE001 - unreadable Parquet, no such row group or column
                raise ImageUnavailable(f"unreadable parquet: {type(exc).__name__}: {exc}") from None
            if not 0 <= self.row < len(col):
                raise ImageUnavailable("row out of range")
            value = col[self.row].as_py()
            if isinstance(value, dict):
                value = value.get("bytes")
            if value is None:
                raise ImageUnavailable("embedded image is null")
            if not isinstance(value, (bytes, bytearray)):
                raise ImageUnavailable("no bytes at location")
            if len(value) > max_bytes:
                raise ImageUnavailable(f"embedded image of {len(value)} bytes is over the limit of {max_bytes}",
                                       "too_large")
            return bytes(value)
        raise ImageUnavailable(f"unknown location kind {kind}", "unsupported")  # pragma: no cover
