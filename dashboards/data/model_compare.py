"""Queries of the model comparison page: editing models' protocol scores per benchmark, setting and instruction
label (marts model_label_scores, model_pairwise_differences) and the edits where two models differ most
(prediction_outcomes)."""

from __future__ import annotations

import pandas as pd

from editlens.dashboards.data.connection import Marts, sql_str

COMPARE_MARTS = ("model_label_scores", "model_pairwise_differences", "prediction_outcomes")
METRIC_NAMES = {"l1": "L1", "l2": "L2", "clip_i": "CLIP-I", "clip_t": "CLIP-T",
                "directional_caption": "CLIP directional", "dino": "DINO"}


def compare_options(m: Marts) -> pd.DataFrame:
    """Every benchmark x setting with its editing models and metrics."""
    m.require("model_label_scores")
    return m.df("""
        select benchmark, setting, list(distinct editing_model order by editing_model) as models,
               list(distinct metric order by metric) filter (where metric is not null) as metrics,
               list(distinct label_origin order by label_origin) as origins
        from model_label_scores group by all order by benchmark, setting""")


def coverage(m: Marts, benchmark: str, setting: str) -> pd.DataFrame:
    """Per editing model: benchmark edits, outputs found, missing, unreadable, scored (label `all`)."""
    m.require("model_label_scores")
    return m.df(f"""
        select editing_model, any_value(n_edits) as n_edits, any_value(n_outputs) as n_outputs,
               any_value(n_missing) as n_missing, any_value(n_unreadable) as n_unreadable,
               any_value(n_not_scored) as n_not_scored, any_value(n_scored) as n_scored,
               any_value(protocol) as protocol, any_value(embedding_model) as embedding_model
        from model_label_scores
        where benchmark = {sql_str(benchmark)} and setting = {sql_str(setting)} and label_origin = 'all'
        group by editing_model order by editing_model""")


def label_scores(m: Marts, benchmark: str, setting: str, metric: str, origins: tuple[str, ...],
                 models: tuple[str, ...]) -> pd.DataFrame:
    """One row per label and editing model: n, mean and its bootstrap 95% interval."""
    m.require("model_label_scores")
    if not origins or not models:
        return pd.DataFrame(columns=["label_origin", "label", "editing_model", "n_values", "mean_value", "ci_low",
                                     "ci_high", "n_missing"])
    return m.df(f"""
        select label_origin, label, editing_model, n_values, mean_value, ci_low, ci_high, n_edits, n_missing,
               higher_is_better
        from model_label_scores
        where benchmark = {sql_str(benchmark)} and setting = {sql_str(setting)} and metric = {sql_str(metric)}
          and label_origin in ({", ".join(sql_str(o) for o in origins)})
          and editing_model in ({", ".join(sql_str(x) for x in models)})
        order by label_origin = 'all' desc, label_origin, label, editing_model""")


def pair_differences(m: Marts, benchmark: str, setting: str, metric: str, model_a: str, model_b: str,
                     origins: tuple[str, ...]) -> pd.DataFrame:
    """Per label: mean difference `model_a - model_b` over the edits both have, its interval, the better model
    (the mart orders each pair by name; this flips it to the order asked for)."""
    m.require("model_pairwise_differences")
    if model_a == model_b or not origins:
        return pd.DataFrame(columns=["label_origin", "label", "n_paired", "mean_diff", "ci_low", "ci_high",
                                     "better_model"])
    flip = model_a > model_b
    lo, hi = sorted((model_a, model_b))
    sign = "-1 *" if flip else ""
    low, high = ("-ci_high", "-ci_low") if flip else ("ci_low", "ci_high")
    return m.df(f"""
        select label_origin, label, n_paired,
               {"mean_b" if flip else "mean_a"} as mean_a, {"mean_a" if flip else "mean_b"} as mean_b,
               {sign} mean_diff as mean_diff, {low} as ci_low, {high} as ci_high, better_model
        from model_pairwise_differences
        where benchmark = {sql_str(benchmark)} and setting = {sql_str(setting)} and metric = {sql_str(metric)}
          and model_a = {sql_str(lo)} and model_b = {sql_str(hi)}
          and label_origin in ({", ".join(sql_str(o) for o in origins)})
        order by label_origin = 'all' desc, abs(mean_diff) desc""")


def largest_differences(m: Marts, benchmark: str, setting: str, metric: str, model_a: str, model_b: str,
                        label: str | None = None, limit: int = 6) -> pd.DataFrame:
    """The edits where the two models' values of `metric` differ most (both scored), with both outputs'
    locations (`a_*`, `b_*`) and the edit's source and target image ids. `label`: edits with that derived or
    provided label (from the edits mart's label lists)."""
    m.require("prediction_outcomes")
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}")
    loc = ("location_kind", "root", "path", "row_group", "row", "column")
    label_filter = ""
    if label and label != "all" and m.has("edit_labels"):
        label_filter = f"and edit_id in (select edit_id from edit_labels where label = {sql_str(label)})"
    return m.df(f"""
        with p as (
            select * from prediction_outcomes
            where benchmark = {sql_str(benchmark)} and setting = {sql_str(setting)} and outcome = 'scored'
              and {metric} is not null {label_filter}
        ),
        a as (select * from p where editing_model = {sql_str(model_a)}),
        b as (select * from p where editing_model = {sql_str(model_b)})
        select a.edit_id, a.benchmark_key, a.turn_index, a.instruction, a.source_image_id, a.target_image_id,
               a.{metric} as value_a, b.{metric} as value_b, a.{metric} - b.{metric} as diff,
               {", ".join(f'a."{c}" as "a_{c}"' for c in loc)},
               {", ".join(f'b."{c}" as "b_{c}"' for c in loc)}
        from a join b using (edit_id)
        order by abs(a.{metric} - b.{metric}) desc, a.edit_id
        limit {int(limit)}""")


def output_location(row: dict, prefix: str) -> dict:
    """An output's location columns (`a_` or `b_` of largest_differences) as an image-location row."""
    return {c: row.get(f"{prefix}_{c}") for c in ("location_kind", "root", "path", "row_group", "row", "column")}
