"""Instruction types: which edit types does each dataset contain, which co-occur, and how good is each?"""

import altair as alt
import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Instruction types")
st.caption(
    "Labels per edit: derived by the taxonomy rules (seeds/taxonomy_rules.csv) or provided by the dataset. "
    "Click a bar to see its examples."
)
ui.guard(m, "edits", "edit_labels")

all_ds = data.datasets(m)
c = st.columns([3, 1])
ui.url_value("types_datasets", all_ds, list, param="type_dataset")
st.session_state["types_datasets"] = [d for d in st.session_state["types_datasets"] if d in all_ds] or all_ds
chosen = c[0].multiselect("Datasets", all_ds, key="types_datasets")
ui.keep("types_datasets", chosen, all_ds, param="type_dataset")
origins = data.label_origins(m)
origin = None
if origins:
    first = "derived" if "derived" in origins else origins[0]
    if ui.url_value("types_origin", first, param="type_origin") not in origins:
        st.session_state["types_origin"] = first
    origin = c[1].radio("Label origin", origins, key="types_origin", horizontal=True)
    ui.keep("types_origin", origin, first, param="type_origin")
dist = data.label_distribution(m, tuple(chosen), origin)
if dist.empty:
    st.info("No labels of this origin in the chosen datasets.")
    st.stop()

st.subheader("Distribution")
dist = data.with_interval(dist, "n_edits", "denominator").drop(columns="rate")
pick = alt.selection_point(fields=["label"], name="pick")
fmt = ".0%" if dist["ci_high"].max() >= 0.2 else ".1%"  # ticks that differ from each other
base = alt.Chart(dist).encode(
    y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)), yOffset="dataset:N"
)
chart = (
    base
    .mark_bar()
    .encode(
        x=alt.X("share:Q", title=f"share of the dataset's edits with a {origin or ''} label",
                axis=alt.Axis(format=fmt, tickCount=6)),
        color=alt.Color("dataset:N", legend=alt.Legend(orient="top", labelLimit=300)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=[
            "dataset",
            "label",
            "n_edits",
            alt.Tooltip("denominator:Q", title="labelled edits in dataset"),
            alt.Tooltip("share:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", format=".1%", title="95% CI low"),
            alt.Tooltip("ci_high:Q", format=".1%", title="95% CI high"),
        ],
    )
    .add_params(pick)
)
chart = alt.layer(chart, base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q"))
n_bars = max(1, len(dist))
event = st.altair_chart(
    chart,
    width="stretch",
    on_select="rerun",
    key="types_chart",
    height=min(1400, 80 + 14 * n_bars + 10 * dist["label"].nunique()),
)
denoms = dist.groupby("dataset")["denominator"].first()
st.caption(
    f"Denominators (edits with a {origin or ''} label, per dataset): "
    + ", ".join(f"{d} {ui.num(n)}" for d, n in denoms.items())
    + ". An edit may carry several labels, so shares can add up to more than 100%. Black lines: Wilson 95% "
    "intervals" + (f"; small n (under {data.SMALL_N} labelled edits): " + ", ".join(small) if (small := [
        d for d, n in denoms.items() if n < data.SMALL_N]) else "") + "."
)

label_list = sorted(dist["label"].unique().tolist())
picked = None
try:
    sel = event.selection.get("pick") if event is not None else None
    if sel:
        picked = sel[0].get("label")
except AttributeError:
    picked = None
# a bar click picks the label once; the dropdown then stays where the reviewer puts it (the chart keeps its
# selection across reruns, so applying it on every rerun would snap the dropdown back)
if picked in label_list and picked != st.session_state.get("_types_last_pick"):
    st.session_state["types_label"] = picked
st.session_state["_types_last_pick"] = picked

st.subheader("Examples")
label = None
if label_list:
    if ui.url_value("types_label", label_list[0], param="type_label") not in label_list:
        st.session_state["types_label"] = label_list[0]
    label = st.selectbox("Label", label_list, key="types_label")
    ui.keep("types_label", label, label_list[0], param="type_label")
if label:
    n_label = int(dist.loc[dist["label"] == label, "n_edits"].sum())
    off = ui.pager("types_page", n_label, 6)
    ex = data.label_examples(m, label, origin, tuple(chosen), limit=6, offset=off)
    st.caption(f"{ui.num(n_label)} edits labelled `{label}` in the chosen datasets; {off + 1}–{off + len(ex)}:")
    ui.explorer_link(f"All {ui.num(n_label)} in the explorer ›", label=[label], origin=origin,
                     dataset=chosen if set(chosen) != set(all_ds) else None)
    refs = ui.image_refs_for(m, ex)
    for row in ex.to_dict("records"):
        ui.edit_card(m, row, show_scores=data.score_columns(m)[:2], refs=refs)

st.subheader("Co-occurrence")
co = data.label_cooccurrence(m, origin, tuple(chosen))
if co.empty:
    st.info("No edit carries more than one label of this origin.")
else:
    top = co.head(60)
    heat = (
        alt.Chart(top)
        .mark_rect()
        .encode(
            x=alt.X("label_a:N", title=None),
            y=alt.Y("label_b:N", title=None),
            color=alt.Color("n_edits:Q", scale=alt.Scale(scheme="blues"), title="edits"),
            tooltip=["label_a", "label_b", "n_edits"],
        )
    )
    st.altair_chart(heat, width="stretch", height=120 + 22 * top["label_b"].nunique())
    st.caption(
        f"Edits with both labels (the {len(top)} most frequent pairs); the most frequent pair is "
        f"{co.iloc[0]['label_a']} + {co.iloc[0]['label_b']} ({ui.num(co.iloc[0]['n_edits'])} edits)."
    )

st.subheader("Quality per label")
q = data.label_quality(m, origin, tuple(chosen))
fmt = {c: "{:.3f}" for c in q.columns if c.endswith("_median")}
fmt.update({c: "{:.1%}" for c in q.columns if c.startswith("share")})
st.caption("Score medians per label, dataset and part (n_scored edits have scores).")
ui.table(q, "label_quality", fmt)
