"""Synthetic experimental design (SYNDES): the exact search against an independent solver, the
constraints, the certificates, the errors, and the result every mode returns."""
from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.design.results import DesignResult
from synthcontrol.solvers.syndes import DesignProblem, anneal_designs, block_simplex_qp, enumerate_designs

MODES = ("two_way_global", "one_way_global", "per_unit")


def _panel(seed, N=7, T=12, n_post=0, level=10.0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T + n_post, 2)).cumsum(axis=0)
    L = rng.uniform(0.3, 1.0, (N, 2))
    return level + rng.uniform(-1, 1, N) + F @ L.T + 0.3 * rng.normal(size=(T + n_post, N))


def _long(Y, n_post=0):
    T, N = Y.shape
    return pd.DataFrame([{"unit": f"u{j}", "time": t, "y": float(Y[t, j]), "post": int(t >= T - n_post)}
                         for j in range(N) for t in range(T)])


def _brute(Y, K, mode, lam):
    """Every treated set's programme solved by cvxpy + Clarabel (an independent solver)."""
    import cvxpy as cp
    T, N = Y.shape
    out = {}
    for S in itertools.combinations(range(N), K):
        C = [j for j in range(N) if j not in S]
        if mode == "two_way_global":
            a, c = cp.Variable(K, nonneg=True), cp.Variable(N - K, nonneg=True)
            obj = cp.sum_squares(Y[:, S] @ a - Y[:, C] @ c) / T + lam * (cp.sum_squares(a) + cp.sum_squares(c))
            cons = [cp.sum(a) == 1, cp.sum(c) == 1]
        elif mode == "one_way_global":
            c = cp.Variable(N - K, nonneg=True)
            obj = cp.sum_squares(Y[:, S].mean(axis=1) - Y[:, C] @ c) / T + lam * (1 / K + cp.sum_squares(c))
            cons = [cp.sum(c) == 1]
        else:
            W = cp.Variable((K, N - K), nonneg=True)
            obj = sum(cp.sum_squares(Y[:, i] - Y[:, C] @ W[r]) for r, i in enumerate(S)) / (K * T) \
                + lam / K * cp.sum_squares(W)
            cons = [cp.sum(W, axis=1) == 1]
        out[S] = cp.Problem(cp.Minimize(obj), cons).solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                                                          tol_feas=1e-12)
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_exact_search_agrees_with_an_independent_solver(mode, lam):
    for seed in range(2):
        Y = _panel(seed, N=6 + seed, T=11)
        for K in (1, 2, 3):
            ref = _brute(Y, K, mode, lam)
            best = min(ref.values())
            r = enumerate_designs(DesignProblem(Y, mode, lam), K)
            assert r.proven_optimal and r.stopped_by == "complete"
            assert r.best.objective == pytest.approx(best, rel=1e-7)
            assert ref[r.best.treated] == pytest.approx(best, rel=1e-7)  # (ties: any optimal set)
            assert r.bound <= best * (1 + 1e-9)


def test_every_set_value_is_exact_with_its_certificate():
    Y = _panel(4, N=6, T=9)
    for mode in MODES:
        ref = _brute(Y, 2, mode, 0.05)
        p = DesignProblem(Y, mode, 0.05)
        for S, v in ref.items():
            sv = p.value(S)
            assert sv.objective == pytest.approx(v, rel=1e-7, abs=1e-12)
            assert 0 <= sv.gap <= 1e-9 * max(1.0, abs(sv.objective))


def test_kernel_handles_scale_and_shift():
    Y = _panel(5, N=8, T=14)
    base = enumerate_designs(DesignProblem(Y, "two_way_global", 0.0), 3)
    big = enumerate_designs(DesignProblem(Y * 1e6 + 1e7, "two_way_global", 0.0), 3)
    assert big.best.treated == base.best.treated
    assert big.best.objective == pytest.approx(base.best.objective * 1e12, rel=1e-7)


def test_block_qp_matches_the_kkt_conditions():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 9))
    H = A.T @ A
    g = rng.normal(size=9)
    blocks = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
    x, v, gap, _ = block_simplex_qp(H, g, blocks, 3)
    assert (x >= 0).all() and np.allclose(np.bincount(blocks, x), 1)
    grad = H @ x + g
    for b in range(3):  # on each block the support attains the block's smallest gradient
        m = blocks == b
        assert grad[m & (x > 0)].max() - grad[m].min() <= 1e-10 * np.abs(grad).max()
    assert gap <= 1e-10


def test_two_way_is_a_relaxation_of_one_way():
    for seed in range(4):
        Y = _panel(seed, N=8, T=10)
        for lam in (0.0, 0.2):
            two = enumerate_designs(DesignProblem(Y, "two_way_global", lam), 3).best.objective
            one = enumerate_designs(DesignProblem(Y, "one_way_global", lam), 3).best.objective
            assert two <= one * (1 + 1e-9)


def test_estimator_objective_weights_and_contrast():
    Y = _panel(7, N=8, T=16, n_post=5)
    df = _long(Y, n_post=5)
    for mode in MODES:
        d = sc.SyntheticDesign(K=3, mode=mode, lam=0.1).fit(df, unit="unit", time="time", outcome="y", post_col="post")
        assert isinstance(d, DesignResult) and d.proven_optimal and d.status == "optimal"
        assert d.treated_weights.sum() == pytest.approx(1) and d.control_weights.sum() == pytest.approx(1)
        assert (d.treated_weights[d.treated] > 0).all() and d.treated_weights.drop(d.treated).abs().max() == 0
        assert d.control_weights[d.treated].abs().max() == 0
        np.testing.assert_allclose(d.contrast, d.treated_weights - d.control_weights)
        ref = _brute(Y[:16], 3, mode, 0.1)
        assert d.objective == pytest.approx(min(ref.values()), rel=1e-7)
        # the permutation interval contains its own estimate; the estimate is the post mean contrast
        g = d.contrast_series.to_numpy()
        assert d.post_fit["ate"] == pytest.approx(g[16:].mean())
        assert d.inference.ci_lower <= d.post_fit["ate"] <= d.inference.ci_upper
        assert d.inference.level == "90%" and 0 < d.inference.p_value <= 1
        assert json.loads(json.dumps(d.to_dict()))["treated"] == [str(u) for u in d.treated]


def test_lam_default_is_the_mean_pre_period_variance():
    Y = _panel(8, N=6, T=10)
    d = sc.SyntheticDesign(K=2).fit(_long(Y), unit="unit", time="time", outcome="y")
    assert d.lam == pytest.approx(float(np.mean(Y.var(axis=0, ddof=1))))
    assert d.planning and d.inference is None and d.post_fit is None
    assert len(d.power_curve) == 12 and (np.diff(d.power_curve.mde_absolute) < 0).all()


def test_budget_and_K_none_obey_their_constraints():
    Y = _panel(9, N=7, T=10)
    df = _long(Y)
    costs = {f"u{j}": float(c) for j, c in enumerate([5, 1, 1, 4, 2, 3, 1])}
    d = sc.SyntheticDesign(K=2, costs=costs, budget=3.0, lam=0.0).fit(df, unit="unit", time="time", outcome="y")
    assert d.cost <= 3.0 and d.proven_optimal
    ref = _brute(Y, 2, "two_way_global", 0.0)
    cost = np.array([5, 1, 1, 4, 2, 3, 1])
    affordable = min(v for S, v in ref.items() if cost[list(S)].sum() <= 3.0)
    assert d.objective == pytest.approx(affordable, rel=1e-7)
    free = sc.SyntheticDesign(K=None, lam=0.0).fit(df, unit="unit", time="time", outcome="y")
    best = min(min(_brute(Y, k, "two_way_global", 0.0).values()) for k in range(1, 7))
    assert free.objective == pytest.approx(best, rel=1e-7) and 1 <= free.K <= 6


def test_annealing_never_reports_below_the_proven_optimum():
    Y = _panel(10, N=9, T=12)
    p = DesignProblem(Y, "two_way_global", 0.05)
    exact = enumerate_designs(p, 3)
    for seed in range(5):
        r = anneal_designs(DesignProblem(Y, "two_way_global", 0.05), 3, seed=seed, n_iter=300)
        assert r.best.objective >= exact.best.objective * (1 - 1e-9)
        assert r.bound <= exact.best.objective and not r.proven_optimal
    d = sc.SyntheticDesign(K=3, mode="two_way_global_annealed", lam=0.05).fit(_long(Y), unit="unit", time="time",
                                                                              outcome="y")
    assert isinstance(d, DesignResult) and not d.proven_optimal and d.status == "heuristic"
    assert d.objective >= exact.best.objective * (1 - 1e-9) and d.bound <= exact.best.objective


def test_no_index_order_placeholder():
    """Units 0, 1, 2 are far from everything: the design must not return them by default."""
    Y = _panel(11, N=8, T=12)
    Y[:, :3] += np.array([50.0, -40.0, 80.0])
    d = sc.SyntheticDesign(K=3, lam=0.0).fit(_long(Y), unit="unit", time="time", outcome="y")
    assert set(d.treated) != {"u0", "u1", "u2"}


def test_infeasible_requests_raise_with_the_reason():
    df = _long(_panel(12, N=5, T=8))
    with pytest.raises(sc.InfeasibleDesignError, match="K=5 treated units leave no control"):
        sc.SyntheticDesign(K=5).fit(df, unit="unit", time="time", outcome="y")
    with pytest.raises(sc.InfeasibleDesignError, match="budget 1 is below the cost of the cheapest 2"):
        sc.SyntheticDesign(K=2, costs={f"u{j}": 1.0 for j in range(5)}, budget=1.0).fit(
            df, unit="unit", time="time", outcome="y")
    arms = df.assign(arm=df.unit.map({"u0": "A", "u1": "A", "u2": "B", "u3": "B", "u4": "B"}))
    with pytest.raises(sc.InfeasibleDesignError, match="arm 'A' has 2 unit"):
        sc.SyntheticDesign(K=2, arm="arm").fit(arms, unit="unit", time="time", outcome="y")
    with pytest.raises(sc.SpecificationError, match="arm and costs/budget cannot be combined"):
        sc.SyntheticDesign(K=1, arm="arm", costs={}, budget=1).fit(arms, unit="unit", time="time", outcome="y")
    with pytest.raises(sc.SpecificationError, match="K=None"):
        sc.SyntheticDesign(K=None, mode="per_unit").fit(df, unit="unit", time="time", outcome="y")


def test_arms_are_independent_designs():
    Y = _panel(13, N=10, T=12, n_post=4)
    df = _long(Y, n_post=4)
    df["arm"] = df.unit.map(lambda u: "A" if int(u[1:]) < 5 else "B")
    res = sc.SyntheticDesign(K=2, lam=0.0).set_params(arm="arm").fit(df, unit="unit", time="time", outcome="y",
                                                                     post_col="post")
    assert set(res) == {"A", "B"}
    for a, d in res.items():
        sub = df[df.arm == a]
        alone = sc.SyntheticDesign(K=2, lam=0.0).fit(sub, unit="unit", time="time", outcome="y", post_col="post")
        assert d.treated == alone.treated and d.objective == pytest.approx(alone.objective)
    assert set(res.atet_by_arm()) == {"A", "B"} and all(len(v) == 2 for v in res.treated_by_arm().values())


def test_post_col_wins_over_T0_with_a_warning():
    Y = _panel(14, N=6, T=14, n_post=4)
    df = _long(Y, n_post=4)
    with pytest.warns(UserWarning, match="post_col wins"):
        d = sc.SyntheticDesign(K=2).fit(df, unit="unit", time="time", outcome="y", T0=8, post_col="post")
    assert d.T0 == 14
    same = sc.SyntheticDesign(K=2).fit(df, unit="unit", time="time", outcome="y", T0=14)
    assert same.treated == d.treated


def test_one_mde_per_design():
    Y = _panel(15, N=7, T=40, n_post=6)
    d = sc.SyntheticDesign(K=2).fit(_long(Y, n_post=6), unit="unit", time="time", outcome="y", post_col="post")
    row = d.power_curve[d.power_curve.horizon == 6].iloc[0]
    assert d.mde == pytest.approx(row.mde_absolute)
    pa = sc.power_analysis(d, horizons=[6])
    assert pa.mde_absolute.iloc[0] == pytest.approx(d.mde)
    assert f"{d.mde:.6g}" in d.summary()
    assert "mde_ar1" in d.post_fit and "mde" not in d.post_fit  # the AR(1) surface has its own name


@pytest.mark.parametrize("mode", ["two_way_global", "one_way_global"])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_batch_bounds_are_valid_and_prune(mode, lam):
    """The batched first-order bounds (used above 50,000 sets) never exceed a set's optimum, and
    the search with them reaches the same optimum as plain best-first enumeration."""
    Y = _panel(16, N=12, T=15)
    p = DesignProblem(Y, mode, lam)
    combos = np.array(list(itertools.combinations(range(12), 3)))
    lb, _ = p.batch_bounds(combos, cutoff=np.inf, n_iter=40)
    exact = np.array([p.value(S).objective for S in combos])
    assert (lb <= exact * (1 + 1e-9) + 1e-12).all()
    assert np.median(lb / exact) > 0.5  # not vacuous
    plain = enumerate_designs(DesignProblem(Y, mode, lam), 3, batch_above=10**9)
    batched = enumerate_designs(DesignProblem(Y, mode, lam), 3, batch_above=0)
    assert batched.proven_optimal and plain.proven_optimal
    assert batched.best.objective == pytest.approx(plain.best.objective, rel=1e-9)
    assert batched.n_solved <= plain.n_solved


@pytest.mark.parametrize("mode", MODES)
def test_mip_enumeration_and_pruned_search_agree(mode):
    """Three solvers on the same cases (C(N, K) <= 5,000): SCIP's MIP at gap 0, plain best-first
    enumeration, and the search with batched bounds; same set (up to exact ties) and objective."""
    from synthcontrol.solvers.syndes_mip import solve_design_mip
    for seed, (N, K, lam) in enumerate([(8, 2, 0.0), (9, 3, 0.2), (10, 3, 0.0)]):
        Y = _panel(20 + seed, N=N, T=14)
        plain = enumerate_designs(DesignProblem(Y, mode, lam), K, batch_above=10**9)
        pruned = enumerate_designs(DesignProblem(Y, mode, lam), K, batch_above=0)
        mip = solve_design_mip(Y, K, mode, lam, gap_limit=0.0, time_limit=None)
        assert plain.proven_optimal and pruned.proven_optimal and mip.proven_optimal
        for other in (pruned.best.objective, mip.objective):
            assert other == pytest.approx(plain.best.objective, rel=1e-7)
        p = DesignProblem(Y, mode, lam)
        assert p.value(mip.treated).objective == pytest.approx(plain.best.objective, rel=1e-7)


def test_parallel_exact_search_gives_the_same_proven_design():
    Y = _panel(30, N=14, T=16)
    for mode in ("two_way_global", "one_way_global"):
        one = enumerate_designs(DesignProblem(Y, mode, 0.1), 4)
        two = enumerate_designs(DesignProblem(Y, mode, 0.1), 4, n_jobs=2)
        assert one.proven_optimal and two.proven_optimal
        assert two.best.treated == one.best.treated
        assert two.best.objective == pytest.approx(one.best.objective, rel=1e-12)


def test_exact_search_refuses_an_enumeration_it_cannot_finish():
    df = _long(_panel(31, N=8, T=10))
    with pytest.raises(sc.SpecificationError, match="would enumerate 56 treated sets"):
        sc.SyntheticDesign(K=3, solver="exact", max_sets=50).fit(df, unit="unit", time="time", outcome="y")
