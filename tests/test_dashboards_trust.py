"""The dashboards' numbers agree with each other and with the marts (built by the real dbt project): one definition
and one denominator per headline number on every page, the Overview's findings, the explorer's filters, sort and
deep links, the edit detail page, URL state, intervals, and "not computed" on an ingest-only warehouse."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from editlens.dashboards import data

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture(scope="module")
def wh(built_warehouse) -> Path:
    return built_warehouse


@pytest.fixture(scope="module")
def marts(wh) -> dict[str, pd.DataFrame]:
    return {p.stem: pq.read_table(p).to_pandas() for p in (wh / "marts").glob("*.parquet")}


def open_app(wh: Path, monkeypatch, page: str | None = None, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(wh))
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def frame(at: AppTest, key: str) -> pd.DataFrame:
    return at.get_by_key(key).dataframe[0].value


def links(at: AppTest) -> list:
    return [x.proto for x in at.get("page_link")]


# --- one number per question ----------------------------------------------------------------------------------------


def test_ip2p_pass_rate_is_one_number_on_every_page(wh, marts, monkeypatch):
    e = marts["edits"]
    k, n = int(e["passes_ip2p_filter"].fillna(False).sum()), int(e["passes_ip2p_filter"].notna().sum())
    assert 0 < k < n < len(e)  # some edits cannot be judged (a score missing): they are not failures
    card = marts["dataset_scorecard"]
    assert int(card["n_passing_ip2p_filter"].sum()) == k and int(card["n_ip2p_judged"].sum()) == n
    assert np.allclose(card["ip2p_filter_pass_rate"], card["n_passing_ip2p_filter"] / card["n_ip2p_judged"])
    want = f"{100 * k / n:.1f}%"
    at = open_app(wh, monkeypatch)
    assert metric(at, "Pass the InstructPix2Pix filter") == want
    assert f"{k:,} of {n:,} edits with all three filter scores pass" in text_of(at)
    at.switch_page("views/quality.py").run()
    assert (metric(at, "Edits passing"), metric(at, "Of judged"), metric(at, "Pass rate")) == (
        f"{k:,}", f"{n:,}", want)
    at.switch_page("views/bias.py").run()
    assert f"Red line: all edits in scope, {want} ({k:,} of {n:,})" in text_of(at)
    b = marts["bias_slices"]
    every = b[(b["label"] == "all")].drop_duplicates("dataset")
    assert int(every["overall_n_passing"].sum()) == k and int(every["overall_n_scored"].sum()) == n


def test_any_flag_share_and_its_denominator(wh, marts, monkeypatch):
    f = marts["edit_quality_flags"]
    at = open_app(wh, monkeypatch)
    assert metric(at, "Edits with any quality flag") == f"{100 * (f['n_quality_flags'] > 0).mean():.1f}%"
    hd = data.any_flag(data.Marts(wh))
    assert (hd.n, hd.denominator) == (int((f["n_quality_flags"] > 0).sum()), len(f))


def test_quality_edits_without_caption_scores_can_pass(wh, marts, monkeypatch):
    e = marts["edits"]
    no_caption = e["clip_t_target_caption"].isna() & e["clip_t_instruction"].notna()
    assert no_caption.sum() > 0
    assert e.loc[no_caption, "passes_ip2p_filter"].fillna(False).sum() > 0  # the marts let them pass
    at = open_app(wh, monkeypatch, "quality")
    pc = frame(at, "pass_table")
    assert int(pc["n_pass"].sum()) == int(e["passes_ip2p_filter"].fillna(False).sum())
    assert int(pc["n_not_judged"].sum()) == int(e["passes_ip2p_filter"].isna().sum())


def test_near_duplicates_between_turns_of_one_session_are_counted_apart(marts):
    f, e = marts["edit_quality_flags"], marts["edits"]
    within = f[f["is_near_duplicate_within_session"]]
    assert len(within) > 0 and f.loc[f["is_near_duplicate_within_session"], "has_near_duplicate_source"].all()
    assert set(e.loc[e["edit_id"].isin(within["edit_id"]), "session_id"].dropna()) and e.loc[
        e["edit_id"].isin(within["edit_id"]), "session_id"].notna().all()
    card = marts["dataset_scorecard"]
    assert int(card["n_near_duplicate_within_session"].sum()) == len(within)
    fd = data.findings(data.Marts.open(marts_root(marts)))
    assert set(fd["defect"]) >= {"near_duplicate_within_session"}


def marts_root(marts) -> Path:  # the warehouse of the module's marts (the session's built warehouse)
    return _ROOT[0]


_ROOT: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _remember_root(wh):
    _ROOT[:] = [wh]


# --- safety ---------------------------------------------------------------------------------------------------------


def test_safety_unknown_is_not_safe_and_rates_use_every_part(wh, marts, monkeypatch):
    e = marts["edits"]
    unknown = int(((e["source_status"] != "ok") | (e["target_status"] != "ok")).sum())
    assert unknown > 0
    at = open_app(wh, monkeypatch, "safety")
    assert metric(at, "Image safety unknown") == f"{unknown:,}"
    s = marts["safety_flagged_edits"]
    if s["unsafe_image_introduced"].isna().all():  # no calibrated image signal: not "0 introduced"
        assert metric(at, "Unsafe content introduced by the edit") == "not calibrated"
    rates = frame(at, "safety_rates")
    # every category's instruction rate is over all the dataset's edits, also where a part has no hit
    per_ds = e.groupby("dataset").size().to_dict()
    assert all(int(r["n_edits"]) == per_ds[r["dataset"]] for r in rates.to_dict("records"))


# --- instruction types --------------------------------------------------------------------------------------------


def test_provided_label_shares_are_over_labelled_edits(wh, marts, monkeypatch):
    lab, e = marts["edit_labels"], marts["edits"]
    prov = lab[lab["origin"] == "provided"].merge(e[["edit_id", "dataset"]], on="edit_id")
    assert len(prov) and prov["edit_id"].nunique() < len(e)
    dist = data.label_distribution(data.Marts(wh), (), "provided")
    den = prov.groupby("dataset")["edit_id"].nunique().to_dict()
    for r in dist.to_dict("records"):
        assert int(r["denominator"]) == den[r["dataset"]]
        n = int(prov[(prov["dataset"] == r["dataset"]) & (prov["label"] == r["label"])]["edit_id"].nunique())
        assert int(r["n_edits"]) == n and r["share"] == pytest.approx(n / den[r["dataset"]])
    at = open_app(wh, monkeypatch, "instruction_types")
    at.radio(key="types_origin").set_value("provided").run()
    assert "edits with a provided label, per dataset" in text_of(at)


def test_label_dropdown_keeps_the_reviewers_choice_after_a_bar_click(wh, monkeypatch):
    at = open_app(wh, monkeypatch, "instruction_types")
    opts = at.selectbox(key="types_label").options
    assert len(opts) >= 2
    # a bar click (the chart's selection) picks its label once ...
    at.session_state["_types_last_pick"] = None
    at.selectbox(key="types_label").set_value(opts[1]).run()
    assert at.selectbox(key="types_label").value == opts[1]
    # ... and a later dropdown choice is not undone by the selection the chart still holds
    at.session_state["_types_last_pick"] = opts[1]
    at.selectbox(key="types_label").set_value(opts[0]).run()
    assert at.selectbox(key="types_label").value == opts[0]


# --- explorer -----------------------------------------------------------------------------------------------------


def test_explorer_shows_images_for_every_row_and_sorts_server_side(wh, marts, monkeypatch):
    e = marts["edits"]
    at = open_app(wh, monkeypatch, "explorer")
    tab = frame(at, "ex_table")
    assert len(tab) == 20
    cards = [c for c in at.caption if re.match(r"^`[0-9a-f]{16}` · ", c.value)]
    assert len(cards) == len(tab)  # a card (source | target) for every row of the page, not the first six
    imgs = at.get("image")
    assert len(imgs) >= 2 * len(tab)
    at.selectbox(key="ex_sort").set_value("clip_i").run()
    tab = frame(at, "ex_table")
    order = e.sort_values(["clip_i", "edit_id"], na_position="last")["edit_id"].tolist()
    assert tab["edit_id"].tolist() == order[:20]
    at.number_input(key="ex_page").set_value(2).run()
    assert frame(at, "ex_table")["edit_id"].tolist() == order[20:40]
    at.toggle(key="ex_desc").set_value(True).run()
    desc = e.sort_values(["clip_i", "edit_id"], ascending=[False, True], na_position="last")["edit_id"].tolist()
    assert frame(at, "ex_table")["edit_id"].tolist() == desc[20:40]
    assert at.query_params["sort"] == "clip_i" and at.query_params["desc"] == "1"


def test_explorer_full_range_keeps_the_lowest_edit(wh, marts, monkeypatch):
    e = marts["edits"]
    at = open_app(wh, monkeypatch, "explorer")
    at.selectbox(key="ex_score").set_value("clip_i").run()
    lo, hi = at.slider(key="ex_range").value
    assert lo <= e["clip_i"].min() and hi >= e["clip_i"].max()
    assert metric(at, "Matching edits") == f"{len(e):,}"  # the full range is no filter
    at.slider(key="ex_range").set_value((lo, round(hi - 0.01, 2))).run()  # an upper bound only
    want = int((e["clip_i"] <= round(hi - 0.01, 2)).sum())
    assert metric(at, "Matching edits") == f"{want:,}"
    at.selectbox(key="ex_sort").set_value("clip_i").run()
    assert frame(at, "ex_table")["edit_id"].iloc[0] == e.sort_values(["clip_i", "edit_id"])["edit_id"].iloc[0]


def test_explorer_filters_match_the_marts(wh, marts):
    m = data.Marts(wh)
    e, f, lab, s = marts["edits"], marts["edit_quality_flags"], marts["edit_labels"], marts["safety_flagged_edits"]

    def count(**kw) -> int:
        return data.explore_count(m, data.Filters(**kw), cap=None)[0]

    prov = lab[lab["origin"] == "provided"]
    some = prov["label"].value_counts().index[0]
    assert count(labels=(some,), label_origin="provided") == prov[prov["label"] == some]["edit_id"].nunique()
    both = lab[lab["label"] == some]["edit_id"].nunique()
    assert count(labels=(some,)) == both
    cat = s["categories"].map(lambda c: c[0]).value_counts().index[0]
    assert count(safety=(cat,)) == int(s["categories"].map(lambda c: cat in list(c)).sum()) > 0
    grp = f["demographic_groups"].dropna().map(lambda g: g[0]).value_counts().index[0]
    assert count(groups=(grp,)) == int(f["demographic_groups"].map(lambda g: g is not None and grp in list(g)).sum())
    reason = data.null_reasons(m)[0]
    assert count(null_reasons=(reason,)) == int(
        e["score_null_reason"].fillna("").map(lambda r: reason in r.split(";")).sum()) > 0
    assert count(flags=("is_chain_break", "is_noop")) == int((f["is_chain_break"] | f["is_noop"]).sum())
    # every finding's explorer link selects exactly the edits it counts
    fd = data.findings(m)
    assert len(fd) >= 5
    for r in fd.to_dict("records"):
        assert count(datasets=(r["dataset"],), parts=(r["part"],), flags=(r["defect"],)) == int(r["n"]), r


def test_explorer_filters_live_in_the_url_and_survive_a_page_switch(wh, marts, monkeypatch):
    e = marts["edits"]
    part = sorted(e["part"].unique())[0]
    at = open_app(wh, monkeypatch, "explorer", params={"part": part, "flag": "broken_image"})
    f = marts["edit_quality_flags"]
    want = int(((f["part"] == part) & f["has_broken_image"]).sum())
    assert at.multiselect(key="ex_part").value == [part]
    assert metric(at, "Matching edits") == f"{want:,}"
    at.text_input(key="ex_text").set_value("the").run()
    assert at.query_params["text"] == "the" and at.query_params["part"] == part
    at.switch_page("views/quality.py").run()
    at.switch_page("views/explorer.py").run()
    assert at.text_input(key="ex_text").value == "the" and at.multiselect(key="ex_part").value == [part]


# --- overview -------------------------------------------------------------------------------------------------------


def test_overview_findings_ranked_with_denominators_examples_and_links(wh, marts, monkeypatch):
    card = marts["dataset_scorecard"].set_index(["dataset", "part"])
    at = open_app(wh, monkeypatch)
    txt = text_of(at)
    fd = data.findings(data.Marts(wh))
    for (ds, part), g in fd.groupby(["dataset", "part"]):
        assert list(g["share"]) == sorted(g["share"], reverse=True)
        top = g.iloc[0]
        assert f"#### {ds} / {part}" in txt
        assert f"**{top['label']}**: {100 * top['share']:.1f}% ({int(top['n']):,} of {int(top['denominator']):,}" in txt
    # the counts are the scorecard's
    r = fd[fd["defect"] == "noop"].iloc[0]
    assert int(r["n"]) == int(card.loc[(r["dataset"], r["part"]), "n_noop"])
    assert int(r["denominator"]) == int(card.loc[(r["dataset"], r["part"]), "n_edits"])
    lk = links(at)
    to_explorer = [p for p in lk if p.page.endswith("explorer") or "explorer" in p.page]
    assert any("flag=" in p.query_string for p in to_explorer)
    to_edit = re.findall(r"\]\(\./edit\?edit=([0-9a-f]{16})\)", "\n".join(x.value for x in at.markdown))
    assert len(to_edit) >= 3  # every finding's example thumbnails link to their edit
    ex = data.finding_examples(data.Marts(wh))
    assert set(to_edit) <= set(ex["edit_id"])
    # readable labels: no snake_case in the findings' text
    findings_text = "\n".join(x.value for x in at.markdown if x.value.startswith("**"))
    assert findings_text and not re.search(r"\b[a-z]+_[a-z_]+\b", findings_text)


# --- edit detail ----------------------------------------------------------------------------------------------------


def test_edit_deep_link_shows_scores_flags_session_partners_and_record(wh, marts, monkeypatch):
    e, f = marts["edits"], marts["edit_quality_flags"]
    eid = f.loc[f["is_near_duplicate_within_session"], "edit_id"].iloc[0]
    rec = e.set_index("edit_id").loc[eid]
    at = open_app(wh, monkeypatch, "edit", params={"edit": eid})
    assert at.text_input(key="edit_id").value == eid
    txt = text_of(at)
    assert rec["instruction"] in txt and f"`{rec['score_model_key']}`" in txt
    sc = frame(at, "edit_scores")
    assert sc.set_index("score")["value"].dropna().round(6).to_dict() == {
        c: round(float(rec[c]), 6) for c in data.score_columns(data.Marts(wh)) if pd.notna(rec[c])}
    assert "ip2p_clip_i = 0.7" in sc.set_index("score").loc["clip_i", "thresholds"]
    fl = frame(at, "edit_flags").set_index("flag")
    assert fl.loc["has_near_duplicate_source", "value"] == "yes"
    want_ip2p = "unknown" if pd.isna(rec["passes_ip2p_filter"]) else ("yes" if rec["passes_ip2p_filter"] else "no")
    assert fl.loc["passes_ip2p_filter", "value"] == want_ip2p
    assert "Session" in txt and "Duplicate partners" in txt and "Raw record" in txt
    turns = e[e["session_id"] == rec["session_id"]]
    session_links = [p for p in links(at) if "edit=" in p.query_string]
    assert len(session_links) >= min(len(turns), 8) - 1
    assert len(frame(at, "edit_partners")) >= 1
    assert at.get("json")  # the raw record
    # an unknown id says so
    at2 = open_app(wh, monkeypatch, "edit", params={"edit": "ffffffffffffffff"})
    assert "No edit `ffffffffffffffff`" in text_of(at2)


def test_unsafe_edits_are_blurred_on_every_page(wh, marts, monkeypatch):
    s = marts["safety_flagged_edits"]
    m = data.Marts(wh)
    assert data.unsafe_edit_ids(m, marts["edits"]["edit_id"].tolist()) == set(s["edit_id"])
    cat = s["categories"].map(lambda c: c[0]).value_counts().index[0]
    at = open_app(wh, monkeypatch, "explorer", params={"safety": cat})
    blurred = [i for i in at.get("image") if "blurred" in str(i.proto)]
    assert len(blurred) >= 1
    at.toggle(key="unsafe_reveal_all").set_value(True).run()
    assert not [i for i in at.get("image") if "blurred" in str(i.proto)]


# --- intervals, not computed, config --------------------------------------------------------------------------------


def test_wilson_helper_matches_the_export_card():
    from editlens.export.card import wilson as card_wilson

    lo, hi = data.wilson([0, 3, 50, 7], [10, 10, 100, 0])
    for i, (k, n) in enumerate([(0, 10), (3, 10), (50, 100)]):
        assert (lo[i], hi[i]) == pytest.approx(card_wilson(k, n))
    assert np.isnan(lo[3]) and np.isnan(hi[3])
    d = data.with_interval(pd.DataFrame({"k": [1, 40], "n": [5, 100]}), "k", "n")
    assert d["small_n"].tolist() == [True, False]


def test_ingest_only_warehouse_says_not_computed(pipeline, tmp_path, monkeypatch):
    from editlens.build import run_build
    from editlens.warehouse import Warehouse

    src = pipeline(300, 7).warehouse.root / "parquet"
    for t in ("edits", "images", "ingest_runs", "rejects"):
        shutil.copytree(src / t, tmp_path / "parquet" / t)
    assert run_build(Warehouse.at(tmp_path), ["--quiet"]) == 0
    at = open_app(tmp_path, monkeypatch)
    assert metric(at, "Pass the InstructPix2Pix filter") == "not computed"
    assert metric(at, "Edits with any quality flag") == "not computed"
    assert "not computed: run `editlens embed`" in text_of(at)
    assert "Fails the InstructPix2Pix filter" not in text_of(at)
    at.switch_page("views/quality.py").run()
    assert not at.exception
    assert "not computed: run `editlens embed`" in text_of(at)
    assert not [m_ for m_ in at.metric if m_.label == "Edits passing"]  # no "0 of 307 pass"


def test_streamlit_deploy_button_is_hidden(repo_root):
    import tomllib

    from editlens.dashboards import serve

    cfg = tomllib.loads((repo_root / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["toolbarMode"] == "viewer"
    cmd = serve.streamlit_command()
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"


def test_galleries_page_and_link_to_the_explorer(wh, marts, monkeypatch):
    s = marts["safety_flagged_edits"]
    assert len(s) > 8
    order = s.assign(k=s["reasons"].map(len)).sort_values(["k", "edit_id"], ascending=[False, True])["edit_id"]
    at = open_app(wh, monkeypatch, "safety")
    at.number_input(key="safety_page").set_value(2).run()
    reveal = [t.key for t in at.toggle if t.key and t.key.startswith("reveal_")]
    assert reveal == [f"reveal_{i}" for i in order.iloc[8:16]]
    assert any("safety=" in p.query_string for p in links(at))
    f, e = marts["edit_quality_flags"], marts["edits"]
    flagged = f.loc[f["is_full_regeneration"], "edit_id"]
    at = open_app(wh, monkeypatch, "quality")
    at.selectbox(key="worst_flag").set_value("is_full_regeneration").run()
    if len(flagged) > 6:
        at.number_input(key="worst_page").set_value(2).run()
        worst = e[e["edit_id"].isin(set(flagged))].sort_values(["clip_i", "edit_id"])["instruction"].iloc[6:12]
        shown = [x.value.strip("*") for x in at.markdown if x.value.startswith("**")]
        assert list(worst) == shown[: len(worst)]
    assert any("flag=is_full_regeneration" in p.query_string for p in links(at))


def test_thresholds_and_page_filters_are_links_that_survive_page_switches(wh, marts, monkeypatch):
    e = marts["edits"]
    d = e["directional_caption"].fillna(e["directional_instruction"])
    ct = e["clip_t_target_caption"].fillna(e["clip_t_instruction"])
    at = open_app(wh, monkeypatch, "quality", params={"clip_i": "0.9"})
    assert at.slider(key="thr_clip_i").value == pytest.approx(0.9)
    want = int(((e["clip_i"] >= 0.9) & (d >= 0.2) & (ct >= 0.2)).sum())
    assert metric(at, "Edits passing") == f"{want:,}"
    at.slider(key="thr_clip_t").set_value(0.3).run()
    assert at.query_params["clip_t"] == "0.3" and at.query_params["clip_i"] == "0.9"
    at.switch_page("views/bias.py").run()
    at.switch_page("views/quality.py").run()
    assert at.slider(key="thr_clip_i").value == pytest.approx(0.9)
    assert at.slider(key="thr_clip_t").value == pytest.approx(0.3)
    # the other pages' choices are in the URL too
    at = open_app(wh, monkeypatch, "instruction_types", params={"type_origin": "provided"})
    assert at.radio(key="types_origin").value == "provided"
    cats = sorted(marts["safety_slices"]["category"].dropna().unique())
    at = open_app(wh, monkeypatch, "safety", params={"safety_category": cats[0]})
    assert at.selectbox(key="safety_category").value == cats[0]
