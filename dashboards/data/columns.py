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
# the flags whose rule reads a score: not computed (rather than false) on a warehouse without scores
SCORE_FLAGS = ("is_misaligned", "is_full_regeneration")
FLAG_COUNT_COLUMN = "n_quality_flags"
# edits columns shown in example tables, when present
EXAMPLE_COLUMNS = ("edit_id", "dataset", "part", "split", "session_id", "turn_index", "instruction")
# the InstructPix2Pix filter's three scores, as `edits.passes_ip2p_filter` defines them: name -> (label, the
# columns coalesced in order (caption-based where the dataset has captions), the threshold that sets it). The
# Quality sliders move these, so at the seeded values they count exactly the edits the marts call passing.
FILTER_SCORES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "clip_i": ("CLIP-I (source vs target image)", ("clip_i",), "ip2p_clip_i"),
    "directional": (
        "Directional (caption-based, else instruction)",
        ("directional_caption", "directional_instruction"),
        "ip2p_directional",
    ),
    "clip_t": (
        "CLIP-T (target vs caption, else instruction)",
        ("clip_t_target_caption", "clip_t_instruction"),
        "ip2p_clip_t",
    ),
}
# the Quality page's sliders: filter score -> the threshold (thresholds_in_force.name) that sets its default
DEFAULT_THRESHOLDS = {k: v[2] for k, v in FILTER_SCORES.items()}


# --- column roles ------------------------------------------------------------------------------------------------


def score_columns(m: Marts) -> list[str]:
    cols = set(m.columns("edits"))
    return [c for c in SCORES if c in cols]


def score_label(col: str) -> str:
    if col in FILTER_SCORES:
        return FILTER_SCORES[col][0]
    return SCORES.get(col, (col.replace("_", " "), True))[0]


def filter_score_columns(m: Marts) -> list[str]:
    """The InstructPix2Pix filter scores this warehouse can compute (one of its columns present)."""
    present = set(score_columns(m))
    return [k for k, (_, cols, _) in FILTER_SCORES.items() if present & set(cols)]


def score_sql(m: Marts, name: str, alias: str = "") -> str:
    """SQL of one score: a column of `edits`, or a filter score (its columns coalesced, as the marts do)."""
    pre = f"{alias}." if alias else ""
    if name in FILTER_SCORES:
        present = set(score_columns(m))
        cols = [c for c in FILTER_SCORES[name][1] if c in present]
        if not cols:
            raise ValueError(f"no column of score {name}")
        if len(cols) == 1:
            return f'{pre}"{cols[0]}"'
        return "coalesce(" + ", ".join(f'{pre}"{c}"' for c in cols) + ")"
    if name not in score_columns(m):
        raise ValueError(f"unknown score column {name}")
    return f'{pre}"{name}"'


def higher_is_better(name: str) -> bool:
    return True if name in FILTER_SCORES else SCORES.get(name, ("", True))[1]


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
    present = set(filter_score_columns(m))
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
