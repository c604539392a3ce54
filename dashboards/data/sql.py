"""The SQL page's read-only console over the marts present now (rebuilt when a mart changes)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from editlens.dashboards.data.connection import Marts


def sql_console(m: Marts):
    """The read-only console over the marts present now (rebuilt when a mart changes)."""
    return _console(str(m.root), m.version())


@st.cache_resource(show_spinner=False, max_entries=4)
def _console(root: str, version: tuple):
    from editlens.dashboards.sql_console import SqlConsole

    mm = Marts(Path(root))
    return SqlConsole.over(mm.console_views())
