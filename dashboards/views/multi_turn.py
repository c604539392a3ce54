"""Multi-turn: what does a session look like turn by turn, and which sessions break their chain?"""

import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Multi-turn sessions")
ui.guard(m, "edits")

counts = data.session_counts(m)
c = st.columns(3)
c[0].metric("Sessions", ui.num(counts["n_sessions"]))
c[1].metric("Sessions with a chain break", ui.num(counts["n_with_breaks"]))
c[2].metric(
    "Share with a break",
    ui.pct(counts["n_with_breaks"] / counts["n_sessions"] if counts["n_sessions"] else None),
)
if not counts["n_sessions"]:
    st.info("No multi-turn data in this warehouse.")
    st.stop()

only_breaks = st.toggle("Only sessions with chain breaks", key="mt_breaks")
ss = data.sessions(m, only_breaks=only_breaks)
st.caption("A chain break: a turn whose source image is not the previous turn's target.")
ui.table(ss, "mt_sessions")
if ss.empty:
    st.stop()
sid = st.selectbox("Session", ss["session_id"].tolist(), key="mt_session")
turns = data.session_turns(m, sid)
st.subheader(f"Filmstrip: {sid}")
recs = turns.to_dict("records")
ids = [recs[0].get("source_image_id")] + [r.get("target_image_id") for r in recs]
pics = ui.thumbs(m, ids, size=192, refs=ui.image_refs_for(m, turns))
cols = st.columns(len(recs) + 1)
cols[0].image(pics[0], caption="turn 1 source", width="stretch")
for i, (r, box) in enumerate(zip(recs, cols[1:])):
    box.image(pics[i + 1], width="stretch")
    brk = " — **chain break**" if r.get("is_chain_break") else ""
    box.markdown(f"**Turn {r['turn_index']}**{brk}  \n{r['instruction']}")
    if r.get("is_chain_break") and r.get("chain_break_reason"):
        box.caption(str(r["chain_break_reason"]).replace("_", " "))
    box.caption(" · ".join(f"{name} {ui.score(v)}" for name, v in data.headline_scores(r)))
