"""Column roles of the marts: which columns are scores, flags, example fields; their labels and default thresholds.

A page asks for logical things (``score columns``, ``flag columns``) and gets whatever the current marts provide, so
a column added or dropped by the dbt models is one edit here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from editlens.dashboards.data.connection import Marts

# score columns of `edits`, in display order, with a readable name and whether higher is better
SCORES: dict[str, tuple[str, bool]] = {
    "clip_i": ("CLIP-I (source vs target image)", True),
    "clip_t_target_caption": ("CLIP-T (target image vs target caption)", True),
    "clip_t_instruction": ("CLIP-T (target image vs instruction)", True),
    "directional_caption": ("Directional (caption-based)", True),
    "directional_instruction": ("Directional (instruction-only, weak)", True),
    "directional_instruction_core": ("Directional (instruction core, no framing phrases)", True),
    "pixel_l1": ("Pixel L1", False),
    "pixel_mse": ("Pixel MSE", False),
    "pixel_changed_frac": ("Changed pixel fraction", False),
    "phash_distance": ("pHash distance", False),
}
# the quality flags of edit_quality_flags (the ones counted in n_quality_flags), with the score that ranks the
# worst examples first (and whether a high value is the bad end)
QUALITY_FLAGS: dict[str, tuple[str | None, bool]] = {
    "is_noop": ("clip_i", True),
    "is_misaligned": ("directional_instruction_core", False),  # the score the flag's main rule reads
    "is_full_regeneration": ("clip_i", False),
    "has_broken_image": (None, False),
    "is_duplicate_pair": (None, False),
    "has_near_duplicate_source": (None, False),
    "is_chain_break": (None, False),
    "has_content_overlap": (None, False),
}
FLAG_COUNT_COLUMN = "n_quality_flags"
# edits columns shown in example tables, when present
EXAMPLE_COLUMNS = ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction")
# the Quality page's sliders: score column -> the threshold (thresholds_in_force.name) that sets its default
DEFAULT_THRESHOLDS = {
    "clip_i": "ip2p_clip_i",
    "directional_caption": "ip2p_directional",
    "clip_t_target_caption": "ip2p_clip_t",
}


# --- column roles ------------------------------------------------------------------------------------------------


def score_columns(m: Marts) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in SCORES if c in cols]


def score_label(col: str) -> str:
    return SCORES.get(col, (col, True))[0]


def flag_columns(m: Marts) -> list[str]:
    """The quality flags present in edit_quality_flags."""
    cols = set(m.columns("edit_quality_flags"))
    return [c for c in QUALITY_FLAGS if c in cols]


def flag_label(col: str) -> str:
    return col.removeprefix("is_").removeprefix("has_").replace("_", " ")


def example_columns(m: Marts, extra: Sequence[str] = ()) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in (*EXAMPLE_COLUMNS, *extra) if c in cols]


def default_thresholds(m: Marts) -> dict[str, float]:
    """Default values of the Quality page's sliders: the thresholds this build used (the `thresholds_in_force`
    mart), for the score columns present; empty when that mart is missing."""
    if not m.has("thresholds_in_force"):
        return {}
    t = m.df("select name, value from thresholds_in_force")
    in_force = dict(zip(t["name"], t["value"].astype(float)))
    present = set(score_columns(m))
    return {
        col: in_force[name] for col, name in DEFAULT_THRESHOLDS.items() if col in present and name in in_force
    }


# headline scores of one edit: (name, preferred column, fallback column); the caption-based score where the
# dataset has captions, else the instruction-based one
HEADLINE_SCORES = (
    ("CLIP-I", "clip_i", None),
    ("CLIP-T", "clip_t_target_caption", "clip_t_instruction"),
    ("directional", "directional_caption", "directional_instruction"),
)


def headline_scores(row: dict) -> list[tuple[str, float | None]]:
    out = []
    for name, first, second in HEADLINE_SCORES:
        v = row.get(first)
        if (v is None or pd.isna(v)) and second:
            v = row.get(second)
            name = f"{name} (instr.)" if v is not None and not pd.isna(v) else name
        if first in row or (second and second in row):
            out.append((name, None if v is None or pd.isna(v) else float(v)))
    return out


def has_flag_count(m: Marts) -> bool:
    return m.has("edit_quality_flags") and FLAG_COUNT_COLUMN in m.columns("edit_quality_flags")
