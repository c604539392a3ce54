"""Can this flag be trusted here? A review queue per quality flag: a seeded random sample of flagged and
unflagged edits, one at a time, with verdicts right / wrong / unsure (keys y / n / u); `editlens build` turns the
verdicts into the flag's measured precision and recall per dataset, shown beside it."""

import pandas as pd
import streamlit as st

from editlens.dashboards import data, ui
from editlens.dashboards.data import review as R

m = data.marts()
st.title("Can this flag be trusted?")
ui.guard(m, "edit_quality_flags", "edits")

flags = [f for f in data.QUALITY_FLAGS if f in data.flag_columns(m)]
datasets = sorted(data.parts(m)["dataset"].unique())
c = st.columns([3, 2, 1, 1, 2])
flag = c[0].selectbox("Flag", flags, key="rv_flag", format_func=data.flag_label)
dataset = c[1].selectbox("Dataset", datasets, key="rv_dataset")
seed = int(c[2].number_input("Seed", min_value=0, value=0, step=1, key="rv_seed"))
n = int(c[3].number_input("Per queue", min_value=1, max_value=200, value=10, step=1, key="rv_n"))
c[4].text_input("Reviewer", key="reviewer", placeholder="your name (optional)")

# --- the flag's measured precision and recall (from the last build) -------------------------------------------
saved = R.saved_verdicts(m, flag)
with st.container(border=True, key="rv_precision"):
    st.markdown(f"**{data.flag_label(flag)}** on **{dataset}**: measured from reviewed samples")
    prec = R.flag_precision(m, flag) if m.has("flag_precision") else pd.DataFrame()
    row = prec[prec["dataset"] == dataset].iloc[0].to_dict() if not prec.empty and dataset in set(prec["dataset"]) else None
    k = st.columns(4)
    if row is None:
        k[0].metric("Precision", "n/a")
    else:
        def _iv(v, lo, hi, n_):
            if v is None or pd.isna(v):
                return "not measured", f"no verdicts yet (n = {n_})"
            return ui.pct(v), f"95% {ui.pct(lo)}–{ui.pct(hi)}, n = {n_}"

        pv, ph = _iv(row["precision"], row["precision_lo"], row["precision_hi"], int(row["n_reviewed_flagged"]))
        rv, rh = _iv(row["recall"], row["recall_lo"], row["recall_hi"], int(row["n_reviewed_unflagged"]))
        k[0].metric("Precision", pv, help="right verdicts among reviewed flagged edits (Wilson 95% interval)")
        k[0].caption(ph)
        k[1].metric("Recall", rv, help="estimated from both queues, weighted by how many edits the flag fires and "
                                       "does not fire on")
        k[1].caption(rh)
        k[2].metric("Flagged", f"{ui.num(row['n_flagged'])} of {ui.num(row['n_edits'])}")
        k[3].metric("Unsure", ui.num(row["n_unsure"]))
    n_mart = 0 if prec.empty else int(prec[["n_true_positive", "n_false_positive", "n_true_negative",
                                            "n_false_negative", "n_unsure"]].to_numpy().sum())
    if len(saved) != n_mart:
        st.caption(f"{ui.num(len(saved))} verdicts saved for this flag, {ui.num(n_mart)} in the marts: run "
                   "`editlens build` to update these figures.")

# --- the queue ---------------------------------------------------------------------------------------------------
queue = R.review_queue(m, flag, dataset, seed, n)
done = set(saved["edit_id"]) if not saved.empty else set()
todo = queue[~queue["edit_id"].isin(done)]
st.progress(1 - len(todo) / max(1, len(queue)),
            text=f"{len(queue) - len(todo)} of {len(queue)} reviewed ({(queue['queue'] == 'flagged').sum()} "
                 f"flagged, {(queue['queue'] == 'unflagged').sum()} unflagged, seed {seed})")
if todo.empty:
    st.success("This sample is reviewed. Pick another seed for more, or run `editlens build` for the figures.")
else:
    cur = todo.iloc[0].to_dict()
    with st.container(border=True, key="rv_card"):
        says = "**flags** this edit" if cur["flagged"] else "does **not** flag this edit"
        st.markdown(f"The flag *{data.flag_label(flag)}* {says}. Is that right?")
        ui.edit_card(m, cur, refs=ui.image_refs_for(m, todo.head(1)))
        b = st.columns([1, 1, 1, 3])

        def _verdict(v: str, row=cur):
            R.save_verdict(m, row["edit_id"], flag, bool(row["flagged"]), v, sample=row["queue"], seed=seed,
                           model_key=row.get("score_model_key"), reviewer=st.session_state.get("reviewer", ""))

        b[0].button("Right (y)", key="rv_right", shortcut="y", on_click=_verdict, args=("right",), type="primary")
        b[1].button("Wrong (n)", key="rv_wrong", shortcut="n", on_click=_verdict, args=("wrong",))
        b[2].button("Unsure (u)", key="rv_unsure", shortcut="u", on_click=_verdict, args=("unsure",))
        with b[3]:
            ui.tag_control(m, cur["edit_id"], "rv")

st.subheader("Every flag on this dataset")
if m.has("flag_precision"):
    allp = R.flag_precision(m)
    allp = allp[allp["dataset"] == dataset]
    ui.table(allp[["flag", "n_flagged", "n_edits", "n_reviewed_flagged", "precision", "precision_lo", "precision_hi",
                   "n_reviewed_unflagged", "recall", "recall_lo", "recall_hi", "n_unsure"]], "rv_all",
             {c: "{:.1%}" for c in ("precision", "precision_lo", "precision_hi", "recall", "recall_lo", "recall_hi")})
