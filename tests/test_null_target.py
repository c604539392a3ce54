"""A benchmark edit without a target image (Emu Edit test set) goes through embed and dbt: its scores are null
with a reason, and the build succeeds."""

from __future__ import annotations

import io

import duckdb
import pyarrow as pa
from PIL import Image

from editlens.build import run_build
from editlens.embeddings.main import EmbedConfig, run_embed
from editlens.warehouse import Warehouse
from fixtures_ingest import HF_IMAGE, ingest, write_parquet


def png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), color).save(buf, "PNG")
    return buf.getvalue()


def test_target_less_edits_are_scored_null_with_a_reason_and_build(tmp_path):
    top = tmp_path / "downloads"
    write_parquet(top / "emu_edit_test_set/data/validation-00000-of-00002.parquet", {
        "instruction": ["change the background to a beach", "remove the vase"],
        "image": pa.array([{"bytes": png((200, 30, 30)), "path": "0.png"},
                           {"bytes": png((30, 200, 30)), "path": "1.png"}], HF_IMAGE),
        "task": ["background", "remove"], "split": ["validation"] * 2, "idx": [0, 1], "hash": ["a", "b"],
        "input_caption": ["a dog in a room", "a vase on a table"], "output_caption": ["a dog on a beach", "a table"],
    })
    wh_dir = tmp_path / "wh"
    s = ingest(top, wh_dir, workers=1)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (2, 2, 0)
    wh = Warehouse.at(wh_dir)
    run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0,
                          threads=1))
    con = duckdb.connect()
    rows = con.execute(f"select clip_i, pixel_l1, null_reason from read_parquet('{wh.table_glob('edit_scores')}')"
                       ).fetchall()
    assert len(rows) == 2
    assert all(r[0] is None and r[1] is None and "no_target_image" in r[2] for r in rows)
    assert run_build(wh, ["--quiet"]) == 0
    db = duckdb.connect(str(wh_dir / "editlens.duckdb"), read_only=True)
    got = db.sql("select dataset, count(*), count(target_image_id), count(clip_i) from edits group by 1").fetchall()
    assert got == [("emu-edit", 2, 0, 0)]
