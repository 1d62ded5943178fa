"""Refits of a fitted estimator with any unit as the target and any pool of the others.

The inference methods that re-run the estimator (the leave-two-out test, the cross-fitted t-test)
all need the same thing: "fit unit ``k`` from every unit except ``k`` and the set ``S``, on the
periods in ``mask``, and give me its gap over all periods".  :class:`UnitRefitter` does that for the
three kinds of fit:

``outcome``
    the outcome-only simplex fit.  Every fit shares one Gram matrix of the centred fitting-period
    outcomes, and a fit is reused exactly when the units it must leave out carry no weight in it:
    if ``w`` is optimal over a pool and is zero on the units ``S`` removed from it, ``w`` is still
    feasible and its KKT conditions still hold on the smaller pool, so it is optimal there too.
    ``solve(k, S)`` therefore starts from the fit that leaves out only the treated column, drops
    the members of ``S`` that are in its support, refits, and repeats; each intermediate fit is
    cached.  In the leave-two-out tournament on Prop 99 this turns 2,109 fits into about 300.
``predictors``
    a covariate (bilevel or penalized) fit: every refit runs the estimator's own V search
    (``SyntheticControl.refit_units``), so the test reflects the estimator actually used.
``ridge``
    ridge-augmented SCM.  The penalty is kept at the fitted value (``ridge_cv=False``, as augsynth
    and :mod:`.conformal` do) or chosen again by cross-validation in each refit (``ridge_cv=True``).

Column 0 of :attr:`UnitRefitter.Z` is the treated series (the mean of a treated group); columns
``1..J`` are the donors in ``panel.donors`` order.
"""
from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..solvers.simplex import SharedGram

__all__ = ["UnitRefitter", "fit_kind"]


def fit_kind(res) -> str:
    """``"outcome"``, ``"predictors"`` or ``"ridge"``: how the result's weights were made."""
    if res.diagnostics.get("augment") == "ridge":
        return "ridge"
    if res.V is not None:
        return "predictors"
    return "outcome"


class UnitRefitter:
    """Refit the estimator of ``res`` with any column of ``[treated, donors]`` as the target.

    Parameters
    ----------
    res : SCResult
    mask : (T,) bool array, optional
        The fitting periods (default: the result's own ``fit_mask``).  Must lie in the pre-period.
    ridge_cv : bool
        Ridge fits only: choose the penalty again by cross-validation in each refit (default: keep
        the fitted penalty).
    """

    def __init__(self, res, mask=None, ridge_cv=False, estimator=None):
        p = res.panel
        self.res = res
        self.estimator = res.estimator if estimator is None else estimator
        self.panel = p
        self.kind = fit_kind(res)
        self.Z = np.column_stack([np.asarray(p.y_treated, dtype=float), np.asarray(p.X_donors, dtype=float)])
        self.N = self.Z.shape[1]
        self.mask = np.asarray(res.fit_mask if mask is None else mask, dtype=bool)
        self.ridge_cv = bool(ridge_cv)
        self.n_fits = 0
        self.max_kkt = 0.0
        self.max_bound_gap = 0.0
        self.n_uncertified = 0  # outcome-only refits whose certificate did not hold
        self._cache = {}
        self._all = np.arange(self.N)
        if self.kind == "outcome":
            self._shared = SharedGram(self.Z[self.mask])
        elif self.kind == "ridge":
            est = self.estimator
            self._cov = None
            if est is not None and est.covariates:
                # unit means over the refit's own fitting periods (the whole pre-period for the
                # fit itself): a held-out period must not reach the weights through a covariate
                own = np.asarray(res.fit_mask, dtype=bool)
                periods = None if np.array_equal(self.mask, own) else p.times[self.mask]
                Zd, zt = est._unit_covariates(p, periods=periods)
                self._cov = np.vstack([zt[None, :], Zd])
            d = res.diagnostics
            self._ridge_opts = dict(residualize=bool(d.get("residualize")), fixedeff=bool(d.get("fixedeff")))
            self._lam = float(d["ridge_lambda"])
            # fit_ridge_ascm wants the fitting periods first: order the rows that way
            self._order = np.concatenate([np.flatnonzero(self.mask), np.flatnonzero(~self.mask)])
            self._inverse = np.argsort(self._order)

    def __getstate__(self):  # joblib workers get the data, not the cache
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    # -- the pool ------------------------------------------------------------------------------
    def pool(self, k, S):
        """Column indices of the donors of target ``k`` when ``S`` is left out."""
        keep = np.ones(self.N, dtype=bool)
        keep[k] = False
        if S:
            keep[list(S)] = False
        return self._all[keep]

    # -- outcome-only: exact fits with support reuse ---------------------------------------------
    def _fit_outcome(self, k, E):
        key = (k, E)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        D = self.pool(k, E)
        if len(D) == 0:
            raise SolverError(f"no donors left for unit {k} after leaving out {sorted(E)}")
        fit = self._shared.fit(k, D)
        self.n_uncertified += not fit.converged
        self.n_fits += 1
        self.max_kkt = max(self.max_kkt, fit.kkt_violation)
        gap = self.Z[:, k] - self.Z[:, D] @ fit.weights
        gap.setflags(write=False)
        out = (D, fit.weights, frozenset(D[fit.weights > 0].tolist()), gap)
        self._cache[key] = out
        return out

    def _resolve_outcome(self, k, S):
        E = S & {0}  # the treated column is nearly always left out: start there
        while True:
            hit = self._fit_outcome(k, E)
            drop = hit[2] & S
            if not drop:
                return hit
            E = E | drop

    def weights(self, k, S):
        """``(pool, weights)`` of target ``k`` fitted on every column except ``k`` and ``S``."""
        S = frozenset(S)
        if self.kind != "outcome":
            key = (k, S)
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = self._fit_other(k, S)
            return hit[0], hit[1]
        hit = self._resolve_outcome(k, S)
        return hit[0], hit[1]

    def gap(self, k, S):
        """Gap (observed - counterfactual) of target ``k`` over all periods, ``S`` left out.
        The array is shared with the cache: read-only."""
        if self.kind == "ridge":
            return self._ridge_gap(k, frozenset(S))
        if self.kind == "outcome":
            return self._resolve_outcome(k, frozenset(S))[3]
        D, w = self.weights(k, S)
        return self.Z[:, k] - self.Z[:, D] @ w

    # -- covariate and ridge fits -------------------------------------------------------------
    def _fit_other(self, k, S):
        D = self.pool(k, S)
        if self.kind == "predictors":
            p = self.panel
            labels = lambda cols: [lab for c in cols for lab in  # noqa: E731
                                   (p.treated_units if c == 0 else (p.donors[c - 1],))]
            if 0 in D and len(p.treated_units) > 1:
                raise SolverError("a treated group's mean cannot be a donor of a covariate refit")
            w, bgap, ok = self.estimator.refit_units(p, labels([k]), labels(D), self.mask, return_certified=True)
            self.n_fits += 1
            self.n_uncertified += not ok
            if np.isfinite(bgap):
                self.max_bound_gap = max(self.max_bound_gap, float(bgap))
            return D, np.asarray(w, dtype=float)
        cf = self._ridge_cf(k, D)
        return D, cf

    def _ridge_cf(self, k, D):
        from ..solvers.ridge import fit_ridge_ascm
        o = self._order
        cov = self._cov
        fit = fit_ridge_ascm(self.Z[o][:, D], self.Z[o, k], int(self.mask.sum()),
                             Z_donors=None if cov is None else cov[D],
                             z_treated=None if cov is None else cov[k],
                             lam=None if self.ridge_cv else self._lam, **self._ridge_opts)
        self.n_fits += 1
        self.n_uncertified += fit.n_uncertified  # its base fit and CV folds
        return fit.counterfactual[self._inverse]

    def _ridge_gap(self, k, S):
        key = (k, S)
        hit = self._cache.get(key)
        if hit is None:
            D = self.pool(k, S)
            hit = self._cache[key] = (D, self._ridge_cf(k, D))
        return self.Z[:, k] - hit[1]

    def prefetch(self, tasks, n_jobs=1):
        """Compute the refits ``[(k, S), ...]`` for the slow kinds in parallel (joblib); the
        outcome-only kind needs no prefetch."""
        if self.kind == "outcome" or n_jobs in (None, 1):
            return
        from joblib import Parallel, delayed
        todo = [(k, frozenset(S)) for k, S in dict.fromkeys((k, frozenset(S)) for k, S in tasks)
                if (k, frozenset(S)) not in self._cache]
        if not todo:
            return
        outs = Parallel(n_jobs=n_jobs)(delayed(_remote_fit)(self, k, S) for k, S in todo)
        for (k, S), (out, nf, mb, nu) in zip(todo, outs):
            self._cache[(k, S)] = out
            self.n_fits += nf
            self.max_bound_gap = max(self.max_bound_gap, mb)
            self.n_uncertified += nu


def _remote_fit(refitter, k, S):
    refitter.n_fits = 0
    refitter.max_bound_gap = 0.0
    refitter.n_uncertified = 0
    if refitter.kind == "ridge":
        D = refitter.pool(k, S)
        out = (D, refitter._ridge_cf(k, D))
    else:
        out = refitter._fit_other(k, S)
    return out, refitter.n_fits, refitter.max_bound_gap, refitter.n_uncertified
