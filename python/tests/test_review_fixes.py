"""Regression tests for the review of the modern inference code (2026-11-30): each reproduces a
reported problem and pins the fix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.inference.refit import UnitRefitter
from synthcontrol.solvers import ballsimplex


@pytest.fixture(scope="module")
def small(smoking):
    states = ["California"] + sorted(set(smoking.state) - {"California"})[:9]
    return smoking[smoking.state.isin(states)].reset_index(drop=True)


def _P(df):
    return sc.Panel(df, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)


def test_ttest_covariate_folds_do_not_see_the_held_out_outcomes(small):
    d2 = small.copy()
    d2.loc[(d2.state == "California") & d2.year.between(1985, 1988), "cigsale"] += 15
    est = sc.SyntheticControl(outcome_lags=[1975, 1980, 1985, 1988])
    f1, f2 = (est.fit(_P(x)).ttest(K=2).details["folds"] for x in (small, d2))
    # fold 2 holds out 1980-88: its weights (hence its post-period gap) must not move
    assert f1.held_out_start[1] == 1980 and f1.post_gap[1] == pytest.approx(f2.post_gap[1], abs=1e-9)
    assert f1.predictors_dropped[1] == "1980, 1985, 1988" and f1.predictors_dropped[0] == "1975"
    # with every predictor inside a held-out block, a clear error
    with pytest.raises(SpecificationError, match="held-out block"):
        sc.SyntheticControl(outcome_lags=[1985]).fit(_P(small)).ttest(K=2)


def test_ttest_ridge_covariate_means_leave_the_held_out_block_out(small):
    d2 = small.copy()
    d2.loc[(d2.state == "California") & d2.year.between(1985, 1988), "cigsale"] += 15
    est = sc.SyntheticControl(augment="ridge", covariates=["cigsale", "retprice"], ridge_lambda=1.0)
    f1, f2 = (est.fit(_P(x)).ttest(K=2).details["folds"] for x in (small, d2))
    assert f1.post_gap[1] == pytest.approx(f2.post_gap[1], abs=1e-9)
    assert f1.post_gap[0] != pytest.approx(f2.post_gap[0], abs=1e-6)  # fold 1 does see 1985-88


def test_ttest_blocks_lie_in_the_fit_window(smoking):
    p = _P(smoking)
    res = sc.SyntheticControl(fit_window=(1980, 1988)).fit(p)
    f = res.ttest(K=3).details
    assert (f["T0"], f["r"]) == (9, 3)
    assert list(f["folds"].held_out_start) == [1980, 1983, 1986]
    assert list(f["folds"].n_fit_periods) == [6, 6, 6]
    with pytest.raises(SpecificationError, match="K <= 4"):
        res.ttest(K=5)
    assert sc.SyntheticControl(fit_window=(1970, 1975)).fit(p).ttest(K="auto").details["K"] == 3


def test_lto_undefined_ratios_are_not_wins(small):
    dd = pd.concat([small, small[small.state == "Alabama"].assign(state="Alabama copy")])
    inf = sc.SyntheticControl().fit(_P(dd)).lto()
    t = inf.details["table"]
    undefined = t.ratio_i.isna() | t.ratio_j.isna() | t.ratio_treated.isna()
    assert undefined.any() and inf.details["n_undefined_ratios"] == int(
        t[["ratio_treated", "ratio_i", "ratio_j"]].isna().to_numpy().sum())
    assert not t.treated_wins[undefined].any()


def test_lto_prefetch_serves_the_matches(small):
    res = sc.SyntheticControl(augment="ridge", ridge_lambda=1.0).fit(_P(small))
    a = res.lto()
    b = sc.SyntheticControl(augment="ridge", ridge_lambda=1.0, n_jobs=2).fit(_P(small)).lto()
    assert a.details["n_fits"] == b.details["n_fits"] == 3 * a.details["n_pairs"]
    assert a.p_value == b.p_value
    r = UnitRefitter(res)
    r.prefetch([(1, frozenset({0, 2}))], n_jobs=2)
    n = r.n_fits
    r.gap(1, frozenset({0, 2}))
    assert r.n_fits == n  # served from the prefetch


def test_clarabel_path_is_accurate_on_near_exact_fits():
    rng = np.random.default_rng(0)
    T0, T1, J = 20, 6, 8
    X = 1000 + np.cumsum(rng.normal(size=(T0 + T1, J)), axis=0)
    y = X @ rng.dirichlet(np.ones(J)) + rng.normal(scale=1e-4, size=T0 + T1)
    units = ["tr"] + [f"d{j}" for j in range(J)]
    df = pd.DataFrame({"u": np.repeat(units, T0 + T1), "t": np.tile(np.arange(T0 + T1), J + 1),
                       "y": np.concatenate([y] + [X[:, j] for j in range(J)])})
    res = sc.SyntheticControl().fit(sc.Panel(df, unit="u", time="t", outcome="y", treated="tr", treatment_time=T0))
    a = res.scpi(sims=40, seed=1)
    b = res.scpi(sims=40, seed=1, solver="conic")
    width = np.median(a.details["draws_upper"] - a.details["draws_lower"])
    assert np.nanmax(np.abs(a.details["draws_lower"] - b.details["draws_lower"])) < 1e-2 * width
    assert np.nanmax(np.abs(a.details["draws_upper"] - b.details["draws_upper"])) < 1e-2 * width


def test_many_jobs_on_the_clarabel_path(smoking):
    res = sc.SyntheticControl(augment="ridge", ridge_lambda=1.0).fit(_P(smoking))
    inf = res.scpi(sims=20, seed=0, n_jobs=16)
    assert inf.details["failed_sims"] == 0 and inf.details["draws_lower"].shape == (20, 13)


def test_qreg_with_a_constant_only_design_is_the_empirical_rule(smoking):
    res = sc.SyntheticControl(fit_window=(1980, 1988)).fit(_P(smoking))  # 9 periods: constant only
    q = res.scpi(sims=10, seed=0, e_method="qreg").details["table"]
    e = res.scpi(sims=10, seed=0, e_method="empirical").details["table"]
    np.testing.assert_allclose(q.out_of_sample_lower, e.out_of_sample_lower)
    np.testing.assert_allclose(q.out_of_sample_upper, e.out_of_sample_upper)


@pytest.mark.skipif(not ballsimplex.available(), reason="compiled kernel not built")
def test_kernel_refuses_small_balls_and_non_finite_costs():
    Mt = np.array([[1000.], [1000.5], [999.]])
    lam0 = np.array([1 - 3e-4, 3e-4, 0.])
    g = np.array([-1e-4])
    a = Mt.T @ lam0 + g
    _, st, _ = ballsimplex.solve_batch(Mt, a[None], np.array([np.linalg.norm(g)]), 1.0, lam0,
                                       np.array([[0., 1., -1.]]))
    assert st[0, 0] != 0  # the caller re-solves it with the (scaled) conic solver
    rng = np.random.default_rng(1)
    Mt = rng.normal(size=(6, 3))
    lam0 = np.array([0.5, 0.5, 0, 0, 0, 0])
    g = rng.normal(size=3)
    a = Mt.T @ lam0 + g
    _, st, _ = ballsimplex.solve_batch(Mt, a[None], np.array([np.linalg.norm(g)]), 1.0, lam0,
                                       np.array([[1.0, np.nan, 0.5, 0, 0, 0]]))
    assert st[0, 0] == 9


def test_zero_variance_donor_is_named(small):
    d = small.copy()
    d.loc[d.state == "Alabama", "cigsale"] = 100.0
    with pytest.raises(SpecificationError, match="'Alabama'"):
        sc.SyntheticControl().fit(_P(d)).scpi(sims=10)
