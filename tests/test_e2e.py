"""The whole pipeline through the real CLI on a small generated sample, checked against its ground truth."""

import json
import subprocess
import sys
from collections import Counter

import duckdb
import pytest

N_EDITS = 300
SEED = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    wh, sample = root / "wh", root / "sample"
    r = subprocess.run(
        [sys.executable, "-m", "editlens.cli", "demo", "--no-serve", "--warehouse", str(wh),
         "--sample-dir", str(sample), "--edits", str(N_EDITS), "--seed", str(SEED)],
        capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    truth = [json.loads(line) for line in (sample / "ground_truth.jsonl").open()]
    truth_edits = [json.loads(line) for line in (sample / "truth_edits.jsonl").open()]
    con = duckdb.connect(str(wh / "editlens.duckdb"), read_only=True)
    yield {"wh": wh, "sample": sample, "out": r.stdout, "truth": truth, "truth_edits": truth_edits, "con": con}
    con.close()


def _keys(truth, defect):
    return {(t["part"], t["source_file"], t["source_record"], t["turn_index"]) for t in truth if t["defect"] == defect}


def _flagged(con, flag):
    rows = con.execute(
        f"select e.part, e.source_file, e.source_record, e.turn_index from edits e "
        f"join edit_quality_flags f using (edit_id) where f.{flag}"
    ).fetchall()
    return set(rows)


def test_demo_prints_each_stage(demo):
    for stage in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert stage in demo["out"]
    assert "editlens.duckdb" in demo["out"]


def test_demo_compares_two_editing_models_on_held_out_edits(demo):
    con = demo["con"]
    (n_held_out,) = con.execute("select count(*) from edits where part = 'part2' and target_image_id is not null"
                                ).fetchone()
    rows = con.execute("""select editing_model, n_edits, n_outputs + n_missing, mean_value from model_label_scores
                          where label = 'all' and metric = 'l1' order by editing_model""").fetchall()
    assert [r[0] for r in rows] == ["demo-model-a", "demo-model-b"]
    assert all(r[1] == r[2] == n_held_out for r in rows)
    assert rows[0][3] < rows[1][3]  # the lower defect rate is closer to the targets
    (better,) = con.execute("""select better_model from model_pairwise_differences
                               where label = 'all' and metric = 'l1'""").fetchone()
    assert better == "demo-model-a"


def test_every_generated_edit_is_loaded_once(demo):
    con = demo["con"]
    n, n_distinct = con.execute("select count(*), count(distinct edit_id) from edits").fetchone()
    assert n == n_distinct == len(demo["truth_edits"])
    (scorecard_total,) = con.execute("select sum(n_edits) from dataset_scorecard").fetchone()
    assert scorecard_total == len(demo["truth_edits"])


def test_malformed_lines_are_rejects_and_totals_add_up(demo):
    con = demo["con"]
    n_malformed = sum(1 for t in demo["truth"] if t["defect"] == "malformed_line")
    rejects = dict(con.execute("select reason, count(*) from read_parquet(?) group by 1",
                               [str(demo["wh"] / "parquet/rejects/*.parquet")]).fetchall())
    assert rejects == {"malformed_json": n_malformed}
    read, loaded, rejected = con.execute(
        "select sum(records_read), sum(records_loaded), sum(records_rejected) from read_parquet(?)"
        " where part != 'part3'",  # Part-3: a record (line) is a session of several edits (turns)
        [str(demo["wh"] / "parquet/ingest_runs/*.parquet")],
    ).fetchone()
    assert read == loaded + rejected
    sessions, turns, rejected_all = con.execute(
        "select sum(records_read) filter (part = 'part3'), sum(records_loaded + records_rejected) filter"
        " (part = 'part3'), sum(records_rejected) from read_parquet(?)",
        [str(demo["wh"] / "parquet/ingest_runs/*.parquet")],
    ).fetchone()
    assert 0 < sessions < turns and rejected_all == n_malformed


def test_missing_images_are_marked_not_rejected(demo):
    con = demo["con"]
    (n_missing,) = con.execute(
        "select count(distinct image_id) from read_parquet(?) where not exists",
        [str(demo["wh"] / "parquet/images/*.parquet")],
    ).fetchone()
    assert n_missing == sum(1 for t in demo["truth"] if t["defect"] == "missing_image")


@pytest.mark.parametrize(
    "defect, flag",
    [
        ("noop", "is_noop"),
        ("missing_image", "has_broken_image"),
        ("truncated_image", "has_broken_image"),
        ("duplicate_pair", "is_duplicate_pair"),
        ("demographic_term", "mentions_demographic_term"),
        ("unsafe_term", "mentions_unsafe_term"),
    ],
)
def test_injected_defects_are_flagged(demo, defect, flag):
    expected = _keys(demo["truth"], defect)
    assert expected, defect
    missed = expected - _flagged(demo["con"], flag)
    assert not missed, f"{defect}: {len(missed)} of {len(expected)} not flagged by {flag}: {sorted(missed)[:3]}"


def test_term_flags_are_precise(demo):
    for defect, flag in (("demographic_term", "mentions_demographic_term"), ("unsafe_term", "mentions_unsafe_term")):
        assert _flagged(demo["con"], flag) == _keys(demo["truth"], defect)


def test_exported_marts_match_the_database(demo):
    marts = demo["wh"] / "marts"
    names = {p.stem for p in marts.glob("*.parquet")}
    assert {"edits", "edit_labels", "edit_quality_flags", "instruction_type_stats", "bias_slices",
            "safety_slices", "dataset_scorecard"} <= names
    con = duckdb.connect()
    for name in ("edits", "dataset_scorecard", "edit_quality_flags"):
        (exported,) = con.execute("select count(*) from read_parquet(?)", [str(marts / f"{name}.parquet")]).fetchone()
        (built,) = demo["con"].execute(f"select count(*) from {name}").fetchone()
        assert exported == built > 0


def test_every_edit_has_a_label(demo):
    con = demo["con"]
    (unlabelled,) = con.execute(
        "select count(*) from edits where edit_id not in (select edit_id from edit_labels where origin = 'derived')"
    ).fetchone()
    truth_ops = Counter(t["op"] for t in demo["truth_edits"])
    assert unlabelled <= 0.05 * sum(truth_ops.values())
