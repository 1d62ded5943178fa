"""Small numerical helpers shared by results and inference (no pandas)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["rms"]


def rms(x) -> float:
    """Root mean square, computed on ``x / max|x|`` so that it stays finite wherever the answer is
    (outcomes of 1e300 would overflow ``x @ x``).  NaN if ``x`` has a NaN; 0 for an empty ``x``."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return 0.0
    s = float(np.max(np.abs(x)))
    if s == 0.0 or not math.isfinite(s):
        return s if not math.isnan(s) else math.nan
    z = x / s
    return s * math.sqrt(float(z @ z) / x.size)
