"""Overview: what is wrong with each dataset and part, how often, and what does it look like?"""

import streamlit as st

from editlens.dashboards import data, ui
from editlens.dashboards.images import ImageLocation, strip_png

m = data.marts()
st.title("Overview")
st.caption(
    "Findings first: per dataset and part, each defect's share of its denominator with a Wilson 95% interval, "
    "ranked, with three examples and a link to all of them in the explorer."
)
ui.guard(m, "edits")

t = data.totals(m)
computed = data.scores_computed(m)
ip2p = data.ip2p_pass(m)
flagged = data.any_flag(m)
c = st.columns(3)
c[0].metric("Edits", ui.num(t["n_edits"]))
c[1].metric("Datasets", ui.num(t["n_datasets"]))
c[2].metric("Multi-turn sessions", ui.num(t["n_sessions"]))
c = st.columns(3)  # the headline rates get room for their whole label
c[0].metric(
    "Pass the InstructPix2Pix filter",
    ui.pct(ip2p.rate) if ip2p else "not computed",
    help=f"{ui.num(ip2p.n)} of {ui.num(ip2p.denominator)} {ip2p.of}" if ip2p else data.EMBED_HINT,
)
c[1].metric(
    "Edits with any quality flag",
    ui.pct(flagged.rate) if flagged else ("not computed" if not computed else "n/a"),
    help=f"{ui.num(flagged.n)} of {ui.num(flagged.denominator)} edits" if flagged
    else (data.EMBED_HINT if not computed else f"No `edit_quality_flags` mart. {data.BUILD_HINT}"),
)
if ip2p:
    st.caption(
        f"InstructPix2Pix filter: {ui.num(ip2p.n)} of {ui.num(ip2p.denominator)} {ip2p.of} pass "
        f"({ui.num(t['n_edits'] - ip2p.denominator)} edits lack a score and are not judged)."
        + (f" Any quality flag: {ui.num(flagged.n)} of {ui.num(flagged.denominator)} edits." if flagged else "")
    )
else:
    st.warning(
        f"**Scores {data.EMBED_HINT}.** This warehouse holds ingested edits only: pass rates and the score-based "
        "defects (misaligned, no-op by score, full regeneration) are not computed, which is not the same as zero."
    )

st.subheader("Findings")
fd = data.findings(m) if m.has("dataset_scorecard") else None
if fd is None:
    st.info(f"Findings need the `dataset_scorecard` mart. {data.BUILD_HINT}")
elif fd.empty:
    st.info("No defect found in any part.")
else:
    ex = data.finding_examples(m) if m.has("edit_quality_flags") else None
    refs = ui.image_refs_for(m, ex) if ex is not None and len(ex) else {}
    ui.url_value("ov_dataset", fd["dataset"].iloc[0], param="ov_dataset")
    ds_opts = fd["dataset"].drop_duplicates().tolist()
    if st.session_state["ov_dataset"] not in ds_opts:
        st.session_state["ov_dataset"] = ds_opts[0]
    ds = st.selectbox("Dataset", ds_opts, key="ov_dataset")
    ui.keep("ov_dataset", ds, ds_opts[0], param="ov_dataset")
    ui.url_value("ov_top", 3, int, param="ov_top")
    top = st.slider("Defects shown per part", 1, len(data.DEFECTS), key="ov_top")
    ui.keep("ov_top", top, 3, param="ov_top")
    for part, g in fd[fd["dataset"] == ds].groupby("part", sort=False):
        den = int(g["denominator"].max())
        with st.container(border=True, key=f"finding_{part}"):
            st.markdown(f"#### {ds} / {part}")
            st.caption(f"{ui.num(den)} edits in this part; shares below are of each defect's own denominator.")
            for row in g.head(top).to_dict("records"):
                cc = st.columns([3, 4], gap="medium")
                with cc[0]:
                    small = " · **small n**" if row["small_n"] else ""
                    st.markdown(
                        f"**{row['label']}**: {ui.pct(row['share'])} "
                        f"({ui.num(row['n'])} of {ui.num(row['denominator'])} "
                        f"{'scored ' if row['denominator'] != den else ''}edits; "
                        f"95% CI {ui.pct(row['ci_low'])}–{ui.pct(row['ci_high'])}){small}"
                    )
                    ui.explorer_link(
                        f"All {ui.num(row['n'])} in the explorer ›", dataset=[ds], part=[part], flag=[row["defect"]]
                    )
                with cc[1]:
                    if ex is not None and len(ex):
                        e3 = ex[(ex["dataset"] == ds) & (ex["part"] == part) & (ex["defect"] == row["defect"])]
                        e3 = e3.head(3).to_dict("records")
                        if e3:
                            unsafe = refs.get(ui._UNSAFE, set())
                            locs = tuple(
                                ImageLocation.from_row(refs[r["target_image_id"]])
                                if r.get("target_image_id") in refs else None for r in e3
                            )
                            blur = tuple(r["edit_id"] in unsafe and not ui.reveal_unsafe() for r in e3)
                            st.image(strip_png(locs, 120, blur), caption="targets of three examples", width="content")
                            st.markdown(" · ".join(f"[{r['edit_id'][:8]}](./edit?edit={r['edit_id']})" for r in e3))
            if len(g) > top:
                st.caption(f"{len(g) - top} more defects in this part (raise *Defects shown per part*).")

sc = data.scorecard(m)
groups = data.scorecard_metric_columns(sc)
with st.expander("Scorecard (every count and share per dataset and part)"):
    fmt = {c: "{:.1%}" for c in groups["rates"]}
    fmt.update({c: "{:.3f}" for c in groups["medians"]})
    fmt.update({c: "{:,.0f}" for c in groups["counts"]})
    ui.table(sc, "scorecard_table", fmt)

rates = [r for r in groups["rates"] if computed or not r.startswith(("ip2p", "misaligned"))]
meds = groups["medians"] if computed else []
if rates or meds:
    st.subheader("Datasets side by side")
    metric = st.selectbox("Metric", rates + meds, index=0, key="overview_metric", format_func=ui.readable)
    den = data.scorecard_denominator(metric, sc.columns)
    plot = sc.copy()
    plot["slice"] = plot["dataset"] + " / " + plot["part"]
    if metric in rates and den:
        plot["_k"] = (plot[metric] * plot[den]).round()
        ui.rate_bars(plot, "slice", "_k", den, title=f"{ui.readable(metric)} (share of {ui.readable(den).lower()})",
                     color="dataset", key="overview_bars")
    else:
        import altair as alt

        st.altair_chart(
            alt.Chart(plot).mark_bar().encode(
                x=alt.X(f"{metric}:Q", title=ui.readable(metric), axis=alt.Axis(format=".2f", tickCount=6)),
                y=alt.Y("slice:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)),
                color=alt.Color("dataset:N", legend=alt.Legend(orient="bottom", labelLimit=300)),
                tooltip=["dataset", "part", alt.Tooltip(f"{metric}:Q", format=".3f")] + ([den] if den else []),
            ),
            width="stretch", height=140 + 30 * len(plot),
        )
    best = plot.sort_values(metric, ascending=False).iloc[0]["slice"]
    if den:
        st.caption(
            f"Denominator of each bar: its part's {den.removeprefix('n_').replace('_', ' ')} "
            f"({', '.join(f'{s} {ui.num(n)}' for s, n in zip(plot['slice'], plot[den]))}). Highest: {best}."
        )
    else:
        st.caption(f"Highest: {best}.")
