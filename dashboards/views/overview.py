"""Overview: how do the datasets and their parts compare (counts, reject rate, defect rates, score medians)?"""

import altair as alt
import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Overview")
st.caption("One scorecard row per dataset and part; pick a metric to compare them side by side.")
ui.guard(m, "edits")

t = data.totals(m)
c = st.columns(4)
c[0].metric("Edits", ui.num(t["n_edits"]))
c[1].metric("Datasets", ui.num(t["n_datasets"]))
c[2].metric("Multi-turn sessions", ui.num(t["n_sessions"]))
c[3].metric("Edits with any quality flag", ui.pct(t.get("flagged_rate")))

sc = data.scorecard(m)
groups = data.scorecard_metric_columns(sc)
st.subheader("Scorecard")
fmt = {c: "{:.1%}" for c in groups["rates"]}
fmt.update({c: "{:.3f}" for c in groups["medians"]})
fmt.update({c: "{:,.0f}" for c in groups["counts"]})
ui.table(sc, "scorecard_table", fmt)

choices = groups["rates"] + groups["medians"]
if choices:
    st.subheader("Datasets side by side")
    metric = st.selectbox(
        "Metric", choices, index=0, key="overview_metric", format_func=lambda c: c.replace("_", " ")
    )
    is_rate = metric in groups["rates"]
    den = data.scorecard_denominator(metric, sc.columns)
    plot = sc[["dataset", "part", metric] + ([den] if den else [])].copy()
    plot["slice"] = plot["dataset"] + " / " + plot["part"]
    chart = (
        alt.Chart(plot)
        .mark_bar()
        .encode(
            x=alt.X(
                f"{metric}:Q",
                title=metric.replace("_", " "),
                axis=alt.Axis(format=".1%" if is_rate else ".2f", tickCount=6),
            ),
            y=alt.Y("slice:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("dataset:N", legend=alt.Legend(orient="bottom")),
            tooltip=["dataset", "part", alt.Tooltip(f"{metric}:Q", format=".3f")] + ([den] if den else []),
        )
    )
    st.altair_chart(chart, width="stretch", height=140 + 30 * len(plot))
    best = plot.sort_values(metric, ascending=False).iloc[0]["slice"]
    if den:
        st.caption(
            f"Denominator of each bar: its part's {den.removeprefix('n_').replace('_', ' ')} "
            f"({', '.join(f'{s} {ui.num(n)}' for s, n in zip(plot['slice'], plot[den]))}). Highest: {best}."
        )
    else:
        st.caption(f"Highest: {best}.")
