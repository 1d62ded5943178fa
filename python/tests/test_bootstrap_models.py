"""The cluster bootstrap refits each resample with the fit's own estimator (not always the simplex).

Each expected draw is rebuilt here from the same seeded stream: the resample's outcome matrix, then
the estimator solved directly (the penalized QP at the fitted lambda, ridge ASCM at the fitted
penalty) -- the bootstrap's draws must equal them."""
import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol.inference.bootstrap import _draws
from synthcontrol.solvers.ridge import fit_ridge_ascm
from synthcontrol.solvers.simplex import simplex_ls
from synthcontrol.solvers.vsearch import penalized_weights


@pytest.fixture(scope="module")
def roll():
    logs = sc.datasets.load("rollout_logs")
    return sc.panel_from_events(logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                                cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))


def _resamples(panel, seed, n_boot):
    src = panel.events
    rng = np.random.default_rng(seed)
    tr = panel.units.get_indexer(list(panel.treated_units))
    dn = panel.units.get_indexer(list(panel.donors))
    for _ in range(n_boot):
        counts = np.bincount(_draws(rng, src.n_clusters), minlength=src.n_clusters)
        M = src.matrix_from_sums(*src.sums(counts))
        y = np.nanmean(M[:, tr], axis=1)
        X = M[:, dn]
        yield y, X[:, ~np.isnan(X).any(axis=0)]


@pytest.mark.parametrize("kind", ["outcome-only", "penalized", "ridge"])
def test_each_draw_is_the_fits_own_estimator_on_the_resample(roll, kind):
    kw = {"outcome-only": {}, "penalized": dict(backend="penalized", penalized_lambda=0.3),
          "ridge": dict(augment="ridge", ridge_lambda=0.05)}[kind]
    res = sc.SyntheticControl(**kw).fit(roll)
    boot = res.infer("bootstrap", n_boot=4, seed=11)
    T0 = roll.T0
    post = np.asarray(roll.post)
    expected = []
    for y, X in _resamples(roll, 11, 4):
        if kind == "outcome-only":
            cf = X @ simplex_ls(X[:T0], y[:T0]).weights
        elif kind == "penalized":
            cf = X @ penalized_weights(y[:T0], X[:T0], 0.3).weights
        else:
            cf = fit_ridge_ascm(X, y, T0, lam=0.05).counterfactual
        expected.append(float((y[post] - cf[post]).mean()))
    np.testing.assert_allclose(boot.details["draws"], expected, rtol=0, atol=1e-12)
    assert boot.details["refit"] == {"outcome-only": "simplex",
                                     "penalized": "penalized fit at the fitted lambda 0.3",
                                     "ridge": "ridge ASCM at the fitted penalty 0.05"}[kind]


def test_penalized_and_simplex_draws_differ(roll):
    """The check above can fail: the penalized draws are not the simplex ones."""
    a = sc.SyntheticControl().fit(roll).infer("bootstrap", n_boot=4, seed=11).details["draws"]
    b = sc.SyntheticControl(backend="penalized", penalized_lambda=0.3).fit(roll).infer(
        "bootstrap", n_boot=4, seed=11).details["draws"]
    assert np.max(np.abs(np.asarray(a) - np.asarray(b))) > 1e-4
