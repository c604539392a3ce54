"""The contract of the nearest-neighbour indexes the embed job builds and the dashboards search.

    DIR/index/<model_key>/<space>/meta.json       what the index holds (model, space, rows, dimension, backends)
    DIR/index/<model_key>/<space>/keys.parquet    edit_id of each row, in row order
    DIR/index/<model_key>/<space>/vectors.f16     rows x dim float16, L2-normalised (the exact-search copy)
    DIR/index/<model_key>/<space>/index.usearch   HNSW graph over the same rows (only where usearch is installed)

One folder per model and space (`image` = each edit's source image, `instruction`), one row per edit that has
the space's embedding. A folder is written under a temporary name and renamed into place, so a reader sees the
old index or the whole new one. Search uses the HNSW graph when the file and the `usearch` package are both
present, else an exact scan of the float16 vectors (memory-mapped, in blocks); both return cosine similarity.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

INDEX_SPACES = ("image", "instruction")
META, KEYS, VECTORS, HNSW = "meta.json", "keys.parquet", "vectors.f16", "index.usearch"
EXACT_BLOCK_ROWS = 262_144


def usearch_available() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def index_root(warehouse_root: Path) -> Path:
    return Path(warehouse_root) / "index"


def index_dir(warehouse_root: Path, model_key: str, space: str) -> Path:
    return index_root(warehouse_root) / model_key / space


def _normalised(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


@dataclass
class IndexWriter:
    """Streams (edit_id, vector) batches into a new index folder; ``close()`` publishes it atomically."""

    folder: Path
    dim: int
    meta: dict = field(default_factory=dict)
    hnsw: bool = True            # also build the usearch HNSW graph (when the package is installed)
    hnsw_dtype: str = "f16"      # usearch's stored scalar type (f32, f16, i8)
    _tmp: Path | None = None
    _keys: list = field(default_factory=list)
    _n: int = 0
    _fh: object = None
    _index: object = None

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.folder.parent / f".{self.folder.name}.{uuid.uuid4().hex}.tmp"
        self._tmp.mkdir()
        self._fh = open(self._tmp / VECTORS, "wb")
        if self.hnsw and usearch_available():
            from usearch.index import Index

            self._index = Index(ndim=self.dim, metric="cos", dtype=self.hnsw_dtype)

    def add(self, edit_ids: list[str] | pa.Array, vectors: np.ndarray) -> None:
        if len(edit_ids) == 0:
            return
        v = _normalised(vectors)
        self._fh.write(v.astype(np.float16).tobytes())
        if self._index is not None:
            self._index.add(np.arange(self._n, self._n + len(v), dtype=np.uint64), v)
        self._keys.append(pa.array(edit_ids, type=pa.string()))
        self._n += len(v)

    def close(self) -> Path:
        self._fh.close()
        keys = pa.chunked_array(self._keys, type=pa.string()) if self._keys else pa.chunked_array([], pa.string())
        pq.write_table(pa.table({"edit_id": keys}), self._tmp / KEYS)
        if self._index is not None:
            self._index.save(str(self._tmp / HNSW))
        meta = {**self.meta, "rows": self._n, "dim": self.dim, "vectors": "float16",
                "hnsw": self._index is not None, "hnsw_dtype": self.hnsw_dtype if self._index is not None else None,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (self._tmp / META).write_text(json.dumps(meta, indent=1))
        old = None
        if self.folder.exists():
            old = self.folder.parent / f".{self.folder.name}.{uuid.uuid4().hex}.old"
            self.folder.rename(old)
        self._tmp.rename(self.folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.folder

    def abort(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


@dataclass
class NeighbourIndex:
    """A built index, opened for search (vectors memory-mapped; the HNSW graph viewed from disk)."""

    folder: Path
    meta: dict
    keys: pa.Array                # edit ids in row order (Arrow: no Python object per row)
    vectors: np.ndarray           # memory-mapped float16 rows x dim
    hnsw: object = None

    @classmethod
    def open(cls, folder: Path, use_hnsw: bool = True) -> NeighbourIndex:
        folder = Path(folder)
        meta = json.loads((folder / META).read_text())
        keys = pq.read_table(folder / KEYS).column("edit_id").combine_chunks()
        n, d = int(meta["rows"]), int(meta["dim"])
        vectors = (np.memmap(folder / VECTORS, dtype=np.float16, mode="r", shape=(n, d)) if n
                   else np.zeros((0, d), np.float16))
        hnsw = None
        if use_hnsw and meta.get("hnsw") and (folder / HNSW).is_file() and usearch_available():
            from usearch.index import Index

            hnsw = Index.restore(str(folder / HNSW), view=True)
        return cls(folder, meta, keys, vectors, hnsw)

    @property
    def backend(self) -> str:
        return "usearch HNSW" if self.hnsw is not None else "exact scan"

    def __len__(self) -> int:
        return len(self.keys)

    def key(self, row: int) -> str:
        return self.keys[int(row)].as_py()

    def row(self, edit_id: str) -> int | None:
        """The row of ``edit_id`` (one vectorised scan of the id column: milliseconds at millions of rows)."""
        import pyarrow.compute as pc

        i = pc.index(self.keys, pa.scalar(edit_id, pa.string())).as_py() if len(self.keys) else -1
        return None if i < 0 else int(i)

    def vector(self, edit_id: str) -> np.ndarray | None:
        i = self.row(edit_id)
        return None if i is None else np.asarray(self.vectors[i], dtype=np.float32)

    def search(self, query: np.ndarray, k: int = 12, exact: bool = False) -> list[tuple[str, float]]:
        """The k rows most similar to ``query`` (cosine), best first: (edit_id, similarity)."""
        if len(self) == 0:
            return []
        q = _normalised(np.asarray(query, dtype=np.float32).reshape(-1))
        k = max(1, min(int(k), len(self)))
        if self.hnsw is not None and not exact:
            m = self.hnsw.search(q, k)
            rows = np.asarray(m.keys, dtype=np.int64)
            sims = 1.0 - np.asarray(m.distances, dtype=np.float64)
            return [(self.key(r), float(s)) for r, s in zip(rows, sims) if 0 <= r < len(self)]
        return self.exact_search(q, k)

    def exact_search(self, q: np.ndarray, k: int) -> list[tuple[str, float]]:
        best_rows, best_sims = np.zeros(0, np.int64), np.zeros(0, np.float32)
        for start in range(0, len(self), EXACT_BLOCK_ROWS):
            block = np.asarray(self.vectors[start:start + EXACT_BLOCK_ROWS], dtype=np.float32)
            sims = block @ q
            top = np.argpartition(-sims, min(k, len(sims)) - 1)[:k] if len(sims) > k else np.arange(len(sims))
            best_rows = np.concatenate([best_rows, top + start])
            best_sims = np.concatenate([best_sims, sims[top]])
            keep = np.lexsort((best_rows, -best_sims))[:k]
            best_rows, best_sims = best_rows[keep], best_sims[keep]
        return [(self.key(r), float(s)) for r, s in zip(best_rows, best_sims)]


def open_indexes(warehouse_root: Path) -> dict[tuple[str, str], Path]:
    """Every built index of a warehouse: (model_key, space) -> folder."""
    root = index_root(warehouse_root)
    out = {}
    if root.is_dir():
        for meta in sorted(root.glob(f"*/*/{META}")):
            folder = meta.parent
            if not folder.name.startswith("."):
                out[(folder.parent.name, folder.name)] = folder
    return out
