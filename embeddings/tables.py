"""The embed job's writer: one atomic Parquet file per shard and table, in the schemas of
`editlens.contract.tables` (whose table names it re-exports for the embed modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from editlens.contract.tables import (  # noqa: F401 - the table names, re-exported for the embed modules
    EDIT_PROJECTIONS,
    EDIT_SCORES,
    EMBED_MODELS,
    EMBED_SCHEMAS,
    IMAGE_CONCEPTS,
    IMAGE_DETECTIONS,
    IMAGE_EMBEDDINGS,
    IMAGE_FACTS,
    TEXT_EMBEDDINGS,
)
from editlens.warehouse import Warehouse, atomic_write_table

SCHEMAS = EMBED_SCHEMAS


def embedding_array(vectors: np.ndarray) -> pa.Array:
    """(n, d) float32 -> list<float32> without a Python loop."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = v.shape if v.ndim == 2 else (0, 0)
    offsets = pa.array(np.arange(0, n * d + 1, max(d, 1), dtype=np.int32)[: n + 1])
    return pa.ListArray.from_arrays(offsets, pa.array(v.reshape(-1)))


def embedding_matrix(col: pa.ChunkedArray | pa.Array, d: int) -> tuple[np.ndarray, np.ndarray]:
    """list<float> column -> (n, d) float64 matrix, rows re-normalised (zeros where null), and a validity mask."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool) if n else np.zeros(0, bool)
    out = np.zeros((n, d), dtype=np.float64)
    if valid.any():
        flat = pc.list_flatten(arr).to_numpy(zero_copy_only=False).astype(np.float64)
        out[valid] = flat.reshape(int(valid.sum()), d)
        norms = np.linalg.norm(out[valid], axis=1, keepdims=True)
        out[valid] = out[valid] / np.maximum(norms, 1e-12)  # re-normalise in float64: cos(x, x) == 1
    return out, valid


def to_table(name: str, columns: dict[str, object]) -> pa.Table:
    """The table `name` in its contract schema from one value per column, by name: a column the schema lacks or a
    schema column not given is an error, so a job and the contract cannot drift apart."""
    schema = SCHEMAS[name]
    if set(columns) != set(schema.names):
        raise ValueError(f"{name}: columns {sorted(set(columns) ^ set(schema.names))} are in the job or the "
                         "contract (editlens/contract/tables.py) but not both")
    arrays = []
    for f in schema:
        col = columns[f.name]
        arrays.append(col if isinstance(col, (pa.Array, pa.ChunkedArray)) else pa.array(col, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_part(wh: Warehouse, name: str, shard: str, table: pa.Table) -> Path:
    return atomic_write_table(table.cast(SCHEMAS[name]), wh.shard_path(name, shard))


def part_exists(wh: Warehouse, name: str, shard: str) -> bool:
    return wh.shard_path(name, shard).exists()
