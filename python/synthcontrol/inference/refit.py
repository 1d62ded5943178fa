"""One generic refitter: any unit as the target, any pool of the others, any fitting periods.

The inference methods that re-run the estimator (the leave-two-out test, the cross-fitted t-test,
jackknife+) all need the same thing: "fit unit ``k`` from every unit except ``k`` and the set ``S``,
on the periods in ``mask``, and give me its gap over all periods".  :class:`UnitRefitter` does that
for any fit model (:mod:`synthcontrol.models`): the model's engine makes each refit; this class
caches them, reuses a fit exactly when the model says its refits allow it (``reuses_support``:
exact outcome-only fits, where a fit that gives no weight to the units to be left out is still
optimal without them -- in the leave-two-out tournament on Prop 99 this turns 2,109 fits into about
300), and runs the slow kinds' refits in parallel (:mod:`synthcontrol.parallel`).

Column 0 of :attr:`UnitRefitter.Z` is the treated series (the mean of a treated group); columns
``1..J`` are the donors in ``panel.donors`` order.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import SolverError

__all__ = ["UnitRefitter"]


class UnitRefitter:
    """Refit the model of ``res`` with any column of ``[treated, donors]`` as the target.

    Parameters
    ----------
    res : SCResult
    mask : (T,) bool array, optional
        The fitting periods (default: the result's own ``fit_mask``).  Must lie in the pre-period.
    ridge_cv : bool
        Ridge fits only: choose the penalty again by cross-validation in each refit (default: keep
        the fitted penalty).
    model : FitModel, optional
        Refit with this model instead of the result's (a cross-fitting fold's model).
    """

    def __init__(self, res, mask=None, ridge_cv=False, model=None):
        self.res = res
        self.model = res.model if model is None else model
        self.kind = self.model.kind
        self.Z = self.model.Z
        self.N = self.Z.shape[1]
        self.mask = np.asarray(res.fit_mask if mask is None else mask, dtype=bool)
        self.engine = self.model.engine(self.mask, ridge_cv=bool(ridge_cv))
        self._ledger = {}  # (k, E) -> (n_fits, n_uncertified, kkt, bound_gap) of every refit made
        self._cache = {}
        self._all = np.arange(self.N)

    def __getstate__(self):  # workers get the data, not the cache
        state = dict(self.__dict__)
        state["_cache"] = {}
        state["_ledger"] = {}
        state["res"] = None
        return state

    # -- what the refits made so far vouch for (the same whichever process made them) ----------
    @property
    def n_fits(self) -> int:
        return sum(v[0] for v in self._ledger.values())

    @property
    def n_uncertified(self) -> int:
        """Refits whose certificate did not hold."""
        return sum(v[1] for v in self._ledger.values())

    @property
    def max_kkt(self) -> float:
        return max((v[2] for v in self._ledger.values()), default=0.0)

    @property
    def max_bound_gap(self) -> float:
        return max((v[3] for v in self._ledger.values() if math.isfinite(v[3])), default=0.0)

    def ledger(self) -> dict:
        """The refits made: ``{(k, E): (n_fits, n_uncertified, kkt, bound_gap)}``."""
        return dict(self._ledger)

    def merge(self, ledger):
        """Count the refits a worker made (a refit made twice, in two workers, counts once)."""
        self._ledger.update(ledger)

    # -- the pool ------------------------------------------------------------------------------
    def pool(self, k, S):
        """Column indices of the donors of target ``k`` when ``S`` is left out."""
        keep = np.ones(self.N, dtype=bool)
        keep[k] = False
        if S:
            keep[list(S)] = False
        return self._all[keep]

    def _count(self, key, r):
        self._ledger[key] = (r.n_fits, r.n_uncertified, r.kkt_violation, r.bound_gap)

    def _fit(self, k, E):
        key = (k, E)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        D = self.pool(k, E)
        if len(D) == 0:
            raise SolverError(f"no donors left for unit {k} after leaving out {sorted(E)}")
        r = self.engine.fit(k, D)
        self._count(key, r)
        support = frozenset(D[np.asarray(r.weights) > 0].tolist()) if self.model.reuses_support else None
        out = (r, support)
        self._cache[key] = out
        return out

    def _resolve(self, k, S):
        if not self.model.reuses_support:
            return self._fit(k, S)[0]
        E = S & {0}  # the treated column is nearly always left out: start there
        while True:
            r, support = self._fit(k, E)
            drop = support & S
            if not drop:
                return r
            E = E | drop

    def refit(self, k, S=frozenset()):
        """The :class:`~synthcontrol.models.Refit` of target ``k`` with ``S`` left out."""
        return self._resolve(k, frozenset(S))

    def weights(self, k, S):
        """``(pool, weights)`` of target ``k`` fitted on every column except ``k`` and ``S``."""
        r = self.refit(k, S)
        return r.donors, r.weights

    def gap(self, k, S):
        """Gap (observed - counterfactual) of target ``k`` over all periods, ``S`` left out.
        The array is shared with the cache: read-only."""
        return self.refit(k, S).gap

    def prefetch(self, tasks, n_jobs=1):
        """Compute the refits ``[(k, S), ...]`` in parallel (:func:`synthcontrol.parallel.pmap`);
        a model with cheap refits (exact outcome-only fits) needs no prefetch."""
        from ..parallel import plan, pmap
        if self.model.cheap or plan(n_jobs).workers == 1:
            return
        todo = [(k, S) for k, S in dict.fromkeys((k, frozenset(S)) for k, S in tasks)
                if (k, S) not in self._cache]
        if not todo:
            return
        outs = pmap(_RemoteFit(self), todo, n_jobs=n_jobs, desc="refits")
        for (k, S), r in zip(todo, outs):
            self._count((k, S), r)
            self._cache[(k, S)] = (r, None)


class _RemoteFit:
    """A picklable ``(k, S) -> Refit`` for worker processes."""

    def __init__(self, refitter):
        self.engine = refitter.engine
        self.pool = refitter.pool

    def __call__(self, task):
        k, S = task
        return self.engine.fit(k, self.pool(k, S))
