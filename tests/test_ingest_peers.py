"""InstructPix2Pix, MagicBrush and HQ-Edit readers on small files in their real layouts."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures_ingest import HF_IMAGE, PNG, hf_image, ingest, table, touch, write_lines, write_parquet


def images_by_id(wh):
    return {i["image_id"]: i for i in table(wh, "images")}


# ---- InstructPix2Pix --------------------------------------------------------------------------------------------

def ip2p_parquet(root, name="data/train-00000-of-00002.parquet", binary=False, rows=None):
    rows = rows or [
        ("a cat", "add a hat", "a cat with a hat", PNG, PNG + b"1"),
        ("a dog", "make it night", "a dog at night", PNG, None),  # target image cell empty
        ("a car", "", "a car", PNG, PNG),  # empty instruction
    ]
    img_type = pa.binary() if binary else HF_IMAGE
    wrap = (lambda b: b) if binary else hf_image
    return write_parquet(root / name, {
        "original_prompt": [r[0] for r in rows],
        "original_image": pa.array([wrap(r[3]) for r in rows], img_type),
        "edit_prompt": [r[1] for r in rows],
        "edited_prompt": [r[2] for r in rows],
        "edited_image": pa.array([wrap(r[4]) for r in rows], img_type),
    }, row_group_size=2)


@pytest.mark.parametrize("binary", [False, True])
def test_ip2p_parquet_images_referenced_in_place(tmp_path, binary):
    root = tmp_path / "instructpix2pix-clip-filtered"
    ip2p_parquet(root, binary=binary)
    s = ingest(root, tmp_path / "wh", workers=1)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (3, 2, 1)
    edits = sorted(table(tmp_path / "wh", "edits"), key=lambda e: e["source_record"])
    assert [e["source_record"] for e in edits] == [0, 1]
    e = edits[0]
    assert (e["dataset"], e["part"], e["split"]) == ("instructpix2pix", "hf-parquet", "train")
    assert (e["instruction"], e["source_caption"], e["target_caption"]) == ("add a hat", "a cat", "a cat with a hat")
    assert e["source_file"] == "data/train-00000-of-00002.parquet"
    imgs = images_by_id(tmp_path / "wh")
    src, tgt = imgs[e["source_image_id"]], imgs[e["target_image_id"]]
    assert (tgt["location_kind"], tgt["path"], tgt["row"]) == ("parquet", src["path"], src["row"])
    col = "original_image" if binary else "original_image.bytes"
    assert (src["location_kind"], src["path"], src["row_group"], src["row"], src["column"], src["exists"]) == \
        ("parquet", "data/train-00000-of-00002.parquet", 0, 0, col, True)
    assert src["root"] == str(root)
    second = imgs[edits[1]["target_image_id"]]
    assert (second["row_group"], second["row"], second["exists"]) == (0, 1, False)  # empty cell: missing
    assert [r["reason"] for r in table(tmp_path / "wh", "rejects")] == ["empty_instruction"]
    assert table(tmp_path / "wh", "rejects")[0]["source_record"] == 2
    # the referenced bytes really are where the row says
    pf = pq.ParquetFile(root / src["path"])
    cell = pf.read_row_group(src["row_group"], columns=[src["column"].split(".")[0]]).column(0)[src["row"]]
    assert (cell.as_py() if binary else cell.as_py()["bytes"]) == PNG
    # nothing copied into the warehouse
    assert sum(p.stat().st_size for p in (tmp_path / "wh").rglob("*.parquet")) < 40_000


def test_ip2p_original_release(tmp_path):
    root = tmp_path / "ip2p"
    (root).mkdir()
    (root / "seeds.json").write_text(json.dumps([["0001", [11, 12]], ["0002", [5]], ["0003", [7]],
                                                 ["../escape", [1]], ["0001", [11]]]))
    (root / "0001").mkdir()
    (root / "0001/prompt.json").write_text(json.dumps({"input": "a horse", "edit": "make it a zebra",
                                                       "output": "a zebra", "url": "http://x"}))
    write_lines(root / "0001/metadata.jsonl", [
        {"seed": 11, "p2p_threshold": 0.5, "cfg_scale": 7.5, "clip_sim_0": 0.3, "clip_sim_1": 0.31,
         "clip_sim_dir": 0.25, "clip_sim_image": 0.8},
        {"seed": 12, "p2p_threshold": 0.6, "cfg_scale": 7.5, "clip_sim_0": 0.3, "clip_sim_1": 0.29,
         "clip_sim_dir": 0.21, "clip_sim_image": 0.77},
    ])
    touch(root / "0001/11_0.jpg")
    (root / "0002").mkdir()
    (root / "0002/prompt.json").write_text(json.dumps({"caption": "a boat", "edit": "sink it", "output": "x"}))
    (root / "0003").mkdir()
    (root / "0003/prompt.json").write_text('{"input": "broken"')
    s = ingest(root, tmp_path / "wh", workers=1)
    edits = sorted(table(tmp_path / "wh", "edits"), key=lambda e: (e["source_record"], e["extra"]))
    assert [(e["source_record"], json.loads(e["extra"])["seed"]) for e in edits] == [(1, 11), (1, 12), (2, 5)]
    e = edits[0]
    assert (e["instruction"], e["source_caption"], e["target_caption"]) == ("make it a zebra", "a horse", "a zebra")
    assert json.loads(e["provided_scores"]) == {"p2p_threshold": 0.5, "cfg_scale": 7.5, "clip_sim_0": 0.3,
                                                "clip_sim_1": 0.31, "clip_sim_dir": 0.25, "clip_sim_image": 0.8}
    assert json.loads(e["extra"])["url"] == "http://x"
    assert edits[2]["source_caption"] == "a boat" and edits[2]["provided_scores"] == "{}"
    imgs = images_by_id(tmp_path / "wh")
    assert (imgs[e["source_image_id"]]["path"], imgs[e["source_image_id"]]["exists"]) == ("0001/11_0.jpg", True)
    assert imgs[e["target_image_id"]]["exists"] is False
    rejects = sorted((r["source_file"], r["reason"]) for r in table(tmp_path / "wh", "rejects"))
    assert rejects == [("0003/prompt.json", "malformed_json"), ("seeds.json", "duplicate_record"),
                       ("seeds.json", "unsafe_path")]
    # records: seeds.json entries (one per prompt dir) and the malformed prompt.json; edits: one per seed
    assert s.records_read == 5 and s.records_loaded + s.records_rejected == 6
    run = table(tmp_path / "wh", "ingest_runs")[0]
    assert (run["source_file"], run["unit"]) == ("seeds.json", "seeds.json[1-5]")


# ---- MagicBrush -------------------------------------------------------------------------------------------------

def test_magicbrush_parquet_sessions_and_masks(tmp_path):
    root = tmp_path / "MagicBrush"
    write_parquet(root / "data/dev-00000-of-00001.parquet", {
        "img_id": ["327726", "327726", "9", "9"],
        "turn_index": pa.array([1, 2, 1, 1], pa.int32()),
        "source_img": pa.array([hf_image(PNG)] * 4, HF_IMAGE),
        "mask_img": pa.array([hf_image(PNG), hf_image(PNG), None, hf_image(PNG)], HF_IMAGE),
        "instruction": ["put a hat on him", "make the hat red", "remove the cup", "again"],
        "target_img": pa.array([hf_image(PNG)] * 4, HF_IMAGE),
    })
    s = ingest(root, tmp_path / "wh", workers=1)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (4, 3, 1)
    edits = sorted(table(tmp_path / "wh", "edits"), key=lambda e: e["source_record"])
    assert [(e["session_id"], e["turn_index"], e["split"]) for e in edits] == \
        [("327726", 1, "dev"), ("327726", 2, "dev"), ("9", 1, "dev")]
    imgs = images_by_id(tmp_path / "wh")
    assert imgs[edits[0]["mask_image_id"]]["column"] == "mask_img.bytes"
    assert edits[2]["mask_image_id"] is None
    r = table(tmp_path / "wh", "rejects")[0]
    assert (r["source_record"], r["reason"], r["turn_index"]) == (3, "duplicate_record", 1)


def test_magicbrush_test_layout(tmp_path):
    root = tmp_path / "test"
    sessions = {
        "242679": [
            {"input": "242679-input.png", "mask": "242679-mask1.png", "output": "242679-output1.png",
             "instruction": "Put a cat on the seat."},
            {"input": "242679-output1.png", "mask": "242679-mask2.png", "output": "242679-output2.png",
             "instruction": "Make the cat black."},
        ],
        "100": [{"input": "100-input.png", "mask": "100-mask1.png", "output": "100-output1.png",
                 "instruction": ""}],
    }
    (root / "images/242679").mkdir(parents=True)
    (root / "edit_sessions.json").write_text(json.dumps(sessions))
    (root / "global_descriptions.json").write_text(json.dumps({"242679": {
        "242679-input.png": "a bench in a park", "242679-output1.png": "a cat on a bench",
        "242679-output2.png": "a black cat on a bench"}}))
    (root / "local_descriptions.json").write_text(json.dumps({"242679": {"242679-output1.png": "a cat"}}))
    for f in ("242679-input.png", "242679-mask1.png", "242679-output1.png"):
        touch(root / "images/242679" / f)
    s = ingest(root, tmp_path / "wh", workers=1)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (2, 2, 1)  # 2 sessions, 3 turns
    edits = sorted(table(tmp_path / "wh", "edits"), key=lambda e: e["turn_index"])
    assert [(e["session_id"], e["turn_index"], e["split"], e["part"]) for e in edits] == \
        [("242679", 1, "test", "test-layout"), ("242679", 2, "test", "test-layout")]
    assert (edits[0]["source_caption"], edits[0]["target_caption"]) == ("a bench in a park", "a cat on a bench")
    assert json.loads(edits[0]["extra"]) == {"local_description": "a cat"}
    assert edits[1]["source_image_id"] == edits[0]["target_image_id"]  # turn 2 starts from turn 1's output
    imgs = images_by_id(tmp_path / "wh")
    assert imgs[edits[0]["source_image_id"]]["path"] == "test/images/242679/242679-input.png"
    assert imgs[edits[0]["mask_image_id"]]["exists"] is True
    assert imgs[edits[1]["target_image_id"]]["exists"] is False
    r = table(tmp_path / "wh", "rejects")[0]
    assert (r["source_record"], r["turn_index"], r["reason"]) == (2, 1, "empty_instruction")


# ---- HQ-Edit ----------------------------------------------------------------------------------------------------

def test_hqedit_forward_and_inverse(tmp_path):
    root = tmp_path / "HQ-Edit"
    write_parquet(root / "data/train-00000-of-00001.parquet", {
        "input": ["a red car", "a cat"],
        "input_image": pa.array([hf_image(PNG), hf_image(PNG)], HF_IMAGE),
        "edit": ["make the car blue", "add a hat"],
        "inverse_edit": ["make the car red", None],
        "output": ["a blue car", "a cat with a hat"],
        "output_image": pa.array([hf_image(PNG), hf_image(PNG)], HF_IMAGE),
    })
    s = ingest(root, tmp_path / "wh", workers=1)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (2, 3, 1)  # 2 rows, 4 edits
    edits = table(tmp_path / "wh", "edits")
    fwd = next(e for e in edits if e["instruction"] == "make the car blue")
    inv = next(e for e in edits if e["instruction"] == "make the car red")
    assert (fwd["source_image_id"], fwd["target_image_id"]) == (inv["target_image_id"], inv["source_image_id"])
    assert (inv["source_caption"], inv["target_caption"]) == ("a blue car", "a red car")
    assert json.loads(fwd["extra"])["direction"] == "forward" and json.loads(inv["extra"])["direction"] == "inverse"
    assert fwd["edit_id"] != inv["edit_id"] and fwd["dataset"] == "hq-edit"
    r = table(tmp_path / "wh", "rejects")[0]
    assert (r["source_record"], r["reason"]) == (1, "missing_key")


# ---- unreadable Parquet -----------------------------------------------------------------------------------------

def test_unreadable_parquet_is_a_reject(tmp_path):
    root = tmp_path / "instructpix2pix"
    ip2p_parquet(root)
    bad = root / "data/train-00001-of-00002.parquet"
    bad.write_bytes(b"PAR1 this is not a parquet file PAR1")
    s = ingest(root, tmp_path / "wh", workers=1)
    rejects = table(tmp_path / "wh", "rejects")
    assert ("data/train-00001-of-00002.parquet", None, "unreadable_parquet") in \
        [(r["source_file"], r["source_record"], r["reason"]) for r in rejects]
    assert s.records_loaded == 2 and s.records_read == s.records_loaded + s.records_rejected == 4


def test_unreadable_row_group_rejects_each_of_its_rows(tmp_path, monkeypatch):
    root = tmp_path / "instructpix2pix"
    ip2p_parquet(root, name="data/train-00000-of-00001.parquet")  # 3 rows in row groups of 2 and 1
    real = pq.ParquetFile.read_row_group

    def broken_first(self, i, *args, **kwargs):
        if i == 0:
            raise OSError("corrupt page")
        return real(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", broken_first)
    s = ingest(root, tmp_path / "wh", workers=1)
    bad = [(r["source_record"], r["reason"]) for r in table(tmp_path / "wh", "rejects")
           if "corrupt page" in r["message"]]
    assert sorted(bad) == [(0, "unreadable_parquet"), (1, "unreadable_parquet")]
    assert s.records_read == 3 == s.records_loaded + s.records_rejected


def test_truncated_parquet_with_forced_format(tmp_path):
    root = tmp_path / "x"
    good = ip2p_parquet(root, name="train-00000.parquet")
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    s = ingest(good, tmp_path / "wh", workers=1, format="ip2p-parquet")
    assert [r["reason"] for r in table(tmp_path / "wh", "rejects")] == ["unreadable_parquet"]
    assert s.records_read == 1 and s.records_loaded == 0


@pytest.mark.parametrize("content,reason", [('[["0001", [1]', "malformed_json"), ('{"a": 1}', "wrong_type")])
def test_ip2p_unusable_seeds_json_is_one_reject(tmp_path, content, reason):
    root = tmp_path / "ip2p"
    root.mkdir()
    (root / "seeds.json").write_text(content)
    s = ingest(root, tmp_path / "wh", workers=1)
    assert [(r["source_file"], r["reason"]) for r in table(tmp_path / "wh", "rejects")] == [("seeds.json", reason)]
    assert (s.records_read, s.records_rejected) == (1, 1)


def test_ip2p_chunks_follow_seeds_json(tmp_path, monkeypatch):
    import editlens.ingest.detect as detect_mod

    monkeypatch.setattr(detect_mod, "IP2P_CHUNK", 2)
    root = tmp_path / "ip2p"
    for d in ("a", "b", "c"):
        (root / d).mkdir(parents=True)
        (root / d / "prompt.json").write_text(json.dumps({"input": d, "edit": f"edit {d}", "output": d + "!"}))
    (root / "seeds.json").write_text(json.dumps([["a", [1]], ["b", [2]], ["c", [3]]]))
    s = ingest(root, tmp_path / "wh", workers=1)
    assert [f.unit for f in s.ingested] == ["seeds.json[1-2]", "seeds.json[3-3]"]
    assert sorted(e["source_record"] for e in table(tmp_path / "wh", "edits")) == [1, 2, 3]
    (root / "seeds.json").write_text(json.dumps([["a", [1]], ["b", [2]]]))  # shrank: the second chunk goes
    s = ingest(root, tmp_path / "wh", workers=1)
    assert [f.status for f in s.files] == ["unchanged"]
    assert sorted(e["instruction"] for e in table(tmp_path / "wh", "edits")) == ["edit a", "edit b"]
    assert [r["unit"] for r in table(tmp_path / "wh", "ingest_runs")] == ["seeds.json[1-2]"]
    assert s.warehouse_edits == 2  # the summary counts what is committed after the removal
