"""Comparing designs from different methods on one fit-versus-power plane.

Every design -- a SYNDES menu entry, a GeoLift-style candidate, a hand-picked set -- reduces to a
contrast vector ``c`` over the units (treated weights minus control weights, each side summing to
one).  :func:`score_contrast` is the one harness that scores any ``c`` on the pre-period:

* fit: ``fit_rmse = sqrt(mean((Y_pre c)^2))``;
* power: the moving-block null of the length-``h`` mean of ``g = Y_pre c`` (the ``T0`` cyclic
  shifts), the two-sided critical value its ``1 - alpha`` quantile of ``|m_s|``, and at an effect
  ``tau`` (a share of the baseline, the treated units' pre-period mean) the power is the share of
  shifted block means ``|m_s + tau b|`` above the critical value -- adding ``tau`` to every treated
  unit moves the contrast by exactly ``tau`` because the treated weights sum to one.  ``mde_pct`` is
  the smallest effect of the grid with power at least ``power`` (NaN when none is).

Same horizon, same effect grid, same null, same baseline for every method: the differences on the
plane are the designs'.

:func:`geolift_like_selection` is a GeoLift-style market selection written from the description of
Meta's GeoLift (candidate treated groups of similar markets, each scored by a synthetic control of
the treated average and by simulated power on historical windows), not from its code: candidates are
each market with its ``K - 1`` most correlated markets; each is fitted by a simplex synthetic control
of the treated average (no ridge); its simulated power comes from ``lookback`` historical windows of
``h`` periods before the end of the pre-period (weights refitted on the periods before each window,
the effect injected into the window, the moving-block test of that refitted contrast); its MDE is the
smallest effect of the grid detected in at least ``power`` of the windows, its bias the mean absolute
estimate at zero effect; candidates are ranked by the mean of their dense ranks on the two.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from . import power as pw

__all__ = ["score_contrast", "geolift_like_selection", "compare_methods", "Comparison", "DEFAULT_EFFECTS"]

#: the default effect grid, as shares of the baseline: 0.25% to 25%
DEFAULT_EFFECTS = tuple(np.round(np.concatenate([np.arange(0.0025, 0.05, 0.0025), np.arange(0.05, 0.2501, 0.01)]), 6))


def _block_means(g, h):
    T = g.size
    idx = (np.arange(T)[:, None] + np.arange(h)[None, :]) % T
    return g[idx].mean(axis=1)


def score_contrast(Y_pre, c, treated, horizon, effects=DEFAULT_EFFECTS, alpha=0.05, power=0.8):
    """Fit and power of the contrast ``c`` on the pre-period ``Y_pre`` (T0 x N) -- see the module
    docstring.  ``treated``: column indices of the treated units (for the baseline).  Returns a dict:
    ``fit_rmse``, ``mde_pct`` (percent of the baseline), ``mde`` (absolute), ``baseline``,
    ``critical``, ``power_curve`` (DataFrame: effect_pct, power)."""
    Y_pre = np.asarray(Y_pre, dtype=float)
    c = np.asarray(c, dtype=float)
    T0 = Y_pre.shape[0]
    h = int(horizon)
    if not 1 <= h < T0:
        raise SpecificationError(f"horizon must be in 1..T0-1 = {T0 - 1}, got {horizon!r}")
    g = Y_pre @ c
    m = _block_means(g, h)
    crit = float(np.quantile(np.abs(m), 1.0 - alpha, method="higher"))
    b = float(Y_pre[:, list(treated)].mean())
    eff = np.asarray(effects, dtype=float)
    pw_ = np.array([np.mean(np.abs(m + e * b) > crit) for e in eff])
    ok = np.flatnonzero(pw_ >= power)
    mde = float(eff[ok[0]]) if ok.size else math.nan
    return {"fit_rmse": float(np.sqrt(np.mean(g * g))), "mde_pct": 100 * mde, "mde": mde * b, "baseline": b,
            "critical": crit, "power_curve": pd.DataFrame({"effect_pct": 100 * eff, "power": pw_})}


def _one_way(Y, S):
    from ..solvers.syndes import DesignProblem
    sv = DesignProblem(Y, "one_way_global", 0.0).value(S)
    return sv.treated_weights - sv.control_weights


def geolift_like_selection(Y_pre, K, horizon, *, lookback=10, effects=DEFAULT_EFFECTS, alpha=0.1, power=0.8,
                           top_K=None):
    """GeoLift-style candidates (module docstring), best first: a list of dicts with ``treated``
    (indices), ``contrast`` (weights fitted on the whole pre-period), ``sim_mde_pct``,
    ``abs_lift_in_zero`` (percent of the baseline), ``rank``."""
    Y_pre = np.asarray(Y_pre, dtype=float)
    T0, N = Y_pre.shape
    h = int(horizon)
    lookback = int(lookback)
    if T0 - h - (lookback - 1) < 4:
        raise SpecificationError(f"geolift_like_selection: {lookback} windows of {h} periods leave fewer than 4 "
                                 f"training periods in a pre-period of {T0}")
    corr = np.corrcoef(Y_pre.T)
    cands = []
    for i in range(N):
        order = [j for j in np.argsort(-corr[i], kind="stable") if j != i][: K - 1]
        S = tuple(sorted([i] + [int(j) for j in order]))
        if S not in cands:
            cands.append(S)
    eff = np.asarray(effects, dtype=float)
    rows = []
    for S in cands:
        b = float(Y_pre[:, list(S)].mean())
        detected = np.zeros(eff.size)
        zero = []
        for w in range(lookback):
            end = T0 - w
            start = end - h
            Yw = Y_pre[:end]
            c = _one_way(Yw[:start], S)
            g = Yw @ c
            zero.append(abs(g[start:].mean()) / b if b else math.nan)
            for k, e in enumerate(eff):
                gt = g.copy()
                gt[start:] += e * b
                detected[k] += pw.block_permutation_pvalue(gt, start) <= alpha
        share = detected / lookback
        ok = np.flatnonzero(share >= power)
        rows.append({"treated": S, "sim_mde_pct": 100 * float(eff[ok[0]]) if ok.size else math.nan,
                     "abs_lift_in_zero": 100 * float(np.nanmean(zero)), "contrast": _one_way(Y_pre, S)})
    from .menu import _dense_rank
    r1 = _dense_rank([r["sim_mde_pct"] for r in rows])
    r2 = _dense_rank([r["abs_lift_in_zero"] for r in rows])
    for r, a, z in zip(rows, r1, r2):
        r["rank_score"] = (a + z) / 2
    rows.sort(key=lambda r: (r["rank_score"], r["abs_lift_in_zero"]))
    for k, r in enumerate(rows, start=1):
        r["rank"] = k
    return rows[:top_K] if top_K else rows


@dataclass
class Comparison:
    """``table``: one row per design scored on the shared plane (method, label, markets, fit_rmse,
    mde_pct, pareto -- within its method); ``syndes``: the SYNDES result (with its menu);
    ``geolift``: the GeoLift-style candidates; ``settings``: horizon, effects, alpha, power."""

    table: pd.DataFrame
    syndes: object = None
    geolift: list = None
    settings: dict = field(default_factory=dict)

    def plot(self, ax=None):
        """Both methods' designs on the fit-versus-power plane, each method's Pareto frontier joined."""
        from .plots import plot_comparison
        return plot_comparison(self, ax=ax)

    def to_dict(self):
        from ..schema import frame
        return {"schema": "synthcontrol.design_comparison/1", "table": frame(self.table.drop(columns=["contrast"])),
                "settings": {k: (list(v) if isinstance(v, (tuple, np.ndarray)) else v)
                             for k, v in self.settings.items()}}


def compare_methods(df, *, unit, time, outcome, treated_size, horizon, post_col=None, T0=None, top_K=6,
                    effects=DEFAULT_EFFECTS, alpha=0.05, power=0.8, syndes_options=None, geolift_options=None):
    """SYNDES against GeoLift-style market selection on one fit-versus-power plane.

    Both pick ``treated_size`` markets from the pre-period (``post_col`` / ``T0`` as in
    :class:`~synthcontrol.SyntheticDesign`); SYNDES returns its ``top_K`` menu (``syndes_options``
    are passed to ``SyntheticDesign``; default ``mode="two_way_global"``), GeoLift-style its
    ``top_K`` best candidates (``geolift_options`` to :func:`geolift_like_selection`).  Every design
    is then scored by :func:`score_contrast` with the same ``horizon``, effect grid, null, ``alpha``
    and baseline.  Returns a :class:`Comparison`."""
    import synthcontrol as sc
    opts = {"mode": "two_way_global", "run_inference": False}
    opts.update(syndes_options or {})
    opts.update(K=int(treated_size), top_K=int(top_K))
    dres = sc.SyntheticDesign(**opts).fit(df, unit=unit, time=time, outcome=outcome, post_col=post_col, T0=T0)
    units = list(dres.units)
    Y_pre = np.asarray(dres.outcome_pre)
    rows = []
    for e in dres.pool or [{"design": dres, "markets": dres.treated, "rank": 1}]:
        d = e["design"]
        S = [units.index(u) for u in d.treated]
        s = score_contrast(Y_pre, d.contrast.to_numpy(), S, horizon, effects, alpha, power)
        rows.append({"method": "SYNDES", "label": f"S{e['rank']}", "markets": ", ".join(map(str, d.treated)),
                     "fit_rmse": s["fit_rmse"], "mde_pct": s["mde_pct"], "contrast": d.contrast.to_numpy(),
                     "own_rank": e["rank"]})
    gl = geolift_like_selection(Y_pre, int(treated_size), horizon, top_K=int(top_K), **(geolift_options or {}))
    for r in gl:
        s = score_contrast(Y_pre, r["contrast"], r["treated"], horizon, effects, alpha, power)
        rows.append({"method": "GeoLift-style", "label": f"G{r['rank']}",
                     "markets": ", ".join(str(units[i]) for i in r["treated"]), "fit_rmse": s["fit_rmse"],
                     "mde_pct": s["mde_pct"], "contrast": r["contrast"], "own_rank": r["rank"]})
    table = pd.DataFrame(rows)
    from .menu import pareto_front
    table["pareto"] = False
    for m, sub in table.groupby("method"):
        front = pareto_front(sub.fit_rmse.to_numpy(), sub.mde_pct.to_numpy())
        table.loc[sub.index[front], "pareto"] = True
    return Comparison(table, dres, gl, {"horizon": int(horizon), "effects": tuple(effects), "alpha": alpha,
                                        "power": power, "treated_size": int(treated_size), "top_K": int(top_K)})
