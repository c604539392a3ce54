"""The model wrapper: `Encoder` runs a loaded model on uint8 images or texts and returns L2-normalised float32
embeddings; `device_settings` picks the torch device, the autocast dtype (bf16 on CUDA, none on CPU), pinned
memory and non-blocking copies (CUDA only). Images travel as uint8 and are normalised on the device.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from editlens.contract.errors import UnusableInput
from editlens.embeddings.models import LoadedModel


@dataclass(frozen=True)
class DeviceSettings:
    device: str
    autocast_dtype: Any  # torch.dtype or None
    pin_memory: bool
    non_blocking: bool
    # CPU: the model runs on slices of this many images of a decoded batch: activations of a few dozen images
    # stay in the caches (the 64 px bundled model: ~1,080 images/s at 32 a slice, ~700 at 256, on 2 cores)
    forward_batch: int | None = None


def device_settings(device: str, cuda_available: bool | None = None) -> DeviceSettings:
    """cpu -> fp32, no pinning; cuda[:N] -> bf16 autocast, pinned host memory, non-blocking copies.
    Asking for CUDA without a CUDA device is unusable input."""
    import torch

    dev = (device or "cpu").strip().lower()
    if dev.startswith("cuda"):
        avail = torch.cuda.is_available() if cuda_available is None else cuda_available
        if not avail:
            raise UnusableInput(f"device {device!r} requested but CUDA is not available")
        return DeviceSettings(dev, torch.bfloat16, True, True)
    if dev == "mps":
        return DeviceSettings(dev, None, False, False)
    if dev != "cpu":
        raise UnusableInput(f"unknown device {device!r} (cpu, cuda or cuda:N)")
    return DeviceSettings("cpu", None, False, False, forward_batch=CPU_FORWARD_BATCH)


CPU_FORWARD_BATCH = 32


def default_batch_size(device: str) -> int:
    return 1024 if device.startswith("cuda") else 64


class Encoder:
    """Runs the model: uint8 images or texts in, L2-normalised float32 numpy embeddings out."""

    def __init__(self, loaded: LoadedModel, settings: DeviceSettings):
        import torch

        self.torch = torch
        self.loaded = loaded
        self.settings = settings
        self.model = loaded.model.to(settings.device).eval()
        pp = loaded.spec.preprocess
        self.mean = torch.tensor(pp.mean, device=settings.device).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(pp.std, device=settings.device).view(1, 3, 1, 1) * 255.0

    def _autocast(self):
        if self.settings.autocast_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(device_type=self.settings.device.split(":")[0], dtype=self.settings.autocast_dtype)

    def images(self, pixels) -> np.ndarray:
        """uint8 (n, 3, s, s) pixels -> (n, d) float32 embeddings (waits for the device)."""
        return self.collect(self.images_async([pixels]))

    def images_async(self, parts: list) -> Any:
        """Start embedding the concatenation of `parts` (uint8 (n_i, 3, s, s) arrays or tensors) and return a
        handle for `collect`. On CUDA the host-to-device copies, the forward and the copy back are queued on the
        stream and this returns at once, so the caller can fetch and launch the next batch while the device
        works; the parts must stay alive until `collect` (the handle holds them). Elsewhere it computes now."""
        torch = self.torch
        parts = [p if isinstance(p, torch.Tensor) else torch.from_numpy(np.asarray(p)) for p in parts if p is not None]
        parts = [p for p in parts if len(p)]
        if not parts:
            return np.zeros((0, self.loaded.spec.embed_dim), dtype=np.float32)
        with torch.inference_mode():
            dev = [p.to(self.settings.device, non_blocking=self.settings.non_blocking) for p in parts]
            x = dev[0] if len(dev) == 1 else torch.cat(dev)
            fb = self.settings.forward_batch or len(x)
            outs = []
            for i in range(0, len(x), fb):
                with self._autocast():
                    outs.append(self.model.encode_image((x[i:i + fb].float() - self.mean) / self.std).float())
            e = torch.nn.functional.normalize(outs[0] if len(outs) == 1 else torch.cat(outs), dim=-1)
            if not self.settings.device.startswith("cuda"):
                return e.cpu().numpy().astype(np.float32)
            host = torch.empty(e.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(e, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            return host, done, parts

    @staticmethod
    def collect(handle: Any) -> np.ndarray:
        """The embeddings of an `images_async` handle, waiting for the device where needed."""
        if isinstance(handle, np.ndarray):
            return handle
        host, done, _parts = handle
        done.synchronize()
        return host.numpy().copy()  # the pinned buffer goes back to torch's pool at once

    def texts(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        if not texts:
            return np.zeros((0, self.loaded.spec.embed_dim), dtype=np.float32)
        with torch.inference_mode():
            tok = self.loaded.tokenizer(list(texts)).to(self.settings.device, non_blocking=self.settings.non_blocking)
            with self._autocast():
                e = self.model.encode_text(tok)
            e = torch.nn.functional.normalize(e.float(), dim=-1)
            return e.cpu().numpy().astype(np.float32)

    def texts_batched(self, texts: list[str], batch_size: int) -> np.ndarray:
        parts = [self.texts(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
        return np.concatenate(parts) if parts else self.texts([])
