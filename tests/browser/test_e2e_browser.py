"""End to end: `streamlit run` on a free port, Debian's chromium driven by Playwright, every page, one widget each.

Needs /usr/bin/chromium (``.ci/install_chromium.sh`` installs Debian's package; no browser is downloaded).
Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from editlens.dashboards.serve import streamlit_command

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("EDITLENS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists() and os.environ.get("CI"):
    # CI installs chromium before the suite (.ci/install_chromium.sh): a skip there would hide a broken set-up.
    raise RuntimeError(f"{CHROMIUM} not found in CI: .ci/install_chromium.sh did not install Debian's chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: run .ci/install_chromium.sh (Debian's chromium package)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python package) not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, built_warehouse) -> Path:
    import shutil

    from conftest import copy_marts

    dst = copy_marts(built_warehouse, tmp_path_factory.mktemp("whe2e"))
    # the similarity page's indexes, and the job tables a verdict round trip rebuilds the marts from
    shutil.copytree(built_warehouse / "index", dst / "index")
    shutil.copytree(built_warehouse / "parquet", dst / "parquet")
    return dst


@pytest.fixture(scope="module")
def server(warehouse):
    port = _free_port()
    log = open(warehouse / "streamlit.log", "w")  # noqa: SIM115 (open for the server's whole life)
    env = dict(os.environ, EDITLENS_WAREHOUSE="/nonexistent-on-purpose")  # the --warehouse argument must win
    proc = subprocess.Popen(
        [*streamlit_command("127.0.0.1", port), "--", "--warehouse", str(warehouse)],
        cwd=str(REPO),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            log.close()
            pytest.fail("streamlit exited early:\n" + (warehouse / "streamlit.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not become healthy in 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser_page(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def marts(warehouse):
    out = {p.stem: pq.read_table(p).to_pandas() for p in (warehouse / "marts").glob("*.parquet")}
    out["_root"] = str(warehouse)
    return out


def _open(page, server: str, path: str, title: str):
    page.goto(f"{server}/{path}")
    page.get_by_role("heading", name=title).first.wait_for()
    _settle(page)


def _settle(page) -> None:
    """Wait until the script run is over (Streamlit shows a status widget while running)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.indexOf('Running') < 0",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(300)


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _select(page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.scroll_into_view_if_needed()
    field = box.locator("input").first
    field.click()
    field.press_sequentially(option, delay=20)
    page.get_by_role("option", name=option, exact=True).first.wait_for()
    field.press("Enter")
    _settle(page)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000


def _body(page) -> str:
    return page.locator("body").inner_text()


def test_overview(browser_page, server, marts):
    page = browser_page
    _open(page, server, "", "Overview")
    assert _metric(page, "Edits") == f"{len(marts['edits']):,}"
    _select(page, "Metric", "CLIP-I median")
    best = marts["dataset_scorecard"].sort_values("clip_i_median", ascending=False).iloc[0]
    page.get_by_text(f"Highest: {best['dataset']} / {best['part']}.").first.wait_for()
    assert "Warehouse:" in _body(page)
    _shot(page, "1-overview")


def test_overview_findings_link_to_the_explorer(browser_page, server, marts):
    from editlens.dashboards import data

    page = browser_page
    _open(page, server, "", "Overview")
    fd = data.findings(data.Marts(Path(marts["_root"])))
    top = fd.iloc[0]
    page.get_by_role("heading", name=f"{top['dataset']} / {top['part']}").first.wait_for()
    body = _body(page)
    assert f"{top['label']}: {100 * top['share']:.1f}% ({int(top['n']):,} of {int(top['denominator']):,}" in body
    assert page.locator('[data-testid="stImage"]').count() >= 3  # the findings' example strips
    _shot(page, "1b-overview-findings")
    page.get_by_role("link", name=f"All {int(top['n']):,} in the explorer ›").first.click()
    page.get_by_role("heading", name="Edit explorer").first.wait_for()
    _settle(page)
    assert _metric(page, "Matching edits") == f"{int(top['n']):,}"
    assert "flag=" in page.url and "part=" in page.url  # the view is a link


def test_edit_deep_link_and_phone_layout(browser_page, server, marts):
    e, f = marts["edits"], marts["edit_quality_flags"]
    eid = f.loc[f["is_near_duplicate_within_session"], "edit_id"].iloc[0]
    page = browser_page
    page.goto(f"{server}/edit?edit={eid}")
    page.get_by_role("heading", name="Edit detail").first.wait_for()
    _settle(page)
    rec = e.set_index("edit_id").loc[eid]
    page.get_by_text(rec["instruction"]).first.wait_for()
    body = _body(page)
    assert "Scores" in body and "Flags" in body and "Session" in body and "Raw record" in body
    assert str(rec["score_model_key"]) in body
    _shot(page, "9-edit-detail")
    # a phone: source and target side by side at half width, nothing wider than the screen
    ctx = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    phone = ctx.new_page()
    phone.set_default_timeout(TIMEOUT_MS)
    phone.goto(f"{server}/edit?edit={eid}")
    phone.get_by_role("heading", name="Edit detail").first.wait_for()
    _settle(phone)
    pair = phone.locator('[class*="st-key-pair_"]').first
    pair.locator("img").nth(1).wait_for()
    phone.wait_for_function(  # both images decoded and laid out
        "() => [...document.querySelectorAll('[class*=\"st-key-pair_\"] img')].slice(0, 2)"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    phone.wait_for_timeout(500)
    boxes = [b for b in (pair.locator('[data-testid="stColumn"]').nth(i).bounding_box() for i in range(2)) if b]
    assert len(boxes) == 2
    (a, b) = sorted(boxes, key=lambda x: x["x"])
    assert abs(a["y"] - b["y"]) < 4 and a["x"] + a["width"] <= b["x"] + 1  # side by side, not stacked
    assert 0.3 * 390 < a["width"] < 0.55 * 390
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 392
    phone.screenshot(path=str(ARTIFACTS / "10-edit-detail-phone.png"), full_page=True)
    ctx.close()


def test_instruction_types(browser_page, server, marts):
    page = browser_page
    _open(page, server, "instruction-types", "Instruction types")
    _select(page, "Label", "object-remove")
    lab = marts["edit_labels"]
    n = int(((lab["label"] == "object-remove") & (lab["origin"] == "derived")).sum())
    page.get_by_text(re.compile(rf"{n:,} edits labelled\s*object-remove")).first.wait_for()
    _shot(page, "2-instruction-types")


def test_bias(browser_page, server, marts):
    page = browser_page
    _open(page, server, "bias", "Bias")
    assert "cannot mean" in _body(page)
    den = int((marts["edits"]["dataset"] == "seed-data-edit").sum())
    _select(page, "Dataset", "seed-data-edit")
    page.get_by_text(f"Denominator: {den:,} edits in scope").first.wait_for()
    _shot(page, "3-bias")


def test_safety(browser_page, server, marts):
    page = browser_page
    _open(page, server, "safety", "Safety")
    s = marts["safety_flagged_edits"]
    assert _metric(page, "Edits flagged") == f"{len(s):,}"
    order = s.assign(k=s["reasons"].map(len)).sort_values(["k", "edit_id"], ascending=[False, True])
    first = order.iloc[0]["edit_id"]
    toggle = page.locator(f".st-key-reveal_{first} input")
    assert not toggle.is_checked()
    assert page.locator('[data-testid="stImage"]').count() >= 2  # the blurred thumbnails
    page.locator(f".st-key-reveal_{first}").locator("label").first.click()
    _settle(page)
    assert page.locator(f".st-key-reveal_{first} input").is_checked()
    _shot(page, "4-safety")


def test_quality(browser_page, server, marts):
    page = browser_page
    _open(page, server, "quality", "Quality")
    e = marts["edits"]
    before = _metric(page, "Edits passing")
    # the filter's own scores: caption-based where there are captions, else instruction-based (as the marts)
    d = e["directional_caption"].fillna(e["directional_instruction"])
    ct = e["clip_t_target_caption"].fillna(e["clip_t_instruction"])
    ok = (e["clip_i"] >= 0.7) & (d >= 0.2) & (ct >= 0.2)
    assert before == f"{int(ok.sum()):,}" == f"{int(e['passes_ip2p_filter'].fillna(False).sum()):,}"
    thumb = page.locator(".st-key-thr_clip_i").get_by_role("slider").first
    thumb.focus()
    for _ in range(15):
        thumb.press("ArrowRight")
    _settle(page)
    page.wait_for_timeout(1500)  # the slider sends its value after the keys stop
    _settle(page)
    shown = page.locator('.st-key-thr_clip_i [data-testid="stSliderThumbValue"]').first.inner_text()
    value = float(thumb.get_attribute("aria-valuenow") or thumb.get_attribute("value") or shown)
    assert value > 0.7
    ok = (e["clip_i"] >= value - 1e-9) & (d >= 0.2) & (ct >= 0.2)
    assert _metric(page, "Edits passing") == f"{int(ok.sum()):,}"
    _shot(page, "5-quality")


def test_multi_turn(browser_page, server, marts):
    page = browser_page
    _open(page, server, "multi-turn", "Multi-turn sessions")
    if marts["edit_quality_flags"]["is_chain_break"].any():  # only sessions with breaks: still a filmstrip
        page.locator(".st-key-mt_breaks").locator("label").first.click()
        _settle(page)
    page.get_by_text("Filmstrip:").first.wait_for()
    assert "chain break" in _body(page)
    _shot(page, "6-multi-turn")


def test_explorer(browser_page, server, marts):
    page = browser_page
    _open(page, server, "explorer", "Edit explorer")
    box = page.get_by_label("Search instructions")
    box.fill("remove")
    box.press("Enter")
    _settle(page)
    n = int(marts["edits"]["instruction"].str.contains("remove", case=False).sum())
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')].some(e => e.innerText.trim() === n)",
        arg=f"{n:,}",
    )
    assert _metric(page, "Matching edits") == f"{n:,}"
    _shot(page, "7-explorer")
    # the download holds exactly the filtered set (generated on click). A click that lands while Streamlit
    # re-renders the button can be lost (seen once in CI under load): settle first, and click again if no
    # download starts within 20 s.
    _settle(page)
    path = None
    for _ in range(3):
        try:
            with page.expect_download(timeout=20_000) as dl:
                page.get_by_role("button", name="Download CSV").click()
            path = dl.value.path()
            break
        except sync_api.TimeoutError:
            _settle(page)
    assert path is not None, "no download after three clicks"
    got = pd.read_csv(path)
    e = marts["edits"]
    assert sorted(got["edit_id"]) == sorted(
        e.loc[e["instruction"].str.contains("remove", case=False), "edit_id"]
    )


def test_sql(browser_page, server, marts):
    page = browser_page
    _open(page, server, "sql", "SQL console")
    area = page.get_by_label("Query")
    area.fill("select count(*) as n_total from edits")
    area.press("Control+Enter")
    _settle(page)
    page.get_by_role("button", name="Run").click()
    _settle(page)
    page.get_by_text(re.compile(r"1 rows in")).first.wait_for()
    assert "n_total" in _body(page) or page.locator('[data-testid="stDataFrame"]').count() >= 1
    area.fill("copy edits to '/tmp/x.csv'")
    area.press("Control+Enter")
    _settle(page)
    page.get_by_role("button", name="Run").click()
    page.get_by_text("only SELECT").first.wait_for()
    _shot(page, "8-sql")


def test_edit_map(browser_page, server, marts):
    page = browser_page
    _open(page, server, "map", "Where do edits cluster?")
    n = int(((marts["edit_map"]["space"] == "image") & (marts["edit_map"]["method"] == "pca")).sum())
    page.get_by_text(re.compile(rf"{n:,} of {n:,} edits drawn, a uniform random sample")).first.wait_for()
    chart = page.locator(".st-key-map_chart_box .vega-embed").first
    chart.wait_for()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 300  # the map is drawn, not an empty frame
    # one mark per drawn point (vega-lite's SVG renderer)
    page.wait_for_function("(n) => document.querySelectorAll('.st-key-map_chart_box .mark-symbol path').length >= n",
                           arg=n)
    # a region from the URL lists its edits and links to the explorer filtered to it
    xs = marts["edit_map"].query("space == 'image'")["x"].sort_values()
    lo, hi = float(xs.iloc[len(xs) // 4]), float(xs.iloc[3 * len(xs) // 4])
    _open(page, server, f"map?region={lo},{hi},-100,100", "Where do edits cluster?")
    link = page.get_by_role("link", name="Open these edits in the explorer")
    link.wait_for()
    assert "map=" in (link.get_attribute("href") or "")
    _shot(page, "9-map")


def test_similar_edits(browser_page, server, marts):
    page = browser_page
    probe = marts["edit_map"].query("space == 'image'").sort_values("edit_id")["edit_id"].iloc[3]
    _open(page, server, f"similar?edit={probe}", "Which edits look like this one?")
    page.get_by_text("12 nearest edits").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('.st-key-sim_results a[href*=\"edit?edit=\"]').length >= 12")
    links = page.locator('.st-key-sim_results a[href*="edit?edit="]')
    assert links.count() == 12
    assert probe not in [links.nth(i).inner_text() for i in range(links.count())]
    assert page.locator('.st-key-sim_results [data-testid="stImage"]').count() == 12
    _shot(page, "10-similar")


def test_verdict_round_trip(browser_page, server, warehouse):
    """A verdict given in the browser is saved to the warehouse and, after `editlens build`, counted in the
    flag's precision, which the page then shows beside the flag."""
    from editlens.build import run_build
    from editlens.warehouse import Warehouse

    page = browser_page
    _open(page, server, "review", "Can this flag be trusted?")
    card = page.locator(".st-key-rv_card")
    card.wait_for()
    flagged = "does **not** flag" not in card.inner_text() and "does not flag" not in card.inner_text()
    page.get_by_role("button", name="Right (y)").click()
    _settle(page)
    page.get_by_text(re.compile(r"1 of \d+ reviewed")).first.wait_for()
    files = list((warehouse / "parquet" / "flag_verdicts").glob("*.parquet"))
    assert len(files) == 1
    row = pq.read_table(files[0]).to_pylist()[0]
    assert row["verdict"] == "right" and row["flag"] == "is_noop" and row["flagged"] is flagged
    assert run_build(Warehouse.at(warehouse), ["--quiet"]) == 0
    prec = pq.read_table(warehouse / "marts" / "flag_precision.parquet").to_pandas()
    got = prec[(prec["flag"] == "is_noop") & (prec["dataset"] == row_dataset(warehouse, row["edit_id"]))].iloc[0]
    if flagged:
        assert (got["n_true_positive"], got["n_reviewed_flagged"], got["precision"]) == (1, 1, 1.0)
    else:
        assert (got["n_true_negative"], got["n_reviewed_unflagged"], got["false_omission_rate"]) == (1, 1, 0.0)
    page.reload()
    page.get_by_role("heading", name="Can this flag be trusted?").first.wait_for()
    _settle(page)
    if flagged:
        assert _metric(page, "Precision") == "100.0%"
    _shot(page, "11-review")


def row_dataset(warehouse: Path, edit_id: str) -> str:
    e = pq.read_table(warehouse / "marts" / "edits.parquet", columns=["edit_id", "dataset"]).to_pandas()
    return e.loc[e["edit_id"] == edit_id, "dataset"].iloc[0]
