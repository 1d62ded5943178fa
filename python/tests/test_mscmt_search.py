"""The mscmt search's pieces: the NNLS inner solve it compares V's with, and the shady-donor LP.

Expected values come from our exact active-set kernel (``VProblem.inner``, certified by its own KKT
certificate) and from brute force over many V's -- never from the code under test."""
import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.solvers.vsearch import VProblem, solve_bilevel, sunny_donors

ADH = dict(covariates={"lnincome": (1980, 1988), "retprice": (1980, 1988), "age15to24": (1980, 1988),
                       "beer": (1984, 1988)}, outcome_lags=[1975, 1980, 1988])


@pytest.fixture(scope="module")
def prop99():
    p = sc.Panel(sc.datasets.load("prop99"), unit="state", time="year", outcome="cigsale",
                 treated="California", treatment_time=1989)
    X1s, X0s, _ = sc.SyntheticControl(**ADH).predictors(p).scaled()
    T0 = p.T0
    return (X1s.to_numpy(float), X0s.to_numpy(float), np.asarray(p.y_treated, float)[:T0],
            np.asarray(p.X_donors, float)[:T0])


def _random_vs(P, n, seed=0):
    rng = np.random.default_rng(seed)
    return [VProblem.v_from_log(rng.uniform(-8, 0, P)) for _ in range(n)]


def test_nnls_inner_solve_equals_the_exact_kernel(prop99):
    prob = VProblem(*prop99)
    for v in _random_vs(prob.P, 200):
        w_fast = prob.inner_fast(v)
        w_exact = prob.inner(v)
        assert w_fast.min() >= 0 and w_fast.sum() == pytest.approx(1.0, abs=1e-12)
        # the same outcome loss (what the search compares) and the same weights
        assert prob.loss_v(w_fast) == pytest.approx(prob.loss_v(w_exact), rel=1e-7)
        assert np.max(np.abs(w_fast - w_exact)) <= 1e-6


def test_shady_donors_never_carry_weight(prop99):
    """The LP's claim: a shady donor gets no weight in the predictor fit for any V. Checked against
    the exact kernel at 2,000 random V's spread over [1e-8, 1] (log-uniform).  (The search's inner
    problem also breaks ties toward the outcome fit, where a shady donor can carry weight: that is
    why pruning is off by default and the answer is always re-solved on the whole pool.)"""
    X1, X0, _, _ = prop99
    sunny = sunny_donors(X1, X0)
    assert sunny is not None and 2 <= sunny.sum() < X0.shape[1]  # Prop 99: some donors are shady
    from synthcontrol.solvers.simplex import simplex_ls
    seen = np.zeros(X0.shape[1], dtype=bool)
    for v in _random_vs(X0.shape[0], 2000, seed=1):
        sv = np.sqrt(v)
        w = simplex_ls(sv[:, None] * X0, sv * X1).weights
        seen |= w > 1e-9
    assert not (seen & ~sunny).any()
    # and the LP is not vacuous: most sunny donors are seen in some fit
    assert seen[sunny].mean() > 0.5


def test_no_donor_is_shady_when_the_treated_unit_is_inside_the_hull():
    rng = np.random.default_rng(0)
    X0 = rng.normal(size=(3, 10))
    x1 = X0[:, :4].mean(axis=1)
    assert sunny_donors(x1, X0) is None
    x_out = X0.max(axis=1) + 1.0  # beyond every donor on every predictor
    s = sunny_donors(x_out, X0)
    assert s is not None and s.sum() < 10


@pytest.mark.parametrize("prune", [True, False])
def test_the_search_reports_weights_solved_on_the_whole_pool(prop99, prune):
    fit = solve_bilevel(*prop99, backend="mscmt", prune_shady=prune)
    prob = VProblem(*prop99)
    np.testing.assert_allclose(fit.w, prob.inner(fit.v), atol=1e-9)
    assert fit.inner_optimal and fit.lower_bound <= fit.loss_v
    assert fit.stages["n_sunny"] == (int(sunny_donors(prop99[0], prop99[1]).sum()) if prune else 38)


def test_prune_shady_is_an_option_of_the_mscmt_backend_only():
    p = sc.Panel(sc.datasets.load("prop99"), unit="state", time="year", outcome="cigsale",
                 treated="California", treatment_time=1989)
    with pytest.raises(SpecificationError, match="mscmt_prune_shady=True sets the 'mscmt' backend"):
        sc.SyntheticControl(mscmt_prune_shady=True, **ADH).fit(p)
    with pytest.raises(SpecificationError, match="mscmt_prune_shady must be True or False"):
        sc.SyntheticControl(backend="mscmt", mscmt_prune_shady="no", **ADH).fit(p)
    res = sc.SyntheticControl(backend="mscmt", mscmt_prune_shady=True, mscmt_maxiter=5, mscmt_popsize=3,
                              **ADH).fit(p)
    assert res.model.settings["mscmt_prune_shady"] is True
