"""Immutable results: the fitted synthetic control and inference outcomes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import math

import numpy as np
import pandas as pd

from ._frozen import freeze
from ._numerics import rms
from .inference.base import Inference, infer as _infer


def _fx(x, sign=""):
    """Four decimals for everyday magnitudes, significant digits for huge or tiny ones."""
    x = float(x)
    if math.isfinite(x) and (x == 0.0 or 1e-3 <= abs(x) < 1e7):
        return f"{x:{sign}.4f}"
    return f"{x:{sign}.6g}"

_sum = np.add.reduce

__all__ = ["SCResult"]


@dataclass(frozen=True, repr=False)
class SCResult:
    """A fitted synthetic control.  Build it with ``SyntheticControl().fit(panel)``.

    Attributes
    ----------
    att : float
        Mean effect over the post-treatment periods.
    effects : pandas.Series
        Observed minus counterfactual, per post period.
    observed, counterfactual : pandas.Series
        Over all periods.
    weights : pandas.Series
        Donor label -> weight: on the simplex (non-negative, summing to one) for the
        outcome-only and covariate fits; ridge-augmented weights sum to one but may be
        negative (``res.model.simplex`` says which).
    V : pandas.Series or None
        Predictor weights (None for the outcome-only fit).
    pre_rmse : float
        Root mean squared gap over the pre-treatment periods.
    diagnostics : dict
        ``kkt_violation`` (relative, unitless), ``duality_gap`` (proven bound on
        SSR - SSR*), ``loss_w``, ``n_active_donors``, ``backend``, ...
    panel : Panel
        The data the result was fitted on (immutable).
    model : FitModel
        The fit behind the weights (:mod:`synthcontrol.models`): its kind, the estimator's
        settings copied at fit time (:attr:`settings`), and refits on other units and periods.

    A result is self-contained and immutable: it holds no reference to the estimator that made
    it (changing the estimator afterwards changes nothing here), its diagnostics are read-only,
    and no inference call changes what a later one computes.  The labelled pandas objects are
    built on first access and cached as pure values (a fit inside a placebo or bootstrap loop
    never pays for them).
    """

    att: float
    pre_rmse: float
    diagnostics: dict
    panel: Any
    model: Any = None
    fit_mask: np.ndarray = None
    V: pd.Series | None = None
    w: np.ndarray = None  # donor weights, in panel.donors order
    cf: np.ndarray = None  # counterfactual, all periods
    _memo: dict = field(default_factory=dict, compare=False)  # pure values keyed by their arguments

    # ------------------------------------------------------------------------------
    @classmethod
    def from_weights(cls, panel, w, diagnostics, *, model=None, fit_mask=None, V=None, cf=None):
        y = panel.y_treated
        cf = panel.X_donors @ w if cf is None else np.asarray(cf, dtype=float)
        T0 = panel.T0
        gap = y - cf
        gpre, gpost = gap[:T0], gap[T0:]
        pre_rmse = rms(gpre)
        post_rmse = rms(gpost)
        diagnostics = dict(diagnostics)
        diagnostics.setdefault("pre_mspe", pre_rmse * pre_rmse)  # inf only if not representable
        diagnostics["post_rmspe"] = post_rmse
        # undefined (NaN) over an exact pre-fit, by the rule of inference/_undefined.py: a pre-RMSPE
        # of at most 1e-10 x the outcomes' scale over the fitting periods is rounding noise, not a
        # denominator
        from .inference._undefined import RTOL, fit_scale
        floor = RTOL * fit_scale(panel, ~panel.post if fit_mask is None else fit_mask)
        diagnostics["rmspe_ratio"] = post_rmse / pre_rmse if pre_rmse > floor else math.nan
        w = np.asarray(w, dtype=float)
        w.setflags(write=False)
        cf.setflags(write=False)
        fit_mask = np.array(fit_mask if fit_mask is not None else ~panel.post, dtype=bool)
        fit_mask.setflags(write=False)
        return cls(att=float(_sum(gpost)) / len(gpost), pre_rmse=pre_rmse, diagnostics=freeze(diagnostics),
                   panel=panel, model=model, fit_mask=fit_mask, V=V, w=w, cf=cf)

    @property
    def settings(self):
        """The estimator's settings at fit time (read-only)."""
        return self.model.settings

    @property
    def estimator(self):
        """A new estimator with the settings this result was fitted with (a clone: the result
        keeps no reference to the estimator that made it)."""
        return self.model.estimator_class(**self.model.settings)

    def _series(self, key, make):
        # built once, handed out as a shallow copy: with pandas' copy-on-write a caller who
        # edits it edits their own copy (and the underlying arrays are read-only anyway)
        s = self._memo.get(key)
        if s is None:
            s = self._memo[key] = make()
        return s.copy(deep=False)

    @property
    def weights(self) -> pd.Series:
        """Donor label -> weight."""
        return self._series("weights", lambda: pd.Series(self.w, index=self.panel.donors, name="weight"))

    @property
    def observed(self) -> pd.Series:
        p = self.panel
        return self._series("observed", lambda: pd.Series(p.y_treated, index=p.times, name=p.outcome))

    @property
    def counterfactual(self) -> pd.Series:
        p = self.panel
        return self._series("counterfactual",
                            lambda: pd.Series(self.cf, index=p.times, name=f"synthetic {p.outcome}"))

    @property
    def effects(self) -> pd.Series:
        """Observed minus counterfactual, per post-treatment period."""
        p = self.panel
        return self._series("effects", lambda: pd.Series(
            (p.y_treated - self.cf)[p.post], index=p.times[p.post], name="effect"))

    def __repr__(self):
        return (f"SCResult(att={self.att:.6g}, pre_rmse={self.pre_rmse:.6g}, "
                f"n_active_donors={self.diagnostics.get('n_active_donors')}, "
                f"backend={self.diagnostics.get('backend')!r})")

    # ------------------------------------------------------------------------------
    @property
    def gap(self) -> pd.Series:
        """Observed minus counterfactual over all periods."""
        p = self.panel
        return self._series("gap", lambda: pd.Series(p.y_treated - self.cf, index=p.times, name="gap"))

    def to_frame(self) -> pd.DataFrame:
        """Tidy per-period table: period, observed, counterfactual, effect, post."""
        p = self.panel
        return pd.DataFrame({
            "period": p.times,
            "observed": self.observed.to_numpy(),
            "counterfactual": self.counterfactual.to_numpy(),
            "effect": self.gap.to_numpy(),
            "post": p.post,
        })

    def summary(self) -> str:
        """A plain-text report of the fit."""
        p = self.panel
        d = self.diagnostics
        w = self.weights[self.weights.abs() > 1e-3].sort_values(ascending=False, key=abs)
        pre_mean = float(self.observed[~p.post].mean())
        post_mean = float(self.observed[p.post].mean())
        rows = [
            ("Outcome", p.outcome),
            ("Treated", p.treated_label),
            ("Treatment time", f"{p.treatment_time}"),
            ("Pre / post periods", f"{p.T0} / {len(p.times) - p.T0}"),
            ("Donors (active)", f"{len(p.donors)} ({d.get('n_active_donors')})"),
            ("Backend", d.get("backend", "")),
            ("Treated pre / post mean", f"{_fx(pre_mean)} / {_fx(post_mean)}"),
            ("ATT (mean post gap)", _fx(self.att, "+")),
            ("Pre-period RMSE", _fx(self.pre_rmse)),
            ("Post/pre RMSPE ratio", f"{d.get('rmspe_ratio', float('nan')):.3f}"),
        ]
        model = self.model
        if model.simplex:
            rows.append(("KKT violation", f"{d.get('kkt_violation', float('nan')):.2e}"))
        if d.get("certified") is not None:
            if d["certified"]:
                rows.append(("Certified", "yes"))
            elif "bound_gap" in d:
                rows.append(("Certified", f"NOT CERTIFIED: gap {d['bound_gap']:.3g} "
                                          f"({100 * d.get('bound_gap_rel', float('nan')):.3g}% of loss V)"))
            else:
                rows.append(("Certified", f"NOT CERTIFIED: duality gap {d.get('duality_gap', float('nan')):.3g}"))
        if d.get("pre_r2") is not None:
            rows.append(("Pre-period R^2", f"{d['pre_r2']:.3f}" + ("  (worse than a flat line)" if d["pre_r2"] < 0 else "")))
        if d.get("donors_per_pre_period") is not None:
            ratio = d["donors_per_pre_period"]
            rows.append(("Donors / pre-periods", f"{len(p.donors)} / {int(np.count_nonzero(self.fit_mask))}"
                         + ("  (J >= 0.8 T0: overfitting risk, see leave_one_out())" if ratio >= 0.8 else "")))
        if d.get("max_weight") is not None and model.simplex and d["max_weight"] >= 0.8:
            rows.append(("Largest weight", f"{d['max_weight']:.3f}  (one donor does most of the job)"))
        if d.get("outside_hull_periods"):
            rows.append(("Outside donors' range", f"{d['outside_hull_periods']} of {int(np.count_nonzero(self.fit_mask))} fit periods"))
        rows += model.summary_rows(d)
        width = max(len(k) for k, _ in rows)
        bar = "=" * (width + 32)
        out = [bar, "Synthetic control".center(len(bar)), bar]
        out += [f"{k:<{width}}  {v}" for k, v in rows]
        out.append("-" * len(bar))
        out.append((f"Donor weights > 0.001 ({len(w)}):" if model.simplex
                    else f"Donor weights, |w| > 0.001 ({len(w)}):"))
        for lab, val in w.items():
            out.append(f"  {str(lab):<{width}}  {val:.4f}" if model.simplex else f"  {str(lab):<{width}}  {val:+.4f}")
        if self.V is not None:
            v = self.V[self.V > 1e-3].sort_values(ascending=False)
            out.append(f"Predictor weights V > 0.001 ({len(v)} of {len(self.V)}):")
            for lab, val in v.items():
                out.append(f"  {str(lab):<{width}}  {val:.4f}")
        out.append(bar)
        return "\n".join(out)

    def __str__(self):
        return self.summary()

    def plot(self, kind="trajectory", ax=None, **kwargs):
        """Plot the result: ``"trajectory"``, ``"gap"``, ``"weights"``, ``"placebo"`` or ``"intervals"``.

        Returns the matplotlib Figure.  ``plot("placebo", inference=inf)`` draws the placebo test
        ``inf`` (an :class:`Inference` from :meth:`placebo`); without it the test is run here
        (``statistic="mean_gap"`` unless ``statistic`` is given, other keywords passed on).
        ``plot("intervals", inference=inf)`` draws the per-period intervals of a conformal, SCPI or
        jackknife+ result beside the trajectory with the counterfactual's band.  ``plot("lto")`` the
        leave-two-out test; ``plot("penalty")`` a penalized fit's lambda path (its rule's score and the
        donor weights along the grid).
        """
        from . import plotting
        return plotting.plot_result(self, kind=kind, ax=ax, **kwargs)

    # --- inference ---------------------------------------------------------------
    def infer(self, name, **kwargs):
        """Run the registered inference method ``name`` (see :mod:`synthcontrol.inference.base`)
        with ``kwargs``; its defaults are the method function's own.  Every method also takes
        ``progress=`` (True, False, or None: a bar once the call has run 2 s; see
        :mod:`synthcontrol.parallel`).  ``sc.inference.names()``
        lists the methods.  A method that does not support this fit's kind, or an argument it does
        not take, is a :class:`~synthcontrol.SpecificationError` that names what it supports."""
        return _infer(self, name, **kwargs)

    def to_dict(self) -> dict:
        """The result as builtins (:mod:`synthcontrol.schema`): the command line's JSON, the R
        package and reports read this."""
        from .schema import result_to_dict
        return result_to_dict(self)

    def refit(self, y=None, X=None, mask=None):
        """Outcome-only weights on other arrays: ``(w, diagnostics)`` of the simplex fit of ``y``
        on the columns of ``X`` over the periods ``mask`` (each defaulting to the result's own).
        What the fit could not vouch for is in ``diagnostics["warnings"]``, not said.  For refits
        with the result's own estimator on other units or periods use ``res.model.refit``."""
        from .models import fit_outcome_only
        p = self.panel
        return fit_outcome_only(p.y_treated if y is None else y, p.X_donors if X is None else X,
                                self.fit_mask if mask is None else mask, quiet=True)


def _alias(name):
    """A method of SCResult that runs the registered inference method ``name``: the signature and
    the docstring are the registered function's (the one place its defaults live)."""
    import inspect
    from .inference.base import get_method
    m = get_method(name)

    def method(self, *args, **kwargs):
        if args:  # positional arguments, in the function's order
            kwargs = {**dict(zip(m.parameters, args)), **kwargs}
        return _infer(self, name, **kwargs)
    sig = inspect.signature(m.func)
    params = list(sig.parameters.values())
    extra = [] if "progress" in sig.parameters else [
        inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=None)]
    method.__signature__ = sig.replace(parameters=[params[0].replace(name="self")] + params[1:] + extra)
    method.__doc__ = m.func.__doc__
    method.__name__ = method.__qualname__ = name
    return method


for _name in ("placebo", "in_time_placebo", "leave_one_out", "conformal", "scpi", "jackknife_plus", "lto",
              "ttest", "bootstrap"):
    setattr(SCResult, _name, _alias(_name))
del _name
