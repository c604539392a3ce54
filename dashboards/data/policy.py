"""Queries of the Policy page: a policy's effect on the exported marts, computed by the export's own evaluation
and card (`editlens.export`), so the page shows what `editlens export` would write in its data card; the
policies saved with the warehouse (`DIR/policies/<name>.yaml`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from editlens.dashboards.data.connection import Marts
from editlens.export.card import impact
from editlens.export.policy import Policy, load_policy, parse_policy, save_policy
from editlens.export.select import SCORE_ID_COLUMNS, connect_marts, evaluate
from editlens.warehouse import Warehouse


def policy_effect(m: Marts, text: str) -> dict:
    """The card's counts, removals, bias-slice impact and safety left for the policy `text` (raises PolicyError,
    an unusable-input error with a one-line message, for a policy the marts cannot apply)."""
    m.require("edits", "edit_quality_flags")
    return _cached_effect(str(m.root), m.version(), text)


@st.cache_data(show_spinner=False, max_entries=64)
def _cached_effect(root: str, version: tuple, text: str) -> dict:
    policy = parse_policy(text)
    con = connect_marts(Marts(Path(root)).marts_dir)
    try:
        return impact(con, policy, evaluate(con, policy))
    finally:
        con.close()


def policy_scores(m: Marts) -> list[str]:
    """Score columns a threshold can read (those the edits mart carries)."""
    from editlens.contract import SCHEMAS

    cols = set(m.columns("edits"))
    return [c for c in SCHEMAS["edit_scores"].names if c not in SCORE_ID_COLUMNS and c in cols]


def policy_model(m: Marts) -> tuple[str | None, str | None]:
    """(model key, model name) of the scores in the marts: the model the page's thresholds read."""
    if "score_model_key" not in m.columns("edits"):
        return None, None
    df = m.df("select distinct score_model_key, score_model_name from edits where score_model_key is not null "
              "order by 1 limit 2")
    return (df.iloc[0, 0], df.iloc[0, 1]) if len(df) == 1 else (None, None)


def policies_folder(m: Marts) -> Path:
    return Warehouse(m.root).root / "policies"


def saved_policies(m: Marts) -> list[str]:
    d = policies_folder(m)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_saved_policy(m: Marts, name: str) -> Policy:
    return load_policy(policies_folder(m) / f"{name}.yaml")


def save_page_policy(m: Marts, policy: Policy) -> Path:
    return save_policy(policy, policies_folder(m))
