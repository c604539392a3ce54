"""Queries of the Multi-turn page: the session summary, session lists and counts, one session's turns."""

from __future__ import annotations

import pandas as pd

from editlens.dashboards.data.columns import example_columns, score_columns
from editlens.dashboards.data.connection import Marts, select_list
from editlens.dashboards.data.lookup import rows_by_id
from editlens.dashboards.data.speedups import row_index


def session_summary(m: Marts) -> pd.DataFrame:
    """Every multi-turn session: dataset, part, turns, chain breaks, its edit ids in turn order (one scan)."""
    m.require("edits")
    brk = "0"
    join = ""
    if m.has("edit_quality_flags") and "is_chain_break" in m.columns("edit_quality_flags"):
        brk = "(f.edit_id is not null)::int"
        join = "left join (select edit_id from edit_quality_flags where is_chain_break) f using (edit_id)"
    return m.df(
        f"""select e.session_id, any_value(e.dataset) as dataset, any_value(e.part) as part,
                   count(*) as n_turns, sum({brk})::bigint as n_chain_breaks
            from edits e {join} where e.session_id is not null group by e.session_id
            order by n_chain_breaks desc, e.session_id"""
    )


def sessions(
    m: Marts, only_breaks: bool = False, dataset: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """Multi-turn sessions with their turn count and chain breaks (those with breaks first)."""
    df = session_summary(m)
    if only_breaks:
        df = df[df["n_chain_breaks"] > 0]
    if dataset:
        df = df[df["dataset"] == dataset]
    return df.head(int(limit)).reset_index(drop=True)


def session_counts(m: Marts) -> dict[str, int]:
    df = session_summary(m)
    return {"n_sessions": len(df), "n_with_breaks": int((df["n_chain_breaks"] > 0).sum())}


def session_turns(m: Marts, session_id: str) -> pd.DataFrame:
    m.require("edits")
    extra = ["source_image_id", "target_image_id", *score_columns(m)]
    cols = example_columns(m, extra)
    brk = ""
    join = ""
    reason = ""
    fcols = m.columns("edit_quality_flags")
    if "is_chain_break" in fcols:
        brk = ", coalesce(f.is_chain_break, false) as is_chain_break"
        reason = ", chain_break_reason" if "chain_break_reason" in fcols else ""
        if reason:
            brk += ", f.chain_break_reason"
        join = f"left join (select edit_id, is_chain_break{reason} from edit_quality_flags where is_chain_break) f using (edit_id)"
    if row_index(m, build=False) is not None:  # the session's edit ids are known: fetch them by row number
        hit = m.df("select edit_id from edits where session_id = ? order by turn_index", [session_id])
        if len(hit):
            ids = hit["edit_id"].tolist()
            rows = rows_by_id(m, ids, cols)
            if "is_chain_break" in fcols:  # the chain breaks are few: one cached list, merged here
                fl = m.df(
                    f"select edit_id, is_chain_break{reason} from edit_quality_flags where is_chain_break"
                )
                rows = rows.merge(fl[fl["edit_id"].isin(ids)], on="edit_id", how="left")
                rows["is_chain_break"] = rows["is_chain_break"].fillna(False).astype(bool)
            return rows.sort_values("turn_index", ignore_index=True)
    return m.df(
        f"select {select_list(cols)}{brk} from edits e {join} where e.session_id = ? order by e.turn_index",
        [session_id],
    )
