"""Image loading for the dashboards: a file under its dataset root, or bytes embedded in a Parquet file.

A location is one row of the ``images`` lookup (ARCHITECTURE.md): ``location_kind`` ``file`` (``root`` + ``path``)
or ``parquet`` (``root`` + ``path`` is the Parquet file; ``row_group``, ``row``, ``column`` say where the encoded
bytes are; ``column`` may name a struct field, e.g. ``image.bytes``). Thumbnails are made with PIL and cached; an
image that is missing or does not decode becomes a grey placeholder that says why, never an exception.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

THUMB_SIZE = 256
BLUR_RADIUS = 18


@dataclass(frozen=True)
class ImageRef:
    image_id: str
    location_kind: str | None
    root: str | None
    path: str | None
    row_group: int | None = None
    row: int | None = None
    column: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> ImageRef:
        def _int(v):
            return None if v is None else int(v)

        return cls(
            image_id=str(row.get("image_id")),
            location_kind=row.get("location_kind"),
            root=row.get("root"),
            path=row.get("path"),
            row_group=_int(row.get("row_group")),
            row=_int(row.get("row")),
            column=row.get("column"),
        )


class ImageUnavailable(Exception):
    pass


def _resolve(root: str | None, path: str | None) -> Path:
    if not path:
        raise ImageUnavailable("no path")
    p = Path(path)
    if not p.is_absolute() and root:
        p = Path(root) / p
    return p


@lru_cache(maxsize=64)
def _row_group_column(file: str, mtime_ns: int, row_group: int, top: str):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    return pf.read_row_group(row_group, columns=[top]).column(top)


def read_bytes(ref: ImageRef) -> bytes:
    """The encoded image bytes at ``ref``; raises ImageUnavailable with a short reason."""
    kind = (ref.location_kind or "file").lower()
    p = _resolve(ref.root, ref.path)
    if kind == "file":
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise ImageUnavailable("missing file") from None
        except OSError as exc:
            raise ImageUnavailable(f"unreadable: {exc.strerror or exc}") from None
    if kind == "parquet":
        if ref.row_group is None or ref.row is None or not ref.column:
            raise ImageUnavailable("incomplete parquet location")
        top, _, sub = ref.column.partition(".")
        try:
            col = _row_group_column(str(p), p.stat().st_mtime_ns, int(ref.row_group), top)
        except FileNotFoundError:
            raise ImageUnavailable("missing parquet file") from None
        except Exception as exc:  # noqa: BLE001 (unreadable Parquet, bad row group or column)
            raise ImageUnavailable(f"unreadable parquet: {type(exc).__name__}") from None
        if not 0 <= int(ref.row) < len(col):
            raise ImageUnavailable("row out of range")
        val = col[int(ref.row)].as_py()
        if isinstance(val, dict):
            val = val.get(sub or "bytes")
        if not isinstance(val, (bytes, bytearray)):
            raise ImageUnavailable("no bytes at location")
        return bytes(val)
    raise ImageUnavailable(f"unknown location kind {kind}")


def placeholder(reason: str, size: int = THUMB_SIZE) -> Image.Image:
    img = Image.new("RGB", (size, size), (215, 215, 215))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, size - 1, size - 1], outline=(150, 150, 150), width=2)
    d.text((10, size // 2 - 6), reason[:40], fill=(70, 70, 70))
    return img


def thumbnail_image(data: bytes, size: int = THUMB_SIZE, blur: bool = False) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (size, size))  # cheap JPEG downscale while decoding
        img = img.convert("RGB")
        img.thumbnail((size, size))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return placeholder("broken image", size)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(BLUR_RADIUS * img.width / THUMB_SIZE))
    return img


def thumbnail_png(ref: ImageRef | None, size: int = THUMB_SIZE, blur: bool = False) -> bytes:
    """PNG bytes of the thumbnail at ``ref`` (placeholder when unavailable), cached."""
    return _thumbnail_png_cached(ref, size, blur)


@st.cache_data(show_spinner=False, max_entries=4096)
def _thumbnail_png_cached(ref: ImageRef | None, size: int, blur: bool) -> bytes:
    if ref is None:
        img = placeholder("no image", size)
    else:
        try:
            img = thumbnail_image(read_bytes(ref), size, blur)
        except ImageUnavailable as exc:
            img = placeholder(str(exc), size)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
