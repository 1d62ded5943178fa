"""Synth-compatible entry points: ``dataprep`` -> ``synth`` with Synth's names.

A script written for R's ``Synth`` (``dataprep()`` then ``synth()``) maps one to
one onto these functions (argument dots become underscores in Python)::

    dp = sc.synth_dataprep(foo=df, predictors=["lnincome", "retprice"], predictors_op="mean",
                           time_predictors_prior=range(1980, 1989),
                           special_predictors=[("cigsale", [1975], "mean")],
                           dependent="cigsale", unit_variable="state_id", time_variable="year",
                           treatment_identifier=3, controls_identifier=[1, 2, 4, ...],
                           time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
    out = sc.synth(dp)          # out.solution_w, out.solution_v, out.loss_v, out.loss_w
    out.bound_gap               # proven distance of loss_v from the optimum (0: certified optimal)

``from_synth_dataprep`` accepts an R ``dataprep.out`` already computed (a
mapping with ``X1``, ``X0``, ``Z1``, ``Z0``, e.g. read through rpy2), so the
matrices of an existing analysis can be re-solved unchanged.

The predictor matrices are Synth's (``synthcontrol.predictors`` reproduces
``dataprep``'s ``X0``/``X1`` exactly), scaled as ``synth`` does (each predictor
divided by its standard deviation over all units); ``solution_v`` refers to the
scaled predictors and sums to one, ``loss_v`` is the mean squared outcome gap
over ``time_optimize_ssr`` and ``loss_w`` is ``(X1 - X0 w)' V (X1 - X0 w)`` on
the scaled predictors -- Synth's definitions.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, SpecificationError
from .predictors import build_predictors

__all__ = ["SynthData", "SynthOutput", "synth_dataprep", "from_synth_dataprep", "synth", "synth_tab",
           "basque_schooling_shares"]


@dataclass(frozen=True)
class SynthData:
    """Synth's ``dataprep.out``: predictor and outcome matrices (labelled)."""

    X1: pd.Series  # predictors of the treated unit (unscaled)
    X0: pd.DataFrame  # predictors x donors (unscaled)
    Z1: pd.Series  # treated outcome over time_optimize_ssr
    Z0: pd.DataFrame  # periods x donors over time_optimize_ssr
    Y1plot: pd.Series | None = None  # treated outcome over time_plot
    Y0plot: pd.DataFrame | None = None  # periods x donors over time_plot
    names_and_numbers: pd.DataFrame | None = None  # unit.names / unit.numbers
    tag: dict = field(default_factory=dict)  # the call's arguments


@dataclass(frozen=True)
class SynthOutput:
    """Synth's ``synth.out`` plus the bounds of the V problem."""

    solution_w: pd.Series  # donor -> weight
    solution_v: pd.Series  # predictor -> weight (scaled predictors, sum 1)
    loss_v: float
    loss_w: float
    lower_bound: float  # proven: no V gives a smaller loss_v
    bound_gap: float  # loss_v - lower_bound: proven distance to the optimum (0: certified)
    bound_attained: bool  # bound_gap ~ 0 (1e-9 relative): a certified optimum
    v_agreement: float
    inner_gap: float  # how far solution_w is from optimal for solution_v (relative)
    backend: str
    n_evals: int
    seconds: float
    custom_v: bool = False
    predictor_scale: pd.Series | None = None
    outcome_only_bound: float = float("nan")  # L(W**), below every V's loss
    bound_method: str = ""  # "lp-certificate" | "global (corners + MIQP)" | "outcome-only"
    v_reported: str = "search"  # which V solution_v is: "search", "min.loss.w", "max.order" (or "custom_v")
    r_squared: float = float("nan")  # 1 - ||Z1 - Z0 w||^2 / ||Z1 - mean(Z1)||^2 over time_optimize_ssr

    @property
    def loss_w_per_predictor(self) -> float:
        """``loss_w`` divided by the number of predictors K: the 1/K convention of Malo et al.'s
        eq. 8.  ``loss_w`` itself is Synth's ``loss.w``, ``(X1 - X0 w)' V (X1 - X0 w)`` on the scaled
        predictors with V summing to one (no 1/K)."""
        return self.loss_w / max(len(self.solution_v), 1)

    def as_dict(self) -> dict:
        """Plain values with Synth's result names (``solution.w`` ...) plus ours."""
        return {
            "solution.w": {str(k): float(v) for k, v in self.solution_w.items()},
            "solution.v": {str(k): float(v) for k, v in self.solution_v.items()},
            "loss.v": self.loss_v, "loss.w": self.loss_w,
            "lower_bound": self.lower_bound, "bound_gap": self.bound_gap,
            "bound_attained": self.bound_attained, "v_agreement": self.v_agreement,
            "inner_gap": self.inner_gap, "backend": self.backend, "n_evals": self.n_evals,
            "seconds": self.seconds, "custom_v": self.custom_v,
            "outcome_only_bound": self.outcome_only_bound, "bound_method": self.bound_method,
            "v_reported": self.v_reported, "r_squared": self.r_squared,
            "loss_w_per_predictor": self.loss_w_per_predictor,
        }


def _periods(x, what):
    if x is None:
        raise SpecificationError(f"{what} is required")
    if np.isscalar(x):
        return [x]
    out = list(x)
    if not out:
        raise SpecificationError(f"{what} is empty")
    return out


def synth_dataprep(foo, predictors=None, predictors_op="mean", special_predictors=None, dependent=None,
                   unit_variable=None, time_variable=None, treatment_identifier=None,
                   controls_identifier=None, time_predictors_prior=None, time_optimize_ssr=None,
                   time_plot=None, unit_names_variable=None) -> SynthData:
    """Synth's ``dataprep()``: the predictor and outcome matrices of one analysis.

    Arguments are Synth's, with dots as underscores.  ``special_predictors`` is a
    list of ``(column, periods, "mean")``.  ``treatment_identifier`` /
    ``controls_identifier`` may be unit numbers or, with ``unit_names_variable``,
    unit names (as in Synth).  Only ``predictors_op="mean"`` is supported.
    """
    if not isinstance(foo, pd.DataFrame):
        raise SpecificationError(f"foo must be a pandas DataFrame, got {type(foo).__name__}")
    for name, val in (("dependent", dependent), ("unit_variable", unit_variable),
                      ("time_variable", time_variable), ("treatment_identifier", treatment_identifier),
                      ("controls_identifier", controls_identifier)):
        if val is None:
            raise SpecificationError(f"dataprep: {name} is required")
    if predictors_op != "mean":
        raise SpecificationError(f"predictors_op={predictors_op!r} is not supported; use 'mean'")
    for col in (unit_variable, time_variable, dependent) + ((unit_names_variable,) if unit_names_variable else ()):
        if col not in foo.columns:
            raise DataError(f"dataprep: column {col!r} is not in foo")
    unit = unit_variable
    treated = treatment_identifier
    controls = list(np.atleast_1d(controls_identifier))
    if unit_names_variable is not None:  # names may stand for numbers, as in Synth
        names = foo[[unit, unit_names_variable]].drop_duplicates()
        by_name = dict(zip(names[unit_names_variable], names[unit]))
        if isinstance(treated, str):
            if treated not in by_name:
                raise DataError(f"dataprep: treatment_identifier {treated!r} is not a value of "
                                f"{unit_names_variable!r}")
            treated = by_name[treated]
        miss = [c for c in controls if isinstance(c, str) and c not in by_name]
        if miss:
            raise DataError(f"dataprep: controls {miss!r} are not values of {unit_names_variable!r}")
        controls = [by_name[c] if isinstance(c, str) else c for c in controls]
    prior = _periods(time_predictors_prior, "time_predictors_prior") if predictors else None
    ssr = _periods(time_optimize_ssr, "time_optimize_ssr")
    special = None
    if special_predictors:
        special = []
        for sp in special_predictors:
            if len(sp) != 3:
                raise SpecificationError(f"each special predictor is (column, periods, op), got {sp!r}")
            col, per, op = sp
            special.append((col, list(np.atleast_1d(per)) if not isinstance(per, range) else per, op))
    pr = build_predictors(foo, unit, time_variable, treated, controls, covariates=list(predictors or []) or None,
                          predictor_window=prior, special=special, outcome=dependent,
                          pre_periods=prior or ssr)
    wide = foo.pivot_table(index=time_variable, columns=unit, values=dependent, aggfunc="first")

    def block(periods, what):
        miss = [t for t in periods if t not in wide.index]
        if miss:
            raise DataError(f"dataprep: {what} period(s) {miss[:5]!r} are not in {time_variable!r}")
        Y = wide.loc[list(periods), [treated] + controls]
        if Y.isna().any().any():
            t, u = next((t, u) for u in Y.columns for t in Y.index if pd.isna(Y.at[t, u]))
            raise DataError(f"dataprep: {dependent!r} is missing for unit {u!r} in period {t!r} ({what})")
        return Y[treated].astype(float), Y[controls].astype(float)

    Z1, Z0 = block(ssr, "time_optimize_ssr")
    Y1, Y0 = block(_periods(time_plot, "time_plot"), "time_plot") if time_plot is not None else (None, None)
    nn = None
    if unit_names_variable is not None:
        nn = foo[[unit_names_variable, unit]].drop_duplicates().rename(
            columns={unit_names_variable: "unit.names", unit: "unit.numbers"}).reset_index(drop=True)
    return SynthData(X1=pr.X1, X0=pr.X0, Z1=Z1, Z0=Z0, Y1plot=Y1, Y0plot=Y0, names_and_numbers=nn,
                     tag={"predictors": list(predictors or []), "special_predictors": special_predictors,
                          "dependent": dependent, "treatment_identifier": treated,
                          "controls_identifier": controls, "time_optimize_ssr": ssr})


def from_synth_dataprep(dataprep_out) -> SynthData:
    """Wrap an existing Synth ``dataprep.out`` (a mapping with ``X1``, ``X0``, ``Z1``, ``Z0``
    and optionally ``Y1plot``, ``Y0plot``) as :class:`SynthData`."""
    if isinstance(dataprep_out, SynthData):
        return dataprep_out
    if not isinstance(dataprep_out, Mapping):
        raise SpecificationError(
            f"from_synth_dataprep takes a mapping with X1, X0, Z1, Z0 (Synth's dataprep.out), "
            f"got {type(dataprep_out).__name__}")
    miss = [k for k in ("X1", "X0", "Z1", "Z0") if k not in dataprep_out]
    if miss:
        raise SpecificationError(f"dataprep.out lacks {miss}")
    X0 = pd.DataFrame(np.asarray(dataprep_out["X0"], dtype=float)) if not isinstance(
        dataprep_out["X0"], pd.DataFrame) else dataprep_out["X0"].astype(float)
    X1 = pd.Series(np.asarray(dataprep_out["X1"], dtype=float).ravel(), index=X0.index)
    Z0 = pd.DataFrame(np.asarray(dataprep_out["Z0"], dtype=float), columns=X0.columns) if not isinstance(
        dataprep_out["Z0"], pd.DataFrame) else dataprep_out["Z0"].astype(float)
    Z1 = pd.Series(np.asarray(dataprep_out["Z1"], dtype=float).ravel(), index=Z0.index)
    if X0.shape[1] != Z0.shape[1]:
        raise SpecificationError(f"X0 has {X0.shape[1]} donors but Z0 has {Z0.shape[1]}")
    extra = {}
    for k in ("Y1plot", "Y0plot"):
        if dataprep_out.get(k) is not None:
            extra[k] = dataprep_out[k]
    return SynthData(X1=X1, X0=X0, Z1=Z1, Z0=Z0, **extra)


def basque_schooling_shares(dp: SynthData) -> SynthData:
    """The edit ``example(synth)`` makes to the Basque ``dataprep.out`` before ``synth()``: merge
    ``school.high`` and ``school.post.high``, then express the four schooling rows as percentage
    shares per unit.  Returns a new :class:`SynthData`; ``dp`` is not modified."""
    rows = ["school.illit", "school.prim", "school.med", "school.high"]
    miss = [r for r in rows + ["school.post.high"] if r not in dp.X0.index]
    if miss:
        raise SpecificationError(f"basque_schooling_shares needs the Basque schooling predictors; missing {miss}")
    X1, X0 = dp.X1.copy(), dp.X0.copy()
    X1["school.high"] += X1["school.post.high"]
    X0.loc["school.high"] += X0.loc["school.post.high"]
    X1, X0 = X1.drop("school.post.high"), X0.drop("school.post.high")
    X1[rows] = 100 * X1[rows] / X1[rows].sum()
    X0.loc[rows] = 100 * X0.loc[rows] / X0.loc[rows].sum(axis=0)
    return SynthData(X1=X1, X0=X0, Z1=dp.Z1, Z0=dp.Z0, Y1plot=dp.Y1plot, Y0plot=dp.Y0plot,
                     names_and_numbers=dp.names_and_numbers, tag=dp.tag)


def _scale(X1, X0):
    allu = np.column_stack((X0, X1))
    div = allu.std(axis=1, ddof=1)
    bad = ~(np.isfinite(div) & (div > 0))
    if bad.any():
        raise SpecificationError(
            f"cannot scale predictor(s) with zero standard deviation across units: row(s) {np.flatnonzero(bad).tolist()}")
    return X1 / div, X0 / div[:, None], div


def _r_squared(z1, z0, w) -> float:
    """Pre-period R^2 of the outcome fit over the optimisation window (NaN for a flat treated series)."""
    z1 = np.ravel(z1)
    g = z1 - z0 @ w
    sst = float(((z1 - z1.mean()) ** 2).sum())
    return 1.0 - float(g @ g) / sst if sst > 0 else float("nan")


def synth(data_prep_obj=None, X1=None, X0=None, Z1=None, Z0=None, custom_v=None, backend="auto",
          seed=0, certify=True, time_limit=None, canonical_v=False, mscmt_maxiter=60,
          mscmt_popsize=10, mscmt_prune_shady=False) -> SynthOutput:
    """Synth's ``synth()``: predictor weights V and donor weights W, with proven bounds.

    ``backend``: ``"auto"`` (certificate, corners, multi-start search), ``"malo"``
    or ``"mscmt"`` (see :class:`~synthcontrol.SyntheticControl`).  ``custom_v``
    fixes V (as Synth's ``custom.v``): W is then the lower level's solution for it,
    ties broken toward the outcome fit, and ``bound_gap`` says how far that V is from the
    best any V can do.  ``certify``: the global lower bound (SCIP; see
    :mod:`synthcontrol.solvers.global_bound`), under deterministic node and gap limits;
    ``time_limit`` (seconds, default none) adds a wall-clock cap, reported in the output's
    ``global_bound_stopped_by`` when it bites (the answer may then depend on machine speed).
    ``canonical_v``: ``False`` (the search's V), ``"min.loss.w"`` or ``"max.order"`` -- which of the
    V's that make the same W optimal is reported as ``solution_v`` (MSCMT's ``determine_v``; W,
    ``loss_v`` unchanged, ``loss_w`` the reported V's; ``v_reported`` names it).  Not with ``custom_v``.
    ``mscmt_maxiter``, ``mscmt_popsize``: the ``"mscmt"`` backend's differential-evolution budget
    (generations, population per predictor), and ``mscmt_prune_shady`` (search the sunny donors
    only), as on :class:`~synthcontrol.SyntheticControl`.
    """
    from ._validate import check_bool, check_choice, check_number, check_seed
    from .solvers.vsearch import VProblem, check_v_options, reported_v, solve_bilevel, v_choices
    backend = check_choice("backend", backend, ("auto", "malo", "mscmt"))
    mscmt_maxiter, mscmt_popsize = check_v_options(backend, canonical_v, mscmt_maxiter, mscmt_popsize,
                                                   mscmt_prune_shady, who="call")
    if canonical_v is not False and custom_v is not None:
        raise SpecificationError("canonical_v chooses among the V's a search finds; with custom_v the V is "
                                 "yours: give one or the other")
    seed = check_seed("seed", seed, allow_none=False)
    certify = check_bool("certify", certify)
    time_limit = check_number("time_limit", time_limit, low=0, low_open=True, allow_none=True)
    if data_prep_obj is not None:
        d = from_synth_dataprep(data_prep_obj)
        X1s, X0s, Z1s, Z0s = d.X1, d.X0, d.Z1, d.Z0
    else:
        if any(a is None for a in (X1, X0, Z1, Z0)):
            raise SpecificationError("give data_prep_obj, or all of X1, X0, Z1, Z0")
        d = from_synth_dataprep({"X1": X1, "X0": X0, "Z1": Z1, "Z0": Z0})
        X1s, X0s, Z1s, Z0s = d.X1, d.X0, d.Z1, d.Z0
    x1 = X1s.to_numpy(dtype=float)
    x0 = X0s.to_numpy(dtype=float)
    z1 = Z1s.to_numpy(dtype=float)
    z0 = Z0s.to_numpy(dtype=float)
    for nm, a in (("X1", x1), ("X0", x0), ("Z1", z1), ("Z0", z0)):
        if not np.isfinite(a).all():
            raise DataError(f"{nm} has missing or infinite values")
    x1s, x0s, div = _scale(x1, x0)
    names = list(X0s.index)
    donors = list(X0s.columns)
    if custom_v is not None:
        v = np.asarray(custom_v, dtype=float).ravel()
        if v.shape != (len(names),) or not np.isfinite(v).all() or (v < 0).any() or v.sum() <= 0:
            raise SpecificationError(f"custom_v must be {len(names)} non-negative numbers, not all zero")
        v = v / v.sum()
        prob = VProblem(x1s, x0s, z1, z0)
        lv, w = prob.value(v)
        from .solvers.bilevel import outcome_bound_certificate
        from .solvers.global_bound import global_lower_bound, scip_available
        cert = outcome_bound_certificate(x1s, x0s, z1, z0)
        lower, method = cert.lower_bound, "outcome-only"
        if scip_available():  # how far is this V from the best any V can do?
            gb = global_lower_bound(x1s, x0s, z1, z0, incumbent=lv)
            if np.isfinite(gb.lower) and gb.lower > lower:
                lower, method = gb.lower, "global (corners + MIQP)"
        v1, v2 = v_choices(prob, w, v_ref=v)
        agree = float(np.abs(v1 - v2).max()) if v1 is not None and v2 is not None else float("nan")
        gap = max(0.0, lv - lower)
        return SynthOutput(pd.Series(w, index=donors, name="w.weight"), pd.Series(v, index=names, name="v"),
                           lv, prob.loss_w(v, w), lower, gap, gap <= 1e-9 * max(lower, 1e-300),
                           agree, prob.inner_gap(v, w) / prob._xscale, "custom_v", prob.n_evals, 0.0,
                           custom_v=True, predictor_scale=pd.Series(div, index=names), v_reported="custom_v",
                           r_squared=_r_squared(z1, z0, w),
                           outcome_only_bound=cert.lower_bound, bound_method=method)
    fit = solve_bilevel(x1s, x0s, z1, z0, backend=backend, seed=seed, certify=certify, time_limit=time_limit,
                        de_maxiter=mscmt_maxiter, de_popsize=mscmt_popsize, prune_shady=mscmt_prune_shady)
    v, loss_w, which, note = reported_v(fit, x1s, x0s, canonical_v)
    if note:
        import warnings
        from .errors import SynthWarning
        warnings.warn(note, SynthWarning, stacklevel=2)
    return SynthOutput(
        solution_w=pd.Series(fit.w, index=donors, name="w.weight"),
        solution_v=pd.Series(v, index=names, name="v"),
        loss_v=fit.loss_v, loss_w=loss_w, v_reported=which, r_squared=_r_squared(z1, z0, fit.w), lower_bound=fit.lower_bound, bound_gap=fit.bound_gap,
        bound_attained=fit.attained, v_agreement=fit.v_agreement, inner_gap=fit.inner_gap_rel,
        backend=fit.backend, n_evals=fit.n_evals, seconds=fit.seconds,
        predictor_scale=pd.Series(div, index=names), outcome_only_bound=fit.outcome_only_bound,
        bound_method=fit.bound_method)


def synth_tab(dataprep_res: SynthData, synth_res: SynthOutput) -> dict:
    """Synth's ``synth.tab()``: predictor balance, V, W and losses as DataFrames."""
    d = from_synth_dataprep(dataprep_res)
    w = synth_res.solution_w.to_numpy()
    bal = pd.DataFrame({"Treated": d.X1, "Synthetic": d.X0.to_numpy() @ w,
                        "Sample Mean": d.X0.mean(axis=1)})
    return {
        "tab.pred": bal,
        "tab.v": synth_res.solution_v.rename("v.weights").to_frame(),
        "tab.w": pd.DataFrame({"w.weights": synth_res.solution_w.round(3),
                               "unit.numbers": synth_res.solution_w.index}),
        "tab.loss": pd.DataFrame({"Loss W": [synth_res.loss_w], "Loss V": [synth_res.loss_v],
                                  "Lower bound": [synth_res.lower_bound],
                                  "Bound gap": [synth_res.bound_gap]}),
    }
