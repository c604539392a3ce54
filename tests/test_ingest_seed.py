"""SEED-Data-Edit readers on small files in the real layout: every part, every way of pointing at them."""

from __future__ import annotations

from pathlib import Path

import pytest

from editlens.contract.errors import UnusableInput
from fixtures_ingest import ingest, seed_repo, table, write_lines


@pytest.fixture()
def repo(tmp_path):
    facts = seed_repo(tmp_path / "seed")
    facts["base"] = tmp_path / "seed"
    return facts


def by(rows, **kw):
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


def test_whole_umbrella_folder_loads_every_part(repo, tmp_path):
    s = ingest(repo["base"], tmp_path / "wh", workers=1)
    edits = table(tmp_path / "wh", "edits")
    assert len(edits) == repo["edits"] == s.records_loaded
    assert s.records_rejected == 0
    assert sorted({e["part"] for e in edits}) == ["part1-openimages", "part1-unsplash", "part1-unsplash-gpt4v",
                                                 "part2", "part3"]
    assert {e["dataset"] for e in edits} == {"seed-data-edit"}
    assert {e["split"] for e in edits} == {"train"}
    runs = table(tmp_path / "wh", "ingest_runs")
    assert sorted(r["source_file"] for r in runs) == sorted([
        "auto_editing/openimages/annotations/split_0000.jsonl",
        "auto_editing/unsplash/annotations/split_0000.jsonl",
        "auto_editing/unsplash/annotations_GPT4V/split_0000.jsonl",
        "real_editing/annotations/split_0001.jsonl",
        "multi_turn_editing/annotations/split_0001.jsonl",
    ])
    for r in runs:
        if r["part"] == "part3":  # records are sessions (lines), edits are turns
            assert (r["records_read"], r["records_loaded"] + r["records_rejected"]) == (3, 10)
        else:
            assert r["records_read"] == r["records_loaded"] + r["records_rejected"]
        assert len(r["checksum"]) == 64


def test_part1_fields_lineage_and_images(repo, tmp_path):
    ingest(repo["base"], tmp_path / "wh", workers=1)
    edits, images = table(tmp_path / "wh", "edits"), {i["image_id"]: i for i in table(tmp_path / "wh", "images")}
    oi = sorted(by(edits, part="part1-openimages"), key=lambda e: e["source_record"])
    assert [e["instruction"] for e in oi] == ["Remove the dog", "Add a red hat"]
    assert [e["source_record"] for e in oi] == [1, 2]
    assert oi[0]["source_file"] == "auto_editing/openimages/annotations/split_0000.jsonl"
    assert oi[1]["extra"] == '{"pipeline":"lama"}' and oi[0]["extra"] == "{}"
    src = images[oi[0]["source_image_id"]]
    assert src["path"] == "auto_editing/openimages/images/source_images/a1.jpg"
    assert src["root"] == str(repo["oi"]) and src["location_kind"] == "file" and src["exists"] is True
    assert images[oi[1]["source_image_id"]]["exists"] is False  # missing file: loaded, marked missing
    assert len(oi[0]["edit_id"]) == 16 and int(oi[0]["edit_id"], 16) >= 0
    un = by(edits, part="part1-unsplash")[0]
    assert (un["source_caption"], un["target_caption"]) == ("a beach", "a beach, pink sky")
    assert un["instruction_ori"] is None
    gpt = by(edits, part="part1-unsplash-gpt4v")[0]
    assert (gpt["instruction"], gpt["instruction_ori"]) == ("Turn the sky pink.", "Make the sky pink")
    # same image file, same image id, whichever annotation file references it
    assert gpt["source_image_id"] == un["source_image_id"]


def test_part2_labels_and_chinese_instruction(repo, tmp_path):
    ingest(repo["base"], tmp_path / "wh", workers=1)
    e = by(table(tmp_path / "wh", "edits"), part="part2")[0]
    assert e["provided_labels"] == ["object-remove", "background-restore"]
    assert e["extra"] == '{"instruction_cn":"移除男人"}'
    images = {i["image_id"]: i for i in table(tmp_path / "wh", "images")}
    assert images[e["source_image_id"]]["path"] == "real_editing/images/images/2_0.jpg"
    assert images[e["source_image_id"]]["exists"] is True
    assert images[e["target_image_id"]]["exists"] is False


def test_part3_turns_chain_and_sessions(repo, tmp_path):
    ingest(repo["base"], tmp_path / "wh", workers=1)
    edits = by(table(tmp_path / "wh", "edits"), part="part3")
    images = {i["image_id"]: i for i in table(tmp_path / "wh", "images")}
    sessions = {}
    for e in edits:
        sessions.setdefault(e["source_record"], []).append(e)
    assert {k: len(v) for k, v in sessions.items()} == {1: 3, 2: 6, 3: 1}
    for line, turns in sessions.items():
        turns.sort(key=lambda e: e["turn_index"])
        assert [t["turn_index"] for t in turns] == list(range(1, len(turns) + 1))
        assert len({t["session_id"] for t in turns}) == 1 and turns[0]["session_id"]
        for prev, cur in zip(turns, turns[1:]):
            assert cur["source_image_id"] == prev["target_image_id"]
    assert len({v[0]["session_id"] for v in sessions.values()}) == 3
    s1 = sorted(sessions[1], key=lambda e: e["turn_index"])
    assert [t["instruction"] for t in s1] == ["add a cat", "make it black", "blur the background"]
    assert images[s1[0]["source_image_id"]]["path"] == \
        "multi_turn_editing/images/data/20240407_586P_2211turns/Data/176/h1.jpg"
    assert [images[t["target_image_id"]]["exists"] for t in s1] == [True, False, False]
    assert sorted(sessions[2], key=lambda e: e["turn_index"])[5]["instruction"] == "step 6"


@pytest.mark.parametrize("sub", [
    "SEED-Data-Edit-Part2-3",
    "SEED-Data-Edit-Part2-3/real_editing",
    "SEED-Data-Edit-Part2-3/real_editing/annotations/split_0001.jsonl",
])
def test_part_folder_or_single_file_gives_the_same_rows(repo, tmp_path, sub):
    ingest(repo["base"], tmp_path / "all", workers=1)
    ingest(repo["base"] / sub, tmp_path / "one", workers=1)
    one = table(tmp_path / "one", "edits")
    assert one
    want = [e for e in table(tmp_path / "all", "edits") if e["source_file"] in {o["source_file"] for o in one}]
    key = lambda e: (e["source_file"], e["source_record"], e["turn_index"])  # noqa: E731
    strip = lambda e: {k: v for k, v in e.items() if k != "ingest_run_id"}  # noqa: E731
    assert [strip(e) for e in sorted(one, key=key)] == [strip(e) for e in sorted(want, key=key)]


def test_forced_format_on_a_loose_file(tmp_path):
    f = write_lines(tmp_path / "loose" / "records.jsonl", [
        {"source_image": "a.jpg", "target_image": "b.jpg", "instruction": "x", "task_type": "object-add"}])
    ingest(f, tmp_path / "wh", workers=1, format="seed-part2")
    e = table(tmp_path / "wh", "edits")[0]
    assert e["part"] == "part2" and e["provided_labels"] == ["object-add"]
    assert e["source_file"] == "records.jsonl"


def test_unknown_format_and_missing_path_are_unusable(tmp_path):
    with pytest.raises(UnusableInput) as ei:
        ingest(tmp_path / "nope", tmp_path / "wh")
    assert ei.value.exit_code == 2 and "nope" in str(ei.value)
    (tmp_path / "d").mkdir()
    with pytest.raises(UnusableInput):
        ingest(tmp_path / "d", tmp_path / "wh", format="no-such-format")
    (tmp_path / "d" / "notes.txt").write_text("hello")
    with pytest.raises(UnusableInput):
        ingest(tmp_path / "d", tmp_path / "wh")


SHARED_PART2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed-part2-dev.jsonl"


@pytest.mark.skipif(not SHARED_PART2.exists(), reason="shared Part-2 sample absent")
def test_shared_real_part2_sample(tmp_path):
    s = ingest(SHARED_PART2, tmp_path / "wh", workers=1)
    n_lines = sum(1 for ln in SHARED_PART2.read_bytes().split(b"\n") if ln.strip())
    assert s.records_read == n_lines == 1571
    assert s.records_loaded + s.records_rejected == n_lines
    edits = table(tmp_path / "wh", "edits")
    assert {e["part"] for e in edits} == {"part2"}
    assert all(1 <= len(e["provided_labels"]) <= 5 for e in edits)
    labels = {lab for e in edits for lab in e["provided_labels"]}
    assert "object-remove" in labels and all("-" in lab for lab in labels)
    assert all('"instruction_cn"' in e["extra"] for e in edits)
    images = table(tmp_path / "wh", "images")
    assert all(i["exists"] is False for i in images)  # the sample ships no images
    assert all(i["path"].startswith("images/") for i in images)


def test_two_identical_copies_of_one_repo_are_read_once(tmp_path):
    seed_repo(tmp_path / "a")
    seed_repo(tmp_path / "b")
    (tmp_path / "both").mkdir()
    (tmp_path / "a" / "SEED-Data-Edit-Part2-3").rename(tmp_path / "both" / "copy1")
    (tmp_path / "b" / "SEED-Data-Edit-Part2-3").rename(tmp_path / "both" / "copy2")
    once = ingest(tmp_path / "both" / "copy1", tmp_path / "wh1", workers=1)
    s = ingest(tmp_path / "both", tmp_path / "wh", workers=1)
    assert len(s.copies) == len(s.files) == len(once.files) > 0
    assert all("/copy2/" in c and "/copy1/" in o for c, o in s.copies)
    assert s.records_loaded == once.records_loaded and not s.unplaced
