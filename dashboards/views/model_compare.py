"""How do these models compare? Editing models' protocol scores side by side per instruction label, with
bootstrap 95% intervals, their paired differences, and the edits where two models differ most."""

import altair as alt
import streamlit as st

from editlens.contract.locations import ImageLocation
from editlens.dashboards import data, ui
from editlens.dashboards.images import thumbnail_png

m = data.marts()
st.title("How do these models compare?")
ui.guard(m, *data.COMPARE_MARTS)

opts = data.compare_options(m)
if opts.empty:
    st.info("No editing model outputs in this warehouse. Register them with `editlens predictions MODEL_NAME DIR "
            "--benchmark B`, then `editlens embed` and `editlens build`.")
    st.stop()

c = st.columns(4)
pairs = [f"{r.benchmark} / {r.setting}" for r in opts.itertuples()]
choice = c[0].selectbox("Benchmark / setting", pairs, key="mc_bench")
row = opts.iloc[pairs.index(choice)]
benchmark, setting = row["benchmark"], row["setting"]
metrics = [x for x in list(row["metrics"] if row["metrics"] is not None else []) if x in data.METRIC_NAMES]
if not metrics:
    st.info("No output of this benchmark has been scored yet: run `editlens embed`, then `editlens build`.")
    st.stop()
metric = c[1].selectbox("Metric", metrics, format_func=lambda x: data.METRIC_NAMES[x], key="mc_metric",
                        index=metrics.index("clip_i") if "clip_i" in metrics else 0)
origins = [o for o in ("all", "derived", "provided") if o in list(row["origins"])]
shown_origins = c[2].multiselect("Labels", origins, default=origins, key="mc_origins")
models = list(row["models"])
chosen = c[3].multiselect("Editing models", models, default=models, key="mc_models")

st.subheader("Coverage")
cov = data.coverage(m, benchmark, setting)
st.caption("Benchmark edits in this setting" + (" (the final turn of each session)" if setting == "iter" else "")
           + ": every edit is an output or missing; unreadable outputs have no scores.")
ui.table(cov, "mc_coverage")

scores = data.label_scores(m, benchmark, setting, metric, tuple(shown_origins), tuple(chosen))
better = "higher" if bool(scores["higher_is_better"].dropna().all()) else "lower"
st.subheader(f"{data.METRIC_NAMES[metric]} per label ({better} is better)")
if scores.empty:
    st.info("No scores for this choice.")
else:
    scores["label_shown"] = scores["label_origin"].where(scores["label_origin"] == "all", scores["label_origin"]
                                                         + ": " + scores["label"])
    base = alt.Chart(scores).encode(y=alt.Y("label_shown:N", title=None, sort=None),
                                    yOffset="editing_model:N", color=alt.Color("editing_model:N", title="model"))
    chart = base.mark_rule().encode(x=alt.X("ci_low:Q", title=f"{data.METRIC_NAMES[metric]} (95% interval)",
                                            scale=alt.Scale(zero=False)), x2="ci_high:Q") + \
        base.mark_point(filled=True).encode(x="mean_value:Q", tooltip=["editing_model", "label", "n_values",
                                                                       "mean_value", "ci_low", "ci_high"])
    st.altair_chart(chart.properties(height=max(120, 28 * len(scores))), width="stretch")
    wide = scores.pivot_table(index=["label_origin", "label"], columns="editing_model",
                              values=["mean_value", "ci_low", "ci_high", "n_values"], aggfunc="first")
    wide.columns = [f"{model} {what}" for what, model in wide.columns]
    wide = wide[[f"{mo} {w}" for mo in chosen for w in ("n_values", "mean_value", "ci_low", "ci_high")
                 if f"{mo} {w}" in wide.columns]].reset_index()
    ui.table(wide, "mc_scores", {c: "{:.4f}" for c in wide.columns if c.endswith(("mean_value", "ci_low",
                                                                                   "ci_high"))})

if len(chosen) < 2:
    st.info("Choose two editing models to see their differences.")
    st.stop()
c = st.columns(2)
model_a = c[0].selectbox("Model A", chosen, index=0, key="mc_a")
model_b = c[1].selectbox("Model B", [x for x in chosen if x != model_a], index=0, key="mc_b")
diff = data.pair_differences(m, benchmark, setting, metric, model_a, model_b, tuple(shown_origins))
st.subheader(f"{model_a} - {model_b}, per label")
st.caption("Mean of the per-edit difference over the edits both models have a score for, with a paired "
           "bootstrap 95% interval; the better model is named only when the interval excludes zero.")
ui.table(diff, "mc_diff", {"mean_a": "{:.4f}", "mean_b": "{:.4f}", "mean_diff": "{:+.4f}", "ci_low": "{:+.4f}",
                           "ci_high": "{:+.4f}"})

st.subheader("Where they differ most")
labels = ["all"] + [x for x in diff["label"].tolist() if x != "all"] if not diff.empty else ["all"]
label = st.selectbox("Label", list(dict.fromkeys(labels)), key="mc_label")
ex = data.largest_differences(m, benchmark, setting, metric, model_a, model_b, label)
if ex.empty:
    st.info("No edit has a score from both models.")
refs = ui.image_refs_for(m, ex) if not ex.empty else {}
with st.container(key="mc_gallery"):
    for r in ex.to_dict("records"):
        cols = st.columns([1, 1, 1, 1, 2])
        src, tgt = ui.thumbs(m, [r["source_image_id"], r["target_image_id"]], size=192, refs=refs)
        cols[0].image(src, caption="source", width="stretch")
        cols[1].image(tgt, caption="target" if r["target_image_id"] else "no target", width="stretch")
        for box, prefix, name, value in ((cols[2], "a", model_a, r["value_a"]), (cols[3], "b", model_b, r["value_b"])):
            loc = ImageLocation.from_row(data.output_location(r, prefix))
            box.image(thumbnail_png(loc, size=192), caption=f"{name}: {ui.score(value)}", width="stretch")
        cols[4].markdown(f"**{r['instruction']}**")
        cols[4].caption(f"`{r['edit_id']}` · key {r['benchmark_key']} · turn {r['turn_index']} · "
                        f"difference {r['diff']:+.4f}")
st.caption(f"Scores: {', '.join(sorted(set(cov['embedding_model'].dropna())) or ['n/a'])} embeddings; "
           "protocols: " + ", ".join(sorted(set(cov["protocol"].dropna())) or ["n/a"]) + ".")
