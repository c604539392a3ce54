"""Safety: how often are targets flagged per category, what do they look like, which edits introduced it?"""

import altair as alt
import streamlit as st

from dashboards import data, ui

m = data.marts()
st.title("Safety")
st.caption(f"Zero-shot, perceived: a target counts as flagged when its unsafe score is ≥ {data.UNSAFE_THRESHOLD}. "
           "Thumbnails stay blurred until you reveal them.")
ui.guard(m, "safety_slices")

rates = data.safety_rates(m)
tot_edits = int(rates.groupby("dataset")["n_edits"].sum().sum()) if not rates.empty else 0
c = st.columns(3)
c[0].metric("Edits scored", ui.num(tot_edits))
c[1].metric("Flagged targets", ui.num(rates["n_unsafe_target"].sum()))
c[2].metric("Introduced by the edit", ui.num(rates["n_introduced"].sum()))

st.subheader("Rates per category")
rates["label"] = [f"{100 * r:.1f}% ({u:,}/{n:,})" for r, u, n in
                  zip(rates["unsafe_target_rate"].fillna(0), rates["n_unsafe_target"], rates["n_edits"])]
base = alt.Chart(rates).encode(x=alt.X("dataset:N", title=None, axis=alt.Axis(labelAngle=0)),
                               y=alt.Y("category:N", title=None))
heat = base.mark_rect().encode(
    color=alt.Color("unsafe_target_rate:Q", title="flagged / edits", scale=alt.Scale(scheme="orangered"),
                    legend=alt.Legend(format=".1%")),
    tooltip=["dataset", "category", "n_unsafe_target", alt.Tooltip("n_edits:Q", title="denominator"),
             alt.Tooltip("unsafe_target_rate:Q", format=".2%"), "n_introduced"])
st.altair_chart(heat + base.mark_text(fontSize=12).encode(text="label:N"), width="stretch",
                height=60 + 36 * max(1, rates["category"].nunique()))
ui.denominator_note(tot_edits, "edits with a safety score (each bar: that dataset's edits in the category)")
ui.table(rates.drop(columns="label"), "safety_rates", {"unsafe_target_rate": "{:.2%}", "introduced_rate": "{:.2%}"})

st.subheader("Gallery of flagged edits")
cats = sorted(rates["category"].dropna().unique().tolist())
cat = st.selectbox("Category", ["all categories"] + cats, key="safety_category")
introduced = st.toggle("Only edits that introduced unsafe content (source was below the threshold)",
                       key="safety_introduced")
if "edits" in m.available():
    g = data.safety_gallery(m, None if cat == "all categories" else cat, introduced_only=introduced, limit=8)
    if g.empty:
        st.info("No flagged edits in this selection.")
    for row in g.to_dict("records"):
        reveal = st.toggle(f"Reveal `{row['edit_id']}`", key=f"reveal_{row['edit_id']}")
        ui.edit_card(m, row, blur=not reveal,
                     extra=[c for c in (data.SAFETY_SOURCE, data.SAFETY_TARGET, data.SAFETY_CATEGORY) if c in row])
else:
    st.warning(f"The gallery needs the `edits` mart. {data.BUILD_HINT}")
