"""Queries of the Safety page: flagged rates per category, counts, the gallery of flagged edits."""

from __future__ import annotations

import pandas as pd

from editlens.dashboards.data.columns import example_columns
from editlens.dashboards.data.connection import Marts, in_list
from editlens.dashboards.data.lookup import rows_by_id


def safety_rates(m: Marts) -> pd.DataFrame:
    """Per dataset and category: flagged counts with their denominators. Image counts are null (never 0) where
    no calibrated image signal covers the category; `image_null_reason` says why."""
    m.require("safety_slices")
    cols = set(m.columns("safety_slices"))
    want = [
        "n_instruction_flagged",
        "n_source_image_flagged",
        "n_target_image_flagged",
        "n_introduced_by_edit",
        "n_edits_image_unknown",
    ]
    sums = "".join(f", sum({c})::bigint as {c}" for c in want if c in cols)
    img = next((c for c in ("n_edits_image_computed", "n_edits_with_images") if c in cols), "n_edits")
    reason = ", min(image_null_reason) as image_null_reason" if "image_null_reason" in cols else ""
    df = m.df(f"""select dataset, category, sum(n_edits)::bigint as n_edits, sum({img})::bigint as n_edits_image_computed{sums}{reason}
                  from safety_slices group by all order by dataset, category""")
    den = df["n_edits_image_computed"].where(df["n_edits_image_computed"] > 0)
    if "n_target_image_flagged" in df.columns:
        df["target_image_flagged_rate"] = df["n_target_image_flagged"] / den
    if "n_introduced_by_edit" in df.columns:
        df["introduced_rate"] = df["n_introduced_by_edit"] / den
    if "n_instruction_flagged" in df.columns:
        df["instruction_flagged_rate"] = df["n_instruction_flagged"] / df["n_edits"].where(df["n_edits"] > 0)
    return df


def safety_signals(m: Marts) -> pd.DataFrame:
    """Per signal and category: in use or not (and why), version, threshold, calibration."""
    if not m.has("safety_signals"):
        return pd.DataFrame(columns=["signal", "category", "signal_version", "is_in_use", "null_reason"])
    return m.df("select * from safety_signals order by signal, category")


def safety_counts(m: Marts) -> dict[str, int | None]:
    """Flagged edits, edits that introduced unsafe image content (None when no edit could be judged: no
    calibrated image signal), watermark removal requests."""
    m.require("safety_flagged_edits")
    r = m.df("""select count(*) as n_flagged, count(*) filter (where unsafe_image_introduced) as n_introduced,
                       count(*) filter (where asks_watermark_removal) as n_watermark from safety_flagged_edits""").iloc[
        0
    ]
    out: dict[str, int | None] = {k: int(r[k] or 0) for k in r.index}
    sig = safety_signals(m)
    if len(sig) and "is_in_use" in sig.columns:
        img = sig[sig["signal"] != "instruction_lexicon"]
        if not img["is_in_use"].fillna(False).astype(bool).any():
            out["n_introduced"] = None
    return out


def safety_gallery(
    m: Marts, category: str | None = None, introduced_only: bool = False, limit: int = 8, offset: int = 0
) -> pd.DataFrame:
    """Edits flagged for safety (with their image ids and reasons), most reasons first."""
    m.require("safety_flagged_edits", "edits")
    params: list = []
    conds = []
    if category:
        conds.append("list_contains(s.categories, ?)")
        params.append(category)
    if introduced_only:
        conds.append("s.unsafe_image_introduced")
    where = ("where " + " and ".join(conds)) if conds else ""
    # pick the ids first (a top-N over two small columns), then the lists of those few
    ids = m.df(
        f"""select s.edit_id from safety_flagged_edits s {where}
                   order by len(s.reasons) desc, s.edit_id limit {int(limit)} offset {int(offset)}""",
        params,
    )["edit_id"].tolist()
    if not ids:
        return pd.DataFrame(columns=["edit_id", "categories", "reasons", "unsafe_image_introduced"])
    ip: list = []
    pick = m.df(
        f"""select edit_id, categories, reasons, unsafe_image_introduced from safety_flagged_edits
                    where {in_list("edit_id", ids, ip)}""",
        ip,
    )
    pick = pick.set_index("edit_id").loc[ids].reset_index()
    rows = rows_by_id(m, ids, example_columns(m, ("source_image_id", "target_image_id")))
    return pick.merge(rows, on="edit_id", how="left")


def safety_gallery_count(m: Marts, category: str | None = None, introduced_only: bool = False) -> int:
    """How many edits the gallery pages through (same selection as safety_gallery)."""
    m.require("safety_flagged_edits")
    conds, params = [], []
    if category:
        conds.append("list_contains(categories, ?)")
        params.append(category)
    if introduced_only:
        conds.append("unsafe_image_introduced")
    where = ("where " + " and ".join(conds)) if conds else ""
    return int(m.df(f"select count(*) as n from safety_flagged_edits {where}", params)["n"].iloc[0])


def safety_categories(m: Marts) -> list[str]:
    m.require("safety_slices")
    return m.df("select distinct category from safety_slices where category is not null order by 1")[
        "category"
    ].tolist()


def safety_unknown(m: Marts) -> int | None:
    """Edits whose image safety is unknown (an image missing or broken, or not embedded): never counted as safe,
    and never in an image rate's denominator. None for marts without the count."""
    m.require("safety_slices")
    if "n_edits_image_unknown" not in m.columns("safety_slices"):
        return None
    return int(
        m.df(
            """select coalesce(sum(n), 0)::bigint as n from
               (select distinct dataset, part, n_edits_image_unknown as n from safety_slices)"""
        )["n"].iloc[0]
    )
