"""The structure of issue #12: fit models, self-contained immutable results, one result schema,
one parallel map, and a module graph without cycles.  Each test can fail: it checks behaviour
(or the source) that the old structure did not have."""
from __future__ import annotations

import ast
import copy
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol import models, parallel
from synthcontrol.inference.refit import UnitRefitter

PKG = Path(sc.__file__).resolve().parent


@pytest.fixture(scope="module")
def smoking():
    return sc.datasets.load("prop99")


def _panel(df, **kw):
    return sc.Panel(df, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989, **kw)


@pytest.fixture(scope="module")
def small(smoking):
    keep = ["California", "Utah", "Montana", "Nevada", "Connecticut", "Colorado", "Idaho", "Ohio"]
    return smoking[smoking.state.isin(keep)].reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# results: self-contained and immutable
# ------------------------------------------------------------------------------------------------
def test_result_holds_settings_not_the_estimator(small):
    est = sc.SyntheticControl(covariates=["lnincome", "retprice"], predictor_window=(1980, 1988),
                              outcome_lags=[1975, 1988])
    res = est.fit(_panel(small))
    before = res.placebo(statistic="mean_gap")
    est.covariates = ["beer"]  # changing the estimator afterwards changes nothing in the result
    est.outcome_lags = None
    assert not any(v is est for v in vars(res).values())
    assert res.settings["covariates"] == ["lnincome", "retprice"]
    res._memo.clear()  # recompute from the result alone
    after = res.placebo(statistic="mean_gap")
    assert after.p_value == before.p_value
    np.testing.assert_array_equal(after.details["table"]["att"], before.details["table"]["att"])
    assert res.estimator is not est and res.estimator.get_params()["covariates"] == ["lnincome", "retprice"]


def test_diagnostics_settings_and_panel_are_read_only(small):
    p = _panel(small)
    res = sc.SyntheticControl().fit(p)
    with pytest.raises(TypeError, match="read-only"):
        res.diagnostics["att"] = 0
    with pytest.raises(TypeError, match="read-only"):
        res.settings["seed"] = 3
    with pytest.raises(AttributeError, match="immutable"):
        p.T0 = 3
    with pytest.raises(ValueError):
        res.w[0] = 1.0
    inf = res.placebo()
    with pytest.raises(TypeError, match="read-only"):
        inf.details["p"] = 1
    d = dict(res.diagnostics)  # an editable copy
    d["x"] = 1
    assert pickle.loads(pickle.dumps(res.diagnostics)) == res.diagnostics
    assert copy.deepcopy(res.diagnostics) == res.diagnostics


def test_no_inference_call_changes_a_later_one(small):
    """Before: the placebo plot drew whichever placebo test had run last."""
    res = sc.SyntheticControl().fit(_panel(small))
    ratio = res.placebo(statistic="rmspe_ratio")
    fig = res.plot("placebo")  # the documented default: mean_gap, whatever ran before
    assert "mean post-period gap" in fig.axes[0].get_title()  # the statistic, in words
    fig = res.plot("placebo", inference=ratio)
    assert "post/pre RMSPE ratio" in fig.axes[0].get_title()
    with pytest.raises(sc.SpecificationError, match="not both"):
        res.plot("placebo", inference=ratio, statistic="mean_gap")
    with pytest.raises(sc.SpecificationError, match="draws a placebo test"):
        res.plot("placebo", inference=res.lto())


def test_estimator_get_set_params_and_clone():
    est = sc.SyntheticControl(covariates={"beer": (1984, 1988)}, seed=3)
    c = est.clone()
    assert c is not est and c.get_params() == est.get_params()
    assert c.covariates is not est.covariates  # deep copies
    assert est.set_params(seed=5) is est and est.seed == 5 and c.seed == 3
    with pytest.raises(sc.SpecificationError, match="unknown setting"):
        est.set_params(sede=1)


# ------------------------------------------------------------------------------------------------
# fit models
# ------------------------------------------------------------------------------------------------
def test_every_result_carries_its_model(small):
    p = _panel(small)
    out = sc.SyntheticControl().fit(p)
    cov = sc.SyntheticControl(covariates=["lnincome"], outcome_lags=[1980, 1988]).fit(p)
    assert (out.model.kind, cov.model.kind) == ("outcome", "predictors")
    assert isinstance(out.model, models.OutcomeModel) and out.model.reuses_support and out.model.simplex
    # the model refits itself on arrays: the whole pool on the fit's periods gives the fit back
    r = out.model.refit(0, np.arange(1, len(p.donors) + 1))
    np.testing.assert_allclose(r.weights, out.w, atol=1e-12)
    np.testing.assert_allclose(p.y_treated - r.gap, out.cf, atol=1e-9)
    r = cov.model.refit(0, np.arange(1, len(p.donors) + 1))
    np.testing.assert_allclose(r.weights, cov.w, atol=1e-7)


def test_covariate_refits_read_the_predictor_table_not_the_data(small, monkeypatch):
    """Before: every covariate refit rebuilt the predictors from the DataFrame (J times per placebo)."""
    res = sc.SyntheticControl(covariates=["lnincome", "retprice"], outcome_lags=[1975, 1988]).fit(_panel(small))
    import synthcontrol.predictors as pred

    def fail(*a, **k):
        raise AssertionError("the DataFrame was read again during a refit")
    monkeypatch.setattr(pred, "build_predictors", fail)
    monkeypatch.setattr(pred._Panel, "wide", fail)
    res.placebo()
    res.leave_one_out()
    res.ttest(K=2)


def test_predictor_table_slices_equal_a_rebuild(small):
    """The table built once, sliced and rescaled for a refit's units, equals building the predictors
    for those units from the data (Synth's scaling over the units present)."""
    est = sc.SyntheticControl(covariates={"lnincome": (1980, 1988), "beer": (1984, 1988)}, outcome_lags=[1975])
    p = _panel(small)
    res = est.fit(p)
    pool = ["Utah", "Nevada", "Ohio", "California"]
    X1, X0 = res.model.scaled(["Montana"], pool)
    ref1, ref0, _ = est.predictors(p, treated=["Montana"], donors=pool).scaled()
    np.testing.assert_array_equal(X1, ref1.to_numpy())
    np.testing.assert_array_equal(X0, ref0.to_numpy())


def test_no_fit_kind_dispatch_outside_the_model_module():
    pattern = re.compile(r"""(==|!=)\s*["'](outcome|predictors|ridge)["']|["'](outcome|predictors|ridge)["']\s*(==|!=)"""
                         r"""|get\(["']augment["']\)|\bfit_kind\(""")
    hits = []
    for f in PKG.rglob("*.py"):
        if f.name == "models.py":
            continue
        for i, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if pattern.search(code) and "self.augment" not in code:
                hits.append(f"{f.relative_to(PKG)}:{i}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_results_hold_no_estimator_and_inference_lives_outside_results():
    src = (PKG / "results.py").read_text()
    assert "estimator=" not in src and "class Inference" not in src
    assert "class Inference" in (PKG / "inference" / "base.py").read_text()


def _module_imports():
    """Imports between synthcontrol modules, at any level (a deferred import inside a function is
    still a dependency: a cycle through one only moves the failure to run time)."""
    graph = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        pkg = name if rel.name == "__init__" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    deps |= {f"{mod}.{a.name}" for a in node.names}
                else:
                    deps.add(mod)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthcontrol"):
                deps.add(node.module)
        graph[name] = deps
    return graph


def test_version_agrees_with_pyproject():
    text = (PKG.parents[1] / "pyproject.toml").read_text()
    assert f'version = "{sc.__version__}"' in text


def test_no_import_cycle_among_modules():
    graph = _module_imports()
    # a package's __init__ importing its own submodules is not a cycle through them
    edges = {m: {d for d in deps if d in graph and not (m.startswith(d + ".") and d != m)} for m, deps in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in edges[m]:
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2
    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, cycles
    assert not any(d.startswith("synthcontrol.results") for m, ds in edges.items() if m.startswith(
        "synthcontrol.inference") for d in ds)


# ------------------------------------------------------------------------------------------------
# one result schema
# ------------------------------------------------------------------------------------------------
def test_to_dict_is_json_and_carries_the_call(small):
    res = sc.SyntheticControl().fit(_panel(small))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["schema"] == "synthcontrol.result/1" and d["att"] == pytest.approx(res.att)
    assert d["model"]["kind"] == "outcome" and d["metadata"]["certificates"]["certified"] is True
    inf = res.ttest(K=2)
    e = json.loads(json.dumps(inf.to_dict()))
    assert e["name"] == "ttest" and e["level"] == "95%" and e["metadata"]["call"] == {"K": 2, "alpha": 0.05,
                                                                                     "oracle_weights": None}
    assert e["tables"]["folds"]["columns"][0] == "fold" and e["lists"]["fold_estimates"]


# ------------------------------------------------------------------------------------------------
# one parallel map
# ------------------------------------------------------------------------------------------------
def _square(x):
    return x * x


def test_pmap_is_ordered_and_engine_independent():
    items = list(range(23))
    serial = parallel.pmap(_square, items)
    procs = parallel.pmap(_square, items, n_jobs=2)
    assert serial == procs == [x * x for x in items]
    seen = []
    parallel.pmap(_square, items, progress=seen.append)
    assert seen[-1] == 23
    assert parallel.resolve_n_jobs(None) == 1 and parallel.resolve_n_jobs(-1) >= 1
    with pytest.raises(sc.SpecificationError, match="engine must be one of"):
        parallel.pmap(_square, items, engine="threads")
    with pytest.raises(sc.SpecificationError, match="n_jobs"):
        parallel.resolve_n_jobs(0)


def test_refits_in_workers_equal_refits_here(small):
    res = sc.SyntheticControl(augment="ridge", ridge_lambda=1.0).fit(_panel(small))
    tasks = [(k, frozenset({0})) for k in range(1, 5)]
    a, b = UnitRefitter(res), UnitRefitter(res)
    b.prefetch(tasks, n_jobs=2)
    for k, S in tasks:
        np.testing.assert_array_equal(a.gap(k, S), b.gap(k, S))
    assert a.n_fits == b.n_fits == 4
