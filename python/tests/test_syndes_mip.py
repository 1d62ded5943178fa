"""SYNDES design MIPs solved by SCIP (:mod:`synthcontrol.solvers.syndes_mip`).

Where the numbers come from: an independent brute force.  For every treated set of the requested
size the inner convex problem (the weights, given the set) is solved by cvxpy with the Clarabel
solver, written directly from the objectives of the brief (raw, unscaled, uncentred data); the best
set is the reference.  The MIP must find the same set and the same objective (1e-6 relative) when
run to optimality.  The other tests check properties that hold whatever the instance.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

pytest.importorskip("pyscipopt")
cp = pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")

from synthcontrol.errors import InfeasibleDesignError, SolverError, SpecificationError  # noqa: E402
from synthcontrol.solvers.syndes_mip import (MODES, DesignMIPResult, design_objective,  # noqa: E402
                                             solve_design_mip)

RTOL = 1e-6
LAMS = (0.0, 0.1)
# (seed, N, T, K): small factor-model panels
CASES = ((0, 6, 10, 1), (1, 7, 12, 2), (2, 8, 15, 3))


@functools.lru_cache(maxsize=None)
def panel(seed, N, T):
    """Two-factor model around a level of 10 with noise: y_it = 10 + f_t'l_i + e_it."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, 2))
    L = rng.uniform(0.3, 1.0, size=(N, 2))
    level = rng.uniform(8.0, 12.0, size=N)
    return level + F @ L.T + 0.3 * rng.normal(size=(T, N))


def _simplex(w):
    w = np.clip(np.asarray(w, dtype=float).ravel(), 0.0, None)
    return w / w.sum()


def inner_cvxpy(Y, mode, S, lam):
    """min over the weights for the treated set S by cvxpy + Clarabel, formulas as in the brief; the
    objective is recomputed in numpy from the (clipped, renormalised) weights."""
    T, N = Y.shape
    S = list(S)
    C = [j for j in range(N) if j not in S]
    K = len(S)
    YS, YC = Y[:, S], Y[:, C]
    if mode == "two_way_global":
        a, c = cp.Variable(K), cp.Variable(N - K)
        obj = cp.sum_squares(YS @ a - YC @ c) / T + lam * (cp.sum_squares(a) + cp.sum_squares(c))
        cons = [a >= 0, cp.sum(a) == 1, c >= 0, cp.sum(c) == 1]
        cp.Problem(cp.Minimize(obj), cons).solve(solver=cp.CLARABEL)
        av, cv = _simplex(a.value), _simplex(c.value)
        r = YS @ av - YC @ cv
        return float(r @ r) / T + lam * (float(av @ av) + float(cv @ cv))
    if mode == "one_way_global":
        c = cp.Variable(N - K)
        obj = cp.sum_squares(YS.mean(axis=1) - YC @ c) / T + lam * (1.0 / K + cp.sum_squares(c))
        cp.Problem(cp.Minimize(obj), [c >= 0, cp.sum(c) == 1]).solve(solver=cp.CLARABEL)
        cv = _simplex(c.value)
        r = YS.mean(axis=1) - YC @ cv
        return float(r @ r) / T + lam * (1.0 / K + float(cv @ cv))
    W = cp.Variable((K, N - K))
    obj = (sum(cp.sum_squares(YS[:, k] - YC @ W[k]) for k in range(K)) / (K * T)
           + (lam / K) * cp.sum_squares(W))
    cp.Problem(cp.Minimize(obj), [W >= 0, cp.sum(W, axis=1) == 1]).solve(solver=cp.CLARABEL)
    total = 0.0
    for k in range(K):
        w = _simplex(W.value[k])
        r = YS[:, k] - YC @ w
        total += float(r @ r) / (K * T) + (lam / K) * float(w @ w)
    return total


@functools.lru_cache(maxsize=None)
def brute(seed, N, T, K, mode, lam):
    """{treated set: objective} over every set of size K."""
    Y = panel(seed, N, T)
    return {S: inner_cvxpy(Y, mode, S, lam) for S in itertools.combinations(range(N), K)}


def _best(table, allowed=lambda S: True):
    S = min((S for S in table if allowed(S)), key=table.__getitem__)
    return S, table[S]


def _check_result(r, Y, mode, lam, K):
    """Structure of a result: sorted set, weights on the simplices, objective from the weights."""
    T, N = Y.shape
    assert isinstance(r, DesignMIPResult)
    assert list(r.treated) == sorted(set(r.treated)) and len(r.treated) == K == r.K
    C = [j for j in range(N) if j not in r.treated]
    S = list(r.treated)
    if mode == "per_unit":
        W = r.weights["W"]
        assert W.shape == (K, N)
        assert np.all(W >= 0) and np.allclose(W.sum(axis=1), 1.0) and np.all(W[:, S] == 0)
    else:
        a, c = r.weights["treated"], r.weights["control"]
        assert a.shape == c.shape == (N,)
        assert np.all(a >= 0) and np.all(c >= 0) and np.isclose(a.sum(), 1.0) and np.isclose(c.sum(), 1.0)
        assert np.all(a[C] == 0) and np.all(c[S] == 0)
        if mode == "one_way_global":
            assert np.allclose(a[S], 1.0 / K)
    assert r.objective == pytest.approx(design_objective(Y, mode, r.treated, r.weights, lam), rel=1e-12)
    assert r.bound <= r.objective
    assert 0.0 <= r.gap


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-N{c[1]}-T{c[2]}-K{c[3]}")
def test_matches_brute_force(case, lam, mode):
    seed, N, T, K = case
    Y = panel(seed, N, T)
    S_star, f_star = _best(brute(seed, N, T, K, mode, lam))
    # no warm start: SCIP finds the design itself and proves it
    r = solve_design_mip(Y, K, mode, lam, gap_limit=0.0, time_limit=None, warm_start=False)
    _check_result(r, Y, mode, lam, K)
    assert r.proven_optimal and r.status == "optimal" and r.stopped_by == "optimal"
    assert r.treated == S_star
    assert r.objective == pytest.approx(f_star, rel=RTOL)
    assert r.bound == pytest.approx(f_star, rel=1e-4)  # SCIP's bound, up to its tolerances
    # the default path (warm start from the cheap reference design) gives the same design
    r2 = solve_design_mip(Y, K, mode, lam, gap_limit=0.0, time_limit=None)
    assert r2.treated == S_star and r2.objective == pytest.approx(f_star, rel=RTOL)


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-N{c[1]}-T{c[2]}-K{c[3]}")
def test_two_way_at_most_one_way(case, lam):
    """a = 1/K on the treated is feasible for two-way: its optimum is at most one-way's (same data)."""
    seed, N, T, K = case
    Y = panel(seed, N, T)
    two = solve_design_mip(Y, K, "two_way_global", lam, gap_limit=0.0, time_limit=None)
    one = solve_design_mip(Y, K, "one_way_global", lam, gap_limit=0.0, time_limit=None)
    assert two.objective <= one.objective * (1 + 1e-9)
    # and set by set (brute force): the two-way objective of one-way's design is no larger
    assert brute(seed, N, T, K, "two_way_global", lam)[one.treated] <= one.objective * (1 + RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_budget_respected_and_optimal_among_affordable(mode):
    seed, N, T, K = CASES[2]
    lam = 0.1
    Y = panel(seed, N, T)
    costs = np.random.default_rng(7).uniform(1.0, 3.0, size=N)
    table = brute(seed, N, T, K, mode, lam)
    S_free, _ = _best(table)
    # a budget that the unconstrained optimum exceeds, but that some sets meet
    cost = {S: float(costs[list(S)].sum()) for S in table}
    budget = float(np.median(sorted(cost.values())))
    if cost[S_free] <= budget:
        budget = cost[S_free] - 1e-3
    S_star, f_star = _best(table, lambda S: cost[S] <= budget)
    assert S_star != S_free  # the budget binds
    r = solve_design_mip(Y, K, mode, lam, costs=costs, budget=budget, gap_limit=0.0, time_limit=None)
    _check_result(r, Y, mode, lam, K)
    assert costs[list(r.treated)].sum() <= budget
    assert r.treated == S_star and r.objective == pytest.approx(f_star, rel=RTOL)


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("case", CASES[:2], ids=lambda c: f"seed{c[0]}-N{c[1]}-T{c[2]}")
def test_two_way_K_none_is_best_over_K(case, lam):
    seed, N, T, _ = case
    Y = panel(seed, N, T)
    table = {}
    for K in range(1, N):
        table.update(brute(seed, N, T, K, "two_way_global", lam))
    S_star, f_star = _best(table)
    r = solve_design_mip(Y, None, "two_way_global", lam, gap_limit=0.0, time_limit=None)
    _check_result(r, Y, "two_way_global", lam, len(r.treated))
    # two-way is symmetric in (treated, control): the optimum or its mirror image (the smaller set)
    mirror = tuple(j for j in range(N) if j not in S_star)
    assert r.treated in (S_star, mirror)
    assert len(r.treated) <= N - len(r.treated)
    assert r.objective == pytest.approx(f_star, rel=RTOL)
    assert r.proven_optimal


def test_two_way_K_none_with_budget():
    """With a budget the symmetry is gone: the best affordable set of any size."""
    seed, N, T, _ = CASES[1]
    lam = 0.0
    Y = panel(seed, N, T)
    costs = np.arange(1.0, N + 1.0)
    table = {}
    for K in range(1, N):
        table.update(brute(seed, N, T, K, "two_way_global", lam))
    budget = 7.5
    S_star, f_star = _best(table, lambda S: costs[list(S)].sum() <= budget)
    r = solve_design_mip(Y, None, "two_way_global", lam, costs=costs, budget=budget, gap_limit=0.0,
                         time_limit=None)
    assert costs[list(r.treated)].sum() <= budget
    assert r.treated == S_star and r.objective == pytest.approx(f_star, rel=RTOL)


def test_infeasible_requests_raise():
    Y = panel(0, 6, 10)
    N = Y.shape[1]
    with pytest.raises(InfeasibleDesignError, match="no control unit"):
        solve_design_mip(Y, N, "two_way_global", 0.0)
    with pytest.raises(InfeasibleDesignError, match="no control unit"):
        solve_design_mip(Y, N + 3, "per_unit", 0.0)
    costs = np.array([5.0, 1.0, 2.0, 4.0, 3.0, 6.0])
    with pytest.raises(InfeasibleDesignError, match="2 cheapest units"):
        solve_design_mip(Y, 2, "one_way_global", 0.0, costs=costs, budget=2.9)
    with pytest.raises(InfeasibleDesignError, match="cheapest unit"):
        solve_design_mip(Y, None, "two_way_global", 0.0, costs=costs, budget=0.5)
    # exactly the cheapest pair is affordable: feasible, and it is the only choice
    r = solve_design_mip(Y, 2, "one_way_global", 0.0, costs=costs, budget=3.0, gap_limit=0.0, time_limit=None)
    assert r.treated == (1, 2)


def test_bad_arguments_raise():
    Y = panel(0, 6, 10)
    with pytest.raises(SpecificationError, match="K=None"):
        solve_design_mip(Y, None, "one_way_global", 0.0)
    with pytest.raises(SpecificationError, match="K=None"):
        solve_design_mip(Y, None, "per_unit", 0.0)
    with pytest.raises(SpecificationError, match="mode"):
        solve_design_mip(Y, 2, "two_way", 0.0)
    with pytest.raises(SpecificationError, match="K"):
        solve_design_mip(Y, 0, "per_unit", 0.0)
    with pytest.raises(SpecificationError, match="K"):
        solve_design_mip(Y, 2.0, "per_unit", 0.0)
    with pytest.raises(SpecificationError, match="lam"):
        solve_design_mip(Y, 2, "per_unit", -1.0)
    with pytest.raises(SpecificationError, match="costs and budget"):
        solve_design_mip(Y, 2, "per_unit", 0.0, costs=np.ones(6))
    with pytest.raises(SpecificationError, match="costs"):
        solve_design_mip(Y, 2, "per_unit", 0.0, costs=np.ones(5), budget=3.0)
    with pytest.raises(SpecificationError, match="finite"):
        Z = Y.copy()
        Z[0, 0] = np.nan
        solve_design_mip(Z, 2, "per_unit", 0.0)
    with pytest.raises(SpecificationError, match="incumbent"):
        solve_design_mip(Y, 2, "per_unit", 0.0, incumbent=(0, 1, 2))  # 3 units, K=2
    with pytest.raises(SpecificationError, match="incumbent"):
        solve_design_mip(Y, 2, "per_unit", 0.0, incumbent=[0, 9])


@pytest.mark.parametrize("mode", MODES)
def test_node_limit_returns_incumbent_with_bound(mode):
    seed, N, T, K = CASES[2]
    Y = panel(seed, N, T)
    r = solve_design_mip(Y, K, mode, 0.0, gap_limit=0.0, time_limit=None, node_limit=1)
    _check_result(r, Y, mode, 0.0, K)
    assert not r.proven_optimal
    assert r.stopped_by == "node_limit" and r.status == "nodelimit" and r.nodes <= 1
    assert r.bound <= r.objective
    # the incumbent is a real design: no better than the optimum
    assert r.objective >= _best(brute(seed, N, T, K, mode, 0.0))[1] * (1 - RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_no_design_found_raises_naming_the_limit(mode):
    Y = panel(2, 8, 15)
    with pytest.raises(SolverError, match="time limit"):
        solve_design_mip(Y, 3, mode, 0.0, time_limit=1e-6, warm_start=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lam", LAMS)
def test_invariant_to_scale_and_level(mode, lam):
    """Y * 1e6 + 1e7: the same design, the objective times 1e12 (lam scaled alike)."""
    seed, N, T, K = CASES[2]
    Y = panel(seed, N, T)
    r = solve_design_mip(Y, K, mode, lam, gap_limit=0.0, time_limit=None)
    big = solve_design_mip(Y * 1e6 + 1e7, K, mode, lam * 1e12, gap_limit=0.0, time_limit=None)
    assert big.treated == r.treated
    assert big.objective == pytest.approx(r.objective * 1e12, rel=RTOL)
    assert big.proven_optimal and big.bound <= big.objective
    assert big.scale == pytest.approx(r.scale * 1e6, rel=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_incumbent_is_used_and_proven(mode):
    seed, N, T, K = CASES[2]
    Y = panel(seed, N, T)
    S_star, f_star = _best(brute(seed, N, T, K, mode, 0.0))
    for inc in (S_star, (list(S_star), f_star), {"treated": S_star}):
        r = solve_design_mip(Y, K, mode, 0.0, gap_limit=0.0, time_limit=None, incumbent=inc, warm_start=False)
        assert r.treated == S_star and r.objective == pytest.approx(f_star, rel=RTOL)
        assert r.proven_optimal
        # SCIP had the design before its search started: the first incumbent is the optimum
        assert r.incumbents[0][1] == pytest.approx(f_star, rel=1e-6)
    # a worse incumbent does not stop SCIP from finding the optimum
    worst = max(brute(seed, N, T, K, mode, 0.0).items(), key=lambda kv: kv[1])[0]
    r = solve_design_mip(Y, K, mode, 0.0, gap_limit=0.0, time_limit=None, incumbent=worst, warm_start=False)
    assert r.treated == S_star and r.objective == pytest.approx(f_star, rel=RTOL)


def test_gap_limit_stops_early_with_valid_bound():
    seed, N, T, K = CASES[2]
    Y = panel(seed, N, T)
    f_star = _best(brute(seed, N, T, K, "two_way_global", 0.0))[1]
    r = solve_design_mip(Y, K, "two_way_global", 0.0, gap_limit=0.5, time_limit=None)
    assert r.stopped_by in ("gap_limit", "optimal")
    assert r.gap <= 0.5 * (1 + 1e-6) or r.proven_optimal
    assert r.bound <= f_star * (1 + 1e-6) <= r.objective * (1 + 2e-6)


@pytest.mark.parametrize("mode", MODES)
def test_exact_fit_is_found_and_proven(mode):
    """Unit 3 duplicates unit 1: with K = 1 treating one of them fits exactly (objective 0)."""
    Y = np.random.default_rng(5).normal(size=(10, 6))
    Y[:, 3] = Y[:, 1]
    for warm in (True, False):
        r = solve_design_mip(Y, 1, mode, 0.0, gap_limit=0.0, time_limit=None, warm_start=warm)
        assert r.treated in ((1,), (3,))
        assert r.objective == pytest.approx(0.0, abs=1e-20) and r.bound == 0.0 and r.gap == 0.0
        assert r.proven_optimal
