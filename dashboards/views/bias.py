"""Bias: who is mentioned in the instructions, how do edits shift perceived attributes, what do filters remove?"""

import altair as alt
import streamlit as st

from dashboards import data, ui

m = data.marts()
st.title("Bias")
ui.guard(m, "bias_slices")

st.info(
    "**What these numbers can and cannot mean.** Group mentions count words in the instructions (a lexicon in "
    "`seeds/`), not people in the pictures. Attribute shifts come from zero-shot CLIP scores for *perceived* "
    "attributes (apparent age, skin tone, presentation): they say how an image model describes a picture, never "
    "who a person is, and they inherit that model's own biases. Use them to find slices worth a human look, "
    "compare slices of the same model only, and never to label individuals."
)

kinds = data.bias_kinds(m)
dsets = sorted(data.bias_slices(m, kinds[0])["dataset"].unique()) if kinds else []
ds = st.selectbox("Dataset", ["all datasets"] + list(dsets), key="bias_dataset")


def _scope(df):
    return df if ds == "all datasets" else df[df["dataset"] == ds]


if "group_mention" in kinds:
    st.subheader("Group mentions in instructions")
    g = _scope(data.bias_slices(m, "group_mention"))
    roll = g.groupby(["attribute", "group_name"], as_index=False)["n_edits"].sum()
    den = _scope(data.bias_slices(m, "group_mention")).drop_duplicates(["dataset", "part", "label"])["denominator"].sum()
    roll["denominator"] = den
    roll["share"] = roll["n_edits"] / den if den else 0.0
    st.altair_chart(
        alt.Chart(roll).mark_bar().encode(
            x=alt.X("share:Q", axis=alt.Axis(format=".1%"), title="share of labelled edits mentioning the group"),
            y=alt.Y("group_name:N", title=None, sort="-x"), color="attribute:N",
            tooltip=["attribute", "group_name", "n_edits", "denominator", alt.Tooltip("share:Q", format=".2%")]),
        width="stretch")
    ui.denominator_note(den, "labelled edits (edit × label pairs) in scope")
    ui.table(roll, "bias_mentions")

if "attribute_shift" in kinds:
    st.subheader("Perceived-attribute shift per instruction label")
    s = _scope(data.bias_slices(m, "attribute_shift"))
    w = s.assign(wv=s["value"] * s["n_edits"]).groupby(["label", "attribute", "group_name"], as_index=False).agg(
        n_edits=("n_edits", "sum"), wv=("wv", "sum"))
    w["mean_shift"] = w["wv"] / w["n_edits"].where(w["n_edits"] > 0)
    w = w.drop(columns="wv")
    st.altair_chart(
        alt.Chart(w).mark_bar().encode(
            x=alt.X("mean_shift:Q", title="mean change of the perceived-attribute score (target − source)"),
            y=alt.Y("label:N", title=None), color="group_name:N", yOffset="group_name:N",
            tooltip=["label", "attribute", "group_name", "n_edits", alt.Tooltip("mean_shift:Q", format=".3f")]),
        width="stretch")
    st.caption(f"Each bar averages over its n_edits (hover); in scope: {ui.num(w['n_edits'].sum())} edits "
               "mentioning a person.")
    ui.table(w, "bias_shift")

if "filter_impact" in kinds:
    st.subheader("Filter impact: which groups does the quality filter remove?")
    f = _scope(data.bias_slices(m, "filter_impact"))
    fi = f.groupby(["attribute", "group_name"], as_index=False).agg(n_kept=("n_edits", "sum"),
                                                                   denominator=("denominator", "sum"))
    fi["kept_rate"] = fi["n_kept"] / fi["denominator"].where(fi["denominator"] > 0)
    st.altair_chart(
        alt.Chart(fi).mark_bar().encode(
            x=alt.X("kept_rate:Q", axis=alt.Axis(format=".0%"), title="share kept by the quality filter"),
            y=alt.Y("group_name:N", title=None), color="attribute:N",
            tooltip=["attribute", "group_name", "n_kept", "denominator", alt.Tooltip("kept_rate:Q", format=".1%")]),
        width="stretch")
    st.caption("Denominator per bar: edits mentioning the group before filtering (hover); a group kept much "
               "less often than others is a filter that skews the data.")
    ui.table(fi, "bias_impact")
