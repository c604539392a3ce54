"""SQL: ask the marts anything, read-only."""

import streamlit as st

from editlens.dashboards import data, ui
from editlens.dashboards.sql_console import (
    DEFAULT_ROW_LIMIT,
    DEFAULT_TIMEOUT_S,
    EXAMPLE_QUERIES,
    QueryRejected,
    QueryTimeout,
)

m = data.marts()
st.title("SQL console")
st.caption(
    f"Read-only: one SELECT (or WITH … SELECT) over the mart views; no writes, no file access, no ATTACH, "
    f"INSTALL, LOAD or COPY. At most {DEFAULT_ROW_LIMIT:,} rows, {DEFAULT_TIMEOUT_S:g} s per query."
)
avail = m.available()
if not avail:
    ui.guard(m, "edits")

con = data.sql_console(m)
with st.expander("Tables and columns"):
    ui.table(con.schema(), "sql_schema")

example = st.selectbox("Example queries", list(EXAMPLE_QUERIES), key="sql_example")
if st.session_state.get("_sql_example_shown") != example:
    st.session_state["sql_text"] = EXAMPLE_QUERIES[example]
    st.session_state["_sql_example_shown"] = example
sql = st.text_area("Query", key="sql_text", height=160)
limit = st.number_input(
    "Row limit", min_value=1, max_value=DEFAULT_ROW_LIMIT, value=1000, step=100, key="sql_limit"
)
if st.button("Run", key="sql_run", type="primary"):
    try:
        r = con.run(sql, row_limit=int(limit))
    except (QueryRejected, QueryTimeout) as exc:
        st.error(str(exc))
    else:
        msg = f"{len(r.frame):,} rows in {r.elapsed_s:.2f} s"
        if r.truncated:
            msg += f" (truncated at the row limit of {r.row_limit:,})"
        st.success(msg)
        ui.table(r.frame, "sql_result")
