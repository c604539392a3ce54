"""The comparison marts on benchmarks whose outputs are known transformations (blur at two strengths): per
label the ranking is the one the transformations imply, every missing and unreadable output is counted, the
intervals hold their means and the pairwise mart names the better model."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from PIL import ImageFilter

from editlens.build import run_build
from editlens.embeddings.main import EmbedConfig, run_embed
from editlens.ingest.predictions import PredictionsConfig, run_predictions
from editlens.warehouse import Warehouse
from tests.fixtures_ingest import ingest, write_parquet
from tests.fixtures_predictions import blurred_outputs, magicbrush_test, photo, png

TASKS = ["add", "add", "remove", "remove", "background"]


def _col(blobs):
    return pa.array([{"bytes": b, "path": None} for b in blobs],
                    type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("cmp")
    root = magicbrush_test(base / "downloads")
    src = [photo(50 + i) for i in range(len(TASKS))]
    write_parquet(base / "downloads/emu_edit_test_set/data/test-00000-of-00001.parquet", {
        "instruction": ["add a hat", "add a dog", "remove the car", "remove the tree", "make the sky blue"],
        "image": _col([png(s) for s in src]), "task": TASKS, "split": ["test"] * 5, "idx": list(range(5)),
        "hash": [f"h{i}" for i in range(5)], "input_caption": [f"scene {i}" for i in range(5)],
        "output_caption": [f"scene {i} edited" for i in range(5)]})
    wh = Warehouse.at(base / "wh")
    ingest(base / "downloads", wh.root, workers=1)
    mild = blurred_outputs(root, base / "mild", 1.0)
    strong = blurred_outputs(root, base / "strong", 4.0, skip={("1002", 2, "inde")})
    f = strong / "1004" / "1004_1.png"
    f.write_bytes(f.read_bytes()[:300])  # unreadable in both settings
    for name, d in (("mild", mild), ("strong", strong)):
        run_predictions(PredictionsConfig(wh, name, d, "magicbrush"))
    for name, r in (("mild", 1.0), ("strong", 4.0)):
        outs = [png(s.filter(ImageFilter.GaussianBlur(r))) for s in src]
        gen = write_parquet(base / f"emu-{name}/test.parquet", {"idx": list(range(4)), "edited_image": _col(outs[:4])})
        run_predictions(PredictionsConfig(wh, name, gen, "emu-edit"))  # idx 4 missing for both
    run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0, streams=1, threads=1))
    assert run_build(wh, ["--quiet"]) == 0
    return wh.root


@pytest.fixture(scope="module")
def marts(built):
    con = duckdb.connect(str(built / "editlens.duckdb"), read_only=True)
    yield con
    con.close()


def test_every_label_ranks_mild_blur_above_strong(marts):
    rows = marts.sql("""
        select benchmark, setting, label_origin, label, metric,
               max(mean_value) filter (where editing_model = 'mild') as mild,
               max(mean_value) filter (where editing_model = 'strong') as strong
        from model_label_scores where metric in ('l1', 'l2', 'clip_i')
        group by all having count(*) = 2""").fetchall()
    groups = {(b, s, o, lab) for b, s, o, lab, *_ in rows}
    assert {(b, o, lab) for b, _, o, lab in groups} >= {
        ("magicbrush", "all", "all"), ("magicbrush", "derived", "object-add"), ("emu-edit", "all", "all"),
        ("emu-edit", "provided", "add"), ("emu-edit", "provided", "remove")}
    assert {s for _, s, _, _ in groups} == {"inde", "iter", "single"}
    for b, s, o, lab, metric, mild, strong in rows:
        if metric == "clip_i":
            assert mild > strong, (b, s, lab, metric)
        else:
            assert mild < strong, (b, s, lab, metric)


def test_missing_and_unreadable_outputs_are_counted(marts):
    got = {r[:2]: r[2:] for r in marts.sql("""
        select benchmark || '/' || setting, editing_model, n_edits, n_outputs, n_missing, n_unreadable, n_scored
        from model_label_scores where label = 'all' and metric = 'l1'""").fetchall()}
    # MagicBrush: 6 turns (inde) / 4 final turns (iter); strong misses 1002 turn 2 (inde) and 1004 is unreadable
    assert got[("magicbrush/inde", "mild")] == (6, 6, 0, 0, 6)
    assert got[("magicbrush/inde", "strong")] == (6, 5, 1, 1, 4)
    assert got[("magicbrush/iter", "strong")] == (4, 4, 0, 1, 3)
    assert got[("emu-edit/single", "mild")] == (5, 4, 1, 0, 4)  # idx 4 has no output
    bad = marts.sql("select count(*) from model_label_scores where ci_low > mean_value or ci_high < mean_value "
                    "or replicates != 200").fetchone()[0]
    assert bad == 0


def test_pairwise_differences_name_the_better_model(marts):
    rows = marts.sql("""select benchmark, setting, metric, n_paired, mean_diff, ci_low, ci_high, better_model
                        from model_pairwise_differences where label = 'all' and metric in ('l1', 'clip_i')
                        order by 1, 2, 3""").fetchall()
    assert len(rows) == 6
    for b, s, metric, n, diff, lo, hi, better in rows:
        assert (diff < 0) == (metric == "l1") and lo <= diff <= hi
        assert better == "mild", (b, s, metric)
    n = {(b, s): n for b, s, m, n, *_ in rows if m == "l1"}
    assert n == {("emu-edit", "single"): 4, ("magicbrush", "inde"): 4, ("magicbrush", "iter"): 3}


def test_comparison_page_side_by_side_and_gallery(built, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(built))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/model_compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "How do these models compare?"
    cov = at.get_by_key("mc_coverage").dataframe[0].value
    assert cov.set_index("editing_model")[["n_edits", "n_missing", "n_unreadable"]].to_dict("index") == {
        "mild": {"n_edits": 5, "n_missing": 1, "n_unreadable": 0},
        "strong": {"n_edits": 5, "n_missing": 1, "n_unreadable": 0}}  # emu-edit / single comes first
    at.selectbox(key="mc_bench").set_value("magicbrush / inde").run()
    at.selectbox(key="mc_metric").set_value("l1").run()
    assert not at.exception, [e.value for e in at.exception]
    cov = at.get_by_key("mc_coverage").dataframe[0].value.set_index("editing_model")
    assert (cov.loc["strong", "n_missing"], cov.loc["strong", "n_unreadable"]) == (1, 1)
    wide = at.get_by_key("mc_scores").dataframe[0].value
    if hasattr(wide, "data"):
        wide = wide.data
    allrow = wide[wide["label"] == "all"].iloc[0]
    assert allrow["mild mean_value"] < allrow["strong mean_value"]
    diff = at.get_by_key("mc_diff").dataframe[0].value
    diff = diff.data if hasattr(diff, "data") else diff
    assert set(diff["better_model"].dropna()) == {"mild"}
    assert (diff["mean_diff"] < 0).all()
    # the gallery: the edits both models scored (4 in inde: 1002 turn 2 missing, 1004 unreadable), largest first
    shown = [c.value for c in at.caption if "· difference" in str(c.value)]
    assert len(shown) == 4
    diffs = [float(str(v).rsplit("difference ", 1)[1]) for v in shown]
    assert diffs == sorted(diffs) and all(d < 0 for d in diffs)  # every |a - b| largest first, mild closer
