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
    """$SYNTHCONTROL_DATA, else the data packaged with synthcontrol (see python/tests/conftest.py)."""
    from synthcontrol.datasets import canonical_dir
    return canonical_dir()


def reference_dir() -> Path:
    return Path(os.environ.get("SYNTHCONTROL_REFERENCE", REPO / "fixtures" / "reference"))


def load_cases() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def read_data(case) -> pd.DataFrame:
    d = case["data"]
    df = pd.read_csv(data_dir() / d["file"])
    if "exclude" in d:
        df = df[~df[d["exclude"]["column"]].isin(d["exclude"]["values"])]
    for col, expr in d.get("derive", {}).items():  # "x" or "log(x)": augsynth's formula transforms
        if expr.startswith("log(") and expr.endswith(")"):
            df[col] = np.log(df[expr[4:-1]])
        else:
            df[col] = df[expr]
    return df


ESTIMATOR_KEYS = ("augment", "ridge_lambda", "residualize", "fixedeff")


def estimator_kwargs(spec) -> dict:
    """SyntheticControl options of a case (augmented cases also take their covariates)."""
    kw = {k: spec[k] for k in ESTIMATOR_KEYS if spec.get(k) is not None}
    if spec.get("augment") and spec.get("covariates"):
        kw["covariates"] = spec["covariates"]
    return kw


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


def postprocess(dp, how):
    """Edits a Synth user makes to ``dataprep.out`` before ``synth()`` (done on the matrices)."""
    if how is None:
        return dp
    if how != "synth_basque_schooling":
        raise ValueError(f"unknown postprocess {how!r}")
    return sc.synth_compat.basque_schooling_shares(dp)  # example(synth)'s edit of the schooling rows


def synth_dataprep_args(case) -> dict:
    a = dict(case["spec"]["dataprep"])
    if a.get("special_predictors"):
        a["special_predictors"] = [tuple(sp) for sp in a["special_predictors"]]
    return a


def run_synth(case) -> tuple[dict, object]:
    """A ``method: synth`` case: Synth-compatible dataprep -> synth; returns (numbers, (dp, out))."""
    spec = case["spec"]
    dp = postprocess(sc.synth_dataprep(foo=read_data(case), **synth_dataprep_args(case)), spec.get("postprocess"))
    out = sc.synth(dp, backend=spec.get("backend", "auto"), seed=spec.get("seed", 0))
    nums = {"loss_v": out.loss_v, "loss_w": out.loss_w, "lower_bound": out.lower_bound,
            "outcome_only_bound": out.outcome_only_bound,
            "bound_gap": out.bound_gap, "bound_attained": float(out.bound_attained),
            "weights": {str(k): float(v) for k, v in out.solution_w.items()},
            "v": {str(k): float(v) for k, v in out.solution_v.items()}}
    return nums, (dp, out)


def run_python(case) -> tuple[dict, object]:
    """Fit the case with the Python API; returns (numbers, result)."""
    if case.get("method") == "synth":
        return run_synth(case)
    res = sc.SyntheticControl(**estimator_kwargs(case["spec"])).fit(build_panel(case))
    out = {"att": res.att, "pre_rmse": res.pre_rmse,
           "l2_imbalance": res.diagnostics["l2_imbalance"],
           "weights": {str(k): float(v) for k, v in res.weights.items()}}
    if "ridge_lambda" in res.diagnostics:
        out["ridge_lambda"] = res.diagnostics["ridge_lambda"]
        out["weights_scm"] = res.diagnostics["weights_scm"]
    pl = case.get("inference", {}).get("placebo")
    if pl:
        inf = res.placebo(**pl)
        out["placebo.p_value"] = inf.p_value
        out["placebo.observed_rmspe_ratio"] = inf.details["observed_rmspe_ratio"]
    out.update(run_modern_inference(res, case.get("inference", {})))
    return out, res


# Numbers of the modern inference methods, by the names the fixtures and run_cases.R use.  The first
# group is deterministic (compared across languages at cross_check.tol); the second is simulated
# with a seed (compared at cross_check.seeded_tol: the R package calls the same Python, same seed).
INFERENCE_KEYS = ("lto_p_naive", "lto_p_powered", "lto_treated_losses", "lto_treated_wins", "lto_n_pairs",
                  "lto_type_i_bound", "ttest_att", "ttest_se", "ttest_tstat", "ttest_df", "ttest_ci_lower",
                  "ttest_ci_upper", "ttest_p_value", "ttest_fold_estimates")
SEEDED_KEYS = ("scpi_att", "scpi_att_lower", "scpi_att_upper", "scpi_alpha", "scpi_rho", "scpi_cf_lower",
               "scpi_cf_upper", "scpi_effect_lower", "scpi_effect_upper", "scpi_out_of_sample_lower",
               "scpi_out_of_sample_upper", "scpi_e_mean")


def _floats(x) -> list:
    return [float(v) for v in np.asarray(x, dtype=float)]


def run_modern_inference(res, inference: dict) -> dict:
    """lto / ttest / scpi of a case's ``inference`` block (their options as keyword arguments)."""
    out = {}
    if "lto" in inference:
        inf = res.lto(**inference["lto"])
        d = inf.details
        out.update(lto_p_naive=inf.p_value, lto_p_powered=d["p_powered"], lto_treated_losses=d["treated_losses"],
                   lto_treated_wins=d["treated_wins"], lto_n_pairs=d["n_pairs"], lto_type_i_bound=d["type_i_bound"])
    if "ttest" in inference:
        inf = res.ttest(**inference["ttest"])
        d = inf.details
        out.update(ttest_att=d["att"], ttest_se=d["se"], ttest_tstat=d["tstat"], ttest_df=d["df"],
                   ttest_ci_lower=inf.ci_lower, ttest_ci_upper=inf.ci_upper, ttest_p_value=inf.p_value,
                   ttest_fold_estimates=_floats(d["fold_estimates"]))
    if "scpi" in inference:
        inf = res.scpi(**inference["scpi"])
        d, t = inf.details, inf.details["table"]
        out.update(scpi_att=d["att"], scpi_att_lower=inf.ci_lower, scpi_att_upper=inf.ci_upper,
                   scpi_alpha=inf.alpha, scpi_rho=d["rho"], scpi_e_mean=_floats(t.e_mean))
        for c in ("cf_lower", "cf_upper", "effect_lower", "effect_upper", "out_of_sample_lower",
                  "out_of_sample_upper"):
            out[f"scpi_{c}"] = _floats(t[c])
    return out


def compare(name, got, want, tol) -> list[str]:
    """Differences beyond tol, as readable strings (empty = agreement)."""
    errs = []
    if isinstance(want, (list, tuple)):  # elementwise (e.g. one number per post period)
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            return [f"{name}: got {got!r}, want {len(want)} values {want!r}"]
        for i, (g, w) in enumerate(zip(got, want)):
            errs += compare(f"{name}[{i}]", g, w, tol)
    elif isinstance(want, dict):
        for k, v in want.items():
            g = got.get(str(k), 0.0)
            if not abs(g - v) <= tol:
                errs.append(f"{name}[{k}]: got {g!r}, want {v!r} (tol {tol:g})")
    else:
        if got is None or not abs(got - want) <= tol or (isinstance(got, float) and math.isnan(got)):
            errs.append(f"{name}: got {got!r}, want {want!r} (tol {tol:g})")
    return errs


def check_bound(name, got, e) -> list[str]:
    """An expected entry with ``below`` / ``above`` instead of ``value``: a strict bound (for
    simulated numbers whose value is not reproducible elsewhere, e.g. "the interval excludes 0")."""
    errs = []
    if got is None or (isinstance(got, float) and math.isnan(got)):
        return [f"{name}: got {got!r}, want a number"]
    if "below" in e and not got < e["below"]:
        errs.append(f"{name}: got {got!r}, want < {e['below']!r}")
    if "above" in e and not got > e["above"]:
        errs.append(f"{name}: got {got!r}, want > {e['above']!r}")
    return errs


def check_expected(case, got) -> list[str]:
    errs = []
    for name, e in case["expected"].items():
        if "value" not in e and ("below" in e or "above" in e):
            errs += check_bound(name, got.get(name), e)
            continue
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


def quadprog_lower_level(dp, out):
    """Independent check of a ``synth`` case by R's quadprog (live, rpy2): the lower level at the V
    found (its optimal value must equal our loss_w: W is optimal for V) and the outcome-only fit (its
    value must equal our outcome-only bound)."""
    import rpy2.robjects as ro
    # plain quadprog (a 1e-10 relative ridge makes D positive definite); no support polish, since at a
    # corner V the lower level has a whole face of minimisers and only its optimal VALUE is compared
    fn = ro.r("""function(X, y) {
      D <- crossprod(X); D <- D + diag(1e-10 * max(mean(diag(D)), 1e-300), ncol(X))
      w <- quadprog::solve.QP(D, drop(crossprod(X, y)), cbind(1, diag(ncol(X))), c(1, rep(0, ncol(X))),
                              meq = 1)$solution
      w <- pmax(w, 0); w / sum(w) }""")

    def qp(X, y):
        Xr = ro.r.matrix(ro.FloatVector(np.asarray(X, dtype=float).ravel(order="F")), nrow=X.shape[0],
                         ncol=X.shape[1])
        return np.array(fn(Xr, ro.FloatVector(np.asarray(y, dtype=float))))

    X1, X0 = dp.X1.to_numpy(dtype=float), dp.X0.to_numpy(dtype=float)
    div = np.column_stack((X0, X1)).std(axis=1, ddof=1)
    x1, x0 = X1 / div, X0 / div[:, None]
    v = out.solution_v.to_numpy()
    keep = v > 0
    sv = np.sqrt(v[keep])
    w_inner = qp(sv[:, None] * x0[keep], sv * x1[keep])
    r = x1 - x0 @ w_inner
    Z1, Z0 = dp.Z1.to_numpy(dtype=float), dp.Z0.to_numpy(dtype=float)
    w_out = qp(Z0, Z1)
    return {"loss_w": float(v @ (r * r)), "lower_bound": float(np.mean((Z1 - Z0 @ w_out) ** 2))}


def run_quadprog_base(res) -> dict:
    """For an augmented fit: R's quadprog re-solves its base simplex fit on the same matching
    problem (pre-period outcomes, plus the scaled covariate columns or after residualizing)."""
    import rpy2.robjects as ro
    from synthcontrol.solvers.ridge import matching_problem
    from synthcontrol.models import unit_covariate_means
    p, d = res.panel, res.diagnostics
    Zd = zt = None
    if res.settings["covariates"]:
        Zd, zt = unit_covariate_means(p, res.settings["covariates"])
    A, a = matching_problem(p.X_donors, p.y_treated, p.T0, Z_donors=Zd, z_treated=zt,
                            residualize=d["residualize"], fixedeff=d["fixedeff"])
    X = A.T
    fn = ro.r(QUADPROG_R)
    Xr = ro.r.matrix(ro.FloatVector(X.ravel(order="F")), nrow=X.shape[0], ncol=X.shape[1])
    w = np.array(fn(Xr, ro.FloatVector(a)))
    return {"weights": {str(k): float(v) for k, v in zip(p.donors, w)}}


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


def run_quadprog_ttest(res, K=3, alpha=0.05) -> dict:
    """The debiased t-test's fold fits re-solved by R's quadprog (live, rpy2), for an outcome-only
    fit: fold k holds out block H_k of the last r K pre-periods (r = min(floor(T0 / K), T1)), refits
    the simplex weights on the fitting periods without it, and tau_k = mean post gap - mean gap on
    H_k; ATT = mean tau, se = sqrt(1 + K r / T1) sd(tau) / sqrt(K), interval att -+ t_{K-1} se
    (Chernozhukov, Wuthrich & Zhu 2025, written here from the paper, not from our code)."""
    import rpy2.robjects as ro
    from scipy import stats
    p = res.panel
    y, X = np.asarray(p.y_treated, dtype=float), np.asarray(p.X_donors, dtype=float)
    post = np.asarray(p.post, dtype=bool)
    T0, T1 = p.T0, int(post.sum())
    r = min(T0 // K, T1)
    start = T0 - r * K
    fn = ro.r(QUADPROG_R)
    taus = []
    for k in range(K):
        H = np.arange(start + k * r, start + (k + 1) * r)
        m = np.array(res.fit_mask, dtype=bool)
        m[H] = False
        Xm = X[m]
        Xr = ro.r.matrix(ro.FloatVector(Xm.ravel(order="F")), nrow=Xm.shape[0], ncol=Xm.shape[1])
        w = np.array(fn(Xr, ro.FloatVector(y[m])))
        gap = y - X @ w
        taus.append(float(gap[post].mean() - gap[H].mean()))
    att = float(np.mean(taus))
    se = math.sqrt(1 + K * r / T1) * float(np.std(taus, ddof=1)) / math.sqrt(K)
    q = float(stats.t.ppf(1 - alpha / 2, K - 1))
    return {"ttest_att": att, "ttest_se": se, "ttest_ci_lower": att - q * se, "ttest_ci_upper": att + q * se,
            "ttest_fold_estimates": taus}
