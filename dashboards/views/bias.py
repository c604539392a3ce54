"""Bias: who is mentioned in the instructions, how do edits shift perceived attributes, what do filters remove?"""

import altair as alt
import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Bias")
ui.guard(m, "bias_slices")

st.info(
    "**What these numbers can and cannot mean.** Group mentions count words of a lexicon "
    "(`seeds/demographic_lexicon.csv`) in the instructions and captions: they describe the text, not the people in "
    "the pictures. Attribute shifts come from zero-shot CLIP scores for *perceived* attributes (apparent age, "
    "skin tone, presentation), shown only for a model calibrated for them and only where a person is found: they say how one image model describes a picture, never who a person is, and they "
    "carry that model's own biases. Use them to find slices worth a human look and to compare slices scored by the "
    "same model; never to label individuals or to claim a dataset's demographics."
)

ds_opts = data.bias_datasets(m)
if ui.url_value("bias_dataset", "all datasets", param="bias_dataset") not in ["all datasets"] + ds_opts:
    st.session_state["bias_dataset"] = "all datasets"
ds = st.selectbox("Dataset", ["all datasets"] + ds_opts, key="bias_dataset")
ui.keep("bias_dataset", ds, "all datasets", param="bias_dataset")
scope = None if ds == "all datasets" else ds

st.subheader("Group mentions")
gm = data.group_mentions(m, scope)
if gm.empty:
    st.info("No demographic term is mentioned in this scope.")
else:
    den = int(gm["denominator"].iloc[0])
    gm["group"] = gm["demographic_group"].map(ui.readable) + ": " + gm["subgroup"].map(ui.readable)
    ui.rate_bars(gm, "group", "n_edits", "denominator", title=f"share of {den:,} edits mentioning it",
                 color="demographic_group", key="bias_mention_bars")
    ui.denominator_note(den, "edits in scope (every bar is n_edits out of these)")
    ui.table(gm.drop(columns="group"), "bias_mentions", {"mention_rate": "{:.3%}"})

if m.has("attribute_shifts"):
    st.subheader("Perceived-attribute shift per instruction label")
    sh = data.attribute_shift(m, scope)
    if sh.empty:
        sig = data.safety_signals(m)
        clip = sig[sig["signal"] == "clip"] if len(sig) else sig
        model = clip["signal_version"].dropna().iloc[0] if len(clip) and clip["signal_version"].notna().any() else None
        st.info(
            "**Not calibrated for this model.** "
            + (f"The perceived-attribute scores of {model} " if model else "Perceived-attribute scores ")
            + "are reported only for concepts that seeds/concept_calibration.csv lists for the model, and only "
            "on edits where a face detector (`editlens embed --detectors faces`) or a calibrated person score "
            "finds a person. No shift is shown in this scope."
        )
    else:
        groups = sorted(sh["concept_group"].unique())
        sh["concept"] = sh["concept_group"] + ": " + sh["concept"]
        st.altair_chart(
            alt.Chart(sh)
            .mark_bar()
            .encode(
                x=alt.X(
                    "mean_shift:Q", title="mean shift of the perceived-attribute score (target − source)"
                ),
                y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=260)),
                color=alt.Color("concept:N", legend=alt.Legend(orient="top")),
                yOffset="concept:N",
                tooltip=["label", "concept", "n_edits", alt.Tooltip("mean_shift:Q", format=".4f")],
            ),
            width="stretch",
            height=120 + 12 * len(sh) + 16 * sh["label"].nunique(),
        )
        st.caption(
            f"Each bar averages n_edits edits (hover); concept groups: {', '.join(groups)}. "
            f"In scope: {ui.num(sh.groupby('label')['n_edits'].max().sum())} labelled edits with scores."
        )
        ui.table(sh, "bias_shift", {"mean_shift": "{:.4f}"})
else:
    st.info(f"Attribute shifts need the `attribute_shifts` mart. {data.BUILD_HINT}")

st.subheader("Edits that add or remove people")
pc = data.people_change(m, scope)
if pc.empty:
    st.info(
        "The face detector did not run on this warehouse (`pip install 'editlens[detectors]'`, then "
        "`editlens embed --detectors faces`): no people-change count is shown."
    )
else:
    pden = int(pc["n_edits_faces_scored"].iloc[0])
    ui.rate_bars(pc.assign(change=pc["people_change"].map(ui.readable)), "change", "n_edits",
                 "n_edits_faces_scored", title=f"share of {pden:,} edits with faces counted", key="bias_people_bars")
    ui.denominator_note(pden, "edits whose source and target the face detector (OpenCV Haar, frontal faces) scored")
    ui.table(pc, "bias_people", {"share": "{:.2%}"})

st.subheader("Filter impact")
fi = data.filter_impact(m, scope)
if not fi.empty:
    overall = (
        float(fi["overall_filter_pass_rate"].iloc[0])
        if fi["overall_filter_pass_rate"].notna().any()
        else None
    )
    head = data.ip2p_pass(m, scope)  # the one definition of the pass rate (Overview, Quality show the same)
    fi = fi.assign(group=fi["demographic_group"].map(ui.readable))
    ui.rate_bars(fi, "group", "n_passing", "n_scored", title="share of the group's judged edits passing",
                 key="bias_impact_bars", reference=head.rate if head else overall)
    st.caption(
        "Bars: edits of each group passing the InstructPix2Pix filter out of its judged edits (all three filter "
        "scores present). Red line: all edits in scope, "
        + (f"{ui.pct(head.rate)} ({ui.num(head.n)} of {ui.num(head.denominator)})" if head else data.EMBED_HINT)
        + ". A group kept much less often than the line is a filter that skews the data."
    )
    ui.table(fi, "bias_impact", {"filter_pass_rate": "{:.1%}", "overall_filter_pass_rate": "{:.1%}"})
