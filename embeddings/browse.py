"""The browse stage of `editlens embed`: the edit map (`edit_projections`) and the nearest-neighbour indexes.

Reader: one pass over the edits with their source image, target image and instruction embeddings of one model
(stored tables only; no image is read, no model is run). Mapper: each batch's vectors per space (image = the
source image, instruction, direction = target minus source image embedding, re-normalised; null where an
embedding is missing or the two images embed identically), projected to 2-D. Writers: `edit_projections` shards
and, for the image and instruction spaces, an index folder (`editlens.contract.index`).

The projection is PCA (fitted on a fixed hash sample of at most `fit_sample` edits per space, signs fixed so
reruns give the same picture), or UMAP where umap-learn is installed and asked for (fitted on the same sample,
then applied to every edit: slow at millions).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from editlens.contract.errors import UnusableInput
from editlens.contract.index import INDEX_SPACES, IndexWriter, index_dir
from editlens.contract.tables import PROJECTION_SPACES
from editlens.embeddings import manifest as M
from editlens.embeddings import tables as T
from editlens.warehouse import Warehouse


@dataclass(frozen=True)
class BrowseConfig:
    method: Literal["pca", "umap"] = "pca"
    fit_sample: int = 50_000        # edits per space the projection is fitted on
    batch_rows: int = 65_536        # edits per read batch (and per projection shard)
    index: bool = True              # build the neighbour indexes
    hnsw_dtype: str = "f16"         # usearch's stored scalar type


@dataclass(frozen=True)
class Projection:
    """A fitted 2-D projection: PCA (mean, components) or a fitted UMAP model."""

    method: str
    mean: np.ndarray | None = None
    components: np.ndarray | None = None   # (2, d)
    model: object = None

    def transform(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, 2), np.float32)
        if self.method == "pca":
            return ((x - self.mean) @ self.components.T).astype(np.float32)
        return np.asarray(self.model.transform(x), dtype=np.float32)


def fit_pca(x: np.ndarray) -> Projection:
    """The first two principal axes of ``x`` (rows = samples); each axis's sign makes its largest loading
    positive, so the same data always gives the same picture."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[1]
    mean = x.mean(axis=0) if len(x) else np.zeros(d)
    comps = np.zeros((2, d))
    if len(x) >= 2:
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        k = min(2, vt.shape[0])
        comps[:k] = vt[:k]
        for i in range(k):
            j = int(np.argmax(np.abs(comps[i])))
            if comps[i, j] < 0:
                comps[i] = -comps[i]
    return Projection("pca", mean.astype(np.float32), comps.astype(np.float32))


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def fit_umap(x: np.ndarray, seed: int = 0) -> Projection:
    if not umap_available():
        raise UnusableInput("--projection umap needs umap-learn (pip install umap-learn); the default is pca")
    import umap

    model = umap.UMAP(n_components=2, random_state=seed, metric="cosine").fit(np.asarray(x, dtype=np.float32))
    return Projection("umap", model=model)


def vectors_query(wh: Warehouse, key: str, sample: int | None = None) -> str:
    """Per edit (once per edit_id): its source, target and instruction embeddings of model ``key``."""
    limit = f"order by hash(p.edit_id), p.edit_id limit {int(sample)}" if sample else "order by p.edit_id"
    return f"""
        with p as (
            select edit_id, any_value(source_image_id) as s_id, any_value(target_image_id) as t_id,
                   any_value(instruction) as instr
            from {M.source(wh, 'edits')} group by edit_id
        ),
        facts as (select image_id, any_value(sha256) as sha256 from {M.source(wh, T.IMAGE_FACTS)} group by 1),
        emb as (select sha256, any_value(embedding) as embedding from {M.source(wh, T.IMAGE_EMBEDDINGS)}
                where model_key = '{key}' group by 1),
        txt as (select text_hash, any_value(embedding) as embedding from {M.source(wh, T.TEXT_EMBEDDINGS)}
                where model_key = '{key}' group by 1)
        select p.edit_id, es.embedding as s_emb, et.embedding as t_emb, ti.embedding as i_emb
        from p
        left join facts fs on fs.image_id = p.s_id
        left join facts ft on ft.image_id = p.t_id
        left join emb es on es.sha256 = fs.sha256
        left join emb et on et.sha256 = ft.sha256
        left join txt ti on ti.text_hash = case when length(trim(p.instr)) > 0 then substr(sha1(p.instr), 1, 16) end
        {limit}
    """


def space_vectors(tbl: pa.Table, d: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One batch's (vectors, valid mask) per space."""
    s, s_ok = T.embedding_matrix(tbl.column("s_emb"), d)
    t, t_ok = T.embedding_matrix(tbl.column("t_emb"), d)
    i, i_ok = T.embedding_matrix(tbl.column("i_emb"), d)
    diff = t - s
    norm = np.linalg.norm(diff, axis=1)
    d_ok = s_ok & t_ok & (norm > 1e-6)
    direction = np.where(d_ok[:, None], diff / np.maximum(norm, 1e-12)[:, None], 0.0)
    return {"image": (s, s_ok), "instruction": (i, i_ok), "direction": (direction, d_ok)}


def run_browse_stage(con, wh: Warehouse, spec, cfg: BrowseConfig | None = None, load_pretrained: str | None = None,
                     progress=None) -> dict[str, int]:
    """Projects every edit in every space and builds the indexes; returns rows written per space. Replaces this
    model's earlier projections (same method) and indexes once the new ones are complete."""
    cfg = cfg or BrowseConfig()
    key, d = spec.key, int(spec.embed_dim)
    fitter = fit_pca if cfg.method == "pca" else fit_umap
    if cfg.method not in ("pca", "umap"):
        raise UnusableInput(f"unknown projection {cfg.method!r} (pca or umap)")

    sample = con.execute(vectors_query(wh, key, cfg.fit_sample)).arrow()
    sample = sample.read_all() if hasattr(sample, "read_all") else sample
    fitted = {}
    for space, (v, ok) in space_vectors(sample, d).items():
        fitted[space] = fitter(v[ok]) if ok.sum() >= 2 else None

    token = uuid.uuid4().hex[:8]
    prefix = f"{key[:8]}-{cfg.method}-"
    meta = {"model_key": key, "model_name": spec.name, "pretrained": spec.pretrained,
            "load_pretrained": load_pretrained, "embed_dim": d}
    writers = {s: IndexWriter(index_dir(wh.root, key, s), d, {**meta, "space": s}, hnsw_dtype=cfg.hnsw_dtype)
               for s in INDEX_SPACES} if cfg.index else {}
    written = {s: 0 for s in PROJECTION_SPACES}
    reader = con.execute(vectors_query(wh, key)).to_arrow_reader(cfg.batch_rows)
    n_batch = 0
    try:
        from editlens.contract.batches import rebatch

        for tbl in rebatch(reader, cfg.batch_rows):
            ids = tbl.column("edit_id").combine_chunks()
            parts = []
            for space, (v, ok) in space_vectors(tbl, d).items():
                if space in writers and ok.any():
                    writers[space].add(ids.filter(pa.array(ok)), v[ok])
                if fitted.get(space) is None or not ok.any():
                    continue
                xy = fitted[space].transform(v[ok].astype(np.float32))
                n = int(ok.sum())
                parts.append(T.to_table(T.EDIT_PROJECTIONS, {
                    "edit_id": ids.filter(pa.array(ok)), "model_key": [key] * n, "space": [space] * n,
                    "method": [cfg.method] * n, "x": pa.array(xy[:, 0], pa.float32()),
                    "y": pa.array(xy[:, 1], pa.float32())}))
                written[space] += n
            if parts:
                T.write_part(wh, T.EDIT_PROJECTIONS, f"{prefix}{token}-{n_batch:05d}", pa.concat_tables(parts))
                n_batch += 1
            if progress is not None:
                progress.update(tbl.num_rows)
        for w in writers.values():
            w.close()
    except BaseException:
        for w in writers.values():
            w.abort()
        for p in wh.table_dir(T.EDIT_PROJECTIONS).glob(f"{prefix}{token}-*.parquet"):
            p.unlink()
        raise
    for p in wh.table_dir(T.EDIT_PROJECTIONS).glob(f"{prefix}*.parquet"):
        if not p.name.startswith(f"{prefix}{token}-"):
            p.unlink()
    return written


def browse_done(wh: Warehouse, key: str, cfg: BrowseConfig | None = None) -> bool:
    """This model's map and (when asked for) indexes exist."""
    cfg = cfg or BrowseConfig()
    has_map = any(wh.table_dir(T.EDIT_PROJECTIONS).glob(f"{key[:8]}-{cfg.method}-*.parquet"))
    has_index = all((index_dir(wh.root, key, s) / "meta.json").is_file() for s in INDEX_SPACES)
    return has_map and (has_index or not cfg.index)
