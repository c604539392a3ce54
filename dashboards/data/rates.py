"""Rates with their uncertainty: the Wilson 95% interval every rate bar of every page draws, and the small-n rule.

One helper, so a share means the same thing (numerator / denominator, with its interval) wherever it is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from editlens.export.card import Z95  # the export's data card uses the same z and formula

SMALL_N = 30  # a rate over fewer edits than this carries a warning


def wilson(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of k successes in n trials (arrays or scalars); NaN where n is 0 or missing."""
    k = np.asarray(pd.to_numeric(pd.Series(np.atleast_1d(k)), errors="coerce"), dtype=float)
    n = np.asarray(pd.to_numeric(pd.Series(np.atleast_1d(n)), errors="coerce"), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    bad = ~(n > 0) | np.isnan(k)
    lo[bad], hi[bad] = np.nan, np.nan
    return lo, hi


def with_interval(df: pd.DataFrame, num: str, den: str, prefix: str = "") -> pd.DataFrame:
    """``df`` with ``rate``, ``ci_low``, ``ci_high`` and ``small_n`` (denominator below SMALL_N) added."""
    out = df.copy()
    k = pd.to_numeric(out[num], errors="coerce").astype(float)
    n = pd.to_numeric(out[den], errors="coerce").astype(float)
    out[f"{prefix}rate"] = k / n.where(n > 0)
    lo, hi = wilson(k.to_numpy(), n.to_numpy())
    out[f"{prefix}ci_low"], out[f"{prefix}ci_high"] = lo, hi
    out[f"{prefix}small_n"] = ~(n >= SMALL_N)
    return out
