"""Instruction types: which edit types does each dataset contain, which co-occur, and how good is each?"""

import altair as alt
import streamlit as st

from dashboards import data, ui

m = data.marts()
st.title("Instruction types")
st.caption("Labels per edit (provided by the dataset or assigned by the lexicon rules). Click a bar to see its examples.")
ui.guard(m, "edits", "edit_labels")

all_ds = data.datasets(m)
chosen = st.multiselect("Datasets", all_ds, default=all_ds, key="types_datasets")
dist = data.label_distribution(m, tuple(chosen))
st.subheader("Distribution")
pick = alt.selection_point(fields=["label"], name="pick")
chart = (
    alt.Chart(dist)
    .mark_bar()
    .encode(
        x=alt.X("share:Q", title="share of the dataset's edits", axis=alt.Axis(format=".0%")),
        y=alt.Y("label:N", sort="-x", title=None),
        color="dataset:N",
        yOffset="dataset:N",
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
        tooltip=["dataset", "label", "n_edits", alt.Tooltip("denominator:Q", title="edits in dataset"),
                 alt.Tooltip("share:Q", format=".1%")],
    )
    .add_params(pick)
)
event = st.altair_chart(chart, width="stretch", on_select="rerun", key="types_chart")
denoms = dist.groupby("dataset")["denominator"].first()
st.caption("Denominators (edits per dataset): " + ", ".join(f"{d} {ui.num(n)}" for d, n in denoms.items())
           + ". An edit may carry several labels, so shares can add up to more than 100%.")

labels = sorted(dist["label"].unique().tolist()) or data.labels(m)
picked = None
try:
    sel = event.selection.get("pick") if event is not None else None
    if sel:
        picked = sel[0].get("label")
except AttributeError:
    picked = None
if picked in labels:
    st.session_state["types_label"] = picked

st.subheader("Examples")
label = st.selectbox("Label", labels, key="types_label") if labels else None
if label:
    ex = data.label_examples(m, label, limit=6)
    st.caption(f"{ui.num(int(dist.loc[dist['label'] == label, 'n_edits'].sum()))} edits labelled `{label}` "
               "in the chosen datasets; the first six:")
    for row in ex.to_dict("records"):
        ui.edit_card(m, row, show_scores=data.score_columns(m)[:2])

st.subheader("Co-occurrence")
co = data.label_cooccurrence(m)
if co.empty:
    st.info("No edit carries more than one label.")
else:
    heat = (
        alt.Chart(co)
        .mark_rect()
        .encode(x=alt.X("label_a:N", title=None), y=alt.Y("label_b:N", title=None),
                color=alt.Color("n_edits:Q", scale=alt.Scale(scheme="blues")),
                tooltip=["label_a", "label_b", "n_edits"])
    )
    st.altair_chart(heat, width="stretch")
    st.caption(f"Edits with two or more labels; the most frequent pair is {co.iloc[0]['label_a']} + "
               f"{co.iloc[0]['label_b']} ({ui.num(co.iloc[0]['n_edits'])} edits).")

st.subheader("Quality per label")
q = data.label_quality(m)
fmt = {c: "{:.3f}" for c in q.columns if c.startswith("median_")}
if "flagged_rate" in q.columns:
    fmt["flagged_rate"] = "{:.1%}"
ui.table(q, "label_quality", fmt)
