"""The Streamlit app, page by page, with AppTest against marts built by the real dbt project from the bundled
sample (sample -> ingest -> embed -> editlens build, once per session); shown values are recomputed from the marts,
and where possible independently, from the sample's ground truth or with SQL over the ingest Parquet tables."""

from __future__ import annotations

import io
import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from conftest import copy_marts
from editlens.contract.errors import UnusableInput
from editlens.dashboards import data
from editlens.warehouse import Warehouse

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture(scope="module")
def wh(built_warehouse) -> Path:
    return built_warehouse


def ingest_sql(wh: Path, sql: str) -> list[tuple]:
    """``sql`` over the ingest tables (``edits``, ``images``, ``rejects`` views of DIR/parquet): what dbt read, not
    what it made of it."""
    con = duckdb.connect()
    for t in ("edits", "images", "rejects"):
        con.execute(
            f"create view {t} as select * from read_parquet('{wh}/parquet/{t}/*.parquet', union_by_name=true)"
        )
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def marts(wh) -> dict[str, pd.DataFrame]:
    return {p.stem: pq.read_table(p).to_pandas() for p in (wh / "marts").glob("*.parquet")}


@pytest.fixture
def app(wh, monkeypatch):
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(wh))

    def _open(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        if page:
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return _open


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def frame(at: AppTest, key: str) -> pd.DataFrame:
    try:
        block = at.get_by_key(key)
    except KeyError:
        raise AssertionError(f"no table {key!r}") from None
    return block.dataframe[0].value


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


# --- pages ---------------------------------------------------------------------------------------------------------


def test_overview_scorecard_matches_marts(app, marts, wh):
    at = app()
    e = marts["edits"]
    assert at.title[0].value == "Overview"
    assert metric(at, "Edits") == f"{len(e):,}"
    assert metric(at, "Datasets") == str(e["dataset"].nunique())
    assert metric(at, "Multi-turn sessions") == str(e["session_id"].nunique())
    flagged = (marts["edit_quality_flags"]["n_quality_flags"] > 0).mean()
    assert metric(at, "Edits with any quality flag") == f"{100 * flagged:.1f}%"
    sc = frame(at, "scorecard_table")
    # edits per part as ingest wrote them (independent of the dbt models)
    rows = ingest_sql(wh, "select lower(dataset), part, count(*) from edits group by all")
    expected = {(d, p): n for d, p, n in rows}
    got = sc.set_index(["dataset", "part"])["n_edits"].astype(int).to_dict()
    assert got == expected and sum(expected.values()) == len(e)
    n_rejects = ingest_sql(wh, "select count(*) from rejects")[0][0]
    assert n_rejects > 0 and int(sc["n_rejects"].sum()) == n_rejects
    card = marts["dataset_scorecard"].set_index(["dataset", "part"])
    rr = sc.set_index(["dataset", "part"])["reject_rate"]
    assert rr.round(6).to_dict() == (card["n_rejects"] / (card["n_edits"] + card["n_rejects"])).round(6).to_dict()
    assert (rr <= 1).all()
    # the metric selector changes the comparison
    at.selectbox(key="overview_metric").set_value("clip_i_median").run()
    assert not at.exception
    best = marts["dataset_scorecard"].sort_values("clip_i_median", ascending=False).iloc[0]
    assert f"Highest: {best['dataset']} / {best['part']}." in text_of(at)
    assert "Denominator of each bar: its part's scored" in text_of(at)
    at.selectbox(key="overview_metric").set_value("reject_rate").run()
    first = card.sort_index().reset_index().iloc[0]
    seen = int(first["n_edits"] + first["n_rejects"])
    assert f"edits and rejects ({first['dataset']} / {first['part']} {seen:,}" in text_of(at)


def test_instruction_types_distribution_and_examples(app, marts):
    at = app("instruction_types")
    lab = marts["edit_labels"]
    derived = lab[lab["origin"] == "derived"]
    q = frame(at, "label_quality").groupby("label")["n_edits"].sum().astype(int)
    assert q.to_dict() == derived.groupby("label").size().to_dict()
    at.selectbox(key="types_label").set_value("object-remove").run()
    assert not at.exception
    n_remove = int((derived["label"] == "object-remove").sum())
    assert f"{n_remove:,} edits labelled `object-remove`" in text_of(at)
    # the example cards show instructions of edits carrying the label
    ids = derived.loc[derived["label"] == "object-remove", "edit_id"].tolist()  # mart order
    e = marts["edits"].set_index("edit_id")
    shown = [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]
    expected_instr = list(e.loc[ids[:6], "instruction"])
    assert expected_instr and shown[: len(expected_instr)] == expected_instr
    # co-occurrence: most frequent pair named in the caption
    multi = derived.groupby("edit_id")["label"].apply(lambda s: sorted(set(s)))
    pairs = pd.Series([(a, b) for ls in multi if len(ls) > 1 for i, a in enumerate(ls) for b in ls[i + 1 :]])
    top_n = pairs.value_counts().iloc[0]
    assert f"({top_n:,} edits)" in text_of(at)
    # the denominator is the dataset's edits
    n_ds = int((marts["edits"]["dataset"] == "seed-data-edit").sum())
    assert f"seed-data-edit {n_ds:,}" in text_of(at)
    # no dataset chosen: nothing to show
    at.multiselect(key="types_datasets").set_value([]).run()
    assert not at.exception
    # provided labels (SEED part 2 only)
    at.multiselect(key="types_datasets").set_value(sorted(marts["edits"]["dataset"].unique())).run()
    at.radio(key="types_origin").set_value("provided").run()
    q = frame(at, "label_quality")
    prov = lab[lab["origin"] == "provided"]
    assert set(q["part"]) == {"part2"} and int(q["n_edits"].sum()) == len(prov)


def test_bias_page_shows_denominators_and_caveat(app, marts):
    at = app("bias")
    assert "cannot mean" in text_of(at)
    b = marts["bias_slices"]
    sub = b[(b["label"] == "all") & (b["subgroup"] != "all")]
    tab = frame(at, "bias_mentions")
    assert int(tab["n_edits"].sum()) == int(sub["n_edits"].sum())
    den = int(sub.drop_duplicates("dataset")["n_edits_in_slice"].sum())
    assert den == len(marts["edits"][marts["edits"]["dataset"].isin(sub["dataset"])])
    assert set(tab["denominator"].astype(int)) == {den}
    assert f"Denominator: {den:,}" in text_of(at)
    impact = frame(at, "bias_impact")
    grp = b[(b["label"] == "all") & (b["subgroup"] == "all")]
    assert (
        impact.set_index("demographic_group")["n_scored"].astype(int).to_dict()
        == grp.groupby("demographic_group")["n_scored"].sum().astype(int).to_dict()
    )
    a = marts["attribute_shifts"]
    if a.empty:  # the bundled tiny model has no calibrated perceived-attribute concepts: the page says so
        assert "Not calibrated for this model" in text_of(at)
        with pytest.raises(AssertionError, match="no table"):
            frame(at, "bias_shift")
    else:
        shift = frame(at, "bias_shift")
        assert int(shift["n_edits"].sum()) == int(a.loc[a["label"] != "all", "n_edits"].sum())
    # one dataset only
    ds = max(sub["dataset"].unique())
    at.selectbox(key="bias_dataset").set_value(ds).run()
    tab = frame(at, "bias_mentions")
    assert int(tab["n_edits"].sum()) == int(sub.loc[sub["dataset"] == ds, "n_edits"].sum())


def test_safety_rates_and_blurred_gallery(app, marts):
    at = app("safety")
    s = marts["safety_flagged_edits"]
    assert metric(at, "Edits") == f"{len(marts['edits']):,}"
    assert metric(at, "Edits flagged") == f"{len(s):,}"
    introduced = s["unsafe_image_introduced"]
    # no calibrated image signal for the bundled model: nothing is judged "introduced", and the page says why
    want = "not calibrated" if introduced.isna().all() else f"{int(introduced.sum()):,}"
    assert metric(at, "Unsafe content introduced by the edit") == want
    rates = frame(at, "safety_rates")
    sl = marts["safety_slices"]
    assert int(rates["n_target_image_flagged"].sum()) == int(sl["n_target_image_flagged"].sum())
    assert "n instruction flagged / n edits" in text_of(at)
    sig = marts["safety_signals"]
    if sig.loc[sig["signal"] != "instruction_lexicon", "is_in_use"].fillna(False).astype(bool).any():
        at.radio(key="safety_rate").set_value("flagged target image").run()
        assert "n target image flagged / n edits image computed" in text_of(at)
        at.radio(key="safety_rate").set_value("introduced by the edit").run()
        assert "n introduced by edit / n edits image computed" in text_of(at)
    else:  # the bundled tiny model: no calibrated image signal, so no image rate is offered
        assert "no image safety rate is shown" in text_of(at)
        assert rates["n_target_image_flagged"].isna().all()
    reveal = [t for t in at.toggle if t.key and t.key.startswith("reveal_")]
    assert len(reveal) == min(8, len(s)) > 0
    assert all(t.value is False for t in reveal)
    order = s.assign(k=s["reasons"].map(len)).sort_values(["k", "edit_id"], ascending=[False, True])
    assert [t.key for t in reveal] == [f"reveal_{i}" for i in order["edit_id"].head(8)]
    reveal[0].set_value(True).run()
    assert not at.exception
    assert "Why: " in text_of(at)
    # category filter
    cat = s["categories"].map(lambda c: c[0]).value_counts().index[0]
    at.selectbox(key="safety_category").set_value(cat).run()
    n = [t for t in at.toggle if t.key and t.key.startswith("reveal_")]
    assert len(n) == min(8, int(s["categories"].map(lambda c: cat in list(c)).sum()))
    at.toggle(key="safety_introduced").set_value(True).run()
    n = [t for t in at.toggle if t.key and t.key.startswith("reveal_")]
    assert len(n) == min(
        8, int((s["categories"].map(lambda c: cat in list(c)) & s["unsafe_image_introduced"]).sum())
    )


def test_quality_thresholds_count_live(app, marts, repo_root):
    at = app("quality")
    e = marts["edits"]
    # the sliders start at the thresholds this build used (the seed's InstructPix2Pix filter values), even where
    # every score lies above the seeded value, and move the filter's own scores (caption-based, else instruction)
    seed = pd.read_csv(repo_root / "seeds" / "thresholds.csv").set_index("name")["value"]
    t_i, t_d, t_t = (float(seed[k]) for k in ("ip2p_clip_i", "ip2p_directional", "ip2p_clip_t"))
    assert at.slider(key="thr_clip_i").value == pytest.approx(t_i)
    assert at.slider(key="thr_directional").value == pytest.approx(t_d)
    assert at.slider(key="thr_clip_t").value == pytest.approx(t_t)
    d = e["directional_caption"].fillna(e["directional_instruction"])
    ct = e["clip_t_target_caption"].fillna(e["clip_t_instruction"])
    judged = e["clip_i"].notna() & d.notna() & ct.notna()
    passing = judged & (e["clip_i"] >= t_i) & (d >= t_d) & (ct >= t_t)
    assert 0 < int(passing.sum()) < int(judged.sum()) < len(e)
    # at the seeded thresholds: exactly the marts' passes_ip2p_filter, over the edits it judges
    assert int(passing.sum()) == int(e["passes_ip2p_filter"].fillna(False).sum())
    assert int(judged.sum()) == int(e["passes_ip2p_filter"].notna().sum())
    assert metric(at, "Edits passing") == f"{int(passing.sum()):,}"
    assert metric(at, "Of judged") == f"{int(judged.sum()):,}"
    assert metric(at, "Not judged (a score missing)") == f"{len(e) - int(judged.sum()):,}"
    at.slider(key="thr_clip_i").set_value(0.9).run()
    assert not at.exception
    passing = judged & (e["clip_i"] >= 0.9) & (d >= t_d) & (ct >= t_t)
    assert metric(at, "Edits passing") == f"{int(passing.sum()):,}"
    assert metric(at, "Of judged") == f"{int(judged.sum()):,}"  # a slider never changes who is judged
    per_ds = frame(at, "pass_table").set_index("dataset")["n_pass"].astype(int).to_dict()
    assert per_ds == passing.groupby(e["dataset"]).sum().astype(int).to_dict()
    # worst examples of a flag: count in caption, cards show flagged edits, worst first
    f = marts["edit_quality_flags"]
    n_unjudged = int(f["is_change_below_resolution"].sum())
    assert n_unjudged > 0 and f"misaligned flag: {n_unjudged:,} edits whose change" in text_of(at)
    at.selectbox(key="worst_flag").set_value("is_full_regeneration").run()
    n = int(f["is_full_regeneration"].sum())
    assert f"{n:,} edits flagged full regeneration" in text_of(at)
    flagged = set(f.loc[f["is_full_regeneration"], "edit_id"])
    worst = e[e["edit_id"].isin(flagged)].sort_values(["clip_i", "edit_id"]).head(6)
    shown = [
        m.value.strip("*")
        for m in at.markdown
        if m.value.startswith("**") and not re.match(r"\*\*Turn \d+\*\*", m.value)
    ]
    assert list(worst["instruction"]) == shown[: len(worst)]
    at.selectbox(key="worst_flag").set_value("is_noop").run()
    noop = (
        e[e["edit_id"].isin(set(f.loc[f["is_noop"], "edit_id"]))]
        .sort_values(["clip_i", "edit_id"], ascending=[False, True])
        .head(6)
    )
    shown = [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]
    assert list(noop["instruction"]) == shown[: len(noop)]


def test_multi_turn_filmstrip_and_chain_breaks(app, marts, wh):
    at = app("multi_turn")
    e = marts["edits"].merge(marts["edit_quality_flags"][["edit_id", "is_chain_break"]], on="edit_id")
    s = e.dropna(subset=["session_id"]).groupby("session_id")["is_chain_break"].sum()
    # sessions and chain breaks straight from the ingest table: a turn whose source is not the previous target
    ((n_sessions, n_broken),) = ingest_sql(
        wh,
        """
        with t as (select session_id, source_image_id, lag(target_image_id) over (partition by session_id
                          order by turn_index) as prev_target from edits where session_id is not null)
        select count(distinct session_id),
               count(distinct session_id) filter (where prev_target is not null and source_image_id <> prev_target)
        from t""",
    )
    assert n_sessions > 0 and len(s) == n_sessions and int((s > 0).sum()) == n_broken
    assert metric(at, "Sessions") == str(n_sessions)
    assert metric(at, "Sessions with a chain break") == str(n_broken)
    at.toggle(key="mt_breaks").set_value(True).run()
    ss = frame(at, "mt_sessions")
    assert len(ss) == n_broken and (ss["n_chain_breaks"] > 0).all()
    at.toggle(key="mt_breaks").set_value(False).run()
    ss = frame(at, "mt_sessions")
    assert len(ss) == n_sessions
    sid = ss["session_id"].iloc[0]
    turns = e[e["session_id"] == sid].sort_values("turn_index")
    assert at.selectbox(key="mt_session").value == sid
    md = text_of(at)
    for _, t in turns.iterrows():
        assert f"**Turn {t['turn_index']}**" in md and t["instruction"] in md
    assert "chain break" in md  # the page says what a chain break is


def test_explorer_search_filters_pages_and_downloads(app, marts, wh):
    at = app("explorer")
    e = marts["edits"]
    assert metric(at, "Matching edits") == f"{len(e):,}"
    at.text_input(key="ex_text").set_value("the").run()
    hit = e["instruction"].str.contains("the", case=False)
    assert metric(at, "Matching edits") == f"{int(hit.sum()):,}"
    at.multiselect(key="ex_dataset").set_value(["seed-data-edit"]).run()
    hit &= e["dataset"] == "seed-data-edit"
    assert metric(at, "Matching edits") == f"{int(hit.sum()):,}"
    tab = frame(at, "ex_table")
    assert int(hit.sum()) > 20 and list(tab["edit_id"]) == e.loc[hit, "edit_id"].tolist()[:20]  # mart order
    at.number_input(key="ex_page").set_value(2).run()
    tab = frame(at, "ex_table")
    assert list(tab["edit_id"]) == e.loc[hit, "edit_id"].tolist()[20:40]
    # label and score filters
    lab = marts["edit_labels"]
    at.multiselect(key="ex_label").set_value(["object-remove"]).run()
    hit &= e["edit_id"].isin(lab.loc[lab["label"] == "object-remove", "edit_id"])
    assert metric(at, "Matching edits") == f"{int(hit.sum()):,}"
    # the export holds exactly the filtered set
    m = data.Marts.open(wh)
    f = data.Filters(text="the", datasets=("seed-data-edit",), labels=("object-remove",))
    got = pq.read_table(io.BytesIO(data.explore_export(m, f, "parquet"))).to_pandas()
    assert sorted(got["edit_id"]) == sorted(e.loc[hit, "edit_id"])
    csv = pd.read_csv(io.BytesIO(data.explore_export(m, f, "csv")))
    assert len(csv) == int(hit.sum()) and "instruction" in csv.columns


def test_sql_console_page_runs_and_rejects(app, marts):
    at = app("sql")
    at.text_area(key="sql_text").set_value(
        "select dataset, count(*) as n from edits group by 1 order by 1"
    ).run()
    at.button(key="sql_run").click().run()
    assert not at.exception
    res = frame(at, "sql_result")
    assert res.set_index("dataset")["n"].to_dict() == marts["edits"].groupby("dataset").size().to_dict()
    at.text_area(key="sql_text").set_value("attach '/tmp/x.db'").run()
    at.button(key="sql_run").click().run()
    assert at.error and "only SELECT" in at.error[0].value
    # example queries fill the editor
    at.selectbox(key="sql_example").set_value("Most common instruction labels").run()
    assert not at.exception
    assert "edit_labels" in at.text_area(key="sql_text").value


def test_missing_marts_say_run_build(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    for page in [None, "instruction_types", "bias", "safety", "quality", "multi_turn", "explorer", "sql"]:
        if page:
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [x.value for x in at.exception])
        assert any("editlens build" in w.value for w in at.warning), page


def test_partial_marts_pages_degrade(tmp_path, monkeypatch, wh, marts):
    omit = (
        "edit_quality_flags",
        "dataset_scorecard",
        "instruction_type_stats",
        "label_cooccurrence",
        "score_histograms",
        "thresholds_in_force",
    )
    copy_marts(wh, tmp_path, omit=omit)
    n = f"{len(marts['edits']):,}"
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert metric(at, "Edits") == n
    for page in ["instruction_types", "quality", "multi_turn", "explorer"]:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [x.value for x in at.exception])
        if page == "quality":
            assert "No `thresholds_in_force` mart" in text_of(at)
    assert metric(at, "Matching edits") == n


# --- data module ---------------------------------------------------------------------------------------------------


def test_rebuilt_mart_is_picked_up_without_restart(tmp_path, wh, marts):
    copy_marts(wh, tmp_path)
    m = data.Marts.open(tmp_path)
    assert data.totals(m)["n_edits"] == len(marts["edits"])
    # a rebuild replaces the exports atomically, file by file (here: a build that kept part2 only; edits is one
    # file per dataset): the next read sees it
    wh_ = Warehouse.at(tmp_path)
    assert len(wh_.mart_files("edits")) == marts["edits"]["dataset"].nunique()
    for name in ("edits", "dataset_scorecard"):
        for f in wh_.mart_files(name):
            duckdb.sql(f"copy (select * from '{f}' where part = 'part2') to '{f.parent}/tmp_{f.name}'")
            (f.parent / f"tmp_{f.name}").replace(f)
    n2 = int((marts["edits"]["part"] == "part2").sum())
    assert 0 < n2 < len(marts["edits"]) and data.totals(m)["n_edits"] == n2
    e2 = marts["edits"][marts["edits"]["part"] == "part2"]
    assert data.explore_count(m, data.Filters(text="a"))[0] == int(e2["instruction"].str.contains("a").sum())


def test_app_never_opens_the_duckdb_file(tmp_path, wh, marts):
    copy_marts(wh, tmp_path)
    db = tmp_path / "editlens.duckdb"
    w = duckdb.connect(str(db))  # dbt holds the write lock
    w.execute("create table t as select 1")
    m = data.Marts.open(tmp_path)
    assert data.totals(m)["n_edits"] == len(marts["edits"])
    w.close()


def test_warehouse_root_from_args_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(tmp_path / "env"))
    assert data.warehouse_root([]) == (tmp_path / "env").resolve()
    assert data.warehouse_root(["--warehouse", str(tmp_path / "arg")]) == (tmp_path / "arg").resolve()


def test_image_refs_cover_files_and_parquet(wh, tmp_path):
    # the sample's images are files: their locations are the ingest table's
    want = {
        r[0]: r[1:] for r in ingest_sql(wh, "select image_id, location_kind, root, path from images limit 3")
    }
    m = data.Marts.open(wh)
    refs = data.image_refs(m, [*want, "nope"])
    assert {i: (r["location_kind"], r["root"], r["path"]) for i, r in refs.items()} == want
    # a Parquet location: the mart's parquet_row / parquet_column become the contract's row / column
    import pyarrow as pa

    (tmp_path / "marts").mkdir()
    pq.write_table(
        pa.table(
            {
                "image_id": ["a000000000000002"],
                "dataset": ["d"],
                "part": ["p"],
                "location_kind": ["parquet"],
                "root": ["/r"],
                "path": ["x.parquet"],
                "row_group": pa.array([1], pa.int32()),
                "parquet_row": pa.array([2], pa.int64()),
                "parquet_column": ["image.bytes"],
                "file_exists": [True],
            }
        ),
        tmp_path / "marts" / "image_locations.parquet",
    )
    ref = data.image_refs(data.Marts.open(tmp_path), ["a000000000000002"])["a000000000000002"]
    assert (ref["location_kind"], ref["row_group"], ref["row"], ref["column"]) == (
        "parquet",
        1,
        2,
        "image.bytes",
    )


# --- serve ---------------------------------------------------------------------------------------------------------


def test_serve_binds_localhost_by_default_and_rejects_missing_dir(tmp_path):
    import inspect

    from editlens.dashboards import serve

    assert inspect.signature(serve.serve).parameters["host"].default == "127.0.0.1"
    cmd = serve.streamlit_command()
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    with pytest.raises(UnusableInput) as ei:
        serve.serve(tmp_path / "absent")
    assert ei.value.exit_code == 2


def test_warm_up_accelerators_give_the_same_answers(tmp_path, wh):
    """Row index, score arrays and session summary (built by the background warm-up) match the plain scans."""
    copy_marts(wh, tmp_path)  # a warehouse no warm-up has seen
    data.reset()
    m = data.Marts.open(tmp_path)
    thr = {"clip_i": (">=", 0.75), "directional_caption": (">=", 0.15), "pixel_changed_frac": ("<=", 0.4)}
    sid = data.sessions(m)["session_id"].iloc[0]
    image_ids = pq.read_table(tmp_path / "marts" / "image_locations.parquet").column("image_id").to_pylist()

    def answers():
        return (
            data.pass_counts(m, thr),
            data.label_examples(m, "object-add", "derived", ()),
            data.worst_examples(m, "is_noop"),
            data.worst_examples(m, "has_broken_image"),
            data.safety_gallery(m, None, False),
            data.session_turns(m, sid),
            pd.DataFrame(data.image_refs(m, image_ids[3:6] + image_ids[-2:])).T,
        )

    before = answers()
    assert data.row_index(m, build=False) is None  # nothing built yet: these were plain scans
    data.warm_up(m, wait=True)
    assert data.row_index(m, build=False) is not None
    assert data.row_index(m, build=False, table="image_locations") is not None
    after = answers()
    for b, a in zip(before, after):
        b = b.reset_index(drop=True)
        a = a[list(b.columns)].reset_index(drop=True)
        b, a = (x.astype(object).where(x.notna(), None) for x in (b, a))  # a null is a null (None or NaN)
        pd.testing.assert_frame_equal(b, a, check_dtype=False)
    e = pq.read_table(tmp_path / "marts" / "edits.parquet").to_pandas()
    ok = (e["clip_i"] >= 0.75) & (e["directional_caption"] >= 0.15) & (e["pixel_changed_frac"] <= 0.4)
    assert after[0]["n_pass"].sum() == int(ok.sum())


def test_shortcuts_agree_with_scans(wh, marts):
    """Counts taken from the scorecard or Parquet statistics equal counts over the per-edit marts."""
    m = data.Marts.open(wh)
    f = marts["edit_quality_flags"]
    fc = data.flag_counts(m).set_index("flag")["n_edits"].to_dict()
    assert fc == {k: int(f[k].sum()) for k in data.QUALITY_FLAGS}
    e = marts["edits"]
    for col in ("clip_i", "directional_caption", "pixel_changed_frac"):
        lo, hi = data.score_range(m, col)
        assert lo == pytest.approx(float(e[col].min())) and hi == pytest.approx(float(e[col].max()))
    n, capped = data.explore_count(m, data.Filters(datasets=("seed-data-edit",), parts=("part2",)))
    assert (n, capped) == (int((e["part"] == "part2").sum()), False)
    n, capped = data.explore_count(m, data.Filters(text="the"), cap=10)
    assert (n, capped) == (10, True)


def test_export_in_progress_is_ignored(tmp_path, wh, marts):
    """dbt's export writes tmp_<mart>.parquet, then renames it: the app never reads the temporary file."""
    copy_marts(wh, tmp_path)
    (tmp_path / "marts" / "tmp_edits.parquet").write_bytes(b"PAR1 half written")
    m = data.Marts.open(tmp_path)
    assert "tmp_edits" not in m.console_views()
    con = data.sql_console(m)
    assert "tmp_edits" not in con.tables()
    assert con.run("select count(*) as n from edits").frame["n"].iloc[0] == len(marts["edits"])


def test_a_per_dataset_file_being_written_is_ignored(tmp_path, wh, marts):
    """The per-edit marts are folders of per-dataset files; the export writes `tmp_dataset-<name>.parquet` in the
    folder first: the pages, the SQL console and the policy check never read it."""
    from editlens.export.select import connect_marts

    copy_marts(wh, tmp_path)
    folder = tmp_path / "marts" / "edits.parquet"
    assert folder.is_dir() and len(list(folder.glob("dataset-*.parquet"))) == marts["edits"]["dataset"].nunique()
    (folder / "tmp_dataset-seed-data-edit.parquet").write_bytes(b"PAR1 half written")
    m = data.Marts.open(tmp_path)
    assert m.has("edits") and "edits" in m.console_views()
    assert m.query("select count(*) as n from edits")["n"].iloc[0] == len(marts["edits"])
    assert data.sql_console(m).run("select count(*) as n from edits").frame["n"].iloc[0] == len(marts["edits"])
    assert connect_marts(tmp_path / "marts").sql("select count(*) from edits").fetchone()[0] == len(marts["edits"])


def test_marts_of_another_shape_give_a_message_not_a_crash(tmp_path, monkeypatch, wh):
    import pyarrow as pa

    copy_marts(wh, tmp_path)
    # a bias_slices mart from some other version of the models: the columns the page reads are gone
    pq.write_table(pa.table({"something": [1, 2]}), tmp_path / "marts" / "bias_slices.parquet")
    monkeypatch.setenv("EDITLENS_WAREHOUSE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/bias.py").run()
    assert not at.exception
    assert at.error and "do not match" in at.error[0].value and "editlens build" in at.error[0].value


def test_serve_runs_streamlit_on_localhost_and_stops_with_it(tmp_path, wh):
    """`editlens dashboard`: the server answers on 127.0.0.1, and SIGTERM to serve() stops it too (no orphan)."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    copy_marts(wh, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"import sys; from editlens.dashboards.serve import serve; sys.exit(serve({str(tmp_path)!r}, port={port}))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(Path(APP).parents[1]),
    )
    try:
        deadline, ok = time.time() + 90, False
        while time.time() < deadline and not ok:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    ok = r.read().strip() == b"ok"
            except OSError:
                time.sleep(0.5)
        assert ok, "the server did not answer"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        out = proc.stdout.read().decode()
        assert f"http://127.0.0.1:{port}" in out
        time.sleep(1)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_headline_scores_fall_back_to_instruction_scores():
    row = {
        "clip_i": 0.9,
        "clip_t_target_caption": None,
        "clip_t_instruction": 0.25,
        "directional_caption": 0.3,
        "directional_instruction": 0.1,
    }
    assert data.headline_scores(row) == [("CLIP-I", 0.9), ("CLIP-T (instr.)", 0.25), ("directional", 0.3)]
    assert data.headline_scores({"clip_i": float("nan")}) == [("CLIP-I", None)]


def test_misaligned_examples_are_ranked_by_the_instruction_core_score(wh):
    """The misaligned flag's worst examples come lowest `directional_instruction_core` first (the score its main
    rule reads; most editing datasets have no captions)."""
    m = data.Marts.open(wh)
    f = pd.read_parquet(wh / "marts" / "edit_quality_flags.parquet")
    flagged = f[f["is_misaligned"]]
    assert len(flagged) >= 6
    want = flagged.sort_values(["directional_instruction_core", "edit_id"])["edit_id"].head(6).tolist()
    got = data.worst_examples(m, "is_misaligned", limit=6)["edit_id"].tolist()
    assert got == want
