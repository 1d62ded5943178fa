"""Conformal inference for synthetic control (Chernozhukov, Wuthrich & Zhu 2021), as augsynth does it.

For a null effect path ``h0`` on some post periods, subtract ``h0`` from the treated unit there,
refit the *same* estimator on the pre-period plus those periods (the ridge penalty is kept at the
value chosen on the original fit, as augsynth does), and compare the statistic of the residuals on
those periods, ``S(u) = (sum |u_t|^q / sqrt(L))^(1/q)``, with its values under permutations of the
residuals:

* ``kind="iid"``: all permutations.  For one period (the per-period intervals) the p-value is
  exact: the share of residuals at least as large in absolute value as the tested period's
  (augsynth estimates this same number from 1000 random draws).  For the joint null over the whole
  post-period it is estimated from ``n_perm`` seeded random permutations; its Monte Carlo standard
  error is reported.
* ``kind="block"``: the ``T`` cyclic shifts (moving blocks), exact and deterministic.

Per-period intervals invert the one-period test on augsynth's grid: ``grid_size`` values from
``effect_t - 2 sd`` to ``effect_t + 2 sd`` (``sd`` the root mean square of the post-period effects),
plus 0; the interval runs from the smallest to the largest accepted value.  ``refine=True`` then
bisects between each end and its rejected grid neighbour, so the bounds are no longer limited by
the grid's resolution.  The ATT interval collects the constant effects ``tau`` not rejected by the
average-effect test (statistic ``|sum of post residuals| / sqrt(T1)``, same permutations),
bisected at both ends.  (Inverting the whole-path statistic instead would mislead: a refit on all
periods absorbs much of a constant shift, augsynth reports no ATT interval for this reason.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from ..results import Inference
from ..solvers.simplex import simplex_ls

__all__ = ["conformal_inference"]


def _stat(u, q):
    return (np.sum(np.abs(u) ** q, axis=-1) / np.sqrt(u.shape[-1])) ** (1.0 / q)


def _refitter(res):
    """A function (Yd (T', J), yt (T',)) -> counterfactual (T',), the estimator of ``res`` refitted
    on all T' periods as pre-periods."""
    d = res.diagnostics
    if res.V is not None:
        raise SpecificationError("conformal inference is available for outcome-only and ridge-augmented "
                                 "fits; this fit weights predictors (V), whose refits are not defined here")
    if d.get("augment") == "ridge":
        from ..solvers.ridge import fit_ridge_ascm
        est = res.estimator
        Zd = zt = None
        if est is not None and est.covariates:
            Zd, zt = est._unit_covariates(res.panel)
        lam = float(d["ridge_lambda"])

        def refit(Yd, yt):
            return fit_ridge_ascm(Yd, yt, len(yt), Z_donors=Zd, z_treated=zt, residualize=d["residualize"],
                                  fixedeff=d["fixedeff"], lam=lam).counterfactual
        return refit

    def refit(Yd, yt):
        return Yd @ simplex_ls(Yd, yt).weights
    return refit


def _pvalue(refit, Yd, yt, h0, L, kind, q, perms):
    """p-value of the null ``h0`` (scalar or length-L) on the last ``L`` of the rows given."""
    t0 = len(yt) - L
    ya = yt.copy()
    ya[t0:] = ya[t0:] - h0
    r = ya - refit(Yd, ya)
    s0 = _stat(r[t0:], q)
    tol = 1e-12 * max(1.0, abs(s0))
    if L == 1:  # exact for both kinds: the tested residual's rank among all of them
        return float(np.mean(np.abs(r) ** q >= np.abs(r[-1]) ** q - tol))
    if kind == "block":
        n = len(r)
        idx = (np.arange(n)[:, None] + np.arange(t0, n)[None, :]) % n
        return float(np.mean(_stat(r[idx], q) >= s0 - tol))
    return float(np.mean(_stat(r[perms], q) >= s0 - tol))


def _pvalue_mean(refit, Y, y, tau, T0, kind, perms):
    """p-value of a constant effect ``tau`` on every post period, with the signed statistic
    ``|sum of post residuals| / sqrt(T1)`` (a test of the average effect)."""
    ya = y.copy()
    ya[T0:] = ya[T0:] - tau
    r = ya - refit(Y, ya)
    n = len(r)
    s0 = abs(float(r[T0:].sum()))
    tol = 1e-12 * max(1.0, s0)
    if kind == "block":
        idx = (np.arange(n)[:, None] + np.arange(T0, n)[None, :]) % n
    else:
        idx = perms
    return float(np.mean(np.abs(r[idx].sum(axis=1)) >= s0 - tol))


def _invert(pfun, grid, alpha, refine, iters=30):
    """Smallest and largest accepted values on ``grid`` (augsynth), optionally bisected further."""
    ps = np.array([pfun(g) for g in grid])
    ok = ps >= alpha
    if not ok.any():
        return np.nan, np.nan
    lo, hi = float(grid[ok].min()), float(grid[ok].max())
    if refine:
        order = np.argsort(grid)  # the grid includes 0, appended: work on the sorted values
        g, okk = grid[order], ok[order]
        lo_j, hi_j = int(np.flatnonzero(okk).min()), int(np.flatnonzero(okk).max())
        if lo_j > 0:
            a, b = float(g[lo_j - 1]), float(g[lo_j])  # rejected, accepted
            for _ in range(iters):
                m = 0.5 * (a + b)
                a, b = (a, m) if pfun(m) >= alpha else (m, b)
            lo = b
        if hi_j < len(g) - 1:
            a, b = float(g[hi_j]), float(g[hi_j + 1])  # accepted, rejected
            for _ in range(iters):
                m = 0.5 * (a + b)
                a, b = (m, b) if pfun(m) >= alpha else (a, m)
            hi = a
    return lo, hi


def conformal_inference(res, alpha=0.1, kind="iid", q=1, grid_size=50, grid=None, n_perm=10000,
                        seed=0, refine=False) -> Inference:
    """See :meth:`synthcontrol.results.SCResult.conformal`."""
    if kind not in ("iid", "block"):
        raise SpecificationError(f"kind must be 'iid' or 'block', got {kind!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise SpecificationError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (isinstance(q, (int, float)) and q > 0):
        raise SpecificationError(f"q must be a positive number, got {q!r}")
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise SpecificationError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    if isinstance(n_perm, bool) or not isinstance(n_perm, (int, np.integer)) or n_perm < 100:
        raise SpecificationError(f"n_perm must be an integer >= 100, got {n_perm!r}")
    p = res.panel
    post = p.post
    if not post.any():
        raise SpecificationError("conformal inference needs post-treatment periods")
    T0 = p.T0
    Y = np.asarray(p.X_donors, dtype=float)
    y = np.asarray(p.y_treated, dtype=float)
    T = len(y)
    L = T - T0
    refit = _refitter(res)
    effects = y - np.asarray(res.cf)
    post_eff = effects[T0:]
    sd = float(np.sqrt(np.mean(post_eff ** 2)))
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((int(n_perm), T)), axis=1)[:, T0:] if kind == "iid" else None

    lower = np.full(L, np.nan)
    upper = np.full(L, np.nan)
    pvals = np.full(L, np.nan)
    for j in range(L):
        Yd = np.vstack((Y[:T0], Y[T0 + j]))
        yt = np.concatenate((y[:T0], [y[T0 + j]]))

        def pfun(h, Yd=Yd, yt=yt):
            return _pvalue(refit, Yd, yt, h, 1, kind, q, None)

        g = np.asarray(grid, dtype=float) if grid is not None else np.linspace(
            post_eff[j] - 2 * sd, post_eff[j] + 2 * sd, grid_size)
        g = np.concatenate((g, [0.0]))
        pvals[j] = pfun(0.0)
        lower[j], upper[j] = _invert(pfun, g, alpha, refine)

    def joint(h):
        return _pvalue(refit, Y, y, h, L, kind, q, perms)

    joint_p = joint(0.0)
    att = float(np.mean(post_eff))

    def att_p(tau):
        return _pvalue_mean(refit, Y, y, tau, T0, kind, perms)

    # the ATT interval: constant effects not rejected by the average-effect test, on a grid twice as
    # wide as the per-period one, bisected at both ends (the whole-path statistic above is not used:
    # a refit on all periods absorbs much of a constant shift, so inverting it would mislead)
    ga = np.concatenate((np.linspace(att - 4 * sd, att + 4 * sd, 2 * grid_size), [0.0]))
    att_lo, att_hi = _invert(att_p, ga, alpha, refine=True)
    att_edge = bool(np.isfinite(att_lo) and (att_lo <= ga[0] or att_hi >= ga[-2]))
    times = p.times[post]
    table = pd.DataFrame({"period": times, "effect": post_eff, "lower": lower, "upper": upper,
                          "p_value": pvals})
    details = {
        "kind": kind, "q": q, "grid_size": grid_size, "refine": refine,
        "joint_p_value": joint_p,
        "joint_p_mc_se": float(np.sqrt(joint_p * (1 - joint_p) / n_perm)) if kind == "iid" else 0.0,
        "n_perm": int(n_perm) if kind == "iid" else T,
        "table": table,
        "counterfactual_lower": pd.Series(y[T0:] - upper, index=times, name="counterfactual_lower"),
        "counterfactual_upper": pd.Series(y[T0:] - lower, index=times, name="counterfactual_upper"),
        "ridge_lambda": res.diagnostics.get("ridge_lambda"),
        "att_p_value": att_p(0.0),
        "att_interval_at_grid_edge": att_edge,
    }
    inf = Inference(method=f"conformal ({kind})", p_value=joint_p, ci_lower=att_lo, ci_upper=att_hi,
                    alpha=alpha, details=details)
    res._cache["conformal_last"] = inf
    return inf
