"""The synthetic-control estimator: settings in, an immutable result out."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from collections.abc import Iterable, Mapping

from .._validate import _py, check_n_jobs, check_seed, check_window
from ..errors import DataError, SolverError, SpecificationError
from ..inference._undefined import say
from ..panel import Panel, coerce_period, period_key
from .._numerics import rms
from ..models import (V_GAP_RTOL, OutcomeModel, PredictorModel, RidgeModel, fit_outcome_only, model_class,
                      unit_covariate_means)
from ..results import SCResult
from ..solvers.simplex import simplex_ls

from .base import Settings

__all__ = ["SyntheticControl", "fit_outcome_only"]

_BACKENDS = ("auto", "outcome-only", "mscmt", "malo", "penalized")
_PARAMS = ("covariates", "outcome_lags", "predictor_window", "fit_window", "backend", "augment", "ridge_lambda",
           "residualize", "fixedeff", "seed", "n_jobs", "canonical_v", "mscmt_maxiter", "mscmt_popsize",
           "mscmt_prune_shady", "penalized_cv", "penalized_lambda")


def _check_pre_treatment(panel: Panel, what, given, periods, is_range):
    """Raise unless ``periods`` (converted; a ``(start, end)`` pair when ``is_range``, else a
    period or a list of periods) all come before the treatment."""
    times, T0 = panel.times, panel.T0
    tt = panel.treatment_time
    key = period_key(times)
    post = list(times[T0:])
    if is_range:
        lo, hi = periods
        bad = [p for p in post if key(lo) <= key(p) <= key(hi)]
        if not bad and key(hi) >= key(tt):
            bad = [hi]
    else:
        vals = periods if isinstance(periods, list) else [periods]
        bad = [v for v in vals if key(v) >= key(tt)]
    if bad:
        shown = ", ".join(repr(_py(b)) for b in bad[:6]) + (f", ... ({len(bad)} in all)" if len(bad) > 6 else "")
        last = f"; the last pre-treatment period is {_py(times[T0 - 1])!r}" if T0 >= 1 else ""
        raise SpecificationError(
            f"{what} {given!r} reaches into the post-treatment period: {shown} "
            f"{'is' if len(bad) == 1 else 'are'} at or after the treatment at {panel.time}={_py(tt)!r}"
            f"{last}. Predictors and the fit may use pre-treatment periods only (post-treatment "
            f"data would shape the weights)")


def _flag_lambda_grid(fit, diag):
    """Record in ``diag`` (and say out loud) a cross-validated ridge penalty whose grid had to be
    extended beyond augsynth's, or that is still on the edge of the extended grid."""
    info = fit.lambda_grid_info
    lams = fit.lambdas
    diag["lambda_grid_extended"] = {"below": info["extended_below"], "above": info["extended_above"]}
    # what puts a choice on each edge (the triggers of cv_lambda_extended): at the bottom the CV error
    # is still falling; at the top the one-SE band of the minimum reaches it (the one-SE rule picks
    # the largest lambda in the band), or without that rule the error still falls towards it
    falling = "the CV error is lowest there, still falling at the grid's end"
    top = ("the one-standard-error band of the CV minimum reaches the grid's top, and the one-SE rule "
           "picks the largest lambda in the band" if getattr(fit, "min_1se", True) else
           "the CV error is lowest there, still falling towards the grid's end")
    from ..inference._undefined import flag_grid_edge
    flag_grid_edge("lambda", fit.lam, lams, diag, who="ridge", where="diagnostics",
                   why={"lower": falling + ", extended as far as it goes (lam_max x 1e-14)",
                        "upper": top + ", extended as far as it goes (lam_max x 1e8)"},
                   consequence=f"CV does not determine the penalty, and the weights (sum {fit.w.sum():.3g}, "
                               f"range [{fit.w.min():.3g}, {fit.w.max():.3g}]) rest on the grid's edge",
                   advice="Set ridge_lambda explicitly")
    if diag["lambda_at_grid_edge"] is None and (info["extended_below"] or info["extended_above"]):
        n = len(lams) - info["extended_below"] - info["extended_above"]
        orig = lams[info["extended_above"]:info["extended_above"] + n]
        edge = orig.min() if info["extended_below"] else orig.max()
        trigger = ("with the CV error still falling there" if info["extended_below"] else
                   "with the one-standard-error band of the CV minimum reaching it"
                   if getattr(fit, "min_1se", True) else "with the CV error still falling towards it")
        say(f"ridge: the cross-validated lambda was on the {'lower' if info['extended_below'] else 'upper'} edge "
            f"of augsynth's grid ({edge:.4g}, where augsynth stops) {trigger}; the grid was "
            f"extended by {info['extended_below'] + info['extended_above']} points to "
            f"[{lams.min():.3g}, {lams.max():.3g}] and lambda = {fit.lam:.4g} chosen inside it "
            f"(diagnostics['lambda_grid_extended'])", diag)


# the failure modes of a synthetic control a user should hear about at fit time (the seed's "When
# synthetic control fails"): a donor doing the whole job, a pre-period fit worse than a flat line,
# more free weights than the pre-period can pin down
DOMINANT_WEIGHT = 0.8


def _with_fit_checks(res):
    """``res`` with the fit-level checks in its diagnostics -- ``pre_r2``, ``max_weight``,
    ``donors_per_pre_period``, ``active_per_pre_period`` -- and a :class:`~synthcontrol.SynthWarning`
    for each that fails (recorded in ``diagnostics["warnings"]`` and shown by ``summary()``)."""
    import dataclasses

    from .._frozen import freeze
    p = res.panel
    d = dict(res.diagnostics)
    mask = np.asarray(res.fit_mask, dtype=bool)
    y = np.asarray(p.y_treated, dtype=float)[mask]
    g = y - np.asarray(res.cf, dtype=float)[mask]
    sst = float(np.sum((y - y.mean()) ** 2))
    d["pre_r2"] = 1.0 - float(g @ g) / sst if sst > 0 else math.nan
    w = np.asarray(res.w, dtype=float)
    T0 = int(mask.sum())
    d["max_weight"] = float(np.max(np.abs(w))) if w.size else math.nan
    d["donors_per_pre_period"] = len(p.donors) / T0
    d["active_per_pre_period"] = int(np.count_nonzero(np.abs(w) > 1e-12)) / T0
    said = []
    if res.model.simplex and d["max_weight"] >= DOMINANT_WEIGHT:
        top = p.donors[int(np.argmax(np.abs(w)))]
        said.append(f"one donor carries {100 * d['max_weight']:.0f}% of the weight ({_py(top)!r}): it does "
                    f"almost the whole job, so ask whether it is truly comparable to the treated unit "
                    f"(diagnostics['max_weight']; res.leave_one_out() shows the estimate without it)")
    if math.isfinite(d["pre_r2"]) and d["pre_r2"] < 0:
        said.append(f"the pre-period fit is worse than a flat line at the treated series' own mean (pre-period "
                    f"R^2 {d['pre_r2']:.2f}): the synthetic control does not track the treated unit before the "
                    f"treatment, which may lie outside the donors' convex hull or be mostly noise; read the "
                    f"effect with care (diagnostics['pre_r2'], res.plot('trajectory'))")
    if d["active_per_pre_period"] >= 0.8:
        said.append(f"{int(round(d['active_per_pre_period'] * T0))} donors have weight against {T0} pre-treatment "
                    f"periods: the weights can fit the pre-period's noise (overfitting); check "
                    f"res.leave_one_out() and res.in_time_placebo()")
    for m in said:
        say(m, d)
    return dataclasses.replace(res, diagnostics=freeze(d))


class SyntheticControl(Settings):
    """Synthetic control estimator.

    Following scikit-learn's contract, ``__init__`` only stores the settings;
    :meth:`fit` validates them against a :class:`~synthcontrol.Panel` and returns
    an immutable :class:`~synthcontrol.results.SCResult`.

    Parameters
    ----------
    covariates : list of str or dict, optional
        Covariate predictors.  A list: each column averaged over
        ``predictor_window``.  A dict ``{column: window}``: Abadie's special
        predictors, each averaged over its own window (a ``(start, end)`` pair,
        a list of periods or one period).  Read from the data the
        :class:`~synthcontrol.Panel` was built from.
    outcome_lags : list or dict, optional
        Outcome values as predictors: a list of periods (one predictor each),
        or ``{label: window}`` for window means.
    predictor_window : (start, end), optional
        Averaging window of covariates given as a list (Synth's
        ``time.predictors.prior``); default: the whole pre-period.
    fit_window : (start, end) period labels, optional
        The periods whose outcomes the weights are fitted on (inclusive both
        ends, all before the treatment; Synth's ``time.optimize.ssr``).
        Default: the whole pre-period.

        Every period named in ``covariates`` windows, ``outcome_lags``,
        ``predictor_window`` and ``fit_window`` is converted to the panel's
        period type as ``treatment_time`` is (``"1980"`` for integer years),
        and must lie before the treatment: a window or lag that reaches the
        treatment period or later would let post-treatment outcomes choose
        the weights, and raises :class:`~synthcontrol.SpecificationError`
        naming the argument and the post-treatment periods.
    backend : {"auto", "outcome-only", "malo", "mscmt", "penalized"}
        ``"auto"``: the outcome-only simplex fit without predictors; with
        predictors, the certified bilevel search (the lower-bound certificate
        first, then corners and a seeded multi-start local search).
        ``"malo"``: certificate, corner solutions and local descent (Malo et
        al. 2024).  ``"mscmt"``: seeded differential evolution over log10 V with
        the exact inner solve (Becker & Kloessner 2018).  ``"penalized"``:
        Abadie & L'Hour (2021): the unique, sparse weights of
        ``||X1 - X0 W||^2 + lambda sum_j W_j ||X1 - X0_j||^2`` on the scaled
        predictors, or on the outcomes over ``fit_window`` when no covariates
        or lags are given; ``lambda`` by ``penalized_cv`` (see
        ``docs/penalized.md``).  Every bilevel fit reports
        ``loss_v``, ``loss_w``, ``lower_bound`` and the proven ``bound_gap``
        in :attr:`SCResult.diagnostics`; see ``docs/covariates.md``.
    augment : {None, "ridge"}
        ``"ridge"``: ridge-augmented SCM as augsynth's ``progfunc = "Ridge"``
        (Ben-Michael, Feller & Rothstein 2021); ``covariates`` are then unit
        means over the pre-period.  See ``docs/augmented.md``.
    ridge_lambda : float, optional
        The ridge penalty; default: chosen by cross-validation (augsynth's
        one-standard-error rule), with the grid extended when the choice sits
        on its edge.
    residualize, fixedeff : bool
        augsynth's options of the same names (``augment="ridge"`` only).
    seed : int
        Seed for any randomised step (kept for reproducibility of inference
        defaults): a whole number >= 0 (checked at fit time).
    n_jobs : int
        Workers for the resampling loops (results do not depend on it):
        a whole number >= 1, or -1 for every core (-2 all but one, ...);
        checked at fit time.
    canonical_v : {False, "min.loss.w", "max.order"}
        Which predictor weights a covariate fit reports as :attr:`SCResult.V`.
        V is often not identified: many V make the same donor weights optimal.
        ``False`` (default): the V the search found.  ``"min.loss.w"``: the
        one with the smallest predictor loss; ``"max.order"``: the one whose
        smallest weight is largest (MSCMT's ``determine_v``).  W, the outcome
        fit and the effects do not change; ``loss_w`` is the reported V's, and
        ``diagnostics["v_reported"]`` names it.  Covariate fits with the
        ``"auto"``, ``"malo"`` or ``"mscmt"`` backends only.
    mscmt_maxiter, mscmt_popsize : int
        The ``"mscmt"`` backend's differential-evolution budget: generations
        (default 60) and population size per predictor (default 10; scipy's
        ``popsize``).  A larger budget searches longer before the local polish
        and the certificate; the answer's bound gap says how far it may be from
        the optimum either way.  Only with ``backend="mscmt"``.
    mscmt_prune_shady : bool
        ``True``: the ``"mscmt"`` search runs on the "sunny" donors only -- an
        LP per donor proves the others carry no weight in the predictor fit
        for any V (Becker & Kloessner 2018) -- and its best V is then solved
        and certified on the whole pool.  ``False`` (default): search the
        whole pool.  Off by default because, measured here, it saves no time
        (Prop 99, Basque, Germany, and 200 donors) and our inner problem breaks
        ties toward the outcome fit, where a shady donor can carry weight, so
        the pruned search is not the same search.  Only with
        ``backend="mscmt"``.
    penalized_cv : {"holdout", "loo", "pensynth"}
        How the ``"penalized"`` backend chooses ``lambda`` (on 0 and 25 values
        from 1e-4 to 100; the penalty is scale-free).  ``"holdout"``
        (default): with covariates, weights on the predictors scored on the
        fitting periods' outcomes; without, weights on the first 70% of the
        fitting periods scored on the last 30%.  ``"loo"``: the paper's rule,
        each donor predicted from the others and scored on its post-period
        outcomes (the treated unit takes no part).  ``"pensynth"``: the
        holdout on pensynth's ``cv_pensynth`` grid.  ``lambda`` is reported in
        the paper's scale (``diagnostics["lambda"]``; pensynth's is half:
        ``"lambda_pensynth"``).  Refits for inference keep the fitted lambda.
    penalized_lambda : float, optional
        Fix the ``"penalized"`` backend's ``lambda`` (>= 0) instead of
        choosing it.
    """

    _PARAMS = _PARAMS

    def __init__(self, covariates=None, outcome_lags=None, predictor_window=None,
                 fit_window=None, backend="auto", augment=None, ridge_lambda=None,
                 residualize=False, fixedeff=False, seed=0, n_jobs=1, canonical_v=False,
                 mscmt_maxiter=60, mscmt_popsize=10, mscmt_prune_shady=False, penalized_cv="holdout",
                 penalized_lambda=None):
        self.covariates = covariates
        self.outcome_lags = outcome_lags
        self.predictor_window = predictor_window
        self.fit_window = fit_window
        self.backend = backend
        self.augment = augment
        self.ridge_lambda = ridge_lambda
        self.residualize = residualize
        self.fixedeff = fixedeff
        self.seed = seed
        self.n_jobs = n_jobs
        self.canonical_v = canonical_v
        self.mscmt_maxiter = mscmt_maxiter
        self.mscmt_popsize = mscmt_popsize
        self.mscmt_prune_shady = mscmt_prune_shady
        self.penalized_cv = penalized_cv
        self.penalized_lambda = penalized_lambda

    def _resolve_backend(self) -> str:
        if self.backend not in _BACKENDS:
            raise SpecificationError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")
        has_predictors = bool(self.covariates) or bool(self.outcome_lags)
        if self.augment is not None:
            return self._resolve_augment()
        if self.residualize:
            raise SpecificationError("residualize=True needs augment='ridge' (it residualizes the ridge "
                                     "model's covariates)")
        if self.fixedeff:
            # augsynth's progfunc = "none", fixedeff = TRUE: the simplex fit on unit-demeaned outcomes
            if has_predictors:
                raise SpecificationError("fixedeff=True without augment is the synthetic control of the unit-"
                                         "demeaned outcomes; covariates/outcome_lags are not used by it: drop them "
                                         "or use augment='ridge'")
            if self.backend not in ("auto", "outcome-only"):
                raise SpecificationError(f"fixedeff=True fits the outcome-only simplex on demeaned outcomes; "
                                         f"backend={self.backend!r} cannot be combined with it")
            if self.fit_window is not None:
                raise SpecificationError("fit_window is not supported with fixedeff=True (the unit means are "
                                         "over the whole pre-period, as augsynth's)")
            return "demeaned"  # (augment="ridge", ridge_lambda=inf takes covariates too)
        if self.backend == "outcome-only" and has_predictors:
            raise SpecificationError(
                "backend='outcome-only' ignores predictors, but covariates/outcome_lags were given; "
                "use backend='auto' (or 'malo', 'mscmt', 'penalized') to use them, or drop them")
        if self.backend == "penalized":
            return "penalized"  # with or without predictors (the outcomes then)
        if self.backend in ("mscmt", "malo") and not has_predictors:
            raise SpecificationError(
                f"backend={self.backend!r} weights predictors, but no covariates or outcome_lags "
                f"were given; add them, or use backend='auto' for the outcome-only fit")
        if not has_predictors:
            return "outcome-only"
        return "auto" if self.backend == "auto" else self.backend

    def _resolve_augment(self) -> str:
        if self.augment != "ridge":
            raise SpecificationError(f"augment must be None or 'ridge', got {self.augment!r}")
        if self.backend in ("malo", "mscmt", "penalized"):
            # the ridge correction of that backend's weights (Ben-Michael et al. allow any base weights)
            for flag in ("residualize", "fixedeff"):
                if getattr(self, flag):
                    raise SpecificationError(
                        f"{flag}=True is augsynth's option for the ridge fit of the outcome-only SCM; with "
                        f"backend={self.backend!r} the ridge corrects that backend's weights: drop {flag}")
            if self.ridge_lambda is not None and not (isinstance(self.ridge_lambda, (int, float))
                                                      and not isinstance(self.ridge_lambda, bool)
                                                      and math.isfinite(self.ridge_lambda) and self.ridge_lambda >= 0):
                raise SpecificationError(f"ridge_lambda must be a finite number >= 0 or None, got "
                                         f"{self.ridge_lambda!r}")
            return "ridge-on-base"
        if self.backend not in ("auto", "outcome-only"):
            raise SpecificationError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")
        if self.outcome_lags:
            raise SpecificationError("outcome_lags are not used by augment='ridge' (it matches every "
                                     "pre-period outcome already); drop them")
        if self.covariates is not None and (isinstance(self.covariates, (str, dict))
                                            or not all(isinstance(c, str) for c in self.covariates)):
            raise SpecificationError(
                "with augment='ridge', covariates is a list of column names (each averaged over the "
                "pre-period, as augsynth does); windows per covariate are not supported")
        if self.residualize and not self.covariates:
            raise SpecificationError("residualize=True needs covariates")
        if self.fit_window is not None:
            raise SpecificationError("fit_window is not supported with augment='ridge' (augsynth fits "
                                     "on the whole pre-period)")
        if self.predictor_window is not None:
            raise SpecificationError("predictor_window is not used by augment='ridge': its covariates are unit "
                                     "means over the whole pre-period (as augsynth's); drop predictor_window")
        if self.ridge_lambda is not None and not (isinstance(self.ridge_lambda, (int, float))
                                                  and not isinstance(self.ridge_lambda, bool)
                                                  and self.ridge_lambda >= 0):
            raise SpecificationError(f"ridge_lambda must be a number >= 0 or None, got {self.ridge_lambda!r}")
        return "ridge"

    def _fit_ridge_on_base(self, panel: Panel) -> SCResult:
        """``augment="ridge"`` with ``backend="malo" | "mscmt" | "penalized"``: that backend's fit, then
        the ridge correction of its weights on the pre-period outcomes (Ben-Michael, Feller & Rothstein
        2021 allow any base weights).  The penalty: ``ridge_lambda``, or augsynth's leave-one-period-out
        CV with the one-SE rule, the base weights held fixed in every fold."""
        from ..models import AugmentedModel, _ridge_correction
        base_est = self.clone()
        base_est.augment = None
        base_est.ridge_lambda = None
        import warnings
        from ..errors import SynthWarning
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", SynthWarning)
            base = base_est.fit(panel)
        for m in said:  # the base fit's warnings, said as the base's (its weights are not the result's)
            if issubclass(m.category, SynthWarning):
                warnings.warn(f"the base fit (backend={self.backend!r}, before the ridge correction): {m.message}",
                              SynthWarning, stacklevel=3)
            else:
                warnings.warn_explicit(m.message, m.category, m.filename, m.lineno)
        wb = base.weights.reindex(panel.donors).to_numpy(dtype=float)
        y = np.asarray(panel.y_treated, dtype=float)
        Yd = np.asarray(panel.X_donors, dtype=float)
        pre = ~np.asarray(panel.post, dtype=bool)
        if pre.sum() < 3 and self.ridge_lambda is None:
            raise SpecificationError("cross-validating the ridge penalty needs >= 3 pre-treatment periods; "
                                     "give ridge_lambda")
        w, lam, cv = _ridge_correction(Yd, y, pre, wb, None if self.ridge_lambda is None else float(self.ridge_lambda))
        cf = Yd @ w
        post = panel.post
        bd = base.diagnostics
        l2 = math.sqrt(float(np.sum((y[pre] - cf[pre]) ** 2)))
        l2_base = math.sqrt(float(np.sum((y[pre] - Yd[pre] @ wb) ** 2)))
        diag = {
            "solver": f"{bd.get('solver')} + ridge augmentation (base weights fixed in the CV)",
            "augment": "ridge",
            "backend": f"{self.backend} + ridge",
            "ridge_lambda": lam,
            "lambda_path": None if cv is None else {"lambda": cv[0].tolist(), "cv_error": cv[1].tolist(),
                                                    "cv_se": cv[2].tolist()},
            "l2_imbalance": l2,
            "l2_imbalance_base": l2_base,
            "estimated_bias": float(np.mean(cf[post] - Yd[post] @ wb)) if post.any() else math.nan,
            "extrapolation": float(np.linalg.norm(w - wb) / math.sqrt(len(w))),
            "weights_sum": float(w.sum()),
            "n_negative_weights": int((w < 0).sum()),
            "n_active_donors": int(np.count_nonzero(np.abs(w) > 1e-12)),
            "certified": bool(bd.get("certified", True)),
            "base": {k: bd[k] for k in ("backend", "loss_v", "loss_w", "lambda", "bound_gap", "lower_bound",
                                         "certified", "penalized_cv") if k in bd},
        }
        if cv is not None:
            info = cv[3]
            if info.get("at_edge"):
                from ..inference._undefined import flag_grid_edge
                flag_grid_edge("ridge_lambda", lam, list(cv[0]), diag, who="ridge (on the base fit)",
                               where="diagnostics", why="the CV choice is on the edge of its extended grid",
                               consequence="the penalty is set by the grid, not by the data")
        model = AugmentedModel(panel, self, pre, "ridge-on-base", lam, base.model)
        return SCResult.from_weights(panel, w, diag, model=model, fit_mask=pre, cf=cf)

    def _fit_ridge(self, panel: Panel, demeaned=False) -> SCResult:
        from ..solvers.ridge import fit_ridge_ascm
        T0 = panel.T0
        Zd = zt = None
        if self.covariates:
            Zd, zt = unit_covariate_means(panel, self.covariates)
        lam = math.inf if demeaned else (None if self.ridge_lambda is None else float(self.ridge_lambda))
        try:
            fit = fit_ridge_ascm(panel.X_donors, panel.y_treated, T0, Z_donors=Zd, z_treated=zt,
                                 residualize=bool(self.residualize), fixedeff=bool(self.fixedeff), lam=lam)
        except ValueError as exc:
            raise SpecificationError(f"ridge augmentation: {exc}") from None
        y = np.asarray(panel.y_treated)
        # imbalance on the pre-period outcomes, and augsynth's scale: the imbalance of equal weights
        pre_gap = y[:T0] - fit.counterfactual[:T0]
        l2 = math.sqrt(float(pre_gap @ pre_gap))
        Xd = np.asarray(panel.X_donors)[:T0]
        uni = y[:T0] - Xd.mean(axis=1)
        l2_uniform = math.sqrt(float(uni @ uni))
        post = panel.post
        diag = {
            "solver": "simplex LS + ridge augmentation (augsynth's Ridge ASCM)",
            "augment": "ridge",
            "ridge_lambda": fit.lam,
            "lambda_path": None if fit.lambdas is None else {
                "lambda": fit.lambdas.tolist(), "cv_error": fit.cv_errors.tolist(), "cv_se": fit.cv_se.tolist()},
            "l2_imbalance": l2,
            "scaled_l2_imbalance": l2 / l2_uniform if l2_uniform > 0 else math.nan,
            "l2_imbalance_scm": math.sqrt(float(np.sum((y[:T0] - fit.counterfactual_scm[:T0]) ** 2))),
            "estimated_bias": float(np.mean(fit.counterfactual[post] - fit.counterfactual_scm[post]))
            if post.any() else math.nan,
            "extrapolation": float(np.linalg.norm(fit.w - fit.w_scm) / math.sqrt(len(fit.w))),
            "weights_sum": float(fit.w.sum()),
            "n_negative_weights": int((fit.w < 0).sum()),
            "weights_scm": dict(zip(map(str, panel.donors), map(float, fit.w_scm))),
            "residualize": bool(self.residualize), "fixedeff": bool(self.fixedeff),
            "n_active_donors": int(np.count_nonzero(np.abs(fit.w) > 1e-12)),
            "backend": "outcome-only + ridge",
        }
        if fit.covariate_l2_imbalance is not None:
            u = fit.covariate_l2_imbalance_uniform
            diag["covariate_l2_imbalance"] = fit.covariate_l2_imbalance
            diag["scaled_covariate_l2_imbalance"] = fit.covariate_l2_imbalance / u if u > 0 else math.nan
        if fit.lambda_grid_info is not None:
            _flag_lambda_grid(fit, diag)
        from ..inference._undefined import report_uncertified
        report_uncertified(fit.n_uncertified, fit.n_fits, "ridge (the base fit and the CV folds)", diag,
                           where="diagnostics")
        if demeaned or fit.lam == math.inf:
            # no ridge correction (lambda = inf): augsynth's progfunc = "none" -- the simplex fit of
            # the (unit-demeaned with fixedeff) outcomes, with covariates stacked or residualized
            from ..models import DemeanedModel
            what = "unit-demeaned outcomes" if self.fixedeff else "outcomes"
            if Zd is not None:
                what += " and covariates (residualized)" if self.residualize else " and covariates (stacked)"
            diag.update(solver=f"simplex LS on {what} (augsynth's progfunc = \"none\""
                               + (", fixedeff = TRUE)" if self.fixedeff else ")"),
                        augment=None, backend="demeaned" if self.fixedeff else "augsynth-scm")
            for k in ("ridge_lambda", "lambda_path", "estimated_bias", "extrapolation", "l2_imbalance_scm",
                      "weights_scm"):
                diag.pop(k, None)
            model = DemeanedModel(panel, self, ~panel.post, diag["backend"], fit.lam,
                                  cov_means=None if Zd is None else (Zd, zt))
            return SCResult.from_weights(panel, fit.w, diag, model=model, fit_mask=~panel.post,
                                         cf=fit.counterfactual)
        model = RidgeModel(panel, self, ~panel.post, "ridge", fit.lam,
                           cov_means=None if Zd is None else (Zd, zt))
        return SCResult.from_weights(panel, fit.w, diag, model=model, fit_mask=~panel.post,
                                     cf=fit.counterfactual)

    def _fit_mask(self, panel: Panel) -> np.ndarray:
        pre = ~panel.post
        if self.fit_window is None:
            return pre
        t = panel.times
        lo, hi = check_window("fit_window", self.fit_window, key=period_key(t),
                              coerce=lambda b, what: coerce_period(b, t, what, panel.time))
        _check_pre_treatment(panel, "fit_window", self.fit_window, (lo, hi), True)
        m = np.asarray((t >= lo) & (t <= hi), dtype=bool)
        if m.sum() < 2:
            raise SpecificationError(f"fit_window {self.fit_window!r} covers {int(m.sum())} period(s); need >= 2")
        return m

    def fit(self, panel: Panel) -> SCResult:
        """Fit the synthetic control on ``panel`` and return an :class:`SCResult`.

        A numerical solver that fails (a singular system, memory, a solver's own error) is a
        :class:`~synthcontrol.SolverError` naming the solver and what it reported; the user's data
        and this estimator are left as they were."""
        try:
            return self._fit(panel)
        except (SpecificationError, DataError, SolverError):
            raise
        except (ValueError, RuntimeError, ArithmeticError, MemoryError, np.linalg.LinAlgError) as exc:
            from ..errors import SynthError
            if isinstance(exc, SynthError):
                raise
            raise SolverError(f"the fit failed in a numerical solver ({type(exc).__name__}: {exc}); "
                              f"check the data for extreme or degenerate values") from exc

    def _fit(self, panel: Panel) -> SCResult:
        if not isinstance(panel, Panel):
            raise SpecificationError(
                f"fit() takes a synthcontrol.Panel, got {type(panel).__name__}; build one with "
                f"sc.Panel(df, unit=..., time=..., outcome=..., ...)")
        backend = self._resolve_backend()
        self._check_canonical_v(backend)
        self._check_penalized(backend)
        check_seed("seed", self.seed)
        check_n_jobs("n_jobs", self.n_jobs, allow_none=True)  # None: one process, as joblib
        panel.require_estimable()
        self._period_settings(panel)  # every period named in the settings: typed, pre-treatment
        return _with_fit_checks(model_class(backend).fit_panel(self, panel, backend))

    def _check_canonical_v(self, backend):
        from ..solvers.vsearch import check_v_options
        cv = self.canonical_v
        check_v_options(self.backend if backend == "ridge-on-base" else backend, cv, self.mscmt_maxiter,
                        self.mscmt_popsize, self.mscmt_prune_shady)
        if cv is False:
            return
        bilevel = backend in ("auto", "malo", "mscmt") and self.augment is None and \
            (bool(self.covariates) or bool(self.outcome_lags))
        if not bilevel:
            why = ("a ridge-augmented fit" if self.augment is not None else
                   "the penalized backend fixes V (equal weights on the scaled predictors)" if backend == "penalized"
                   else "an outcome-only fit has no predictor weights")
            raise SpecificationError(f"canonical_v={cv!r} chooses which predictor weights V a covariate fit reports "
                                     f"(backends 'auto', 'malo', 'mscmt'); {why}: drop it")

    def _check_penalized(self, backend):
        from ..solvers.vsearch import PENALIZED_CV
        if self.penalized_cv not in PENALIZED_CV:
            raise SpecificationError(f"penalized_cv must be one of {PENALIZED_CV}, got {self.penalized_cv!r}")
        lam = self.penalized_lambda
        if lam is not None and not (isinstance(lam, (int, float, np.integer, np.floating)) and not isinstance(lam, bool)
                                    and math.isfinite(float(lam)) and float(lam) >= 0):
            raise SpecificationError(f"penalized_lambda must be a finite number >= 0 or None, got {lam!r}")
        if lam is not None and self.penalized_cv != "holdout":
            raise SpecificationError(f"penalized_lambda={lam!r} fixes lambda, and penalized_cv={self.penalized_cv!r} "
                                     f"would choose it: give one or the other")
        if self.backend != "penalized" and (self.penalized_cv != "holdout" or lam is not None):
            name = "penalized_lambda" if lam is not None else "penalized_cv"
            raise SpecificationError(f"{name} is an option of backend='penalized'; this fit uses backend="
                                     f"{self.backend!r}: drop it or set backend='penalized'")

    def _fit_outcome(self, panel, mask, backend):
        w, diag = fit_outcome_only(panel.y_treated, panel.X_donors, mask)
        diag["backend"] = backend
        return SCResult.from_weights(panel, w, diag, model=OutcomeModel(panel, self, mask, backend),
                                     fit_mask=mask)

    def predictors(self, panel: Panel, treated=None, donors=None):
        """The :class:`~synthcontrol.predictors.Predictors` this estimator uses on ``panel``
        (for other treated/donor units when given: placebo and leave-one-out refits)."""
        from ..predictors import build_predictors
        if panel.source is None:
            raise SpecificationError(
                "covariate predictors need the long data with the covariate columns; this panel "
                "was built from user-level events (panel_from_events), which keeps only the outcome")
        pre = list(panel.times[: panel.T0])
        spec = self._period_settings(panel)
        return build_predictors(
            panel.source, panel.unit, panel.time,
            list(panel.treated_units) if treated is None else list(treated),
            list(panel.donors) if donors is None else list(donors),
            covariates=spec["covariates"] or None, predictor_window=spec["predictor_window"],
            outcome=panel.outcome, outcome_lags=spec["outcome_lags"] or None, pre_periods=pre)

    def _period_settings(self, panel: Panel) -> dict:
        """``covariates``, ``outcome_lags`` and ``predictor_window`` with every period they name
        converted to the panel's period type (as ``treatment_time`` is), each checked to lie
        before the treatment (:class:`SpecificationError` naming the argument and the periods)."""
        t = panel.times

        def conv(spec, what, tuple_is_range=True):
            if isinstance(spec, tuple) and tuple_is_range:
                if len(spec) != 2:
                    return spec  # build_predictors explains the shapes it takes
                return check_window(what, spec, key=period_key(t),
                                    coerce=lambda b, part: coerce_period(b, t, part, panel.time))
            if isinstance(spec, Mapping):  # not a window: refused here, never compared as a period
                raise SpecificationError(
                    f"{what} must be a (start, end) pair of periods, a list of periods or one period; got "
                    f"a {type(spec).__name__}: {spec!r}")
            if isinstance(spec, (str, bytes, pd.Timestamp)) or not isinstance(spec, Iterable):
                return coerce_period(spec, t, what, panel.time)
            return [coerce_period(b, t, what, panel.time) for b in spec]

        def window(spec, what):
            out = conv(spec, what)
            if panel.has_post and not (isinstance(out, tuple) and len(out) != 2):
                _check_pre_treatment(panel, what, spec, out, isinstance(out, tuple))
            return out

        cov = self.covariates
        if isinstance(cov, Mapping):
            cov = {c: window(w, f"covariates[{c!r}]") for c, w in cov.items()}
        lags = self.outcome_lags
        if isinstance(lags, Mapping):
            lags = {k: window(w, f"outcome_lags[{k!r}]") for k, w in lags.items()}
        elif lags is not None and not isinstance(lags, (str, bytes)) and isinstance(lags, Iterable):
            conv_lags = [conv(x, "outcome_lags") for x in lags]
            if panel.has_post:
                flat = [v for x in conv_lags for v in (x if isinstance(x, (list, tuple)) else [x])]
                _check_pre_treatment(panel, "outcome_lags", lags, flat, False)
            lags = conv_lags
        elif lags is not None:
            lags = window(lags, "outcome_lags")
        pw = self.predictor_window
        if pw is not None:
            pw = window(pw, "predictor_window")
        return {"covariates": cov, "outcome_lags": lags, "predictor_window": pw}

    def _fit_penalized(self, panel, mask):
        """The penalized backend (Abadie & L'Hour 2021): on the scaled predictors when covariates or
        outcome lags are given, else on the outcomes over the fitting periods; ``lambda`` fixed
        (``penalized_lambda``) or chosen by ``penalized_cv``."""
        from ..models import PenalizedOutcomeModel
        from ..solvers.vsearch import (flag_penalized_lambda, holdout_split, penalized_certificate,
                                       penalized_fit)
        has_predictors = bool(self.covariates) or bool(self.outcome_lags)
        y = np.asarray(panel.y_treated, dtype=float)
        Yd = np.asarray(panel.X_donors, dtype=float)
        Z1, Z0 = y[mask], Yd[mask]
        cv, lam_fixed = self.penalized_cv, self.penalized_lambda
        if has_predictors:
            pr = self.predictors(panel)
            X1s, X0s, divisor = pr.scaled()
            X1, X0 = X1s.to_numpy(dtype=float), X0s.to_numpy(dtype=float)
            names = list(pr.names)
        else:
            pr, X1, X0, names = None, Z1, Z0, None
        post = np.asarray(panel.post, dtype=bool)
        kw, rule = {}, None
        if lam_fixed is not None:
            rule = "fixed by penalized_lambda"
        elif cv == "loo":
            if not post.any():
                raise SpecificationError("penalized_cv='loo' scores each donor's post-period outcomes; this panel "
                                         "has no post-treatment periods")
            if Yd.shape[1] < 3:
                raise SpecificationError("penalized_cv='loo' needs >= 3 donors (each is predicted from the others)")
            kw = dict(donor_post=Yd[post])
            rule = (f"leave-one-out over the {Yd.shape[1]} donors, each predicted from the others and scored on "
                    f"its {int(post.sum())} post-period outcomes (Abadie & L'Hour 2021)")
        elif has_predictors:
            kw = dict(Z1=Z1, Z0=Z0)
            rule = (f"weights on the predictors, scored on the outcomes of the {int(mask.sum())} fitting periods"
                    + (" (pensynth's cv_pensynth grid)" if cv == "pensynth" else ""))
        else:
            n_tr, n_va = holdout_split(int(mask.sum()))
            kw = dict(Z1=Z1[n_tr:], Z0=Z0[n_tr:], train=(Z1[:n_tr], Z0[:n_tr]))
            rule = (f"weights on the first {n_tr} fitting periods, scored on the last {n_va}"
                    + (" (pensynth's cv_pensynth grid)" if cv == "pensynth" else ""))
        grid_info = {}
        w, lam, table = penalized_fit(X1, X0, cv=cv, lam=lam_fixed, info=grid_info, **kw)
        r = Z1 - Z0 @ w
        rx = X1 - X0 @ w
        obj, kkt, gap, ok = penalized_certificate(X1, X0, w, lam)
        diag = {"solver": "penalized simplex QP (Abadie-L'Hour)", "lambda": lam, "lambda_pensynth": lam / 2,
                "penalized_cv": None if lam_fixed is not None else cv, "lambda_rule": rule,
                "lambda_path": None if lam_fixed is not None else table,
                "loss_v": float(r @ r) / len(r), "loss_w": float(rx @ rx) / len(rx),
                "loss_w_per_predictor": float(rx @ rx) / len(rx) ** 2,
                "n_active_donors": int(np.count_nonzero(w)), "backend": "penalized",
                "predictors": "covariates" if has_predictors else "outcomes over the fitting periods",
                "penalized_objective": obj, "kkt_violation": kkt, "duality_gap": gap, "certified": ok}
        if has_predictors:
            diag["predictor_scale"] = divisor.to_dict()
        if lam_fixed is None:
            flag_penalized_lambda(lam, table, diag, grid_info, cv)  # lambda_at_grid_edge, n_uncertified_fits
        if not ok:
            say(f"the penalized fit (lambda {lam:.4g}) is not certified: its duality gap {gap:.3g} "
                f"is large against the objective {obj:.4g} (KKT violation {kkt:.3g})", diag)
        if has_predictors:
            model = PredictorModel(panel, self, mask, "penalized", pr, panel.outcome, penalized_lambda=lam)
            V = pd.Series(np.full(len(names), 1.0 / len(names)), index=names, name="V")
            return SCResult.from_weights(panel, w, diag, model=model, fit_mask=mask, V=V)
        model = PenalizedOutcomeModel(panel, self, mask, "penalized", lam)
        return SCResult.from_weights(panel, w, diag, model=model, fit_mask=mask)

    def _fit_predictors(self, panel, mask, backend):
        from ..solvers.vsearch import solve_bilevel
        if backend == "penalized":
            return self._fit_penalized(panel, mask)
        pr = self.predictors(panel)
        X1s, X0s, divisor = pr.scaled()
        X1 = X1s.to_numpy(dtype=float)
        X0 = X0s.to_numpy(dtype=float)
        Z1 = np.asarray(panel.y_treated)[mask]
        Z0 = np.asarray(panel.X_donors)[mask]
        names = list(pr.names)
        fit = solve_bilevel(X1, X0, Z1, Z0, backend=backend, seed=self.seed, de_maxiter=self.mscmt_maxiter,
                            de_popsize=self.mscmt_popsize, prune_shady=self.mscmt_prune_shady)
        from ..solvers.simplex import kkt_certificate
        sv = np.sqrt(fit.v)
        _, inner_kkt, _ = kkt_certificate(sv[:, None] * X0, sv * X1, fit.w)
        diag = {
            "solver": f"bilevel V search ({fit.backend})",
            "loss_v": fit.loss_v,
            "loss_w": fit.loss_w,
            "lower_bound": fit.lower_bound,
            "bound_gap": fit.bound_gap,
            "bound_attained": fit.attained,
            "bound_method": fit.bound_method,
            "outcome_only_bound": fit.outcome_only_bound,
            "global_bound_status": None if fit.global_bound is None else fit.global_bound.status,
            # what stopped SCIP's proof: "optimal", "gap_limit", "objective_limit", a deterministic
            # "node_limit", or "time_limit" only when a user-set wall-clock cap bit
            "global_bound_stopped_by": getattr(fit, "global_bound_stopped_by", None),
            "inner_gap": fit.inner_gap_rel,
            "inner_optimal": fit.inner_optimal,
            "kkt_violation": float(inner_kkt),
            "v_agreement": fit.v_agreement,
            "v_min_loss_w": None if fit.v_min_loss_w is None else dict(zip(names, map(float, fit.v_min_loss_w))),
            "v_max_order": None if fit.v_max_order is None else dict(zip(names, map(float, fit.v_max_order))),
            "n_evals": fit.n_evals,
            "search_seconds": fit.seconds,
            "stages": dict(fit.stages),
            "n_active_donors": int(np.count_nonzero(fit.w)),
            "backend": backend,
            "predictor_scale": divisor.to_dict(),
        }
        # certified: the proven distance to the best V is within V_GAP_RTOL of the loss itself
        rel = fit.bound_gap / max(abs(fit.loss_v), 1e-300)
        diag["certified"] = bool(fit.attained or rel <= V_GAP_RTOL)
        diag["bound_gap_rel"] = float(rel)
        if not diag["certified"]:
            say(f"the covariate fit (backend={backend!r}) is not certified: loss_v {fit.loss_v:.6g} against a "
                f"proven lower bound {fit.lower_bound:.6g} (gap {fit.bound_gap:.3g}, {100 * rel:.3g}% of the "
                f"loss); a better V may exist. backend='auto' runs the certified search", diag)
        from ..solvers.vsearch import reported_v
        v, loss_w, which, note = reported_v(fit, X1, X0, self.canonical_v)
        diag["loss_w"], diag["v_reported"] = loss_w, which
        # Synth's loss.w (V sums to one) and, named apart, the 1/K convention of Malo et al.'s eq. 8
        diag["loss_w_per_predictor"] = loss_w / len(names)
        if note:
            say(note, diag)
        V = pd.Series(v, index=names, name="V")
        model = PredictorModel(panel, self, mask, backend, pr, panel.outcome)
        return SCResult.from_weights(panel, fit.w, diag, model=model, fit_mask=mask, V=V)
