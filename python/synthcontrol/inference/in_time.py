"""In-time placebo: pretend the treatment started earlier and refit on the earlier periods."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, SpecificationError
from .._validate import _py
from .base import Inference, register
from .._numerics import rms
from ._undefined import RTOL, fit_scale, report_refits, say

__all__ = ["in_time_placebo"]


def _model_before(res, k):
    """The fit's model for a fake treatment at index ``k`` and the predictors it leaves out (the
    model decides: a covariate fit keeps only the predictors measured wholly before the date)."""
    return res.model.before_fake_date(res.panel.times[k:], _py(res.panel.times[k]))


def _model_before_or_none(res, k):
    try:
        return _model_before(res, k)
    except SpecificationError:
        return None


def _one(res, k, before=None):
    """Fake treatment at pre-period index k (2 <= k < T0): fit on [0, k), 'post' = [k, T0).
    ``before``: the ``(model, dropped predictors)`` for this date, if already made."""
    p = res.panel
    T0 = p.T0
    mask = res.fit_mask & (np.arange(len(p.times)) < k)  # the fit window, cut at the fake date
    if mask.sum() < 2:
        raise SpecificationError(
            f"fake_time {_py(p.times[k])!r} leaves {int(mask.sum())} period(s) of the fit window to fit on; need at least 2")
    model, dropped = _model_before(res, k) if before is None else before
    r = model.refit(0, np.arange(1, len(p.donors) + 1), mask)
    w, diag = r.weights, r.diagnostics
    gap = np.asarray(r.gap)
    pre, fake_post = gap[:k], gap[k:T0]
    pre_rmse = rms(pre)  # overflow-safe: finite for outcomes of 1e300
    post_rmse = rms(fake_post)
    # an (almost) exact pre-fit -- common when donors outnumber the fitted periods -- makes
    # the ratio meaningless: report NaN rather than inf or 1e15 (the rule of ._undefined: pre-RMSPE
    # at most RTOL x the scale of the outcomes over the refit's fitting periods)
    exact = not pre_rmse > RTOL * fit_scale(p, mask)
    return w, gap, {
        "fake_time": p.times[k], "att": float(fake_post.mean()), "pre_rmse": pre_rmse,
        "post_rmse": post_rmse, "rmspe_ratio": np.nan if exact else post_rmse / pre_rmse,
        "ratio_defined": not exact, "kkt_violation": diag.get("kkt_violation", np.nan),
        "certified": bool(diag.get("certified", r.certified)),
        "predictors_dropped": "; ".join(dropped),
    }, diag


@register("in_time_placebo", supports=("outcome", "predictors", "ridge"), title="In-time placebo (backdated treatment)",
          aliases=("in_time",), cli_table="all")
def in_time_placebo(res, fake_time=None) -> Inference:
    """Backdate the treatment to ``fake_time`` (or every feasible pre-period) and refit.

    With ``fake_time`` given: fit on the periods before it and measure the gap
    between ``fake_time`` and the real treatment (no effect should appear).
    ``details`` has ``att`` (the fake ATT), ``effects``, ``pre_rmse``,
    ``rmspe_ratio``, ``weights`` and ``ratio_to_att`` (|fake ATT| / |ATT|).

    With ``fake_time=None``: every pre-period with at least two fitted periods
    before it, in a ``table``; the p-value is not defined for this diagnostic
    (None).  ``rmspe_ratio`` is NaN where the earlier periods are fitted
    exactly (more donors than periods), since the ratio then has no meaning.

    The weights are fitted on the estimator's fit window cut at the fake date.  A covariate
    (V-weighted) fit keeps only the predictors measured wholly before the fake date (column
    ``predictors_dropped`` names the others, and it is said); a ridge fit keeps its penalty and
    averages its covariates over the periods before the fake date.
    """
    p = res.panel
    times = p.times
    T0 = p.T0
    if fake_time is None:
        first = int(np.flatnonzero(res.fit_mask)[1]) + 1  # two fitted periods before the fake date
        ks = list(range(max(2, first), T0))
        # dates before every predictor's window (covariate fits) leave nothing to fit on: skipped
        before = {k: _model_before_or_none(res, k) for k in ks}  # each date's model, made once
        no_predictors = [k for k in ks if before[k] is None]
        fits, no_data = [], []
        for k in ks:
            if before[k] is None:
                continue
            try:
                fits.append(_one(res, k, before[k]))
            except DataError as e:  # e.g. a ridge fit's covariate with no value before this date
                no_data.append((k, str(e)))
        if not fits:
            raise SpecificationError(
                "no feasible fake treatment time: every earlier date leaves fewer than 2 periods of "
                "the fit window to fit on" + (", or no predictor measured wholly before it" if no_predictors else ""))
        table = pd.DataFrame([f[2] for f in fits])
        details = {"table": table}
        if no_data:
            say(f"in-time placebo: {len(no_data)} fake date(s) (from {_py(times[no_data[0][0]])!r} to "
                f"{_py(times[no_data[-1][0]])!r}) are skipped: the refit before them has no data to fit on "
                f"({no_data[0][1]})", details)
        if no_predictors:
            say(f"in-time placebo: {len(no_predictors)} earlier fake date(s) (up to "
                f"{_py(times[no_predictors[-1]])!r}) are skipped: every predictor is measured on or after them",
                details)
        n_drop = int((table.predictors_dropped != "").sum())
        if n_drop:
            say(f"in-time placebo: at {n_drop} of {len(table)} fake dates predictors measured on or after the "
                f"date are left out of the refit (column 'predictors_dropped')", details)
        else:
            table = table.drop(columns="predictors_dropped")
        report_refits([f[3] for f in fits], [_py(f[2]["fake_time"]) for f in fits], "in-time placebo", details)
        n_undef = int((~table.ratio_defined).sum())
        if n_undef:
            say(f"in-time placebo: at {n_undef} of {len(table)} fake dates the periods before the date are "
                f"fitted exactly (pre-RMSPE <= {RTOL:g} x the outcome scale), so their post/pre RMSPE ratio is "
                f"undefined and reported as NaN (column 'ratio_defined')", details)
        return Inference(method="in-time placebo (all fake times)", details=details)
    from ..panel import coerce_period
    fake_time = coerce_period(fake_time, times, "fake_time", p.time)
    if fake_time not in times:
        raise SpecificationError(f"fake_time {fake_time!r} is not a period of the panel")
    k = int(times.get_loc(fake_time))
    if k >= T0:
        raise SpecificationError(
            f"fake_time {fake_time!r} must be before the treatment time {p.treatment_time!r}")
    if k < 2:
        raise SpecificationError(
            f"fake_time {fake_time!r} leaves {k} period(s) to fit on; need at least 2")
    w, gap, d, diag = _one(res, k)
    report_refits([diag], [_py(fake_time)], "in-time placebo", d)
    if d["predictors_dropped"]:
        say(f"in-time placebo: predictors measured on or after fake_time {_py(fake_time)!r} are left out of the "
            f"refit: {d['predictors_dropped']}", d)
    if not d["ratio_defined"]:
        say(f"in-time placebo: the {k} periods before fake_time {_py(fake_time)!r} are fitted exactly "
            f"(pre-RMSPE {d['pre_rmse']:.3g} <= {RTOL:g} x the outcome scale), so the post/pre RMSPE ratio is "
            f"undefined (NaN); the fake ATT is still reported", d)
    d["effects"] = pd.Series(gap[k:T0], index=times[k:T0], name="placebo effect")
    d["gap"] = pd.Series(gap, index=times, name="gap")
    d["weights"] = pd.Series(w, index=p.donors, name="weight")
    att_floor = RTOL * fit_scale(p, res.fit_mask)
    d["ratio_to_att"] = abs(d["att"]) / abs(res.att) if abs(res.att) > att_floor else np.nan  # undefined over 0
    return Inference(method="in-time placebo", details=d)
