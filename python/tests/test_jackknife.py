"""Jackknife+ over time (Barber, Candes, Ramdas & Tibshirani 2021): checked by hand on Prop 99 (every
leave-one-period-out refit redone here with the simplex solver), the order statistics of the
definition, the unbounded case, ridge fits (penalty kept), and the finite-sample guarantee on an
exchangeable simulation (coverage >= 1 - 2 alpha)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.solvers.simplex import simplex_ls


@pytest.fixture(scope="module")
def prop99(smoking):
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    return sc.SyntheticControl().fit(p)


def test_prop99_by_hand(prop99):
    p = prop99.panel
    y, X, T0 = p.y_treated, p.X_donors, p.T0
    alpha = 0.1
    lo_vals, hi_vals = [], []
    for i in range(T0):
        m = np.arange(T0) != i
        w = simplex_ls(X[:T0][m], y[:T0][m]).weights
        r = abs(y[i] - X[i] @ w)
        pred = X[T0:] @ w
        lo_vals.append(pred - r)
        hi_vals.append(pred + r)
    lo_vals, hi_vals = np.array(lo_vals), np.array(hi_vals)
    k_lo, k_hi = math.floor(alpha * (T0 + 1)), math.ceil((1 - alpha) * (T0 + 1))
    assert (k_lo, k_hi) == (2, 18)
    lo = np.sort(lo_vals, axis=0)[k_lo - 1]
    hi = np.sort(hi_vals, axis=0)[k_hi - 1]
    inf = prop99.jackknife_plus(alpha=alpha)
    t = inf.details["table"]
    assert t.cf_lower.to_numpy() == pytest.approx(lo, abs=1e-9)
    assert t.cf_upper.to_numpy() == pytest.approx(hi, abs=1e-9)
    assert (t.effect_lower.to_numpy() == pytest.approx(y[T0:] - hi, abs=1e-9))
    assert inf.details["bounded"] and inf.details["att"] == pytest.approx(prop99.att)
    assert inf.ci_lower < inf.details["att"] < inf.ci_upper < 0  # Prop 99's ATT interval excludes 0


def test_unbounded_when_too_few_periods_and_errors(prop99):
    inf = prop99.jackknife_plus(alpha=0.02)  # floor(0.02 * 20) = 0: no finite lower order statistic
    assert not inf.details["bounded"]
    assert np.isinf(inf.details["table"].cf_lower).all()
    for bad in (0, 0.5, True, "x"):
        with pytest.raises(SpecificationError, match="alpha"):
            prop99.jackknife_plus(alpha=bad)


def test_ridge_fit_keeps_its_penalty(smoking):
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    res = sc.SyntheticControl(augment="ridge").fit(p)
    inf = res.jackknife_plus(alpha=0.1)
    from synthcontrol.solvers.ridge import fit_ridge_ascm
    lam = res.diagnostics["ridge_lambda"]
    y, X, T0 = p.y_treated, p.X_donors, p.T0
    order = np.r_[np.arange(1, T0), 0, np.arange(T0, len(y))]  # period 0 left out
    cf = np.empty(len(y))
    cf[order] = fit_ridge_ascm(X[order], y[order], T0 - 1, lam=lam).counterfactual
    r0 = abs(y[0] - cf[0])
    assert inf.details["residuals"].iloc[0] == pytest.approx(r0, abs=1e-9)


def test_guaranteed_coverage_on_exchangeable_periods():
    """iid periods (no time structure): the nominal 90% intervals cover about 90% (Barber et al.
    guarantee at least 80%); the check allows three binomial standard errors below 90%."""
    rng = np.random.default_rng(3)
    hits = []
    for rep in range(60):
        T0, T1, J = 24, 4, 6
        F = rng.normal(size=(T0 + T1, 2))
        L = rng.uniform(0, 1, size=(2, J))
        X = F @ L + rng.normal(scale=0.5, size=(T0 + T1, J))
        wtrue = rng.dirichlet(np.ones(J))
        y = X @ wtrue + rng.normal(scale=0.5, size=T0 + T1)
        units = ["tr"] + [f"d{j}" for j in range(J)]
        df = pd.DataFrame({"u": np.repeat(units, T0 + T1), "t": np.tile(np.arange(T0 + T1), J + 1),
                           "y": np.concatenate([y] + [X[:, j] for j in range(J)])})
        res = sc.SyntheticControl().fit(sc.Panel(df, unit="u", time="t", outcome="y", treated="tr",
                                                 treatment_time=T0))
        t = res.jackknife_plus(alpha=0.1).details["table"]
        hits.extend(((t.cf_lower <= y[T0:]) & (y[T0:] <= t.cf_upper)).tolist())
    cover = float(np.mean(hits))
    assert cover >= 0.9 - 3 * math.sqrt(0.9 * 0.1 / len(hits))
