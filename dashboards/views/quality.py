"""Quality: how are the scores distributed, how many edits pass a threshold, what do the worst ones look like?"""

import math

import altair as alt
import pandas as pd
import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Quality")
ui.guard(m, "edits")

scores = data.score_columns(m)
if not scores:
    st.warning("The `edits` mart has no score columns yet: run `editlens embed`, then `editlens build`.")
    st.stop()

computed = data.scores_computed(m)
if not computed:
    st.warning(f"**Scores {data.EMBED_HINT}.** No edit has a score yet, so there is no pass count, no score "
               "histogram and no score-based flag (misaligned, full regeneration): not zero, not computed. "
               "The flags below that need no score (broken images, duplicates, chain breaks) are counted.")
else:
    st.subheader("Thresholds")
    st.caption(
        "The InstructPix2Pix filter's three scores, as the marts define them (caption-based where the dataset has "
        "captions, else instruction-based). Move a slider: the pass counts update live. An edit passes when it meets "
        "every threshold; the pass rate is over the edits that have all three scores (judged), the same denominator "
        "as on the Overview and Bias pages."
    )
    defaults = data.default_thresholds(m)
    if not m.has("thresholds_in_force"):
        st.caption(
            f"No `thresholds_in_force` mart, so no default thresholds: the sliders start at the lowest score. {data.BUILD_HINT}"
        )
    slider_cols = data.filter_score_columns(m) or scores[:2]
    thresholds = {}
    cols = st.columns(len(slider_cols))
    for col, box in zip(slider_cols, cols):
        lo, hi = data.score_range(m, col)
        higher = data.higher_is_better(col)
        dv = defaults.get(col, lo)
        # the range always holds the seeded value: a slider never starts anywhere but at the threshold in force
        lo_s, hi_s = math.floor(min(lo, dv) * 100) / 100, math.ceil(max(hi, dv) * 100) / 100
        hi_s = hi_s if hi_s > lo_s else lo_s + 0.01
        key = f"thr_{col}"
        ui.url_value(key, float(round(dv, 4)), float, param=col)  # ?clip_i=0.8: a shareable threshold
        st.session_state[key] = min(max(float(st.session_state[key]), lo_s), hi_s)
        v = box.slider(
            f"{data.score_label(col)} {'≥' if higher else '≤'}",
            min_value=lo_s,
            max_value=hi_s,
            step=0.01,
            key=key,
        )
        ui.keep(key, float(v), float(round(dv, 4)), param=col)
        thresholds[col] = (">=" if higher else "<=", float(v))
    pc = data.pass_counts(m, thresholds)
    n_all, n_judged, n_pass = (int(pc[c].sum()) for c in ("n_edits", "n_judged", "n_pass"))
    c = st.columns(4)
    c[0].metric("Edits passing", ui.num(n_pass))
    c[1].metric("Of judged", ui.num(n_judged))
    c[2].metric("Pass rate", ui.pct(n_pass / n_judged if n_judged else None))
    c[3].metric("Not judged (a score missing)", ui.num(n_all - n_judged))
    ui.table(pc, "pass_table", {"pass_rate": "{:.1%}"})
    if n_judged:
        ui.rate_bars(pc, "dataset", "n_pass", "n_judged", title="share of judged edits passing", key="pass_bars")

    st.subheader("Score histogram")
    hist_col = st.selectbox("Score", scores, key="hist_score", format_func=data.score_label)
    h = data.score_histogram(m, hist_col)
    bars = (
        alt.Chart(h)
        .mark_bar()
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=data.score_label(hist_col)),
            x2="bin_end:Q",
            y=alt.Y("n_edits:Q", stack=True, title="edits"),
            color="dataset:N",
            tooltip=[
                "dataset",
                alt.Tooltip("bin_start:Q", format=".3f"),
                alt.Tooltip("bin_end:Q", format=".3f"),
                "n_edits",
            ],
        )
    )
    layers = [bars]
    drawn = next((k for k in thresholds if k == hist_col or hist_col in data.FILTER_SCORES.get(k, ("", ()))[1]), None)
    if drawn:
        layers.append(
            alt.Chart(pd.DataFrame({"t": [thresholds[drawn][1]]})).mark_rule(color="red").encode(x="t:Q")
        )
    st.altair_chart(alt.layer(*layers), width="stretch")
    ui.denominator_note(int(h["n_edits"].sum()), "edits with this score")

if m.has("edit_quality_flags"):
    st.subheader("Quality flags")
    fc = data.flag_counts(m)
    if not computed:  # flags read from scores would show 0 for "not computed"
        fc = fc[~fc["flag"].isin(data.SCORE_FLAGS)].reset_index(drop=True)
    fcv = fc.assign(flag_name=fc["flag"].map(data.flag_label))
    ui.rate_bars(fcv, "flag_name", "n_edits", "denominator", title="share of edits", key="flag_bars")
    unjudged = data.n_alignment_not_judged(m)
    if unjudged:
        st.caption(
            f"Not judged by the misaligned flag: {ui.num(unjudged)} edits whose change is below what the model "
            "resolves (CLIP-I at or above the `misaligned_max_clip_i` seed), so no directional score means "
            "anything for them."
        )
    ui.denominator_note(int(fc["denominator"].iloc[0]) if len(fc) else 0, "edits")
    st.subheader("Worst examples per flag")
    flags = fc["flag"].tolist()
    flag = st.selectbox("Flag", flags, key="worst_flag", format_func=data.flag_label)
    if flag:
        n_flag = int(fc.loc[fc["flag"] == flag, "n_edits"].iloc[0]) if (fc["flag"] == flag).any() else 0
        off = ui.pager("worst_page", n_flag, 6)
        ex = data.worst_examples(m, flag, limit=6, offset=off)
        rank = data.QUALITY_FLAGS[flag][0]
        how = (f"worst {off + 1}–{off + len(ex)} by {data.score_label(rank)}" if rank in scores
               else f"{off + 1}–{off + len(ex)}")
        st.caption(
            f"{ui.num(int(fc.loc[fc['flag'] == flag, 'n_edits'].iloc[0]))} edits flagged "
            f"{data.flag_label(flag)}; {how}:"
        )
        ui.explorer_link("All of them in the explorer ›", flag=[flag])
        reasons = [c for c in ex.columns if c.endswith(("_reason", "_kind")) or c == "duplicate_of_edit_id"]
        refs = ui.image_refs_for(m, ex)
        for row in ex.to_dict("records"):
            with st.container(border=True):
                ui.edit_card(m, row, show_scores=scores[:4], extra=reasons, refs=refs)
else:
    st.info(f"Quality flags need the `edit_quality_flags` mart. {data.BUILD_HINT}")
