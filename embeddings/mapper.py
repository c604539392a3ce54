"""The mapper: shard rows in, output tables out. Shared by the local backend (CPU streams decode and embed whole
batches, or DataLoader workers decode and the main process runs the model) and the Ray backend (one actor does
both for a whole shard). A batch travels as columns (`decode_rows`), never as one dict per image.

Device logic: `device_settings` picks the torch device, the autocast dtype (bf16 on CUDA, none on CPU),
pinned memory and non-blocking copies (CUDA only). Images travel as uint8 and are normalised on the device.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from editlens.contract.locations import LastRowGroup
from editlens.warehouse import Warehouse
from embeddings import manifest as M
from embeddings import tables as T
from embeddings.imageio import DEFAULT_MAX_IMAGE_PIXELS, Preprocess, process_batch
from embeddings.models import LoadedModel, ModelSpec

# ---------------------------------------------------------------------------------------------------------
# device


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

    from editlens.contract.errors import UnusableInput

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


# ---------------------------------------------------------------------------------------------------------
# images: decode side (runs in DataLoader workers or a Ray actor)


def manifest_rows(tbl: pa.Table) -> list[dict]:
    return tbl.select([c for c in M.IMAGE_COLUMNS if c in tbl.column_names]).to_pylist()


class BatchIndices:
    """Batches that never cross a shard boundary (so a shard's batches are the same in every run): batch b is
    rows [start, stop) of shard `shard`. Only one entry per shard is held, so a run over millions of images does
    not hold millions of indices."""

    def __init__(self, plan: M.Plan, batch_size: int):
        self.sizes, self.batch_size = list(plan.sizes), batch_size
        self.first: list[int] = []  # first batch number of each shard
        n = 0
        for size in self.sizes:
            self.first.append(n)
            n += -(-size // batch_size)
        self.total = n

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, b: int) -> tuple[int, int, int]:
        shard = bisect.bisect_right(self.first, b) - 1
        start = (b - self.first[shard]) * self.batch_size
        return shard, start, min(self.sizes[shard], start + self.batch_size)


def batch_indices(plan: M.Plan, batch_size: int) -> BatchIndices:
    return BatchIndices(plan, batch_size)


class ImageBatches:
    """Map-style dataset over a manifest: item b = batch b processed (`decode_rows`). Each worker process or
    thread reads the manifest row group of the shard it is working on (one at a time), so memory does not grow
    with the dataset."""

    def __init__(self, plan: M.Plan, pp: Preprocess, batch_size: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS):
        self.plan, self.pp, self.max_pixels = plan, pp, max_pixels
        self.batches = batch_indices(plan, batch_size)
        self._local = threading.local()  # per thread: the current shard's rows and a Parquet bytes cache

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self.batches)

    def shard_of(self, b: int) -> int:
        return self.batches[b][0]

    def __getitem__(self, b: int) -> dict:
        shard, start, stop = self.batches[b]
        loc = self._local
        if getattr(loc, "shard", None) != shard:
            loc.rows, loc.shard = manifest_rows(self.plan.read_shard(shard)), shard
            loc.cache = getattr(loc, "cache", None) or LastRowGroup()
        return decode_rows(loc.rows[start:stop], shard, self.pp, self.max_pixels, loc.cache)


def decode_rows(rows: list[dict], shard: int, pp: Preprocess, max_pixels: int,
                cache: LastRowGroup | None = None) -> dict:
    """Manifest rows -> {shard, facts (image_facts columns), has_facts, ok (rows with a model input), pixels
    (uint8 tensor (len(ok), 3, size, size) or None)}."""
    import torch

    b = process_batch(rows, pp, max_pixels, cache)
    return {"shard": shard, "facts": b.facts, "has_facts": [bool(r.get("has_facts")) for r in rows], "ok": b.ok,
            "pixels": torch.from_numpy(b.pixels) if b.pixels is not None else None}


def identity(item):
    return item


# ---------------------------------------------------------------------------------------------------------
# images: model side and writer


@dataclass
class ShardResult:
    name: str
    images: int = 0
    facts_written: int = 0
    embeddings_written: int = 0
    statuses: dict | None = None
    skipped: bool = False


class ImageShard:
    """Collects one shard's processed batches (columnar) and their embeddings, then writes its parts atomically:
    image_embeddings (if this shard's file is not there yet) before image_facts (written last)."""

    def __init__(self, wh: Warehouse, spec: ModelSpec, name: str, known: np.ndarray, need_embed: bool | None = None):
        self.wh, self.spec, self.name, self.known = wh, spec, name, known
        self.need_embed = not T.part_exists(wh, T.IMAGE_EMBEDDINGS, name) if need_embed is None else need_embed
        self.facts: dict[str, list] = {f.name: [] for f in T.SCHEMAS[T.IMAGE_FACTS]}
        self.has_facts: list[bool] = []
        self.emb_rows: list[int] = []  # rows (in shard order) with an embedding in `vectors`
        self.vectors: list[np.ndarray] = []

    def add(self, batch: dict, emb: np.ndarray | None) -> None:
        base = len(self.has_facts)
        for c, col in self.facts.items():
            col.extend(batch["facts"][c])
        self.has_facts.extend(batch["has_facts"])
        if emb is not None and len(emb):
            self.emb_rows.extend(base + k for k in batch["ok"])
            self.vectors.append(emb)

    def finish(self) -> ShardResult:
        f = self.facts
        res = ShardResult(self.name, images=len(self.has_facts), statuses={})
        for st in f["status"]:
            res.statuses[st] = res.statuses.get(st, 0) + 1
        if self.need_embed:
            vecs = np.concatenate(self.vectors) if self.vectors else np.zeros((0, self.spec.embed_dim), np.float32)
            shas = [f["sha256"][i] for i in self.emb_rows]
            prefixes = np.array([int(s[:16], 16) for s in shas], dtype=np.uint64)
            pos = np.minimum(np.searchsorted(self.known, prefixes), max(0, len(self.known) - 1))
            known = (self.known[pos] == prefixes) if len(self.known) else np.zeros(len(shas), dtype=bool)
            seen: set[str] = set()
            keep = []
            for j, sha in enumerate(shas):
                if sha not in seen:
                    seen.add(sha)
                    if not known[j]:
                        keep.append(j)
            mat = vecs[keep] if keep else np.zeros((0, self.spec.embed_dim), dtype=np.float32)
            tbl = T.to_table(T.IMAGE_EMBEDDINGS, {
                "sha256": [shas[j] for j in keep], "model_key": [self.spec.key] * len(keep),
                "embedding": T.embedding_array(mat)})
            T.write_part(self.wh, T.IMAGE_EMBEDDINGS, self.name, tbl)
            res.embeddings_written = len(keep)
        new = [i for i, h in enumerate(self.has_facts) if not h]
        if new and not T.part_exists(self.wh, T.IMAGE_FACTS, self.name):
            cols = f if len(new) == len(self.has_facts) else {c: [v[i] for i in new] for c, v in f.items()}
            T.write_part(self.wh, T.IMAGE_FACTS, self.name, T.to_table(T.IMAGE_FACTS, cols))
            res.facts_written = len(new)
        return res


def process_shard_inline(wh: Warehouse, plan: M.Plan, shard: int, encoder: Encoder, known: np.ndarray,
                         batch_size: int, max_pixels: int, threads: int = 1) -> ShardResult:
    """The whole mapper for one shard in one process (Ray actors): decode with a thread pool (each thread a
    slice of the batch), embed, write."""
    from concurrent.futures import ThreadPoolExecutor

    name = plan.names[shard]
    rows = manifest_rows(plan.read_shard(shard))
    pp = encoder.loaded.spec.preprocess
    acc = ImageShard(wh, encoder.loaded.spec, name, known)
    local = threading.local()
    threads = max(1, threads)

    def part(chunk: list[dict]) -> dict:
        if not hasattr(local, "cache"):
            local.cache = LastRowGroup()  # one per thread: consecutive rows share a row group
        return decode_rows(chunk, shard, pp, max_pixels, local.cache)

    with ThreadPoolExecutor(max_workers=threads) as ex:
        for s in range(0, len(rows), batch_size):
            batch = rows[s:s + batch_size]
            step = -(-len(batch) // threads)
            parts = list(ex.map(part, [batch[i:i + step] for i in range(0, len(batch), step)]))
            b = merge_batches(parts)
            emb = encoder.images(b["pixels"]) if acc.need_embed and b["pixels"] is not None else None
            acc.add(b, emb)
    return acc.finish()


def merge_batches(parts: list[dict]) -> dict:
    """Consecutive slices of one batch (`decode_rows` outputs) -> one batch."""
    import torch

    if len(parts) == 1:
        return parts[0]
    out = {"shard": parts[0]["shard"], "facts": {c: [] for c in parts[0]["facts"]}, "has_facts": [], "ok": []}
    pixels = []
    n = 0
    for p in parts:
        for c, col in p["facts"].items():
            out["facts"][c].extend(col)
        out["has_facts"].extend(p["has_facts"])
        out["ok"].extend(n + k for k in p["ok"])
        if p["pixels"] is not None:
            pixels.append(p["pixels"])
        n += len(p["has_facts"])
    out["pixels"] = torch.cat(pixels) if pixels else None
    return out


# ---------------------------------------------------------------------------------------------------------
# texts


def process_text_shard(wh: Warehouse, plan: M.Plan, shard: int, encoder: Encoder, batch_size: int) -> int:
    name = plan.names[shard]
    if T.part_exists(wh, T.TEXT_EMBEDDINGS, name):
        return 0
    tbl = plan.read_shard(shard)
    texts = tbl.column("text").to_pylist()
    emb = encoder.texts_batched(texts, batch_size)
    out = T.to_table(T.TEXT_EMBEDDINGS, {
        "text_hash": tbl.column("text_hash"), "model_key": [encoder.loaded.spec.key] * len(texts),
        "embedding": T.embedding_array(emb)})
    T.write_part(wh, T.TEXT_EMBEDDINGS, name, out)
    return len(texts)


def iter_chunks(seq: list, n: int) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
