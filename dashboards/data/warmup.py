"""The background warm-up: once per mart version, at the lowest CPU priority and on its own one-thread DuckDB
connection, build the speed-ups (row indexes, score arrays) and prefill the caches of every page's default view,
so the first visit of a page does not pay for them.

``reset()`` stops running warm-ups and forgets every speed-up built, as after a rebuild: the next render starts
cold (tests and the benchmark use it).
"""

from __future__ import annotations

import atexit
import os
import threading

import duckdb

from editlens.dashboards.data import speedups
from editlens.dashboards.data.columns import default_thresholds, higher_is_better, score_columns
from editlens.dashboards.data.connection import LOCAL, Conn, Marts, open_duckdb
from editlens.dashboards.data.multi_turn import session_summary
from editlens.dashboards.data.quality import flag_counts, pass_counts, score_range, worst_examples
from editlens.dashboards.data.safety import safety_gallery
from editlens.dashboards.data.speedups import row_index, score_arrays

_LOCK = threading.Lock()

_WARM: set[tuple] = set()


_STOP = threading.Event()
_RUNNING: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}


def stop_warm_ups() -> None:
    """At interpreter exit: interrupt and join the warm-up threads (a DuckDB query still running in a daemon
    thread while Python tears down aborts the process)."""
    _STOP.set()
    for th, con in list(_RUNNING.items()):
        try:
            con.interrupt()
        except Exception:  # noqa: BLE001, S110 (closed already: nothing to interrupt)
            pass
        th.join(timeout=10)


atexit.register(stop_warm_ups)


def warm_up(m: Marts, wait: bool = False) -> threading.Thread | None:
    """Build the in-memory accelerators and prefill the caches of every page's default view, in a background
    thread started once per mart version (so the first visit of each page does not pay for it)."""
    if not m.has("edits"):
        return None
    key = (str(m.root), m.version())
    with _LOCK:
        if key in _WARM:
            return None
        _WARM.add(key)

    def _run() -> None:
        import logging

        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
        logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
        try:  # yield the CPU to page renders: lowest priority, one DuckDB thread, its own connection
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        con = open_duckdb(m.root, threads=1)
        _RUNNING[threading.current_thread()] = con
        LOCAL.conn = Conn(con)
        try:
            thresholds = {c: (">=" if higher_is_better(c) else "<=", v) for c, v in default_thresholds(m).items()}
        except Exception:  # noqa: BLE001 (interrupted at exit, or the marts changed: the steps do what they can)
            thresholds = {}
        steps = [
            lambda: row_index(m, build=True),
            lambda: row_index(m, build=True, table="image_locations"),
            lambda: score_arrays(m, tuple(sorted(thresholds)), build=True),
            lambda: pass_counts(m, thresholds),
            lambda: session_summary(m),
            lambda: (
                m.df(
                    "select edit_id, is_chain_break, chain_break_reason from edit_quality_flags "
                    "where is_chain_break"
                )
                if "chain_break_reason" in m.columns("edit_quality_flags")
                else None
            ),
            lambda: flag_counts(m),
            lambda: [score_range(m, c) for c in score_columns(m) + list(thresholds)],
            lambda: [worst_examples(m, flag_counts(m)["flag"].iloc[0])],
            lambda: safety_gallery(m, None, False) if m.has("safety_flagged_edits") else None,
        ]
        try:
            for step in steps:
                if _STOP.is_set():
                    break
                try:
                    step()
                except Exception:  # noqa: BLE001, S110 (a warm-up never breaks the app; pages compute on demand)
                    pass
        finally:
            LOCAL.conn = None
            _RUNNING.pop(threading.current_thread(), None)
            con.close()

    th = threading.Thread(target=_run, name="editlens-warm-up", daemon=True)
    th.start()
    if wait:
        th.join()
    return th


def reset() -> None:
    """Stop the running warm-ups and forget every speed-up built: the next render starts cold."""
    stop_warm_ups()
    _STOP.clear()
    with _LOCK:
        _WARM.clear()
    speedups.clear()
