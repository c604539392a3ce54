"""Queries of the Bias page: group mentions, filter impact, perceived-attribute shifts."""

from __future__ import annotations

import pandas as pd

from editlens.dashboards.data.connection import Marts


def bias_datasets(m: Marts) -> list[str]:
    m.require("bias_slices")
    return m.df("select distinct dataset from bias_slices order by 1")["dataset"].tolist()


def _slice(condition: str, dataset: str | None, label: str | None = None) -> tuple[str, list]:
    """The where clause (`label = ?` where a label is given, then `condition`, then `dataset = ?` where one is chosen)
    and its parameters."""
    where, params = [condition], []
    if label is not None:
        where.insert(0, "label = ?")
        params.append(label)
    if dataset:
        where.append("dataset = ?")
        params.append(dataset)
    return " and ".join(where), params


def group_mentions(m: Marts, dataset: str | None = None, label: str = "all") -> pd.DataFrame:
    """Per demographic group and subgroup: edits mentioning it, out of the slice's edits (the denominator)."""
    m.require("bias_slices")
    where, params = _slice("subgroup <> 'all'", dataset, label)
    return m.df(
        f"""with s as (select * from bias_slices where {where}),
            d as (select sum(n) as denominator from (select distinct dataset, n_edits_in_slice as n from s))
            select demographic_group, subgroup, sum(n_edits)::bigint as n_edits, any_value(d.denominator)::bigint as denominator,
                   sum(n_edits) / any_value(d.denominator) as mention_rate
            from s, d group by all order by demographic_group, n_edits desc""",
        params,
    )


def filter_impact(m: Marts, dataset: str | None = None, label: str = "all") -> pd.DataFrame:
    """Per group (all its subgroups together): share of its scored edits passing the quality filter, vs overall."""
    m.require("bias_slices")
    where, params = _slice("subgroup = 'all'", dataset, label)
    df = m.df(
        f"""with s as (select * from bias_slices where {where}),
            o as (select sum(p) as overall_n_passing, sum(n) as overall_n_scored from
                  (select distinct dataset, overall_n_passing as p, overall_n_scored as n from s))
            select demographic_group, sum(n_passing)::bigint as n_passing, sum(n_scored)::bigint as n_scored,
                   sum(n_passing) / nullif(sum(n_scored), 0) as filter_pass_rate,
                   any_value(o.overall_n_passing)::bigint as overall_n_passing,
                   any_value(o.overall_n_scored)::bigint as overall_n_scored
            from s, o group by all order by demographic_group""",
        params,
    )
    df["overall_filter_pass_rate"] = df["overall_n_passing"] / df["overall_n_scored"].where(
        df["overall_n_scored"] > 0
    )
    return df


def attribute_shift(m: Marts, dataset: str | None = None) -> pd.DataFrame:
    """Per instruction label and perceived-attribute concept: edits and their mean score shift (target - source)."""
    m.require("attribute_shifts")
    where, params = _slice("label <> 'all'", dataset)
    return m.df(
        f"""select label, concept_group, concept, sum(n_edits)::bigint as n_edits,
                   sum(shift_mean * n_edits) / nullif(sum(n_edits), 0) as mean_shift
            from attribute_shifts where {where} group by all order by concept_group, concept, label""",
        params,
    )


def people_change(m: Marts, dataset: str | None = None) -> pd.DataFrame:
    """Per people change (face detector): edits, out of the edits whose two images the detector scored."""
    if not m.has("people_change_slices"):
        return pd.DataFrame(columns=["people_change", "n_edits", "n_edits_faces_scored", "share"])
    where, params = _slice("label = 'all'", dataset)
    df = m.df(
        f"""with s as (select * from people_change_slices where {where}),
            d as (select sum(n) as n_edits_faces_scored from (select distinct dataset, n_edits_faces_scored as n from s))
            select people_change, sum(n_edits)::bigint as n_edits, any_value(d.n_edits_faces_scored)::bigint as n_edits_faces_scored
            from s, d group by all order by n_edits desc""",
        params,
    )
    df["share"] = df["n_edits"] / df["n_edits_faces_scored"]
    return df
