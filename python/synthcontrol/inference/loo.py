"""Leave-one-out donor sensitivity: drop each active donor, refit, report the ATT."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._numerics import rms
from .._validate import _py
from ._undefined import report_refits, report_uncertified
from .base import register

__all__ = ["leave_one_out"]


@register("leave_one_out", supports=("outcome", "predictors", "ridge"), title="Leave-one-out donors", cli_name="loo",
          aliases=("loo",))
def leave_one_out(res, threshold=1e-3) -> pd.DataFrame:
    """Drop each donor with weight > ``threshold`` in turn, refit, report the new ATT.

    One row per donor with weight > ``threshold``, sorted by that weight.

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
    model = res.model
    for j in np.flatnonzero(w > threshold):
        keep = np.ones(len(w), dtype=bool)
        keep[j] = False
        X = p.X_donors[:, keep]
        r = model.refit(0, 1 + np.flatnonzero(keep), res.fit_mask)  # the same estimator without donor j
        diags.append(r)
        labels.append(_py(p.donors[j]))
        gap = y - X @ r.weights
        rows.append({"dropped": p.donors[j], "weight": float(w[j]), "att": float(gap[post].mean()),
                     "pre_rmse": rms(gap[~post])})  # overflow-safe: finite for outcomes of 1e300
    out = pd.DataFrame(rows, columns=["dropped", "weight", "att", "pre_rmse"])
    out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(3, "change", out["att"] - res.att)
    out.attrs["att"] = res.att
    out.attrs["threshold"] = threshold
    info = {}
    if model.certificate == "simplex":  # simplex refits: their own certificates and warnings
        report_refits([r.diagnostics for r in diags], labels, "leave-one-out", info, where="attrs")
    else:  # covariate refits: their V searches' certificates
        report_uncertified(sum(not r.certified for r in diags), len(rows), "leave-one-out", info, where="attrs",
                           covariate=True)
    out.attrs.update(info)
    return out
