"""The mapper: one shard in, output tables out, composed of the reader (`editlens.embeddings.reader`: manifest rows ->
decoded batches), the model wrapper (`editlens.embeddings.encoder`) and the writer (`editlens.embeddings.writer`). The local
distributor drives the same three pieces batch by batch; these run a whole shard in one process (Ray actors).
"""

from __future__ import annotations

import threading

import numpy as np

from editlens.contract.locations import LastRowGroup
from editlens.embeddings import manifest as M
from editlens.embeddings import tables as T
from editlens.embeddings.encoder import Encoder
from editlens.embeddings.reader import decode_rows, manifest_rows, merge_batches
from editlens.embeddings.writer import ImageShard, ShardResult, write_text_shard
from editlens.warehouse import Warehouse


def process_shard_inline(wh: Warehouse, plan: M.Plan, shard: int, encoder: Encoder, known: np.ndarray,
                         batch_size: int, max_pixels: int, threads: int = 1, detect=None) -> ShardResult:
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
        return decode_rows(chunk, shard, pp, max_pixels, local.cache, detect)

    with ThreadPoolExecutor(max_workers=threads) as ex:
        for s in range(0, len(rows), batch_size):
            batch = rows[s:s + batch_size]
            step = -(-len(batch) // threads)
            parts = list(ex.map(part, [batch[i:i + step] for i in range(0, len(batch), step)]))
            b = merge_batches(parts)
            emb = encoder.images(b["pixels"]) if acc.need_embed and b["pixels"] is not None else None
            acc.add(b, emb)
    return acc.finish()


def process_text_shard(wh: Warehouse, plan: M.Plan, shard: int, encoder: Encoder, batch_size: int) -> int:
    name = plan.names[shard]
    if T.part_exists(wh, T.TEXT_EMBEDDINGS, name):
        return 0
    tbl = plan.read_shard(shard)
    emb = encoder.texts_batched(tbl.column("text").to_pylist(), batch_size)
    return write_text_shard(wh, name, tbl.column("text_hash"), encoder.loaded.spec.key, emb)
