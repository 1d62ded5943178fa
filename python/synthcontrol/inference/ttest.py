"""The debiased cross-fitting t-test for the ATT (Chernozhukov, Wuthrich & Zhu 2025).

The naive synthetic-control ATT is biased because the weights are fitted on the same pre-period
whose fit they then claim.  Cross-fitting removes that bias: split the last ``r K`` pre-periods into
``K`` consecutive blocks ``H_1..H_K`` of ``r = min(floor(T0 / K), T1)`` periods, refit the weights on
the pre-period without ``H_k`` (with the estimator's own backend), and take

    tau_k = mean over the post-period of the gap - mean over H_k of the gap,

the held-out block's gap estimating the bias that also contaminates the post-period gap.  With
``tau = mean(tau_k)`` and ``sigma = sqrt(1 + K r / T1) * sd(tau_k)``, the statistic
``sqrt(K) (tau - tau_0) / sigma`` is asymptotically Student-t with ``K - 1`` degrees of freedom
(the rescale removes the post-period average the K estimates share).  The interval is
``tau +- t_{K-1}(1 - alpha/2) sigma / sqrt(K)``.

``K="auto"`` chooses ``K`` from the persistence of the synthetic-control residuals (an AR(1) fit to
the pre-period gap): our own rule in the spirit of the paper's Section 3.2, whose exact rule we
have not found; see :func:`choose_k`.  :func:`rae` is the paper's relative asymptotic efficiency of
the ``K``-fold interval.
``oracle_weights`` replaces every fold's refit by the given weights (the paper's oracle
benchmark, or weights computed elsewhere).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .._validate import check_alpha, check_count
from ..errors import SpecificationError
from .._numerics import rms
from ._undefined import RTOL, fit_scale, report_uncertified, say
from .base import Inference, register
from .refit import UnitRefitter

__all__ = ["debiased_ttest", "choose_k", "rae"]


def ar1_coefficient(x):
    """Least-squares AR(1) coefficient of the de-meaned series ``x`` (0 when undefined)."""
    x = np.asarray(x, dtype=float)
    x = x - x.mean()
    if len(x) < 3:
        return 0.0
    den = float(x[:-1] @ x[:-1])
    return float(x[1:] @ x[:-1]) / den if den > 0 else 0.0


def rae(K, c0, alpha=0.1) -> float:
    """Relative asymptotic efficiency of the ``K``-fold t-test (Chernozhukov, Wuthrich & Zhu 2025).

    The expected length of the ``K``-fold interval, ``tau +- t_{K-1}(1 - alpha/2) sigma / sqrt(K)``,
    compared with the interval the same test would give with infinitely many folds; 1 is no loss.
    With ``c0 = T0 / T1`` (pre-periods over post-periods) and ``c4(K) = sqrt(2 / (K - 1))
    Gamma(K / 2) / Gamma((K - 1) / 2)`` (``E[sd] / sigma`` of ``K`` normal draws)::

        E_len(K)   = 2 t_{K-1} sqrt(1 + min(c0, K)) sqrt(g / (K (K - 1))) sqrt(2) Gamma(K/2) / Gamma((K-1)/2)
                     g = K (c0 < 1), K / c0 (1 <= c0 <= K), 1 (c0 > K)
        E_len(inf) = 2 z sqrt(min(1 / c0, 1)) sqrt(1 + c0)
        rae        = E_len(inf) / E_len(K)

    For ``1 <= c0 <= K`` every ``c0`` term cancels: ``rae = z / (t_{K-1} c4(K))``.  ``alpha``
    defaults to 0.1, the paper's 90% intervals: ``rae(3, 30/16) = 0.6356`` and ``rae(10, 30/16)
    = 0.9225`` (the authors' ``RAE.R``); at ``alpha=0.05`` they are 0.514 and 0.891.
    """
    from .._validate import check_number
    alpha = check_alpha("alpha", alpha)
    K = check_count("K", K, 2)
    c0 = check_number("c0", c0, low=0, low_open=True)
    z = stats.norm.ppf(1 - alpha / 2)
    t = stats.t.ppf(1 - alpha / 2, K - 1)
    g = K if c0 < 1 else (K / c0 if c0 <= K else 1.0)
    c4 = math.sqrt(2.0) * math.exp(math.lgamma(K / 2) - math.lgamma((K - 1) / 2))
    length_k = 2 * t * math.sqrt(1 + min(c0, K)) * math.sqrt(g / (K * (K - 1))) * c4
    length_inf = 2 * z * math.sqrt(min(1 / c0, 1.0)) * math.sqrt(1 + c0)
    return float(length_inf / length_k)


def choose_k(residuals, T0, T1, k_max=10, min_block=6):
    """Number of folds from the persistence of the synthetic-control residuals.

    The paper (Section 3.2) trades the interval's length, which shrinks as ``K`` grows (more
    folds, a better estimate of the spread), against coverage, which suffers when the blocks are
    short relative to the errors' memory.  This rule -- ours, a heuristic in that spirit, not a
    formula from the paper -- measures the memory by the AR(1) coefficient ``phi`` of the
    pre-period gap and asks every block to be long enough that neighbouring blocks are nearly
    uncorrelated: ``phi^r <= 0.05``, and at least ``min_block`` periods.  With persistent errors
    (``phi >= 0.5``) it stays at the robust benchmark ``K = 3``; otherwise it takes the largest
    ``K <= k_max`` whose blocks ``r = min(floor(T0 / K), T1)`` meet that length, and never fewer
    than 3 (2 when the pre-period is too short for 3 blocks of 2).

    Returns ``(K, info)`` with ``info`` = ``{"phi", "min_block_length", "rule"}``.
    """
    phi = ar1_coefficient(residuals)
    aphi = min(abs(phi), 0.999)
    need = min_block if aphi < 1e-3 else max(min_block, math.ceil(math.log(0.05) / math.log(aphi)))
    floor_k = 3 if T0 >= 6 else 2
    k_max = max(floor_k, min(k_max, T0 // 2))
    if phi >= 0.5:
        K, rule = floor_k, "persistent residuals (phi >= 0.5): the robust K = 3"
    else:
        ok = [k for k in range(floor_k, k_max + 1) if min(T0 // k, T1) >= need]
        if ok:
            K, rule = max(ok), f"largest K <= {k_max} with blocks of >= {need} periods"
        else:
            K, rule = floor_k, f"no K gives blocks of >= {need} periods: the robust K = {floor_k}"
    return K, {"phi": phi, "min_block_length": need, "rule": rule, "rae": rae(K, T0 / max(T1, 1))}


def _validate(res, K, alpha, oracle_weights):
    """The checks that need the fit (``K`` and ``alpha`` are already checked values)."""
    p = res.panel
    T1 = len(p.times) - p.T0
    if T1 < 1:
        raise SpecificationError("the t-test needs post-treatment periods")
    n_fit = int(np.count_nonzero(res.fit_mask))  # the fitting periods (fit_window) hold the blocks
    if n_fit < 4:
        raise SpecificationError(
            f"the t-test needs at least 4 fitting periods (2 folds of 2), this fit has {n_fit}")
    if K != "auto":
        if K > n_fit // 2:
            raise SpecificationError(
                f"K={K} folds leave fewer than 2 fitting periods per block ({n_fit} fitting periods); "
                f"use K <= {n_fit // 2}")
    w = None
    if oracle_weights is not None:
        if not isinstance(oracle_weights, (dict, pd.Series)):
            raise SpecificationError("oracle_weights must be a dict (or Series) {donor: weight}")
        ow = pd.Series(oracle_weights, dtype=float)
        unknown = [k for k in ow.index if k not in set(p.donors)]
        if unknown:
            raise SpecificationError(f"oracle_weights name units that are not donors: "
                                     f"{', '.join(map(str, unknown[:5]))}")
        if not np.all(np.isfinite(ow.to_numpy())):
            raise SpecificationError("oracle_weights must be finite numbers")
        w = ow.reindex(p.donors).fillna(0.0).to_numpy()
    return n_fit, T1, w


def _ttest_cli(args):
    out = {"alpha": args.alpha} if args.alpha is not None else {}
    if getattr(args, "K", None) is not None:
        out["K"] = args.K
    return out


@register("ttest", title="Debiased cross-fitting t-test (Chernozhukov, Wuthrich & Zhu 2025)", cli=_ttest_cli)
def debiased_ttest(res, K=3, alpha=0.05, oracle_weights=None) -> Inference:
    """Debiased cross-fitting t-test for the ATT (Chernozhukov, Wuthrich & Zhu 2025).

        The last ``r K`` pre-periods (``r = min(floor(T0 / K), T1)``) form ``K`` blocks; for each,
        the estimator is refitted on the other pre-periods and ``tau_k`` = mean post gap - mean
        held-out gap.  ``ci_lower``/``ci_upper``: ``att +- t_{K-1}(1 - alpha/2) se``;
        ``p_value``: two-sided, for a zero ATT.  ``details``: ``att`` (the debiased ATT), ``se``,
        ``tstat``, ``df``, ``fold_estimates`` and a ``folds`` table.  ``K="auto"`` picks ``K``
        from the AR(1) persistence of the pre-period gap (``details["K_choice"]``).
        ``oracle_weights`` (``{donor: weight}``) replaces every fold's refit by those weights.
        """
    K = check_count("K", K, 2, also=("auto",))
    alpha = check_alpha("alpha", alpha)
    n_fit, T1, w_oracle = _validate(res, K, alpha, oracle_weights)
    p = res.panel
    y = np.asarray(p.y_treated, dtype=float)
    X = np.asarray(p.X_donors, dtype=float)
    fit_idx = np.flatnonzero(np.asarray(res.fit_mask, dtype=bool))
    k_info = None
    if K == "auto":
        K, k_info = choose_k(res.gap.to_numpy()[fit_idx], n_fit, T1)
    K = int(K)
    r = min(n_fit // K, T1)
    blocks = fit_idx[n_fit - r * K:]  # the last r K fitting periods
    post = np.flatnonzero(np.asarray(p.post, dtype=bool))
    folds = []
    model = res.model
    n_unc = n_fits_all = 0  # the folds' refits, and those whose certificate did not hold
    for k in range(K):
        H = blocks[k * r:(k + 1) * r]
        mask = np.array(res.fit_mask, dtype=bool)  # the estimator's fitting periods ...
        mask[H] = False  # ... without the held-out block
        dropped = []
        if w_oracle is not None:
            gap = y - X @ w_oracle
            n_fits = 0
        else:
            # the fold's model never sees the held-out outcomes (a covariate fit drops the
            # predictors that read them); a cross-validated ridge penalty is chosen again
            fold_model, dropped = model.for_held_out(p.times[H])
            refitter = UnitRefitter(res, mask=mask, model=fold_model,
                                    ridge_cv=getattr(model, "lambda_from_cv", False))
            gap = refitter.gap(0, frozenset())
            n_fits = refitter.n_fits
            n_fits_all += n_fits
            n_unc += getattr(refitter, "n_uncertified", 0)
        tau_k = float(gap[post].mean() - gap[H].mean())
        folds.append({"fold": k + 1, "held_out_start": p.times[H[0]], "held_out_end": p.times[H[-1]],
                      "n_fit_periods": int(mask.sum()), "post_gap": float(gap[post].mean()),
                      "held_out_gap": float(gap[H].mean()), "tau": tau_k, "n_fits": n_fits,
                      "predictors_dropped": ", ".join(dropped)})
    taus = np.array([f["tau"] for f in folds])
    tau = float(taus.mean())
    scale = math.sqrt(1.0 + K * r / T1)
    sigma = scale * rms(taus - tau) * math.sqrt(K / (K - 1))  # the sd (ddof=1), overflow-safe
    se = sigma / math.sqrt(K)
    df = K - 1
    q = float(stats.t.ppf(1 - alpha / 2, df))
    # the t-statistic is a ratio over se: undefined when se is zero relative to the outcome's scale
    # (identical fold estimates: a treated unit the donors reproduce exactly, a constant outcome)
    floor = RTOL * fit_scale(p, res.fit_mask)
    warn = None
    if se > floor:
        tstat = tau / se
        pval = float(2 * stats.t.sf(abs(tstat), df))
        lo, hi = tau - q * se, tau + q * se
    else:
        tstat = pval = lo = hi = math.nan
        warn = (f"t-test: the {K} fold estimates are identical (se {se:.3g} <= {RTOL:g} x the outcome scale), so "
                f"the t-statistic is undefined (0/0 or x/0): p-value and interval are NaN. The fits reproduce "
                f"the held-out periods exactly; the data cannot measure the estimate's noise this way")
    details = {
        "att": tau, "se": se, "tstat": tstat, "df": df, "K": K, "r": r, "T0": n_fit, "T1": T1,
        "rescale": scale, "naive_att": float(res.att), "oracle": w_oracle is not None,
        "fit_kind": model.kind,
        "folds": pd.DataFrame(folds),
        "fold_estimates": taus.tolist(),
    }
    if k_info is not None:
        details["K_choice"] = k_info
    if warn:
        say(warn, details)
    if w_oracle is None and model.certificate == "simplex":  # simplex refits (a V search reports its bound gap instead)
        report_uncertified(n_unc, n_fits_all, "t-test (the folds' refits)", details)
    return Inference(method=f"debiased cross-fitting t-test (K={K})", p_value=pval,
                     ci_lower=lo, ci_upper=hi, alpha=alpha, details=details)
