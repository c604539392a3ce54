"""The browsing pages (Edit map, Similar edits, Review queue) with AppTest on marts built by the real dbt project,
the review tables the app writes, and the flag_precision mart built from known verdicts (values asserted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from conftest import copy_marts
from editlens.contract import index as ix
from editlens.dashboards import data
from editlens.dashboards.data import browse as B
from editlens.dashboards.data import review as R
from editlens.export.card import wilson

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture(scope="module")
def wh(built_warehouse) -> Path:
    return built_warehouse


@pytest.fixture
def own_wh(wh, tmp_path) -> Path:
    """A writable copy of the built warehouse's marts and indexes (the review pages write into it)."""
    dst = copy_marts(wh, tmp_path / "wh")
    shutil.copytree(wh / "index", dst / "index")
    return dst


def _open(root: Path, monkeypatch, page: str, **query) -> AppTest:
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _mart(root: Path, sql: str):
    return duckdb.sql(sql.replace("{M}", str(root / "marts"))).fetchall()


def test_map_draws_a_stated_sample_and_a_region_opens_in_the_explorer(wh, monkeypatch):
    ((key, n_image),) = _mart(wh, "select model_key, count(*) from '{M}/edit_map.parquet' where space = 'image' "
                                  "and method = 'pca' group by 1")
    xs = sorted(r[0] for r in _mart(wh, "select x from '{M}/edit_map.parquet' where space = 'image'"))
    lo, hi = xs[len(xs) // 4], xs[3 * len(xs) // 4]
    region = f"{lo},{hi},-100,100"
    at = _open(wh, monkeypatch, "edit_map", region=region)
    assert at.selectbox(key="map_space").value == "image"
    cap = " ".join(c.value for c in at.caption)
    assert f"{n_image:,} of {n_image:,} edits drawn, a uniform random sample" in cap
    want = _mart(wh, f"select count(*) from '{{M}}/edit_map.parquet' where model_key = '{key}' and space = 'image' "
                     f"and x between {lo} and {hi}")[0][0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Edits in the region"] == f"{want:,}" and metrics["Of them drawn"] == f"{want:,}"
    assert 0 < want < n_image
    # the explorer link carries the region; the explorer counts every edit in it
    enc = B.Region(key, "image", "pca", lo, hi, -100, 100).encode()
    ex = _open(wh, monkeypatch, "explorer", map=enc)
    dec = B.Region.decode(enc)
    want_ex = _mart(wh, f"select count(*) from '{{M}}/edit_map.parquet' where model_key = '{key}' and space = 'image' "
                        f"and x between {dec.x0} and {dec.x1}")[0][0]
    assert {m.label: m.value for m in ex.metric}["Matching edits"] == f"{want_ex:,}"


def test_map_colours_by_flag_and_switches_space(wh, monkeypatch):
    at = _open(wh, monkeypatch, "edit_map")
    at.selectbox(key="map_space").set_value("instruction").run()
    at.selectbox(key="map_colour").set_value("quality flag").run()
    assert not at.exception
    n_instr = _mart(wh, "select count(*) from '{M}/edit_map.parquet' where space = 'instruction'")[0][0]
    assert f"{n_instr:,} of {n_instr:,} edits drawn" in " ".join(c.value for c in at.caption)
    assert [i.value for i in at.info] == ["Select a region on the map to list its edits and open them in the explorer."]


def test_map_sample_is_the_first_hash_ranks(wh):
    m = data.Marts.open(wh)
    (key,) = {k for k, _ in B.indexes(m)}
    pts = B.map_points(m, key, "image", "pca", 25)
    want = [r[0] for r in _mart(wh, f"select edit_id from '{{M}}/edit_map.parquet' where model_key = '{key}' "
                                    "and space = 'image' and method = 'pca' order by hash(edit_id), edit_id limit 25")]
    assert sorted(pts["edit_id"]) == sorted(want)


def test_similar_edits_by_image_are_the_exact_nearest(wh, monkeypatch):
    m = data.Marts.open(wh)
    (key,) = {k for k, _ in B.indexes(m)}
    idx = ix.NeighbourIndex.open(ix.index_dir(wh, key, "image"), use_hnsw=False)
    probe = idx.key(5)
    want = [e for e, _ in idx.exact_search(idx.vector(probe), 9) if e != probe][:8]
    at = _open(wh, monkeypatch, "similar", edit=probe)
    at.number_input(key="sim_k").set_value(8).run()
    shown = at.dataframe[-1].value
    assert shown["edit_id"].tolist() == want
    assert (shown["similarity"].diff().dropna() <= 1e-9).all() and shown["similarity"].iloc[0] <= 1.0 + 1e-6
    # every result links to the edit detail page
    md = " ".join(x.value for x in at.markdown)
    assert all(f"(edit?edit={e})" in md for e in want)


def test_similar_by_instruction_and_by_text(wh, monkeypatch):
    at = _open(wh, monkeypatch, "similar")
    at.radio(key="sim_mode").set_value("instruction").run()
    assert not at.exception and len(at.dataframe[-1].value) == 12
    at.radio(key="sim_mode").set_value("text").run()
    at.text_input(key="sim_text").input("a red circle").run()
    assert not at.exception, [e.value for e in at.exception]
    res = at.dataframe[-1].value
    assert len(res) == 12 and res["similarity"].is_monotonic_decreasing
    # the query went through the model's own text tower: the top hit equals an exact scan with that vector
    m = data.Marts.open(wh)
    (key,) = {k for k, _ in B.indexes(m)}
    q = B.text_vector(m, key, "a red circle")
    idx = ix.NeighbourIndex.open(ix.index_dir(wh, key, "image"), use_hnsw=False)
    assert res["edit_id"].iloc[0] == idx.exact_search(q / np.linalg.norm(q), 1)[0][0]


def test_review_verdicts_and_tags_are_appended_to_the_warehouse(own_wh, monkeypatch):
    at = _open(own_wh, monkeypatch, "review")
    at.selectbox(key="rv_flag").set_value("is_noop").run()
    at.number_input(key="rv_n").set_value(3).run()
    m = data.Marts.open(own_wh)
    queue = R.review_queue(m, "is_noop", at.selectbox(key="rv_dataset").value, 0, 3)
    assert queue["queue"].value_counts().to_dict() == {"flagged": 3, "unflagged": 3}
    first = queue.iloc[0]
    at.button(key="rv_right").click().run()
    at.button(key="rv_wrong").click().run()
    assert not at.exception
    files = sorted((own_wh / "parquet" / "flag_verdicts").glob("*.parquet"))
    assert len(files) == 2  # append-only: one file per save
    rows = pq.read_table(files).to_pylist()
    flags = dict(_mart(own_wh, "select edit_id, is_noop from '{M}/edit_quality_flags.parquet'"))
    assert rows[0]["edit_id"] == first["edit_id"] and rows[0]["verdict"] == "right"
    assert rows[1]["edit_id"] == queue.iloc[1]["edit_id"] and rows[1]["verdict"] == "wrong"
    assert all(r["flag"] == "is_noop" and r["flagged"] == flags[r["edit_id"]] and r["sample_seed"] == 0
               for r in rows)
    assert "2 of 6 reviewed" in at.get("progress")[0].proto.text
    # the same seed gives the same queue; another seed another one
    assert R.review_queue(m, "is_noop", None, 0, 3)["edit_id"].tolist() == \
        R.review_queue(m, "is_noop", None, 0, 3)["edit_id"].tolist()
    # a tag from the card
    tag = at.get("button_group")[0]
    tag.set_value("drop").run()
    assert R.current_tags(m, [queue.iloc[2]["edit_id"]]) == {queue.iloc[2]["edit_id"]: "drop"}
    R.save_tag(m, queue.iloc[2]["edit_id"], "keep")
    assert R.current_tags(m, [queue.iloc[2]["edit_id"]]) == {queue.iloc[2]["edit_id"]: "keep"}
    with pytest.raises(ValueError):
        R.save_verdict(m, "x", "is_noop", True, "maybe")


def test_flag_precision_mart_from_known_verdicts(pipeline, tmp_path):
    """Verdicts written as the app writes them -> `editlens build` -> precision, recall and Wilson bounds."""
    from editlens.build import run_build
    from editlens.warehouse import Warehouse

    src = pipeline(300, 7).warehouse.root
    root = tmp_path / "wh"
    shutil.copytree(src / "parquet", root / "parquet")
    m = data.Marts.open(root)
    flags = duckdb.sql(f"""
        with e as (select distinct edit_id, source_image_id, target_image_id from '{src}/parquet/edits/*.parquet')
        select edit_id from e order by edit_id""").fetchall()
    ids = [r[0] for r in flags]
    # 6 flagged reviews (4 right, 2 wrong), 5 unflagged (4 right, 1 wrong), 1 unsure; one edit re-reviewed
    plan = [(True, "right")] * 4 + [(True, "wrong")] * 2 + [(False, "right")] * 4 + [(False, "wrong")] + \
        [(True, "unsure")]
    for eid, (flagged, v) in zip(ids, plan):
        R.save_verdict(m, eid, "is_noop", flagged, v, sample="flagged" if flagged else "unflagged", seed=1)
    R.save_verdict(m, ids[0], "is_noop", True, "wrong", seed=1)   # later: replaces ids[0]'s "right"
    R.save_verdict(m, ids[0], "is_noop", True, "right", seed=1)   # and back: the latest wins
    assert run_build(Warehouse.at(root), ["--quiet"]) == 0
    got = duckdb.sql(f"select * from '{root}/marts/flag_precision.parquet' where flag = 'is_noop'").df()
    assert len(got) == 1
    r = got.iloc[0].to_dict()
    assert (r["n_true_positive"], r["n_false_positive"], r["n_true_negative"], r["n_false_negative"],
            r["n_unsure"]) == (4, 2, 4, 1, 1)
    assert r["precision"] == pytest.approx(4 / 6)
    lo, hi = wilson(4, 6)
    assert (r["precision_lo"], r["precision_hi"]) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
    assert r["false_omission_rate"] == pytest.approx(1 / 5)
    nf, nu = int(r["n_flagged"]), int(r["n_unflagged"])
    assert nf + nu == r["n_edits"] == len(ids)
    assert r["recall"] == pytest.approx(nf * 4 / 6 / (nf * 4 / 6 + nu * 1 / 5))
    flo, fhi = wilson(1, 5)
    assert r["recall_lo"] == pytest.approx(nf * lo / (nf * lo + nu * fhi), abs=1e-6)
    assert r["recall_hi"] == pytest.approx(nf * hi / (nf * hi + nu * flo), abs=1e-6)
    # flags without verdicts are listed, not measured
    other = duckdb.sql(f"select precision, recall from '{root}/marts/flag_precision.parquet' "
                       "where flag = 'is_misaligned'").fetchall()
    assert other == [(None, None)]
    # the tags mart: the latest tag per edit
    R.save_tag(m, ids[1], "drop")
    R.save_tag(m, ids[1], "needs-review")
    assert run_build(Warehouse.at(root), ["--quiet", "--select", "+tagged_edits"]) == 0
    assert duckdb.sql(f"select edit_id, tag, n_saves from '{root}/marts/tagged_edits.parquet'").fetchall() == \
        [(ids[1], "needs-review", 2)]
