"""Small numerical helpers shared by results and inference (no pandas).

Every root mean square in the package (RMSPEs, the outcome scale of ``inference/_undefined.py``,
the unit of the conformal grid, SCPI's residual scale) is one of these two: computed on the data
divided by its largest magnitude, so it is finite wherever the answer is (outcomes of 1e300 would
overflow ``x @ x``) and a ratio of two RMS values does not depend on the outcome's units."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["rms", "col_rms"]


def rms(x) -> float:
    """Root mean square of ``x`` (all entries), computed on ``x / max|x|`` so that it stays finite
    wherever the answer is.  NaN if ``x`` has a NaN; inf if it has an inf; 0 for an empty ``x``."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return 0.0
    s = float(np.max(np.abs(x)))
    if s == 0.0 or not math.isfinite(s):
        return s if not math.isnan(s) else math.nan
    z = np.ravel(x) / s
    return s * math.sqrt(float(z @ z) / x.size)


def col_rms(A) -> np.ndarray:
    """Root mean square of each column of the 2-d array ``A`` (over axis 0), overflow-safe as
    :func:`rms`: ``col_rms(A)[j] == rms(A[:, j])``.  Zeros for an ``A`` without rows."""
    A = np.asarray(A, dtype=float)
    if A.ndim != 2:
        raise ValueError(f"col_rms: A must be 2-d, got shape {A.shape}")
    if A.shape[0] == 0:
        return np.zeros(A.shape[1])
    s = np.max(np.abs(A), axis=0)
    ok = (s > 0) & np.isfinite(s)
    Z = A / np.where(ok, s, 1.0)
    out = np.where(ok, s, 1.0) * np.sqrt(np.mean(Z * Z, axis=0))
    # a zero column has RMS 0, an inf column inf, a NaN column NaN (as rms)
    return np.where(ok, out, s)
