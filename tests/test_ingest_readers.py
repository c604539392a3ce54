"""UltraEdit, OmniEdit, AnyEdit, Emu Edit, ImgEdit benchmark and the generic `--map` reader, on small files in the
datasets' real layouts and file names, placed side by side in one download folder; Parquet recognised by its
whole column signature."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from editlens.cli import main as cli_main
from editlens.contract.errors import UnusableInput
from editlens.ingest.readers.signatures import match_columns
from fixtures_ingest import HF_IMAGE, PNG, hf_image, ingest, table, touch, write_lines, write_parquet

ULTRA_SCORES = ("clip_sim_source", "clip_sim_target", "clip_sim_dir", "clip_sim_image", "dinov2_sim", "ssim")


def img_col(values, binary=False):
    if binary:
        return pa.array(values, pa.binary())
    return pa.array([hf_image(v, None if v is None else f"{i}.png") for i, v in enumerate(values)], HF_IMAGE)


def ultraedit_freeform(path):
    # UltraEdit_500k / UltraEdit FreeForm files: mask_image and edit_object are null-typed columns
    n = 3
    cols = {s: [0.30, 0.31, 0.29][:n] if s != "ssim" else [0.8, 0.7, 0.6] for s in ULTRA_SCORES}
    cols["clip_sim_image"] = [0.91, None, 0.88]
    cols.update({
        "source_caption": ["a cat on a sofa", "a red car", "a house"],
        "target_caption": ["a dog on a sofa", "a blue car", "a house at night"],
        "idx": [10, 11, 12],
        "edit_prompt": ["turn the cat into a dog", "make the car blue", "   "],
        "edit_object": pa.nulls(n),
        "source_image": img_col([PNG, PNG + b"b", PNG + b"c"]),
        "edited_image": img_col([PNG + b"1", PNG + b"2", PNG + b"3"]),
        "mask_image": pa.nulls(n),
    })
    return write_parquet(path, cols)


def ultraedit_region(path):
    cols = {s: [0.3, 0.25] for s in ULTRA_SCORES}
    cols.update({
        "source_caption": ["a bowl of fruit", "a street"], "target_caption": ["a bowl of apples", "a wet street"],
        "idx": [1, 2], "edit_prompt": ["replace the fruit with apples", "make the street wet"],
        "edit_object": ["fruit", "street"],
        "source_image": img_col([PNG, PNG + b"x"], binary=True),
        "edited_image": img_col([PNG + b"y", PNG + b"z"], binary=True),
        "mask_image": img_col([PNG + b"m", None], binary=True),
    })
    return write_parquet(path, cols)


def omniedit(path, split_rows=2):
    return write_parquet(path, {
        "omni_edit_id": [f"oe-{i}" for i in range(split_rows)],
        "task": ["swap", "removal"][:split_rows],
        "src_img": img_col([PNG, PNG + b"o"][:split_rows]),
        "edited_img": img_col([PNG + b"p", PNG + b"q"][:split_rows]),
        "edited_prompt_list": [["swap the dog for a fox", "replace the dog with a fox"], []][:split_rows],
        "width": [512, 640][:split_rows], "height": [512, 480][:split_rows],
        "sc_score_1": [9, 8][:split_rows], "sc_score_2": [8, 7][:split_rows],
        "sc_reasoning": ["ok", "ok"][:split_rows], "pq_score": [7, 9][:split_rows],
        "pq_reasoning": ["fine", "fine"][:split_rows], "o_score": [7.9, 8.1][:split_rows],
    })


def anyedit(path):
    return write_parquet(path, {
        "image_id": ["ae-1", "ae-2"],
        "edit_instruction": ["make it snow", "add a rainbow"],
        "edit_type": ["global", "add"],
        "image_file": img_col([PNG, PNG + b"a"], binary=True),
        "edited_file": img_col([PNG + b"s", PNG + b"r"], binary=True),
        "visual_input": img_col([None, PNG + b"v"], binary=True),
        "input": ["a park", "a field"], "output": ["a snowy park", "a field with a rainbow"],
    })


def emu_test(path, n=3):
    return write_parquet(path, {
        "instruction": ["change the background to a beach", "remove the vase", "make it a watercolor"][:n],
        "image": img_col([PNG, PNG + b"e", PNG + b"f"][:n]),
        "task": ["background", "remove", "style"][:n],
        "split": ["test"] * n, "idx": list(range(n)), "hash": ["h0", "h1", "h2"][:n],
        "input_caption": ["a dog in a room", "a vase on a table", "a bridge"][:n],
        "output_caption": ["a dog on a beach", "a table", "a watercolor bridge"][:n],
    })


def emu_generations(path):
    return write_parquet(path, {
        "instruction": ["change the background to a beach"], "image": img_col([PNG]), "task": ["background"],
        "split": ["test"], "idx": [0], "hash": ["h0"], "input_caption": ["a dog in a room"],
        "output_caption": ["a dog on a beach"], "edited_image": img_col([PNG + b"g"]), "model": ["emu-edit"],
    })


def ip2p(path):
    return write_parquet(path, {
        "original_prompt": ["a cat"], "original_image": img_col([PNG]), "edit_prompt": ["add a hat"],
        "edited_prompt": ["a cat with a hat"], "edited_image": img_col([PNG + b"h"]),
    })


@pytest.fixture()
def downloads(tmp_path):
    """One folder a user downloaded several Hugging Face repos into, as `huggingface-cli download` lays them out."""
    top = tmp_path / "downloads"
    files = {
        "ultra": ultraedit_freeform(top / "UltraEdit_500k/data/FreeForm-00001-of-00402-3f1c2b7a9d0e4f21.parquet"),
        "region": ultraedit_region(top / "UltraEdit_Region_Based_100k/data/RegionBase-00000-of-00093.parquet"),
        "omni": omniedit(top / "OmniEdit-Filtered-1.2M/data/train-00001-of-00262-8b1e2c3d4f5a6b7c.parquet"),
        "omni_dev": omniedit(top / "OmniEdit-Filtered-1.2M/data/dev-00000-of-00004.parquet", 1),
        "any": anyedit(top / "AnyEdit/data/validation-00000-of-00002.parquet"),
        "emu": emu_test(top / "emu_edit_test_set/data/test-00000-of-00003.parquet"),
        "emu_gen": emu_generations(top / "emu_edit_test_set_generations/data/test-00000-of-00002.parquet"),
        "ip2p": ip2p(top / "instructpix2pix-clip-filtered/data/train-00000-of-00262-57cebf95b4a9170c.parquet"),
    }
    return top, files


# the file of each repo of the fixture (source_file is relative to the repo: data/<name>)
REPO_FILE = {
    "UltraEdit_500k": "FreeForm-00001-of-00402", "UltraEdit_Region_Based_100k": "RegionBase-00000-of-00093",
    "OmniEdit-Filtered-1.2M/data/train": "train-00001-of-00262-8b1e", "OmniEdit": "train-00001-of-00262-8b1e",
    "OmniEdit-Filtered-1.2M/data/dev": "dev-00000-of-00004", "AnyEdit": "validation-00000-of-00002",
    "emu_edit_test_set/": "test-00000-of-00003", "emu_edit_test_set_generations": "test-00000-of-00002",
}


def by_file(wh, name, key):
    rows = table(wh, name)
    key = REPO_FILE.get(key, key)
    return sorted((r for r in rows if key in r["source_file"]), key=lambda r: r["source_record"] or 0)


def repo_of(downloads, source_file: str) -> str:
    """The repo folder of a file the fixture wrote (by its name)."""
    top, files = downloads
    (path,) = [p for p in files.values() if str(p).endswith(source_file)]
    return str(path.relative_to(top)).split("/")[0]


def test_each_parquet_file_is_the_dataset_its_whole_column_signature_says(downloads, tmp_path):
    top, _ = downloads
    s = ingest(top, tmp_path / "wh", workers=1)
    assert all(f.source_file.startswith("data/") for f in s.files)  # relative to the repo, whatever path typed
    placed = {repo_of(downloads, f.source_file) + "/" + f.source_file.rsplit("/", 1)[1].split("-")[0]:
              (f.dataset, f.part) for f in s.files}
    assert placed == {
        "UltraEdit_500k/FreeForm": ("ultraedit", "freeform"),
        "UltraEdit_Region_Based_100k/RegionBase": ("ultraedit", "region-based"),
        "OmniEdit-Filtered-1.2M/train": ("omniedit", "filtered-1.2m"),
        "OmniEdit-Filtered-1.2M/dev": ("omniedit", "filtered-1.2m"),
        "AnyEdit/validation": ("anyedit", "hf-parquet"),
        "emu_edit_test_set/test": ("emu-edit", "test-set"),
        "emu_edit_test_set_generations/test": ("emu-edit", "generations"),
        "instructpix2pix-clip-filtered/train": ("instructpix2pix", "hf-parquet"),
    }
    counts = {repo_of(downloads, f.source_file) + ":" + f.source_file.rsplit("/", 1)[1][:5]:
              (f.records_read, f.records_loaded, f.records_rejected) for f in s.files}
    assert counts == {
        "UltraEdit_500k:FreeF": (3, 2, 1), "UltraEdit_Region_Based_100k:Regio": (2, 2, 0),
        "OmniEdit-Filtered-1.2M:train": (2, 1, 1), "OmniEdit-Filtered-1.2M:dev-0": (1, 1, 0),
        "AnyEdit:valid": (2, 2, 0), "emu_edit_test_set:test-": (3, 3, 0),
        "emu_edit_test_set_generations:test-": (1, 1, 0), "instructpix2pix-clip-filtered:train": (1, 1, 0),
    }
    assert s.records_read == s.records_loaded + s.records_rejected == 15
    wh = tmp_path / "wh"
    assert {r["reason"] for r in table(wh, "rejects")} == {"empty_instruction"}
    assert len(table(wh, "rejects")) == 2


def test_ultraedit_scores_captions_and_masks(downloads, tmp_path):
    top, _ = downloads
    ingest(top, tmp_path / "wh", workers=1)
    wh = tmp_path / "wh"
    free = by_file(wh, "edits", "UltraEdit_500k")
    assert [e["instruction"] for e in free] == ["turn the cat into a dog", "make the car blue"]
    e = free[0]
    assert json.loads(e["provided_scores"]) == {"clip_sim_source": 0.3, "clip_sim_target": 0.3, "clip_sim_dir": 0.3,
                                                "clip_sim_image": 0.91, "dinov2_sim": 0.3, "ssim": 0.8}
    assert "clip_sim_image" not in json.loads(free[1]["provided_scores"])  # a null score is left out
    assert (e["source_caption"], e["target_caption"], e["mask_image_id"]) == ("a cat on a sofa", "a dog on a sofa",
                                                                              None)
    assert json.loads(e["extra"]) == {"idx": 10, "edit_object": None}
    images = {i["image_id"]: i for i in table(wh, "images")}
    assert images[e["target_image_id"]]["column"] == "edited_image.bytes"
    region = by_file(wh, "edits", "UltraEdit_Region_Based_100k")
    mask = images[region[0]["mask_image_id"]]
    assert (mask["column"], mask["row"], mask["exists"]) == ("mask_image", 0, True)
    assert region[1]["mask_image_id"] is None  # empty mask cell: no mask
    assert json.loads(region[0]["extra"])["edit_object"] == "fruit"


def test_omniedit_anyedit_emu_labels_and_targets(downloads, tmp_path):
    top, _ = downloads
    ingest(top, tmp_path / "wh", workers=1)
    wh = tmp_path / "wh"
    (o,) = by_file(wh, "edits", "OmniEdit-Filtered-1.2M/data/train")
    assert (o["instruction"], o["provided_labels"], o["split"]) == ("swap the dog for a fox", ["swap"], "train")
    assert json.loads(o["provided_scores"]) == {"sc_score_1": 9, "sc_score_2": 8, "pq_score": 7, "o_score": 7.9}
    extra = json.loads(o["extra"])
    assert extra["edited_prompt_list"][1] == "replace the dog with a fox" and extra["omni_edit_id"] == "oe-0"
    assert [r["reason"] for r in by_file(wh, "rejects", "OmniEdit")] == ["empty_instruction"]  # [] prompt list
    assert by_file(wh, "edits", "OmniEdit-Filtered-1.2M/data/dev")[0]["split"] == "dev"
    a = by_file(wh, "edits", "AnyEdit")
    assert [(x["instruction"], x["provided_labels"], x["split"]) for x in a] == [
        ("make it snow", ["global"], "validation"), ("add a rainbow", ["add"], "validation")]
    assert (a[0]["source_caption"], a[0]["target_caption"]) == ("a park", "a snowy park")
    assert json.loads(a[1]["extra"])["visual_input"].endswith("#rg=0&row=1&col=visual_input")
    assert "visual_input" not in json.loads(a[0]["extra"])  # empty cell
    emu = by_file(wh, "edits", "emu_edit_test_set/")
    assert [x["provided_labels"] for x in emu] == [["background"], ["remove"], ["style"]]
    assert all(x["target_image_id"] is None and x["source_image_id"] for x in emu)  # no target image
    assert emu[0]["split"] == "test" and emu[0]["target_caption"] == "a dog on a beach"
    (gen,) = by_file(wh, "edits", "emu_edit_test_set_generations")
    assert gen["target_image_id"] is not None and json.loads(gen["extra"])["model"] == "emu-edit"


def test_unknown_parquet_is_named_with_its_columns_never_filed_under_the_majority(downloads, tmp_path):
    top, _ = downloads
    write_parquet(top / "mystery-edits/data/train-00000-of-00001.parquet",
                  {"before": img_col([PNG]), "after": img_col([PNG]), "prompt": ["x"]})
    s = ingest(top, tmp_path / "wh", workers=1)  # everything else is ingested; the file is listed, exit 3
    (u,) = s.unplaced
    assert u.path.endswith("mystery-edits/data/train-00000-of-00001.parquet") and "before, after, prompt" in u.reason
    assert s.exit_code == 3 and "mystery-edits" not in {f.source_file for f in s.files}
    with pytest.raises(UnusableInput) as exc:  # pointed at alone: nothing recognisable, exit 2
        ingest(top / "mystery-edits", tmp_path / "wh2", workers=1)
    assert "before, after, prompt" in str(exc.value)
    # an UltraEdit-like file lacking its scores is not InstructPix2Pix either, though it shares edited_image
    schema = pq.read_schema(top / "UltraEdit_500k/data/FreeForm-00001-of-00402-3f1c2b7a9d0e4f21.parquet")
    assert match_columns(schema).reader == "ultraedit-parquet"
    assert match_columns(pa.schema([f for f in schema if f.name != "ssim"])) is None


def test_forced_format_missing_a_required_column_is_one_file_level_reject(downloads, tmp_path):
    _, files = downloads
    s = ingest(files["ultra"], tmp_path / "wh", workers=1, format="ip2p-parquet")
    assert (s.records_read, s.records_loaded, s.records_rejected) == (1, 0, 1)
    (r,) = table(tmp_path / "wh", "rejects")
    assert (r["reason"], r["source_record"]) == ("missing_column", None)
    assert "`original_image`" in r["message"] and "ip2p-parquet" in r["message"] and "clip_sim_dir" in r["message"]


def imgedit_benchmark(base):
    bench = base / "ImgEdit/Benchmark"
    (bench / "Basic").mkdir(parents=True)
    (bench / "Basic/basic_edit.json").write_text(json.dumps({
        "1": {"id": "animal/000342021.jpg", "prompt": "Change the cat to a tiger", "edit_type": "replace"},
        "2": {"id": "style/000012.jpg", "prompt": "Make it a pencil sketch", "edit_type": "style"},
        "3": {"id": "../outside.jpg", "prompt": "x", "edit_type": "add"},
        "4": {"id": "object/3.jpg", "prompt": "", "edit_type": "remove"},
    }))
    touch(bench / "Basic/animal/000342021.jpg")
    (bench / "UGE").mkdir()
    (bench / "UGE/UGE_edit.json").write_text(json.dumps({"a": {"id": "1.png", "prompt": "Put the hat on the dog"}}))
    return bench


def test_imgedit_benchmark_jsons_beside_other_datasets(downloads, tmp_path):
    top, _ = downloads
    bench = imgedit_benchmark(top)
    for path in (top / "ImgEdit", bench, bench / "Basic"):
        wh = tmp_path / ("wh-" + path.name)
        s = ingest(path, wh, workers=1)
        parts = {(f.dataset, f.part): (f.records_read, f.records_loaded, f.records_rejected) for f in s.files}
        want = {("imgedit", "benchmark-basic"): (4, 2, 2), ("imgedit", "benchmark-uge"): (1, 1, 0)}
        assert parts == (want if path != bench / "Basic" else {("imgedit", "benchmark-basic"): (4, 2, 2)})
        edits = sorted(table(wh, "edits"), key=lambda e: (e["source_file"], e["source_record"]))
        first = edits[0]
        assert (first["instruction"], first["provided_labels"], first["target_image_id"], first["split"]) == \
            ("Change the cat to a tiger", ["replace"], None, "test")
        assert json.loads(first["extra"]) == {"key": "1"}
        imgs = {i["image_id"]: i for i in table(wh, "images")}
        src = imgs[first["source_image_id"]]
        assert (src["path"], src["exists"]) == ("Basic/animal/000342021.jpg", True)
        assert imgs[edits[1]["source_image_id"]]["exists"] is False
        assert sorted(r["reason"] for r in table(wh, "rejects")) == ["empty_instruction", "unsafe_path"]


def test_generic_map_reader_jsonl_and_parquet(tmp_path):
    base = tmp_path / "my-edits"
    write_lines(base / "edits.jsonl", [
        {"before": "img/a.jpg", "after": "img/a_edit.jpg", "text": "make it red", "kind": "color", "q": 0.5,
         "note": "kept"},
        {"before": "img/b.jpg", "after": None, "text": "add a hat", "kind": "add", "q": 0.7},
        "{broken",
    ])
    touch(base / "img/a.jpg")
    write_parquet(base / "embedded/train-00000-of-00001.parquet", {
        "before": img_col([PNG]), "after": img_col([PNG + b"1"]), "text": ["blur it"], "kind": ["blur"],
        "q": [0.9]})
    mapping = {"source": "before", "target": "after", "instruction": "text", "labels": "kind", "scores": "q",
               "dataset": "my-edits"}
    s = ingest(base, tmp_path / "wh", workers=1, column_map=mapping)
    assert (s.records_read, s.records_loaded, s.records_rejected) == (4, 2, 2)
    wh = tmp_path / "wh"
    edits = sorted(table(wh, "edits"), key=lambda e: e["source_file"])
    assert [(e["dataset"], e["part"], e["instruction"], e["provided_labels"]) for e in edits] == [
        ("my-edits", "mapped", "make it red", ["color"]), ("my-edits", "mapped", "blur it", ["blur"])]
    assert json.loads(edits[0]["provided_scores"]) == {"q": 0.5} and json.loads(edits[0]["extra"]) == {"note": "kept"}
    imgs = {i["image_id"]: i for i in table(wh, "images")}
    assert (imgs[edits[0]["source_image_id"]]["path"], imgs[edits[0]["source_image_id"]]["exists"]) == \
        ("img/a.jpg", True)
    assert imgs[edits[1]["source_image_id"]]["location_kind"] == "parquet"
    assert sorted(r["reason"] for r in table(wh, "rejects")) == ["malformed_json", "missing_key"]
    runs = {r["source_file"]: r["reader"] for r in table(wh, "ingest_runs")}
    assert runs["edits.jsonl"] == ("mapped(source=before,target=after,instruction=text,labels=kind,scores=q,"
                                   "dataset=my-edits)")
    # a changed mapping re-reads the files (the mapping is part of each file's checksum)
    s2 = ingest(base, wh, workers=1, column_map=dict(mapping))
    assert not s2.ingested
    s3 = ingest(base, wh, workers=1, column_map={k: v for k, v in mapping.items() if k != "labels"})
    assert len(s3.ingested) == 2


@pytest.mark.parametrize(("spec", "needle"), [
    ("source=before,target=after,instruction=text,colour=kind", "unknown canonical name 'colour'"),
    ("source=before,target=after,instruction=nope", "column(s) nope not in"),
    ("target=after,instruction=text", "source must be given"),
    ("source=before,instruction", "is not NAME=COLUMN"),
])
def test_generic_map_errors_exit_2(tmp_path, capsys, spec, needle):
    write_lines(tmp_path / "d/edits.jsonl", [{"before": "a.jpg", "after": "b.jpg", "text": "x", "kind": "k"}])
    rc = cli_main(["ingest", str(tmp_path / "d"), "--map", spec, "--warehouse", str(tmp_path / "wh")])
    assert rc == 2
    assert needle in capsys.readouterr().err
