"""Queries of the Instruction types page: label distribution, co-occurrence, quality per label, examples."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from editlens.dashboards.data.columns import example_columns, score_columns
from editlens.dashboards.data.connection import Marts, in_list, select_list
from editlens.dashboards.data.lookup import rows_by_id
from editlens.dashboards.data.overview import datasets


def label_origins(m: Marts) -> list[str]:
    if m.has("instruction_type_stats"):
        return m.df("select distinct origin from instruction_type_stats order by 1")["origin"].tolist()
    m.require("edit_labels")
    return m.df("select distinct origin from edit_labels order by 1")["origin"].tolist()


def _label_filters(origin: str | None, datasets_: Sequence[str], params: list) -> list[str]:
    """SQL conditions (with their parameters appended to ``params``) for one label origin and some datasets."""
    conds = []
    if origin:
        conds.append("origin = ?")
        params.append(origin)
    if datasets_:
        conds.append(in_list("dataset", datasets_, params))
    return conds


def label_distribution(m: Marts, datasets_: Sequence[str] = (), origin: str | None = None) -> pd.DataFrame:
    """Edits per label and dataset (one origin). The denominator is the dataset's edits that carry a label of
    that origin (a dataset provides labels for some edits only: its unlabelled edits are not "other")."""
    params: list = []
    conds = _label_filters(origin, datasets_, params)
    where = ("where " + " and ".join(conds)) if conds else ""
    if m.has("instruction_type_stats"):
        labelled = "n_labelled_edits" in m.columns("instruction_type_stats")
        n = "n_labelled_edits" if labelled else "n_edits_in_part"
        sql = f"""
            with d as (select dataset, origin, sum(n) as denominator from
                       (select distinct dataset, part, origin, {n} as n from instruction_type_stats) group by all)
            select s.dataset, s.label, sum(s.n_edits)::bigint as n_edits, any_value(d.denominator)::bigint as denominator,
                   sum(s.n_edits) / any_value(d.denominator) as share
            from instruction_type_stats s join d using (dataset, origin) {where.replace("origin", "s.origin").replace("dataset", "s.dataset")}
            group by all order by n_edits desc, label"""
    else:
        m.require("edits", "edit_labels")
        sql = f"""
            with l as (select e.dataset, l.edit_id, l.label, l.origin from edit_labels l join edits e using (edit_id)),
            d as (select dataset, origin, count(distinct edit_id) as denominator from l group by all)
            select l.dataset, l.label, count(*) as n_edits, any_value(d.denominator) as denominator,
                   count(*) / any_value(d.denominator) as share
            from l join d using (dataset, origin) {where.replace("origin", "l.origin").replace("dataset", "l.dataset")}
            group by all order by n_edits desc, label"""
    return m.df(sql, params)


def label_cooccurrence(m: Marts, origin: str | None = None, datasets_: Sequence[str] = ()) -> pd.DataFrame:
    """Unordered pairs of labels given to the same edit, with counts, most frequent first."""
    params: list = []
    conds = ["label_a < label_b", *_label_filters(origin, datasets_, params)]
    if m.has("label_cooccurrence"):
        return m.df(
            f"""select label_a, label_b, sum(n_edits)::bigint as n_edits from label_cooccurrence
                        where {" and ".join(conds)} group by all order by n_edits desc, label_a, label_b""",
            params,
        )
    m.require("edits", "edit_labels")
    return m.df(
        f"""with p as (select e.dataset, a.origin, a.label as label_a, b.label as label_b
                               from edit_labels a join edit_labels b
                               on a.edit_id = b.edit_id and a.origin = b.origin and a.label <> b.label
                               join edits e on e.edit_id = a.edit_id)
                    select label_a, label_b, count(*) as n_edits from p where {" and ".join(conds)}
                    group by all order by n_edits desc, label_a, label_b""",
        params,
    )


def label_quality(m: Marts, origin: str | None = None, datasets_: Sequence[str] = ()) -> pd.DataFrame:
    """Per label: edits and score medians (per dataset and part, where the stats mart has them)."""
    params: list = []
    conds = _label_filters(origin, datasets_, params)
    where = ("where " + " and ".join(conds)) if conds else ""
    if m.has("instruction_type_stats"):
        cols = m.columns("instruction_type_stats")
        keep = [
            c
            for c in (
                "dataset",
                "part",
                "label",
                "n_edits",
                "n_edits_in_part",
                "share_of_part",
                "n_scored",
                "clip_i_median",
                "directional_median",
                "clip_t_median",
            )
            if c in cols
        ]
        return m.df(
            f"select {', '.join(keep)} from instruction_type_stats {where} order by label, dataset, part",
            params,
        )
    m.require("edits", "edit_labels")
    meds = "".join(f', median(e."{c}") as "{c}_median"' for c in score_columns(m)[:3])
    return m.df(
        f"""select e.dataset, l.label, count(*) as n_edits{meds}
                    from edit_labels l join edits e using (edit_id) {where.replace("dataset", "e.dataset")}
                    group by all order by l.label, e.dataset""",
        params,
    )


def labels(m: Marts) -> list[str]:
    if m.has("instruction_type_stats"):
        return m.df("select distinct label from instruction_type_stats order by 1")["label"].tolist()
    if not m.has("edit_labels"):
        return []
    return m.df("select distinct label from edit_labels order by 1")["label"].tolist()


def label_examples(
    m: Marts, label: str, origin: str | None = None, datasets_: Sequence[str] = (), limit: int = 6, offset: int = 0
) -> pd.DataFrame:
    m.require("edits", "edit_labels")
    params: list = [label]
    lfilter = ""
    if origin:
        lfilter = " and origin = ?"
        params.append(origin)
    cols = example_columns(m, ("source_image_id", "target_image_id", *score_columns(m)[:2]))
    every = not datasets_ or set(datasets_) >= set(datasets(m))
    if every:  # the first few labelled edits, in mart order: a LIMIT that stops reading early
        ids = m.df(
            f"select edit_id from edit_labels where label = ?{lfilter} limit {int(limit)} offset {int(offset)}", params
        )[
            "edit_id"
        ].tolist()
        return rows_by_id(m, ids, cols)
    dfilter = "and " + in_list("e.dataset", datasets_, params)
    return m.df(
        f"""select {select_list(cols)} from edits e
            where e.edit_id in (select edit_id from edit_labels where label = ?{lfilter}) {dfilter}
            limit {int(limit)} offset {int(offset)}""",
        params,
    )
