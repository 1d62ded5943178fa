"""Immutable results: the fitted synthetic control and inference outcomes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import math

import numpy as np
import pandas as pd

from ._numerics import rms


def _fx(x, sign=""):
    """Four decimals for everyday magnitudes, significant digits for huge or tiny ones."""
    x = float(x)
    if math.isfinite(x) and (x == 0.0 or 1e-3 <= abs(x) < 1e7):
        return f"{x:{sign}.4f}"
    return f"{x:{sign}.6g}"

_sum = np.add.reduce

__all__ = ["SCResult", "Inference"]


def _fmt(v):
    """Numbers for reports: 4 decimals, or 3 significant digits when that would show 0.0000."""
    if isinstance(v, (float, np.floating)):
        if v != 0 and abs(v) < 5e-5:
            return f"{v:.3g}"
        return f"{v:.4f}"
    return str(v)


@dataclass(frozen=True)
class Inference:
    """The outcome of one inference method.

    Attributes
    ----------
    method : str
    p_value : float or None
    ci_lower, ci_upper : float or None
        Interval for the ATT (None when the method gives none).
    alpha : float or None
    details : dict
        Method-specific numbers (statistics per unit, draws, tables, ...).
    """

    method: str
    p_value: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    alpha: float | None = None
    details: dict = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        lines = [f"Inference: {self.method}"]
        if self.p_value is not None:
            lines.append(f"  {'p-value':<22s} {_fmt(self.p_value)}")
        if self.ci_lower is not None:
            level = f"{100 * (1 - self.alpha):g}%" if self.alpha is not None else ""
            lines.append(f"  {level} interval   [{self.ci_lower:+.4f}, {self.ci_upper:+.4f}]")
        for k, v in self.details.items():
            if isinstance(v, (int, float, np.floating, np.integer, str)) and not isinstance(v, bool):
                lines.append(f"  {k:<22s} {_fmt(v)}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


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
        Donor label -> weight (non-negative, summing to one).
    V : pandas.Series or None
        Predictor weights (None for the outcome-only fit).
    pre_rmse : float
        Root mean squared gap over the pre-treatment periods.
    diagnostics : dict
        ``kkt_violation`` (relative, unitless), ``duality_gap`` (proven bound on
        SSR - SSR*), ``loss_w``, ``n_active_donors``, ``backend``, ...
    panel : Panel
        The data the result was fitted on.

    The labelled pandas objects are built on first access (a fit inside a
    placebo or bootstrap loop never pays for them).
    """

    att: float
    pre_rmse: float
    diagnostics: dict
    panel: Any
    estimator: Any = None
    fit_mask: np.ndarray = None
    V: pd.Series | None = None
    w: np.ndarray = None  # donor weights, in panel.donors order
    cf: np.ndarray = None  # counterfactual, all periods
    _cache: dict = field(default_factory=dict, compare=False)

    # ------------------------------------------------------------------------------
    @classmethod
    def from_weights(cls, panel, w, diagnostics, *, estimator=None, fit_mask=None, V=None, cf=None):
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
        return cls(att=float(_sum(gpost)) / len(gpost), pre_rmse=pre_rmse, diagnostics=diagnostics,
                   panel=panel, estimator=estimator,
                   fit_mask=fit_mask if fit_mask is not None else ~panel.post, V=V, w=w, cf=cf)

    def _series(self, key, make):
        # built once, handed out as a shallow copy: with pandas' copy-on-write a caller who
        # edits it edits their own copy (and the underlying arrays are read-only anyway)
        s = self._cache.get(key)
        if s is None:
            s = self._cache[key] = make()
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
        if not d.get("augment"):
            rows.append(("KKT violation", f"{d.get('kkt_violation', float('nan')):.2e}"))
        if d.get("certified") is not None:
            if d["certified"]:
                rows.append(("Certified", "yes"))
            elif "bound_gap" in d:
                rows.append(("Certified", f"NOT CERTIFIED: gap {d['bound_gap']:.3g} "
                                          f"({100 * d.get('bound_gap_rel', float('nan')):.3g}% of loss V)"))
            else:
                rows.append(("Certified", f"NOT CERTIFIED: duality gap {d.get('duality_gap', float('nan')):.3g}"))
        if d.get("outside_hull_periods"):
            rows.append(("Outside donors' range", f"{d['outside_hull_periods']} of {int(np.count_nonzero(self.fit_mask))} fit periods"))
        if d.get("augment"):
            rows += [
                ("Ridge lambda", f"{d['ridge_lambda']:.4g}" + ("  (CV, one-SE rule)" if d.get("lambda_path") else "")),
                ("L2 imbalance (scaled)", f"{d['l2_imbalance']:.4g} ({d['scaled_l2_imbalance']:.3f})"),
                ("L2 imbalance of SCM", f"{d['l2_imbalance_scm']:.4g}"),
                ("Estimated bias (ASCM-SCM)", f"{d['estimated_bias']:+.4g}"),
                ("Extrapolation", f"{d['extrapolation']:.4g}  (weights sum {d['weights_sum']:.3f}, "
                                  f"{d['n_negative_weights']} negative)"),
            ]
        elif self.V is None:
            rows.append(("Duality gap (SSR)", f"{d.get('duality_gap', float('nan')):.2e}"))
        elif "lower_bound" in d:
            rows += [
                ("Loss V (fit-window MSE)", f"{d['loss_v']:.6g}"),
                ("Lower bound (proven)", f"{d['lower_bound']:.6g}  ({d.get('bound_method', '')})"),
                ("Bound gap (proven)", f"{d['bound_gap']:.3g}"
                 + ("  (certified optimum)" if d.get("bound_attained") else "")),
                ("Loss W (predictors)", f"{d['loss_w']:.3g}"),
                ("V agreement", f"{d.get('v_agreement', float('nan')):.3g}"),
            ]
        else:
            rows += [("Loss V (fit-window MSE)", f"{d['loss_v']:.6g}"), ("Lambda", f"{d.get('lambda')}")]
        width = max(len(k) for k, _ in rows)
        bar = "=" * (width + 32)
        out = [bar, "Synthetic control".center(len(bar)), bar]
        out += [f"{k:<{width}}  {v}" for k, v in rows]
        out.append("-" * len(bar))
        out.append((f"Donor weights, |w| > 0.001 ({len(w)}):" if d.get("augment")
                    else f"Donor weights > 0.001 ({len(w)}):"))
        for lab, val in w.items():
            out.append(f"  {str(lab):<{width}}  {val:+.4f}" if d.get("augment") else f"  {str(lab):<{width}}  {val:.4f}")
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
        """Plot the result: ``"trajectory"``, ``"gap"``, ``"weights"`` or ``"placebo"``.

        Returns the matplotlib Figure.  ``"placebo"`` runs :meth:`placebo`
        (statistic ``"mean_gap"`` unless given) if it has not been run.
        """
        from . import plotting
        return plotting.plot_result(self, kind=kind, ax=ax, **kwargs)

    # --- inference ---------------------------------------------------------------
    def _require_outcome_only(self, what, allow_covariates=False):
        from .errors import SpecificationError
        if self.diagnostics.get("augment"):
            raise SpecificationError(
                f"{what} is not available for augmented (augment={self.diagnostics['augment']!r}) fits in "
                f"this version: its refits would have to redo the ridge cross-validation for every "
                f"placebo. Use the un-augmented fit for this test")
        if self.V is not None and not allow_covariates:
            raise SpecificationError(
                f"{what} is available for outcome-only fits; this fit weights predictors "
                f"(backend {self.diagnostics.get('backend')!r}), and backdating or resampling the "
                f"predictor windows is not defined in this version. placebo() and leave_one_out() "
                f"do support covariate fits")

    def placebo(self, statistic="rmspe_ratio", exclude_mspe_ratio=None, donor_pool="donors") -> Inference:
        """In-space placebo test: every donor in turn plays the treated unit.

        Parameters
        ----------
        statistic : {"rmspe_ratio", "mean_gap"}
            ``"rmspe_ratio"``: Abadie's post/pre RMSPE ratio, ``p = rank / N``
            over the treated unit and the placebos.  ``"mean_gap"``: the mean
            post-period gap, ``p = (#{|placebo| >= |observed|} + 1) / (N + 1)``.
            A ratio over a pre-RMSPE of at most 1e-10 x the outcome's scale (an
            exact pre-fit) is undefined: such placebos are left out
            (``details["n_undefined"]``), and an undefined treated ratio gives
            ``p = NaN``; both with a :class:`~synthcontrol.SynthWarning`.
        exclude_mspe_ratio : float, optional
            Drop placebos whose pre-period MSPE exceeds this multiple of the
            treated unit's (Abadie et al. 2010 use 20, 5 and 2).  A value that
            would drop every placebo raises ``SpecificationError``.
        donor_pool : {"donors", "all"}
            Donors of each placebo fit: the other donors only (default), or the
            other donors plus the treated series (ADH 2010's test).
        """
        self._require_outcome_only("placebo()", allow_covariates=True)
        from .inference.placebo import placebo_test
        return placebo_test(self, statistic=statistic, exclude_mspe_ratio=exclude_mspe_ratio,
                            donor_pool=donor_pool)

    def conformal(self, alpha=0.1, kind="iid", q=1, grid_size=50, grid=None, n_perm=10000, seed=0,
                  refine=False) -> Inference:
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
        value in the refits, as in augsynth).  See ``docs/augmented.md``.
        """
        from .inference.conformal import conformal_inference
        return conformal_inference(self, alpha=alpha, kind=kind, q=q, grid_size=grid_size, grid=grid,
                                   n_perm=n_perm, seed=seed, refine=refine)

    def scpi(self, alpha=0.05, sims=200, e_method="gaussian", seed=0, u_alpha=None, e_alpha=None,
             rho=None, rho_max=0.2, n_jobs=1, solver="auto") -> Inference:
        """SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021), as the scpi package computes
        them for the simplex: an in-sample simulation of the weights' error (``sims`` seeded draws,
        two small conic programmes each per post period) plus an out-of-sample location-scale
        bound (``e_method``: ``"gaussian"``, ``"ls"``, ``"qreg"`` or ``"empirical"``).

        ``alpha`` is both levels (``u_alpha``, ``e_alpha`` override them): intervals cover with
        probability at least ``1 - u_alpha - e_alpha`` (90% by default; ``Inference.alpha`` is that
        sum).  ``ci_lower``/``ci_upper``: the ATT interval from the same simulation.
        ``details["table"]``: per period the counterfactual band, the effect interval, the in- and
        out-of-sample pieces and scpi's simultaneous band; ``rho``, ``active_donors``, ``Sigma``,
        ``u_mean``, ``e_mean``, ``e_var``, ``failed_sims``.  Covariate fits use the outcome design
        (approximate, see ``details["design"]``); ridge fits an L2-ball set.  ``solver="conic"``
        solves every in-sample programme with Clarabel instead of the exact compiled kernel (a
        cross-check; ``details["in_sample_solver"]`` says which solved what).
        """
        from .inference.scpi import scpi_inference
        return scpi_inference(self, alpha=alpha, sims=sims, e_method=e_method, seed=seed, u_alpha=u_alpha,
                              e_alpha=e_alpha, rho=rho, rho_max=rho_max, n_jobs=n_jobs, solver=solver)

    def jackknife_plus(self, alpha=0.1) -> Inference:
        """Jackknife+ intervals over time (Barber et al. 2021), augsynth's ``inf_type =
        "jackknife+"``: each fitting period is left out in turn, the estimator refitted (ridge fits
        keep their penalty), and the held-out residuals widen the leave-one-out predictions of every
        post period.  ``details["table"]``: counterfactual and effect intervals per period;
        ``ci_lower``/``ci_upper``: the ATT interval.  Coverage ``>= 1 - 2 alpha`` under exchangeable
        errors (about ``1 - alpha`` in practice)."""
        from .inference.jackknife import jackknife_plus
        return jackknife_plus(self, alpha=alpha)

    def lto(self, alpha=0.05, max_pairs=None, seed=0) -> Inference:
        """Leave-two-out refined placebo test (Lei & Sudijono 2025).

        For every pair of donors, the pair and the treated unit are left out of the pool and all
        three are fitted from the rest; the treated unit wins the match when its post/pre RMSPE
        ratio is strictly the largest.  ``p_value`` is the naive p-value, the share of matches it
        does not win (a grid of ``1 / C(J, 2)`` instead of the placebo test's ``1 / N``).
        ``details``: ``p_powered`` (reject when it is <= ``alpha``; valid at this ``alpha`` only),
        ``powered_offset_c``, ``type_i_bound`` (``floor(N f(N, alpha)) / N``), ``n_pairs``,
        ``treated_losses``, ``treated_wins``, and a ``table`` of every match.

        ``max_pairs`` evaluates a seeded random subset of the pairs (``seed``).  Every fit is the
        estimator's own: outcome-only fits are exact (and reuse each other when the units left out
        have no weight), covariate fits rerun the V search, ridge fits keep the fitted penalty.
        """
        from .inference.lto import lto_test
        return lto_test(self, alpha=alpha, max_pairs=max_pairs, seed=seed)

    def ttest(self, K=3, alpha=0.05, oracle_weights=None) -> Inference:
        """Debiased cross-fitting t-test for the ATT (Chernozhukov, Wuthrich & Zhu 2025).

        The last ``r K`` pre-periods (``r = min(floor(T0 / K), T1)``) form ``K`` blocks; for each,
        the estimator is refitted on the other pre-periods and ``tau_k`` = mean post gap - mean
        held-out gap.  ``ci_lower``/``ci_upper``: ``att +- t_{K-1}(1 - alpha/2) se``;
        ``p_value``: two-sided, for a zero ATT.  ``details``: ``att`` (the debiased ATT), ``se``,
        ``tstat``, ``df``, ``fold_estimates`` and a ``folds`` table.  ``K="auto"`` picks ``K``
        from the AR(1) persistence of the pre-period gap (``details["K_choice"]``).
        ``oracle_weights`` (``{donor: weight}``) replaces every fold's refit by those weights.
        """
        from .inference.ttest import debiased_ttest
        return debiased_ttest(self, K=K, alpha=alpha, oracle_weights=oracle_weights)

    def in_time_placebo(self, fake_time=None) -> Inference:
        """Backdate the treatment to ``fake_time`` (or every feasible pre-period) and refit."""
        self._require_outcome_only("in_time_placebo()")
        from .inference.in_time import in_time_placebo
        return in_time_placebo(self, fake_time=fake_time)

    def leave_one_out(self, threshold=1e-3) -> pd.DataFrame:
        """Drop each donor with weight > ``threshold`` in turn, refit, report the new ATT."""
        self._require_outcome_only("leave_one_out()", allow_covariates=True)
        from .inference.loo import leave_one_out
        return leave_one_out(self, threshold=threshold)

    def bootstrap(self, n_boot=500, seed=7, alpha=0.05, n_jobs=None, progress=False) -> Inference:
        """User-level cluster bootstrap (panels built with :func:`panel_from_events`).

        ``n_jobs=None`` takes the estimator's ``n_jobs``; the draws come from one
        seeded stream in order, so the answer does not depend on ``n_jobs``.
        """
        if n_jobs is None and self.estimator is not None:
            n_jobs = getattr(self.estimator, "n_jobs", None)
        self._require_outcome_only("bootstrap()")
        from .inference.bootstrap import cluster_bootstrap
        return cluster_bootstrap(self, n_boot=n_boot, seed=seed, alpha=alpha, n_jobs=n_jobs,
                                 progress=progress)

    def refit(self, y=None, X=None, mask=None):
        """Weights of the same estimator on other arrays (used by inference methods).  Returns
        ``(w, diagnostics)``; what the fit could not vouch for is in ``diagnostics["warnings"]``,
        not said: the calling method says it once for all its refits."""
        from .estimators.synthetic_control import fit_outcome_only
        p = self.panel
        return fit_outcome_only(p.y_treated if y is None else y, p.X_donors if X is None else X,
                                self.fit_mask if mask is None else mask, quiet=True)
