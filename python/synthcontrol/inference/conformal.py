"""Conformal inference for synthetic control (Chernozhukov, Wuthrich & Zhu 2021), as augsynth does it.

For a null effect path ``h0`` on some post periods, subtract ``h0`` from the treated unit there,
refit the *same* estimator on the pre-period plus those periods (the ridge penalty is kept at the
value chosen on the original fit, as augsynth does), and compare the statistic of the residuals on
those periods, ``S(u) = (sum |u_t|^q / sqrt(L))^(1/q)``, with its values under permutations of the
residuals:

* ``kind="iid"``: all permutations.  For one period (the per-period intervals) the p-value is
  exact: the share of residuals at least as large in absolute value as the tested period's, itself
  included (augsynth estimates this same number from 1000 random draws).  For the joint null over
  the whole post-period it is exact when the ``C(T, L)`` sets of tested slots number at most
  ``n_perm`` (all are enumerated), and otherwise estimated from ``n_perm`` seeded random
  permutations as ``(1 + hits) / (n_perm + 1)``: the observed ordering counts, so p is never 0
  (augsynth's ``hits / ns`` can be; the two differ by less than ``1 / n_perm``).  Its Monte Carlo
  standard error is reported.
* ``kind="block"``: the ``T`` cyclic shifts (moving blocks, the shift by 0 among them), exact.

Ties -- values within 1e-10 of the scale of the refit's data (see ``._undefined``) -- count as at
least as large, so an exact refit cannot reject by rounding.  A value is rejected when
``p < alpha`` (augsynth); one period's p is at least ``1 / (T0 + 1)``, so ``alpha`` at or below that
is an error that states the bound.

Per-period intervals invert the one-period test on augsynth's grid: ``grid_size`` values from
``effect_t - 2 sd`` to ``effect_t + 2 sd`` (``sd`` the root mean square of the post-period effects),
plus 0; the interval runs from the smallest to the largest accepted value.  ``refine=True`` then
bisects between each end and its rejected grid neighbour, so the bounds are no longer limited by
the grid's resolution.  Where the accepted set reaches an end of the grid, the search continues
beyond it (doubling steps of the grid's spacing) until a rejected value closes it, then bisects;
a set that never closes is reported unbounded (``-inf``/``+inf``) with a flag and a warning.  The
ATT interval collects the constant effects ``tau`` not rejected by the
average-effect test (statistic ``|sum of post residuals| / sqrt(T1)``, same permutations),
bisected at both ends.  (Inverting the whole-path statistic instead would mislead: a refit on all
periods absorbs much of a constant shift, augsynth reports no ATT interval for this reason.)
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from .._validate import (_py, check_alpha, check_bool, check_choice, check_count, check_grid,
                         check_number, check_seed)
from ..errors import SpecificationError
from .._numerics import rms
from ._undefined import RTOL, mc_pvalue, outcome_scale, report_uncertified, say
from .base import Inference, register

__all__ = ["conformal_inference"]


def _stat(u, q):
    return (np.sum(np.abs(u) ** q, axis=-1) / np.sqrt(u.shape[-1])) ** (1.0 / q)


def _refitter(res):
    """A function (Yd (T', J), yt (T',)) -> counterfactual (T',), the estimator of ``res`` refitted
    on all T' periods as pre-periods.  Its ``stats`` dict counts the simplex fits made
    (``n_fits``) and those whose certificate did not hold (``n_uncertified``)."""
    return res.model.refit_arrays()


def _tol(ya, Yd):
    """Ties: values within RTOL x the scale of the data this refit sees (the shifted outcome
    included, so that a large tested effect does not let rounding decide)."""
    return RTOL * outcome_scale(ya, Yd)


def _pvalue(refit, Yd, yt, h0, L, q, idx, stat_func=None):
    """p-value of the null ``h0`` (scalar or length-L) on the last ``L`` of the rows given.

    ``idx``: None for one period (exact: the tested residual's rank among all of them, itself
    included), else ``(rows, exact)``: an (n, L) array of the rows each permutation puts in the
    tested slots, and whether it enumerates the whole group or samples it.  Values within
    :func:`_tol` of the observed statistic count as at least as large (ties go against rejection)."""
    t0 = len(yt) - L
    ya = yt.copy()
    ya[t0:] = ya[t0:] - h0
    r = ya - refit(Yd, ya)
    tol = _tol(ya, Yd)
    if L == 1:  # exact for both kinds
        return float(np.mean(np.abs(r) >= np.abs(r[-1]) - tol))
    rows, exact = idx
    if stat_func is None:
        s0 = _stat(r[t0:], q)
        hits = int(np.sum(_stat(r[rows], q) >= s0 - tol))
    else:  # the user's statistic of the L tested residuals (larger = more extreme)
        s0 = _user_stat(stat_func, r[t0:])
        hits = int(sum(_user_stat(stat_func, r[row]) >= s0 - tol for row in rows))
    return hits / len(rows) if exact else mc_pvalue(hits, len(rows))


def _user_stat(stat_func, u):
    v = stat_func(np.array(u, dtype=float))
    try:
        v = float(np.asarray(v, dtype=float).reshape(-1)[0]) if np.size(v) == 1 else None
    except (TypeError, ValueError):
        v = None
    if v is None or not math.isfinite(v):
        raise SpecificationError("stat_func must return one finite number for a vector of post-period "
                                 "residuals (larger = more extreme)")
    return v


def _pvalue_mean(refit, Y, y, tau, T0, idx):
    """p-value of a constant effect ``tau`` on every post period, with the signed statistic
    ``|sum of post residuals| / sqrt(T1)`` (a test of the average effect); ``idx`` as in
    :func:`_pvalue`."""
    ya = y.copy()
    ya[T0:] = ya[T0:] - tau
    r = ya - refit(Y, ya)
    tol = _tol(ya, Y)
    rows, exact = idx
    L = len(y) - T0
    s0 = abs(float(r[T0:].sum()))
    hits = int(np.sum(np.abs(r[rows].sum(axis=1)) >= s0 - tol * L))
    return hits / len(rows) if exact else mc_pvalue(hits, len(rows))


def _permutations(kind, T, T0, n_perm, seed):
    """``(rows, exact)``: the rows each permutation puts in the ``T - T0`` tested slots.

    ``"block"``: the ``T`` cyclic shifts (the identity is the shift by 0), exact.  ``"iid"``: every
    subset of ``T - T0`` rows when there are at most ``n_perm`` of them (the statistics are sums over
    the tested slots, so the order within them does not matter; the identity is one of the subsets),
    exact; otherwise ``n_perm`` seeded random permutations, whose p-value ``(1 + hits) / (n_perm + 1)``
    counts the observed ordering."""
    L = T - T0
    if kind == "block":
        return (np.arange(T)[:, None] + np.arange(T0, T)[None, :]) % T, True
    if math.comb(T, L) <= n_perm:
        return np.array(list(itertools.combinations(range(T), L)), dtype=int), True
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((int(n_perm), T)), axis=1)[:, T0:], False


_MAX_DOUBLINGS = 40  # the search beyond a grid's edge: up to ~1e12 grid steps out


def _boundary(pfun, alpha, acc, rej, iters):
    """Bisect between an accepted and a rejected value; returns the accepted end."""
    for _ in range(iters):
        m = 0.5 * (acc + rej)
        if pfun(m) >= alpha:
            acc = m
        else:
            rej = m
    return acc


def _invert(pfun, grid, alpha, refine, step, center=None, iters=30):
    """The smallest and largest accepted values on ``grid`` (augsynth), optionally bisected further.

    Where the accepted set reaches an end of the grid, the search goes on beyond it (steps of
    ``step``, doubling, up to ``_MAX_DOUBLINGS`` of them) until a rejected value closes the set;
    that bound is then bisected down to ``step`` (to convergence with ``refine``).  A set that never
    closes is unbounded on that side (``-inf`` / ``+inf``).  When no grid value is accepted, the
    point estimate ``center`` is tested and, if accepted, the search starts from it.  Returns
    ``(lo, hi, status)`` with ``status = (lower, upper)``, each ``"grid"``, ``"extended"`` or
    ``"unbounded"``; ``(nan, nan, ("empty", "empty"))`` when nothing is accepted."""
    g = np.unique(np.asarray(grid, dtype=float))
    ok = np.array([pfun(x) >= alpha for x in g])
    if not ok.any():
        if center is None or not pfun(float(center)) >= alpha:
            return math.nan, math.nan, ("empty", "empty")
        g, ok = np.array([float(center)]), np.array([True])
    acc_idx = np.flatnonzero(ok)
    out, status = [], []
    for j, nb, sign in ((int(acc_idx[0]), int(acc_idx[0]) - 1, -1.0), (int(acc_idx[-1]), int(acc_idx[-1]) + 1, 1.0)):
        if 0 <= nb < len(g):  # closed on the grid
            out.append(_boundary(pfun, alpha, float(g[j]), float(g[nb]), iters) if refine else float(g[j]))
            status.append("grid")
            continue
        a, d, rej = float(g[j]), step, None
        for _ in range(_MAX_DOUBLINGS):
            b = a + sign * d
            if pfun(b) < alpha:
                rej = b
                break
            a, d = b, 2.0 * d
        if rej is None:
            out.append(sign * math.inf)
            status.append("unbounded")
        else:
            n = iters if refine else max(0, math.ceil(math.log2(abs(rej - a) / step)))
            out.append(_boundary(pfun, alpha, a, rej, n))
            status.append("extended")
    return out[0], out[1], tuple(status)


class _PeriodBand:
    """Picklable ``j -> (p-value, lower, upper, status, refit counts)`` of post-period ``j``: the
    test of zero and the inverted interval on the pre-periods plus that one period."""

    def __init__(self, refit, Y, y, T0, q, alpha, refine, grids, post_eff):
        self.refit, self.Y, self.y, self.T0, self.q = refit, Y, y, T0, q
        self.alpha, self.refine, self.grids, self.post_eff = alpha, refine, grids, post_eff

    def __call__(self, j):
        refit, T0 = self.refit, self.T0
        before = dict(refit.stats)
        Yd = np.vstack((self.Y[:T0], self.Y[T0 + j]))
        yt = np.concatenate((self.y[:T0], [self.y[T0 + j]]))

        def pfun(h):
            return _pvalue(refit, Yd, yt, h, 1, self.q, None)
        g, step = self.grids[j]
        g = np.concatenate((g, [0.0]))
        p0 = pfun(0.0)
        lo, hi, st = _invert(pfun, g, self.alpha, self.refine, step, center=self.post_eff[j])
        return p0, lo, hi, st, {k: refit.stats[k] - before[k] for k in before}


@register("conformal", supports=("outcome", "ridge"), title="Conformal inference (Chernozhukov, Wuthrich & Zhu 2021)",
          cli_table="all", why_not={
              "predictors": "the test's validity rests on refitting the weights on all periods, pre and post "
                            "alike, under each null; a covariate fit's weights come from predictors measured in "
                            "pre-treatment windows, which no null changes, so its refit is not that "
                            "time-symmetric estimator (and for a V search it would cost a search per grid point "
                            "and period); use placebo(), lto(), jackknife_plus(), scpi() or ttest() with "
                            "covariates, or conformal() on the outcome-only or penalized fit without covariates"})
def conformal_inference(res, alpha=0.1, kind="iid", q=1, grid_size=50, grid=None, n_perm=10000,
                        seed=0, refine=False, stat_func=None, keep_residuals=False) -> Inference:
    """Conformal inference (Chernozhukov, Wuthrich & Zhu 2021), as augsynth's
        ``summary(fit, inf_type = "conformal")``: per-period intervals for the effect (by test
        inversion on a grid around each effect, plus 0), their p-values for a zero effect, the
        joint p-value for a zero effect path (``p_value``) and an interval for the ATT
        (``ci_lower``/``ci_upper``: the constant effects not rejected by the average-effect test;
        ``details["att_p_value"]`` is that test's p-value for zero).

        ``kind``: ``"iid"`` (permutations; per-period p-values exact, the joint one from ``n_perm``
        seeded draws) or ``"block"`` (the T cyclic shifts, exact).  ``q``: the statistic's power.
        ``grid`` replaces the default grid; ``refine=True`` bisects each bound beyond the grid.
        An interval that reaches the grid's edge is searched beyond it; one that never closes is
        ``-inf``/``+inf`` with a warning (table columns ``lower_status``/``upper_status``).
        ``alpha`` must exceed ``1 / (T0 + 1)``, the smallest p-value one period can have.  Sampled
        permutation p-values count the observed ordering: ``(1 + hits) / (n_perm + 1)``.
        Works for outcome-only and ridge-augmented fits (the ridge penalty stays at its fitted
        value in the refits, as in augsynth).  ``stat_func`` (augsynth's): a function of the
        vector of post-period residuals returning one number, larger = more extreme, used by the
        joint test (``p_value``) instead of ``(sum |u|^q / sqrt(L))^(1/q)``; e.g.
        ``lambda u: -u.sum()`` is the one-sided test against a negative effect.  The per-period
        p-values and the intervals do not use it.  ``keep_residuals=True`` also returns, in
        ``details["joint_residuals"]``, the residuals the joint test of no effect compares
        (``observed``: the L post-period ones; ``permuted``: one row per permutation; ``exact``,
        ``tol``), so that a statistic can be evaluated elsewhere (the R package evaluates an R
        ``stat_func`` on them).  See ``docs/augmented.md``.
        """
    alpha = check_alpha("alpha", alpha)
    kind = check_choice("kind", kind, ("iid", "block"), what="'iid' or 'block'")
    q = check_number("q", q, low=0, low_open=True)  # finite: q = inf would give p = 1 everywhere
    grid_size = check_count("grid_size", grid_size, 2)
    grid = check_grid("grid", grid)
    n_perm = check_count("n_perm", n_perm, 100)
    seed = check_seed("seed", seed)
    refine = check_bool("refine", refine)
    keep_residuals = check_bool("keep_residuals", keep_residuals)
    if stat_func is not None and not callable(stat_func):
        raise SpecificationError(f"stat_func must be a function of the post-period residuals, got {stat_func!r}")
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
    # ties (in the p-values) and zero (here) are judged relative to the outcomes' scale (._undefined)
    scale = outcome_scale(y, Y)
    tol = RTOL * scale
    idx = _permutations(kind, T, T0, int(n_perm), seed)
    # the smallest p-values the tests can produce; a value is rejected only when p < alpha
    p_min_period = 1.0 / (T0 + 1)  # one period: the tested residual ranks among T0 + 1
    p_min_att = 1.0 / len(idx[0]) if idx[1] else 1.0 / (len(idx[0]) + 1)
    p_min = max(p_min_period, p_min_att)
    if not alpha > p_min:
        which = (f"with {T0} pre-periods a per-period p-value is at least 1/{T0 + 1} = {p_min_period:.4g}"
                 if p_min == p_min_period else
                 f"the {'enumerated' if idx[1] else 'sampled'} permutations ({len(idx[0])}) give p-values of at "
                 f"least {p_min_att:.4g}")
        raise SpecificationError(
            f"alpha={alpha!r} cannot be attained: {which}, and a value is rejected only when p < alpha, so no "
            f"interval could exclude anything. The smallest usable alpha is just above {p_min:.4g}; use "
            f"alpha > {p_min:.4g} (or more pre-periods)")
    # the grid's unit: the post-period effects' root mean square (augsynth), or, when they are all
    # zero, the pre-period gap's, the treated outcome's spread, the outcome scale
    # (every RMS overflow-safe: finite for outcomes of 1e300; rms(y - mean) is np.std(y))
    sd = rms(post_eff)
    unit = next((v for v in (sd, rms(effects[:T0]), rms(y - y.mean()), scale) if v > tol), 1.0)
    default_step = 4 * unit / (grid_size - 1)
    if grid is not None:
        ug = np.unique(np.asarray(grid, dtype=float))
        user_step = float(ug[-1] - ug[0]) / (len(ug) - 1) if len(ug) > 1 else default_step

    # the post-periods' intervals are independent: one task each (synthcontrol.parallel); the refits'
    # counts come back with them, so they are the same on every engine
    from ..parallel import pmap
    grids = [(np.asarray(grid, dtype=float), user_step) if grid is not None else
             (np.linspace(post_eff[j] - 2 * unit, post_eff[j] + 2 * unit, grid_size), default_step)
             for j in range(L)]
    before = dict(refit.stats)
    bands = pmap(_PeriodBand(refit, Y, y, T0, q, alpha, refine, grids, post_eff), range(L),
                 n_jobs=res.model.n_jobs, desc="conformal: per-period intervals")
    refit.stats.update({k: before[k] + sum(b[4][k] for b in bands) for k in before})
    pvals = np.array([b[0] for b in bands], dtype=float).reshape(L)
    lower = np.array([b[1] for b in bands], dtype=float).reshape(L)
    upper = np.array([b[2] for b in bands], dtype=float).reshape(L)
    status = [b[3] for b in bands]

    def joint(h):
        return _pvalue(refit, Y, y, h, L, q, idx, stat_func)

    joint_p = joint(0.0)
    att = float(np.mean(post_eff))
    kept = None
    if keep_residuals:
        r0 = y - refit(Y, y)
        kept = {"observed": r0[T0:].copy(), "permuted": r0[idx[0]], "exact": bool(idx[1]), "tol": _tol(y, Y)}

    def att_p(tau):
        return _pvalue_mean(refit, Y, y, tau, T0, idx)

    # the ATT interval: constant effects not rejected by the average-effect test, on a grid twice as
    # wide as the per-period one, bisected at both ends (the whole-path statistic above is not used:
    # a refit on all periods absorbs much of a constant shift, so inverting it would mislead)
    ga = np.concatenate((np.linspace(att - 4 * unit, att + 4 * unit, 2 * grid_size), [0.0]))
    att_lo, att_hi, att_status = _invert(att_p, ga, alpha, True, 8 * unit / (2 * grid_size - 1), center=att)
    times = p.times[post]
    lo_st = [s[0] for s in status]
    hi_st = [s[1] for s in status]
    table = pd.DataFrame({"period": times, "effect": post_eff, "lower": lower, "upper": upper,
                          "p_value": pvals, "lower_status": lo_st, "upper_status": hi_st,
                          "bounded": np.isfinite(lower) & np.isfinite(upper)})
    exact = bool(idx[1])
    details = {
        "kind": kind, "q": q, "grid_size": grid_size, "refine": refine,
        "stat_func": None if stat_func is None else getattr(stat_func, "__name__", "user function"),
        "joint_p_value": joint_p,
        "joint_p_mc_se": 0.0 if exact else float(np.sqrt(joint_p * (1 - joint_p) / n_perm)),
        "n_perm": len(idx[0]),
        "permutations_exact": exact,
        "smallest_attainable_p": p_min,
        "table": table,
        "counterfactual_lower": pd.Series(y[T0:] - upper, index=times, name="counterfactual_lower"),
        "counterfactual_upper": pd.Series(y[T0:] - lower, index=times, name="counterfactual_upper"),
        "ridge_lambda": res.diagnostics.get("ridge_lambda"),
        "att_p_value": att_p(0.0),
        "joint_residuals": kept,
        "att_interval_status": att_status,
        "att_interval_at_grid_edge": "unbounded" in att_status,
        "n_unbounded_periods": int((~table.bounded & ~table.lower.isna()).sum()),
        "n_empty_periods": int(table.lower.isna().sum()),
        "n_periods_grid_extended": int(sum("extended" in s for s in status)),
    }
    n_unb = details["n_unbounded_periods"]
    if n_unb:
        first = times[int(np.flatnonzero((~table.bounded & ~table.lower.isna()).to_numpy())[0])]
        say(f"conformal: the per-period interval of {n_unb} of {L} post periods (first: {_py(first)!r}) does "
            f"not close: every effect tested up to ~1e12 grid steps beyond the grid's edge has p >= alpha={alpha!r}. "
            f"It is reported unbounded on that side (-inf / +inf; table columns lower_status / upper_status)",
            details)
    if details["n_empty_periods"]:
        say(f"conformal: for {details['n_empty_periods']} of {L} post periods no grid value is accepted at "
            f"alpha={alpha!r}, nor is the point estimate: the interval is empty (NaN bounds)", details)
    if "unbounded" in att_status:
        sides = [side for side, st in zip(("lower (-inf)", "upper (+inf)"), att_status) if st == "unbounded"]
        say(f"conformal: the ATT interval does not close on the {' and '.join(sides)} side: every constant effect "
            f"tested up to ~1e12 grid steps beyond the grid has p >= alpha={alpha!r}; reported unbounded "
            f"(details['att_interval_status'])", details)
    elif "empty" in att_status:
        say(f"conformal: no constant effect on the grid is accepted by the average-effect test at alpha={alpha!r}: "
            f"the ATT interval is empty (NaN)", details)
    details["n_fits"] = refit.stats["n_fits"]
    report_uncertified(refit.stats["n_uncertified"], refit.stats["n_fits"], "conformal (the refits)", details)
    inf = Inference(method=f"conformal ({kind})", p_value=joint_p, ci_lower=att_lo, ci_upper=att_hi,
                    alpha=alpha, details=details)
    return inf
