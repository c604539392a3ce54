"""Safety: how often are edits flagged per category, what do they look like, which edits introduced it?"""

import altair as alt
import streamlit as st

from dashboards import data, ui

m = data.marts()
st.title("Safety")
st.caption(
    "Zero-shot and lexicon-based, so *perceived*: an image counts as flagged when a safety concept's score "
    "passes its threshold (seeds/concept_thresholds.csv). Thumbnails stay blurred until you reveal them."
)
ui.guard(m, "safety_slices")

rates = data.safety_rates(m)
tot = data.parts(m)["n_edits"].sum() if m.has("edits") else rates.groupby("dataset")["n_edits"].max().sum()
c = st.columns(4)
c[0].metric("Edits", ui.num(tot))
if m.has("safety_flagged_edits"):
    sc = data.safety_counts(m)
    c[1].metric("Edits flagged", ui.num(sc["n_flagged"]))
    c[2].metric("Unsafe content introduced by the edit", ui.num(sc["n_introduced"]))
    c[3].metric("Watermark removal requests", ui.num(sc["n_watermark"]))

st.subheader("Rates per category")
RATES = {  # label: (numerator, denominator, rate)
    "flagged target image": ("n_target_image_flagged", "n_edits_with_images", "target_image_flagged_rate"),
    "unsafe term in the instruction": ("n_instruction_flagged", "n_edits", "instruction_flagged_rate"),
    "introduced by the edit": ("n_introduced_by_edit", "n_edits_with_images", "introduced_rate"),
}
RATES = {k: v for k, v in RATES.items() if v[0] in rates.columns and v[2] in rates.columns}
which = st.radio("Rate", list(RATES), horizontal=True, key="safety_rate") if RATES else None
num_col, den_col, rate_col = RATES[which] if which else ("n_edits", "n_edits", "n_edits")
if rates.empty:
    st.info("Nothing flagged.")
else:
    rates["label"] = [
        f"{100 * (r or 0):.2f}% ({u:,}/{n:,})"
        for r, u, n in zip(rates[rate_col].fillna(0), rates[num_col], rates[den_col])
    ]
    base = alt.Chart(rates).encode(
        x=alt.X("dataset:N", title=None, axis=alt.Axis(labelAngle=0)), y=alt.Y("category:N", title=None)
    )
    heat = base.mark_rect().encode(
        color=alt.Color(
            f"{rate_col}:Q",
            title="flagged / denominator",
            scale=alt.Scale(scheme="orangered"),
            legend=alt.Legend(format=".2%"),
        ),
        tooltip=[
            "dataset",
            "category",
            num_col,
            alt.Tooltip(f"{den_col}:Q", title="denominator"),
            alt.Tooltip(f"{rate_col}:Q", format=".3%"),
        ],
    )
    st.altair_chart(
        heat + base.mark_text(fontSize=12).encode(text="label:N"),
        width="stretch",
        height=60 + 40 * max(1, rates["category"].nunique()),
    )
    st.caption(f"Cells: {num_col.replace('_', ' ')} / {den_col.replace('_', ' ')} per dataset and category.")
    fmt = {c: "{:.3%}" for c in rates.columns if c.endswith("_rate")}
    ui.table(rates.drop(columns="label"), "safety_rates", fmt)

st.subheader("Gallery of flagged edits")
if m.has("safety_flagged_edits") and m.has("edits"):
    cats = data.safety_categories(m)
    cc = st.columns([2, 3])
    cat = cc[0].selectbox("Category", ["all categories"] + cats, key="safety_category")
    introduced = cc[1].toggle("Only edits that introduced unsafe content", key="safety_introduced")
    g = data.safety_gallery(m, None if cat == "all categories" else cat, introduced_only=introduced, limit=8)
    if g.empty:
        st.info("No flagged edits in this selection.")
    refs = ui.image_refs_for(m, g)
    for row in g.to_dict("records"):
        with st.container(border=True):
            reveal = st.toggle(f"Reveal `{row['edit_id']}`", key=f"reveal_{row['edit_id']}")
            ui.edit_card(m, row, blur=not reveal, refs=refs)
            reasons = row.get("reasons")
            if reasons is not None and len(reasons):
                st.caption("Why: " + "; ".join(str(r) for r in reasons))
else:
    st.warning(f"The gallery needs the `safety_flagged_edits` and `edits` marts. {data.BUILD_HINT}")
