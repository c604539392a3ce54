"""Edit ids and image ids pinned to literal values: a change of the id formulas (on any mapper path) fails here."""

from __future__ import annotations

from editlens.ingest.images import ImageChecker, ParquetImage
from editlens.ingest.mapper import UnitMapper, add_file_batch, add_turn_batch


def _mapper(part: str = "part2") -> UnitMapper:
    return UnitMapper(dataset="seed-data-edit", part=part, split="train", root="/r", image_root="real_editing/images",
                      source_file="a.jsonl", run_id="run", checker=ImageChecker(False))


def test_record_path_ids():
    m = _mapper()
    m.add_edit(record=1, raw=b"", instruction="Remove the dog", source="s/1.jpg", target="t/1.jpg")
    m.add_edit(record=2, raw=b"", instruction="Add a hat \u00e9", source="s/2.jpg", target="t/2.jpg",
               session_id="sess", turn_index=2)
    m.add_edit(record=3, raw=b"", instruction="x", source=ParquetImage("data/a.parquet", 0, 3, "src.bytes", None),
               target=ParquetImage("data/a.parquet", 1, 0, "tgt", None))
    got = [(r["edit_id"], r["source_image_id"], r["target_image_id"]) for r in m.tables()["edits"].to_pylist()]
    assert got == [("43d59d58c70694ab", "f3a127fec040fe0a", "30c8941bf551f287"),
                   ("3d1012cfc3e6bc91", "2da2248dd9ac05e6", "f336b523c109d374"),
                   ("52ed83c494cfe68a", "518bc793d3b21155", "65b373a24ecb1ed8")]


def test_batch_paths_ids():
    m = _mapper()
    add_file_batch(m, records=[1], raws=[b""], instruction=["Remove the dog"], source=["s/1.jpg"], target=["t/1.jpg"])
    e = m.tables()["edits"].to_pylist()[0]
    assert (e["edit_id"], e["source_image_id"], e["target_image_id"]) == \
        ("43d59d58c70694ab", "f3a127fec040fe0a", "30c8941bf551f287")
    t = _mapper("part3")
    assert add_turn_batch(t, records=[1], session_ids=["sess"], turns=[2], source=["s/2.jpg"], target=["t/2.jpg"],
                          instruction=["Add a hat \u00e9"], extra=["{}"])
    e = t.tables()["edits"].to_pylist()[0]
    assert (e["edit_id"], e["source_image_id"], e["target_image_id"]) == \
        ("396eae29171a4089", "2da2248dd9ac05e6", "f336b523c109d374")
