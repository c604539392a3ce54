"""Parquet in the Hugging Face layout, one dataset repo folder per dataset: `<dataset>/data/<split>-00000-of-00001.parquet`.
InstructPix2Pix and MagicBrush edits get their release's own columns (`original_image`, `edit_prompt`,
`edited_image`, `original_prompt`, `edited_prompt`; `img_id`, `turn_index`, `source_img`, `mask_img`,
`instruction`, `target_img`), so their readers take the export back; other datasets get EditLens's columns
(edit id, coordinates, instruction, captions, `source_image`, `target_image`, `mask_image`). Image columns are
HF image structs `{bytes, path}`: bytes embedded (``copy``) or null with the image's location in `path`
(``reference``). Written one row group at a time."""

from __future__ import annotations

import os
from itertools import groupby
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract import LastRowGroup
from editlens.export.rows import read_image

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
ROW_GROUP = 500

# output column -> (type, what it holds: a row key, or "<name>_image" for an image)
GENERIC = {
    "edit_id": (pa.string(), "edit_id"), "dataset": (pa.string(), "dataset"), "part": (pa.string(), "part"),
    "split": (pa.string(), "split"), "session_id": (pa.string(), "session_id"),
    "turn_index": (pa.int32(), "turn_index"), "instruction": (pa.string(), "instruction"),
    "source_caption": (pa.string(), "source_caption"), "target_caption": (pa.string(), "target_caption"),
    "source_image": (IMAGE, "source_image"), "target_image": (IMAGE, "target_image"),
    "mask_image": (IMAGE, "mask_image"),
}
NATIVE = {
    "instructpix2pix": {
        "original_image": (IMAGE, "source_image"), "edit_prompt": (pa.string(), "instruction"),
        "edited_image": (IMAGE, "target_image"), "original_prompt": (pa.string(), "source_caption"),
        "edited_prompt": (pa.string(), "target_caption"),
    },
    "magicbrush": {
        "img_id": (pa.string(), "session_id"), "turn_index": (pa.int32(), "turn_index"),
        "source_img": (IMAGE, "source_image"), "mask_img": (IMAGE, "mask_image"),
        "instruction": (pa.string(), "instruction"), "target_img": (IMAGE, "target_image"),
    },
}


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
    key = lambda r: (r["dataset"], r["split"] or "train")
    for (dataset, split), group in groupby(sorted(rows, key=key), key=key):
        layout = NATIVE.get(dataset, GENERIC)
        schema = pa.schema([(name, typ) for name, (typ, _) in layout.items()])
        rel = f"{dataset}/data/{split}-00000-of-00001.parquet"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(out / rel, schema, compression="zstd") as writer:
            group = list(group)
            for start in range(0, len(group), ROW_GROUP):
                chunk = group[start:start + ROW_GROUP]
                cols = {name: [image(r[src]) if typ == IMAGE else r[src] for r in chunk]
                        for name, (typ, src) in layout.items()}
                writer.write_table(pa.table(cols, schema=schema))
        written.append(rel)
    return written, n_images
