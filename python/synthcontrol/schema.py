"""One result schema: results and inference outcomes as plain builtins.

:meth:`SCResult.to_dict` and :meth:`Inference.to_dict` build their dicts here, and the command
line's ``results.json``, the R package (through its bridge) and reports all read them.  Only
builtins come out (``float``, ``int``, ``str``, ``bool``, ``None``, lists and dicts of them), so that
``json.dumps`` and R's reticulate need no knowledge of numpy or pandas.  Non-finite floats stay
floats (``nan``, ``inf``): JSON writes them as ``NaN``/``Infinity``, R reads ``NaN``/``Inf``.

Inference (``schema: "synthcontrol.inference/1"``)::

    name, method, p_value, ci_lower, ci_upper, alpha, level ("90%" or None)
    details   {name: scalar}                 every scalar detail
    tables    {name: {"columns": [...], "data": {column: [...]}, "kinds": {column: kind}}}
    series    {name: {"kind": period kind, "index": [...], "values": [...]}}
    lists     {name: list or dict of scalars}
    metadata  {"call": {argument: value}, "fit_kind": ..., "version": ...}

Fit (``schema: "synthcontrol.result/1"``)::

    att, pre_rmse, period_kind, periods, post, observed, counterfactual, weights, donors,
    treated, treated_label, treatment_time, T0, n_filled, V, diagnostics {scalars}, outcome,
    augment (ridge extras or None), model {kind, backend, settings}, metadata {version, certificates}
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["inference_to_dict", "result_to_dict", "scalar", "frame", "periods", "labels", "floats",
           "level"]

INFERENCE_SCHEMA = "synthcontrol.inference/1"
RESULT_SCHEMA = "synthcontrol.result/1"


def _version():
    from ._version import __version__
    return str(__version__)


def level(alpha):
    """``"90%"`` for ``alpha=0.1``; ``None`` without a level."""
    if alpha is None or not isinstance(alpha, (int, float, np.floating)) or not math.isfinite(float(alpha)):
        return None
    return f"{100 * (1 - float(alpha)):g}%"


def scalar(v):
    """numpy / pandas scalar -> builtin; None stays None; other objects -> None."""
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
        return period_str(pd.Timestamp(v))
    return None


def period_str(ts):
    if ts.hour == 0 and ts.minute == 0 and ts.second == 0 and ts.microsecond == 0 and ts.nanosecond == 0:
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def periods(index):
    """A period index -> (kind, list of builtins)."""
    idx = pd.Index(index)
    if pd.api.types.is_datetime64_any_dtype(idx.dtype):
        return "datetime", [period_str(pd.Timestamp(t)) for t in idx]
    if pd.api.types.is_bool_dtype(idx.dtype):
        return "logical", [bool(t) for t in idx]
    if pd.api.types.is_integer_dtype(idx.dtype):
        return "integer", [int(t) for t in idx]
    if pd.api.types.is_float_dtype(idx.dtype):
        return "double", [float(t) for t in idx]
    return "character", [str(t) for t in idx]


def labels(index):
    """Unit labels -> list of str."""
    return [str(scalar(u)) if scalar(u) is not None else str(u) for u in index]


def floats(a):
    return [float(x) for x in np.asarray(a, dtype=float).ravel()]


def frame(df):
    """DataFrame -> {"columns": [...], "data": {col: list}, "kinds": {col: kind}}."""
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
            data[name], kinds[name] = floats(s.to_numpy(dtype=float, na_value=float("nan"))), "double"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            data[name], kinds[name] = [period_str(pd.Timestamp(x)) for x in s], "datetime"
        else:
            vals = [scalar(x) for x in s]
            if vals and all(isinstance(x, float) for x in vals):
                data[name], kinds[name] = vals, "double"
            elif vals and all(isinstance(x, int) and not isinstance(x, bool) for x in vals):
                data[name], kinds[name] = vals, "integer"
            else:
                data[name], kinds[name] = [str(x) if x is not None else str(y) for x, y in zip(vals, s)], \
                    "character"
    return {"columns": cols, "data": data, "kinds": kinds}


def _plain(v):
    """Call arguments as builtins (tuples -> lists, arrays -> lists, other objects -> str)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray, pd.Index)):
        return [_plain(x) for x in v]
    s = scalar(v)
    return s if s is not None or v is None else str(v)


def inference_to_dict(inf) -> dict:
    """An :class:`~synthcontrol.inference.base.Inference` as builtins (see the module docstring)."""
    details, tables, series, lists = {}, {}, {}, {}
    for k, v in inf.details.items():
        k = str(k)
        if isinstance(v, pd.DataFrame):
            if k == "gaps":  # a period x unit matrix: periods as its index
                kind, idx = periods(v.index)
                tables[k] = {"period_kind": kind, "periods": idx, "columns": labels(v.columns),
                             "values": [floats(v[c]) for c in v.columns]}
            else:
                tables[k] = frame(v)
        elif isinstance(v, pd.Series):
            kind, idx = (periods(v.index) if k != "weights" else ("character", labels(v.index)))
            series[k] = {"kind": kind, "index": idx, "values": floats(v)}
        elif isinstance(v, np.ndarray):
            if v.ndim == 1:
                lists[k] = floats(v) if v.dtype.kind in "fiub" else [str(x) for x in v]
        elif isinstance(v, (list, tuple)):
            lists[k] = [scalar(x) if scalar(x) is not None else str(x) for x in v]
        elif isinstance(v, dict):
            lists[k] = {str(a): _plain(b) for a, b in v.items()}
        else:
            s = scalar(v)
            if s is not None or v is None:
                details[k] = s
    return {
        "schema": INFERENCE_SCHEMA,
        "name": inf.name,
        "method": inf.method,
        "p_value": scalar(inf.p_value),
        "ci_lower": scalar(inf.ci_lower),
        "ci_upper": scalar(inf.ci_upper),
        "alpha": scalar(inf.alpha),
        "level": level(inf.alpha),
        "details": details, "tables": tables, "series": series, "lists": lists,
        "metadata": {"call": _plain(dict(inf.call or {})), "fit_kind": inf.fit_kind, "version": _version()},
    }


_CERTIFICATE_KEYS = ("certified", "kkt_violation", "duality_gap", "bound_gap", "bound_gap_rel", "lower_bound",
                     "bound_attained", "bound_method", "global_bound_status", "global_bound_stopped_by",
                     "n_uncertified_fits")


def result_to_dict(res) -> dict:
    """An :class:`~synthcontrol.results.SCResult` as builtins (see the module docstring)."""
    p = res.panel
    observed, counterfactual, weights = res.observed, res.counterfactual, res.weights
    kind, per = periods(observed.index)
    diag = {}
    for k, v in res.diagnostics.items():
        s = scalar(v)
        if s is not None:
            diag[str(k)] = s
    tt = p.treatment_time
    tt = period_str(tt) if hasattr(tt, "strftime") else scalar(tt)
    if tt is None and p.treatment_time is not None:
        tt = str(p.treatment_time)
    d = res.diagnostics
    augment = res.model.schema_extras(d)
    return {
        "schema": RESULT_SCHEMA,
        "att": float(res.att),
        "pre_rmse": float(res.pre_rmse),
        "period_kind": kind,
        "periods": per,
        "post": [bool(x) for x in np.asarray(p.post)],
        "observed": floats(observed.to_numpy()),
        "counterfactual": floats(counterfactual.to_numpy()),
        "weights": floats(weights.to_numpy()),
        "donors": labels(weights.index),
        "treated": labels(p.treated_units),
        "treated_label": str(p.treated_label),
        "treatment_time": tt,
        "T0": int(p.T0),
        "n_filled": int(p.n_filled),
        "V": None if res.V is None else {"names": labels(res.V.index), "values": floats(res.V)},
        "diagnostics": diag,
        "warnings": [str(m) for m in d.get("warnings", ())],
        "outcome": str(p.outcome),
        "augment": augment,
        "model": res.model.to_dict(),
        "metadata": {"version": _version(),
                     "certificates": {k: scalar(d[k]) for k in _CERTIFICATE_KEYS if k in d}},
    }
