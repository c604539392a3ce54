"""Output table schemas and the writer (one atomic Parquet file per shard and table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from editlens.warehouse import Warehouse, atomic_write_table

IMAGE_FACTS = "image_facts"
IMAGE_EMBEDDINGS = "image_embeddings"
TEXT_EMBEDDINGS = "text_embeddings"
IMAGE_CONCEPTS = "image_concepts"
EDIT_SCORES = "edit_scores"
EMBED_MODELS = "embed_models"

SCHEMAS: dict[str, pa.Schema] = {
    IMAGE_FACTS: pa.schema([
        ("image_id", pa.string()),
        ("sha256", pa.string()),
        ("phash", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("mode", pa.string()),
        ("file_size", pa.int64()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("brightness", pa.float64()),
        ("contrast", pa.float64()),
        ("entropy", pa.float64()),
        ("blur", pa.float64()),
        ("thumb", pa.binary()),
    ]),
    IMAGE_EMBEDDINGS: pa.schema([
        ("sha256", pa.string()),
        ("model_key", pa.string()),
        ("embedding", pa.list_(pa.float32())),
    ]),
    TEXT_EMBEDDINGS: pa.schema([
        ("text_hash", pa.string()),
        ("model_key", pa.string()),
        ("embedding", pa.list_(pa.float32())),
    ]),
    IMAGE_CONCEPTS: pa.schema([
        ("sha256", pa.string()),
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("preprocess", pa.string()),
        ("prompt_set", pa.string()),
        ("concept_group", pa.string()),
        ("concept", pa.string()),
        ("score", pa.float32()),
    ]),
    EDIT_SCORES: pa.schema([
        ("edit_id", pa.string()),
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("preprocess", pa.string()),
        ("clip_i", pa.float64()),
        ("clip_t_target_caption", pa.float64()),
        ("clip_t_instruction", pa.float64()),
        ("directional_caption", pa.float64()),
        ("directional_instruction", pa.float64()),
        ("directional_instruction_core", pa.float64()),
        ("pixel_l1", pa.float64()),
        ("pixel_mse", pa.float64()),
        ("pixel_changed_frac", pa.float64()),
        ("phash_distance", pa.int32()),
        ("null_reason", pa.string()),
    ]),
    EMBED_MODELS: pa.schema([
        ("model_key", pa.string()),
        ("model_name", pa.string()),
        ("pretrained", pa.string()),
        ("weights_sha256", pa.string()),
        ("preprocess", pa.string()),
        ("embed_dim", pa.int32()),
        ("logit_scale", pa.float64()),
    ]),
}


def embedding_array(vectors: np.ndarray) -> pa.Array:
    """(n, d) float32 -> list<float32> without a Python loop."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = v.shape if v.ndim == 2 else (0, 0)
    offsets = pa.array(np.arange(0, n * d + 1, max(d, 1), dtype=np.int32)[: n + 1])
    return pa.ListArray.from_arrays(offsets, pa.array(v.reshape(-1)))


def to_table(name: str, columns: dict[str, object]) -> pa.Table:
    schema = SCHEMAS[name]
    arrays = []
    for f in schema:
        col = columns[f.name]
        arrays.append(col if isinstance(col, (pa.Array, pa.ChunkedArray)) else pa.array(col, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_part(wh: Warehouse, name: str, shard: str, table: pa.Table) -> Path:
    return atomic_write_table(table.cast(SCHEMAS[name]), wh.shard_path(name, shard))


def part_exists(wh: Warehouse, name: str, shard: str) -> bool:
    return wh.shard_path(name, shard).exists()
