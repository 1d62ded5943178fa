"""In-space placebo test (Abadie, Diamond & Hainmueller 2010).

Every donor in turn is treated as if it had been treated, fitted on the other
donors, and its gap recorded.  All placebo fits share one Gram matrix.

A post/pre RMSPE ratio over a pre-RMSPE of at most 1e-10 x the outcome's scale is
undefined (an exact pre-fit; see :mod:`._undefined`): such placebos are left out of
the ranking with a count and a warning, and an undefined treated ratio gives
p = NaN with a warning.  A filter (``exclude_mspe_ratio``) that leaves no placebo
is an error.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._numerics import rms
from .._validate import check_choice, check_number
from ..errors import SpecificationError
from ..results import Inference
from ..solvers.simplex import placebo_fits
from ._undefined import RTOL, fit_scale, report_uncertified, rmspe_ratios, say

__all__ = ["placebo_test", "placebo_gaps"]

_STATISTICS = ("rmspe_ratio", "mean_gap")


def placebo_gaps(res, donor_pool="donors"):
    """Gap paths of the treated unit and every placebo.

    Returns a (T, J+1) DataFrame: the first column is the treated series'
    gap, then one column per donor (its placebo gap), plus the max KKT violation
    over the placebo fits.
    """
    donor_pool = check_choice("donor_pool", donor_pool, ("donors", "all"), what="'donors' or 'all'")
    key = ("placebo_gaps", donor_pool)
    if key in res._cache:
        return res._cache[key]
    p = res.panel
    if res.V is not None:
        out = _covariate_placebo_gaps(res, donor_pool)
        res._cache[key] = out
        return out
    Z = np.column_stack([p.y_treated, p.X_donors])
    Zf = np.ascontiguousarray(Z[res.fit_mask])
    allowed = np.ones(Z.shape[1], dtype=bool)
    if donor_pool == "donors":
        allowed[0] = False
    fits = placebo_fits(Zf, targets=range(1, Z.shape[1]), donor_mask=allowed)
    gaps = np.empty_like(Z)
    gaps[:, 0] = res.gap.to_numpy()
    kkt = 0.0
    n_unc = 0
    for i, D, fit in fits:
        gaps[:, i] = Z[:, i] - Z[:, D] @ fit.weights
        kkt = max(kkt, fit.kkt_violation)
        n_unc += not fit.converged
    treated_col = "__treated__"
    frame = pd.DataFrame(gaps, index=p.times, columns=[treated_col] + list(p.donors))
    # the placebo fits whose certificate did not hold (placebo_test reports it)
    frame.attrs["n_fits"] = len(fits)
    frame.attrs["n_uncertified_fits"] = int(n_unc)
    out = (frame, kkt)
    res._cache[key] = out
    return out


def _covariate_placebo_gaps(res, donor_pool):
    """Placebo gaps for a covariate (V-weighted) fit: every placebo runs its own V search with the
    estimator's settings (as Abadie, Diamond & Hainmueller 2010 do).  The returned scalar is the
    largest proven bound gap over the placebo fits (NaN for the penalized backend)."""
    from joblib import Parallel, delayed
    p = res.panel
    est = res.estimator
    if donor_pool == "all" and len(p.treated_units) > 1:
        raise SpecificationError(
            "donor_pool='all' needs a single treated unit for covariate fits (a treated group's mean "
            "has no covariate rows of its own); use donor_pool='donors'")
    donors = list(p.donors)
    jobs = []
    for i, u in enumerate(donors):
        pool = [d for d in donors if d != u] + (list(p.treated_units) if donor_pool == "all" else [])
        jobs.append((u, pool))
    n_jobs = getattr(est, "n_jobs", 1) or 1
    fits = Parallel(n_jobs=n_jobs)(delayed(est.refit_units)(p, [u], pool, res.fit_mask, return_certified=True)
                                   for u, pool in jobs)
    Y = np.asarray(p.Y)
    gaps = np.empty((len(p.times), len(donors) + 1))
    gaps[:, 0] = res.gap.to_numpy()
    worst = 0.0
    for k, ((u, pool), (w, bgap, _)) in enumerate(zip(jobs, fits), start=1):
        gaps[:, k] = Y[:, p.units.get_loc(u)] - Y[:, p.units.get_indexer(pool)] @ w
        worst = max(worst, bgap) if np.isfinite(bgap) else np.nan
    frame = pd.DataFrame(gaps, index=p.times, columns=["__treated__"] + donors)
    frame.attrs["n_fits"] = len(fits)
    frame.attrs["n_uncertified_fits"] = int(sum(not ok for _, _, ok in fits))
    return frame, worst


def placebo_test(res, statistic="rmspe_ratio", exclude_mspe_ratio=None, donor_pool="donors") -> Inference:
    """See :meth:`synthcontrol.results.SCResult.placebo`."""
    statistic = check_choice("statistic", statistic, _STATISTICS)
    exclude_mspe_ratio = check_number("exclude_mspe_ratio", exclude_mspe_ratio, low=0.0, low_open=True,
                                      allow_none=True)
    frame, kkt = placebo_gaps(res, donor_pool)
    p = res.panel
    post = np.asarray(p.post, dtype=bool)
    G = frame.to_numpy()
    # the rule for undefined statistics (see ._undefined): a ratio over a pre-RMSPE of at most
    # RTOL x the outcome's scale (treated and donor outcomes over the fitting periods) is undefined
    scale = fit_scale(p, res.fit_mask)
    pre_rmspe, post_rmspe, ratio, defined = rmspe_ratios(G, ~post, post, scale)
    with np.errstate(over="ignore"):  # inf only where the MSPE is not representable
        pre_mspe = pre_rmspe * pre_rmspe
    att = G[post].mean(axis=0)
    n_all = G.shape[1] - 1
    keep = np.ones(G.shape[1], dtype=bool)
    n_undefined = 0
    if statistic == "rmspe_ratio":  # a placebo without a defined statistic cannot be ranked
        keep[1:] = defined[1:]
        n_undefined = int((~defined[1:]).sum())
    n_filtered = 0
    if exclude_mspe_ratio is not None:
        # relative to the treated unit's pre-MSPE (at least the rounding floor, so that an exact
        # treated fit does not turn the filter into "keep exact placebos only" by accident of rounding)
        bound = exclude_mspe_ratio * max(pre_mspe[0], (RTOL * scale) ** 2)
        passes = pre_mspe[1:] <= bound
        n_filtered = int((keep[1:] & ~passes).sum())
        if keep[1:].any() and not (keep[1:] & passes).any():
            why = (" (the treated unit's pre-period fit is exact, so the filter can only keep exactly fitted "
                   "placebos)" if not defined[0] else "")
            raise SpecificationError(
                f"exclude_mspe_ratio={exclude_mspe_ratio!r} drops all {n_filtered} placebos that were left "
                f"(each has a pre-period MSPE above {exclude_mspe_ratio!r} x the treated unit's "
                f"{pre_mspe[0]:.6g}; the smallest placebo ratio is "
                f"{np.min(pre_mspe[1:][keep[1:]]) / max(pre_mspe[0], (RTOL * scale) ** 2):.6g}): the test would "
                f"have nothing to compare with. Use a larger exclude_mspe_ratio (Abadie et al. 2010 use 20, 5 "
                f"and 2) or None{why}")
        keep[1:] &= passes
    table = pd.DataFrame({
        "unit": [p.treated_label] + list(frame.columns[1:]),
        "treated": [True] + [False] * n_all,
        "att": att,
        "pre_rmspe": pre_rmspe,
        "post_rmspe": post_rmspe,
        "rmspe_ratio": ratio,
        "ratio_defined": defined,
        "included": keep,
    })
    placebo_att = att[1:][keep[1:]]
    n_placebo = int(keep[1:].sum())
    details = {
        "statistic": statistic,
        "donor_pool": donor_pool,
        "n_placebos": n_placebo,
        "n_excluded": n_all - n_placebo,
        "n_excluded_mspe_ratio": n_filtered,
        "n_undefined": n_undefined,
        "outcome_scale": scale,
        "undefined_tolerance": RTOL * scale,
        "observed_att": float(att[0]),
        "observed_rmspe_ratio": float(ratio[0]),
        "placebo_att_mean": float(placebo_att.mean()) if n_placebo else np.nan,
        "placebo_att_sd": rms(placebo_att - placebo_att.mean()) if n_placebo else np.nan,  # np.std, overflow-safe
        "placebo_att_min": float(placebo_att.min()) if n_placebo else np.nan,
        "placebo_att_max": float(placebo_att.max()) if n_placebo else np.nan,
        ("max_bound_gap" if res.V is not None else "max_kkt_violation"): kkt,
        "table": table,
        "gaps": frame.loc[:, keep].rename(columns={"__treated__": p.treated_label}),
    }
    if statistic == "rmspe_ratio":
        if n_undefined:
            say(f"placebo: {n_undefined} of {n_all} placebo units are fitted exactly before the treatment "
                f"(pre-RMSPE <= {RTOL:g} x the outcome scale {scale:.6g}), so their post/pre RMSPE ratio is "
                f"undefined; they are left out of the ranking (details['n_undefined'])", details)
        details["n_units"] = int(keep.sum())
        if not defined[0]:
            details["rank"] = None
            p_value = np.nan
            say(f"placebo: the treated unit's pre-period fit is exact (pre-RMSPE {pre_rmspe[0]:.3g} <= "
                f"{RTOL:g} x the outcome scale {scale:.6g}), so its post/pre RMSPE ratio is undefined (0/0 or "
                f"x/0) and the test cannot rank it: p = NaN. Use statistic='mean_gap', or a design with a "
                f"pre-period the donors cannot reproduce exactly", details)
        elif n_placebo == 0:
            details["rank"] = None
            p_value = np.nan
            say(f"placebo: no placebo unit has a defined post/pre RMSPE ratio ({n_undefined} undefined), so "
                f"there is nothing to rank the treated unit against: p = NaN", details)
        else:
            r = ratio[keep]
            # ties within rounding (RTOL relative) count against the treated unit
            rank = int(np.sum(r >= ratio[0] * (1.0 - RTOL)))
            details["rank"] = rank
            p_value = rank / int(keep.sum())
    else:
        count = int(np.sum(np.abs(placebo_att) >= abs(att[0]) - RTOL * scale))
        details["n_as_extreme"] = count
        p_value = (count + 1) / (n_placebo + 1)
    if "n_uncertified_fits" in frame.attrs:
        report_uncertified(frame.attrs["n_uncertified_fits"], frame.attrs["n_fits"], "placebo", details,
                           covariate=res.V is not None)
    inf = Inference(method=f"placebo ({statistic})", p_value=float(p_value), details=details)
    res._cache["placebo_last"] = inf
    return inf
