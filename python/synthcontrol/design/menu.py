"""The menu of designs (``top_K``), its selection rules and the fit-versus-power recommendation.

Every entry of ``dres.pool`` is a deployable design: its markets, the donors carrying its control
weight, its objective and pre-period RMSE, the MDE at the realised horizon read off its own power
curve (the same number ``entry["design"].mde_percent`` prints), its cost, the full
:class:`~synthcontrol.design.results.DesignResult`, and how far from proven it is.

Selection (``selection``):

* ``"in_sample"``: by objective (the programme's own ranking);
* ``"holdout"``: the menu searched on the leading pre-periods, ranked by the contrast RMSE of those
  weights on the held-out tail (``oos_rmse``);
* ``"ic"``: ``IC = SSR + 2 sigma^2 df`` (Pouliot, Xie & Liu): ``SSR`` the pre-period contrast's sum
  of squares, ``df`` the number of control donors with positive weight less one, ``sigma^2`` the
  mean squared pre-period contrast of the best-fitting entry (a Mallows-Cp noise estimate).

The recommendation: designs are numbered by fit (``D1`` the smallest pre-period RMSE); the Pareto
frontier keeps the designs no other design beats on both fit (pre-period RMSE) and power (MDE % at
the realised horizon), cost breaking exact ties; the recommended design minimises
``power_weight * rank_power + fit_weight * rank_fit`` (dense ranks, best = 1; weights normalised),
ties broken by cost then fit.  Status ``"OK"``; ``"POWER_NOT_ESTABLISHED"`` when no entry has a finite
MDE (the best-fitting design is returned); ``"EMPTY"`` without entries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["DesignRecommendation", "assemble", "recommend", "pareto_front"]

#: a donor "carries weight" above this share
ACTIVE = 1e-9


@dataclass(frozen=True)
class DesignRecommendation:
    """The fit-versus-power recommendation over a menu (see the module docstring)."""

    status: str
    weights: dict
    winner: dict = None
    pareto_ids: list = field(default_factory=list)
    table: pd.DataFrame = None
    horizon: int = None

    def to_dict(self):
        from ..schema import frame
        w = self.winner
        return {"status": self.status, "weights": dict(self.weights), "horizon": self.horizon,
                "winner": None if w is None else w["design_id"], "pareto_ids": list(self.pareto_ids),
                "table": None if self.table is None else frame(self.table)}


def _entry(d, extra):
    """A menu entry from a DesignResult."""
    ctrl = [u for u, w in d.control_weights.items() if w > ACTIVE]
    e = {"markets": list(d.treated), "control_group": ctrl, "objective": float(d.objective),
         "pre_fit_rmse": float(d.pre_fit_rmse), "mde": float(d.mde), "mde_pct": float(d.mde_percent),
         "horizon": int(d.mde_horizon), "cost": d.cost, "proven_optimal": bool(d.proven_optimal),
         "gap": float(d.mip_gap), "status": d.status, "df": len(ctrl) - 1, "design": d,
         "power_curve": d.power_curve}
    e.update(extra)
    return e


def _dense_rank(x):
    """Dense ranks, best (smallest) = 1; NaN ranks last."""
    x = np.asarray(x, dtype=float)
    vals = np.unique(x[np.isfinite(x)])
    out = np.empty(x.size)
    for k, v in enumerate(x):
        out[k] = np.searchsorted(vals, v) + 1 if np.isfinite(v) else vals.size + 1
    return out


def pareto_front(fit, power, cost=None):
    """Indices of the designs no other design beats: another is at least as good on fit and power
    and strictly better on one (cost, if given, breaks exact ties on both)."""
    fit, power = np.asarray(fit, float), np.asarray(power, float)
    c = np.zeros(fit.size) if cost is None else np.asarray([math.inf if v is None else v for v in cost], float)
    keep = []
    for i in range(fit.size):
        dominated = False
        for j in range(fit.size):
            if i == j or not np.isfinite(power[j]):
                continue
            ge = fit[j] <= fit[i] and (power[j] <= power[i] or not np.isfinite(power[i]))
            gt = fit[j] < fit[i] or power[j] < power[i] or not np.isfinite(power[i]) or \
                (fit[j] == fit[i] and power[j] == power[i] and c[j] < c[i])
            if ge and gt:
                dominated = True
                break
        if not dominated:
            keep.append(i)
    return keep


def recommend(entries, power_weight=0.51, fit_weight=0.49):
    """The :class:`DesignRecommendation` of a menu (entries as in ``dres.pool``)."""
    total = power_weight + fit_weight
    weights = {"power": power_weight / total, "fit": fit_weight / total}
    if not entries:
        return DesignRecommendation("EMPTY", weights)
    fit = np.array([e["pre_fit_rmse"] for e in entries])
    mde = np.array([e["mde_pct"] for e in entries])
    cost = [e["cost"] for e in entries]
    rf, rp = _dense_rank(fit), _dense_rank(mde)
    score = weights["power"] * rp + weights["fit"] * rf
    front = pareto_front(fit, mde, cost)
    cost_key = [math.inf if c is None else c for c in cost]
    table = pd.DataFrame({"design_id": [e["design_id"] for e in entries],
                          "markets": [", ".join(map(str, e["markets"])) for e in entries],
                          "pre_fit_rmse": fit, "mde_pct": mde, "cost": [np.nan if c is None else c for c in cost],
                          "rank_fit": rf.astype(int), "rank_power": rp.astype(int), "score": score,
                          "pareto": [i in front for i in range(len(entries))]})
    if not np.isfinite(mde).any():
        k = int(np.argmin(fit))
        status = "POWER_NOT_ESTABLISHED"
    else:
        k = min(range(len(entries)), key=lambda i: (score[i], cost_key[i], fit[i]))
        status = "OK"
    table["recommended"] = [i == k for i in range(len(entries))]
    return DesignRecommendation(status, weights, entries[k], [entries[i]["design_id"] for i in front], table,
                                horizon=entries[0]["horizon"])


def assemble(results, extra, selection, *, T_fit, power_weight, fit_weight, top_K):
    """The DesignResult to return: with ``top_K == 1`` the one design; else the best entry by
    ``selection`` carrying the ranked ``pool`` and the ``recommendation``."""
    if top_K == 1 and selection == "in_sample":
        return replace(results[0], selection=selection)
    entries = [_entry(d, x) for d, x in zip(results, extra)]
    # D1 = the best fit
    for n, k in enumerate(sorted(range(len(entries)), key=lambda i: entries[i]["pre_fit_rmse"]), start=1):
        entries[k]["design_id"] = f"D{n}"
    if selection == "ic" and entries:
        sigma2 = min(e["pre_fit_rmse"] ** 2 for e in entries)
        for e, d in zip(entries, results):
            ssr = float(np.sum(d.contrast_series.to_numpy()[: d.T0] ** 2))
            e["ic"] = ssr + 2.0 * sigma2 * e["df"]
            e["ic_sigma2"] = sigma2
        key = "ic"
    elif selection == "holdout":
        key = "oos_rmse"
    else:
        key = "objective"
    entries.sort(key=lambda e: (e[key], e["objective"]))
    for r, e in enumerate(entries, start=1):
        e["rank"] = r
    rec = recommend(entries, power_weight, fit_weight)
    best = entries[0]["design"]
    return replace(best, pool=entries, recommendation=rec, selection=selection,
                   selection_key=key, holdout_periods=(best.T0 - T_fit) if selection == "holdout" else None)
