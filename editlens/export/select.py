"""Apply a policy to a built warehouse: one row per edit with each check's verdict, the session rule, and
whether the edit is kept. Reads the marts (`edits`, `edit_quality_flags`) and, for score thresholds of a chosen
model, `stg_editlens__edit_scores`; everything by column name. The result is the temporary table
``export_selection`` on the given connection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from editlens.export.policy import RULES, Policy, PolicyError
from editlens.warehouse import Warehouse

SCORE_ID_COLUMNS = ("edit_id", "model_key", "model_name", "pretrained", "preprocess", "null_reason")


@dataclass(frozen=True)
class Check:
    name: str  # as the card lists it: rule name, threshold text, or `where`
    column: str  # its column in export_selection (true = this check removes the edit)
    kind: str  # rule, threshold, where
    detail: str  # the flag column, the threshold, or the SQL


@dataclass(frozen=True)
class Selection:
    checks: tuple[Check, ...]
    model_key: str | None
    model_name: str | None
    n_in: int
    n_kept: int


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    try:
        return [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    except duckdb.Error:
        raise PolicyError(f"the warehouse has no `{relation}` (run `editlens build`)") from None


def policy_view_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The relation a policy's flags and `where` read: the edits mart with every edit_quality_flags column that
    the edits mart lacks."""
    e_cols = set(_columns(con, "edits"))
    f_extra = [c for c in _columns(con, "edit_quality_flags") if c not in e_cols]
    cols = ", ".join(f'f."{c}"' for c in f_extra)
    return f"(select e.*, {cols} from edits e join edit_quality_flags f using (edit_id))"


def resolve_model(con: duckdb.DuckDBPyConnection, policy: Policy) -> tuple[str | None, str | None]:
    """(model_key, model_name) the thresholds read: the policy's model (a key or a unique name), else the model
    whose scores the edits mart carries."""
    rows = con.execute(
        "select distinct model_key, model_name from stg_editlens__edit_scores order by 1").fetchall()
    if policy.model:
        hits = [r for r in rows if policy.model in (r[0], r[1])]
        if not hits:
            known = ", ".join(f"{k} ({n})" for k, n in rows) or "none: run `editlens embed`"
            raise PolicyError(f"`model: {policy.model}` has no scores in this warehouse; models: {known}")
        if len(hits) > 1:
            raise PolicyError(f"`model: {policy.model}` names several models ("
                              + ", ".join(k for k, _ in hits) + "): give the model key")
        return hits[0]
    chosen = con.execute(
        "select distinct score_model_key, score_model_name from edits where score_model_key is not null").fetchall()
    if len(chosen) == 1:
        return chosen[0]
    if policy.require:
        raise PolicyError("score thresholds need scores: the edits mart has none (run `editlens embed`)"
                          if not chosen else "the edits mart mixes models: give `model:`")
    return None, None


def evaluate(con: duckdb.DuckDBPyConnection, policy: Policy) -> Selection:
    view = policy_view_sql(con)
    view_cols = set(_columns(con, view))
    checks: list[Check] = []
    exprs: list[str] = []
    for i, rule_name in enumerate(policy.drop):
        rule = RULES[rule_name]
        if rule.column not in view_cols:
            raise PolicyError(f"rule `{rule_name}` reads `{rule.column}`, which edit_quality_flags does not have")
        col = f"r{i}_{rule_name}"
        checks.append(Check(rule_name, col, "rule", rule.column))
        exprs.append(f'coalesce(pv."{rule.column}", false) as "{col}"')
    model_key = model_name = None
    score_join = ""
    if policy.require:
        score_cols = [c for c in _columns(con, "stg_editlens__edit_scores") if c not in SCORE_ID_COLUMNS]
        for t in policy.require:
            if t.score not in score_cols:
                raise PolicyError(f"unknown score column `{t.score}` in require; known: {', '.join(score_cols)}")
        model_key, model_name = resolve_model(con, policy)
        used = sorted({t.score for t in policy.require})
        score_join = (f"left join (select edit_id, {', '.join(used)} from stg_editlens__edit_scores "
                      f"where model_key = '{model_key}') s using (edit_id)")
        unscored = "true" if policy.unscored == "drop" else "false"
        for i, t in enumerate(policy.require):
            col = f"t{i}"
            checks.append(Check(t.name, col, "threshold", t.name))
            exprs.append(f'case when s.{t.score} is null then {unscored} else not ({t.sql("s")}) end as "{col}"')
    else:
        model_key, model_name = resolve_model(con, policy)
    if policy.where:
        try:
            con.execute(f"select count(*) from {view} pv where ({policy.where}) limit 0").fetchall()
        except duckdb.Error as exc:
            msg = str(exc).splitlines()[0]
            raise PolicyError(f"`where: {policy.where}` does not run on the marts: {msg}") from None
        checks.append(Check("where", "w", "where", policy.where))
        exprs.append(f'not coalesce(({policy.where}), false) as "w"')
    fails = " or ".join(f'"{c.column}"' for c in checks) or "false"
    select_checks = (", " + ", ".join(exprs)) if exprs else ""
    con.execute(f"""
        create or replace temp table export_checks as
        select pv.edit_id, pv.dataset, pv.part, pv.split, pv.session_id, pv.turn_index{select_checks}
        from {view} pv {score_join}
    """)
    # Multi-turn: a session is kept as the prefix of turns 1..k before its first failing or missing turn (cut),
    # or whole only when no turn fails or is missing (drop_session); either way a kept session is a valid chain.
    session_keep = ("c.turn_index < coalesce(b.first_bad, 2147483647)" if policy.multi_turn == "cut"
                    else "b.first_bad is null")
    con.execute(f"""
        create or replace temp table export_selection as
        with c as (select *, ({fails}) as fails from export_checks),
        turns as (
            select session_id, turn_index, fails,
                   row_number() over (partition by session_id order by turn_index) as rn
            from c where session_id is not null
        ),
        breaks as (
            select session_id, min(case when fails or turn_index <> rn then turn_index end) as first_bad
            from turns group by session_id
        )
        select c.*,
               (c.session_id is not null and not c.fails and not ({session_keep})) as removed_by_session,
               (not c.fails and (c.session_id is null or {session_keep})) as kept
        from c left join breaks b using (session_id)
    """)
    n_in, n_kept = con.execute("select count(*), count(*) filter (where kept) from export_selection").fetchone()
    return Selection(tuple(checks), model_key, model_name, n_in, n_kept)


MART_VIEWS = ("edits", "edit_quality_flags", "safety_flagged_edits")


def connect_marts(marts_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection on the exported marts (`DIR/marts/*.parquet`) that `evaluate` can run on, for
    readers that must not open the database (the dashboard). Thresholds there read the marts' model only: its
    scores are the ones the edits mart carries."""
    from editlens.contract import SCHEMAS

    marts_dir = Path(marts_dir)
    con = duckdb.connect()
    for name in MART_VIEWS:
        src = Warehouse(marts_dir.parent).mart_source(name)
        if src is not None:
            con.execute(f"create view {name} as select * from read_parquet('{src.replace(chr(39), chr(39) * 2)}')")
    e_cols = set(_columns(con, "edits"))
    scores = [c for c in SCHEMAS["edit_scores"].names if c not in SCORE_ID_COLUMNS and c in e_cols]
    con.execute(f"""create view stg_editlens__edit_scores as
        select edit_id, score_model_key as model_key, score_model_name as model_name{"".join(", " + c for c in scores)}
        from edits where score_model_key is not null""")
    return con
