"""Fit models: what made a result's weights, and how to make them again on other units and periods.

Every :class:`~synthcontrol.results.SCResult` carries a fit model (``res.model``).  The model knows
its kind, holds the arrays its refits need (the outcomes of the treated series and the donors, the
predictor table built once at fit time, the covariates' per-period values) and the estimator's
settings, and declares what it supports.  Inference methods never ask "which kind of fit is this?":
they ask the model to refit, and read its capability flags.

Units are addressed by column of ``model.Z``: column 0 is the treated series (the mean of a treated
group), columns ``1..J`` the donors in ``panel.donors`` order.

Three kinds, one class each:

``outcome`` (:class:`OutcomeModel`)
    the outcome-only simplex fit.  Refits are exact; a batch of refits on one set of periods shares
    one Gram matrix, and a refit is reused exactly when the units it must leave out carry no weight
    in it (if ``w`` is optimal over a pool and zero on the units removed from it, it is still
    feasible and its KKT conditions still hold on the smaller pool).
``outcome`` also covers :class:`PenalizedOutcomeModel`, the penalized fit without covariates (its
    weights depend on the outcomes alone; refits keep the fitted lambda and do not reuse support).
``predictors`` (:class:`PredictorModel`)
    a covariate fit (the bilevel V search or the penalized fit, whose refits keep its lambda).  Every refit runs the same search
    on the predictor table built once at fit time, sliced to the refit's units and rescaled over
    them as Synth does; nothing is read again from the DataFrame.
``ridge`` (:class:`RidgeModel`)
    ridge-augmented SCM.  The penalty stays at its fitted value, or is chosen again by
    cross-validation in each refit when asked (``ridge_cv=True``).

A refit returns a :class:`Refit`; a batch of refits on one set of periods goes through
:meth:`FitModel.engine`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._frozen import freeze
from ._numerics import rms
from .inference._undefined import say
from .errors import DataError, SolverError, SpecificationError
from .solvers.simplex import SharedGram, simplex_ls

__all__ = ["FitModel", "OutcomeModel", "PenalizedOutcomeModel", "AugmentedModel", "PredictorModel", "RidgeModel", "Refit", "KINDS",
           "V_GAP_RTOL", "unit_covariate_means", "fit_outcome_only", "model_class"]

KINDS = ("outcome", "predictors", "ridge")
V_GAP_RTOL = 1e-6  # a covariate (V) fit is certified when bound_gap <= V_GAP_RTOL * loss_v


@dataclass(frozen=True)
class Refit:
    """One refit: target column ``k`` fitted from the columns ``donors`` of ``model.Z``.

    ``weights`` are on ``donors``; ``gap`` is observed minus counterfactual over all periods (for the
    target series given, which is ``Z[:, k]`` unless replaced).  ``certified``: the fit's own
    certificate held (the simplex KKT certificate, or the V search's proven bound within
    ``V_GAP_RTOL`` of its loss).  ``n_fits``/``n_uncertified`` count the simplex fits made (a ridge
    refit makes several: its base fit and, with cross-validation, its folds').  ``warnings``: what a
    single outcome-only refit could not vouch for, for the caller to say once for all its refits.
    """

    donors: np.ndarray
    weights: np.ndarray
    gap: np.ndarray
    certified: bool = True
    n_fits: int = 1
    n_uncertified: int = 0
    kkt_violation: float = 0.0
    bound_gap: float = math.nan
    warnings: tuple = ()
    diagnostics: dict = field(default_factory=dict, repr=False)


def _readonly(a):
    a = np.asarray(a, dtype=float)
    a.setflags(write=False)
    return a


class FitModel:
    """The fit behind a result: its kind, its settings, and refits on other units and periods.

    Attributes
    ----------
    kind : {"outcome", "predictors", "ridge"}
    backend : str
        The estimator's backend as resolved at fit time.
    settings : ReadOnlyDict
        The estimator's parameters (``SyntheticControl.get_params()``), copied at fit time.
    Z : (T, J + 1) read-only array
        The treated series, then the donors' outcomes.
    fit_mask : (T,) read-only bool array
        The periods the weights were fitted on.
    simplex : bool
        Weights are non-negative and sum to one.
    reuses_support : bool
        A refit that leaves out only zero-weight donors equals the fit it came from (exact fits).
    cheap : bool
        Refits take microseconds: batches run in-process, never worth a worker pool.
    batched_simplex : bool
        Refits are the plain outcome-only simplex fit, so a batch of them may go through the batched
        simplex kernel (the placebo test's fast path) instead of the model's engine.
    """

    kind: str = ""
    simplex = True
    reuses_support = False
    cheap = False
    batched_simplex = False
    #: what a refit's certificate vouches for, in messages: "simplex" fits or "covariate" V searches
    certificate = "simplex"

    def __init__(self, panel, estimator, fit_mask, backend):
        self.backend = backend
        #: the class of the estimator that made the fit (``SCResult.estimator`` builds a new one);
        #: the model keeps a copy of its settings, never the estimator itself
        self.estimator_class = type(estimator)
        self.settings = freeze(dict(estimator.clone().get_params()))
        self.Z = _readonly(np.column_stack([np.asarray(panel.y_treated, dtype=float),
                                            np.asarray(panel.X_donors, dtype=float)]))
        m = np.array(fit_mask, dtype=bool)
        m.setflags(write=False)
        self.fit_mask = m
        self.treated_units = tuple(panel.treated_units)
        self.donors = tuple(panel.donors)
        self.times = panel.times

    # -- what the model supports -----------------------------------------------------------------
    def supports(self, method) -> bool:
        """Whether the registered inference ``method`` (an entry of the registry,
        ``sc.inference.get_method(name)``) applies to this fit."""
        return self.kind in method.supports

    @property
    def n_jobs(self):
        """The estimator's worker count for refit loops."""
        return self.settings.get("n_jobs", 1) or 1

    def labels(self, cols):
        """Unit labels of ``Z`` columns (column 0: every treated unit)."""
        return [lab for c in cols for lab in (self.treated_units if c == 0 else (self.donors[c - 1],))]

    # -- refits ------------------------------------------------------------------------------------
    def engine(self, mask=None, **options):
        """A refit engine for many refits on the periods ``mask`` (default: the fit's own)."""
        raise NotImplementedError

    def refit(self, target, donors, mask=None, y=None) -> Refit:
        """Fit column ``target`` of ``Z`` (or the series ``y`` in its place) from the columns
        ``donors`` on the periods ``mask``; returns a :class:`Refit`."""
        return self.engine(mask).fit(target, np.asarray(donors, dtype=int), y=y)

    def refit_arrays(self, Y, y):
        """A function for refits of the whole donor pool on other outcome arrays: returns
        ``refit(Yd (T', J), yt (T',)) -> counterfactual (T',)`` fitted on all ``T'`` rows, with a
        ``stats`` dict counting fits (``n_fits``) and failed certificates (``n_uncertified``)."""
        raise SpecificationError(f"refits on other outcome arrays are not defined for {self.description}")

    def penalized_design(self):
        """``(X1, X0)``: the predictors a penalized fit weighs (its scaled predictor table, or the
        outcomes over its fitting periods)."""
        raise SpecificationError(f"{self.description} are not penalized fits")

    def resample_fitter(self):
        """A picklable ``fitter(X (T, J), y (T,), fit_mask) -> (counterfactual (T,), certified)`` that
        refits this model's estimator on resampled outcomes (the cluster bootstrap); None: the plain
        simplex fit."""
        raise SpecificationError(f"refits on resampled outcomes are not defined for {self.description}")

    def before_fake_date(self, later, label):
        """The model for an in-time placebo whose fake treatment starts ``later[0]`` (``later``: the
        periods from the fake date on; ``label``: that date, for messages): ``(model, names of the
        predictors left out)``.  Only covariate fits read data outside their fitting periods
        (predictor windows); other kinds return themselves."""
        return self, []

    def for_held_out(self, periods):
        """The model whose refits must not see the outcome in ``periods`` (cross-fitting folds):
        ``(model, dropped predictor names)``.  Only covariate fits read outcomes outside their
        fitting periods (outcome lags); other kinds return themselves."""
        return self, []

    @property
    def description(self) -> str:
        return f"{self.kind} fits"

    # -- what results show ------------------------------------------------------------------------
    def summary_rows(self, d) -> list:
        """The rows of ``SCResult.summary()`` this kind adds, from the diagnostics ``d``."""
        return []

    def schema_extras(self, d):
        """The non-scalar diagnostics :meth:`SCResult.to_dict` carries for this kind (or None)."""
        return None

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        """Fit ``estimator`` (settings already checked) on ``panel``: the result, with this model."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"kind": self.kind, "backend": self.backend, "simplex": self.simplex,
                "settings": {k: _plain(v) for k, v in self.settings.items()}}

    def __repr__(self):
        return f"{type(self).__name__}(backend={self.backend!r}, donors={len(self.donors)})"


def _plain(v):
    """Settings as JSON-able builtins (tuples -> lists, dict keys -> str)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


# ------------------------------------------------------------------------------------------------
# outcome-only
# ------------------------------------------------------------------------------------------------
def fit_outcome_only(y, X, mask, quiet=False):
    """Outcome-only simplex fit on the periods in ``mask``; returns (weights, diagnostics).

    What cannot be trusted as it stands (a fit that is not certified, a treated unit outside the
    donors' range) is put in ``diagnostics["warnings"]`` and said as a SynthWarning -- unless
    ``quiet``: refit loops (leave-one-out, in-time placebo) record it per refit and say it once."""
    T0 = np.count_nonzero(mask)
    prefix = bool(mask[:T0].all())  # the usual case, a prefix of the periods: slice views, no copies
    Xf = X[:T0] if prefix else X[mask]
    yf = y[:T0] if prefix else y[mask]
    fit = simplex_ls(Xf, yf)
    if not math.isfinite(float(np.add.reduce(fit.weights))):
        raise SolverError(
            f"the simplex least-squares solver returned non-finite weights after {fit.n_iter} "
            f"iterations; the donor data may contain extreme values")
    said = []
    if not fit.converged:
        said.append(
            f"the outcome-only fit is not certified: its duality gap {fit.duality_gap:.3g} (a proven "
            f"bound on SSR(w) - SSR*) is large against SSR {fit.ssr:.3g} after {fit.n_iter} "
            f"iterations (KKT violation {fit.kkt_violation:.3g}); the weights may not be optimal. "
            f"Check the donors for extreme values or rescale the outcome")
    above = int(np.count_nonzero(yf > Xf.max(axis=1)))
    below = int(np.count_nonzero(yf < Xf.min(axis=1)))
    if above + below == T0:
        said.append(
            f"the treated unit lies outside the donors' range in every one of the {T0} fitting periods "
            f"({above} above the largest donor, {below} below the smallest): no convex combination of "
            f"donors can reproduce it. The weights are the certified optimum, but the synthetic control "
            f"is a poor match (see pre_rmse); consider other donors or augment='ridge'")
    diag = {
        "solver": "active-set simplex LS",
        "kkt_violation": fit.kkt_violation,
        "duality_gap": fit.duality_gap,
        "loss_w": fit.ssr / T0,  # mean squared error over the fit periods
        # ||y - X w|| over the fit periods (augsynth's name), overflow-safe
        "l2_imbalance": rms(yf - Xf @ fit.weights) * math.sqrt(T0),
        "n_active_donors": int(np.count_nonzero(fit.weights)),
        "n_iter": fit.n_iter,
        "converged": fit.converged,
        "certified": fit.converged,
        "outside_hull_periods": above + below,
    }
    for m in said:
        if quiet:
            diag.setdefault("warnings", []).append(m)
        else:
            say(m, diag)
    return fit.weights, diag


class OutcomeModel(FitModel):
    """The outcome-only simplex fit."""

    kind = "outcome"
    reuses_support = True
    cheap = True
    batched_simplex = True
    description = "outcome-only simplex fits"
    scpi_design = "outcome-only simplex: the Cattaneo-Feng-Titiunik construction"

    def engine(self, mask=None, **options):
        return _OutcomeEngine(self, self.fit_mask if mask is None else mask)

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_outcome(panel, estimator._fit_mask(panel), backend)

    def summary_rows(self, d):
        return [("Duality gap (SSR)", f"{d.get('duality_gap', float('nan')):.2e}")]

    def resample_fitter(self):
        return None  # the simplex fit (the bootstrap's own fast path)

    def refit(self, target, donors, mask=None, y=None) -> Refit:
        """A single refit, through the single-fit path (its own centring and certificate); what it
        cannot vouch for is in ``Refit.warnings``."""
        mask = self.fit_mask if mask is None else np.asarray(mask, dtype=bool)
        D = np.asarray(donors, dtype=int)
        yy = self.Z[:, target] if y is None else np.asarray(y, dtype=float)
        X = self.Z[:, D]
        w, diag = fit_outcome_only(yy, X, mask, quiet=True)
        gap = yy - X @ w
        gap.setflags(write=False)
        return Refit(D, w, gap, certified=bool(diag.get("certified", True)), n_uncertified=int(not diag.get("certified", True)),
                     kkt_violation=float(diag["kkt_violation"]), warnings=tuple(diag.get("warnings", ())),
                     diagnostics=diag)

    def refit_arrays(self, Y=None, y=None):
        stats = {"n_fits": 0, "n_uncertified": 0}

        def refit(Yd, yt):
            fit = simplex_ls(Yd, yt)
            stats["n_fits"] += 1
            stats["n_uncertified"] += not fit.converged
            return Yd @ fit.weights
        refit.stats = stats
        return refit


class PenalizedDispatch:
    """The penalized backend's fit: on covariates (:class:`PredictorModel`) or on the outcomes
    (:class:`PenalizedOutcomeModel`), decided by the estimator's settings."""

    @staticmethod
    def fit_panel(estimator, panel, backend):
        return estimator._fit_penalized(panel, estimator._fit_mask(panel))


def model_class(backend):
    """The fit model of an estimator's resolved backend: ``"ridge"`` (augment='ridge'),
    ``"outcome-only"``, or a covariate backend (``auto``, ``malo``, ``mscmt``, ``penalized``)."""
    return {"ridge": RidgeModel, "outcome-only": OutcomeModel, "penalized": PenalizedDispatch,
            "ridge-on-base": AugmentedModel, "demeaned": DemeanedModel,
            "augsynth-scm": DemeanedModel}.get(backend, PredictorModel)


class _OutcomeEngine:
    """Many exact refits on one set of periods from one shared Gram matrix."""

    def __init__(self, model, mask):
        self.model = model
        self.mask = np.asarray(mask, dtype=bool)
        self._shared = SharedGram(model.Z[self.mask])

    def fit(self, k, D, y=None):
        if y is not None:  # another target series: the single-fit path
            return self.model.refit(k, D, self.mask, y=y)
        Z = self.model.Z
        fit = self._shared.fit(k, D)
        gap = Z[:, k] - Z[:, D] @ fit.weights
        gap.setflags(write=False)
        return Refit(D, fit.weights, gap, certified=bool(fit.converged), n_uncertified=int(not fit.converged),
                     kkt_violation=float(fit.kkt_violation))


def _penalized_rows(d):
    rule = d.get("penalized_cv") or "fixed"
    return [("Loss V (fit-window MSE)", f"{d['loss_v']:.6g}"),
            ("Lambda", f"{d.get('lambda'):.4g}  ({rule}; pensynth's scale {d.get('lambda_pensynth'):.4g})"),
            ("Duality gap (penalized)", f"{d.get('duality_gap', float('nan')):.2e}")]


class PenalizedOutcomeModel(FitModel):
    """The penalized fit (Abadie & L'Hour 2021) on the outcomes over the fitting periods (no
    covariates).  Refits keep the fitted ``lam`` (as ridge refits keep theirs): one strictly convex
    QP per refit, certified by its KKT conditions; refits on other outcome series (conformal) are
    defined.  ``kind`` is ``"outcome"``: the weights are a function of the outcomes alone, so every
    method for outcome-only fits applies (support reuse does not: the penalty moves with the target)."""

    kind = "outcome"
    cheap = True
    scpi_design = ("penalized fit on the outcomes: the Cattaneo-Feng-Titiunik simplex construction around "
                   "the penalized weights (an approximation: the penalty also shaped them)")

    def __init__(self, panel, estimator, fit_mask, backend, lam):
        super().__init__(panel, estimator, fit_mask, backend)
        self.lam = float(lam)

    @property
    def description(self):
        return f"penalized fits on the outcomes (lambda {self.lam:.4g}, kept by every refit)"

    def engine(self, mask=None, **options):
        return _PenalizedEngine(self, self.fit_mask if mask is None else mask)

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_penalized(panel, estimator._fit_mask(panel))

    def summary_rows(self, d):
        return _penalized_rows(d)

    def solve(self, y, X):
        """``(weights, certified, kkt_violation)`` of the penalized fit of ``y`` from the columns of ``X``."""
        from .solvers.vsearch import penalized_certificate, penalized_weights
        w = penalized_weights(y, X, self.lam).weights
        _, kkt, _, ok = penalized_certificate(y, X, w, self.lam)
        return w, bool(ok), float(kkt)

    def resample_fitter(self):
        return _PenalizedFitter(self.lam)

    def penalized_design(self):
        Zf = self.Z[self.fit_mask]
        return Zf[:, 0], Zf[:, 1:]

    def refit_arrays(self, Y=None, y=None):
        stats = {"n_fits": 0, "n_uncertified": 0}

        def refit(Yd, yt):
            w, ok, _ = self.solve(np.asarray(yt, dtype=float), np.asarray(Yd, dtype=float))
            stats["n_fits"] += 1
            stats["n_uncertified"] += not ok
            return Yd @ w
        refit.stats = stats
        return refit


class _PenalizedFitter:
    """The penalized fit at a fixed lambda, on resampled outcomes (picklable)."""

    def __init__(self, lam):
        self.lam = float(lam)
        self.description = f"penalized fit at the fitted lambda {self.lam:.4g}"

    def __call__(self, X, y, fit_mask):
        from .solvers.vsearch import penalized_certificate, penalized_weights
        w = penalized_weights(y[fit_mask], X[fit_mask], self.lam).weights
        return X @ w, bool(penalized_certificate(y[fit_mask], X[fit_mask], w, self.lam)[3])


class _RidgeFitter:
    """Ridge ASCM at a fixed penalty (``inf``: augsynth's ``progfunc = "none"``), on resampled
    outcomes whose first ``T0`` periods are the pre-period (picklable)."""

    def __init__(self, lam, residualize, fixedeff):
        self.lam, self.residualize, self.fixedeff = lam, residualize, fixedeff
        self.description = (f"ridge ASCM at the fitted penalty {lam:.4g}" if math.isfinite(lam)
                            else "the simplex fit of augsynth's progfunc = \"none\"")

    def __call__(self, X, y, fit_mask):
        from .solvers.ridge import fit_ridge_ascm
        fit = fit_ridge_ascm(X, y, int(np.count_nonzero(fit_mask)), residualize=self.residualize,
                             fixedeff=self.fixedeff, lam=self.lam)
        return fit.counterfactual, fit.n_uncertified == 0


class _PenalizedEngine:
    def __init__(self, model, mask):
        self.model = model
        self.mask = np.asarray(mask, dtype=bool)

    def fit(self, k, D, y=None):
        m = self.model
        D = np.asarray(D, dtype=int)
        yy = m.Z[:, k] if y is None else np.asarray(y, dtype=float)
        X = m.Z[:, D]
        w, ok, kkt = m.solve(yy[self.mask], X[self.mask])
        gap = yy - X @ w
        gap.setflags(write=False)
        return Refit(D, w, gap, certified=ok, n_uncertified=int(not ok), kkt_violation=kkt)


# ------------------------------------------------------------------------------------------------
# covariate (predictor) fits
# ------------------------------------------------------------------------------------------------
class PredictorModel(FitModel):
    """A covariate fit: the bilevel V search (``auto``, ``malo``, ``mscmt``) or the penalized fit.

    ``table``: the raw predictor values, predictors x units (every treated unit, then the donors),
    built once at fit time; ``columns``/``origins``/``windows``: for each predictor, the data column
    it reads, the specification entry that made it, and the periods it averages over.
    """

    kind = "predictors"
    certificate = "covariate"
    scpi_design = ("covariate fit: the in-sample term uses the outcome design B with the V-weighted "
                   "weights (an approximation: the weights were also shaped by the predictors)")

    def __init__(self, panel, estimator, fit_mask, backend, predictors, outcome, penalized_lambda=None):
        super().__init__(panel, estimator, fit_mask, backend)
        #: the penalized backend's lambda, chosen at fit time and kept by every refit
        self.lam = penalized_lambda
        self.table = predictors.table()
        self.table.flags.allows_duplicate_labels = True
        self.names = list(predictors.names)
        self.windows = dict(predictors.windows)
        self.columns = dict(predictors.columns or {})
        self.origins = dict(predictors.origins or {})
        self.outcome = outcome
        self.seed = self.settings.get("seed", 0)

    def engine(self, mask=None, **options):
        return _PredictorEngine(self, self.fit_mask if mask is None else mask)

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_predictors(panel, estimator._fit_mask(panel), backend)

    @property
    def description(self):
        if self.backend == "penalized":
            return f"penalized fits on covariates (lambda {self.lam:.4g}, kept by every refit)"
        return f"covariate fits (backend {self.backend!r})"

    def summary_rows(self, d):
        if "lower_bound" in d:
            return [
                ("Loss V (fit-window MSE)", f"{d['loss_v']:.6g}"),
                ("Lower bound (proven)", f"{d['lower_bound']:.6g}  ({d.get('bound_method', '')})"),
                ("Bound gap (proven)", f"{d['bound_gap']:.3g}"
                 + ("  (certified optimum)" if d.get("bound_attained") else "")),
                ("Loss W (predictors)", f"{d['loss_w']:.3g}"),
                ("V agreement", f"{d.get('v_agreement', float('nan')):.3g}"),
            ]
        return _penalized_rows(d)

    def refit(self, target, donors, mask=None, y=None):
        if y is not None:
            raise SpecificationError("covariate fits cannot be refitted on another outcome series: the "
                                     "predictors would no longer describe it")
        return super().refit(target, donors, mask)

    def scaled(self, treated, donors):
        """``(X1, X0)``: the predictors of ``treated`` (labels; their mean) and ``donors`` (labels),
        each row divided by its standard deviation over these units (Synth's scaling)."""
        from .predictors import Predictors
        tv = self.table[list(treated)]
        pr = Predictors(X1=tv.mean(axis=1), X0=self.table[list(donors)], names=self.names,
                        windows=self.windows, treated_values=tv)
        X1s, X0s, _ = pr.scaled()
        return X1s.to_numpy(dtype=float), X0s.to_numpy(dtype=float)

    def solve(self, treated, donors, Z1, Z0):
        """Weights of the covariate backend with ``treated`` (labels) as the target and ``donors``
        (labels) as the pool, the outcome fit on ``Z1``/``Z0``.  Returns ``(w, bound_gap, certified)``
        (``bound_gap`` NaN for the penalized backend, certified by its KKT certificate)."""
        from .solvers.vsearch import penalized_certificate, penalized_weights, solve_bilevel
        X1, X0 = self.scaled(treated, donors)
        if self.backend == "penalized":
            # lambda stays at its fitted value (as a ridge refit keeps its penalty)
            w = penalized_weights(X1, X0, self.lam).weights
            return w, math.nan, bool(penalized_certificate(X1, X0, w, self.lam)[3])
        fit = solve_bilevel(X1, X0, Z1, Z0, backend=self.backend, seed=self.seed,
                            de_maxiter=self.settings.get("mscmt_maxiter", 60),
                            de_popsize=self.settings.get("mscmt_popsize", 10),
                            prune_shady=self.settings.get("mscmt_prune_shady", False))
        ok = bool(fit.attained or fit.bound_gap <= V_GAP_RTOL * max(abs(fit.loss_v), 1e-300))
        return fit.w, fit.bound_gap, ok

    def penalized_design(self):
        if self.backend != "penalized":
            return super().penalized_design()
        return self.scaled(self.treated_units, self.donors)

    def without(self, labels):
        """This model without the predictors ``labels``."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        keep = [n for n in self.names if n not in set(labels)]
        new.table = self.table.loc[keep]
        new.names = keep
        new.windows = {k: v for k, v in self.windows.items() if k in keep}
        return new

    def before_fake_date(self, later, label):
        later = set(later)
        late = [n for n in self.names if set(self.windows[n]) & later]
        if not late:
            return self, []
        shown = [str(self.origins.get(n, n)) for n in late]
        if len(late) == len(self.names):
            raise SpecificationError(
                f"fake_time {label!r}: every predictor of this fit is measured (partly) on or after it "
                f"({', '.join(shown)}), so none is left to fit on; choose a later fake_time, or predictors "
                f"with earlier windows")
        return self.without(late), shown

    def for_held_out(self, periods):
        held = set(periods)
        dropped = [n for n in self.names
                   if self.columns.get(n) == self.outcome and set(self.windows[n]) & held]
        if not dropped:
            return self, []
        shown = [str(self.origins.get(n, n)) for n in dropped]
        if len(dropped) == len(self.names):
            raise SpecificationError(
                "every predictor of this fit reads the outcome in a held-out block of the t-test "
                f"({', '.join(shown)}); use fewer folds, or predictors outside the last r K fitting periods")
        return self.without(dropped), shown

    def to_dict(self):
        out = super().to_dict()
        out["predictors"] = list(self.names)
        return out


class _PredictorEngine:
    def __init__(self, model, mask):
        self.model = model
        self.mask = np.asarray(mask, dtype=bool)

    def fit(self, k, D, y=None):
        m = self.model
        if y is not None:
            return m.refit(k, D, self.mask, y=y)
        if 0 in D and len(m.treated_units) > 1:
            raise SolverError("a treated group's mean cannot be a donor of a covariate refit")
        Z = m.Z
        w, bgap, ok = m.solve(m.labels([k]), m.labels(D), Z[self.mask, k], Z[self.mask][:, D])
        w = np.asarray(w, dtype=float)
        gap = Z[:, k] - Z[:, D] @ w
        gap.setflags(write=False)
        return Refit(D, w, gap, certified=bool(ok), n_uncertified=int(not ok),
                     bound_gap=float(bgap) if np.isfinite(bgap) else math.nan)


# ------------------------------------------------------------------------------------------------
# ridge-augmented SCM
# ------------------------------------------------------------------------------------------------
def unit_covariate_means(panel, covariates, periods=None):
    """Per-unit means of the covariate columns over the pre-period (or ``periods``), missing cells
    skipped, as augsynth does.  Returns ``(Z_donors (J, k), z_treated (k,))``."""
    if panel.source is None:
        raise SpecificationError(
            "covariates need the long data with the covariate columns; this panel was built from "
            "user-level events (panel_from_events), which keeps only the outcome")
    src = panel.source
    missing = [c for c in covariates if c not in src.columns]
    if missing:
        raise DataError(f"covariate column(s) {missing} not found; columns: {list(src.columns)}")
    pre_times = set(panel.times[: panel.T0]) if periods is None else set(periods)
    rows = src[src[panel.time].isin(pre_times)]
    try:
        means = rows.groupby(panel.unit)[list(covariates)].mean(numeric_only=False)
    except TypeError:
        raise DataError(f"covariates {list(covariates)} must be numeric") from None
    units = list(panel.donors) + list(panel.treated_units)
    means = means.reindex(units)
    _check_covered(means)
    Zd = means.loc[list(panel.donors)].to_numpy(dtype=float)
    zt = means.loc[list(panel.treated_units)].to_numpy(dtype=float).mean(axis=0)
    return Zd, zt


def _check_covered(means):
    if means.isna().any().any():
        c = means.columns[means.isna().any()][0]
        u = means.index[means[c].isna()][0]
        raise DataError(f"covariate {c!r} has no value for unit {u!r} in the pre-period")


class RidgeModel(FitModel):
    """Ridge-augmented SCM (augsynth's Ridge ASCM): the fitted penalty ``lam`` and, with covariates,
    their unit means over the pre-period and their per-period values (for refits on other periods),
    read once at fit time."""

    kind = "ridge"
    simplex = False
    description = "ridge-augmented fits (augment='ridge')"
    scpi_design = ("ridge-augmented fit: the localised set is {sum x = 1, ||x||_2 <= ||w_hat||_2 + rho} "
                   "(scpi's ridge-type constraint) instead of the simplex")

    def __init__(self, panel, estimator, fit_mask, backend, lam, cov_means=None):
        super().__init__(panel, estimator, fit_mask, backend)
        settings = self.settings
        self.lam = float(lam)
        self.residualize = bool(settings.get("residualize"))
        self.fixedeff = bool(settings.get("fixedeff"))
        #: the penalty was chosen by cross-validation (not given): refits may choose it again
        self.lambda_from_cv = settings.get("ridge_lambda") is None
        self._cov = None
        self._cube = None
        if cov_means is not None:
            Zd, zt = cov_means
            self._cov = _readonly(np.vstack([zt[None, :], Zd]))  # rows in Z's column order
            self._cube = self._covariate_cube(panel, list(settings.get("covariates") or ()))

    @staticmethod
    def _covariate_cube(panel, covariates):
        """(C, N, T) per-period covariate values of ``[each treated unit, donors]`` (NaN: missing)."""
        src = panel.source
        units = list(panel.treated_units) + list(panel.donors)
        cube = np.full((len(covariates), len(units), len(panel.times)), np.nan)
        rows = src[src[panel.unit].isin(units) & src[panel.time].isin(set(panel.times))]
        ui = pd.Index(units).get_indexer(rows[panel.unit])
        ti = panel.times.get_indexer(rows[panel.time])
        for c, col in enumerate(covariates):
            cube[c, ui, ti] = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=float)
        cube.setflags(write=False)
        return cube

    def covariates_over(self, mask):
        """Covariate rows (``Z``'s column order) averaged over the periods in ``mask``: the fit's
        own means when ``mask`` is the fit's periods, else from the per-period values."""
        if self._cov is None:
            return None
        if np.array_equal(mask, self.fit_mask):
            return self._cov
        nt = len(self.treated_units)
        with np.errstate(invalid="ignore"):
            sums = np.nansum(self._cube[:, :, mask], axis=2)
            counts = np.sum(~np.isnan(self._cube[:, :, mask]), axis=2)
            means = sums / counts  # (C, N)
        units = list(self.treated_units) + list(self.donors)
        if (counts == 0).any():
            c, u = np.argwhere(counts == 0)[0]
            raise DataError(f"covariate {self.settings['covariates'][c]!r} has no value for unit "
                            f"{units[u]!r} in the fitting periods of a refit")
        zt = means[:, :nt].T.mean(axis=0)
        Zd = means[:, nt:].T
        return np.vstack([zt[None, :], Zd])

    def engine(self, mask=None, ridge_cv=False, **options):
        return _RidgeEngine(self, self.fit_mask if mask is None else mask, ridge_cv)

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_ridge(panel)

    def summary_rows(self, d):
        rows = [
            ("Ridge lambda", f"{d['ridge_lambda']:.4g}" + ("  (CV, one-SE rule)" if d.get("lambda_path") else "")),
            ("L2 imbalance (scaled)", f"{d['l2_imbalance']:.4g} ({d['scaled_l2_imbalance']:.3f})"),
        ]
        if "covariate_l2_imbalance" in d:
            rows.append(("Covariate L2 imbalance (scaled)",
                         f"{d['covariate_l2_imbalance']:.4g} ({d['scaled_covariate_l2_imbalance']:.3f})"))
        return rows + [
            ("L2 imbalance of SCM", f"{d['l2_imbalance_scm']:.4g}"),
            ("Estimated bias (ASCM-SCM)", f"{d['estimated_bias']:+.4g}"),
            ("Extrapolation", f"{d['extrapolation']:.4g}  (weights sum {d['weights_sum']:.3f}, "
                              f"{d['n_negative_weights']} negative)"),
        ]

    def schema_extras(self, d):
        from .schema import floats
        path = d.get("lambda_path")
        if path is not None:
            path = {k: floats(path[k]) for k in ("lambda", "cv_error", "cv_se")}
        w = d.get("weights_scm") or {}
        return {"lambda_path": path, "weights_scm": {"names": [str(k) for k in w],
                                                     "values": [float(v) for v in w.values()]}}

    def resample_fitter(self):
        if self._cov is not None:
            raise SpecificationError(
                "the cluster bootstrap rebuilds only the outcome cells from the users drawn; this ridge fit "
                "also uses covariates, unit-level columns a user resample cannot rebuild: fit without "
                "covariates, or use conformal() or jackknife_plus()")
        return _RidgeFitter(self.lam, self.residualize, self.fixedeff)

    def refit_arrays(self, Y=None, y=None):
        from .solvers.ridge import fit_ridge_ascm
        stats = {"n_fits": 0, "n_uncertified": 0}
        cov = self._cov
        Zd = None if cov is None else cov[1:]
        zt = None if cov is None else cov[0]

        def refit(Yd, yt):
            fit = fit_ridge_ascm(Yd, yt, len(yt), Z_donors=Zd, z_treated=zt, residualize=self.residualize,
                                 fixedeff=self.fixedeff, lam=self.lam)
            stats["n_fits"] += fit.n_fits
            stats["n_uncertified"] += fit.n_uncertified
            return fit.counterfactual
        refit.stats = stats
        return refit

    def to_dict(self):
        out = super().to_dict()
        out.update(ridge_lambda=self.lam, lambda_from_cv=self.lambda_from_cv)
        return out


def _ridge_correction(Yd, yk, mask, w_base, lam=None, base_w_fixed=True):
    """Ridge augmentation of the base weights ``w_base`` (Ben-Michael, Feller & Rothstein 2021, for
    any base weights): the pre-period imbalance on the periods ``mask``, centred by the donors' mean
    per period (as augsynth), corrected by ``A (A'A + lam I)^-1 (a - A'w)``.  ``lam=None``: chosen by
    augsynth's leave-one-period-out CV and one-SE rule with the base weights held fixed in every fold.
    Returns ``(w, lam, cv)`` with ``cv`` = ``(lambdas, errors, se, info)`` or None."""
    from .solvers.ridge import CVFolds, cv_lambda_extended, ridge_augment
    mu = Yd.mean(axis=1)
    A = (Yd[mask] - mu[mask, None]).T
    a = yk[mask] - mu[mask]
    cv = None
    if lam is None:
        lam, lambdas, me, se, info = cv_lambda_extended(A, a, folds=CVFolds(A, a, base_w=w_base))
        cv = (lambdas, me, se, info)
    return ridge_augment(A, a, np.asarray(w_base, dtype=float), lam), float(lam), cv


class AugmentedModel(FitModel):
    """Ridge augmentation of another fit's weights (``augment="ridge"`` with ``backend="malo"``,
    ``"mscmt"`` or ``"penalized"``): the base model (a covariate fit, or the penalized fit) and the
    fitted ridge penalty.  A refit is the base model's refit, then the ridge correction of its
    weights at the fitted penalty (or at one chosen again by cross-validation when asked)."""

    kind = "ridge"
    simplex = False
    scpi_design = RidgeModel.scpi_design

    def __init__(self, panel, estimator, fit_mask, backend, lam, base):
        super().__init__(panel, estimator, fit_mask, backend)
        self.lam = float(lam)
        self.base = base
        self.lambda_from_cv = self.settings.get("ridge_lambda") is None

    @property
    def description(self):
        return f"ridge augmentation of {self.base.description}"

    def _with_base(self, base):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.base = base
        return new

    def engine(self, mask=None, ridge_cv=False, **options):
        return _AugmentedEngine(self, self.fit_mask if mask is None else mask, ridge_cv, mask is None)

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_ridge_on_base(panel)

    def before_fake_date(self, later, label):
        base, dropped = self.base.before_fake_date(later, label)
        return (self if base is self.base else self._with_base(base)), dropped

    def for_held_out(self, periods):
        base, dropped = self.base.for_held_out(periods)
        return (self if base is self.base else self._with_base(base)), dropped

    def summary_rows(self, d):
        return [("Ridge lambda", f"{d['ridge_lambda']:.4g}" + ("  (CV, one-SE rule, base fixed)"
                                                              if d.get("lambda_path") else "")),
                ("Base fit", f"{d['base']['backend']} (loss_v {d['base']['loss_v']:.6g})"),
                ("L2 imbalance (base / ridge)", f"{d['l2_imbalance_base']:.4g} / {d['l2_imbalance']:.4g}"),
                ("Extrapolation", f"{d['extrapolation']:.4g}  ({d['n_negative_weights']} negative weights)")]

    def schema_extras(self, d):
        from .schema import floats
        path = d.get("lambda_path")
        if path is not None:
            path = {k: floats(path[k]) for k in ("lambda", "cv_error", "cv_se")}
        return {"lambda_path": path}

    def refit_arrays(self, Y=None, y=None):
        if not isinstance(self.base, PenalizedOutcomeModel):
            raise SpecificationError(
                f"refits on other outcome arrays are not defined for {self.description}: its base weights come "
                f"from predictors measured in pre-treatment windows, which the arrays do not carry")
        stats = {"n_fits": 0, "n_uncertified": 0}

        def refit(Yd, yt):
            Yd = np.asarray(Yd, dtype=float)
            yt = np.asarray(yt, dtype=float)
            wb, ok, _ = self.base.solve(yt, Yd)
            w, _, _ = _ridge_correction(Yd, yt, np.ones(len(yt), dtype=bool), wb, self.lam)
            stats["n_fits"] += 1
            stats["n_uncertified"] += not ok
            return Yd @ w
        refit.stats = stats
        return refit

    def resample_fitter(self):
        if not isinstance(self.base, PenalizedOutcomeModel):
            raise SpecificationError(
                f"the cluster bootstrap rebuilds only the outcome cells from the users drawn; {self.description} "
                f"uses covariates, unit-level columns a user resample cannot rebuild")
        return _AugmentedPenalizedFitter(self.base.lam, self.lam)

    def to_dict(self):
        out = super().to_dict()
        out.update(ridge_lambda=self.lam, lambda_from_cv=self.lambda_from_cv, base=self.base.to_dict())
        return out


class _AugmentedPenalizedFitter:
    """Ridge augmentation of the penalized fit, both penalties fixed, on resampled outcomes."""

    def __init__(self, lam_pen, lam_ridge):
        self.lam_pen, self.lam_ridge = float(lam_pen), float(lam_ridge)
        self.description = (f"ridge ({self.lam_ridge:.4g}) on the penalized fit ({self.lam_pen:.4g}), "
                            f"both at their fitted values")

    def __call__(self, X, y, fit_mask):
        from .solvers.vsearch import penalized_certificate, penalized_weights
        wb = penalized_weights(y[fit_mask], X[fit_mask], self.lam_pen).weights
        w, _, _ = _ridge_correction(X, y, fit_mask, wb, self.lam_ridge)
        return X @ w, bool(penalized_certificate(y[fit_mask], X[fit_mask], wb, self.lam_pen)[3])


class _AugmentedEngine:
    def __init__(self, model, mask, ridge_cv, own):
        self.model = model
        self.mask = np.asarray(mask, dtype=bool)
        self.ridge_cv = bool(ridge_cv)
        base = model.base
        if own:  # the fit's own periods: the base keeps its own (its fit_window)
            bmask = None
        else:  # other periods: the base's fitting periods within them
            inter = self.mask & base.fit_mask
            bmask = inter if inter.sum() >= 2 else self.mask
        self.base_engine = base.engine(bmask)

    def fit(self, k, D, y=None):
        m = self.model
        D = np.asarray(D, dtype=int)
        r = self.base_engine.fit(k, D, y=y)
        Z = m.Z
        yk = Z[:, k] if y is None else np.asarray(y, dtype=float)
        Yd = Z[:, D]
        w, _, _ = _ridge_correction(Yd, yk, self.mask, r.weights, None if self.ridge_cv else m.lam)
        gap = yk - Yd @ w
        gap.setflags(write=False)
        return Refit(D, np.asarray(w, dtype=float), gap, certified=r.certified, n_fits=r.n_fits,
                     n_uncertified=r.n_uncertified, kkt_violation=r.kkt_violation, bound_gap=r.bound_gap)


class DemeanedModel(RidgeModel):
    """augsynth's ``progfunc = "none"`` fits that are not plain outcome matching: with
    ``fixedeff = TRUE`` the simplex synthetic control of the unit-demeaned outcomes (every unit less
    its pre-period mean, the counterfactual re-levelled by the treated unit's pre-period mean), and
    with covariates after ``|`` the simplex fit of outcomes and covariates (stacked, or
    residualized).  It is the ridge model's machinery with no ridge correction (``lam = inf``;
    ``augment="ridge", ridge_lambda=math.inf`` from Python), so every refit treats the data the same
    way; its weights are on the simplex (residualized: plus the covariate-balancing correction)."""

    description = "augsynth-style SCM (progfunc = \"none\": fixedeff=True or covariates)"
    scpi_design = None

    @property
    def simplex(self):
        return not self.residualize  # residualized: the weights carry the covariate correction

    @classmethod
    def fit_panel(cls, estimator, panel, backend):
        return estimator._fit_ridge(panel, demeaned=bool(estimator.fixedeff))

    def summary_rows(self, d):
        rows = []
        if d.get("fixedeff"):
            rows.append(("Demeaned", "every unit less its pre-period mean (augsynth's fixedeff = TRUE, no ridge)"))
        rows.append(("L2 imbalance (scaled)", f"{d['l2_imbalance']:.4g} ({d['scaled_l2_imbalance']:.3f})"))
        if "covariate_l2_imbalance" in d:
            rows.append(("Covariate L2 imbalance (scaled)",
                         f"{d['covariate_l2_imbalance']:.4g} ({d['scaled_covariate_l2_imbalance']:.3f})"))
        return rows

    def schema_extras(self, d):
        return {}

    def to_dict(self):
        out = super().to_dict()
        out.pop("ridge_lambda", None)
        out.pop("lambda_from_cv", None)
        out["demeaned"] = True
        return out


class _RidgeEngine:
    def __init__(self, model, mask, ridge_cv):
        self.model = model
        self.mask = np.asarray(mask, dtype=bool)
        self.ridge_cv = bool(ridge_cv)
        self.cov = model.covariates_over(self.mask)
        # fit_ridge_ascm wants the fitting periods first: order the rows that way
        self.order = np.concatenate([np.flatnonzero(self.mask), np.flatnonzero(~self.mask)])
        self.inverse = np.argsort(self.order)

    def fit(self, k, D, y=None):
        from .solvers.ridge import fit_ridge_ascm
        m = self.model
        o = self.order
        Z = m.Z
        yk = Z[:, k] if y is None else np.asarray(y, dtype=float)
        cov = self.cov
        fit = fit_ridge_ascm(Z[o][:, D], yk[o], int(self.mask.sum()),
                             Z_donors=None if cov is None else cov[D],
                             z_treated=None if cov is None else cov[k],
                             lam=None if self.ridge_cv else m.lam, residualize=m.residualize,
                             fixedeff=m.fixedeff)
        cf = fit.counterfactual[self.inverse]
        gap = yk - cf
        gap.setflags(write=False)
        # one refit (its simplex fits that failed their certificate -- the base fit's and the CV
        # folds' -- are counted in n_uncertified)
        return Refit(D, np.asarray(fit.w, dtype=float), gap, certified=fit.n_uncertified == 0,
                     n_fits=1, n_uncertified=int(fit.n_uncertified))
