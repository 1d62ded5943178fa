"""Leave-one-out donor sensitivity: drop each active donor, refit, report the ATT."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["leave_one_out"]


def leave_one_out(res, threshold=1e-3) -> pd.DataFrame:
    """One row per donor with weight > ``threshold``, sorted by that weight.

    Columns: ``dropped`` (donor label), ``weight`` (its weight in the full fit),
    ``att`` (the ATT without it), ``change`` (``att`` minus the full ATT),
    ``pre_rmse`` (of the refit).  ``DataFrame.attrs`` hold the full ATT.
    """
    from ..errors import SpecificationError
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
            or not 0 <= threshold < 1:
        raise SpecificationError(f"threshold must be a number in [0, 1), got {threshold!r}")
    p = res.panel
    w = res.weights.to_numpy()
    post = p.post
    y = np.asarray(p.y_treated)
    rows = []
    for j in np.flatnonzero(w > threshold):
        keep = np.ones(len(w), dtype=bool)
        keep[j] = False
        X = p.X_donors[:, keep]
        if res.V is not None:  # covariate fit: the same V search without donor j
            wj, _ = res.estimator.refit_units(p, list(p.treated_units), list(p.donors[keep]), res.fit_mask)
        else:
            wj, _ = res.refit(X=X)
        gap = y - X @ wj
        rows.append({"dropped": p.donors[j], "weight": float(w[j]), "att": float(gap[post].mean()),
                     "pre_rmse": float(np.sqrt(np.mean(gap[~post] ** 2)))})
    out = pd.DataFrame(rows, columns=["dropped", "weight", "att", "pre_rmse"])
    out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(3, "change", out["att"] - res.att)
    out.attrs["att"] = res.att
    out.attrs["threshold"] = threshold
    res._cache["loo"] = out
    return out
