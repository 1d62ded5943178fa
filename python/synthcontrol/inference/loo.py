"""Leave-one-out donor sensitivity: drop each active donor, refit, report the ATT."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._numerics import rms
from .._validate import _py
from ._undefined import report_refits, report_uncertified

__all__ = ["leave_one_out"]


def leave_one_out(res, threshold=1e-3) -> pd.DataFrame:
    """One row per donor with weight > ``threshold``, sorted by that weight.

    Columns: ``dropped`` (donor label), ``weight`` (its weight in the full fit),
    ``att`` (the ATT without it), ``change`` (``att`` minus the full ATT),
    ``pre_rmse`` (of the refit).  ``DataFrame.attrs`` hold the full ATT, ``n_uncertified_fits``
    (outcome-only refits whose certificate did not hold) and, when a refit was flagged, its messages
    (``refit_warnings``) and the one warning said for them (``warnings``).
    """
    from .._validate import check_number
    threshold = check_number("threshold", threshold, low=0, high=1, high_open=True)
    p = res.panel
    w = res.weights.to_numpy()
    post = p.post
    y = np.asarray(p.y_treated)
    rows = []
    diags, labels = [], []
    n_cov_unc = 0
    for j in np.flatnonzero(w > threshold):
        keep = np.ones(len(w), dtype=bool)
        keep[j] = False
        X = p.X_donors[:, keep]
        if res.V is not None:  # covariate fit: the same V search without donor j
            wj, _, ok = res.estimator.refit_units(p, list(p.treated_units), list(p.donors[keep]), res.fit_mask,
                                                  return_certified=True)
            n_cov_unc += not ok
        else:
            wj, diag = res.refit(X=X)
            diags.append(diag)
            labels.append(_py(p.donors[j]))
        gap = y - X @ wj
        rows.append({"dropped": p.donors[j], "weight": float(w[j]), "att": float(gap[post].mean()),
                     "pre_rmse": rms(gap[~post])})  # overflow-safe: finite for outcomes of 1e300
    out = pd.DataFrame(rows, columns=["dropped", "weight", "att", "pre_rmse"])
    out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(3, "change", out["att"] - res.att)
    out.attrs["att"] = res.att
    out.attrs["threshold"] = threshold
    info = {}
    if res.V is None:  # outcome-only refits: their own certificates and warnings
        report_refits(diags, labels, "leave-one-out", info, where="attrs")
    else:  # covariate refits: their V searches' certificates
        report_uncertified(n_cov_unc, len(rows), "leave-one-out", info, where="attrs", covariate=True)
    out.attrs.update(info)
    res._cache["loo"] = out
    return out
