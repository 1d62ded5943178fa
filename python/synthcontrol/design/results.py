"""The result of a synthetic experimental design: the chosen units, their weights, what the search
proved, and -- when the experiment has run -- its effect, test and power."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._frozen import freeze
from . import power as pw

__all__ = ["DesignResult", "ArmDesigns", "build_result", "power_analysis"]

#: the power curve's defaults (one place): a two-sided 5% test at 80% power, horizons 1..12
POWER_ALPHA, POWER_TARGET, HORIZONS = 0.05, 0.8, tuple(range(1, 13))


@dataclass(frozen=True, repr=False)
class DesignResult:
    """A fitted design.  Build it with ``SyntheticDesign(...).fit(df, ...)``.

    Attributes
    ----------
    treated : list
        Labels of the units to treat.
    treated_weights, control_weights, contrast : pandas.Series
        Weights by unit (``contrast = treated_weights - control_weights``; the effect estimate at
        period ``t`` is ``y_t' contrast``).  per_unit: the control weights are the average of the
        treated units' own synthetic controls (``unit_weights`` holds each).
    objective : float
        The mode's objective at the design (the numbers in ``SyntheticDesign``'s docstring).
    bound : float
        A proven lower bound on the best objective of any admissible design.
    mip_gap : float
        ``(objective - bound) / |objective|``: how far from optimal the design can be.
    proven_optimal : bool
    status : str
        ``"optimal"``, ``"time_limit"``, ``"gap_limit"``, ``"node_limit"`` or ``"heuristic"``.
    certificate : ReadOnlyDict
        How it was proven: the method, sets bounded / solved / pruned, the best set's duality gap,
        seconds.
    pre_fit_rmse : float
        Root mean square of the pre-period contrast series (the design's matching error).
    contrast_series : pandas.Series
        ``y_t' contrast`` for every period.
    inference : Inference or None
        The moving-block permutation test of the post-period contrast (None when planning).
    power_curve : pandas.DataFrame
        Horizon 1..12: ``mde_absolute`` and ``mde_percent`` (Newey-West long-run SD of the
        pre-period contrast; baseline: the treated units' pre-period mean).
    post_fit : ReadOnlyDict or None
        ``ate``, ``ate_percent``, ``cumulative``, ``rmse_fit``, ``rmse_post``, ``p_value``, ``ci``,
        and ``mde_ar1`` (the AR(1) surface: a second, named quantity, not the design's MDE).
    """

    mode: str
    K: int
    lam: float
    units: Any
    times: Any
    T0: int
    treated: list
    treated_weights: pd.Series
    control_weights: pd.Series
    contrast: pd.Series
    objective: float
    bound: float
    proven_optimal: bool
    status: str
    certificate: dict
    pre_fit_rmse: float
    contrast_series: pd.Series
    power_curve: pd.DataFrame
    inference: Any = None
    post_fit: dict = None
    unit_weights: pd.DataFrame = None
    outcome_pre: np.ndarray = field(default=None, repr=False)
    settings: dict = field(default_factory=dict)
    arm: Any = None
    cost: float = None
    treated_path: pd.Series = None
    control_path: pd.Series = None
    pool: list = None                 # top_K > 1: the ranked menu (design/menu.py), best first
    recommendation: Any = None        # top_K > 1: the fit-versus-power recommendation
    selection: str = "in_sample"
    outcome_name: str = None          # the outcome column (figures' axis label)
    selection_key: str = None
    holdout_periods: int = None

    @property
    def mip_gap(self) -> float:
        if math.isnan(self.bound):
            return math.nan  # no bound applies (a holdout menu: the proof was on the training periods)
        if not math.isfinite(self.bound):
            return math.inf
        return max(self.objective - self.bound, 0.0) / max(abs(self.objective), 1e-300)

    @property
    def planning(self) -> bool:
        """True when the data have no post-treatment period: a plan (design and power only)."""
        return self.T0 >= len(self.times)

    def _mde_row(self):
        h = len(self.times) - self.T0 if not self.planning else HORIZONS[-1]
        row = self.power_curve[self.power_curve.horizon == h]
        if not len(row):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the row's hac_reliable flag says it
                row = power_analysis(self, horizons=[h])
        return row.iloc[0]

    @property
    def design(self) -> "DesignResult":
        """The selected design: with a menu, its best entry by ``selection`` (``pool[0]["design"]``);
        without one, this result."""
        return self.pool[0]["design"] if self.pool else self

    @property
    def mde_horizon(self) -> int:
        """The horizon of :attr:`mde`: the realised post-period length, or 12 when planning."""
        return int(self._mde_row().horizon)

    @property
    def mde_percent(self) -> float:
        """:attr:`mde` as a percent of the treated units' pre-period mean (the same row)."""
        return float(self._mde_row().mde_percent)

    @property
    def mde(self) -> float:
        """The design's MDE at the realised post-period length (or at 12 periods when planning):
        the power curve's number at that horizon (5% two-sided, 80% power, Newey-West long-run SD
        of the pre-period contrast), the one MDE printed everywhere for this design."""
        return float(self._mde_row().mde_absolute)

    def __repr__(self):
        return (f"DesignResult(mode={self.mode!r}, K={self.K}, treated={self.treated!r}, "
                f"objective={self.objective:.6g}, proven_optimal={self.proven_optimal})")

    def summary(self) -> str:
        c = self.certificate
        rows = [
            ("Mode", self.mode + (f"  (arm {self.arm!r})" if self.arm is not None else "")),
            ("Units / treated", f"{len(self.units)} / {self.K}"),
            ("Pre / post periods", f"{self.T0} / {len(self.times) - self.T0}" + ("  (planning)" if self.planning else "")),
            ("lambda", f"{self.lam:.6g}"),
            ("Objective", f"{self.objective:.6g}"),
            ("Proven lower bound", f"{self.bound:.6g}"),
            ("Gap", "not applicable: the set was chosen on held-out periods (its search proof covers the "
                    "leading pre-periods)" if math.isnan(self.mip_gap) else
                    f"{100 * self.mip_gap:.3g}%" + ("  (proven optimal)" if self.proven_optimal else
                                                  f"  (NOT proven optimal: {self.status})")),
            ("Search", f"{c.get('method')}; {c.get('n_solved')} of {c.get('n_sets')} sets solved, "
                       f"{c.get('seconds', float('nan')):.2f} s"),
            ("Pre-fit RMSE (contrast)", f"{self.pre_fit_rmse:.6g}"),
        ]
        if self.cost is not None:
            rows.append(("Cost of the treated", f"{self.cost:.6g}"))
        r = self._mde_row()
        h = int(r.horizon)
        if True:
            rows.append((f"MDE at {h} post periods", f"{r.mde_absolute:.6g} ({r.mde_percent:.3g}% of the treated "
                                                      f"pre-period mean; 5% two-sided, 80% power)"
                         + ("" if r.get("hac_reliable", True) else
                            f"; T0 < 4h: the long-run SD is less reliable at this horizon")))
            rows.append(("", "in-sample: from the pre-period contrast the design minimised, so optimistic "
                             "(2.5x too small in benchmarks/design_simulation.py)"))
        if self.post_fit is not None:
            pf = self.post_fit
            rows += [("ATT (mean post contrast)", f"{pf['ate']:+.6g}  ({pf['ate_percent']:+.3g}%)"),
                     ("Post-period RMSE", f"{pf['rmse_post']:.6g}")]
        if self.inference is not None:
            inf = self.inference
            rows.append(("Permutation test", f"p = {inf.p_value:.4g}; {inf.level} interval "
                                             f"[{inf.ci_lower:+.6g}, {inf.ci_upper:+.6g}]"))
        if c.get("restrictions"):
            rows.append(("Restrictions", str(c["restrictions"])))
        if self.pool:
            how = {"objective": "objective", "oos_rmse": f"out-of-sample RMSE on the last {self.holdout_periods} "
                   f"pre-periods", "ic": "information criterion SSR + 2 sigma^2 df"}[self.selection_key]
            rows.append(("Menu", f"{len(self.pool)} designs ranked by {how}; this is entry 1"))
        width = max(len(k) for k, _ in rows)
        bar = "=" * (width + 40)
        out = [bar, "Synthetic experimental design".center(len(bar)), bar]
        out += [f"{k:<{width}}  {v}" for k, v in rows]
        out.append("-" * len(bar))
        out.append("Treated units (weight):")
        for u in self.treated:
            out.append(f"  {str(u):<{width}}  {self.treated_weights[u]:.4f}")
        cw = self.control_weights[self.control_weights > 1e-3].sort_values(ascending=False)
        out.append(f"Control weights > 0.001 ({len(cw)}):")
        for u, v in cw.items():
            out.append(f"  {str(u):<{width}}  {v:.4f}")
        if self.pool:
            out.append("-" * len(bar))
            out.append(self.menu_table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            rec = self.recommendation
            if rec is not None and rec.winner is not None:
                out.append(f"Recommended ({rec.status}; power {rec.weights['power']:.2f} / fit "
                           f"{rec.weights['fit']:.2f}): {rec.winner['design_id']} "
                           f"({', '.join(map(str, rec.winner['markets']))}); Pareto: {', '.join(rec.pareto_ids)}")
        out.append(bar)
        return "\n".join(out)

    def menu_table(self) -> pd.DataFrame:
        """The menu as a table, one row per entry in rank order (empty without a menu)."""
        if not self.pool:
            return pd.DataFrame()
        cols = ["rank", "design_id", "markets", "objective", "pre_fit_rmse", "mde_pct", "cost", "gap",
                "proven_optimal"]
        extra = [k for k in ("oos_rmse", "ic", "df") if k in self.pool[0]]
        rows = []
        for e in self.pool:
            r = {k: e.get(k) for k in cols + extra}
            r["markets"] = ", ".join(map(str, e["markets"]))
            rows.append(r)
        return pd.DataFrame(rows)

    def __str__(self):
        return self.summary()

    def to_dict(self) -> dict:
        from ..schema import frame, labels, periods, scalar
        kind, per = periods(self.times)
        return {
            "schema": "synthcontrol.design/1", "mode": self.mode, "K": int(self.K), "lam": self.lam,
            "arm": scalar(self.arm) if self.arm is not None else None,
            "units": labels(self.units), "period_kind": kind, "periods": per, "T0": int(self.T0),
            "treated": labels(self.treated),
            "treated_weights": [float(x) for x in self.treated_weights],
            "control_weights": [float(x) for x in self.control_weights],
            "contrast": [float(x) for x in self.contrast],
            "contrast_series": [float(x) for x in self.contrast_series],
            "objective": self.objective, "bound": self.bound, "mip_gap": self.mip_gap,
            "proven_optimal": bool(self.proven_optimal), "status": self.status,
            "certificate": {k: scalar(v) for k, v in self.certificate.items()},
            "pre_fit_rmse": self.pre_fit_rmse, "cost": self.cost,
            "power_curve": frame(self.power_curve),
            "post_fit": None if self.post_fit is None else {k: scalar(v) for k, v in self.post_fit.items()},
            "inference": None if self.inference is None else self.inference.to_dict(),
            "selection": self.selection,
            "pool": None if not self.pool else [_entry_dict(e) for e in self.pool],
            "recommendation": None if self.recommendation is None else self.recommendation.to_dict(),
        }

    def plot(self, kind="design", ax=None):
        """``"design"``: the synthetic treated and synthetic control paths over time, the post window
        shaded; ``"power"``: the MDE against the post-period horizon."""
        from .plots import plot_design, plot_power
        from ..errors import SpecificationError
        if kind == "design":
            return plot_design(self, ax=ax)
        if kind == "power":
            return plot_power(self, ax=ax)
        if kind == "pareto":
            if not self.pool:
                raise SpecificationError("plot(kind='pareto') needs a menu: fit with top_K >= 2")
            from .plots import plot_pareto
            return plot_pareto(self, ax=ax)
        raise SpecificationError(f"kind must be 'design', 'power' or 'pareto', got {kind!r}")


def _entry_dict(e):
    from ..schema import frame, labels, scalar
    d = e["design"]
    out = {k: scalar(v) for k, v in e.items() if k not in ("design", "power_curve", "markets", "control_group")}
    out["markets"] = labels(e["markets"])
    out["control_group"] = labels(e["control_group"])
    out["treated_weights"] = [float(x) for x in d.treated_weights]
    out["control_weights"] = [float(x) for x in d.control_weights]
    out["power_curve"] = frame(e["power_curve"])
    return out


class ArmDesigns(dict):
    """Independent designs, one per arm (a dict arm -> :class:`DesignResult`)."""

    def atet_by_arm(self) -> dict:
        """``{arm: ATT}`` (None for an arm without post-period data)."""
        return {a: (None if r.post_fit is None else r.post_fit["ate"]) for a, r in self.items()}

    def treated_by_arm(self) -> dict:
        return {a: list(r.treated) for a, r in self.items()}

    def summary(self) -> str:
        return "\n\n".join(f"Arm {a!r}\n{r.summary()}" for a, r in self.items())

    def to_dict(self) -> dict:
        return {"schema": "synthcontrol.design_arms/1", "arms": {str(a): r.to_dict() for a, r in self.items()}}


# ------------------------------------------------------------------------------------------------
def power_analysis(dres, horizons=HORIZONS, alpha=POWER_ALPHA, power=POWER_TARGET, baseline="treated"):
    """The design's minimum detectable effect per post-period horizon: a DataFrame (horizon, se,
    mde_absolute, mde_percent, long_run_sigma, sigma_perm, bandwidth, hac_reliable).  ``baseline``:
    ``"treated"`` (the treated units' pre-period mean, default), ``"overall"``, ``"control"`` or a
    number.  See :func:`synthcontrol.design.power.mde_curve` for the formula."""
    g_pre = dres.contrast_series.to_numpy()[: dres.T0]
    mask = np.asarray([u in set(dres.treated) for u in dres.units])
    base = pw.baseline_value(dres.outcome_pre, mask, baseline)
    out = pw.mde_curve(g_pre, horizons=horizons, alpha=alpha, power=power, baseline=base)
    out.attrs.update(alpha=alpha, power=power, baseline=baseline, baseline_value=base)
    return out


def build_result(design, wide, T0, mode, lam, sv, bound, proven, status, info, costs=None, arm=None,
                 donor_excl=None):
    from ..inference.base import Inference
    units, times = wide.columns, wide.index
    Y = wide.to_numpy()
    N = len(units)
    a = pd.Series(sv.treated_weights, index=units, name="treated_weight")
    c = pd.Series(sv.control_weights, index=units, name="control_weight")
    contrast = (a - c).rename("contrast")
    from .._validate import _py
    treated = [_py(units[i]) for i in sv.treated]
    g = Y @ contrast.to_numpy()
    gs = pd.Series(g, index=times, name="contrast")
    pre_rmse = float(np.sqrt(np.mean(g[:T0] ** 2)))
    unit_w = None
    if sv.unit_weights is not None:
        unit_w = pd.DataFrame(sv.unit_weights, index=treated, columns=units)
    K = len(sv.treated)
    cost = None if costs is None else float(costs[list(sv.treated)].sum())
    partial = DesignResult(mode=mode, K=K, lam=lam, units=units, times=times, T0=T0, treated=treated,
                           treated_weights=a, control_weights=c, contrast=contrast, objective=float(sv.objective),
                           bound=float(bound), proven_optimal=bool(proven), status=status,
                           certificate=freeze(info), pre_fit_rmse=pre_rmse, contrast_series=gs,
                           power_curve=None, outcome_pre=Y[:T0], settings=freeze(design.get_params()), arm=arm,
                           unit_weights=unit_w, cost=cost, outcome_name=wide.attrs.get("outcome"),
                           treated_path=pd.Series(Y @ a.to_numpy(), index=times, name="synthetic treated"),
                           control_path=pd.Series(Y @ c.to_numpy(), index=times, name="synthetic control"))
    import warnings
    with warnings.catch_warnings(record=True) as said:  # the flag lives in the table (hac_reliable)
        warnings.simplefilter("always")
        curve = power_analysis(partial)
    curve.attrs["notes"] = [str(w.message) for w in said]
    inference = post_fit = None
    L = len(times) - T0
    if L > 0:
        base = pw.baseline_value(Y[:T0], np.isin(np.arange(N), list(sv.treated)), "treated")
        ate = float(g[T0:].mean())
        post_fit = {"ate": ate, "ate_percent": 100 * ate / base if base else math.nan,
                    "cumulative": float(g[T0:].sum()), "rmse_fit": pre_rmse,
                    "rmse_post": float(np.sqrt(np.mean(g[T0:] ** 2))), "n_post": L}
        post_fit.update({k: v for k, v in pw.ar1_mde(g[:T0], L).items() if np.ndim(v) == 0})
        if design.run_inference:
            if design.permutation == "refit":
                from .null_refit import refit_permutation_test
                t = refit_permutation_test(Y, T0, sv.treated, "two_way_global" if mode.endswith("annealed") else mode,
                                           lam, ate, alpha=design.alpha,
                                           x0=None if mode == "per_unit" else sv.treated_weights + sv.control_weights,
                                           donor_excl=donor_excl)
                method = "moving-block permutation test, weights refitted under the null on all periods"
            else:
                t = pw.block_permutation_test(g, T0, alpha=design.alpha)
                method = "moving-block permutation test of the design's contrast (weights fixed)"
            details = {k: v for k, v in t.items() if k not in ("estimate", "p_value", "ci_lower", "ci_upper", "alpha")}
            inference = Inference(method=method,
                                  p_value=t["p_value"], ci_lower=t["ci_lower"], ci_upper=t["ci_upper"],
                                  alpha=design.alpha, details={"att": t["estimate"], **details},
                                  name="block_permutation")
            post_fit.update(p_value=t["p_value"], ci_lower=t["ci_lower"], ci_upper=t["ci_upper"])
    from dataclasses import replace
    return replace(partial, power_curve=curve, inference=inference,
                   post_fit=None if post_fit is None else freeze(post_fit))
