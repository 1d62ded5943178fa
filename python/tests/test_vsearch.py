"""The V (predictor-weight) search: exact pieces, bounds and the backends (issue #4).

Where the numbers come from: lower bounds are outcome-only simplex fits (validated against R quadprog
elsewhere); the tie-broken inner solve is checked here against cvxpy + Clarabel with the tie made
explicit as an equality constraint; Synth's and MSCMT's losses are the recorded R numbers in
``../shared/reference`` (prop99_synth.json, basque_synth.json, mscmt.json).
"""
from __future__ import annotations

import numpy as np
import pytest

from synthcontrol.solvers.simplex import simplex_ls
from synthcontrol.solvers.vsearch import VProblem, penalized_fit, solve_bilevel, v_choices


def _instance(seed, P=4, J=9, T=10, outside=False):
    """A random V problem; ``outside``: the treated unit outside the donors' range on every
    predictor (no exact-match corner: the optimum is a non-degenerate KKT point)."""
    rng = np.random.default_rng(seed)
    Z0 = rng.normal(size=(T, J)).cumsum(axis=0) + rng.normal(size=J)
    Z1 = Z0 @ rng.dirichlet(np.ones(J)) + 0.5 * rng.normal(size=T)
    # predictors: some outcome summaries and some unrelated covariates
    X0 = np.vstack([Z0[: T // 2].mean(axis=0), Z0[T // 2:].mean(axis=0)]
                   + [rng.normal(size=J) for _ in range(P - 2)])
    X1 = np.concatenate(([Z1[: T // 2].mean(), Z1[T // 2:].mean()], rng.normal(size=P - 2)))
    if outside:
        X1 = X0.max(axis=1) + 0.3
        X1[::2] = X0[::2].min(axis=1) - 0.3
    return X1, X0, Z1, Z0


@pytest.mark.parametrize("seed", range(12))
def test_auto_beats_random_v_and_bounds_are_ordered(seed):
    """Property: ``auto`` is never worse than the best of 200 random V's (each solved with the same
    exact inner problem), and lower bound <= loss_v, with bound_gap their difference."""
    X1, X0, Z1, Z0 = _instance(seed, P=3 + seed % 3, J=6 + seed % 7, T=8 + seed % 5)
    fit = solve_bilevel(X1, X0, Z1, Z0, backend="auto", seed=seed)
    prob = VProblem(X1, X0, Z1, Z0)
    rng = np.random.default_rng(1000 + seed)
    best_random = min(prob.value(rng.dirichlet(np.ones(len(X1))))[0] for _ in range(200))
    assert fit.loss_v <= best_random * (1 + 1e-9) + 1e-12
    # the global lower bound is a valid bound: below every V's loss, and at least the outcome-only one
    assert fit.lower_bound <= best_random * (1 + 1e-9) + 1e-12
    assert fit.lower_bound <= fit.loss_v * (1 + 1e-9) + 1e-15
    assert fit.lower_bound >= fit.outcome_only_bound * (1 - 1e-12)
    assert fit.bound_gap == pytest.approx(max(0.0, fit.loss_v - fit.lower_bound), abs=1e-12)
    assert fit.outcome_only_bound == pytest.approx(simplex_ls(Z0, Z1).ssr / len(Z1), rel=1e-12)
    # the weights are feasible and (up to the reported inner gap) optimal for the V found
    assert abs(fit.w.sum() - 1) < 1e-12 and (fit.w >= 0).all()
    assert abs(fit.v.sum() - 1) < 1e-12 and (fit.v >= 0).all()
    assert fit.inner_gap_rel < 1e-9 and fit.inner_optimal


@pytest.mark.parametrize("seed", range(6))
def test_certified_optimum_matches_a_fine_grid(seed):
    """Two predictors: V = (a, 1 - a) is one number, so a grid of 4001 values (plus the exact inner
    solve at each) finds the bilevel optimum to grid accuracy.  The certified answer must be no
    worse than the grid, and its proven lower bound no higher than the grid's best.  Tolerance 1e-6
    relative: at a corner V the grid's inner solve is the eps-regularised one (eps = 1e-6), whose W
    may miss the matched predictor by O(eps) and so score up to ~1e-6 below the exact corner value
    (the certified answer is the exact corner, re-solved with the match imposed)."""
    X1, X0, Z1, Z0 = _instance(100 + seed, P=2, J=5 + seed % 3, T=7)
    if seed % 2:  # push the treated unit outside the donors' range on one predictor
        X1 = X1.copy()
        X1[1] = X0[1].max() + 0.3
    fit = solve_bilevel(X1, X0, Z1, Z0, backend="auto", seed=seed)
    prob = VProblem(X1, X0, Z1, Z0)
    grid = min(prob.value(np.array([a, 1 - a]))[0] for a in np.linspace(0, 1, 4001))
    assert fit.bound_method in ("global (corners + MIQP)", "lp-certificate")
    assert fit.lower_bound <= grid * (1 + 1e-6) + 1e-12
    assert fit.loss_v <= grid * (1 + 1e-6) + 1e-12
    assert fit.attained and fit.bound_gap <= 1e-9 * fit.lower_bound


def test_global_bound_is_optional():
    """certify=False: the search alone, bounded by the outcome-only optimum."""
    X1, X0, Z1, Z0 = _instance(4, P=3, J=7, T=9)
    fit = solve_bilevel(X1, X0, Z1, Z0, certify=False)
    assert fit.global_bound is None and fit.bound_method in ("outcome-only", "lp-certificate")
    assert fit.lower_bound == fit.outcome_only_bound


def test_inner_solve_breaks_ties_toward_the_outcome_fit():
    """At a corner V = e_k the lower level has a whole face of minimisers; the inner solve must return
    the one with the best outcome fit (checked against cvxpy with the tie as a constraint)."""
    cp = pytest.importorskip("cvxpy")
    X1, X0, Z1, Z0 = _instance(5, P=4, J=10, T=12)
    prob = VProblem(X1, X0, Z1, Z0)
    for k in range(4):
        v = np.eye(4)[k]
        w = prob.inner(v)
        f_star = simplex_ls(X0[k:k + 1], X1[k:k + 1]).ssr  # the lower level's optimum
        W = cp.Variable(10)
        cons = [W >= 0, cp.sum(W) == 1, cp.sum_squares(X1[k] - X0[k] @ W) <= f_star + 1e-9]
        if f_star < 1e-12:
            cons[-1] = X0[k] @ W == X1[k]
        ref = cp.Problem(cp.Minimize(cp.sum_squares(Z1 - Z0 @ W)), cons)
        ref.solve(solver=cp.CLARABEL)
        assert prob.loss_v(w) <= ref.value / len(Z1) * (1 + 1e-6) + 1e-9
        assert prob.inner_gap(v, w) <= 1e-9 * max(1.0, float(X1 @ X1))


def test_certificate_short_circuits_when_the_bound_is_attained():
    """Predictors = the fit-period outcomes: equal V reproduces the upper level, the LP proves it,
    the search stops at the lower bound with gap exactly 0."""
    rng = np.random.default_rng(3)
    Z0 = rng.normal(size=(12, 8)).cumsum(axis=0)
    Z1 = Z0 @ rng.dirichlet(np.ones(8)) + 0.3 * rng.normal(size=12)
    fit = solve_bilevel(Z1, Z0, Z1, Z0, backend="auto")
    assert fit.attained and fit.bound_gap == 0.0
    assert fit.n_evals == 0  # no search was needed
    assert fit.loss_v == pytest.approx(fit.lower_bound, rel=1e-12)


def test_backends_are_seeded_and_deterministic():
    X1, X0, Z1, Z0 = _instance(7, P=4, J=8, T=10)
    for backend in ("auto", "mscmt", "malo"):
        kw = {"de_maxiter": 10} if backend == "mscmt" else {}
        a = solve_bilevel(X1, X0, Z1, Z0, backend=backend, seed=3, **kw)
        b = solve_bilevel(X1, X0, Z1, Z0, backend=backend, seed=3, **kw)
        assert np.array_equal(a.w, b.w) and np.array_equal(a.v, b.v)
        assert a.lower_bound <= a.loss_v * (1 + 1e-12)


def test_v_choices_support_the_weights():
    """Both canonical V's make the returned W optimal for the lower level (KKT within tolerance)."""
    X1, X0, Z1, Z0 = _instance(11, P=4, J=9, T=10)
    fit = solve_bilevel(X1, X0, Z1, Z0, backend="malo")
    prob = VProblem(X1, X0, Z1, Z0)
    v1, v2 = v_choices(prob, fit.w)
    assert v1 is not None and v2 is not None
    for v in (v1, v2):
        assert abs(v.sum() - 1) < 1e-9 and (v >= 0).all()
        sv = np.sqrt(v)
        best = simplex_ls(sv[:, None] * X0, sv * X1).ssr
        assert prob.loss_w(v, fit.w) <= best + 1e-6 * max(1.0, float(X1 @ X1))
    assert fit.v_agreement == pytest.approx(float(np.abs(v1 - v2).max()), abs=1e-12)
    assert v2.min() >= v1.min() - 1e-12  # max-order really maximises the smallest weight


def test_penalized_reduces_to_the_predictor_fit_and_to_nearest_neighbour():
    """lambda = 0 is the plain predictor fit; a huge lambda puts all weight on the donor nearest the
    treated unit in predictor space (Abadie & L'Hour 2021, their limits)."""
    X1, X0, Z1, Z0 = _instance(2, P=5, J=9, T=10)
    w0, _, _ = penalized_fit(X1, X0, Z1, Z0, lambdas=[0.0])
    assert np.allclose(w0, simplex_ls(X0, X1).weights, atol=1e-10)
    wbig, _, _ = penalized_fit(X1, X0, Z1, Z0, lambdas=[1e6])
    nearest = int(np.argmin(((X0 - X1[:, None]) ** 2).sum(axis=0)))
    assert wbig[nearest] == pytest.approx(1.0, abs=1e-9)
    # against cvxpy at an intermediate lambda
    cp = pytest.importorskip("cvxpy")
    lam = 0.7
    wl, _, _ = penalized_fit(X1, X0, Z1, Z0, lambdas=[lam])
    d = ((X0 - X1[:, None]) ** 2).sum(axis=0)
    W = cp.Variable(9)
    obj = cp.sum_squares(X1 - X0 @ W) + lam * d @ W
    ref = cp.Problem(cp.Minimize(obj), [W >= 0, cp.sum(W) == 1])
    ref.solve(solver=cp.CLARABEL)
    ours = float(((X1 - X0 @ wl) ** 2).sum() + lam * d @ wl)
    assert ours <= ref.value + 1e-8 * max(1.0, abs(ref.value))


def test_vproblem_rejects_bad_shapes():
    with pytest.raises(ValueError, match="predictors"):
        VProblem(np.ones(3), np.ones((4, 5)), np.ones(6), np.ones((6, 5)))
    with pytest.raises(ValueError, match="outcomes"):
        VProblem(np.ones(4), np.ones((4, 5)), np.ones(6), np.ones((6, 4)))
    with pytest.raises(ValueError, match="backend"):
        solve_bilevel(np.ones(2), np.ones((2, 3)), np.ones(4), np.ones((4, 3)), backend="genoud")


def test_a_scip_failure_falls_back_to_the_outcome_only_bound(monkeypatch):
    """SCIP can fail numerically ("error in LP solver"); the fit must not crash: it reports the
    failure and keeps the (always valid) outcome-only bound."""
    from synthcontrol.solvers import global_bound

    def boom(*a, **k):
        raise RuntimeError("SCIP: error in LP solver!")

    monkeypatch.setattr(global_bound, "nondegenerate_bound", boom)
    X1, X0, Z1, Z0 = _instance(8, P=3, J=7, T=9)
    X1 = X0.max(axis=1) + 0.2  # no exact-match corner: the LP certificate cannot settle it
    fit = solve_bilevel(X1, X0, Z1, Z0)
    assert fit.global_bound is not None and fit.global_bound.status.startswith("unavailable: SCIP failed")
    assert fit.bound_method == "outcome-only" and fit.lower_bound == fit.outcome_only_bound
    assert fit.lower_bound <= fit.loss_v


def test_non_degenerate_optimum_is_bounded_tightly():
    """Treated unit outside the donors' range on every predictor: no corner can match, the optimum is
    a non-degenerate KKT point, and the MIQP bound must come within 1e-4 (relative) of the answer
    (SCIP's 1e-6 feasibility tolerance limits it; measured 2e-6 to 1.2e-5 on such instances)."""
    X1, X0, Z1, Z0 = _instance(9, P=4, J=10, T=12)
    X1 = X0.max(axis=1) + 0.3
    X1[::2] = X0[::2].min(axis=1) - 0.3
    fit = solve_bilevel(X1, X0, Z1, Z0)
    assert fit.bound_method == "global (corners + MIQP)"
    assert fit.lower_bound > fit.outcome_only_bound
    assert fit.bound_gap <= 1e-4 * fit.lower_bound
    prob = VProblem(X1, X0, Z1, Z0)
    rng = np.random.default_rng(0)
    assert min(prob.value(rng.dirichlet(np.ones(4)))[0] for _ in range(200)) >= fit.lower_bound
