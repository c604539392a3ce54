"""The writer of the image and text shards: one atomic file per shard and table (`editlens.embeddings.tables`).
An image shard writes image_embeddings (new contents only) and image_detections (with detectors) before
image_facts (written last: its file marks the shard done)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from editlens.embeddings import tables as T
from editlens.embeddings.models import ModelSpec
from editlens.warehouse import Warehouse


@dataclass
class ShardResult:
    name: str
    images: int = 0
    facts_written: int = 0
    embeddings_written: int = 0
    detections_written: int = 0
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
        self.detections: list = []  # image_detections tables of the batches (detectors on)

    def add(self, batch: dict, emb: np.ndarray | None) -> None:
        base = len(self.has_facts)
        for c, col in self.facts.items():
            col.extend(batch["facts"][c])
        self.has_facts.extend(batch["has_facts"])
        if batch.get("detections") is not None:
            self.detections.append(batch["detections"])
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
        if self.detections and not T.part_exists(self.wh, T.IMAGE_DETECTIONS, self.name):
            det = pa.concat_tables(self.detections)
            if det.num_rows:  # one row per content and detector (a content twice in the shard: its first)
                keys = list(zip(det.column("sha256").to_pylist(), det.column("detector").to_pylist()))
                first = list({k: i for i, k in reversed(list(enumerate(keys)))}.values())
                det = det.take(sorted(first))
                T.write_part(self.wh, T.IMAGE_DETECTIONS, self.name, det)
                res.detections_written = det.num_rows
        new = [i for i, h in enumerate(self.has_facts) if not h]
        if new and not T.part_exists(self.wh, T.IMAGE_FACTS, self.name):
            cols = f if len(new) == len(self.has_facts) else {c: [v[i] for i in new] for c, v in f.items()}
            T.write_part(self.wh, T.IMAGE_FACTS, self.name, T.to_table(T.IMAGE_FACTS, cols))
            res.facts_written = len(new)
        return res


def write_text_shard(wh: Warehouse, name: str, text_hashes, model_key: str, emb: np.ndarray) -> int:
    """One text_embeddings file: the shard's text hashes and their embeddings."""
    out = T.to_table(T.TEXT_EMBEDDINGS, {
        "text_hash": text_hashes, "model_key": [model_key] * len(emb), "embedding": T.embedding_array(emb)})
    T.write_part(wh, T.TEXT_EMBEDDINGS, name, out)
    return len(emb)


def compact_detections(con, wh: Warehouse) -> int:
    """Identical bytes under different image_ids in different shards of one run are scored by each shard's
    detectors; keep the (content, detector) row of the lexically first file and rewrite the others atomically
    without it (idempotent, like the embeddings' compaction)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from editlens.warehouse import atomic_write_table

    if not wh.has_table(T.IMAGE_DETECTIONS):
        return 0
    rows = con.execute(f"""
        with r as (select distinct sha256, detector, filename
                   from read_parquet('{wh.table_glob(T.IMAGE_DETECTIONS)}', filename = true)),
        d as (select sha256, detector, min(filename) as keep from r group by all having count(*) > 1)
        select r.filename, r.sha256 || '|' || r.detector from r join d using (sha256, detector)
        where r.filename <> d.keep
    """).fetchall()
    drop: dict[str, set[str]] = {}
    for fn, k in rows:
        drop.setdefault(fn, set()).add(k)
    removed = 0
    for fn, keys in drop.items():
        tbl = pq.read_table(fn)
        both = pc.binary_join_element_wise(tbl["sha256"], tbl["detector"], "|")
        kept = tbl.filter(pc.invert(pc.is_in(both, value_set=pa.array(sorted(keys)))))
        removed += tbl.num_rows - kept.num_rows
        atomic_write_table(kept, Path(fn))
    return removed
