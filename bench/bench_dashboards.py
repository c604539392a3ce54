"""Benchmark the dashboards on a full-scale warehouse: each page's render time and each filter change's time.

    .venv/bin/python bench/bench_dashboards.py                      # 3.77M-edit synthetic warehouse, built once by
                                                                    # bench/synthetic_warehouse.py + editlens build
    .venv/bin/python bench/bench_dashboards.py --edits 500000       # smaller
    .venv/bin/python bench/bench_dashboards.py --warehouse DIR      # an existing warehouse with exported marts
                                                                    # (e.g. bench/synthetic_warehouse.py + editlens build)

Every page is rendered with Streamlit's AppTest (the same script run a browser session gets, minus the network):
"cold" is the first render with every cache emptied (a fresh server: its warm-up thread starts with that render and
competes with it), "warm" a render once the warm-up is done. Then one widget per page is changed and the rerun
timed (a new value, so not served from cache).
Targets (issue 6): a page renders in at most 2 s, a filter change in at most 0.5 s. The bare baseline measured in
the same run is an AppTest render of a one-line page and a DuckDB ``count(*)`` over the edits mart; every time is
also printed as a ratio to the baseline render, so numbers from different machines compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PAGE_TARGET_S = 2.0
FILTER_TARGET_S = 0.5
APP = str(REPO / "dashboards" / "app.py")


def _clear_caches() -> None:
    """A fresh server: no cached query, no connection, no accelerator, no warm-up done or running (a warm-up
    left over from an earlier render is stopped, so a cold render competes with its own warm-up only, as on a
    server that has just started)."""
    import streamlit as st

    from editlens.dashboards import data

    data.reset()
    st.cache_data.clear()
    st.cache_resource.clear()


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# the edit the Edit detail page is opened on (a deep link, ?edit=ID): set by main() from the edits mart
DEEP_LINK: dict[str, str] = {}


def _app(page: str | None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    if page == "edit" and DEEP_LINK:
        at.query_params["edit"] = DEEP_LINK["edit"]
    if page:
        # register the navigation (cheap: the default page is rendered from warm caches), then switch
        at.run()
        at.switch_page(f"views/{page}.py")
    return at


def _check(at, what: str) -> None:
    if at.exception:
        raise SystemExit(f"{what}: page raised {[e.value for e in at.exception]}")


# one widget change per page: (page, description, action(at))
def _filters(marts_dir: Path):
    import pyarrow.parquet as pq

    def first_dataset():
        t = (
            pq.read_table(marts_dir / "dataset_scorecard.parquet", columns=["dataset"])
            if (marts_dir / "dataset_scorecard.parquet").exists()
            else None
        )
        return min(set(t.column("dataset").to_pylist())) if t is not None else None

    def probe():  # an edit from the middle of the image index (its neighbours, not its own row, are searched)
        from editlens.contract.index import NeighbourIndex, open_indexes

        folders = [f for (k, sp), f in open_indexes(marts_dir.parent).items() if sp == "image"]
        idx = NeighbourIndex.open(folders[0]) if folders else None
        return idx.key(len(idx) // 2) if idx is not None and len(idx) else ""

    ds = first_dataset()
    return [
        (
            None,
            "Overview: metric select",
            lambda at: at.selectbox(key="overview_metric").set_value(
                at.selectbox(key="overview_metric").options[-1]
            ),
        ),
        (
            "instruction_types",
            "Instruction types: label select",
            lambda at: at.selectbox(key="types_label").set_value(at.selectbox(key="types_label").options[-1]),
        ),
        ("bias", "Bias: dataset select", lambda at: at.selectbox(key="bias_dataset").set_value(ds)),
        (
            "safety",
            "Safety: category select",
            lambda at: at.selectbox(key="safety_category").set_value(
                at.selectbox(key="safety_category").options[-1]
            ),
        ),
        (
            "quality",
            "Quality: CLIP-I threshold slider",
            lambda at: at.slider(key="thr_clip_i").set_value(0.83),
        ),
        (
            "multi_turn",
            "Multi-turn: chain-break toggle",
            lambda at: at.toggle(key="mt_breaks").set_value(True),
        ),
        (
            "explorer",
            "Explorer: full-text search",
            lambda at: at.text_input(key="ex_text").set_value("remove the"),
        ),
        (
            "explorer",
            "Explorer: dataset filter",
            lambda at: at.multiselect(key="ex_dataset").set_value([ds]),
        ),
        ("explorer", "Explorer: next page", lambda at: at.number_input(key="ex_page").set_value(3)),
        ("edit_map", "Map: colour by label", lambda at: at.selectbox(key="map_colour").set_value("label")),
        ("edit_map", "Map: instruction space", lambda at: at.selectbox(key="map_space").set_value("instruction")),
        ("similar", "Similar: neighbours of an edit", lambda at: at.text_input(key="sim_edit").set_value(probe())),
        ("review", "Review: flag select", lambda at: at.selectbox(key="rv_flag").set_value("is_misaligned")),
        ("review", "Review: new seed", lambda at: at.number_input(key="rv_seed").set_value(7)),
        ("explorer", "Explorer: sort by CLIP-I", lambda at: at.selectbox(key="ex_sort").set_value("clip_i")),
        ("edit", "Edit detail: slider compare", lambda at: at.radio(key="edit_compare").set_value("slider")),
        (
            "sql",
            "SQL: run a GROUP BY",
            lambda at: (
                at.text_area(key="sql_text").set_value(
                    "select dataset, part, count(*) as n from edits group by all"
                ),
                at.button(key="sql_run").click(),
            ),
        ),
    ]


PAGES = [None, "instruction_types", "bias", "safety", "quality", "multi_turn", "explorer", "edit", "sql", "edit_map",
         "similar", "review"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edits", type=int, default=3_770_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=REPO / "bench" / "out" / "dashboards-warehouse")
    ap.add_argument(
        "--warehouse", type=Path, default=None, help="use this built warehouse instead of the synthetic one"
    )
    ap.add_argument("--warm-repeats", type=int, default=3)
    args = ap.parse_args(argv)

    if args.warehouse:
        root = args.warehouse.resolve()
        if not (root / "marts" / "edits.parquet").exists():
            print(
                f"bench_dashboards: error: {root}/marts/edits.parquet not found (run editlens build)",
                file=sys.stderr,
            )
            return 2
        source = f"warehouse {root}"
    else:
        root = (args.dir / f"n{args.edits}-s{args.seed}").resolve()
        if not (root / "marts" / "edits.parquet").exists():
            from bench.synthetic_warehouse import make_synthetic_warehouse
            from editlens.build import run_build
            from editlens.warehouse import Warehouse

            print(f"building a synthetic warehouse of {args.edits:,} edits in {root} ...", flush=True)
            t = _timed(lambda: make_synthetic_warehouse(root, n_edits=args.edits, seed=args.seed))
            t += _timed(lambda: run_build(Warehouse.at(root), ["--quiet"]))
            if not (root / "marts" / "edits.parquet").exists():
                print(f"bench_dashboards: error: editlens build did not export the marts of {root}", file=sys.stderr)
                return 2
            print(f"  built in {t:.1f} s", flush=True)
        source = f"synthetic warehouse built by dbt, {args.edits:,} edits ({root})"
    os.environ["EDITLENS_WAREHOUSE"] = str(root)

    import duckdb
    from streamlit.testing.v1 import AppTest

    n_edits = duckdb.sql(f"select count(*) from '{root / 'marts' / 'edits.parquet'}'").fetchone()[0]
    # a multi-turn edit in the middle of the mart, when there is one: the deep link the Edit detail page opens
    DEEP_LINK["edit"] = duckdb.sql(
        f"""select edit_id from '{root / 'marts' / 'edits.parquet'}'
            order by session_id is null, hash(edit_id) limit 1"""
    ).fetchone()[0]
    print(f"source: {source}; edits in mart: {n_edits:,}")
    print(f"machine: {os.cpu_count()} CPUs (shared), python {sys.version.split()[0]}")

    # baseline: the bare cost of an AppTest script run and of one scan of the edits mart
    base_runs = []
    for _ in range(3):
        at = AppTest.from_string("import streamlit as st\nst.title('baseline')\nst.metric('n', 1)\n")
        base_runs.append(_timed(at.run))
    base = statistics.median(base_runs)
    scan = statistics.median(
        _timed(
            lambda: duckdb.sql(
                f"select count(*), avg(clip_i) from '{root / 'marts' / 'edits.parquet'}'"
            ).fetchall()
        )
        for _ in range(3)
    )
    print(
        f"baseline: bare AppTest render {base:.3f} s; DuckDB scan of edits (count, avg clip_i) {scan:.3f} s\n"
    )

    rows = []
    print(f"{'page':<22}{'cold s':>9}{'warm s':>9}{'cold/base':>11}  target {PAGE_TARGET_S:g} s")
    for page in PAGES:
        _clear_caches()
        from streamlit.testing.v1 import AppTest as _AT

        at = _AT.from_file(APP, default_timeout=600)
        if page == "edit":
            at.query_params["edit"] = DEEP_LINK["edit"]
        if page:
            # navigation must exist before switching; measure the page alone on cold caches
            at.run()
            _clear_caches()
            at.switch_page(f"views/{page}.py")
        cold = _timed(at.run)
        _check(at, page or "overview")
        warm = statistics.median(_timed(at.run) for _ in range(args.warm_repeats))
        name = page or "overview"
        ok = cold <= PAGE_TARGET_S
        rows.append(("page", name, cold, warm, ok))
        print(f"{name:<22}{cold:>9.3f}{warm:>9.3f}{cold / base:>11.1f}  {'PASS' if ok else 'FAIL'}")

    # the app starts a warm-up thread on its first run (row index, score arrays, default views); time it alone
    from editlens.dashboards import data

    _clear_caches()
    warm_t = _timed(lambda: data.warm_up(data.Marts.open(root), wait=True))
    print(f"\nbackground warm-up after a (re)build, once per mart version: {warm_t:.2f} s")
    print("  (pages render meanwhile; until it is done they scan the Parquet marts instead)")
    print("warm renders after it:")
    for page in PAGES:
        at = _app(page)
        at.run()
        _check(at, page or "overview")
        t = statistics.median(_timed(at.run) for _ in range(args.warm_repeats))
        ok = t <= PAGE_TARGET_S
        rows.append(("page-warm", page or "overview", t, None, ok))
        print(f"  {page or 'overview':<20}{t:>9.3f}  {'PASS' if ok else 'FAIL'}")

    print(f"\n{'filter change (after warm-up)':<38}{'s':>8}{'/base':>8}  target {FILTER_TARGET_S:g} s")
    current = "unset"
    at = None
    for page, what, act in _filters(root / "marts"):
        if page != current or at is None:
            at = _app(page)
            at.run()
            _check(at, what)
            current = page
        act(at)
        t = _timed(at.run)
        _check(at, what)
        ok = t <= FILTER_TARGET_S
        rows.append(("filter", what, t, None, ok))
        print(f"{what:<38}{t:>8.3f}{t / base:>8.1f}  {'PASS' if ok else 'FAIL'}")

    n_fail = sum(1 for r in rows if not r[4])
    print(f"\n{len(rows) - n_fail} of {len(rows)} within target" + (f"; {n_fail} over" if n_fail else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
