"""The image reader of the mapper: a shard manifest's rows -> decoded batches, as columns (`decode_rows`), never
one dict per image. Runs in DataLoader worker processes, CPU stream threads or a Ray actor's thread pool;
batches never cross a shard boundary, so a shard's batches are the same in every run.
"""

from __future__ import annotations

import bisect
import threading

import pyarrow as pa

from editlens.contract.locations import LastRowGroup
from editlens.embeddings import manifest as M
from editlens.embeddings.imageio import DEFAULT_MAX_IMAGE_PIXELS, Preprocess, process_batch


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


class ImageBatches:
    """Map-style dataset over a manifest: item b = batch b processed (`decode_rows`). Each worker process or
    thread reads the manifest row group of the shard it is working on (one at a time), so memory does not grow
    with the dataset."""

    def __init__(self, plan: M.Plan, pp: Preprocess, batch_size: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
                 detect=None, device_jpegs: bool = False):
        self.plan, self.pp, self.max_pixels, self.detect = plan, pp, max_pixels, detect
        self.device_jpegs = device_jpegs  # JPEGs left for the main process's device decode (embeddings.gpudecode)
        self.batches = BatchIndices(plan, batch_size)
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
        return decode_rows(loc.rows[start:stop], shard, self.pp, self.max_pixels, loc.cache, self.detect,
                           getattr(self, "device_jpegs", False))


def decode_rows(rows: list[dict], shard: int, pp: Preprocess, max_pixels: int,
                cache: LastRowGroup | None = None, detect=None, device_jpegs: bool = False) -> dict:
    """Manifest rows -> {shard, facts (image_facts columns), has_facts, ok (rows with a model input), pixels
    (uint8 tensor (len(ok), 3, size, size) or None), detections (image_detections rows, or None without
    detectors: an `editlens.embeddings.detectors.DetectStage`)}. With `device_jpegs` the plain JPEGs are only read and
    hashed here and left, under `device_jpegs`, for `editlens.embeddings.gpudecode.complete` in the main process."""
    import torch

    if not device_jpegs:
        b = process_batch(rows, pp, max_pixels, cache, detect)
        return {"shard": shard, "facts": b.facts, "has_facts": [bool(r.get("has_facts")) for r in rows],
                "ok": b.ok, "pixels": torch.from_numpy(b.pixels) if b.pixels is not None else None,
                "detections": b.detections}
    from editlens.embeddings.gpudecode import split_rows

    dev, rest = split_rows(rows, max_pixels, cache)
    b = process_batch([rows[i] for i in rest], pp, max_pixels, cache, detect)
    facts = {c: [None] * len(rows) for c in b.facts}
    for k, i in enumerate(rest):
        for c, col in b.facts.items():
            facts[c][i] = col[k]
    for i, out in zip(dev["rows"], dev["facts"]):
        for c, v in out.items():
            facts[c][i] = v
    return {"shard": shard, "facts": facts, "has_facts": [bool(r.get("has_facts")) for r in rows],
            "ok": [rest[k] for k in b.ok], "pixels": torch.from_numpy(b.pixels) if b.pixels is not None else None,
            "detections": b.detections, "device_jpegs": dev}


def identity(item):
    return item


def merge_batches(parts: list[dict]) -> dict:
    """Consecutive slices of one batch (`decode_rows` outputs) -> one batch."""
    import torch

    if len(parts) == 1:
        return parts[0]
    out = {"shard": parts[0]["shard"], "facts": {c: [] for c in parts[0]["facts"]}, "has_facts": [], "ok": []}
    found = [p["detections"] for p in parts if p.get("detections") is not None]
    out["detections"] = pa.concat_tables(found) if found else None
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
