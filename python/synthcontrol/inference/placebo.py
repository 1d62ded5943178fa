"""In-space placebo test (Abadie, Diamond & Hainmueller 2010).

Every donor in turn is treated as if it had been treated, fitted on the other
donors, and its gap recorded.  All placebo fits share one Gram matrix.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from ..results import Inference
from ..solvers.simplex import placebo_fits

__all__ = ["placebo_test", "placebo_gaps"]

_STATISTICS = ("rmspe_ratio", "mean_gap")


def placebo_gaps(res, donor_pool="donors"):
    """Gap paths of the treated unit and every placebo.

    Returns a (T, J+1) DataFrame: the first column is the treated series'
    gap, then one column per donor (its placebo gap), plus the max KKT violation
    over the placebo fits.
    """
    if donor_pool not in ("donors", "all"):
        raise SpecificationError(f"donor_pool must be 'donors' or 'all', got {donor_pool!r}")
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
    for i, D, fit in fits:
        gaps[:, i] = Z[:, i] - Z[:, D] @ fit.weights
        kkt = max(kkt, fit.kkt_violation)
    treated_col = "__treated__"
    frame = pd.DataFrame(gaps, index=p.times, columns=[treated_col] + list(p.donors))
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
    fits = Parallel(n_jobs=n_jobs)(delayed(est.refit_units)(p, [u], pool, res.fit_mask) for u, pool in jobs)
    Y = np.asarray(p.Y)
    gaps = np.empty((len(p.times), len(donors) + 1))
    gaps[:, 0] = res.gap.to_numpy()
    worst = 0.0
    for k, ((u, pool), (w, bgap)) in enumerate(zip(jobs, fits), start=1):
        gaps[:, k] = Y[:, p.units.get_loc(u)] - Y[:, p.units.get_indexer(pool)] @ w
        worst = max(worst, bgap) if np.isfinite(bgap) else np.nan
    frame = pd.DataFrame(gaps, index=p.times, columns=["__treated__"] + donors)
    return frame, worst


def placebo_test(res, statistic="rmspe_ratio", exclude_mspe_ratio=None, donor_pool="donors") -> Inference:
    """See :meth:`synthcontrol.results.SCResult.placebo`."""
    if statistic not in _STATISTICS:
        raise SpecificationError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    if exclude_mspe_ratio is not None and not exclude_mspe_ratio > 0:
        raise SpecificationError(f"exclude_mspe_ratio must be positive, got {exclude_mspe_ratio!r}")
    frame, kkt = placebo_gaps(res, donor_pool)
    post = res.panel.post
    G = frame.to_numpy()
    pre_mspe = np.mean(G[~post] ** 2, axis=0)
    post_mspe = np.mean(G[post] ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(post_mspe) / np.sqrt(pre_mspe)
    att = G[post].mean(axis=0)
    keep = np.ones(G.shape[1], dtype=bool)
    if exclude_mspe_ratio is not None:
        keep[1:] = pre_mspe[1:] <= exclude_mspe_ratio * pre_mspe[0]
    table = pd.DataFrame({
        "unit": [res.panel.treated_label] + list(frame.columns[1:]),
        "treated": [True] + [False] * (G.shape[1] - 1),
        "att": att,
        "pre_rmspe": np.sqrt(pre_mspe),
        "post_rmspe": np.sqrt(post_mspe),
        "rmspe_ratio": ratio,
        "included": keep,
    })
    placebo_att = att[1:][keep[1:]]
    n_placebo = int(keep[1:].sum())
    details = {
        "statistic": statistic,
        "donor_pool": donor_pool,
        "n_placebos": n_placebo,
        "n_excluded": int((~keep[1:]).sum()),
        "observed_att": float(att[0]),
        "observed_rmspe_ratio": float(ratio[0]),
        "placebo_att_mean": float(placebo_att.mean()) if n_placebo else np.nan,
        "placebo_att_sd": float(placebo_att.std()) if n_placebo else np.nan,
        "placebo_att_min": float(placebo_att.min()) if n_placebo else np.nan,
        "placebo_att_max": float(placebo_att.max()) if n_placebo else np.nan,
        ("max_bound_gap" if res.V is not None else "max_kkt_violation"): kkt,
        "table": table,
        "gaps": frame.loc[:, keep].rename(columns={"__treated__": res.panel.treated_label}),
    }
    if statistic == "rmspe_ratio":
        r = ratio[keep]
        rank = int(np.sum(r >= ratio[0]))
        details["rank"] = rank
        details["n_units"] = int(keep.sum())
        p_value = rank / int(keep.sum())
    else:
        count = int(np.sum(np.abs(placebo_att) >= abs(att[0])))
        details["n_as_extreme"] = count
        p_value = (count + 1) / (n_placebo + 1)
    inf = Inference(method=f"placebo ({statistic})", p_value=float(p_value), details=details)
    res._cache["placebo_last"] = inf
    return inf
