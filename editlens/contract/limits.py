"""Limits on hostile or broken input, as named settings: every job and the dashboards read them from here.

Images (the embed job and the dashboards' image serving; `editlens.contract.locations` and
`editlens.embeddings.imageio`): a location is checked in this order, and each failure is a status before any
large allocation: the path stays inside its dataset root (`unsafe_path`), the file is a regular file opened
without blocking (`unsupported`), its size is at most `IMAGE_MAX_FILE_BYTES` (`too_large`, from `fstat`, then a
bounded read), then the header's pixels and aspect ratio (`too_large`, `unsupported`) before decoding. An image
embedded in Parquet is read with its row group's column, whose size the footer gives before any read
(`PARQUET_MAX_COLUMN_READ_BYTES`), and its value is held to `IMAGE_MAX_FILE_BYTES` too.
"""

from __future__ import annotations

IMAGE_MAX_FILE_BYTES = 64 << 20  # an image file (or one embedded image value) larger than this: too_large
IMAGE_MAX_PIXELS = 89_478_485  # width x height above this: too_large (Pillow's decompression-bomb threshold)
IMAGE_MAX_ASPECT_RATIO = 100.0  # longer side / shorter side above this: unsupported (a shortest-side resize
#                                 of a 60000x1 picture would be a 13-million-pixel-long tensor)
IMAGE_FRAMES_DECODED = 1  # animated images (GIF, APNG, WebP, MPO): only the first frame is decoded
PARQUET_MAX_COLUMN_READ_BYTES = 2 << 30  # embedded images: one row group's image column (uncompressed, from the
#                                          footer) larger than this is not read: too_large


def image_header_status(width: int, height: int, max_pixels: int = IMAGE_MAX_PIXELS,
                        max_aspect: float = IMAGE_MAX_ASPECT_RATIO) -> tuple[str, str] | None:
    """(status, message) when a picture of this header size must not be decoded, else None. Every decode path
    (the embed job's CPU and batched paths, the dashboards' thumbnails) calls it before decoding: a
    decompression bomb (`too_large`), no pixels or an aspect ratio that a shortest-side resize would blow up into
    a huge tensor (`unsupported`)."""
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        return "unsupported", f"{w}x{h} has no pixels"
    if w * h > max_pixels:
        return "too_large", f"{w}x{h} is more than {max_pixels} pixels"
    if max(w, h) / min(w, h) > max_aspect:
        return "unsupported", f"{w}x{h}: aspect ratio over {max_aspect:g}:1"
    return None


__all__ = ["IMAGE_FRAMES_DECODED", "IMAGE_MAX_ASPECT_RATIO", "IMAGE_MAX_FILE_BYTES", "IMAGE_MAX_PIXELS",
           "PARQUET_MAX_COLUMN_READ_BYTES", "image_header_status"]
