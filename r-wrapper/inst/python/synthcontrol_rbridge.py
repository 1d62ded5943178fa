"""Bridge between the R package `synthcontrol` and the Python core.

Everything handed back to R is built from Python builtins only (float, int,
str, bool, lists and dicts of them), so that reticulate's conversion does not
depend on the numpy / pandas versions installed.  Every call goes through
:func:`call`, which never raises: it returns ``{"ok": True, "value": ...}`` or
``{"ok": False, "kind": ..., "type": ..., "message": ...}`` so that R can turn
Python exceptions into R conditions without showing a Python traceback.
"""
from __future__ import annotations

import math
import traceback
import warnings

__all__ = ["call", "status"]


def status():
    """Import the core; report its version and location (or why it failed)."""
    try:
        import synthcontrol as sc
    except Exception as e:  # noqa: BLE001 -- reported to R
        return {"ok": False, "type": type(e).__name__, "message": str(e)}
    return {"ok": True, "version": str(getattr(sc, "__version__", "unknown")),
            "file": str(getattr(sc, "__file__", ""))}


def call(name, *args, **kwargs):
    """Run one of the functions below; never raise."""
    try:
        from synthcontrol.errors import SynthError
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "kind": "missing", "type": type(e).__name__, "message": str(e)}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = _FUNCS[name](*args, **kwargs)
        said = [{"type": w.category.__name__, "message": str(w.message)} for w in caught
                if issubclass(w.category, UserWarning)]  # SynthWarning and friends: R warnings
        return {"ok": True, "value": value, "warnings": said}
    except SynthError as e:
        return {"ok": False, "kind": "synth", "type": type(e).__name__, "message": str(e)}
    except Exception as e:  # noqa: BLE001 -- a bug or an unexpected input: keep the traceback aside
        return {"ok": False, "kind": "internal", "type": type(e).__name__, "message": str(e),
                "traceback": traceback.format_exc()}


# ----------------------------------------------------------------------------------------------
# conversions to builtins
# ----------------------------------------------------------------------------------------------
def _scalar(v):
    """numpy / pandas scalar -> builtin; None stays None; other objects -> None."""
    import numpy as np
    import pandas as pd
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return _period_str(pd.Timestamp(v))
    return None


def _period_str(ts):
    if ts.hour == 0 and ts.minute == 0 and ts.second == 0 and ts.microsecond == 0 and ts.nanosecond == 0:
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def _periods(index):
    """A period index -> (kind, list of builtins)."""
    import numpy as np
    import pandas as pd
    idx = pd.Index(index)
    if pd.api.types.is_datetime64_any_dtype(idx.dtype):
        return "datetime", [_period_str(pd.Timestamp(t)) for t in idx]
    if pd.api.types.is_bool_dtype(idx.dtype):
        return "logical", [bool(t) for t in idx]
    if pd.api.types.is_integer_dtype(idx.dtype):
        return "integer", [int(t) for t in idx]
    if pd.api.types.is_float_dtype(idx.dtype):
        return "double", [float(t) for t in idx]
    return "character", [str(t) for t in idx]


def _labels(index):
    """Unit labels -> list of str (names in R)."""
    return [str(_scalar(u)) if _scalar(u) is not None else str(u) for u in index]


def _floats(a):
    import numpy as np
    return [float(x) for x in np.asarray(a, dtype=float).ravel()]


def _frame(df):
    """DataFrame -> {"columns": [...], "data": {col: list}, "kinds": {col: kind}}."""
    import pandas as pd
    cols, data, kinds = [], {}, {}
    for c in df.columns:
        s = df[c]
        name = str(c)
        cols.append(name)
        if pd.api.types.is_bool_dtype(s.dtype):
            data[name], kinds[name] = [bool(x) for x in s], "logical"
        elif pd.api.types.is_integer_dtype(s.dtype):
            data[name], kinds[name] = [int(x) for x in s], "integer"
        elif pd.api.types.is_float_dtype(s.dtype):
            data[name], kinds[name] = _floats(s.to_numpy(dtype=float, na_value=float("nan"))), "double"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            data[name], kinds[name] = [_period_str(pd.Timestamp(x)) for x in s], "datetime"
        else:
            vals = [_scalar(x) for x in s]
            if all(isinstance(x, float) for x in vals):
                data[name], kinds[name] = vals, "double"
            elif all(isinstance(x, int) and not isinstance(x, bool) for x in vals):
                data[name], kinds[name] = vals, "integer"
            else:
                data[name], kinds[name] = [str(x) if x is not None else str(y) for x, y in zip(vals, s)], \
                    "character"
    return {"columns": cols, "data": data, "kinds": kinds}


def _list(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


# ----------------------------------------------------------------------------------------------
# the calls
# ----------------------------------------------------------------------------------------------
def _make_frame(columns, datetime_cols):
    import pandas as pd
    cols = {k: _list(v) for k, v in columns.items()}
    df = pd.DataFrame(cols)
    for c in _list(datetime_cols) or []:
        df[c] = pd.to_datetime(df[c])
    return df


def panel(columns, unit, time, outcome, treat=None, treated=None, treatment_time=None,
          donors=None, fill=None, datetime_cols=None, time_order=None):
    import synthcontrol as sc
    df = _make_frame(columns, datetime_cols)
    if time_order is not None:
        time_order = [_period_like(v, df[time].dtype) for v in _list(time_order)]
    return sc.Panel(df, unit=unit, time=time, outcome=outcome, treat=treat, treated=treated,
                    treatment_time=treatment_time, donors=_list(donors), fill=fill, time_order=time_order)


def fit(columns, unit, time, outcome, treat=None, treated=None, treatment_time=None,
        donors=None, fill=None, datetime_cols=None, fit_window=None, options=None, time_order=None):
    import synthcontrol as sc
    p = panel(columns, unit, time, outcome, treat=treat, treated=treated,
              treatment_time=treatment_time, donors=donors, fill=fill, datetime_cols=datetime_cols,
              time_order=time_order)
    opts = _estimator_options(options, p.times.dtype)
    if fit_window is not None:
        fit_window = tuple(_list(fit_window))
    res = sc.SyntheticControl(fit_window=fit_window, **opts).fit(p)
    return {"result": res, "data": result_data(res)}


def _window(x, dtype):
    """An R window: a length-2 vector is an inclusive (start, end) pair (a Python tuple), one
    value a single period, a longer vector a list of periods."""
    if isinstance(x, (list, tuple)):
        vals = [_period_like(v, dtype) for v in x]
        return tuple(vals) if len(vals) == 2 else vals
    return _period_like(x, dtype)


def _estimator_options(options, tdt):
    """R estimator options -> SyntheticControl's: windows as tuples, periods typed like the
    time column."""
    opts = dict(options or {})
    for k in ("covariates", "outcome_lags"):
        if isinstance(opts.get(k), str):
            opts[k] = [opts[k]]
    cov = opts.get("covariates")
    if isinstance(cov, dict):
        opts["covariates"] = {str(c): _window(w, tdt) for c, w in cov.items()}
    lags = opts.get("outcome_lags")
    if isinstance(lags, dict):
        opts["outcome_lags"] = {str(c): _window(w, tdt) for c, w in lags.items()}
    elif lags is not None:
        opts["outcome_lags"] = _period_list(lags, tdt)
    if opts.get("predictor_window") is not None:
        pw = _window(opts["predictor_window"], tdt)
        opts["predictor_window"] = pw if isinstance(pw, (tuple, list)) else [pw]
    for k in ("seed", "n_jobs"):  # whole R doubles -> int; anything else is left to the core to refuse
        if k in opts:
            opts[k] = _int_or_same(opts[k])
    # ridge augmentation (augsynth's progfunc = "ridge", lambda, residualize, fixedeff)
    if isinstance(opts.get("ridge_lambda"), int) and not isinstance(opts["ridge_lambda"], bool):
        opts["ridge_lambda"] = float(opts["ridge_lambda"])
    for k in ("residualize", "fixedeff"):
        if k in opts and opts[k] is not None:
            opts[k] = bool(opts[k])
    return opts


def result_data(res):
    """An SCResult -> builtins, through its public attributes only."""
    import numpy as np
    p = res.panel
    observed, counterfactual, weights = res.observed, res.counterfactual, res.weights
    kind, periods = _periods(observed.index)
    diag = {}
    for k, v in res.diagnostics.items():
        s = _scalar(v)
        if s is not None:
            diag[str(k)] = s
    tt = p.treatment_time
    tt = _period_str(tt) if hasattr(tt, "strftime") else _scalar(tt)
    if tt is None and p.treatment_time is not None:
        tt = str(p.treatment_time)
    return {
        "att": float(res.att),
        "pre_rmse": float(res.pre_rmse),
        "period_kind": kind,
        "periods": periods,
        "post": [bool(x) for x in np.asarray(p.post)],
        "observed": _floats(observed.to_numpy()),
        "counterfactual": _floats(counterfactual.to_numpy()),
        "weights": _floats(weights.to_numpy()),
        "donors": _labels(weights.index),
        "treated": _labels(p.treated_units),
        "treated_label": str(p.treated_label),
        "treatment_time": tt,
        "T0": int(p.T0),
        "n_filled": int(p.n_filled),
        "V": None if res.V is None else {"names": _labels(res.V.index), "values": _floats(res.V)},
        "diagnostics": diag,
        "outcome": str(p.outcome),
        "augment": _augment_data(res),
    }


def _augment_data(res):
    """The non-scalar ridge diagnostics (lambda path, the plain SCM weights), or None."""
    d = res.diagnostics
    if d.get("augment") != "ridge":
        return None
    path = d.get("lambda_path")
    if path is not None:
        path = {k: _floats(path[k]) for k in ("lambda", "cv_error", "cv_se")}
    w = d.get("weights_scm") or {}
    return {"lambda_path": path, "weights_scm": {"names": [str(k) for k in w],
                                                 "values": [float(v) for v in w.values()]}}


def placebo(res, statistic="rmspe_ratio", exclude_mspe_ratio=None, donor_pool="donors"):
    inf = res.placebo(statistic=statistic, exclude_mspe_ratio=exclude_mspe_ratio, donor_pool=donor_pool)
    return _inference(inf)


def in_time_placebo(res, fake_time=None):
    return _inference(res.in_time_placebo(fake_time=fake_time))


def leave_one_out(res, threshold=1e-3):
    df = res.leave_one_out(threshold=threshold)
    out = _frame(df)
    out["att_full"] = float(res.att)
    return out


def conformal(res, alpha=0.05, kind="iid", q=1, grid_size=50, grid=None, n_perm=10000, seed=0,
              refine=False):
    """Conformal inference (augsynth's summary(inf_type = "conformal")) -> plain values."""
    if grid is not None:
        grid = [float(g) for g in _list(grid)]
    inf = res.conformal(alpha=float(alpha), kind=kind, q=float(q), grid_size=_int_or_same(grid_size), grid=grid,
                        n_perm=_int_or_same(n_perm), seed=_int_or_same(seed), refine=bool(refine))
    return _inference(inf)


def _int_or_same(x):
    """An R whole number (a double: ``500``, ``3e9``) -> the Python int of exactly that value;
    anything else unchanged, for the core's own check to report as the user gave it.  The one
    place whole doubles become integers: R does not convert them (``as.integer(3e9)`` is NA)."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def scpi(res, alpha=0.05, sims=200, e_method="gaussian", seed=0, u_alpha=None, e_alpha=None, rho=None,
         rho_max=0.2):
    """SCPI prediction intervals -> plain values (the per-draw arrays and Sigma stay in Python)."""
    def num(v):
        return None if v is None else float(v)
    inf = res.scpi(alpha=float(alpha), sims=_int_or_same(sims), e_method=e_method, seed=_int_or_same(seed),
                   u_alpha=num(u_alpha), e_alpha=num(e_alpha), rho=num(rho), rho_max=float(rho_max), n_jobs=1)
    out = _inference(inf)
    d = inf.details
    out["lists"] = {"active_donors": [str(u) for u in d.get("active_donors", [])],
                    "design_donors": [str(u) for u in d.get("design_donors", [])],
                    "joint_in_sample": _floats(d.get("joint_in_sample", ()))}
    return out


def lto(res, alpha=0.05, max_pairs=None, seed=0):
    """The leave-two-out placebo test -> plain values."""
    inf = res.lto(alpha=float(alpha), max_pairs=_int_or_same(max_pairs), seed=_int_or_same(seed))
    return _inference(inf)


def ttest(res, K=3, alpha=0.05, oracle_weights=None):
    """The debiased cross-fitting t-test -> plain values (``oracle_weights``: {donor: weight})."""
    if oracle_weights is not None:
        oracle_weights = {str(k): float(v) for k, v in dict(oracle_weights).items()}
    inf = res.ttest(K=_int_or_same(K), alpha=float(alpha), oracle_weights=oracle_weights)
    out = _inference(inf)
    d = inf.details
    kc = d.get("K_choice")
    out["lists"] = {"fold_estimates": _floats(d.get("fold_estimates", [])),
                    "K_choice": None if kc is None else {str(k): _scalar(v) for k, v in kc.items()}}
    return out


def jackknife_plus(res, alpha=0.1):
    """Jackknife+ over time (augsynth's inf_type = "jackknife+") -> plain values.  Unbounded
    interval ends (too few fitting periods for the level) stay float +-inf, R's Inf / -Inf."""
    return _inference(res.jackknife_plus(alpha=float(alpha)))


def _inference(inf):
    import pandas as pd
    scalars, frames, series = {}, {}, {}
    for k, v in inf.details.items():
        if isinstance(v, pd.DataFrame):
            if k == "gaps":
                kind, periods = _periods(v.index)
                frames[k] = {"period_kind": kind, "periods": periods, "columns": _labels(v.columns),
                             "values": [_floats(v[c]) for c in v.columns]}
            else:
                frames[k] = _frame(v)
        elif isinstance(v, pd.Series):
            kind, idx = (_periods(v.index) if k != "weights" else ("character", _labels(v.index)))
            series[k] = {"kind": kind, "index": idx, "values": _floats(v)}
        else:
            s = _scalar(v)
            if s is not None or v is None:
                scalars[k] = s
    return {"method": inf.method, "p_value": _scalar(inf.p_value), "ci_lower": _scalar(inf.ci_lower),
            "ci_upper": _scalar(inf.ci_upper), "alpha": _scalar(inf.alpha), "details": scalars,
            "frames": frames, "series": series}


# ----------------------------------------------------------------------------------------------
# Synth-compatible dataprep() / synth()
# ----------------------------------------------------------------------------------------------
def _period_like(x, dtype):
    """An R period (ints arrive as floats) -> a value of the time column's dtype."""
    import pandas as pd
    if isinstance(x, float) and pd.api.types.is_integer_dtype(dtype) and x.is_integer():
        return int(x)
    return x


def _period_list(x, dtype):
    return None if x is None else [_period_like(v, dtype) for v in _list(x)]


def _matrix(df_or_series):
    """A labelled Series / DataFrame -> {"rownames", "colnames", "values" (list of rows)}."""
    import pandas as pd
    df = df_or_series.to_frame() if isinstance(df_or_series, pd.Series) else df_or_series
    kind, rows = _periods(df.index)
    rows = [str(r) if not isinstance(r, str) else r for r in rows]
    if kind == "double":
        rows = [str(int(float(r))) if float(r).is_integer() else str(r) for r in rows]
    return {"rownames": rows, "colnames": _labels(df.columns),
            "values": [_floats(df.iloc[i].to_numpy(dtype=float)) for i in range(df.shape[0])]}


def synth_dataprep(columns, unit_variable, time_variable, dependent, treatment_identifier,
                   controls_identifier, predictors=None, predictors_op="mean", special_predictors=None,
                   time_predictors_prior=None, time_optimize_ssr=None, time_plot=None):
    """Synth's dataprep() on R columns; matrices come back as plain nested lists."""
    import synthcontrol as sc
    df = _make_frame(columns, None)
    tdt = df[time_variable].dtype
    udt = df[unit_variable].dtype
    special = None
    if special_predictors:
        special = [(str(sp[0]), _period_list(sp[1], tdt), str(sp[2])) for sp in _list(special_predictors)]
    dp = sc.synth_dataprep(
        df, predictors=_list(predictors), predictors_op=predictors_op, special_predictors=special,
        dependent=dependent, unit_variable=unit_variable, time_variable=time_variable,
        treatment_identifier=_period_like(treatment_identifier, udt),
        controls_identifier=_period_list(controls_identifier, udt),
        time_predictors_prior=_period_list(time_predictors_prior, tdt),
        time_optimize_ssr=_period_list(time_optimize_ssr, tdt),
        time_plot=_period_list(time_plot, tdt))
    out = {"X0": _matrix(dp.X0), "X1": _matrix(dp.X1), "Z0": _matrix(dp.Z0), "Z1": _matrix(dp.Z1)}
    if dp.Y0plot is not None:
        out["Y0plot"], out["Y1plot"] = _matrix(dp.Y0plot), _matrix(dp.Y1plot)
    return out


def synth_solve(X1, X0, Z1, Z0, rownames, colnames, zrownames, custom_v=None, backend="auto", seed=0):
    """Synth's synth() on the (possibly user-edited) matrices; plain values back."""
    import numpy as np
    import pandas as pd
    import synthcontrol as sc
    rownames, colnames, zrownames = _list(rownames), _list(colnames), _list(zrownames)
    x0 = np.asarray(X0, dtype=float).reshape(len(rownames), len(colnames))
    z0 = np.asarray(Z0, dtype=float).reshape(len(zrownames), len(colnames))
    X0d = pd.DataFrame(x0, index=rownames, columns=colnames)
    Z0d = pd.DataFrame(z0, index=zrownames, columns=colnames)
    X1s = pd.Series(np.asarray(X1, dtype=float).ravel(), index=rownames)
    Z1s = pd.Series(np.asarray(Z1, dtype=float).ravel(), index=zrownames)
    cv = None if custom_v is None else [float(v) for v in _list(custom_v)]
    out = sc.synth(X1=X1s, X0=X0d, Z1=Z1s, Z0=Z0d, custom_v=cv, backend=backend, seed=_int_or_same(seed))
    d = out.as_dict()
    res = {}
    for k, v in d.items():
        if isinstance(v, dict):
            res[k] = {"names": [str(n) for n in v], "values": [float(x) for x in v.values()]}
        else:
            res[k] = _scalar(v)
    return res


_FUNCS = {"panel": panel, "fit": fit, "placebo": placebo, "in_time_placebo": in_time_placebo,
          "leave_one_out": leave_one_out, "conformal": conformal, "scpi": scpi, "lto": lto, "ttest": ttest,
          "jackknife_plus": jackknife_plus,
          "synth_dataprep": synth_dataprep,
          "synth_solve": synth_solve}
