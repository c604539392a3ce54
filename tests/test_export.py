"""`editlens export`: policies as files, the writers, the data card, checked against the marts of a real
pipeline run (sample -> ingest -> embed -> build, once per module) and by re-ingesting the SEED export."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from editlens.export.card import wilson
from editlens.export.policy import PolicyError, dump_policy, parse_policy

N_EDITS, SEED = 300, 7
CLI = [sys.executable, "-m", "editlens.cli"]

CLEAN = """\
name: clean-v1
description: the issue's example policy
drop: [noop, broken_image, duplicate, misaligned, unsafe_introduced]
require:
  - clip_i >= 0.75
model: editlens-tiny
multi_turn: cut
"""


def _run(*args, check=True):
    r = subprocess.run(CLI + [str(a) for a in args], check=False, capture_output=True, text=True, timeout=900)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    # Own pipeline (the shared session fixture factory is not on main yet): the real CLI, once for the module.
    root = tmp_path_factory.mktemp("export")
    _run("demo", "--no-serve", "--warehouse", root / "wh", "--sample-dir", root / "sample", "--edits", N_EDITS,
         "--seed", SEED)
    return root / "wh"


@pytest.fixture(scope="module")
def con(wh):
    c = duckdb.connect(str(wh / "editlens.duckdb"), read_only=True)
    yield c
    c.close()


def _policy(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _export(wh, policy, fmt, out, *extra):
    _run("export", out, "--policy", policy, "--format", fmt, "--warehouse", wh, *extra)
    return json.loads((out / "datacard.json").read_text())


def _reingest(out, wh2):
    """`editlens ingest OUT`: every annotation file loads; the only file ingest cannot place is the card's JSON."""
    r = _run("ingest", out, "--warehouse", wh2, check=False)
    unplaced = [line for line in r.stdout.splitlines() + r.stderr.splitlines() if line.strip().startswith("unplaced")]
    assert r.returncode == 0 or (r.returncode == 3 and len(unplaced) == 1 and "datacard.json" in unplaced[0]), \
        r.stdout[-3000:] + r.stderr[-3000:]


def _tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _expected_kept(con, fail_sql: str, mode: str) -> set:
    """Kept edit ids recomputed from the marts in Python: an edit fails when `fail_sql` is true; a session keeps
    its turns 1..k before the first failing or missing turn (cut), or all of them only when none (drop_session)."""
    rows = con.execute(f"""
        select e.edit_id, e.session_id, e.turn_index, ({fail_sql}) as fails
        from edits e join edit_quality_flags f using (edit_id)
        left join (select * from stg_editlens__edit_scores
                   where model_name = 'editlens-tiny') s using (edit_id)""").fetchall()
    kept = {eid for eid, sid, _, fails in rows if sid is None and not fails}
    sessions: dict = {}
    for eid, sid, turn, fails in rows:
        if sid is not None:
            sessions.setdefault(sid, []).append((turn, fails, eid))
    for turns in sessions.values():
        turns.sort()
        prefix = []
        for want, (turn, fails, eid) in enumerate(turns, 1):
            if fails or turn != want:
                break
            prefix.append(eid)
        if mode == "cut" or len(prefix) == len(turns):
            kept.update(prefix)
    return kept


CLEAN_FAIL_SQL = ("coalesce(f.is_noop, false) or coalesce(f.has_broken_image, false) or "
                  "coalesce(f.is_duplicate_pair, false) or coalesce(f.is_misaligned, false) or "
                  "coalesce(f.unsafe_image_introduced, false) or s.clip_i is null or s.clip_i < 0.75")


# ---- policy files -----------------------------------------------------------------------------------------------

def test_policy_parses_both_threshold_forms_and_round_trips():
    p = parse_policy(CLEAN.replace("model:", "  - {score: directional_instruction, op: '>', value: 0.1}\nmodel:"))
    assert p.drop == ("noop", "broken_image", "duplicate", "misaligned", "unsafe_introduced")
    assert [(t.score, t.op, t.value) for t in p.require] == [("clip_i", ">=", 0.75), ("directional_instruction", ">", 0.1)]
    assert p.model == "editlens-tiny" and p.multi_turn == "cut" and p.unscored == "drop"
    q = parse_policy(dump_policy(p))
    assert (q.name, q.drop, q.require, q.model, q.multi_turn, q.unscored, q.where) == \
        (p.name, p.drop, p.require, p.model, p.multi_turn, p.unscored, p.where)


@pytest.mark.parametrize("text, words", [
    ("drop: [noop, no_such_rule]\n", "unknown rule"),
    ("drp: [noop]\n", "unknown key"),
    ("require: ['clip_i ~ 3']\n", "is not"),
    ("require: [{score: clip_i, op: '=>', value: 1}]\n", "unknown operator"),
    ("multi_turn: trim\n", "multi_turn"),
    ("where: \"1=1; drop table edits\"\n", "no `;`"),
    ("- a list\n", "mapping"),
    ("drop: [noop\n", "not valid YAML"),
])
def test_bad_policy_is_a_clear_error(text, words):
    with pytest.raises(PolicyError, match=words):
        parse_policy(text)


@pytest.mark.parametrize("text, words", [
    ("drop: [noop, no_such_rule]\n", "unknown rule"),
    ("require: ['clip_q >= 0.5']\n", "unknown score column `clip_q`"),
    ("require: ['clip_i >= 0.5']\nmodel: ViT-Z-99\n", "has no scores"),
    ("where: \"no_such_column > 1\"\n", "does not run on the marts"),
])
def test_unusable_policy_exits_2_with_one_line(wh, tmp_path, text, words):
    r = _run("export", tmp_path / "out", "--policy", _policy(tmp_path, text), "--format", "manifest",
             "--warehouse", wh, check=False)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_unusable_format_and_output_folder_exit_2(wh, tmp_path):
    pol = _policy(tmp_path, CLEAN)
    r = _run("export", tmp_path / "o", "--policy", pol, "--format", "tfrecord", "--warehouse", wh, check=False)
    assert r.returncode == 2 and "unknown format" in r.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    r = _run("export", busy, "--policy", pol, "--format", "manifest", "--warehouse", wh, check=False)
    assert r.returncode == 2 and "not an earlier export" in r.stderr
    assert (busy / "notes.txt").read_text() == "mine"
    r = _run("export", tmp_path / "o", "--policy", pol, "--format", "seed", "--warehouse", tmp_path / "nowh",
             check=False)
    assert r.returncode == 2 and "editlens build" in r.stderr


# ---- removals equal the marts -------------------------------------------------------------------------------------

def test_rule_removals_equal_sql_counts_on_the_marts(wh, con, tmp_path):
    card = _export(wh, _policy(tmp_path, CLEAN), "manifest", tmp_path / "m")
    checks = {c["check"]: c for c in card["removals"]["checks"]}
    for rule, column in [("noop", "is_noop"), ("broken_image", "has_broken_image"),
                         ("duplicate", "is_duplicate_pair"), ("misaligned", "is_misaligned"),
                         ("unsafe_introduced", "unsafe_image_introduced")]:
        (n,) = con.execute(f"select count(*) from edit_quality_flags where {column}").fetchone()
        assert checks[rule]["n_removed"] == n, rule
    (n_clip,) = con.execute("""
        select count(*) from edits e left join (select edit_id, clip_i from stg_editlens__edit_scores
        where model_name = 'editlens-tiny') s using (edit_id) where s.clip_i is null or s.clip_i < 0.75""").fetchone()
    assert checks["clip_i >= 0.75"]["n_removed"] == n_clip > 0
    (n_dup_groups,) = con.execute(
        "select count(distinct duplicate_of_edit_id) from edit_quality_flags where is_duplicate_pair").fetchone()
    assert checks["duplicate"]["n_removed"] > 0 and n_dup_groups > 0  # the sample has duplicates; one of each kept
    kept = _expected_kept(con, CLEAN_FAIL_SQL, "cut")
    (n_in,) = con.execute("select count(*) from edits").fetchone()
    assert card["totals"] == {"n_in": n_in, "n_out": len(kept), "n_removed": n_in - len(kept)}
    manifest = [json.loads(line) for line in (tmp_path / "m" / "manifest.jsonl").open()]
    assert {m["edit_id"] for m in manifest} == kept
    by_part = dict(con.execute("select part, count(*) from edits group by 1").fetchall())
    assert {r["part"]: r["n_in"] for r in card["counts"]["by_part"]} == by_part
    # overlap: noop and broken images never coincide in the marts' definitions; the card agrees with SQL
    ov = {(o["a"], o["b"]): o["n_both"] for o in card["removals"]["overlap"]}
    (n_both,) = con.execute("select count(*) from edit_quality_flags where has_broken_image and unsafe_image_introduced"
                            ).fetchone()
    assert ov[("broken_image", "unsafe_introduced")] == n_both


def test_multi_turn_cut_and_drop_session(wh, con, tmp_path):
    text = CLEAN.replace("multi_turn: cut", "multi_turn: drop_session")
    card = _export(wh, _policy(tmp_path, text), "manifest", tmp_path / "d")
    ids = {json.loads(line)["edit_id"] for line in (tmp_path / "d" / "manifest.jsonl").open()}
    assert ids == _expected_kept(con, CLEAN_FAIL_SQL, "drop_session")
    cut = _expected_kept(con, CLEAN_FAIL_SQL, "cut")
    assert ids < cut  # the sample has sessions with a failing later turn
    assert card["removals"]["n_removed_by_session"] > 0


def test_where_clause_filters_by_mart_columns(wh, con, tmp_path):
    card = _export(wh, _policy(tmp_path, "where: \"part <> 'part3' and n_words >= 4\"\n"), "manifest", tmp_path / "w")
    (n,) = con.execute("select count(*) from edits where part <> 'part3' and n_words >= 4").fetchone()
    assert card["totals"]["n_out"] == n
    assert {r["part"] for r in card["counts"]["by_part"] if r["n_out"]} <= {
        "part1-openimages", "part1-unsplash", "part1-unsplash-gpt4v", "part2"}


# ---- data card --------------------------------------------------------------------------------------------------

def test_wilson_interval_known_values():
    lo, hi = wilson(0, 1)
    assert lo == 0 and hi == pytest.approx(0.7935, abs=1e-4)
    lo, hi = wilson(50, 100)
    assert (lo, hi) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    assert wilson(0, 0) == (None, None)


def test_card_slice_rates_equal_the_marts(wh, con, tmp_path):
    card = _export(wh, _policy(tmp_path, CLEAN), "manifest", tmp_path / "m")
    kept = {json.loads(line)["edit_id"] for line in (tmp_path / "m" / "manifest.jsonl").open()}
    rows = con.execute("select edit_id, dataset, coalesce(demographic_groups, []) from edit_quality_flags").fetchall()
    groups = sorted({g for _, _, gs in rows for g in gs})
    assert groups, "the sample mentions demographic groups"
    slices = {(r["demographic_group"], r["dataset"]): r for r in card["bias_impact"]}
    for g in groups:
        for ds in ["all"] + sorted({d for _, d, _ in rows}):
            scope = [(e, gs) for e, d, gs in rows if ds in ("all", d)]
            grp = [e for e, gs in scope if g in gs]
            rest = [e for e, gs in scope if g not in gs]
            if not grp:
                continue
            r = slices[(g, ds)]
            k_g, k_r = sum(e not in kept for e in grp), sum(e not in kept for e in rest)
            assert (r["n_group"], r["n_group_removed"], r["n_rest"], r["n_rest_removed"]) == (len(grp), k_g, len(rest), k_r)
            assert r["group_removal_rate"] == pytest.approx(k_g / len(grp), abs=1e-6)
            assert r["rest_removal_rate"] == pytest.approx(k_r / len(rest), abs=1e-6)
            assert r["group_ci95"] == pytest.approx(list(wilson(k_g, len(grp))), abs=1e-6)
    md = (tmp_path / "m" / "datacard.md").read_text()
    assert "Filter impact per demographic slice" in md and f"**{len(kept)} of" in md
    left = {r["category"]: r["n_left"] for r in card["safety_left"]}
    for cat, n in left.items():
        (want,) = con.execute("select count(*) from safety_flagged_edits where list_contains(categories, ?) "
                              "and edit_id in (select unnest(?))", [cat, sorted(kept)]).fetchone()
        assert n == want
    assert card["model"]["model_name"] == "editlens-tiny" and card["model"]["thresholds"] == [
        {"score": "clip_i", "op": ">=", "value": 0.75}]


# ---- SEED JSONL: re-ingests into exactly the kept edits ---------------------------------------------------------

def test_seed_export_reingests_into_exactly_the_kept_edits(wh, con, tmp_path):
    out = tmp_path / "seed"
    card = _export(wh, _policy(tmp_path, CLEAN), "seed", out)
    kept = _expected_kept(con, CLEAN_FAIL_SQL, "cut")
    assert card["totals"]["n_out"] == len(kept)
    # original file names per part, original keys
    files = {f for f in card["export"]["files"]}
    assert any(f.endswith("auto_editing/openimages/annotations/split_0000.jsonl") for f in files)
    assert any("annotations_GPT4V/" in f for f in files) and any("multi_turn_editing/annotations/" in f for f in files)
    for f in files:
        for line in (out / f).open():
            rec = json.loads(line)
            if "multi_turn_editing" in f:
                turns = sorted(int(k.rsplit("_", 1)[1]) for k in rec if k.startswith("instruction_"))
                assert turns == list(range(1, len(turns) + 1))  # a kept session is a valid chain
                assert all(f"edit_image_{k}" in rec for k in turns)
            else:
                assert {"source_image", "target_image", "instruction"} <= rec.keys()
            if "real_editing" in f:
                assert "task_type" in rec and "instruction_cn" in rec
    wh2 = tmp_path / "wh2"
    _reingest(out, wh2)
    pq_edits = str(wh2 / "parquet/edits/*.parquet")
    ids = [r[0] for r in duckdb.execute(f"select edit_id from read_parquet('{pq_edits}')").fetchall()]
    assert len(ids) == len(set(ids)) and set(ids) == kept
    (n_rej,) = duckdb.execute(f"select count(*) from read_parquet('{wh2}/parquet/rejects/*.parquet')").fetchone()
    (n_missing,) = duckdb.execute(
        f"select count(*) from read_parquet('{wh2}/parquet/images/*.parquet') where not exists").fetchone()
    assert n_rej == 0 and n_missing == 0
    # the canonical columns come back unchanged (lineage aside)
    cols = "edit_id, part, session_id, turn_index, instruction, instruction_ori, source_caption, target_caption, " \
           "provided_labels, extra"
    back = duckdb.execute(f"select {cols} from read_parquet('{pq_edits}') order by edit_id").fetchall()
    orig = con.execute(f"select {cols} from stg_editlens__edits where edit_id in (select unnest(?)) "
                       f"qualify row_number() over (partition by edit_id) = 1 order by edit_id", [sorted(kept)]).fetchall()
    assert back == orig


def test_rerun_gives_byte_identical_files(wh, tmp_path):
    pol = _policy(tmp_path, CLEAN)
    for fmt in ("seed", "parquet", "manifest"):
        out = tmp_path / fmt
        _export(wh, pol, fmt, out)
        first = _tree_digest(out)
        _export(wh, pol, fmt, out)  # replaces the earlier export in place
        assert _tree_digest(out) == first, fmt
        _export(wh, pol, fmt, tmp_path / f"{fmt}-elsewhere")
        assert _tree_digest(tmp_path / f"{fmt}-elsewhere") == first, fmt
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_parquet_export_embeds_or_references_images(wh, con, tmp_path):
    pol = _policy(tmp_path, CLEAN)
    card = _export(wh, pol, "parquet", tmp_path / "pc")
    t = pq.read_table(tmp_path / "pc" / "seed-data-edit" / "data" / "train-00000-of-00001.parquet").to_pylist()
    assert len(t) == card["totals"]["n_out"]
    row = t[0]
    (root, path) = con.execute("select root, path from stg_editlens__images i join edits e "
                               "on e.source_image_id = i.image_id where e.edit_id = ?", [row["edit_id"]]).fetchone()
    assert row["source_image"]["bytes"] == Path(root, path).read_bytes()
    _export(wh, pol, "parquet", tmp_path / "pr", "--images", "reference")
    r0 = pq.read_table(tmp_path / "pr" / "seed-data-edit" / "data" / "train-00000-of-00001.parquet").to_pylist()[0]
    assert r0["source_image"]["bytes"] is None and r0["source_image"]["path"] == f"{root}/{path}"


def test_failed_export_leaves_the_previous_one(wh, tmp_path, monkeypatch):
    from editlens.export import main as export_main
    from editlens.warehouse import Warehouse

    pol = _policy(tmp_path, CLEAN)
    out = tmp_path / "m"
    _export(wh, pol, "manifest", out)
    before = _tree_digest(out)

    def boom(rows, folder, images):
        (folder / "manifest.jsonl").write_text("half")
        raise RuntimeError("disk full")

    monkeypatch.setitem(export_main.WRITERS, "manifest", boom)
    with pytest.raises(RuntimeError):
        export_main.run_export(export_main.ExportConfig(Warehouse.at(wh), pol, "manifest", out))
    assert _tree_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_seed_format_refuses_other_datasets():
    from editlens.export.writers import seed

    with pytest.raises(PolicyError, match="SEED-Data-Edit edits only"):
        seed.write([{"dataset": "magicbrush"}], Path("/nonexistent"), "copy")


def test_shipped_policy_applies_and_saved_policies_resolve_by_name(wh, tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "editlens" / "export" / "policies" / "clean.yaml"
    card = _export(wh, shipped, "manifest", tmp_path / "s")
    saved = wh / "policies"
    saved.mkdir(exist_ok=True)
    (saved / "clean.yaml").write_text(shipped.read_text())
    card2 = _export(wh, "clean", "manifest", tmp_path / "n")
    assert card2["policy"]["sha256"] == card["policy"]["sha256"] and card2["totals"] == card["totals"]
    assert 0 < card["totals"]["n_out"] < card["totals"]["n_in"]


# ---- peers: HF Parquet in the release's own columns, read back by their readers ---------------------------------

def _jpeg(rng, size=48) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _peer_content(wh_dir, dataset) -> list:
    from editlens.contract import ImageLocation

    con = duckdb.connect()
    imgs = {r["image_id"]: ImageLocation.from_row(r) for r in con.execute(
        f"select * from read_parquet('{wh_dir}/parquet/images/*.parquet')").to_arrow_table().to_pylist()}
    rows = con.execute(f"""select session_id, turn_index, instruction, source_caption, target_caption,
        source_image_id, target_image_id, mask_image_id from read_parquet('{wh_dir}/parquet/edits/*.parquet')
        where dataset = '{dataset}'""").fetchall()
    digest = lambda iid: None if iid is None else hashlib.sha256(imgs[iid].read_bytes()).hexdigest()
    return sorted((r[:5] + tuple(digest(i) for i in r[5:])) for r in rows)


def test_peer_parquet_export_in_native_columns_reads_back(tmp_path):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(3)
    hf = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    img = lambda: {"bytes": _jpeg(rng), "path": None}
    ip2p = tmp_path / "data" / "ip2p" / "data"
    ip2p.mkdir(parents=True)
    pq.write_table(pa.table({
        "original_prompt": [f"a photo {i}" for i in range(6)],
        "original_image": pa.array([img() for _ in range(6)], hf),
        "edit_prompt": [f"make it style {i}" for i in range(6)],
        "edited_prompt": [f"a photo {i} in style" for i in range(6)],
        "edited_image": pa.array([img() for _ in range(6)], hf),
    }), ip2p / "train-00000-of-00001.parquet", row_group_size=4)
    mb = tmp_path / "data" / "magicbrush" / "data"
    mb.mkdir(parents=True)
    pq.write_table(pa.table({
        "img_id": ["11", "11", "11", "12"], "turn_index": pa.array([1, 2, 3, 1], pa.int32()),
        "source_img": pa.array([img() for _ in range(4)], hf),
        "mask_img": pa.array([img(), None, img(), img()], hf),
        "instruction": ["add a hat", "make it red", "remove the cup", "add a dog"],
        "target_img": pa.array([img() for _ in range(4)], hf),
    }), mb / "dev-00000-of-00001.parquet")
    wh = tmp_path / "wh"
    for d in ("ip2p", "magicbrush"):
        _run("ingest", tmp_path / "data" / d, "--warehouse", wh)
    _run("embed", "--warehouse", wh, "--no-progress")
    _run("build", "--warehouse", wh)
    pol = _policy(tmp_path, "name: all\nwhere: \"not (dataset = 'magicbrush' and turn_index = 2)\"\n")
    card = _export(wh, pol, "parquet", tmp_path / "out")
    assert sorted(card["export"]["files"]) == ["instructpix2pix/data/train-00000-of-00001.parquet",
                                               "magicbrush/data/dev-00000-of-00001.parquet"]
    mb_out = pq.read_table(tmp_path / "out" / "magicbrush/data/dev-00000-of-00001.parquet")
    assert mb_out.column_names == ["img_id", "turn_index", "source_img", "mask_img", "instruction", "target_img"]
    assert [(r["img_id"], r["turn_index"]) for r in mb_out.to_pylist()] == [("11", 1), ("12", 1)]  # cut at turn 2
    wh2 = tmp_path / "wh2"
    for d in ("instructpix2pix", "magicbrush"):
        _run("ingest", tmp_path / "out" / d, "--warehouse", wh2)
    assert _peer_content(wh2, "instructpix2pix") == _peer_content(wh, "instructpix2pix")
    orig_mb = [r for r in _peer_content(wh, "magicbrush") if (r[0], r[1]) != ("11", 2) and (r[0], r[1]) != ("11", 3)]
    assert _peer_content(wh2, "magicbrush") == orig_mb
    (n_rej,) = duckdb.execute(f"select count(*) from read_parquet('{wh2}/parquet/rejects/*.parquet')").fetchone()
    assert n_rej == 0


def test_marts_only_evaluation_matches_the_database(wh, tmp_path):
    """The dashboard's policy page evaluates on the exported marts: same counts and card as the export."""
    from editlens.export.card import impact
    from editlens.export.policy import save_policy
    from editlens.export.select import connect_marts, evaluate

    card = _export(wh, _policy(tmp_path, CLEAN), "manifest", tmp_path / "m")
    policy = parse_policy(CLEAN)
    con = connect_marts(wh / "marts")
    got = impact(con, policy, evaluate(con, policy))
    for key in ("totals", "counts", "removals", "bias_impact", "safety_left", "model"):
        assert got[key] == card[key], key
    saved = save_policy(policy, wh / "policies")
    assert saved == wh / "policies" / "clean-v1.yaml" and parse_policy(saved.read_text()).require == policy.require
    with pytest.raises(PolicyError, match="file name"):
        save_policy(parse_policy("name: ../evil\n"), wh / "policies")


# ---- dashboard: the Policy page ---------------------------------------------------------------------------------

def test_policy_page_counts_live_and_saves(wh, con, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(wh))
    app = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120)
    at.run()
    at.switch_page("views/policy.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {x.label: x.value for x in at.metric}
    default_fail = ("coalesce(f.is_noop, false) or coalesce(f.has_broken_image, false) or "
                    "coalesce(f.is_duplicate_pair, false) or coalesce(f.is_misaligned, false)")
    (n_in,) = con.execute("select count(*) from edits").fetchone()
    assert metrics["Edits kept"] == f"{len(_expected_kept(con, default_fail, 'cut')):,}"
    assert metrics["Of"] == f"{n_in:,}"
    # add a rule and a threshold: the counts follow
    at.multiselect(key="policy_drop_(new policy)").select("unsafe_introduced").run()
    at.multiselect(key="policy_scores_(new policy)").select("clip_i").run()
    at.number_input(key="policy_v_clip_i_(new policy)").set_value(0.75).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["Edits kept"] == f"{len(_expected_kept(con, CLEAN_FAIL_SQL, 'cut')):,}"
    bias = at.get_by_key("policy_bias").dataframe[0].value
    assert set(bias["demographic_group"]) == {
        g for (gs,) in con.execute("select demographic_groups from edit_quality_flags").fetchall() for g in gs or []}
    at.text_input(key="policy_name_(new policy)").set_value("from-page").run()
    at.button(key="policy_save").click().run()
    saved = wh / "policies" / "from-page.yaml"
    assert saved.is_file()
    p = parse_policy(saved.read_text())
    assert p.drop == ("noop", "broken_image", "duplicate", "misaligned", "unsafe_introduced")
    assert [(t.score, t.op, t.value) for t in p.require] == [("clip_i", ">=", 0.75)]
    # the saved policy exports with the same counts the page showed
    out = wh.parent / "from-page-export"
    card = _export(wh, "from-page", "manifest", out)
    assert f"{card['totals']['n_out']:,}" == metrics["Edits kept"]


def test_seed_reference_export_is_annotations_only_with_the_same_ids(wh, con, tmp_path):
    out = tmp_path / "ref"
    card = _export(wh, _policy(tmp_path, CLEAN), "seed", out, "--images", "reference")
    assert card["export"]["n_images_copied"] == 0
    assert not [p for p in out.rglob("*.jpg")]
    wh2 = tmp_path / "wh2"
    _reingest(out, wh2)
    ids = {r[0] for r in duckdb.execute(f"select edit_id from read_parquet('{wh2}/parquet/edits/*.parquet')").fetchall()}
    assert ids == _expected_kept(con, CLEAN_FAIL_SQL, "cut")
