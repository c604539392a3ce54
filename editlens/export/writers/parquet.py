"""Parquet in the Hugging Face layout: `data/<split>-00000-of-00001.parquet`, one row per kept edit with the
canonical text columns and image columns as HF image structs `{bytes, path}`: bytes embedded (``copy``) or
null with the image's location in `path` (``reference``)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract import LastRowGroup
from editlens.export.rows import read_image

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
SCHEMA = pa.schema([
    ("edit_id", pa.string()), ("dataset", pa.string()), ("part", pa.string()), ("split", pa.string()),
    ("session_id", pa.string()), ("turn_index", pa.int32()), ("instruction", pa.string()),
    ("source_caption", pa.string()), ("target_caption", pa.string()),
    ("source_image", IMAGE), ("target_image", IMAGE), ("mask_image", IMAGE),
])
ROW_GROUP = 1000


def write(rows: list[dict], out: Path, images: str) -> tuple[list[str], int]:
    columns = LastRowGroup()
    n_images = 0

    def image(ref):
        nonlocal n_images
        if ref is None:
            return None
        if images == "copy":
            data = read_image(ref, columns)
            n_images += data is not None
            return {"bytes": data, "path": os.path.basename(ref.path) if ref.location_kind == "file" else None}
        return {"bytes": None, "path": ref.location}

    written = []
    for split in sorted({r["split"] or "train" for r in rows}):
        part = [r for r in rows if (r["split"] or "train") == split]
        cols = {f.name: [] for f in SCHEMA}
        for r in part:
            for name in ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction",
                         "source_caption", "target_caption"):
                cols[name].append(r[name])
            for name in ("source_image", "target_image", "mask_image"):
                cols[name].append(image(r[name]))
        rel = f"data/{split}-00000-of-00001.parquet"
        (out / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols, schema=SCHEMA), out / rel, row_group_size=ROW_GROUP, compression="zstd")
        written.append(rel)
    return written, n_images
