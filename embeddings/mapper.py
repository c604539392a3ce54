"""The mapper: shard rows in, output tables out. Shared by the local backend (DataLoader workers decode, the
main process runs the model) and the Ray backend (one actor does both for a whole shard).

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

from editlens.warehouse import Warehouse
from embeddings import manifest as M
from embeddings import tables as T
from embeddings.imageio import DEFAULT_MAX_IMAGE_PIXELS, Preprocess, _ParquetBytesCache, process_image
from embeddings.models import LoadedModel, ModelSpec

# ---------------------------------------------------------------------------------------------------------
# device


@dataclass(frozen=True)
class DeviceSettings:
    device: str
    autocast_dtype: Any  # torch.dtype or None
    pin_memory: bool
    non_blocking: bool


def device_settings(device: str, cuda_available: bool | None = None) -> DeviceSettings:
    """cpu -> fp32, no pinning; cuda[:N] -> bf16 autocast, pinned host memory, non-blocking copies.
    Asking for CUDA without a CUDA device is unusable input."""
    import torch

    from embeddings.errors import EmbedInputError

    dev = (device or "cpu").strip().lower()
    if dev.startswith("cuda"):
        avail = torch.cuda.is_available() if cuda_available is None else cuda_available
        if not avail:
            raise EmbedInputError(f"device {device!r} requested but CUDA is not available")
        return DeviceSettings(dev, torch.bfloat16, True, True)
    if dev == "mps":
        return DeviceSettings(dev, None, False, False)
    if dev != "cpu":
        raise EmbedInputError(f"unknown device {device!r} (cpu, cuda or cuda:N)")
    return DeviceSettings("cpu", None, False, False)


def default_batch_size(device: str) -> int:
    return 1024 if device.startswith("cuda") else 256


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
        torch = self.torch
        if pixels is None or len(pixels) == 0:
            return np.zeros((0, self.loaded.spec.embed_dim), dtype=np.float32)
        if not isinstance(pixels, torch.Tensor):
            pixels = torch.from_numpy(np.asarray(pixels))
        with torch.inference_mode():
            x = pixels.to(self.settings.device, non_blocking=self.settings.non_blocking).float()
            x = (x - self.mean) / self.std
            with self._autocast():
                e = self.model.encode_image(x)
            e = torch.nn.functional.normalize(e.float(), dim=-1)
            return e.cpu().numpy().astype(np.float32)

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


class ImageDataset:
    """Map-style dataset over a manifest: item i = the processed record of pending image i. Each worker reads
    the manifest row group of the shard it is working on (one at a time), so memory does not grow with the
    dataset."""

    def __init__(self, plan: M.Plan, pp: Preprocess, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS):
        self.plan, self.pp, self.max_pixels = plan, pp, max_pixels
        self.offsets = plan.offsets
        self._shard = -1
        self._rows: list[dict] = []
        self._cache = _ParquetBytesCache()

    def __len__(self) -> int:
        return self.plan.total

    def __getitem__(self, i: int) -> dict:
        shard = bisect.bisect_right(self.offsets, i) - 1
        if shard != self._shard:
            self._rows = manifest_rows(self.plan.read_shard(shard))
            self._shard = shard
        rec = self._rows[i - self.offsets[shard]]
        out = process_image(rec, self.pp, self.max_pixels, self._cache)
        out["has_facts"] = bool(rec.get("has_facts"))
        out["shard"] = shard
        return out


class BatchIndices:
    """Batches that never cross a shard boundary (so a shard's batches are the same in every run); generated
    lazily, so a run over millions of images does not hold millions of indices."""

    def __init__(self, plan: M.Plan, batch_size: int):
        self.offsets, self.sizes, self.batch_size = plan.offsets, list(plan.sizes), batch_size

    def __iter__(self):
        for off, size in zip(self.offsets, self.sizes):
            for s in range(0, size, self.batch_size):
                yield list(range(off + s, off + min(size, s + self.batch_size)))

    def __len__(self) -> int:
        return sum(-(-size // self.batch_size) for size in self.sizes)


def batch_indices(plan: M.Plan, batch_size: int) -> BatchIndices:
    return BatchIndices(plan, batch_size)


def collate(items: list[dict]) -> dict:
    import torch

    ok = [k for k, it in enumerate(items) if it.get("pixels") is not None]
    pixels = torch.from_numpy(np.stack([items[k]["pixels"] for k in ok])) if ok else None
    for it in items:
        it.pop("pixels", None)
    return {"shard": items[0]["shard"] if items else -1, "records": items, "ok": ok, "pixels": pixels}


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
    """Collects one shard's processed records and their embeddings, then writes its parts atomically:
    image_embeddings (if this shard's file is not there yet) before image_facts (written last)."""

    def __init__(self, wh: Warehouse, spec: ModelSpec, name: str, known: np.ndarray):
        self.wh, self.spec, self.name, self.known = wh, spec, name, known
        self.need_embed = not T.part_exists(wh, T.IMAGE_EMBEDDINGS, name)
        self.records: list[dict] = []
        self.vectors: list[np.ndarray] = []  # aligned with records; None where no embedding

    def add(self, records: list[dict], ok: list[int], emb: np.ndarray | None) -> None:
        vecs: list[Any] = [None] * len(records)
        if emb is not None:
            for j, k in enumerate(ok):
                vecs[k] = emb[j]
        self.records.extend(records)
        self.vectors.extend(vecs)

    def finish(self) -> ShardResult:
        res = ShardResult(self.name, images=len(self.records), statuses={})
        for r in self.records:
            res.statuses[r["status"]] = res.statuses.get(r["status"], 0) + 1
        if self.need_embed:
            seen: set[str] = set()
            shas, vecs = [], []
            for r, v in zip(self.records, self.vectors):
                sha = r.get("sha256")
                if r["status"] != "ok" or v is None or sha in seen:
                    continue
                seen.add(sha)
                if M.contains(self.known, M.sha_prefix(sha)):
                    continue
                shas.append(sha)
                vecs.append(v)
            mat = np.stack(vecs) if vecs else np.zeros((0, self.spec.embed_dim), dtype=np.float32)
            tbl = T.to_table(T.IMAGE_EMBEDDINGS, {
                "sha256": shas, "model_key": [self.spec.key] * len(shas), "embedding": T.embedding_array(mat)})
            T.write_part(self.wh, T.IMAGE_EMBEDDINGS, self.name, tbl)
            res.embeddings_written = len(shas)
        new_facts = [r for r in self.records if not r.get("has_facts")]
        if new_facts and not T.part_exists(self.wh, T.IMAGE_FACTS, self.name):
            cols = {f.name: [r.get(f.name) for r in new_facts] for f in T.SCHEMAS[T.IMAGE_FACTS]}
            T.write_part(self.wh, T.IMAGE_FACTS, self.name, T.to_table(T.IMAGE_FACTS, cols))
            res.facts_written = len(new_facts)
        return res


def process_shard_inline(wh: Warehouse, plan: M.Plan, shard: int, encoder: Encoder, known: np.ndarray,
                         batch_size: int, max_pixels: int, threads: int = 1) -> ShardResult:
    """The whole mapper for one shard in one process (Ray actors): decode with a thread pool, embed, write."""
    from concurrent.futures import ThreadPoolExecutor

    name = plan.names[shard]
    rows = manifest_rows(plan.read_shard(shard))
    pp = encoder.loaded.spec.preprocess
    acc = ImageShard(wh, encoder.loaded.spec, name, known)
    local = threading.local()

    def one(rec: dict) -> dict:
        if not hasattr(local, "cache"):
            local.cache = _ParquetBytesCache()  # one per thread: consecutive rows share a row group
        out = process_image(rec, pp, max_pixels, local.cache)
        out["has_facts"] = bool(rec.get("has_facts"))
        out["shard"] = shard
        return out

    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        for s in range(0, len(rows), batch_size):
            items = list(ex.map(one, rows[s:s + batch_size]))
            b = collate(items)
            emb = encoder.images(b["pixels"]) if acc.need_embed and b["pixels"] is not None else None
            acc.add(b["records"], b["ok"], emb)
    return acc.finish()


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
