"""Jackknife+ prediction intervals over time (Barber, Candes, Ramdas & Tibshirani 2021), the
``inf_type = "jackknife+"`` option augsynth offers for (augmented) synthetic control.

The pre-periods play the training points: for each fitting period ``i`` the estimator is refitted
without it, giving the held-out residual ``R_i = |y_i - yhat_{-i}(i)|`` and predictions
``yhat_{-i}(t)`` for every post period ``t``.  The interval for the counterfactual ``y_t(0)`` is

    [ q_lo{ yhat_{-i}(t) - R_i },  q_hi{ yhat_{-i}(t) + R_i } ]

with ``q_lo`` the ``floor(alpha (n + 1))``-th smallest and ``q_hi`` the ``ceil((1 - alpha)(n + 1))``-th
smallest of the ``n`` values (``n`` = fitting periods).  When the periods' errors are exchangeable its
coverage is at least ``1 - 2 alpha`` in finite samples, and about ``1 - alpha`` in practice; with too few
periods for the level (``floor(alpha (n + 1)) < 1``) the interval is unbounded and reported as such.
The effect interval is the observed outcome minus the counterfactual interval.  The ATT row uses
the post-period mean of the predictions with the same residuals (one period's error scale: a
conservative choice for an average).

Refits are the estimator's own (:class:`~.refit.UnitRefitter`): exact simplex fits for the
outcome-only estimator, ridge ASCM with the fitted penalty kept (as augsynth does in its
resampling); covariate fits rerun the V search.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from ._undefined import report_uncertified, say
from .base import Inference, register
from .refit import UnitRefitter

__all__ = ["jackknife_plus"]


def _order_stat(v, k):
    """The k-th smallest (1-based) of v along axis 0; -inf/+inf outside 1..n."""
    n = v.shape[0]
    if k < 1:
        return np.full(v.shape[1:], -np.inf)
    if k > n:
        return np.full(v.shape[1:], np.inf)
    return np.partition(v, k - 1, axis=0)[k - 1]


@register("jackknife_plus", title="Jackknife+ over time (Barber et al. 2021)", aliases=("jackknife+",),
          cli_name="jackknife", cli_table="all")
def jackknife_plus(res, alpha=0.1) -> Inference:
    """Jackknife+ intervals over time (Barber et al. 2021), augsynth's ``inf_type =
        "jackknife+"``: each fitting period is left out in turn, the estimator refitted (ridge fits
        keep their penalty), and the held-out residuals widen the leave-one-out predictions of every
        post period.  ``details["table"]``: counterfactual and effect intervals per period;
        ``ci_lower``/``ci_upper``: the ATT interval.  Coverage ``>= 1 - 2 alpha`` under exchangeable
        errors (about ``1 - alpha`` in practice)."""
    from .._validate import check_alpha
    alpha = check_alpha("alpha", alpha, high=0.5)
    p = res.panel
    post = np.asarray(p.post, dtype=bool)
    if not post.any():
        raise SpecificationError("jackknife+ needs post-treatment periods")
    fit_idx = np.flatnonzero(np.asarray(res.fit_mask, dtype=bool))
    n = len(fit_idx)
    if n < 3:
        raise SpecificationError(f"jackknife+ needs at least 3 fitting periods, got {n}")
    y = np.asarray(p.y_treated, dtype=float)
    T1 = int(post.sum())
    preds = np.empty((n, T1 + 1))
    resid = np.empty(n)
    n_unc = n_fits = 0  # the refits, and those whose certificate did not hold
    for m, i in enumerate(fit_idx):
        mask = np.array(res.fit_mask, dtype=bool)
        mask[i] = False
        refitter = UnitRefitter(res, mask=mask)
        gap = refitter.gap(0, frozenset())
        n_fits += refitter.n_fits
        n_unc += getattr(refitter, "n_uncertified", 0)
        cf = y - gap
        resid[m] = abs(gap[i])
        preds[m, :T1] = cf[post]
        preds[m, T1] = cf[post].mean()
    k_lo = math.floor(alpha * (n + 1))
    k_hi = math.ceil((1 - alpha) * (n + 1))
    lo = _order_stat(preds - resid[:, None], k_lo)
    hi = _order_stat(preds + resid[:, None], k_hi)
    obs = np.concatenate([y[post], [y[post].mean()]])
    cf_hat = np.concatenate([np.asarray(res.cf)[post], [np.asarray(res.cf)[post].mean()]])
    times = p.times[post]
    table = pd.DataFrame({
        "period": list(times), "observed": obs[:T1], "counterfactual": cf_hat[:T1], "effect": (obs - cf_hat)[:T1],
        "cf_lower": lo[:T1], "cf_upper": hi[:T1],
        "effect_lower": obs[:T1] - hi[:T1], "effect_upper": obs[:T1] - lo[:T1],
    })
    details = {
        "att": float(obs[-1] - cf_hat[-1]),
        "table": table,
        "n_fitting_periods": n,
        "k_lower": k_lo, "k_upper": k_hi,
        "bounded": bool(k_lo >= 1 and k_hi <= n),
        "residuals": pd.Series(resid, index=p.times[fit_idx], name="held-out |residual|"),
        "guaranteed_coverage": 1 - 2 * alpha,
        "nominal_coverage": 1 - alpha,
    }
    if not details["bounded"]:
        say(f"jackknife+: with {n} fitting periods the level alpha={alpha!r} needs order statistics "
            f"{k_lo} and {k_hi} of {n}, outside 1..{n}: the intervals are unbounded (-inf, +inf); "
            f"alpha >= 1/{n + 1} = {1 / (n + 1):.4g} gives bounded intervals", details)
    if res.model.certificate == "simplex":  # simplex refits (a V search reports its bound gap instead)
        report_uncertified(n_unc, n_fits, "jackknife+ (the refits)", details)
    return Inference(method="jackknife+ over time (Barber et al. 2021)", p_value=None,
                     ci_lower=float(obs[-1] - hi[-1]), ci_upper=float(obs[-1] - lo[-1]), alpha=alpha,
                     details=details)
