"""The synthetic-control estimator: settings in, an immutable result out."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import SolverError, SpecificationError
from ..panel import Panel, coerce_period
from ..results import SCResult
from ..solvers.simplex import simplex_ls

__all__ = ["SyntheticControl", "fit_outcome_only"]

_BACKENDS = ("auto", "outcome-only", "mscmt", "malo", "penalized")


class SyntheticControl:
    """Synthetic control estimator.

    Following scikit-learn's contract, ``__init__`` only stores the settings;
    :meth:`fit` validates them against a :class:`~synthcontrol.Panel` and returns
    an immutable :class:`~synthcontrol.results.SCResult`.

    Parameters
    ----------
    covariates, outcome_lags, predictor_window :
        Predictors for the covariate (V-weighted) backends.  Not available yet:
        giving them raises :class:`~synthcontrol.SpecificationError`.
    fit_window : (start, end) period labels, optional
        The periods whose outcomes the weights are fitted on (inclusive both
        ends, all before the treatment).  Default: the whole pre-period.
    backend : {"auto", "outcome-only"}
        ``"auto"`` is the outcome-only simplex fit when no covariates are given.
    augment : None
        Ridge augmentation is not available yet.
    seed : int
        Seed for any randomised step (kept for reproducibility of inference
        defaults).
    n_jobs : int
        Workers for the resampling loops (results do not depend on it).
    """

    def __init__(self, covariates=None, outcome_lags=None, predictor_window=None,
                 fit_window=None, backend="auto", augment=None, ridge_lambda=None,
                 residualize=False, seed=0, n_jobs=1):
        self.covariates = covariates
        self.outcome_lags = outcome_lags
        self.predictor_window = predictor_window
        self.fit_window = fit_window
        self.backend = backend
        self.augment = augment
        self.ridge_lambda = ridge_lambda
        self.residualize = residualize
        self.seed = seed
        self.n_jobs = n_jobs

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in (
            "covariates", "outcome_lags", "predictor_window", "fit_window", "backend",
            "augment", "ridge_lambda", "residualize", "seed", "n_jobs")}

    def __repr__(self):
        changed = {k: v for k, v in self.get_params().items()
                   if v != SyntheticControl().get_params()[k]}
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"SyntheticControl({inner})"

    def _resolve_backend(self) -> str:
        if self.backend not in _BACKENDS:
            raise SpecificationError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")
        has_predictors = bool(self.covariates) or bool(self.outcome_lags)
        if self.backend in ("mscmt", "malo", "penalized") or has_predictors:
            raise SpecificationError(
                "covariate / predictor-weighted backends (covariates, outcome_lags, backend="
                "'mscmt' | 'malo' | 'penalized') are not available in this version; use the "
                "outcome-only fit (backend='auto' without covariates)")
        if self.augment is not None:
            raise SpecificationError(
                f"augment={self.augment!r} is not available in this version; use augment=None")
        return "outcome-only"

    def _fit_mask(self, panel: Panel) -> np.ndarray:
        pre = ~panel.post
        if self.fit_window is None:
            return pre
        try:
            lo, hi = self.fit_window
        except (TypeError, ValueError):
            raise SpecificationError(
                f"fit_window must be a (start, end) pair of periods, got {self.fit_window!r}") from None
        t = panel.times
        lo = coerce_period(lo, t, "fit_window start", panel.time)
        hi = coerce_period(hi, t, "fit_window end", panel.time)
        m = np.asarray((t >= lo) & (t <= hi), dtype=bool)
        if (m & ~pre).any():
            raise SpecificationError(
                f"fit_window {self.fit_window!r} reaches into the post-treatment period "
                f"(treatment at {panel.treatment_time!r})")
        if m.sum() < 2:
            raise SpecificationError(f"fit_window {self.fit_window!r} covers {int(m.sum())} period(s); need >= 2")
        return m

    def fit(self, panel: Panel) -> SCResult:
        """Fit the synthetic control on ``panel`` and return an :class:`SCResult`."""
        if not isinstance(panel, Panel):
            raise SpecificationError(
                f"fit() takes a synthcontrol.Panel, got {type(panel).__name__}; build one with "
                f"sc.Panel(df, unit=..., time=..., outcome=..., ...)")
        backend = self._resolve_backend()
        panel.require_estimable()
        mask = self._fit_mask(panel)
        w, diag = fit_outcome_only(panel.y_treated, panel.X_donors, mask)
        diag["backend"] = backend
        return SCResult.from_weights(panel, w, diag, estimator=self, fit_mask=mask)


def fit_outcome_only(y, X, mask):
    """Outcome-only simplex fit on the periods in ``mask``; returns (weights, diagnostics)."""
    T0 = np.count_nonzero(mask)
    if mask[:T0].all():  # the usual case, a prefix of the periods: slice views, no copies
        fit = simplex_ls(X[:T0], y[:T0])
    else:
        fit = simplex_ls(X[mask], y[mask])
    if not fit.converged or not math.isfinite(float(np.add.reduce(fit.weights))):
        raise SolverError(
            f"the simplex least-squares solver did not converge after {fit.n_iter} iterations "
            f"(KKT violation {fit.kkt_violation:.3g}); the donor data may contain extreme values")
    diag = {
        "solver": "active-set simplex LS",
        "kkt_violation": fit.kkt_violation,
        "duality_gap": fit.duality_gap,
        "loss_w": fit.ssr / T0,  # mean squared error over the fit periods
        "l2_imbalance": math.sqrt(fit.ssr),  # ||y - X w|| over the fit periods (augsynth's name)
        "n_active_donors": int(np.count_nonzero(fit.weights)),
        "n_iter": fit.n_iter,
        "converged": fit.converged,
    }
    return fit.weights, diag
