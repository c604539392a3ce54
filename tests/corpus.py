"""A download folder as users really have it: every dataset ingest reads, side by side under one ``data/``, in the
real layouts and folder names (small files). ``build_corpus`` returns what it wrote, so tests know every record.

    data/
      SEED-Data-Edit-Part1-Openimages/auto_editing/openimages/{annotations,annotations_GPT4V}/split_0001.jsonl
                                     /auto_editing/openimages/images/{source_images,target_images}/<id>.jpg
      mirror/hf/AILab-CVC/SEED-Data-Edit-Part1-Unsplash/auto_editing/unsplash/{annotations,annotations_GPT4V}/...
      SEED-Data-Edit-Part2-3/real_editing/annotations/split_0001.jsonl, split_0002.jsonl (one record in both)
                            /real_editing/images/images/<n>_0.jpg, <n>_1.jpg
                            /multi_turn_editing/annotations/split_0001.jsonl
                            /multi_turn_editing/images/data/20240407_586P_2211turns/Data/176/<hash>_edit<k>.jpg
      edit_data.jsonl                       loose Part-2 records, paths images/<n>_0.jpg (images beside: images/)
      subsets/part3/split_0001.jsonl        loose Part-3 file with the same name as a Part-2 file
      ip2p/data/train-0000{0,1}-of-00002-<hash>.parquet
      ip2p-original/data/clip-filtered-dataset/seeds.json, <dir>/prompt.json, metadata.jsonl, <seed>_{0,1}.jpg
      magicbrush/data/{train,dev}-00000-of-00001-<hash>.parquet
      MagicBrush_test/test/edit_sessions.json, edit_turns.json, global_descriptions.json, local_descriptions.json,
                          images/<id>/<id>-input.png, -output1.png, ...
      hq-edit/data/train-00000-of-00001-<hash>.parquet
      notes.json, misc/unknown.parquet      files no dataset claims (reported as unplaced)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
PNG = b"\x89PNG\r\n\x1a\ncorpus-png"
JPEG = b"\xff\xd8\xff\xe0corpus-jpeg"
SHARED_PART2 = Path("/work/shared/data/seed-part2-dev.jsonl")


@dataclass
class Corpus:
    top: Path
    # natural sub-folders a user would point at -> edits ingest must account for there (loaded + rejected)
    folders: dict[str, int] = field(default_factory=dict)
    edits: int = 0  # edits (loaded + rejected) of the whole corpus
    duplicates: int = 0  # edits present in two annotation files
    unplaced: set[str] = field(default_factory=set)  # paths relative to top


def _lines(path: Path, recs: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")


def _touch(path: Path, data: bytes = JPEG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _img(b: bytes | None, name: str | None = None):
    return None if b is None else {"bytes": b, "path": name}


def _parquet(path: Path, cols: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path, row_group_size=2)


def part2_records(n: int, start: int = 1, real: Path | None = None) -> list[dict]:
    """Part-2 records: the real ones when ``real`` exists (lines ``start``..), else made up in their shape."""
    if real is not None and real.exists():
        with real.open(encoding="utf-8") as fh:
            lines = [json.loads(x) for x in fh if x.strip()]
        return lines[start - 1:start - 1 + n]
    return [{"source_image": f"images/{k}_0.jpg", "target_image": f"images/{k}_1.jpg",
             "instruction": f"remove object {k}", "task_type": ["object-remove"], "instruction_cn": f"移除{k}"}
            for k in range(start, start + n)]


def build_corpus(base: Path, real_part2: Path | None = None) -> Corpus:
    top = base / "data"
    c = Corpus(top)

    # ---- SEED Part-1 OpenImages (with annotations_GPT4V, as the repo ships it)
    oi = top / "SEED-Data-Edit-Part1-Openimages"
    recs = [{"source_image": f"source_images/oi{k}.jpg", "target_image": f"target_images/oi{k}.jpg",
             "instruction": f"Remove the {k}th object"} for k in range(6)]
    recs.append({"source_image": "source_images/oi9.jpg", "target_image": "target_images/oi9.jpg",
                 "instruction": ""})  # rejected: empty instruction
    _lines(oi / "auto_editing/openimages/annotations/split_0001.jsonl", recs)
    _lines(oi / "auto_editing/openimages/annotations_GPT4V/split_0001.jsonl",
           [dict(r, instruction=f"Please remove object {k}.", instruction_ori=r["instruction"])
            for k, r in enumerate(recs[:3])])
    for k in range(3):
        _touch(oi / f"auto_editing/openimages/images/source_images/oi{k}.jpg")
        _touch(oi / f"auto_editing/openimages/images/target_images/oi{k}.jpg")
    c.folders["SEED-Data-Edit-Part1-Openimages"] = 7 + 3

    # ---- SEED Part-1 Unsplash, three folders down
    un = top / "mirror/hf/AILab-CVC/SEED-Data-Edit-Part1-Unsplash"
    urecs = [{"source_image": f"u{k}.jpg", "target_image": f"u{k}_t.jpg", "instruction": f"make it sunset {k}",
              "source_caption": "a street", "target_caption": "a street at sunset"} for k in range(4)]
    _lines(un / "auto_editing/unsplash/annotations/split_0001.jsonl", urecs)
    _lines(un / "auto_editing/unsplash/annotations_GPT4V/split_0001.jsonl",
           [dict(r, instruction_ori=r["instruction"], instruction="Turn the light to sunset.") for r in urecs[:2]])
    c.folders["mirror"] = 4 + 2

    # ---- SEED Part-2 and Part-3
    p23 = top / "SEED-Data-Edit-Part2-3"
    p2 = part2_records(40, 1, real_part2)
    _lines(p23 / "real_editing/annotations/split_0001.jsonl", p2[:30])
    _lines(p23 / "real_editing/annotations/split_0002.jsonl", p2[30:] + [p2[0]])  # p2[0] is in both files
    c.duplicates += 1
    for r in p2[:5]:
        _touch(p23 / "real_editing/images" / r["source_image"])
        _touch(p23 / "real_editing/images" / r["target_image"])
    batch = "20240407_586P_2211turns/Data/176"
    sessions = []
    for s in range(4):
        n = 2 + s  # 2..5 turns
        rec = {"source_image": f"{batch}/s{s}.jpg"}
        for t in range(1, n + 1):
            rec[f"instruction_{t}"] = f"step {t} of session {s}"
            rec[f"edit_image_{t}"] = f"{batch}/s{s}_edit{t}.jpg"
        sessions.append(rec)
    sessions.append({"source_image": f"{batch}/s9.jpg", "instruction_1": "add a hat",
                     "edit_image_1": f"{batch}/s9_edit1.jpg", "instruction_2": "", "edit_image_2":
                     f"{batch}/s9_edit2.jpg", "instruction_3": None, "edit_image_3": None})  # turn 2 rejected
    _lines(p23 / "multi_turn_editing/annotations/split_0001.jsonl", sessions)
    for t in range(3):
        _touch(p23 / "multi_turn_editing/images/data" / (f"{batch}/s0.jpg" if t == 0 else f"{batch}/s0_edit{t}.jpg"))
    p3_edits = sum(2 + s for s in range(4)) + 2
    c.folders["SEED-Data-Edit-Part2-3"] = 30 + 11 + p3_edits

    # ---- loose files: one Part-2 subset beside the repos, and a Part-3 file named like a Part-2 one
    loose = part2_records(12, 41, real_part2)
    _lines(top / "edit_data.jsonl", loose)
    _touch(top / loose[0]["source_image"])
    _lines(top / "subsets/part3/split_0001.jsonl", sessions[:2])
    c.folders["subsets"] = 2 + 3

    # ---- InstructPix2Pix, HF Parquet (two files of one split)
    for i in range(2):
        rows = [(f"a photo {i}{k}", f"make it snow {i}{k}", f"a snowy photo {i}{k}") for k in range(3)]
        _parquet(top / f"ip2p/data/train-0000{i}-of-00002-9f3b1c2d{i}.parquet", {
            "original_prompt": [r[0] for r in rows],
            "original_image": pa.array([_img(PNG)] * 3, HF_IMAGE),
            "edit_prompt": [r[1] for r in rows],
            "edited_prompt": [r[2] for r in rows],
            "edited_image": pa.array([_img(PNG + b"e")] * 3, HF_IMAGE),
        })
    c.folders["ip2p"] = 6

    # ---- InstructPix2Pix original release, as its download script lays it out
    orig = top / "ip2p-original/data/clip-filtered-dataset"
    orig.mkdir(parents=True)
    dirs = {"0000001": [11, 12], "0000002": [21]}
    (orig / "seeds.json").write_text(json.dumps([[d, s] for d, s in dirs.items()]))
    for d, seeds in dirs.items():
        prompt = {"input": f"a house {d}", "edit": "make it red", "output": f"a red house {d}"}
        if d == "0000002":
            prompt["caption"] = f"a house, captioned {d}"  # both `input` and `caption`
        (orig / d).mkdir()
        (orig / d / "prompt.json").write_text(json.dumps(prompt))
        (orig / d / "metadata.jsonl").write_text("".join(json.dumps(
            {"seed": s, "p2p_threshold": 0.5, "cfg_scale": 7.5, "clip_sim_0": 0.2, "clip_sim_1": 0.25,
             "clip_sim_dir": 0.21, "clip_sim_image": 0.8}) + "\n" for s in seeds))
        for s in seeds:
            _touch(orig / d / f"{s}_0.jpg")
            _touch(orig / d / f"{s}_1.jpg")
    c.folders["ip2p-original"] = 3

    # ---- MagicBrush HF Parquet (train + dev), sessions of 1-3 turns
    for split, sess in (("train", {"327726": 3, "100001": 1}), ("dev", {"200002": 2})):
        ids, turns, srcs, tgts, masks, ins = [], [], [], [], [], []
        for sid, n in sess.items():
            for t in range(1, n + 1):
                ids.append(sid)
                turns.append(t)
                srcs.append(_img(PNG + f"{sid}-{t - 1}".encode(),
                                 f"{sid}-input.png" if t == 1 else f"{sid}-output{t - 1}.png"))
                tgts.append(_img(PNG + f"{sid}-{t}".encode(), f"{sid}-output{t}.png"))
                masks.append(_img(PNG + b"m", f"{sid}-mask{t}.png"))
                ins.append(f"turn {t}: add a lamp")
        _parquet(top / f"magicbrush/data/{split}-00000-of-00001-a1b2c3d4.parquet", {
            "img_id": ids, "turn_index": pa.array(turns, pa.int32()), "source_img": pa.array(srcs, HF_IMAGE),
            "mask_img": pa.array(masks, HF_IMAGE), "target_img": pa.array(tgts, HF_IMAGE), "instruction": ins})
    c.folders["magicbrush"] = 6

    # ---- MagicBrush test set, as the zip unpacks
    mt = top / "MagicBrush_test/test"
    es = {"242679": [{"input": "242679-input.png", "mask": "242679-mask1.png", "output": "242679-output1.png",
                      "instruction": "put a hat on him"},
                     {"input": "242679-output1.png", "mask": "242679-mask2.png", "output": "242679-output2.png",
                      "instruction": "make the hat red"}],
          "11111": [{"input": "11111-input.png", "mask": "11111-mask1.png", "output": "11111-output1.png",
                     "instruction": "add a boat"}]}
    mt.mkdir(parents=True)
    (mt / "edit_sessions.json").write_text(json.dumps(es))
    (mt / "edit_turns.json").write_text(json.dumps([dict(t, img_id=k) for k, v in es.items() for t in v]))
    (mt / "global_descriptions.json").write_text(json.dumps(
        {"242679": {"242679-input.png": "a man", "242679-output1.png": "a man in a hat"}}))
    (mt / "local_descriptions.json").write_text(json.dumps({"242679": {"242679-output1.png": "a hat"}}))
    for sid, ts in es.items():
        for t in ts:
            for key in ("input", "mask", "output"):
                _touch(mt / "images" / sid / t[key], PNG)
    c.folders["MagicBrush_test"] = 3

    # ---- HQ-Edit: each row gives two edits
    _parquet(top / "hq-edit/data/train-00000-of-00001-c0ffee00.parquet", {
        "input": ["a red car", "a cat"], "input_image": pa.array([_img(PNG + b"1"), _img(PNG + b"2")], HF_IMAGE),
        "edit": ["make it blue", "make it a dog"], "inverse_edit": ["make it red", "make it a cat"],
        "output": ["a blue car", "a dog"], "output_image": pa.array([_img(PNG + b"3"), _img(PNG + b"4")], HF_IMAGE),
    })
    c.folders["hq-edit"] = 4

    # ---- files no dataset claims
    (top / "notes.json").write_text(json.dumps({"todo": "download UltraEdit"}))
    _parquet(top / "misc/unknown.parquet", {"foo": [1, 2], "bar": ["x", "y"]})
    c.unplaced = {"notes.json", "misc/unknown.parquet"}

    c.edits = sum(c.folders.values()) + 12  # edit_data.jsonl sits at the top itself
    return c
