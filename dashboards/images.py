"""Image loading for the dashboards: a file under its dataset root, or bytes embedded in a Parquet file.

A location is one row of the ``images`` lookup, read by the contract's `ImageLocation.read_bytes`
(`editlens.contract.locations`); this module keeps the Parquet columns it read in a small cache. Thumbnails are
made with PIL and cached; an image that is missing or does not decode becomes a grey placeholder that says why,
never an exception. Reads are the contract's: confined to the dataset root (a path that leads outside it, an
absolute path or a symlink out is refused as `unsafe path`), regular files only, size-capped; a header over the
pixel or aspect-ratio limits (`editlens.contract.limits`) is not decoded.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache

import streamlit as st
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from editlens.contract.limits import image_header_status
from editlens.contract.locations import ImageLocation, ImageUnavailable, read_column

__all__ = ["ImageLocation", "ImageUnavailable", "placeholder", "read_bytes", "thumbnail_image", "thumbnail_png"]

THUMB_SIZE = 256
BLUR_RADIUS = 18


@lru_cache(maxsize=64)
def _row_group_column(file: str, mtime_ns: int, row_group: int | None, column: str):
    return read_column(file, row_group, column)


def _cached_column(file: str, row_group: int | None, column: str):
    """The contract's `read_column`, cached per file version (a rewritten file is read again)."""
    return _row_group_column(file, os.stat(file).st_mtime_ns, row_group, column)


def read_bytes(ref: ImageLocation) -> bytes:
    """The encoded image bytes at ``ref``; raises ImageUnavailable with a short reason."""
    return ref.read_bytes(_cached_column)


def placeholder(reason: str, size: int = THUMB_SIZE) -> Image.Image:
    img = Image.new("RGB", (size, size), (215, 215, 215))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, size - 1, size - 1], outline=(150, 150, 150), width=2)
    d.text((10, size // 2 - 6), reason[:40], fill=(70, 70, 70))
    return img


def thumbnail_image(data: bytes, size: int = THUMB_SIZE, blur: bool = False) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        bad = image_header_status(*img.size)
        if bad is not None:
            return placeholder(bad[0].replace("_", " "), size)
        img.draft("RGB", (size, size))  # cheap JPEG downscale while decoding
        img = img.convert("RGB")
        img.thumbnail((size, size))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return placeholder("broken image", size)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(BLUR_RADIUS * img.width / THUMB_SIZE))
    return img


def thumbnail_png(ref: ImageLocation | None, size: int = THUMB_SIZE, blur: bool = False) -> bytes:
    """PNG bytes of the thumbnail at ``ref`` (placeholder when unavailable), cached."""
    return _thumbnail_png_cached(ref, size, blur)


@st.cache_data(show_spinner=False, max_entries=4096)
def _thumbnail_png_cached(ref: ImageLocation | None, size: int, blur: bool) -> bytes:
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


def strip_png(refs: tuple[ImageLocation | None, ...], size: int = 120, blur: tuple[bool, ...] = ()) -> bytes:
    """One PNG of several thumbnails side by side (a finding's examples: one image element, not three)."""
    return _strip_png_cached(refs, size, blur or tuple(False for _ in refs))


@st.cache_data(show_spinner=False, max_entries=1024)
def _strip_png_cached(refs: tuple, size: int, blur: tuple) -> bytes:
    tiles = []
    for ref, b in zip(refs, blur):
        if ref is None:
            tiles.append(placeholder("no image", size))
            continue
        try:
            tiles.append(thumbnail_image(read_bytes(ref), size, b))
        except ImageUnavailable as exc:
            tiles.append(placeholder(str(exc), size))
    gap = 4
    out = Image.new("RGB", (len(tiles) * (size + gap) - gap, size), (255, 255, 255))
    for i, t in enumerate(tiles):
        out.paste(t, (i * (size + gap) + (size - t.width) // 2, (size - t.height) // 2))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()
