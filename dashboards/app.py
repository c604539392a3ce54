"""EditLens dashboards: ``streamlit run dashboards/app.py [-- --warehouse DIR]``.

One page per question. The warehouse is ``--warehouse DIR`` (after ``--``), else ``$EDITLENS_WAREHOUSE``, else
./warehouse; the app only reads its exported marts (``DIR/marts/*.parquet``), so ``dbt build`` may run meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from editlens.dashboards import data, ui

# page scripts live in views/, not pages/: a pages/ folder switches `streamlit run` to folder-based navigation
_PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="EditLens", layout="wide")
ui.inject_css()

PAGES = [
    st.Page(_PAGES / "overview.py", title="Overview", url_path="overview", default=True),
    st.Page(_PAGES / "instruction_types.py", title="Instruction types", url_path="instruction-types"),
    st.Page(_PAGES / "bias.py", title="Bias", url_path="bias"),
    st.Page(_PAGES / "safety.py", title="Safety", url_path="safety"),
    st.Page(_PAGES / "quality.py", title="Quality", url_path="quality"),
    st.Page(_PAGES / "multi_turn.py", title="Multi-turn", url_path="multi-turn"),
    st.Page(_PAGES / "model_compare.py", title="Model comparison", url_path="model-comparison"),
    st.Page(_PAGES / "explorer.py", title="Edit explorer", url_path="explorer"),
    st.Page(_PAGES / "edit_map.py", title="Edit map", url_path="map"),
    st.Page(_PAGES / "similar.py", title="Similar edits", url_path="similar"),
    st.Page(_PAGES / "review.py", title="Review queue", url_path="review"),
    st.Page(_PAGES / "edit.py", title="Edit detail", url_path="edit"),
    st.Page(_PAGES / "policy.py", title="Policy", url_path="policy"),
    st.Page(_PAGES / "sql.py", title="SQL", url_path="sql"),
]

page = st.navigation(PAGES)
m = data.marts()
data.warm_up(m)  # once per mart version: background thread, returns at once
with st.sidebar:
    st.caption(f"Warehouse: `{m.root}`")
    avail = m.available()
    st.caption(f"Marts: {len(avail)} of {len(data.MARTS)} present")
    st.toggle("Reveal unsafe images", key=ui.REVEAL_KEY, help="Off: edits flagged for safety are blurred on every page.")
try:
    page.run()
except data.MissingMart as exc:
    st.warning(str(exc))
except data.duckdb.Error as exc:  # marts from another version of the dbt project: say so, do not crash
    st.error(
        f"The marts in `{m.marts_dir}` do not match what this page reads ({type(exc).__name__}: "
        f"{str(exc).splitlines()[0]}). {data.BUILD_HINT}"
    )
