"""Distributors: run the image and text shards of a plan, locally or on Ray Data. Both use the same reader, model
wrapper and writer (`editlens.embeddings.reader`, `editlens.embeddings.encoder`, `editlens.embeddings.writer`; `editlens.embeddings.mapper` runs a
whole shard), so their outputs are the same.

- local: on CPU, `streams` threads of the main process each decode a batch (`reader.ImageBatches`) and run the
  model on it under inference_mode; with decode workers (the CUDA default) a torch DataLoader's worker
  processes decode chunks of batch / workers rows, and the main process joins them into model batches and runs
  the model one batch ahead (bf16 autocast, pinned memory, non-blocking copies both ways on CUDA). Batches are
  consumed in order and one writer thread writes each shard as soon as its last batch is in.
- ray: `ray.data.from_items(shards).map_batches(ShardActor, compute=ActorPoolStrategy(size=n), num_gpus=1
  per actor on CUDA)`; each actor loads the model once and runs whole shards (decode in a thread pool).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from editlens.contract.errors import UnusableInput
from editlens.embeddings import manifest as M
from editlens.embeddings import tables as T
from editlens.embeddings.encoder import Encoder, device_settings
from editlens.embeddings.mapper import process_shard_inline, process_text_shard
from editlens.embeddings.reader import ImageBatches, identity
from editlens.embeddings.writer import ImageShard, ShardResult
from editlens.warehouse import Warehouse


def _worker_init(_: int) -> None:
    import torch

    torch.set_num_threads(1)


def _progress(total: int, desc: str, unit: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True, smoothing=0.1)


def run_images_local(wh: Warehouse, plan: M.Plan, encoder: Encoder, known: np.ndarray, batch_size: int,
                     workers: int, max_pixels: int, progress: bool = True, streams: int = 1,
                     detect=None, device_jpegs: bool = False) -> list[ShardResult]:
    """Decode, embed and write every image shard of `plan`. With workers > 0, DataLoader worker processes decode
    and the main process runs the model; with workers = 0, `streams` threads of the main process each decode and
    embed whole batches (CPU: no hand-off between processes, every core busy with one batch). Either way the
    batches come back in order, and one writer thread writes each finished shard while the next is computed."""
    from concurrent.futures import ThreadPoolExecutor

    if not plan.total:
        return []
    inline = workers == 0 and streams > 1
    ds = ImageBatches(plan, encoder.loaded.spec.preprocess,
                      batch_size if inline else loader_chunk_size(batch_size, workers), max_pixels, detect,
                      device_jpegs)
    need: dict[int, bool] = {}  # shard -> its image_embeddings file is still to write (decided once per shard)

    def need_embed(shard: int) -> bool:
        if shard not in need:
            need[shard] = not T.part_exists(wh, T.IMAGE_EMBEDDINGS, plan.names[shard])
        return need[shard]

    results: list[ShardResult] = []
    current: ImageShard | None = None
    bar = _progress(plan.total, "images", "img", progress)
    with ThreadPoolExecutor(1, thread_name_prefix="embed-writer") as writer:
        writing = None
        try:
            for b, emb in (_embedded_streams(ds, encoder, need_embed, streams) if inline
                           else _embedded_loader(ds, encoder, need_embed, workers, batch_size)):
                shard = b["shard"]
                if current is None or current.name != plan.names[shard]:
                    if current is not None:
                        if writing is not None:
                            results.append(writing.result())  # at most one shard waits to be written
                        writing = writer.submit(current.finish)
                    current = ImageShard(wh, encoder.loaded.spec, plan.names[shard], known, need_embed(shard))
                current.add(b, emb)
                bar.update(len(b["has_facts"]))
            if writing is not None:
                results.append(writing.result())
            if current is not None:
                results.append(current.finish())
        finally:
            bar.close()
    return results


def loader_chunk_size(batch_size: int, workers: int) -> int:
    """Rows per DataLoader item: a worker decodes a chunk, the main process joins chunks into model batches.
    With whole batches per worker, the first batch waited for one worker to decode all of it (1,024 images, ~3 s
    at 224 px) while the other workers' batches could not be used yet; chunks of batch / workers rows keep
    every worker's output usable at once."""
    return max(1, min(batch_size, max(32, -(-batch_size // max(1, workers)))))


def _embedded_loader(ds: ImageBatches, encoder: Encoder, need_embed, workers: int, batch_size: int | None = None):
    """(chunk, embeddings) in order: DataLoader workers decode chunks of rows, this thread joins consecutive
    chunks into model batches of up to `batch_size` images and runs the model, one batch ahead: batch k+1 is
    launched on the device before batch k's embeddings are collected, so on CUDA the GPU computes while this
    thread hands out results and fetches the next chunks."""
    from torch.utils.data import DataLoader

    batch_size = batch_size or ds.batches.batch_size
    kwargs = {"num_workers": workers, "batch_size": None, "collate_fn": identity,
              "pin_memory": encoder.settings.pin_memory}
    if workers > 0:
        # about two model batches in flight across the workers (a CUDA batch is 1024 x 3 x 224 x 224 bytes)
        per_worker = max(2, -(-2 * batch_size // max(1, ds.batches.batch_size * workers)))
        kwargs.update(prefetch_factor=per_worker, worker_init_fn=_worker_init, multiprocessing_context="fork")
    loader = DataLoader(ds, **kwargs)

    def launch(chunks: list[dict]):
        embed = [c for c in chunks if c["pixels"] is not None and need_embed(c["shard"])]
        return chunks, embed, (encoder.images_async([c["pixels"] for c in embed]) if embed else None)

    def collect(launched):
        chunks, embed, handle = launched
        out: dict[int, np.ndarray] = {}
        if handle is not None:
            emb, off = encoder.collect(handle), 0
            for c in embed:
                out[id(c)], off = emb[off:off + len(c["pixels"])], off + len(c["pixels"])
        for c in chunks:
            yield c, out.get(id(c))

    def groups():  # consecutive chunks, at most batch_size images each
        group, rows = [], 0
        for b in loader:
            b = _device_decoded(ds, encoder, b)
            n = len(b["pixels"]) if b["pixels"] is not None else 0
            if group and rows + n > batch_size:
                yield group
                group, rows = [], 0
            group.append(b)
            rows += n
        if group:
            yield group

    pending = None
    try:
        for group in groups():
            launched = launch(group)
            if pending is not None:
                yield from collect(pending)
            pending = launched
        if pending is not None:
            yield from collect(pending)
    finally:
        loader = None  # drop the DataLoader now: its worker processes end with it


def _device_decoded(ds: ImageBatches, encoder: Encoder, b: dict) -> dict:
    """A batch whose JPEGs the workers left undecoded, decoded on the model's device (embeddings.gpudecode)."""
    if b.get("device_jpegs") is None:
        return b
    from editlens.embeddings.gpudecode import complete

    return complete(b, ds.pp, encoder.settings.device, ds.max_pixels)


def _embedded_streams(ds: ImageBatches, encoder: Encoder, need_embed, streams: int):
    """(batch, embeddings) in order: `streams` threads each decode one batch and run the model on it. Twice as
    many batches as streams are in flight, so a thread that finishes early starts the next batch at once."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int, embed: bool):
        b = _device_decoded(ds, encoder, ds[i])
        return b, (encoder.images(b["pixels"]) if embed and b["pixels"] is not None else None)

    with ThreadPoolExecutor(streams, thread_name_prefix="embed-stream") as pool:
        pending: deque = deque()
        nxt = 0
        try:
            while nxt < len(ds) or pending:
                while nxt < len(ds) and len(pending) < 2 * streams:
                    pending.append(pool.submit(work, nxt, need_embed(ds.shard_of(nxt))))
                    nxt += 1
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def run_texts_local(wh: Warehouse, plan: M.Plan, encoder: Encoder, batch_size: int, progress: bool = True) -> int:
    n = 0
    bar = _progress(plan.total, "texts", "text", progress)
    try:
        for i, size in enumerate(plan.sizes):
            n += process_text_shard(wh, plan, i, encoder, batch_size)
            bar.update(size)
    finally:
        bar.close()
    return n


# ---------------------------------------------------------------------------------------------------------
# Ray


@dataclass
class ActorArgs:
    """Everything a Ray actor needs to rebuild the mapper (picklable)."""

    warehouse_root: str
    model: str
    pretrained: str | None
    device: str
    allow_random_weights: bool
    jpeg_draft: bool
    batch_size: int
    max_pixels: int
    threads: int            # torch threads per actor
    decode_threads: int = 1  # image decoding threads per actor (Pillow releases the GIL while decoding)
    detect: object = None  # embeddings.detectors.DetectStage, or None


class ShardActor:
    """Ray Data callable class: loads the model once, then maps batches of shard indices to shard results."""

    def __init__(self, args: ActorArgs, image_plan: M.Plan | None, text_plan: M.Plan | None, known: np.ndarray):
        import torch

        from editlens.embeddings.models import load_model

        torch.set_num_threads(max(1, args.threads))
        self.args = args
        self.wh = Warehouse(__import__("pathlib").Path(args.warehouse_root))
        settings = device_settings(args.device)
        loaded = load_model(args.model, args.pretrained, device=settings.device,
                            allow_random_weights=args.allow_random_weights, jpeg_draft=args.jpeg_draft)
        self.encoder = Encoder(loaded, settings)
        self.image_plan, self.text_plan, self.known = image_plan, text_plan, known

    def __call__(self, batch: dict) -> dict:
        kinds, shards = list(batch["kind"]), [int(s) for s in batch["shard"]]
        out = {"kind": [], "shard": [], "images": [], "facts": [], "embeddings": [], "texts": []}
        for kind, shard in zip(kinds, shards):
            n_img = n_facts = n_emb = n_txt = 0
            if kind == "image":
                r = process_shard_inline(self.wh, self.image_plan, shard, self.encoder, self.known,
                                         self.args.batch_size, self.args.max_pixels,
                                         threads=self.args.decode_threads, detect=self.args.detect)
                n_img, n_facts, n_emb = r.images, r.facts_written, r.embeddings_written
            else:
                n_txt = process_text_shard(self.wh, self.text_plan, shard, self.encoder, self.args.batch_size)
            for k, v in (("kind", kind), ("shard", shard), ("images", n_img), ("facts", n_facts),
                         ("embeddings", n_emb), ("texts", n_txt)):
                out[k].append(v)
        return {k: np.asarray(v) for k, v in out.items()}


def run_ray(args: ActorArgs, image_plan: M.Plan, text_plan: M.Plan, known: np.ndarray, actors: int | None,
            progress: bool = True) -> dict:
    """Image shards first (they are the heavy part), then text shards, on an actor pool."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise UnusableInput("--backend ray needs Ray: pip install 'editlens[ray]'") from None
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                 num_cpus=os.cpu_count() or 1)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    gpu = args.device.startswith("cuda")
    n_gpus = int(ray.cluster_resources().get("GPU", 0))
    size = actors or (max(1, n_gpus) if gpu else 1)
    totals = {"images": 0, "facts": 0, "embeddings": 0, "texts": 0}
    items = [{"kind": "image", "shard": i} for i in range(len(image_plan.names))]
    items += [{"kind": "text", "shard": i} for i in range(len(text_plan.names))]
    if not items:
        return totals
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    out = ds.map_batches(
        ShardActor,
        fn_constructor_kwargs={"args": args, "image_plan": image_plan, "text_plan": text_plan, "known": known},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=size),
        num_gpus=1 if gpu else 0,
        num_cpus=max(1, args.threads) if not gpu else None,
    )
    for row in out.iter_rows():
        for k in totals:
            totals[k] += int(row[k])
    return totals
