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
    if getattr(sc, "__file__", None) is None:
        # a folder named synthcontrol on the search path (e.g. the installed R package, seen from
        # R CMD check's working directory) imports as an empty namespace package: not the core
        return {"ok": False, "type": "ModuleNotFoundError",
                "message": "'synthcontrol' found only as a folder without the Python core "
                           f"({', '.join(map(str, getattr(sc, '__path__', [])))})"}
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
# conversions to builtins: the package's one result schema (synthcontrol.schema)
# ----------------------------------------------------------------------------------------------
def _schema():
    from synthcontrol import schema
    return schema


def _scalar(v):
    return _schema().scalar(v)


def _periods(index):
    return _schema().periods(index)


def _labels(index):
    return _schema().labels(index)


def _floats(a):
    return _schema().floats(a)


def _frame(df):
    return _schema().frame(df)


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
    for k in ("seed", "n_jobs", "mscmt_maxiter", "mscmt_popsize"):  # whole R doubles -> int; else the core refuses
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
    """An SCResult -> builtins: its to_dict() (synthcontrol.schema)."""
    return res.to_dict()


def methods():
    """The inference registry: name, title, the fit kinds it supports, aliases, the arguments
    the method takes (``parameters``, in order) and their defaults."""
    import synthcontrol as sc
    out = []
    for m in sc.inference.methods():
        out.append({"name": m.name, "title": m.title, "supports": list(m.supports),
                    "aliases": list(dict.fromkeys(a for a in (*m.aliases, m.cli_name) if a and a != m.name)),
                    "parameters": list(m.parameters),
                    "defaults": {k: _plain_default(v) for k, v in m.defaults.items()}})
    return out


def _plain_default(v):
    if isinstance(v, (list, tuple)):
        return [_scalar(x) for x in v]
    return _scalar(v) if _scalar(v) is not None or v is None else str(v)


def _int_or_same(x):
    """An R whole number (a double: ``500``, ``3e9``) -> the Python int of exactly that value;
    anything else unchanged, for the core's own check to report as the user gave it.  The one
    place whole doubles become integers: R does not convert them (``as.integer(3e9)`` is NA)."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _argument(value, default):
    """An R argument -> Python, by the registered function's default: whole doubles become ints
    where the default is a whole number or None (counts, seeds), vectors become lists."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict):
        return {str(k): (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                for k, v in value.items()}
    if isinstance(default, bool):
        return bool(value) if isinstance(value, (bool, int, float)) else value
    if default is None or (isinstance(default, int) and not isinstance(default, bool)):
        return _int_or_same(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def infer(res, name, kwargs=None):
    """Run the registered inference method ``name`` -> its to_dict() (a table for leave-one-out)."""
    import pandas as pd
    import synthcontrol as sc
    m = sc.inference.get_method(name)
    defaults = m.parameters
    kw = {k: _argument(v, defaults.get(k)) for k, v in dict(kwargs or {}).items()}
    if "n_jobs" in defaults and "n_jobs" not in kw and m.name == "scpi":
        kw["n_jobs"] = 1
    out = res.infer(m.name, **kw)
    if isinstance(out, pd.DataFrame):
        d = _frame(out)
        d["att_full"] = float(res.att)
        return d
    d = out.to_dict()
    kept = out.details.get("joint_residuals") if hasattr(out, "details") else None
    if kept is not None:  # the joint test's residuals, for a statistic evaluated in R (stat_func)
        d["joint_residuals"] = {"observed": [float(v) for v in kept["observed"]],
                                "permuted": [[float(v) for v in row] for row in kept["permuted"]],
                                "exact": bool(kept["exact"]), "tol": float(kept["tol"])}
    return d


def placebo(res, **kw):
    return infer(res, "placebo", kw)


def in_time_placebo(res, **kw):
    return infer(res, "in_time_placebo", kw)


def leave_one_out(res, **kw):
    return infer(res, "leave_one_out", kw)


def conformal(res, **kw):
    return infer(res, "conformal", kw)


def scpi(res, **kw):
    return infer(res, "scpi", kw)


def lto(res, **kw):
    return infer(res, "lto", kw)


def ttest(res, **kw):
    return infer(res, "ttest", kw)


def jackknife_plus(res, **kw):
    return infer(res, "jackknife_plus", kw)


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


def design(columns, unit, time, outcome, post_col=None, datetime_cols=None, options=None, T0=None):
    """SyntheticDesign(**options).fit(...) -> the result, its to_dict() and its summary text."""
    import synthcontrol as sc
    df = _make_frame(columns, datetime_cols)
    opts = dict(options or {})
    for k in ("K", "seed", "top_K", "min_per_stratum", "max_per_stratum"):
        if k in opts and opts[k] is not None:
            opts[k] = _int_or_same(opts[k])
    for k in ("to_be_treated", "not_to_be_treated"):
        if k in opts and opts[k] is not None and not isinstance(opts[k], (list, tuple)):
            opts[k] = [opts[k]]
    for k in ("adjacency", "donor_exclusion"):
        if k in opts and opts[k] is not None:  # list(labels = ..., values = n x n numbers, row-major)
            import numpy as np
            import pandas as pd
            labs = [str(u) for u in opts[k]["labels"]]
            vals = np.asarray(opts[k]["values"], dtype=float).reshape(len(labs), len(labs))
            opts[k] = pd.DataFrame(vals, index=labs, columns=labs)
    res = sc.SyntheticDesign(**opts).fit(df, unit=unit, time=time, outcome=outcome, post_col=post_col,
                                         T0=None if T0 is None else _int_or_same(T0))
    return {"result": res, "data": res.to_dict(), "summary": res.summary()}


_FUNCS = {"panel": panel, "fit": fit, "design": design, "methods": methods, "infer": infer, "placebo": placebo, "in_time_placebo": in_time_placebo,
          "leave_one_out": leave_one_out, "conformal": conformal, "scpi": scpi, "lto": lto, "ttest": ttest,
          "jackknife_plus": jackknife_plus,
          "synth_dataprep": synth_dataprep,
          "synth_solve": synth_solve}
