"""The case files in ``fixtures/`` and the three ways of running them.

A case (JSON) holds: ``data`` (file in the data directory, ``kind`` "panel" or
"events", an optional ``exclude`` filter, ``window``/``cluster`` for events),
``spec`` (unit, time, outcome; ``treat`` for a 0/1 column or ``treated`` +
``treatment_time``; covariates, backend), ``inference`` (methods and their
options), ``expected`` (name -> value, tol, source) and optional
``reference_packages`` (recorded numbers of R reference packages with the call
that produced them).  ``cross_check.tol`` is the agreement required between the
Python API, the R package and the live quadprog fit.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

import synthcontrol as sc

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def data_dir() -> Path:
    return Path(os.environ.get("SYNTHCONTROL_DATA", REPO.parent / "shared" / "data"))


def load_cases() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def read_data(case) -> pd.DataFrame:
    d = case["data"]
    df = pd.read_csv(data_dir() / d["file"])
    if "exclude" in d:
        df = df[~df[d["exclude"]["column"]].isin(d["exclude"]["values"])]
    return df


def build_panel(case):
    spec, d = case["spec"], case["data"]
    df = read_data(case)
    kw = dict(unit=spec["unit"], time=spec["time"], outcome=spec["outcome"])
    if d["kind"] == "events":
        return sc.panel_from_events(df, cluster=d.get("cluster"), treated=spec["treated"],
                                    treatment_time=spec["treatment_time"], window=tuple(d["window"]), **kw)
    if "treat" in spec:
        return sc.Panel(df, treat=spec["treat"], **kw)
    return sc.Panel(df, treated=spec["treated"], treatment_time=spec["treatment_time"], **kw)


def run_python(case) -> tuple[dict, object]:
    """Fit the case with the Python API; returns (numbers, result)."""
    res = sc.SyntheticControl().fit(build_panel(case))
    out = {"att": res.att, "pre_rmse": res.pre_rmse,
           "l2_imbalance": res.diagnostics["l2_imbalance"],
           "weights": {str(k): float(v) for k, v in res.weights.items()}}
    pl = case.get("inference", {}).get("placebo")
    if pl:
        inf = res.placebo(**pl)
        out["placebo.p_value"] = inf.p_value
        out["placebo.observed_rmspe_ratio"] = inf.details["observed_rmspe_ratio"]
    return out, res


def compare(name, got, want, tol) -> list[str]:
    """Differences beyond tol, as readable strings (empty = agreement)."""
    errs = []
    if isinstance(want, dict):
        for k, v in want.items():
            g = got.get(str(k), 0.0)
            if not abs(g - v) <= tol:
                errs.append(f"{name}[{k}]: got {g!r}, want {v!r} (tol {tol:g})")
    else:
        if got is None or not abs(got - want) <= tol or (isinstance(got, float) and math.isnan(got)):
            errs.append(f"{name}: got {got!r}, want {want!r} (tol {tol:g})")
    return errs


def check_expected(case, got) -> list[str]:
    errs = []
    for name, e in case["expected"].items():
        want = e["value"]
        if name == "weights" and not e.get("partial"):
            # the listed donors are the whole support: every other donor must be ~0
            want = {k: want.get(k, 0.0) for k in got["weights"]}
        errs += compare(name, got.get(name) if name != "weights" else got["weights"], want, e["tol"])
    return errs


def agree(a: dict, b: dict, tol: float, keys=("att", "pre_rmse", "weights")) -> list[str]:
    errs = []
    for k in keys:
        if k not in a or k not in b:
            continue
        if k == "weights":
            errs += compare("weights", b["weights"], a["weights"], tol)
        else:
            errs += compare(k, b[k], a[k], tol)
    return errs


QUADPROG_R = r"""
function(X, y) {   # argmin ||y - X w||^2, w >= 0, sum w = 1: quadprog + exact KKT polish on the support
  D <- crossprod(X); D <- D + diag(1e-10 * mean(diag(D)), ncol(X))
  w <- quadprog::solve.QP(D, drop(crossprod(X, y)), cbind(1, diag(ncol(X))), c(1, rep(0, ncol(X))), meq = 1)$solution
  S <- which(w > 1e-7); A <- X[, S, drop = FALSE]; k <- length(S)
  z <- solve(rbind(cbind(2 * crossprod(A), 1), c(rep(1, k), 0)), c(2 * crossprod(A, y), 1))
  out <- numeric(ncol(X)); out[S] <- z[1:k]
  if (any(out < 0)) { out <- pmax(w, 0); out <- out / sum(out) }
  out
}
"""


def run_quadprog(res) -> dict:
    """The same outcome-only fit by R's quadprog, live through rpy2, on the panel's arrays."""
    import rpy2.robjects as ro
    p = res.panel
    m = res.fit_mask
    X, y = np.asarray(p.X_donors[m], dtype=float), np.asarray(p.y_treated[m], dtype=float)
    fn = ro.r(QUADPROG_R)
    Xr = ro.r.matrix(ro.FloatVector(X.ravel(order="F")), nrow=X.shape[0], ncol=X.shape[1])
    w = np.array(fn(Xr, ro.FloatVector(y)))
    gap = np.asarray(p.y_treated) - p.X_donors @ w
    post = p.post
    return {"att": float(gap[post].mean()), "pre_rmse": float(np.sqrt(np.mean(gap[~post] ** 2))),
            "weights": {str(k): float(v) for k, v in zip(p.donors, w)}}
