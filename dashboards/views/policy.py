"""Policy: which edits would a training set keep, and does the filter remove edits mentioning a group more often
than the rest? Build a policy, watch its counts, save it for `editlens export`."""

import altair as alt
import pandas as pd
import streamlit as st

from editlens.contract import UnusableInput
from editlens.dashboards import data, ui
from editlens.export.policy import (
    MULTI_TURN_MODES,
    OPS,
    RULES,
    UNSCORED_MODES,
    Policy,
    Threshold,
    dump_policy,
)

m = data.marts()
st.title("Policy")
ui.guard(m, "edits", "edit_quality_flags")
st.caption("Choose what a training set drops; the counts, removals and filter impact below are what "
           "`editlens export` writes in its data card. Save the policy to export with it.")

saved = data.saved_policies(m)
base = None
pick = st.selectbox("Start from", ["(new policy)"] + saved, key="policy_load")
if pick != "(new policy)":
    try:
        base = data.load_saved_policy(m, pick)
    except UnusableInput as exc:
        st.error(str(exc))
base = base or Policy(name="my-policy", drop=("noop", "broken_image", "duplicate", "misaligned"))
sfx = f"_{pick}"  # widgets start again from the loaded policy

c1, c2 = st.columns([1, 1])
name = c1.text_input("Name (file name under DIR/policies/)", base.name, key=f"policy_name{sfx}")
drop = c1.multiselect("Drop edits flagged", list(RULES), default=list(base.drop), key=f"policy_drop{sfx}",
                      format_func=lambda r: f"{r}: {RULES[r].description}")
multi_turn = c1.radio("A failing turn of a multi-turn session", MULTI_TURN_MODES,
                      index=MULTI_TURN_MODES.index(base.multi_turn), key=f"policy_mt{sfx}", horizontal=True,
                      format_func=lambda x: {"cut": "cuts the session there", "drop_session": "drops the session"}[x])
scores = data.policy_scores(m)
model_key, model_name = data.policy_model(m)
chosen = c2.multiselect("Score thresholds", scores, default=[t.score for t in base.require if t.score in scores],
                        key=f"policy_scores{sfx}", format_func=data.score_label)
given = {t.score: t for t in base.require}
require = []
for s in chosen:
    a, b = c2.columns([1, 2])
    t0 = given.get(s, Threshold(s, ">=", 0.0))
    op = a.selectbox(data.score_label(s), OPS, index=OPS.index(t0.op), key=f"policy_op_{s}{sfx}")
    v = b.number_input("value", value=float(t0.value), step=0.01, format="%.3f", key=f"policy_v_{s}{sfx}")
    require.append(Threshold(s, op, float(v)))
if chosen:
    c2.caption(f"Scores of model `{model_name}` (key `{model_key}`), the model of the marts.")
unscored = c2.radio("Edits without that score", UNSCORED_MODES, index=UNSCORED_MODES.index(base.unscored),
                    key=f"policy_unscored{sfx}", horizontal=True)
where = c2.text_input("Keep only where (SQL over the edits and edit_quality_flags columns; optional)",
                      base.where or "", key=f"policy_where{sfx}")

policy = Policy(name=name.strip() or "my-policy", drop=tuple(drop), require=tuple(require),
                model=model_key if require else None, unscored=unscored, where=where.strip() or None,
                multi_turn=multi_turn, description=base.description)
text = dump_policy(policy)
try:
    eff = data.policy_effect(m, text)
except UnusableInput as exc:
    st.error(f"This policy cannot be applied: {exc}")
    st.stop()

t = eff["totals"]
k = st.columns(4)
k[0].metric("Edits kept", ui.num(t["n_out"]))
k[1].metric("Of", ui.num(t["n_in"]))
k[2].metric("Removed", ui.num(t["n_removed"]))
k[3].metric("Kept share", ui.pct(t["n_out"] / t["n_in"] if t["n_in"] else None))

st.subheader("What each check removes")
rem = eff["removals"]
checks = pd.DataFrame(rem["checks"], columns=["check", "reads", "n_removed", "n_removed_only_by_this", "n_unknown"])
ui.table(checks, "policy_checks")
st.caption(f"Failing any check: {rem['n_failing_a_check']:,}; removed with their session: "
           f"{rem['n_removed_by_session']:,}. 'only': removed by no other check; unknown: the flag is null (kept).")

st.subheader("Filter impact per demographic group")
bias = pd.DataFrame(eff["bias_impact"])
if bias.empty:
    st.info("No edit mentions a demographic group: there is no slice to compare.")
else:
    ds = st.selectbox("Dataset", sorted(bias["dataset"].unique(), key=lambda d: (d != "all", d)), key="policy_bias_ds")
    b = bias[bias["dataset"] == ds]
    long = pd.concat([
        pd.DataFrame({"group": b["demographic_group"], "edits": "mentioning the group", "n": b["n_group"],
                      "rate": b["group_removal_rate"], "lo": b["group_ci95"].str[0], "hi": b["group_ci95"].str[1]}),
        pd.DataFrame({"group": b["demographic_group"], "edits": "all other edits", "n": b["n_rest"],
                      "rate": b["rest_removal_rate"], "lo": b["rest_ci95"].str[0], "hi": b["rest_ci95"].str[1]}),
    ])
    base_chart = alt.Chart(long).encode(
        y=alt.Y("group:N", title=None), color=alt.Color("edits:N", title=None),
        yOffset="edits:N", tooltip=["group", "edits", "n", alt.Tooltip("rate:Q", format=".1%"),
                                    alt.Tooltip("lo:Q", format=".1%"), alt.Tooltip("hi:Q", format=".1%")])
    chart = base_chart.mark_rule().encode(x=alt.X("lo:Q", title="removal rate (Wilson 95% interval)",
                                                  axis=alt.Axis(format="%")), x2="hi:Q") + \
        base_chart.mark_point(filled=True).encode(x="rate:Q")
    st.altair_chart(chart, use_container_width=True)
    ui.table(b.drop(columns=["dataset"]), "policy_bias")
    st.caption("A group's interval clear of the rest's means the policy removes its edits at a different rate.")

st.subheader("Counts per dataset and part")
ui.table(pd.DataFrame(eff["counts"]["by_part"]), "policy_parts")
st.subheader("Safety categories left")
left = pd.DataFrame(eff["safety_left"])
if left.empty:
    st.info("No safety-flagged edit in the marts.")
else:
    ui.table(left, "policy_safety")

st.subheader("Policy file")
st.code(text, language="yaml")
if st.button("Save policy", key="policy_save"):
    try:
        path = data.save_page_policy(m, policy)
        st.success(f"Saved {path}. Export with: `editlens export OUT --policy {policy.name} --format seed`")
    except UnusableInput as exc:
        st.error(str(exc))
