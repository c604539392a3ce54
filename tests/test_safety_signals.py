"""Safety signals through the real dbt project: flags only from calibrated signals, detectors beside CLIP,
"introduced" = absent in the source and present in the target, unknown when an image is missing or broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.synthetic_warehouse import make_synthetic_warehouse
from editlens.build import run_build
from editlens.contract.tables import EMBED_SCHEMAS, IMAGE_DETECTIONS
from editlens.warehouse import Warehouse, atomic_write_table

N_EDITS = 1500


def _build(root):
    assert run_build(Warehouse.at(root), ["--quiet"]) == 0
    return duckdb.connect(str(root / "editlens.duckdb"), read_only=True)


def _ok_pairs(root, n):
    """n edits whose two images decoded, with distinct source and target contents never used elsewhere."""
    con = duckdb.connect()
    return con.sql(f"""
        with e as (select edit_id, source_image_id, target_image_id from '{root}/parquet/edits/*.parquet'),
        f as (select image_id, sha256, status from '{root}/parquet/image_facts/*.parquet'),
        p as (select e.edit_id, s.sha256 as src, t.sha256 as tgt from e
              join f s on s.image_id = e.source_image_id join f t on t.image_id = e.target_image_id
              where s.status = 'ok' and t.status = 'ok' and s.sha256 <> t.sha256),
        used as (select sha, count(*) as n from (select src as sha from p union all select tgt from p) group by 1)
        select edit_id, src, tgt from p
        where (select n from used where sha = src) = 1 and (select n from used where sha = tgt) = 1
        order by edit_id limit {n}""").fetchall()


def _detections(rows):
    """rows of (sha256, nudenet {label: score}, faces)."""
    cols = {f.name: [] for f in EMBED_SCHEMAS[IMAGE_DETECTIONS]}
    for sha, scores, faces in rows:
        for det, ver in (("nudenet", "nudenet 3.4.2 test"), ("opencv-haar-face", "opencv 4 test")):
            cols["sha256"].append(sha)
            cols["detector"].append(det)
            cols["detector_version"].append(ver)
            cols["status"].append("ok")
            cols["message"].append(None)
            if det == "nudenet":
                cols["n_detections"].append(len(scores))
                cols["class_labels"].append(list(scores))
                cols["class_scores"].append(list(scores.values()))
                cols["largest_share"].append(0.1 if scores else 0.0)
                cols["boxes"].append("100,100,400,400" if scores else "")
            else:
                cols["n_detections"].append(faces)
                cols["class_labels"].append([])
                cols["class_scores"].append([])
                cols["largest_share"].append(0.05 if faces else 0.0)
                cols["boxes"].append("300,100,500,300" if faces else "")
    return pa.Table.from_pydict(cols, schema=EMBED_SCHEMAS[IMAGE_DETECTIONS])


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    base = tmp_path_factory.mktemp("safety")
    calibrated = base / "calibrated"
    make_synthetic_warehouse(calibrated, n_edits=N_EDITS, seed=11)
    # an uncalibrated copy: the same scores under a model key no calibration row names
    uncal = base / "uncalibrated"
    shutil.copytree(calibrated, uncal)
    for table in ("image_concepts", "edit_scores", "embed_models"):
        for f in (uncal / "parquet" / table).glob("*.parquet"):
            t = pq.read_table(f)
            t = t.set_column(t.schema.get_field_index("model_key"), "model_key",
                             pa.array(["0123456789abcdef"] * t.num_rows))
            atomic_write_table(t, f)
    # detectors on the calibrated copy: 3 edits whose target NudeNet flags (one also flagged on its source),
    # one below the threshold; faces added on 2 edits, removed on 1
    pairs = _ok_pairs(calibrated, 8)
    (e0, s0, t0), (e1, s1, t1), (e2, s2, t2), (e3, s3, t3), (e4, s4, t4), (e5, s5, t5), (e6, s6, t6), _ = pairs
    rows = [(s0, {}, 0), (t0, {"FEMALE_BREAST_EXPOSED": 0.81}, 0),
            (s1, {}, 0), (t1, {"BUTTOCKS_EXPOSED": 0.66, "FACE_FEMALE": 0.9}, 1),
            (s2, {"MALE_GENITALIA_EXPOSED": 0.7}, 0), (t2, {"MALE_GENITALIA_EXPOSED": 0.9}, 0),
            (s3, {}, 0), (t3, {"FEMALE_BREAST_EXPOSED": 0.3}, 0),
            (s4, {}, 0), (t4, {}, 2), (s5, {}, 1), (t5, {}, 0), (s6, {}, 0), (t6, {}, 0)]
    wh = Warehouse.at(calibrated)
    atomic_write_table(_detections(rows), wh.shard_path(IMAGE_DETECTIONS, "test"))
    out = {"calibrated": _build(calibrated), "uncalibrated": _build(uncal),
           "roots": {"calibrated": calibrated, "uncalibrated": uncal}, "introduced": {e0, e1}, "not_introduced": {e2, e3}, "detected": {e0, e1, e2, e3, e4, e5, e6}}
    yield out
    out["calibrated"].close()
    out["uncalibrated"].close()


def test_uncalibrated_model_flags_no_image_and_says_why(warehouses):
    con = warehouses["uncalibrated"]
    clip = con.sql("select is_in_use, null_reason from safety_signals where signal = 'clip'").fetchall()
    assert clip and set(clip) == {(False, "not_calibrated")}
    # the scores are still there, the flags are not
    assert con.sql("select count(*) from stg_editlens__image_concepts where score >= 0.5 "
                   "and concept_group = 'safety'").fetchone()[0] > 0
    assert con.sql("select count(*) from int_image_safety_flags").fetchone() == (0,)
    rows = con.sql("""select image_null_reason, n_target_image_flagged, introduced_rate from safety_slices
                      where category <> 'watermark'""").fetchall()
    assert rows and all(r == ("not_calibrated", None, None) for r in rows)
    assert con.sql("select count(*) from edit_quality_flags where unsafe_image_introduced is not null").fetchone() == (0,)
    assert con.sql("select count(*) from safety_flagged_edits where 'clip' in signals").fetchone() == (0,)
    # instruction terms still count
    assert con.sql("select sum(n_instruction_flagged) from safety_slices").fetchone()[0] > 0
    # and no perceived-attribute shift is reported for an uncalibrated model
    assert con.sql("select count(*) from attribute_shifts").fetchone() == (0,)


def test_detector_introduces_only_what_the_source_lacks(warehouses):
    con = warehouses["calibrated"]
    sig = dict(con.sql("select signal, is_in_use from safety_signals where category = 'sexual'").fetchall())
    assert sig == {"instruction_lexicon": True, "clip": True, "nudenet": True}
    got = {e for (e,) in con.sql("""select edit_id from int_edit_image_safety
                                    where list_contains(introduced_signals, 'nudenet:sexual')""").fetchall()}
    assert got == warehouses["introduced"]
    reasons = dict(con.sql("select edit_id, reasons from safety_flagged_edits").fetchall())
    e0 = min(warehouses["introduced"])
    assert any("nudenet" in r and ">= 0.5" in r for r in reasons[e0])
    assert any(r.startswith("the edit introduced sexual") for r in reasons[e0])
    e2, e3 = sorted(warehouses["not_introduced"])
    for e in (e2, e3):
        assert not any(r.startswith("the edit introduced sexual") for r in reasons.get(e, []))
    # signals recorded per edit, and per slice which signal introduced how many
    assert con.sql(f"select signals from safety_flagged_edits where edit_id = '{e0}'").fetchone()[0] == ["nudenet"]
    by = con.sql("""select sum(s.n_edits) from safety_slices, unnest(introduced_by_signal) as u(s)
                    where category = 'sexual' and s.signal = 'nudenet'""").fetchone()[0]
    assert by == 2


def test_denominators_are_the_edits_a_signal_scored(warehouses):
    con = warehouses["calibrated"]
    n_ok = con.sql("""select count(*) from int_edit_images
                      where source_status = 'ok' and target_status = 'ok'""").fetchone()[0]
    n_unknown = con.sql("""select count(*) from int_edit_images
                           where source_status <> 'ok' or target_status <> 'ok'""").fetchone()[0]
    assert n_unknown > 0
    rows = con.sql("""select sum(n_edits_image_computed), sum(n_edits_image_unknown), sum(n_edits)
                      from safety_slices where category = 'sexual'""").fetchone()
    assert rows == (n_ok, n_unknown, N_EDITS)
    # an edit with a missing or broken image is unknown, never safe
    assert con.sql("""select count(*) from edit_quality_flags f join int_edit_images i using (edit_id)
                      where (i.source_status <> 'ok' or i.target_status <> 'ok')
                        and f.unsafe_image_introduced is not null""").fetchone() == (0,)
    for n, d, rate in con.sql("""select n_introduced_by_edit, n_edits_image_computed, introduced_rate
                                 from safety_slices where image_null_reason is null""").fetchall():
        assert rate == pytest.approx(n / d)


def test_people_change_from_faces(warehouses):
    con = warehouses["calibrated"]
    rows = dict(con.sql("""select people_change, sum(n_edits) from people_change_slices where label = 'all'
                           group by 1""").fetchall())
    assert rows == {"adds_people": 2, "removes_people": 1, "no_faces": 4}
    dens = {d for (d,) in con.sql("""select sum(distinct n_edits_faces_scored) from people_change_slices
                                     where label = 'all'""").fetchall()}
    assert dens == {7}
    # no face detector: no slice, rather than a share of nothing
    assert warehouses["uncalibrated"].sql("select count(*) from people_change_slices").fetchone() == (0,)


def test_faces_gate_the_attribute_shift(warehouses):
    con = warehouses["calibrated"]
    detected = warehouses["detected"]
    faces = {e for (e,) in con.sql("select distinct edit_id from int_edit_attribute_shifts").fetchall()}
    # edits whose source or target shows a face (detector) are measured even without a person score
    with_face = {e for e in detected if con.sql(f"""
        select count(*) from int_edit_images i join stg_editlens__image_detections d
          on d.sha256 in (i.source_sha256, i.target_sha256)
        where i.edit_id = '{e}' and d.detector = 'opencv-haar-face' and d.n_detections > 0""").fetchone()[0]}
    assert len(with_face) == 3 and with_face <= faces


def _page(root, page, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from editlens.dashboards import data

    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(root))
    if hasattr(data, "reset"):
        data.reset()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_pages_say_not_calibrated_instead_of_a_rate(warehouses, monkeypatch):
    root = warehouses["roots"]["uncalibrated"]
    at = _page(root, "safety", monkeypatch)
    assert any("not calibrated for this model" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Unsafe content introduced by the edit"] == "not calibrated"
    for choice in ("flagged target image", "introduced by the edit"):
        at.radio(key="safety_rate").set_value(choice).run()
        assert any("Not calibrated for this model" in i.value for i in at.info)
        assert not any("%" in c.value for c in at.caption if "Cells:" in c.value)
    at = _page(root, "bias", monkeypatch)
    assert any("Not calibrated for this model" in i.value for i in at.info)
    assert any("face detector did not run" in i.value for i in at.info)
    # the calibrated warehouse, whose faces were counted, shows who the edits add or remove
    at = _page(warehouses["roots"]["calibrated"], "bias", monkeypatch)
    shown = next(f.value for f in at.dataframe if "people_change" in f.value.columns)
    assert dict(zip(shown["people_change"], shown["n_edits"])) == {"adds_people": 2, "removes_people": 1,
                                                                   "no_faces": 4}
    # the calibrated warehouse shows its image rates
    at = _page(warehouses["roots"]["calibrated"], "safety", monkeypatch)
    assert not any("not calibrated for this model" in w.value for w in at.warning)
    at.radio(key="safety_rate").set_value("introduced by the edit").run()
    assert any("n introduced by edit / n edits image computed" in c.value for c in at.caption)
