"""Device JPEG decode for the image stage: nvJPEG through torchvision's batched `decode_jpeg` on CUDA.

The decode workers (`split_rows`, called by `reader.decode_rows`) read and hash every row as always, but hand
the bytes of plain JPEGs (baseline or progressive YCbCr / grey, one picture, within the pixel limit) to the main
process undecoded, with their header facts; everything else (PNG, WebP, CMYK, multi-picture files, unreadable
rows) is decoded on the CPU as before (`imageio.process_batch`). The main process (`complete`) decodes the
handed-over JPEGs in one batched call on the device, makes each model input there (the same shortest-side
antialiased resize and centre crop as `Preprocess.model_pixels`, in float, rounded to uint8) and the 64x64 facts
copy (area average), copies only the facts copies back and computes the facts from them as the CPU path does.
A JPEG the device cannot decode (the batched call fails: each is retried alone; one that still fails) goes
through the CPU path, which decodes it or gives its status. The same code runs with device "cpu" (torchvision's
libjpeg decode), which is how it is tested without a GPU.

`decode_on_device(option, device, detectors)` says whether it runs: "device" asks for it, "cpu" never, "auto"
(default) when the embedding device is CUDA, torchvision is installed and no detectors run (they need the
decoded images on the host; with detectors the CPU path runs).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from PIL import Image

from editlens.contract.errors import UnusableInput
from editlens.embeddings import imageio as I

DECODE_OPTIONS = ("auto", "cpu", "device")


def torchvision_available() -> bool:
    try:
        import torchvision.io  # noqa: F401
    except Exception:  # noqa: BLE001 - any import problem: the CPU decode runs
        return False
    return True


def decode_on_device(option: str, device: str, detectors: bool = False) -> bool:
    """Whether the image stage decodes JPEGs on `device` (see the module docstring)."""
    opt = (option or "auto").strip().lower()
    if opt not in DECODE_OPTIONS:
        raise UnusableInput(f"unknown decode option {option!r} ({', '.join(DECODE_OPTIONS)})")
    if opt == "cpu":
        return False
    if opt == "device":
        if detectors:
            raise UnusableInput("decode 'device' cannot run with detectors (they read host images): use 'auto'")
        if not torchvision_available():
            raise UnusableInput("decode 'device' needs torchvision (pip install torchvision)")
        return True
    return (device or "cpu").startswith("cuda") and not detectors and torchvision_available()


def _header(data: bytes, out: dict, max_pixels: int) -> bool:
    """Whether `data` is a JPEG the device decode takes (its header facts then written to `out`)."""
    if not data.startswith(b"\xff\xd8\xff") or data.find(b"MPF\x00", 0, 65536) >= 0:
        return False
    try:
        if I._simplejpeg is not None:
            h, w, colorspace, _ = I._simplejpeg.decode_jpeg_header(data)
            mode = I._JPEG_MODES.get(colorspace)
        else:  # pragma: no cover - Pillow reads the header
            import io

            img = Image.open(io.BytesIO(data))
            (w, h), mode = img.size, img.mode if img.mode in ("RGB", "L") else None
    except Exception:  # noqa: BLE001 - the CPU path decodes it and classifies the failure
        return False
    if mode is None or w * h > max_pixels or w < 1 or h < 1:
        return False
    out["width"], out["height"], out["format"], out["mode"] = int(w), int(h), "JPEG", mode
    return True


def split_rows(rows: list[dict], max_pixels: int, cache=None) -> tuple[dict, list[int]]:
    """Rows -> ({"rows": indices, "data": bytes, "facts": header facts} of the JPEGs for the device,
    indices of the rows the CPU path decodes). Every row is read and hashed here, once."""
    import hashlib

    dev = {"rows": [], "recs": [], "data": [], "facts": []}
    rest: list[int] = []
    for i, rec in enumerate(rows):
        try:
            data = I.read_bytes(rec, cache)[0]
        except Exception:  # noqa: BLE001 - the CPU path reads it again and gives the status
            data = None
        out = I.empty_record(rec)
        if data is None or not _header(data, out, max_pixels):
            rest.append(i)
            continue
        out["sha256"], out["file_size"] = hashlib.sha256(data).hexdigest(), len(data)
        dev["rows"].append(i)
        dev["recs"].append(rec)
        dev["data"].append(data)
        dev["facts"].append(out)
    return dev, rest


def model_pixels(pp: I.Preprocess, t: Any) -> Any:
    """(3, h, w) uint8 tensor on any device -> the (3, size, size) uint8 model input on that device: the resize
    and centre crop of `Preprocess.model_pixels`, computed in float32 and rounded."""
    import torch

    s = pp.size
    h, w = t.shape[1:]
    if pp.resize_mode == "squash":
        size = (s, s)
    else:
        size = (s, int(s * w / h)) if h <= w else (int(s * h / w), s)
    if (h, w) != size:
        x = torch.nn.functional.interpolate(t.unsqueeze(0).float(), size=size, mode=pp.interpolation,
                                            antialias=True, align_corners=False)[0]
        t = x.round_().clamp_(0, 255).to(torch.uint8)
    if pp.resize_mode == "squash":
        return t
    top, left = int(round((size[0] - s) / 2.0)), int(round((size[1] - s) / 2.0))
    return t[:, top:top + s, left:left + s]


def facts_copy(t: Any) -> Any:
    """(3, h, w) uint8 tensor -> the (64, 64, 3) uint8 facts copy (area average), on the same device."""
    import torch

    x = torch.nn.functional.interpolate(t.unsqueeze(0).float(), size=(I.FACT_SIZE, I.FACT_SIZE), mode="area")[0]
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)


def decode_jpegs(data: list[bytes], device: str) -> list[Any]:
    """JPEG bytes -> (3, h, w) uint8 RGB tensors on `device` (None where it cannot decode): one batched call,
    and each image alone when the batch fails."""
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    if not data:
        return []
    src = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision 0.29 announces its decoders' move to torchcodec
        try:
            return list(decode_jpeg(src, mode=ImageReadMode.RGB, device=device))
        except Exception:  # noqa: BLE001 - one bad file fails the batch: each alone
            pass
        out = []
        for s in src:
            try:
                out.append(decode_jpeg(s, mode=ImageReadMode.RGB, device=device))
            except Exception:  # noqa: BLE001 - the CPU path decodes it or gives its status
                out.append(None)
    return out


def complete(batch: dict, pp: I.Preprocess, device: str, max_pixels: int) -> dict:
    """A `decode_rows` batch with JPEGs left for the device -> the same batch as the CPU path makes: facts of
    every row, `ok` in row order and `pixels` the model inputs of `ok` (on `device`)."""
    import torch

    dev = batch.pop("device_jpegs", None)
    if not dev or not dev["rows"]:
        return batch
    decoded = decode_jpegs(dev["data"], device)
    inputs: dict[int, Any] = {}
    copies: list[np.ndarray] = []
    done: list[int] = []
    fallback: list[int] = []
    recs = dict(zip(dev["rows"], dev["recs"]))
    for i, img, out in zip(dev["rows"], decoded, dev["facts"]):
        if img is None or img.shape[0] != 3:
            fallback.append(i)
            continue
        inputs[i] = model_pixels(pp, img)
        copies.append(facts_copy(img))
        done.append(i)
        for c, v in out.items():
            batch["facts"][c][i] = v
        batch["facts"]["status"][i] = "ok"
    if copies:
        host = torch.stack(copies).cpu().numpy()
        f = I._batch_facts(Image.fromarray(host.reshape(-1, I.FACT_SIZE, 3), "RGB"), len(done))
        for c in ("brightness", "contrast", "entropy", "blur", "phash"):
            vals = f[c].tolist()
            for j, i in enumerate(done):
                batch["facts"][c][i] = vals[j]
        for j, i in enumerate(done):
            batch["facts"]["thumb"][i] = f["thumb"][j].tobytes()
    if fallback:  # the CPU path, as if the device decode had not run
        b = I.process_batch([recs[i] for i in fallback], pp, max_pixels)
        for c, col in b.facts.items():
            for k, i in enumerate(fallback):
                batch["facts"][c][i] = col[k]
        for k, j in enumerate(b.ok):
            inputs[fallback[j]] = torch.from_numpy(b.pixels[k]).to(device)
    cpu_ok = batch["ok"]
    if batch["pixels"] is not None:
        for k, i in enumerate(cpu_ok):
            inputs[i] = batch["pixels"][k].to(device)
    ok = sorted(inputs)
    batch["ok"] = ok
    batch["pixels"] = torch.stack([inputs[i] for i in ok]) if ok else None
    return batch
