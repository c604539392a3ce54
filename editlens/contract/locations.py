"""Image locations: where an image's encoded bytes are, as one row of the ingest `images` table says, and the one
way to read them (`ImageLocation.read_bytes`).

``location_kind`` ``file``: ``root`` + ``path`` is the image file (an absolute ``path`` is used as is).
``parquet``: ``root`` + ``path`` is a Parquet file; ``row_group`` and ``row`` (0-based within the row group; no
row group: the whole file) say which value, ``column`` which column: ``col.bytes`` for a struct field (the
Hugging Face image struct), ``col`` for plain binary or a struct with a ``bytes`` field.

Reading a Parquet column is the expensive part, so `read_bytes` takes the column reader to use: `read_column`
(no cache) by default, `LastRowGroup()` to keep the last row group (rows of one shard cluster together), or any
caching wrapper of `read_column` the caller keeps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

ColumnReader = Callable[[str, "int | None", str], pa.Array]


class ImageUnavailable(Exception):
    """The bytes at a location cannot be had; the message is a short reason (`missing file: a/b.jpg`)."""


def read_column(path: str, row_group: int | None, column: str) -> pa.Array:
    """The binary array of `column` (``col`` or ``col.field``; a struct without a field gives its ``bytes``) in one
    row group of the Parquet file at `path` (None or negative: the whole file)."""
    import pyarrow.parquet as pq

    top, _, sub = column.partition(".")
    pf = pq.ParquetFile(path)
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
        """The file the bytes are in (the image itself, or the Parquet file)."""
        if not self.path:
            raise ImageUnavailable("no path")
        return self.path if os.path.isabs(self.path) or not self.root else os.path.join(self.root, self.path)

    def read_bytes(self, columns: ColumnReader = read_column) -> bytes:
        """The encoded image bytes; raises ImageUnavailable with a short reason, never anything else for a
        location that cannot be read."""
        kind, path = self.kind, self.file()
        if kind == "file":
            try:
                with open(path, "rb") as fh:
                    return fh.read()
            except FileNotFoundError:
                raise ImageUnavailable(f"missing file: {self.path}") from None
            except IsADirectoryError:
                raise ImageUnavailable(f"not a file: {self.path}") from None
            except OSError as exc:
                raise ImageUnavailable(f"unreadable file: {exc.strerror or exc}") from None
        if kind == "parquet":
            if self.row is None or not self.column:
                raise ImageUnavailable("incomplete parquet location")
            try:
                col = columns(path, self.row_group, self.column)
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
            return bytes(value)
        raise ImageUnavailable(f"unknown location kind {kind}")
