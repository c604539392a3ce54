"""Queries of the Edit detail page (``?edit=ID``): one edit's every column, flags, labels, the thresholds its
scores and flags are judged by, its session and its duplicate partners."""

from __future__ import annotations

import pandas as pd

from editlens.dashboards.data.columns import score_columns
from editlens.dashboards.data.connection import Marts
from editlens.dashboards.data.lookup import rows_by_id

# which seeded thresholds (thresholds_in_force.name) each score and flag is judged by
SCORE_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "clip_i": ("ip2p_clip_i", "full_regeneration_clip_i", "noop_clip_i", "misaligned_max_clip_i"),
    "clip_t_target_caption": ("ip2p_clip_t",),
    "clip_t_instruction": ("ip2p_clip_t",),
    "directional_caption": ("ip2p_directional", "misaligned_directional_caption"),
    "directional_instruction": ("ip2p_directional",),
    "directional_instruction_core": ("misaligned_directional_instruction",),
    "pixel_changed_frac": ("noop_pixel_changed_frac",),
}
FLAG_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "passes_ip2p_filter": ("ip2p_clip_i", "ip2p_directional", "ip2p_clip_t"),
    "is_noop": ("noop_pixel_changed_frac", "noop_clip_i", "noop_max_sharpness_change"),
    "is_misaligned": ("misaligned_directional_instruction", "misaligned_directional_caption", "misaligned_max_clip_i"),
    "is_change_below_resolution": ("misaligned_max_clip_i",),
    "is_full_regeneration": ("full_regeneration_clip_i",),
    "has_near_duplicate_source": ("near_duplicate_max_hamming",),
}
FLAG_REASONS = {
    "has_broken_image": "broken_image_reason",
    "is_duplicate_pair": "duplicate_of_edit_id",
    "has_near_duplicate_source": "near_duplicate_hamming",
    "is_chain_break": "chain_break_reason",
    "has_content_overlap": "overlap_kind",
    "mentions_demographic_term": "demographic_groups",
    "mentions_unsafe_term": "unsafe_categories",
    "unsafe_image_introduced": "target_unsafe_categories",
}


def edit_record(m: Marts, edit_id: str) -> dict | None:
    """Every column of `edits` for one edit, or None when the id is unknown."""
    m.require("edits")
    df = rows_by_id(m, [edit_id], m.columns("edits"))
    return df.iloc[0].to_dict() if len(df) else None


def edit_flags(m: Marts, edit_id: str) -> dict | None:
    if not m.has("edit_quality_flags"):
        return None
    df = m.df("select * from edit_quality_flags where edit_id = ?", [edit_id])
    return df.iloc[0].to_dict() if len(df) else None


def edit_labels_of(m: Marts, edit_id: str) -> pd.DataFrame:
    if not m.has("edit_labels"):
        return pd.DataFrame(columns=["label", "origin"])
    return m.df("select * from edit_labels where edit_id = ? order by origin, label", [edit_id])


def thresholds(m: Marts) -> dict[str, tuple[float, str]]:
    """name -> (value, description) of the thresholds this build used."""
    if not m.has("thresholds_in_force"):
        return {}
    t = m.df("select * from thresholds_in_force")
    desc = t["description"] if "description" in t.columns else [""] * len(t)
    return {n: (float(v), str(d or "")) for n, v, d in zip(t["name"], t["value"], desc)}


def score_table(m: Marts, rec: dict) -> pd.DataFrame:
    """One row per score of the edit: value, model key, the thresholds that read it."""
    th = thresholds(m)
    rows = []
    for c in score_columns(m):
        v = rec.get(c)
        used = [f"{n} = {th[n][0]:g}" for n in SCORE_THRESHOLDS.get(c, ()) if n in th]
        rows.append({"score": c, "value": None if v is None or pd.isna(v) else float(v),
                     "model_key": rec.get("score_model_key"), "thresholds": "; ".join(used)})
    return pd.DataFrame(rows, columns=["score", "value", "model_key", "thresholds"])


def flag_table(m: Marts, rec: dict, flags: dict | None) -> pd.DataFrame:
    """One row per flag of the edit: raised or not (None = unknown), the reason, the thresholds behind it."""
    th = thresholds(m)
    src = dict(flags or {})
    if "passes_ip2p_filter" in rec:
        src["passes_ip2p_filter"] = rec["passes_ip2p_filter"]
    rows = []
    for f, v in src.items():
        if not (f.startswith(("is_", "has_", "mentions_", "asks_", "unsafe_", "passes_"))) or f in FLAG_REASONS.values():
            continue
        if not (isinstance(v, (bool, type(None))) or str(type(v)).endswith("bool_'>")):
            continue
        r = src.get(FLAG_REASONS.get(f, ""), None)
        if r is not None and not isinstance(r, str):
            r = ", ".join(map(str, r)) if hasattr(r, "__len__") else str(r)
        used = [f"{n} = {th[n][0]:g}" for n in FLAG_THRESHOLDS.get(f, ()) if n in th]
        rows.append({"flag": f, "value": None if v is None or pd.isna(v) else bool(v),
                     "reason": r if r not in ("", "nan", "None") else None, "thresholds": "; ".join(used)})
    df = pd.DataFrame(rows, columns=["flag", "value", "reason", "thresholds"])
    return df.sort_values(["value", "flag"], ascending=[False, True], na_position="last", ignore_index=True)


def duplicate_partners(m: Marts, rec: dict, flags: dict | None, limit: int = 12) -> pd.DataFrame:
    """Edits that duplicate this one: the same pair (exact duplicates) and near-duplicate sources (pHash)."""
    out = []
    eid = rec["edit_id"]
    if flags and m.has("edit_quality_flags") and "duplicate_of_edit_id" in m.columns("edit_quality_flags"):
        orig = flags.get("duplicate_of_edit_id") or eid
        d = m.df(
            f"""select edit_id, 'exact duplicate pair' as kind, null::int as hamming from edit_quality_flags
                where (duplicate_of_edit_id = ? or edit_id = ?) and edit_id <> ? order by edit_id limit {int(limit)}""",
            [orig, orig, eid],
        )
        out.append(d)
    sha = rec.get("source_sha256")
    if isinstance(sha, str) and m.has("near_duplicate_pairs"):
        d = m.df(
            f"""select case when sha256_a = ? then example_edit_id_b else example_edit_id_a end as edit_id,
                       'near-duplicate source' as kind, hamming::int as hamming
                from near_duplicate_pairs where sha256_a = ? or sha256_b = ? order by hamming limit {int(limit)}""",
            [sha, sha, sha],
        )
        out.append(d)
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["edit_id", "kind", "hamming"])
    df = df[df["edit_id"].notna() & (df["edit_id"] != eid)].drop_duplicates("edit_id")
    if df.empty:
        return df
    cols = [c for c in ("edit_id", "dataset", "part", "session_id", "instruction", "source_image_id",
                        "target_image_id") if c in m.columns("edits")]
    rows = rows_by_id(m, df["edit_id"].tolist(), cols)
    return df.merge(rows, on="edit_id", how="left")

