"""Limits on hostile or broken input, as named settings: every job and the dashboards read them from here.

Images (the embed job and the dashboards' image serving; `editlens.contract.locations` and
`editlens.embeddings.imageio`): a location is checked in this order, and each failure is a status before any
large allocation: the path stays inside its dataset root (`unsafe_path`), the file is a regular file opened
without blocking (`unsupported`), its size is at most `IMAGE_MAX_FILE_BYTES` (`too_large`, from `fstat`, then a
bounded read), then the header's pixels and aspect ratio (`too_large`, `unsupported`) before decoding. An image
embedded in Parquet is read with its row group's column, whose size the footer gives before any read
(`PARQUET_MAX_COLUMN_READ_BYTES`), and its value is held to `IMAGE_MAX_FILE_BYTES` too.

Annotation files (the ingest job): `IngestLimits`, one field per limit, each with the reject reason it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_MAX_FILE_BYTES = 64 << 20  # an image file (or one embedded image value) larger than this: too_large
IMAGE_MAX_PIXELS = 89_478_485  # width x height above this: too_large (Pillow's decompression-bomb threshold)
IMAGE_MAX_ASPECT_RATIO = 100.0  # longer side / shorter side above this: unsupported (a shortest-side resize
#                                 of a 60000x1 picture would be a 13-million-pixel-long tensor)
IMAGE_FRAMES_DECODED = 1  # animated images (GIF, APNG, WebP, MPO): only the first frame is decoded
PARQUET_MAX_COLUMN_READ_BYTES = 2 << 30  # embedded images: one row group's image column (uncompressed, from the
#                                          footer) larger than this is not read: too_large


@dataclass(frozen=True)
class IngestLimits:
    """Limits on annotation files and their records (`editlens ingest`; `IngestConfig.limits`).

    File limits decide before a byte is read, from ``stat``; each failure is one file-level reject (the file is
    never opened). Record limits make one record one reject, never its file.
    """

    max_file_bytes: int = 4 << 30  # a JSON / JSON Lines annotation file larger than this: `too_large`, not read
    max_line_bytes: int = 16 << 20  # a JSON Lines line (one record) longer than this: `too_large`, not parsed
    max_depth: int = 64  # a value nested deeper (objects/arrays inside objects/arrays): `too_deep`
    max_turns: int = 1_000  # a multi-turn record naming a turn number above this: `too_many_turns`
    # file kinds: only regular files are read (FIFOs, devices, sockets: `special_file`, never opened); a
    # symlink is followed only when it resolves inside the dataset root (`unsafe_path` otherwise)


DEFAULT_INGEST_LIMITS = IngestLimits()


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


__all__ = ["DEFAULT_INGEST_LIMITS", "IMAGE_FRAMES_DECODED", "IMAGE_MAX_ASPECT_RATIO", "IMAGE_MAX_FILE_BYTES",
           "IMAGE_MAX_PIXELS", "PARQUET_MAX_COLUMN_READ_BYTES", "IngestLimits", "image_header_status"]
