"""Ingest a whole download folder (every dataset in its real layout, side by side) from its top and from each
natural sub-folder: every edit loaded or rejected with a reason, none twice, re-ingesting by another path changes
no row, files no dataset claims are listed (exit code 3), and the build succeeds on the resulting warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from corpus import SHARED_PART2, build_corpus
from fixtures_ingest import ingest, snapshot, table


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def top_wh(corpus, tmp_path_factory):
    wh = tmp_path_factory.mktemp("wh-top")
    return ingest(corpus.top, wh, workers=1), wh


def _accounted(wh) -> int:
    return len(table(wh, "edits")) + len(table(wh, "rejects"))


def test_top_folder_finds_every_dataset_and_accounts_for_every_edit(corpus, top_wh):
    s, wh = top_wh
    assert s.records_loaded + s.records_rejected == corpus.edits == _accounted(wh)
    found = Counter((f.dataset, f.part) for f in s.files)
    assert found == {
        ("seed-data-edit", "part1-openimages"): 1, ("seed-data-edit", "part1-openimages-gpt4v"): 1,
        ("seed-data-edit", "part1-unsplash"): 1, ("seed-data-edit", "part1-unsplash-gpt4v"): 1,
        ("seed-data-edit", "part2"): 3, ("seed-data-edit", "part3"): 2,
        ("instructpix2pix", "hf-parquet"): 2, ("instructpix2pix", "original"): 1,
        ("magicbrush", "hf-parquet"): 2, ("magicbrush", "test-layout"): 1, ("hq-edit", "hf-parquet"): 1,
    }
    assert {str(u.path.relative_to(corpus.top)) if hasattr(u.path, "relative_to") else
            u.path[len(str(corpus.top)) + 1:] for u in s.unplaced} == corpus.unplaced
    assert all(u.reason for u in s.unplaced) and s.exit_code == 3
    # every reject carries a reason; none twice within a file
    assert all(r["reason"] for r in table(wh, "rejects"))
    edits = table(wh, "edits")
    assert len({(e["source_file"], e["edit_id"]) for e in edits}) == len(edits)
    # the one record in two Part-2 files is loaded once per file
    ids = Counter(e["edit_id"] for e in edits)
    assert sum(n - 1 for n in ids.values() if n > 1) == corpus.duplicates


def test_two_same_named_files_never_share_a_shard(top_wh):
    s, wh = top_wh
    assert len({f.shard for f in s.files}) == len(s.files)
    runs = table(wh, "ingest_runs")
    p3 = [r for r in runs if r["source_file"] == "split_0001.jsonl"]
    assert [r["part"] for r in p3] == ["part3"] and p3[0]["records_loaded"] == 5


def test_magicbrush_split_from_the_layout_and_hf_turns_chain(top_wh):
    _, wh = top_wh
    edits = table(wh, "edits")
    mb = [e for e in edits if e["dataset"] == "magicbrush"]
    assert {(e["part"], e["split"]) for e in mb} == {("test-layout", "test"), ("hf-parquet", "train"),
                                                     ("hf-parquet", "dev")}
    hf = {(e["session_id"], e["turn_index"]): e for e in mb if e["part"] == "hf-parquet"}
    for (sid, t), e in hf.items():
        if t > 1:  # turn k's source is turn k-1's target
            assert e["source_image_id"] == hf[(sid, t - 1)]["target_image_id"]
            assert json.loads(e["extra"])["source_img_cell"]
    assert json.loads(hf[("327726", 1)]["extra"])["image_paths"]["source_img"] == "327726-input.png"


def test_ip2p_prompt_with_input_and_caption_keeps_both(top_wh):
    _, wh = top_wh
    e = [e for e in table(wh, "edits") if e["part"] == "original" and "0000002" in e["extra"]]
    assert e and e[0]["source_caption"] == "a house 0000002"
    assert json.loads(e[0]["extra"])["caption"] == "a house, captioned 0000002"


def test_every_subfolder_alone_then_the_top_changes_no_row(corpus, top_wh, tmp_path):
    _, top = top_wh
    want = snapshot(top)
    for sub, n in corpus.folders.items():
        wh = tmp_path / f"wh-{sub}"
        s = ingest(corpus.top / sub, wh, workers=1)
        assert s.records_loaded + s.records_rejected == n == _accounted(wh), sub
        mine = snapshot(wh)
        for t in ("edits", "images", "rejects"):  # the sub-folder's rows are exactly the top run's rows
            assert set(mine[t]) <= set(want[t]), (sub, t)
        again = ingest(corpus.top, wh, workers=1)
        assert {f.source_file for f in again.unchanged} >= {f.source_file for f in s.files}, sub
        assert snapshot(wh)["edits"] == want["edits"], sub
        assert snapshot(wh)["rejects"] == want["rejects"], sub


def test_loose_file_by_its_own_path_is_the_same_file(corpus, top_wh, tmp_path):
    _, top = top_wh
    wh = tmp_path / "wh"
    ingest(corpus.top / "edit_data.jsonl", wh, workers=1)
    s = ingest(corpus.top, wh, workers=1)
    assert [f.source_file for f in s.unchanged] == ["edit_data.jsonl"]
    assert snapshot(wh)["edits"] == snapshot(top)["edits"]


def test_image_root_and_all_missing_note(corpus, tmp_path):
    imgs = tmp_path / "extracted"
    (imgs / "images").mkdir(parents=True)
    for k in range(41, 53):
        (imgs / f"images/{k}_0.jpg").write_bytes(b"\xff\xd8")
        (imgs / f"images/{k}_1.jpg").write_bytes(b"\xff\xd8")
    a = ingest(corpus.top / "edit_data.jsonl", tmp_path / "wh1", workers=1)
    assert "check the image root" not in a.describe()  # one of its images is there
    b = ingest(corpus.top / "subsets", tmp_path / "wh3", workers=1)
    assert b.describe().count("check the image root") == 1  # its one file, once
    c = ingest(corpus.top / "edit_data.jsonl", tmp_path / "wh2", workers=1, image_root=imgs)
    e1, e2 = table(tmp_path / "wh1", "edits"), table(tmp_path / "wh2", "edits")
    assert sorted(e["edit_id"] for e in e1) == sorted(e["edit_id"] for e in e2)  # ids do not follow the root
    assert all(i["exists"] for i in table(tmp_path / "wh2", "images"))
    assert {i["root"] for i in table(tmp_path / "wh2", "images")} == {str(imgs)}
    assert c.records_loaded == 12


def test_cli_prints_what_it_found_and_exits_3_on_unplaced(corpus, tmp_path):
    r = subprocess.run([sys.executable, "-m", "editlens.cli", "ingest", str(corpus.top), "--workers", "1",
                        "--warehouse", str(tmp_path / "wh")], capture_output=True, text=True)
    assert r.returncode == 3, r.stderr
    out = r.stdout
    assert out.index("found magicbrush/test-layout (test)") < out.index("ingest run")
    assert "NOT INGESTED: 2 files" in out and "unknown.parquet" in out and "notes.json" in out


def test_real_part2_records_in_the_corpus(tmp_path):
    if not SHARED_PART2.exists():
        pytest.skip("the shared Part-2 reference file is absent")
    c = build_corpus(tmp_path, real_part2=SHARED_PART2)
    s = ingest(c.top / "SEED-Data-Edit-Part2-3", tmp_path / "wh", workers=1)
    assert s.records_loaded + s.records_rejected == c.folders["SEED-Data-Edit-Part2-3"]
    p2 = [e for e in table(tmp_path / "wh", "edits") if e["part"] == "part2"]
    assert len(p2) == 41 and all(e["provided_labels"] for e in p2)


def test_build_succeeds_on_the_top_warehouse(top_wh):
    import duckdb

    from editlens.build import run_build
    from editlens.warehouse import Warehouse

    _, wh = top_wh
    assert run_build(Warehouse.at(wh), ["--quiet"]) == 0
    con = duckdb.connect(str(wh / "editlens.duckdb"), read_only=True)
    n_edits = len(table(wh, "edits"))
    assert con.sql("select count(*), count(distinct edit_id) from edits").fetchone() == (n_edits - 1, n_edits - 1)
    card = con.sql("select sum(n_duplicate_record), sum(n_missing_image) from dataset_scorecard").fetchone()
    assert card[0] == 1 and card[1] > 0
