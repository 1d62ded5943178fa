"""The penalized backend (Abadie & L'Hour 2021) against an independent solve of the same objective.

Expected numbers come from cvxpy with the Clarabel interior-point solver on the same predictors
(``||X1 - X0 W||^2 + lambda sum_j W_j ||X1 - X0_j||^2`` on the simplex), never from our kernel.  The
objective is invariant to rescaling X (lambda is dimensionless), so cvxpy solves it on X divided by
its largest entry, which keeps Clarabel's absolute tolerances meaningful; weights agree to 1e-6.
"""
import warnings

import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.solvers.vsearch import (PENALIZED_LAMBDAS, holdout_split, penalized_certificate,
                                          penalized_fit, penalized_weights, pensynth_lambdas)

cp = pytest.importorskip("cvxpy")

LAMBDAS = [0.001, 0.01, 0.1, 1.0, 10.0]
ADH = dict(covariates=["lnincome", "retprice", "age15to24", "beer"], predictor_window=(1980, 1988),
           outcome_lags=[1975, 1980, 1988])


@pytest.fixture(scope="module")
def panel():
    return sc.Panel(sc.datasets.load("prop99"), unit="state", time="year", outcome="cigsale",
                    treated="California", treatment_time=1989)


def independent(x1, X0, lam):
    """cvxpy + Clarabel on the rescaled problem (same minimiser)."""
    s = float(np.abs(X0).max())
    x1, X0 = x1 / s, X0 / s
    d = ((X0 - x1[:, None]) ** 2).sum(axis=0)
    w = cp.Variable(X0.shape[1], nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x1 - X0 @ w) + lam * (d @ w)), [cp.sum(w) == 1])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-13, tol_gap_rel=1e-13, tol_feas=1e-13)
    assert prob.status == "optimal"
    return np.clip(w.value, 0, None) / np.clip(w.value, 0, None).sum()


def design(panel, with_covariates):
    est = sc.SyntheticControl(backend="penalized", **(ADH if with_covariates else {}))
    if with_covariates:
        X1s, X0s, _ = est.predictors(panel).scaled()
        return X1s.to_numpy(float), X0s.to_numpy(float)
    T0 = panel.T0
    return np.asarray(panel.y_treated, float)[:T0], np.asarray(panel.X_donors, float)[:T0]


@pytest.mark.parametrize("with_covariates", [False, True], ids=["outcomes", "covariates"])
@pytest.mark.parametrize("lam", LAMBDAS)
def test_fixed_lambda_matches_an_independent_solve(panel, with_covariates, lam):
    res = sc.SyntheticControl(backend="penalized", penalized_lambda=lam,
                              **(ADH if with_covariates else {})).fit(panel)
    x1, X0 = design(panel, with_covariates)
    ref = independent(x1, X0, lam)
    w = res.weights.to_numpy()
    assert np.max(np.abs(w - ref)) <= 1e-6
    d = res.diagnostics
    assert d["lambda"] == lam and d["penalized_cv"] is None and d["certified"] is True
    # the KKT certificate: a duality gap at rounding level of the objective
    assert d["duality_gap"] <= 1e-9 * d["penalized_objective"]
    # sparse: a vertex of the (K + 1)-dimensional problem has at most K + 1 donors
    assert np.count_nonzero(w) <= x1.shape[0] + 1
    # and a perturbed answer fails the same certificate (the check can fail)
    bad = w.copy()
    i, j = int(np.argmax(bad)), int(np.argmin(bad))
    bad[i] -= 0.05
    bad[j] += 0.05
    assert not penalized_certificate(x1, X0, bad, lam)[3]


def test_the_leave_one_out_rule_matches_a_brute_force_with_the_independent_solver(panel):
    """The paper's rule: each donor predicted from the others, scored on its post-period outcomes."""
    x1, X0 = design(panel, True)
    Yd = np.asarray(panel.X_donors, float)
    P = Yd[panel.T0:]
    grid = [0.003, 0.03, 0.3, 3.0]
    w, lam, table = penalized_fit(x1, X0, cv="loo", donor_post=P, lambdas=grid)
    J = X0.shape[1]
    ref = []
    for g in grid:
        sse = 0.0
        for j in range(J):
            rest = np.delete(np.arange(J), j)
            wj = independent(X0[:, j], X0[:, rest], g)
            r = P[:, j] - P[:, rest] @ wj
            sse += float(r @ r)
        ref.append(sse / P.size)
    assert [t[0] for t in table] == grid
    np.testing.assert_allclose([t[1] for t in table], ref, rtol=1e-6)
    assert lam == grid[int(np.argmin(ref))]
    np.testing.assert_allclose(w, independent(x1, X0, lam), atol=1e-6)


def test_lambda_zero_is_the_limit_from_above(panel):
    """With 38 donors and 7 predictors the plain predictor fit has many solutions; lambda = 0 reports
    the limit lambda -> 0+ (the best fit with the smallest penalty), which a tiny lambda approaches."""
    x1, X0 = design(panel, True)
    w0 = penalized_weights(x1, X0, 0.0).weights
    w_small = independent(x1, X0, 1e-7)
    assert np.count_nonzero(w0) <= x1.shape[0] + 1
    assert np.max(np.abs(w0 - w_small)) <= 1e-4
    r0, rs = x1 - X0 @ w0, x1 - X0 @ w_small
    assert float(r0 @ r0) <= float(rs @ rs) + 1e-9


@pytest.mark.parametrize("cv", ["holdout", "loo", "pensynth"])
@pytest.mark.parametrize("with_covariates", [False, True], ids=["outcomes", "covariates"])
def test_every_rule_runs_with_and_without_covariates(panel, cv, with_covariates):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)
        res = sc.SyntheticControl(backend="penalized", penalized_cv=cv, **(ADH if with_covariates else {})).fit(panel)
    d = res.diagnostics
    assert d["penalized_cv"] == cv and d["certified"] is True and np.isfinite(res.att)
    assert d["lambda_pensynth"] == d["lambda"] / 2
    assert d["predictors"] == ("covariates" if with_covariates else "outcomes over the fitting periods")
    lams = [t[0] for t in d["lambda_path"]]
    assert d["lambda"] in lams and all(np.isfinite(t[1]) for t in d["lambda_path"])
    if cv == "pensynth":
        assert len(lams) == 100
    else:
        assert lams == list(PENALIZED_LAMBDAS)
    # the chosen lambda has the smallest score (ties to the smaller lambda)
    scores = [t[1] for t in d["lambda_path"]]
    assert scores[lams.index(d["lambda"])] == min(scores)


def test_holdout_without_covariates_scores_the_last_periods(panel):
    """The holdout split: weights on the first 70% of the fitting periods, scored on the rest."""
    T0 = panel.T0
    n_tr, n_va = holdout_split(T0)
    assert (n_tr, n_va) == (13, 6)
    y, Y = np.asarray(panel.y_treated, float), np.asarray(panel.X_donors, float)
    res = sc.SyntheticControl(backend="penalized").fit(panel)
    lam = res.diagnostics["lambda"]
    for g, score in res.diagnostics["lambda_path"][1:]:
        w = independent(y[:n_tr], Y[:n_tr], g)
        r = y[n_tr:T0] - Y[n_tr:T0] @ w
        assert score == pytest.approx(float(r @ r) / n_va, rel=1e-5, abs=1e-9)
    # the final weights are refitted on all the fitting periods at the chosen lambda
    np.testing.assert_allclose(res.weights.to_numpy(), penalized_weights(y[:T0], Y[:T0], lam).weights, atol=1e-12)


def test_pensynth_grid_and_scale():
    rng = np.random.default_rng(3)
    X0 = rng.normal(size=(6, 9))
    x1 = rng.normal(size=6)
    g = pensynth_lambdas(x1, X0)
    d = ((X0 - x1[:, None]) ** 2).sum(axis=0)
    assert len(g) == 100 and g[0] == pytest.approx(2e-11)
    assert g[-1] == pytest.approx(2 * np.sum(np.abs(x1 @ X0) / d))
    assert np.all(np.diff(np.log(g)) == pytest.approx(np.log(g[1] / g[0])))


def test_refits_keep_the_fitted_lambda(panel):
    res = sc.SyntheticControl(backend="penalized", penalized_lambda=0.05).fit(panel)
    r = res.model.refit(1, np.arange(2, 39))
    T0 = panel.T0
    Z = res.model.Z
    np.testing.assert_allclose(r.weights, independent(Z[:T0, 1], Z[:T0, 2:39], 0.05), atol=1e-6)
    assert r.certified
    assert "lambda 0.05" in res.model.description


@pytest.mark.parametrize("kwargs, match", [
    (dict(backend="penalized", penalized_cv="kfold"), "penalized_cv must be one of"),
    (dict(backend="penalized", penalized_lambda=-1), "penalized_lambda must be a finite number >= 0"),
    (dict(backend="penalized", penalized_lambda=float("inf")), "penalized_lambda must be a finite number"),
    (dict(backend="penalized", penalized_lambda=True), "penalized_lambda must be"),
    (dict(backend="penalized", penalized_cv="loo", penalized_lambda=0.1), "give one or the other"),
    (dict(penalized_cv="loo"), "penalized_cv is an option of backend='penalized'"),
    (dict(penalized_lambda=0.1), "penalized_lambda is an option of backend='penalized'"),
    (dict(backend="penalized", augment="ridge", fixedeff=True), "fixedeff=True is augsynth's option"),
])
def test_bad_options_are_refused(panel, kwargs, match):
    with pytest.raises(SpecificationError, match=match):
        sc.SyntheticControl(**kwargs).fit(panel)


def test_placebo_refits_are_penalized_fits(panel):
    """Each placebo gap comes from the penalized fit at the fitted lambda (not the simplex kernel's
    batched fast path, which is the outcome-only fit's): rebuilt here with the independent solver."""
    lam = 0.3
    res = sc.SyntheticControl(backend="penalized", penalized_lambda=lam).fit(panel)
    from synthcontrol.inference.placebo import placebo_gaps
    gaps = placebo_gaps(res)[0]
    Z = res.model.Z
    T0 = panel.T0
    for k in (1, 7, 20):
        D = [j for j in range(1, Z.shape[1]) if j != k]
        w = independent(Z[:T0, k], Z[:T0, D], lam)
        np.testing.assert_allclose(gaps.iloc[:, k].to_numpy(), Z[:, k] - Z[:, D] @ w, atol=1e-5)
    # and they differ from the outcome-only placebo gaps (the check can fail)
    plain = placebo_gaps(sc.SyntheticControl().fit(panel))[0]
    assert np.max(np.abs(gaps.iloc[:, 1:].to_numpy() - plain.iloc[:, 1:].to_numpy())) > 1e-2


def test_the_penalty_plot(panel):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = sc.SyntheticControl(backend="penalized", penalized_cv="loo").fit(panel)
    fig = res.plot("penalty")
    a1, a2 = fig.axes[:2]
    lams = [t[0] for t in res.diagnostics["lambda_path"]]
    assert len(a1.lines[0].get_xdata()) == len(lams)  # one point per grid value
    assert a2.get_ylabel() == "donor weight" and "loo rule" in a1.get_title()
    plt.close(fig)
    with pytest.raises(SpecificationError, match="lambda path of a penalized fit"):
        sc.SyntheticControl().fit(panel).plot("penalty")
    with pytest.raises(SpecificationError, match="lambda path of a penalized fit"):
        sc.SyntheticControl(backend="penalized", penalized_lambda=0.1).fit(panel).plot("penalty")
