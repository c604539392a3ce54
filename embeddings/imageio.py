"""Reading and decoding one image, once: bytes -> sha256 -> decode -> facts + thumbnail + model input.

Everything per image happens in `process_image` so that DataLoader workers (or a Ray actor) do all the CPU
work in parallel and hand the main process a small record: the facts, a 32x32 RGB thumbnail (for pixel-change
scores later) and the model input as uint8 CHW (normalisation happens on the device).

Facts are computed from one 64x64 box-filtered RGB copy, so they do not depend on the original resolution
(the 32x32 thumbnail and the hash input are its 2x2 reductions; luma is Pillow's ITU-R 601 "L"):
  brightness  mean luma in [0, 1] (ITU-R 601 weights) at 64x64
  contrast    standard deviation of luma in [0, 1] at 64x64
  entropy     Shannon entropy (bits, 0..8) of the 256-bin luma histogram at 64x64
  blur        variance of the 4-neighbour Laplacian of 8-bit luma (0..255) at 64x64 (low = blurry / flat)
  phash       64-bit DCT perceptual hash of the 32x32 luma (see `phash64`)
  thumb       32x32 RGB uint8, row-major, 3072 bytes (pixel-change scores between two images)
JPEGs are decoded with libjpeg's DCT scaling (PIL ``draft``) to the smallest scale that is still at least the
model's input size (and at least 64 px); the preprocessing string records this.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

FACT_SIZE = 64
THUMB_SIZE = 32
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold

STATUSES = ("ok", "missing", "truncated", "too_large", "unsupported", "error")

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class Preprocess:
    """The model-input transform (mirrors open_clip's eval transform), described by `describe()`."""

    size: int = 224
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"  # shortest: resize + centre crop; squash: resize to square; longest: pad
    fill_color: int = 0
    jpeg_draft: bool = True

    def describe(self) -> str:
        mean = ",".join(f"{m:.4f}" for m in self.mean)
        std = ",".join(f"{s:.4f}" for s in self.std)
        crop = {"shortest": "center-crop", "squash": "squash", "longest": "pad"}.get(self.resize_mode, self.resize_mode)
        draft = "; jpeg-draft" if self.jpeg_draft else ""
        return f"resize {self.size} {self.interpolation} {crop}; mean {mean}; std {std}{draft}"

    def to_model_input(self, img: Image.Image) -> np.ndarray:
        """RGB PIL image -> uint8 array (3, size, size)."""
        s = self.size
        rs = _RESAMPLE.get(self.interpolation, Image.Resampling.BICUBIC)
        w, h = img.size
        if self.resize_mode == "squash":
            out = img.resize((s, s), rs)
        elif self.resize_mode == "longest":
            scale = s / max(w, h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            small = img.resize((nw, nh), rs)
            out = Image.new("RGB", (s, s), (self.fill_color,) * 3)
            out.paste(small, ((s - nw) // 2, (s - nh) // 2))
        else:
            # resize the shortest side to s and centre-crop, in one resampling pass over the source box
            scale = s / min(w, h)
            nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
            left, top = round((nw - s) / 2.0), round((nh - s) / 2.0)
            if (nw, nh) == (s, s):
                out = img if (w, h) == (s, s) else img.resize((s, s), rs)
            else:
                fx, fy = w / nw, h / nh
                out = img.resize((s, s), rs, box=(left * fx, top * fy, (left + s) * fx, (top + s) * fy))
        return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1).copy()


# ---------------------------------------------------------------------------------------------------------
# perceptual hash


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    m[0, :] = np.sqrt(1.0 / n)
    return m


_DCT8 = np.ascontiguousarray(_dct_matrix(32)[:8])  # the 8 lowest DCT-II basis rows of a 32-point transform


def phash64(gray32: np.ndarray) -> int:
    """64-bit DCT hash of a 32x32 luma array: 2-D DCT-II, keep the 8x8 lowest frequencies, one bit per
    coefficient set when it is above the median of the 63 non-DC coefficients. Returned as a signed int64."""
    x = np.asarray(gray32, dtype=np.float64)
    coeffs = (_DCT8 @ x @ _DCT8.T).ravel()
    rest = np.partition(coeffs[1:], (31, 32))
    med = (rest[31] + rest[32]) / 2.0
    return int(np.packbits(coeffs > med).view(">i8")[0])


def hamming64(a: int, b: int) -> int:
    return int(((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count())


# ---------------------------------------------------------------------------------------------------------
# reading bytes


class _ParquetBytesCache:
    """Keeps the last read row group of an embedded-image Parquet file (rows of one shard cluster together)."""

    def __init__(self) -> None:
        self.key: tuple[str, int, str] | None = None
        self.column: Any = None

    def get(self, path: str, row_group: int, row: int, column: str) -> bytes | None:
        import pyarrow.parquet as pq

        key = (path, int(row_group if row_group is not None else -1), column)
        if key != self.key:
            top, _, sub = column.partition(".")
            pf = pq.ParquetFile(path)
            if row_group is None or row_group < 0:
                tbl = pf.read(columns=[top])
            else:
                tbl = pf.read_row_group(int(row_group), columns=[top])
            col = tbl.column(top).combine_chunks()
            if sub:
                col = col.field(sub)
            elif hasattr(col.type, "num_fields") and col.type.num_fields:
                col = col.field("bytes")
            self.key, self.column = key, col
        v = self.column[int(row)].as_py()
        if isinstance(v, dict):
            v = v.get("bytes")
        return v


def read_bytes(rec: dict, cache: _ParquetBytesCache | None = None) -> tuple[bytes | None, str | None]:
    """Return (bytes, None) or (None, reason) for one `images` row."""
    if rec.get("exists") is False:
        return None, "ingest found no file at this location"
    root = rec.get("root") or ""
    rel = rec.get("path") or ""
    path = Path(root) / rel if root else Path(rel)
    if (rec.get("location_kind") or "file") == "parquet":
        try:
            data = (cache or _ParquetBytesCache()).get(str(path), rec.get("row_group"), rec.get("row"), rec.get("column") or "image")
        except FileNotFoundError:
            return None, f"parquet file not found: {rel}"
        except (IndexError, KeyError) as exc:
            return None, f"embedded image not found: {type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - unreadable parquet: the image is missing for us
            return None, f"cannot read embedded image: {type(exc).__name__}: {exc}"
        if data is None:
            return None, "embedded image is null"
        return bytes(data), None
    try:
        return path.read_bytes(), None
    except FileNotFoundError:
        return None, f"file not found: {rel}"
    except IsADirectoryError:
        return None, f"not a file: {rel}"
    except PermissionError as exc:
        return None, f"permission denied: {exc}"


# ---------------------------------------------------------------------------------------------------------
# the per-image mapper


def _facts(img: Image.Image) -> tuple[float, float, float, float, int, bytes]:
    """One box resize to 64x64 RGB; luma, the 32x32 thumbnail and the hash input are derived from it."""
    rgb64 = img.resize((FACT_SIZE, FACT_SIZE), Image.Resampling.BOX)
    thumb = rgb64.reduce(2).tobytes()
    gray64 = rgb64.convert("L")
    u8 = np.frombuffer(gray64.tobytes(), dtype=np.uint8).reshape(FACT_SIZE, FACT_SIZE)
    hist = np.bincount(u8.ravel(), minlength=256)
    levels = np.arange(256, dtype=np.float64)
    n = float(FACT_SIZE * FACT_SIZE)
    mean = float(hist @ levels) / n
    var = max(0.0, float(hist @ (levels * levels)) / n - mean * mean)
    p = hist[hist > 0] / n
    entropy = float(-(p * np.log2(p)).sum())
    g = u8.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    g32 = np.frombuffer(gray64.reduce(2).tobytes(), dtype=np.uint8).reshape(THUMB_SIZE, THUMB_SIZE)
    return mean / 255.0, float(np.sqrt(var)) / 255.0, entropy, float(lap.var(dtype=np.float64)), phash64(g32), thumb


def empty_record(rec: dict) -> dict:
    return {
        "image_id": rec["image_id"],
        "sha256": None,
        "phash": None,
        "width": None,
        "height": None,
        "format": None,
        "mode": None,
        "file_size": None,
        "status": "error",
        "status_message": None,
        "brightness": None,
        "contrast": None,
        "entropy": None,
        "blur": None,
        "thumb": None,
        "pixels": None,
    }


def _message(exc: BaseException) -> str:
    """Error text without object addresses, so reruns record the same message."""
    text = re.sub(r" ?<[^>]* at 0x[0-9a-f]+>", "", str(exc))
    return f"{type(exc).__name__}: {text}".strip()[:300]


def _classify_decode_error(exc: BaseException) -> str:
    msg = str(exc).lower()
    if isinstance(exc, UnidentifiedImageError):
        return "unsupported"
    if isinstance(exc, Image.DecompressionBombError):
        return "too_large"
    if isinstance(exc, (EOFError, SyntaxError)) or any(
        w in msg for w in ("truncated", "broken data stream", "premature end", "unexpected end", "eof", "incomplete")
    ):
        return "truncated"
    if isinstance(exc, (OSError, ValueError)):
        return "truncated" if "decoder" in msg or "corrupt" in msg else "error"
    return "error"


def process_image(rec: dict, pp: Preprocess, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
                  cache: _ParquetBytesCache | None = None) -> dict:
    """Read, hash and decode one `images` row. Never raises: failures become a status with a message."""
    out = empty_record(rec)
    try:
        data, why = read_bytes(rec, cache)
    except Exception as exc:  # noqa: BLE001 - a bad record never stops the job
        data, why = None, f"{type(exc).__name__}: {exc}"
    if data is None:
        out["status"], out["status_message"] = "missing", why
        return out
    out["sha256"] = hashlib.sha256(data).hexdigest()
    out["file_size"] = len(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            out["width"], out["height"] = int(img.size[0]), int(img.size[1])
            out["format"], out["mode"] = img.format, img.mode
            if img.size[0] * img.size[1] > max_pixels:
                out["status"] = "too_large"
                out["status_message"] = f"{img.size[0]}x{img.size[1]} is more than {max_pixels} pixels"
                return out
            if pp.jpeg_draft and img.format == "JPEG":
                want = max(pp.size, FACT_SIZE)
                img.draft("RGB", (want, want))
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            rgb = img.convert("RGB") if img.mode != "RGB" else img
    except Exception as exc:  # noqa: BLE001
        out["status"] = _classify_decode_error(exc)
        out["status_message"] = _message(exc)
        return out
    try:
        b, c, e, bl, ph, thumb = _facts(rgb)
        out.update(brightness=b, contrast=c, entropy=e, blur=bl, phash=ph, thumb=thumb)
        out["pixels"] = pp.to_model_input(rgb)
        out["status"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["status"], out["status_message"] = "error", f"{type(exc).__name__}: {exc}"[:300]
        out["pixels"] = None
    return out
