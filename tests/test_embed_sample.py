"""sample -> ingest -> embed: every image and edit accounted for, injected defects found where they were put."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture(scope="module")
def sample_run(pipeline):
    p = pipeline(60, 3)
    wh = p.warehouse
    con = duckdb.connect()
    for t in ("images", "edits", "image_facts", "image_embeddings", "edit_scores", "image_concepts"):
        con.execute(f"create view {t} as select * from read_parquet('{wh.table_glob(t)}')")
    return {"con": con, "truth": p.truth(), "sample": p.sample}


def test_every_image_and_edit_is_accounted_for(sample_run):
    con = sample_run["con"]
    assert con.sql("select count(distinct image_id) from images").fetchone() == \
        con.sql("select count(*) from image_facts").fetchone()
    assert con.sql("select count(*) from edits anti join edit_scores using (edit_id)").fetchone() == (0,)
    assert con.sql("select count(*) from edit_scores anti join edits using (edit_id)").fetchone() == (0,)
    # every ok image has an embedding and concept scores; every null score has a reason
    assert con.sql("select count(*) from image_facts f anti join image_embeddings e using (sha256) "
                   "where f.status = 'ok'").fetchone() == (0,)
    assert con.sql("select count(*) from edit_scores where clip_i is null and null_reason is null").fetchone() == (0,)


def test_injected_image_defects_get_their_status(sample_run):
    con, sample = sample_run["con"], sample_run["sample"]
    want = {"truncated_image": "truncated", "missing_image": "missing"}
    checked = 0
    for row in sample_run["truth"]:
        if row.get("defect") not in want:
            continue
        full = str(sample / row["repo"] / row["image"])
        got = con.execute("select f.status from images i join image_facts f using (image_id) "
                          "where i.root || '/' || i.path = ?", [full]).fetchall()
        assert got == [(want[row["defect"]],)], (row["defect"], full, got)
        checked += 1
    assert checked >= 2


def test_noop_edits_score_as_unchanged(sample_run):
    con = sample_run["con"]
    noops = [r for r in sample_run["truth"] if r.get("defect") == "noop"]
    assert noops
    for r in noops:
        got = con.execute("select s.clip_i, s.pixel_l1, s.pixel_changed_frac, s.phash_distance from edits e "
                          "join edit_scores s using (edit_id) where e.source_file = ? and e.source_record = ? "
                          "and e.turn_index = ?", [r["source_file"], r["source_record"], r["turn_index"]]).fetchall()
        assert len(got) == 1
        clip_i, l1, changed, ph = got[0]
        assert clip_i == pytest.approx(1.0, abs=1e-6) and l1 == 0 and changed == 0 and ph == 0
