"""Tiny hand-built warehouses for the embed tests and bench (edits/images Parquet written per ARCHITECTURE.md)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from editlens.warehouse import Warehouse, atomic_write_table


def _id(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def draw(seed: int, size: int = 96, shape: str = "circle") -> Image.Image:
    rng = np.random.default_rng(seed)
    bg = tuple(int(x) for x in rng.integers(0, 255, 3))
    fg = tuple(int(x) for x in rng.integers(0, 255, 3))
    img = Image.new("RGB", (size, size + 16), bg)
    d = ImageDraw.Draw(img)
    x, y = int(rng.integers(10, size // 2)), int(rng.integers(10, size // 2))
    if shape == "circle":
        d.ellipse([x, y, x + 30, y + 30], fill=fg)
    else:
        d.rectangle([x, y, x + 30, y + 30], fill=fg)
    return img


def build_warehouse(root: Path, n_extra: int = 0) -> dict:
    """A dataset folder + warehouse with: ok JPEG/PNG images, a byte-identical copy under another name, a
    missing file, a truncated JPEG, a non-image file, an image embedded in Parquet; edits incl. a no-op pair."""
    root = Path(root)
    data = root / "data"
    (data / "images").mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def save(name: str, img: Image.Image, fmt: str) -> None:
        p = data / "images" / name
        img.save(p, fmt, quality=90) if fmt == "JPEG" else img.save(p, fmt)
        files[name] = p

    for i in range(6 + n_extra):
        save(f"a{i}.jpg", draw(i), "JPEG")
    save("b0.png", draw(100, shape="square"), "PNG")
    (data / "images" / "copy_of_a0.jpg").write_bytes(files["a0.jpg"].read_bytes())
    files["copy_of_a0.jpg"] = data / "images" / "copy_of_a0.jpg"
    full = io.BytesIO()
    draw(7).save(full, "JPEG", quality=90)
    (data / "images" / "trunc.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    files["trunc.jpg"] = data / "images" / "trunc.jpg"
    (data / "images" / "notimage.jpg").write_bytes(b"this is not an image at all" * 10)
    files["notimage.jpg"] = data / "images" / "notimage.jpg"

    # one image embedded in a Parquet file (HF style struct {bytes, path})
    emb = io.BytesIO()
    draw(200).save(emb, "PNG")
    ptbl = pa.table({"image": pa.array([{"bytes": emb.getvalue(), "path": "x.png"}],
                                        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))})
    pq.write_table(ptbl, data / "embedded.parquet")

    rows = []

    def img_row(name: str, exists: bool = True, kind: str = "file", **kw) -> str:
        iid = _id("test", name)
        rows.append({"image_id": iid, "dataset": "seed-data-edit", "part": "part2", "location_kind": kind,
                     "root": str(data), "path": kw.get("path", f"images/{name}"), "row_group": kw.get("row_group"),
                     "row": kw.get("row"), "column": kw.get("column"), "exists": exists})
        return iid

    ids = {n: img_row(n) for n in sorted(files)}
    ids["missing.jpg"] = img_row("missing.jpg", exists=False)
    ids["embedded"] = img_row("embedded", kind="parquet", path="embedded.parquet", row_group=0, row=0,
                              column="image.bytes")
    images = pa.Table.from_pylist(rows, schema=pa.schema([
        ("image_id", pa.string()), ("dataset", pa.string()), ("part", pa.string()),
        ("location_kind", pa.string()), ("root", pa.string()), ("path", pa.string()),
        ("row_group", pa.int32()), ("row", pa.int64()), ("column", pa.string()), ("exists", pa.bool_())]))

    def edit(src: str, tgt: str, instr: str, scap: str | None, tcap: str | None) -> dict:
        return {"edit_id": _id(src, tgt, instr), "dataset": "seed-data-edit", "part": "part2", "split": "train",
                "session_id": None, "turn_index": 1, "source_image_id": ids[src], "target_image_id": ids[tgt],
                "mask_image_id": None, "instruction": instr, "instruction_ori": None, "source_caption": scap,
                "target_caption": tcap, "provided_labels": [], "provided_scores": "{}", "extra": "{}",
                "source_file": "x.jsonl", "source_record": 1, "ingest_run_id": "run0"}

    edits = [
        edit("a0.jpg", "a1.jpg", "make it different", "a red circle", "a blue circle"),
        edit("a0.jpg", "a0.jpg", "do nothing", "a red circle", "a red circle"),          # no-op pair
        edit("a2.jpg", "missing.jpg", "remove the circle", "a circle", "nothing"),      # missing target
        edit("trunc.jpg", "a3.jpg", "add a circle", None, "a circle"),                  # truncated source
        edit("a4.jpg", "b0.png", "In this image, turn the circle into a square, with no other changes.",
             None, None),                                                               # no captions; framed
        edit("notimage.jpg", "embedded", "restore the image", "noise", "a picture"),    # unsupported source
        edit("a0.jpg", "copy_of_a0.jpg", "keep it", "same", "same again"),              # duplicate content
        edit("a5.jpg", "embedded", "paint it", "a picture", "a painting"),
    ]
    for i in range(n_extra):
        edits.append(edit(f"a{i}.jpg", f"a{(i + 1) % (6 + n_extra)}.jpg", f"extra edit {i}", f"cap {i}", f"cap {i + 1}"))
    wh = Warehouse.at(root / "wh").ensure()
    atomic_write_table(images, wh.shard_path("images", "part-0"))
    atomic_write_table(pa.Table.from_pylist(edits), wh.shard_path("edits", "part-0"))
    return {"warehouse": wh, "ids": ids, "edits": edits}
