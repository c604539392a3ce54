"""Reading and decoding images, each once: bytes -> sha256 -> decode -> facts + thumbnail + model input.

`process_batch` does all the CPU work for a batch of `images` rows, so that DataLoader workers (or a Ray actor)
do it in parallel and hand the main process one small columnar record: the `image_facts` columns (with a 32x32
RGB thumbnail for pixel-change scores later) and the model inputs of the decodable rows as one uint8 NCHW array
(normalisation happens on the device). Per image only the read, hash, decode and two resizes run; the resized
copies are pasted into one batch-sized image each, and luma, thumbnails, hashes and statistics are computed once
per batch (`_batch_facts`).

Facts are computed from one 64x64 box-filtered RGB copy, so they do not depend on the original resolution
(the 32x32 thumbnail and the hash input are its 2x2 reductions; luma is Pillow's ITU-R 601 "L"):
  brightness  mean luma in [0, 1] (ITU-R 601 weights) at 64x64
  contrast    standard deviation of luma in [0, 1] at 64x64
  entropy     Shannon entropy (bits, 0..8) of the 256-bin luma histogram at 64x64
  blur        variance of the 4-neighbour Laplacian of 8-bit luma (0..255) at 64x64 (low = blurry / flat)
  phash       64-bit DCT perceptual hash of the 32x32 luma (see `phash64`)
  thumb       32x32 RGB uint8, row-major, 3072 bytes (pixel-change scores between two images)
width, height, format and mode are the stored image's, read from its header. JPEGs are decoded with libjpeg's
DCT scaling to the smallest scale that still gives at least the model's input size and at least 64 px (the facts
copy) on both sides, whether detectors run or not (they get a second decode at their own scale where they need
more, so the embeddings never depend on the detectors option): libjpeg-turbo's sixteen M/8 scales through `simplejpeg` where it is installed (it is a
dependency), else Pillow's ``draft`` (1/1, 1/2, 1/4, 1/8). A JPEG that `simplejpeg` cannot decode cleanly (CMYK,
truncated, corrupt) goes through Pillow, which classifies the failure. The preprocessing string records which
path ran ("jpeg-dct-scale" or "jpeg-draft").

Hostile or broken files get a status before any large allocation (limits in `editlens.contract.limits`): the
read (`read_bytes`: path confined to the dataset root, regular files only, size capped) and then the header
(`header_status`: pixels and aspect ratio, checked before decoding on every decode path) come first; only the
first frame of an animated image is decoded.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from editlens.contract.limits import IMAGE_MAX_FILE_BYTES, IMAGE_MAX_PIXELS
from editlens.contract.limits import image_header_status as header_status
from editlens.contract.locations import ImageLocation, ImageUnavailable, LastRowGroup, read_column

try:  # libjpeg-turbo's M/8 DCT scaling: decodes a JPEG straight to about the size the model needs
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - Pillow's draft (power-of-two scales) does the same, a little slower
    _simplejpeg = None

FACT_SIZE = 64
THUMB_SIZE = 32
DEFAULT_MAX_IMAGE_PIXELS = IMAGE_MAX_PIXELS  # Pillow's own decompression-bomb threshold

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
        draft = ("; jpeg-dct-scale" if _simplejpeg is not None else "; jpeg-draft") if self.jpeg_draft else ""
        return f"resize {self.size} {self.interpolation} {crop}; mean {mean}; std {std}{draft}"

    def model_image(self, img: Image.Image) -> Image.Image:
        """RGB PIL image -> the RGB model input (size x size)."""
        s = self.size
        rs = _RESAMPLE.get(self.interpolation, Image.Resampling.BICUBIC)
        w, h = img.size
        if self.resize_mode == "squash":
            return img.resize((s, s), rs)
        if self.resize_mode == "longest":
            scale = s / max(w, h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            small = img.resize((nw, nh), rs)
            out = Image.new("RGB", (s, s), (self.fill_color,) * 3)
            out.paste(small, ((s - nw) // 2, (s - nh) // 2))
            return out
        # resize the shortest side to s and centre-crop, in one resampling pass over the source box
        scale = s / min(w, h)
        nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
        left, top = round((nw - s) / 2.0), round((nh - s) / 2.0)
        if (nw, nh) == (s, s):
            return img if (w, h) == (s, s) else img.resize((s, s), rs)
        fx, fy = w / nw, h / nh
        return img.resize((s, s), rs, box=(left * fx, top * fy, (left + s) * fx, (top + s) * fy))

    def tensor_resize(self) -> bool:
        """Whether `model_pixels` makes the model input (squash, or shortest side + centre crop; bicubic or
        bilinear) with torch's antialiased uint8 kernels, the ones torchvision's resize uses: the same filters as
        Pillow's, about three times faster. Otherwise Pillow resizes and the inputs are pasted into mosaics."""
        return (self.resize_mode in ("squash", "shortest") and self.interpolation in ("bicubic", "bilinear")
                and _torch_available())

    def model_pixels(self, arr: np.ndarray) -> Any:
        """(h, w, 3) uint8 RGB array -> the (3, size, size) uint8 model input as a torch tensor, as open_clip's
        eval transform makes it (Resize + CenterCrop, or one resize to a square for squash), on uint8 pixels."""
        import torch

        s = self.size
        t = torch.from_numpy(arr).permute(2, 0, 1)
        h, w = t.shape[1:]
        if self.resize_mode == "squash":
            size = (s, s)
        else:  # the shorter side to s, as torchvision's Resize(int) does (the longer one truncated)
            size = (s, int(s * w / h)) if h <= w else (int(s * h / w), s)
        if (h, w) != size:  # torch's antialiased uint8 kernels (the ones torchvision's resize calls)
            t = torch.nn.functional.interpolate(t.unsqueeze(0), size=size, mode=self.interpolation,
                                                antialias=True, align_corners=False)[0]
        if self.resize_mode == "squash":
            return t
        top, left = int(round((size[0] - s) / 2.0)), int(round((size[1] - s) / 2.0))  # torchvision's CenterCrop
        return t[:, top:top + s, left:left + s]

    def to_model_input(self, img: Image.Image) -> np.ndarray:
        """RGB PIL image -> uint8 array (3, size, size)."""
        return np.asarray(self.model_image(img), dtype=np.uint8).transpose(2, 0, 1).copy()


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
    return int(phash64_batch(np.asarray(gray32)[None])[0])


def phash64_batch(gray32: np.ndarray) -> np.ndarray:
    """`phash64` of each (32, 32) luma array in an (n, 32, 32) stack, as int64."""
    x = np.asarray(gray32, dtype=np.float64)
    coeffs = (_DCT8 @ x @ _DCT8.T).reshape(len(x), 64)
    rest = np.partition(coeffs[:, 1:], (31, 32), axis=1)
    med = (rest[:, 31] + rest[:, 32]) / 2.0
    return np.packbits(coeffs > med[:, None], axis=1).view(">i8").ravel().astype(np.int64)


def hamming64(a: int, b: int) -> int:
    return int(((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count())


# ---------------------------------------------------------------------------------------------------------
# reading bytes


def read_bytes(rec: dict, cache: LastRowGroup | None = None,
               max_bytes: int = IMAGE_MAX_FILE_BYTES) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, None, None) or (None, status, reason) for one `images` row: the contract's confined, bounded
    `read_bytes()` (statuses `missing`, `unsafe_path`, `unsupported`, `too_large`); a location ingest found no
    file at is not read."""
    if rec.get("exists") is False:
        return None, "missing", "ingest found no file at this location"
    try:
        return ImageLocation.from_row(rec).read_bytes(cache or read_column, max_bytes), None, None
    except ImageUnavailable as exc:
        return None, exc.status, str(exc)


# ---------------------------------------------------------------------------------------------------------
# the mapper: a batch of `images` rows -> image_facts columns + model inputs

FACT_COLUMNS = ("image_id", "sha256", "phash", "width", "height", "format", "mode", "file_size", "status",
                "status_message", "brightness", "contrast", "entropy", "blur", "thumb")
_MOSAIC_BYTES = 16 << 20  # model inputs are pasted into images of at most this size (Pillow stores 4 bytes/px)


@dataclass
class ImageBatch:
    """A processed batch, columnar: `facts` holds the `image_facts` columns (one value per input row, None where
    unknown) and `pixels` the model inputs of the rows listed in `ok`, as uint8 (len(ok), 3, size, size);
    `detections` the `image_detections` rows of its decoded contents when detectors ran."""

    facts: dict[str, list]
    ok: list[int]
    pixels: np.ndarray | None
    detections: Any = None

    def __len__(self) -> int:
        return len(self.facts["image_id"])

    def record(self, i: int) -> dict:
        """Row i as a dict (with its model input under `pixels`, None when it has none)."""
        out = {k: v[i] for k, v in self.facts.items()}
        out["pixels"] = self.pixels[self.ok.index(i)] if i in self.ok else None
        return out


def empty_record(rec: dict) -> dict:
    out = dict.fromkeys(FACT_COLUMNS)
    out["image_id"], out["status"] = rec["image_id"], "error"
    return out


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


@functools.cache
def _torch_available() -> bool:
    """Whether torch imports here (the embed job always has it; without it Pillow makes the model inputs)."""
    try:
        import torch  # noqa: F401
    except Exception:  # noqa: BLE001 - any import problem: the Pillow path does the same work
        return False
    return True


_JPEG_MODES = {"YCbCr": "RGB", "RGB": "RGB", "Gray": "L"}  # simplejpeg's colour spaces -> Pillow's modes


def _jpeg_scaled(data: bytes, want: int, out: dict, max_pixels: int) -> np.ndarray | None:
    """A baseline RGB or grey JPEG decoded as RGB at the smallest of libjpeg-turbo's M/8 scales that keeps both
    sides >= `want` (never enlarged), with its header facts written to `out`; None (and `out` untouched) where
    simplejpeg is missing, the file is something else (CMYK, multi-picture, over `max_pixels`) or any problem is
    reported: Pillow then decodes it and classifies the failure."""
    if _simplejpeg is None or not data.startswith(b"\xff\xd8\xff") or data.find(b"MPF\x00", 0, 65536) >= 0:
        return None
    try:
        h, w, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
        mode = _JPEG_MODES.get(colorspace)
        if mode is None or header_status(w, h, max_pixels) is not None:
            return None
        arr = _simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=want, min_width=want, strict=True)
    except Exception:  # noqa: BLE001 - Pillow decodes it again and classifies the failure
        return None
    out["width"], out["height"], out["format"], out["mode"] = int(w), int(h), "JPEG", mode
    return arr


def probe_header(data: bytes, out: dict, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image | None:
    """The header of encoded `data`, nothing decoded: width, height, format and mode written to `out` and the
    limits checked (`header_status`: pixels, aspect ratio). Returns the lazily opened Pillow image, or None with
    `out`'s status and message set. Every decode path calls it (or `header_status` on a header it parsed itself,
    as the DCT-scaled JPEG path does) before decoding, a batched device decode included."""
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - not an image, or a header Pillow refuses (a pixel bomb)
        out["status"], out["status_message"] = _classify_decode_error(exc), _message(exc)
        return None
    w, h = img.size
    out["width"], out["height"], out["format"], out["mode"] = int(w), int(h), img.format, img.mode
    bad = header_status(w, h, max_pixels)
    if bad is not None:
        out["status"], out["status_message"] = bad
        return None
    return img


def _decode(rec: dict, out: dict, pp: Preprocess, max_pixels: int, cache: LastRowGroup | None, want: int = 0):
    """Read, hash and decode one row into `out` (sha256, size, format, mode, status): (RGB image, its (h, w, 3)
    uint8 array or None, the detectors' (h, w, 3) copy or None), or None when it cannot be decoded. JPEGs are
    decoded at the smallest DCT scale whose both sides are at least the model size and the facts size, with or
    without detectors, so the model input (and the embedding under its model key) never depends on them; where
    the detectors want more (`want`, both sides) than that scale gave, the same bytes are decoded once more at
    their scale for them alone."""
    try:
        data, status, why = read_bytes(rec, cache)
    except Exception as exc:  # noqa: BLE001 - a bad record never stops the job
        data, status, why = None, "error", _message(exc)
    if data is None:
        out["status"], out["status_message"] = status, why
        return None
    if not data:
        out["sha256"], out["file_size"] = hashlib.sha256(data).hexdigest(), 0
        out["status"], out["status_message"] = "truncated", "empty file (0 bytes)"
        return None
    out["sha256"] = hashlib.sha256(data).hexdigest()
    out["file_size"] = len(data)
    if pp.jpeg_draft:
        scaled = _jpeg_scaled(data, max(pp.size, FACT_SIZE), out, max_pixels)
        if scaled is not None:
            return Image.fromarray(scaled, "RGB"), scaled, _detector_copy(data, scaled.shape[:2], out, want)
    try:
        img = probe_header(data, out, max_pixels)
        if img is None:
            return None
        drafted = pp.jpeg_draft and img.format == "JPEG"
        if drafted:
            side = max(pp.size, FACT_SIZE)
            img.draft("RGB", (side, side))
        img.load()  # the first frame only (IMAGE_FRAMES_DECODED): frames are never counted or seeked
        rgb = _to_rgb(img)
        return rgb, None, _detector_copy(data, (rgb.height, rgb.width), out, want) if drafted else None
    except Exception as exc:  # noqa: BLE001
        out["status"], out["status_message"] = _classify_decode_error(exc), _message(exc)
        return None


def _detector_copy(data: bytes, got: tuple[int, int], out: dict, want: int) -> np.ndarray | None:
    """The detectors' own decode of a JPEG that DCT scaling made smaller than `want` on a side while the stored
    image is larger: decoded again at the smallest scale keeping both sides >= `want` (never enlarged); None
    when the model's decode already serves them (or when this second decode fails: they then get that one)."""
    if not want or min(got) >= want or min(out.get("width") or 0, out.get("height") or 0) <= min(got):
        return None
    try:
        if _simplejpeg is not None:
            arr = _simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=want, min_width=want)
        else:  # pragma: no cover - Pillow's power-of-two draft
            img = Image.open(io.BytesIO(data))
            img.draft("RGB", (want, want))
            arr = np.asarray(img.convert("RGB"))
    except Exception:  # noqa: BLE001 - the detectors then see the model's decode
        return None
    return np.ascontiguousarray(arr)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any decoded mode -> RGB: 16- and 32-bit greys scaled to 8 bits (Pillow's own conversion clips them),
    palettes and alpha through Pillow, CMYK through Pillow's conversion."""
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I"):
        arr = np.asarray(img).astype(np.int64).clip(0, 65535)
        top = 65535 if img.mode.startswith("I;16") or int(arr.max(initial=0)) > 255 else 255
        return Image.fromarray((arr * 255 // top).astype(np.uint8), "L").convert("RGB")
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return img.convert("RGB")


def _batch_facts(mosaic: Image.Image, k: int) -> dict[str, np.ndarray]:
    """Facts of the first k 64x64 RGB images stacked vertically in `mosaic` (2x2 reductions never cross two
    images, so the batch's luma, thumbnails and hash inputs equal each image's own)."""
    gray = mosaic.convert("L")
    u8 = np.asarray(gray, dtype=np.uint8).reshape(-1, FACT_SIZE * FACT_SIZE)[:k]
    thumbs = np.asarray(mosaic.reduce(2), dtype=np.uint8).reshape(-1, THUMB_SIZE * THUMB_SIZE * 3)[:k]
    g32 = np.asarray(gray.reduce(2), dtype=np.uint8).reshape(-1, THUMB_SIZE, THUMB_SIZE)[:k]
    n = float(FACT_SIZE * FACT_SIZE)
    hist = np.bincount((u8 + (np.arange(k) * 256)[:, None]).ravel(), minlength=256 * k).reshape(k, 256)
    levels = np.arange(256, dtype=np.float64)
    mean = hist @ levels / n
    var = np.maximum(0.0, hist @ (levels * levels) / n - mean * mean)
    p = hist / n
    entropy = -np.where(hist > 0, p * np.log2(np.where(hist > 0, p, 1.0)), 0.0).sum(axis=1)
    g = u8.reshape(k, FACT_SIZE, FACT_SIZE).astype(np.int32)
    lap = (g[:, :-2, 1:-1] + g[:, 2:, 1:-1] + g[:, 1:-1, :-2] + g[:, 1:-1, 2:] - 4 * g[:, 1:-1, 1:-1]).reshape(k, -1)
    m = lap.shape[1]  # the variance from exact integer sums
    s1 = lap.sum(axis=1, dtype=np.int64).astype(np.float64)
    blur = np.maximum(0.0, (np.einsum("ij,ij->i", lap, lap, dtype=np.int64) - s1 * s1 / m) / m)
    return {"brightness": mean / 255.0, "contrast": np.sqrt(var) / 255.0, "entropy": entropy + 0.0,
            "blur": blur, "phash": phash64_batch(g32), "thumb": thumbs}


def process_batch(recs: list[dict], pp: Preprocess, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
                  cache: LastRowGroup | None = None, detect: Any = None) -> ImageBatch:
    """Read, hash and decode a batch of `images` rows. Never raises: failures become a status with a message.
    With `detect` (an `editlens.embeddings.detectors.DetectStage`) the same decoded image also goes to the detectors."""
    rows = [empty_record(r) for r in recs]
    want = detect.min_side if detect is not None else 0
    found = detect.collector() if detect is not None else None
    n, s = len(recs), pp.size
    per_mosaic = max(1, min(n, _MOSAIC_BYTES // (4 * s * s)))
    facts = Image.new("RGB", (FACT_SIZE, FACT_SIZE * max(1, n)))
    pixels = np.empty((n, 3, s, s), dtype=np.uint8)
    model: Image.Image | None = None
    tensor = pp.tensor_resize()  # model inputs straight into `pixels` (else via Pillow and pasted mosaics)
    if tensor:
        import torch

        pixels_t = torch.from_numpy(pixels)
    ok: list[int] = []
    k0 = 0  # first row of `pixels` in the current model mosaic

    def flush(k: int) -> None:
        if k > k0 and model is not None:
            arr = np.asarray(model, dtype=np.uint8).reshape(-1, s, s, 3)[: k - k0]
            pixels[k0:k] = arr.transpose(0, 3, 1, 2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (rec, out) in enumerate(zip(recs, rows)):
            decoded = _decode(rec, out, pp, max_pixels, cache, want)
            if decoded is None:
                continue
            rgb, arr, for_detectors = decoded
            if found is not None:
                seen = for_detectors if for_detectors is not None else arr
                found.add(out["sha256"], seen if seen is not None else np.asarray(rgb))
            k = len(ok)
            try:
                small = rgb.resize((FACT_SIZE, FACT_SIZE), Image.Resampling.BOX)
                if tensor:
                    pixels_t[k] = pp.model_pixels(arr if arr is not None else np.asarray(rgb))
                else:
                    inp = pp.model_image(rgb)
            except Exception as exc:  # noqa: BLE001
                out["status"], out["status_message"] = "error", f"{type(exc).__name__}: {exc}"[:300]
                continue
            if not tensor:
                if k - k0 == per_mosaic or model is None:
                    flush(k)
                    k0, model = k, Image.new("RGB", (s, s * min(per_mosaic, n - i)))
                model.paste(inp, (0, s * (k - k0)))
            facts.paste(small, (0, FACT_SIZE * k))
            out["status"] = "ok"
            ok.append(i)
    flush(len(ok))
    cols = {c: [r[c] for r in rows] for c in FACT_COLUMNS}
    if ok:
        f = _batch_facts(facts, len(ok))
        for c in ("brightness", "contrast", "entropy", "blur", "phash"):
            vals = f[c].tolist()
            for j, i in enumerate(ok):
                cols[c][i] = vals[j]
        thumbs = f["thumb"]
        for j, i in enumerate(ok):
            cols["thumb"][i] = thumbs[j].tobytes()
    return ImageBatch(cols, ok, pixels[: len(ok)] if ok else None,
                      found.table() if found is not None else None)


def process_image(rec: dict, pp: Preprocess, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
                  cache: LastRowGroup | None = None) -> dict:
    """One `images` row: its image_facts values and its model input (`pixels`, uint8 CHW, None unless ok)."""
    return process_batch([rec], pp, max_pixels, cache).record(0)
