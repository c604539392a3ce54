"""The generated shapes-world sample (editlens.sample): malformed lines become rejects and missing images are
marked missing, exactly per its ground truth."""

from __future__ import annotations

import json

import pytest

import editlens.sample as sample
from fixtures_ingest import ingest, table


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    d = tmp_path_factory.mktemp("ingest-sample")
    sample.generate(d / "sample", n_edits=300, seed=3)
    s = ingest(d / "sample", d / "wh", workers=2)
    truth = [json.loads(ln) for ln in (d / "sample" / "ground_truth.jsonl").read_text().splitlines() if ln.strip()]
    return s, d / "wh", truth


def test_malformed_lines_are_exactly_the_rejects(ingested):
    s, wh, truth = ingested
    want = sorted((t["part"], t["source_file"], t["source_record"]) for t in truth if t["defect"] == "malformed_line")
    rejects = table(wh, "rejects")
    got = sorted((r["part"], r["source_file"], r["source_record"]) for r in rejects)
    assert want and got == want
    assert {r["reason"] for r in rejects} == {"malformed_json"}
    # records: Part-3 lines are sessions of several edits (turns); elsewhere a record is an edit
    assert sum(f.records_read for f in s.files if f.part != "part3") == sum(
        f.records_loaded + f.records_rejected for f in s.files if f.part != "part3")
    assert s.records_read < s.records_loaded + s.records_rejected


def test_missing_images_are_exactly_the_ones_marked_missing(ingested):
    _, wh, truth = ingested
    want = sorted(t["image"] for t in truth if t["defect"] == "missing_image")
    images = table(wh, "images")
    got = sorted(i["path"] for i in images if i["exists"] is False)
    assert want and got == want
    assert sum(i["exists"] is True for i in images) > 100


def test_edits_of_defective_images_are_still_loaded(ingested):
    _, wh, truth = ingested
    loaded = {(e["source_file"], e["source_record"], e["turn_index"]) for e in table(wh, "edits")}
    for t in truth:
        if t["defect"] in ("missing_image", "truncated_image", "noop"):
            assert (t["source_file"], t["source_record"], t["turn_index"]) in loaded, t
