"""Safety: how often are edits flagged per category, what do they look like, which edits introduced it?"""

import altair as alt
import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Safety")
st.caption(
    "Instruction terms (seeds/safety_lexicon.csv), dedicated detectors (NudeNet) and zero-shot concept scores, "
    "the latter only where a threshold is calibrated for the embedding model (seeds/concept_calibration.csv). "
    "An image is flagged when a signal in use passes its threshold; an edit introduced a category when its "
    "target is flagged and its source is not. Thumbnails stay blurred until you reveal them."
)
ui.guard(m, "safety_slices")

signals = data.safety_signals(m)
image_signals = signals[signals["signal"] != "instruction_lexicon"] if len(signals) else signals
images_in_use = bool(len(image_signals)) and bool(image_signals["is_in_use"].fillna(False).astype(bool).any())
if len(image_signals) and not images_in_use:
    clip = image_signals[image_signals["signal"] == "clip"]
    model = clip["signal_version"].dropna().iloc[0] if len(clip) and clip["signal_version"].notna().any() else None
    st.warning(
        "**Image signals: not calibrated for this model.** "
        + (f"The zero-shot safety concepts of {model} have no calibrated threshold "
           "(seeds/concept_calibration.csv), " if model else "No embedding model scored concepts, ")
        + "and no dedicated detector ran (`editlens embed --detectors all`, `pip install 'editlens[detectors]'`). "
        "The scores are kept in the warehouse; no image safety rate is shown. Instruction terms below still count."
    )

rates = data.safety_rates(m)
tot = data.parts(m)["n_edits"].sum() if m.has("edits") else rates.groupby("dataset")["n_edits"].max().sum()
c = st.columns(5)
c[0].metric("Edits", ui.num(tot))
unknown = data.safety_unknown(m)
c[4].metric(
    "Image safety unknown",
    "n/a" if unknown is None else ui.num(unknown),
    help="An image missing or broken, or not embedded: unknown, never counted as safe, and left out of every "
    "image rate's denominator.",
)
if m.has("safety_flagged_edits"):
    sc = data.safety_counts(m)
    c[1].metric("Edits flagged", ui.num(sc["n_flagged"]))
    c[2].metric(
        "Unsafe content introduced by the edit",
        "not calibrated" if sc["n_introduced"] is None else ui.num(sc["n_introduced"]),
    )
    c[3].metric("Watermark removal requests", ui.num(sc["n_watermark"]))

if len(signals):
    with st.expander("Signals in use", expanded=not images_in_use):
        view = signals.copy()
        view["status"] = [
            "in use" if u else {"not_calibrated": "not calibrated for this model", "not_run": "not run",
                                "no_scores": "no scores"}.get(r, str(r))
            for u, r in zip(view["is_in_use"].fillna(False).astype(bool), view["null_reason"])
        ]
        keep = [c for c in ("signal", "category", "status", "signal_version", "threshold", "method",
                            "calibration_data", "n_images_scored") if c in view.columns]
        ui.table(view[keep], "safety_signals")

st.subheader("Rates per category")
RATES = {  # label: (numerator, denominator, rate, needs an image signal)
    "unsafe term in the instruction": ("n_instruction_flagged", "n_edits", "instruction_flagged_rate", False),
    "flagged target image": ("n_target_image_flagged", "n_edits_image_computed", "target_image_flagged_rate", True),
    "introduced by the edit": ("n_introduced_by_edit", "n_edits_image_computed", "introduced_rate", True),
}
RATES = {k: v for k, v in RATES.items() if v[0] in rates.columns and v[2] in rates.columns}
which = st.radio("Rate", list(RATES), horizontal=True, key="safety_rate") if RATES else None
num_col, den_col, rate_col, needs_image = RATES[which] if which else ("n_edits", "n_edits", "n_edits", False)
shown = rates[rates[num_col].notna()].copy() if needs_image else rates.copy()
if rates.empty:
    st.info("Nothing flagged.")
elif shown.empty:
    st.info(
        "Not calibrated for this model: no image signal of any category is in use on this warehouse, so this "
        "rate is not shown (see *Signals in use*)."
    )
else:
    shown["label"] = [
        f"{100 * (r or 0):.2f}% ({int(u):,}/{int(n):,})"
        for r, u, n in zip(shown[rate_col].fillna(0), shown[num_col], shown[den_col].fillna(0))
    ]
    base = alt.Chart(shown).encode(
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
        height=60 + 40 * max(1, shown["category"].nunique()),
    )
    hidden = sorted(set(rates["category"]) - set(shown["category"]))
    note = f"Cells: {num_col.replace('_', ' ')} / {den_col.replace('_', ' ')} per dataset and category."
    if needs_image:
        note += " Denominator: edits whose source and target a calibrated image signal scored."
        if "n_edits_image_unknown" in rates.columns:
            note += f" Unknown (an image missing or broken, never counted as safe): {ui.num(rates.groupby('dataset')['n_edits_image_unknown'].max().sum())} edits."
    if hidden:
        note += f" Not calibrated for this model, no rate shown: {', '.join(hidden)}."
    st.caption(note)
    fmt = {c: "{:.3%}" for c in shown.columns if c.endswith("_rate")}
    ui.table(shown.drop(columns="label"), "safety_rates", fmt)

st.subheader("Gallery of flagged edits")
if m.has("safety_flagged_edits") and m.has("edits"):
    cats = data.safety_categories(m)
    cc = st.columns([2, 3])
    if ui.url_value("safety_category", "all categories", param="safety_category") not in ["all categories"] + cats:
        st.session_state["safety_category"] = "all categories"
    cat = cc[0].selectbox("Category", ["all categories"] + cats, key="safety_category")
    ui.keep("safety_category", cat, "all categories", param="safety_category")
    ui.url_value("safety_introduced", False, bool, param="introduced")
    introduced = cc[1].toggle("Only edits that introduced unsafe content", key="safety_introduced")
    ui.keep("safety_introduced", introduced, False, param="introduced")
    n_gal = data.safety_gallery_count(m, None if cat == "all categories" else cat, introduced_only=introduced)
    off = ui.pager("safety_page", n_gal, 8)
    g = data.safety_gallery(m, None if cat == "all categories" else cat, introduced_only=introduced, limit=8,
                            offset=off)
    if g.empty:
        st.info("No flagged edits in this selection.")
    else:
        ui.explorer_link("All flagged edits in the explorer ›",
                         safety=data.safety_categories(m) if cat == "all categories" else [cat])
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
