"""The compiled active-set solver of SCPI's conic programmes against an independent conic solver
(Clarabel through cvxpy, tolerances 1e-10) on random instances of several shapes: more donors than
periods (singular Gram), fewer, large and small radii, many free weights.  Tolerance: 1e-7 relative
to the objective's scale (the conic solver's own accuracy; the kernel's answers carry a KKT
certificate of ~1e-12)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from synthcontrol.solvers import ballsimplex

cp = pytest.importorskip("cvxpy")

if not ballsimplex.available():
    if os.environ.get("CI"):  # CI builds the package with a compiler: a missing kernel is a failure
        raise RuntimeError("the compiled SCPI kernel (synthcontrol.solvers._ballsimplex) is not available")
    pytestmark = pytest.mark.skip(reason="the compiled kernel is not built (no C compiler at install time)")


def _instance(rng, J, r, free):
    Mt = rng.normal(size=(J, r))
    lam0 = np.zeros(J)
    idx = rng.choice(J, size=free, replace=False)
    lam0[idx] = rng.dirichlet(np.ones(free)) * rng.uniform(0.3, 1.0)
    m = lam0.sum()
    # a ball through M lam0 (lam0 on its boundary, as in SCPI), random centre
    g = rng.normal(size=r) * rng.choice([0.05, 0.5, 3.0])
    a = Mt.T @ lam0 + g
    R = np.linalg.norm(g)
    return Mt, a, R, m, lam0


def _cvx(Mt, a, R, m, c):
    J = Mt.shape[0]
    x = cp.Variable(J)
    prob = cp.Problem(cp.Minimize(c @ x), [x >= 0, cp.sum(x) == m, cp.norm(Mt.T @ x - a) <= R])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8)
    return prob.value


@pytest.mark.parametrize("J,r,free", [(38, 19, 3), (20, 20, 5), (12, 6, 2), (30, 10, 8), (8, 8, 8),
                                       (25, 12, 1), (40, 15, 1)])
def test_kernel_equals_conic_solver(J, r, free):
    rng = np.random.default_rng(J * 100 + r)
    for _ in range(6):
        Mt, a, R, m, lam0 = _instance(rng, J, r, free)
        C = rng.normal(size=(4, J))
        val, status, kkt = ballsimplex.solve_batch(Mt, a[None, :], np.array([R]), m, lam0, C)
        for o in range(len(C)):
            ref = _cvx(Mt, a, R, m, C[o])
            if status[0, o] == 0:
                assert kkt[0, o] < 1e-9
                assert val[0, o] == pytest.approx(ref, abs=1e-7 * (1 + np.abs(C[o]).max()))
            else:  # the caller falls back to the conic solver: only allowed to be rare
                assert status[0, o] in (2, 3, 4, 5)
        assert (status == 0).mean() >= 0.75


def test_scpi_kernel_equals_clarabel_path(smoking):
    import synthcontrol as sc
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    res = sc.SyntheticControl().fit(p)
    a = res.scpi(sims=40, seed=2)
    info = a.details["in_sample_solver"]
    assert info["programmes_kernel"] == 40 * 26 and info["programmes_conic"] == 0
    assert info["max_kkt_violation"] < 1e-9
    b = res.scpi(sims=40, seed=2, solver="conic")
    assert b.details["in_sample_solver"]["solver"].startswith("Clarabel")
    assert np.abs(a.details["draws_lower"] - b.details["draws_lower"]).max() < 1e-5
    assert np.abs(a.details["draws_upper"] - b.details["draws_upper"]).max() < 1e-5


def test_uncertified_programmes_fall_back_to_the_conic_solver(smoking, monkeypatch):
    import synthcontrol as sc
    import synthcontrol.solvers.ballsimplex as bs
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    res = sc.SyntheticControl().fit(p)
    good = res.scpi(sims=20, seed=4)
    real = bs.solve_batch

    def flaky(*args, **kw):
        val, status, kkt = real(*args, **kw)
        status[::3, 5] = 5  # pretend the iteration cap hit some programmes
        val[::3, 5] = -1e9  # ... with garbage values, which must not survive
        return val, status, kkt
    monkeypatch.setattr(bs, "solve_batch", flaky)
    bad = res.scpi(sims=20, seed=4)
    assert bad.details["in_sample_solver"]["programmes_conic"] == 7
    assert np.abs(bad.details["draws_lower"] - good.details["draws_lower"]).max() < 1e-5
    assert np.abs(bad.details["draws_upper"] - good.details["draws_upper"]).max() < 1e-5


def _factor_panel(seed, N, T0, T1):
    import pandas as pd
    import synthcontrol as sc
    rng = np.random.default_rng(seed)
    T = T0 + T1
    F = np.zeros((T, 3))
    for t in range(1, T):
        F[t] = 0.7 * F[t - 1] + rng.normal(size=3)
    lam = rng.dirichlet(np.ones(3), size=N) * 3
    Y = F @ lam.T + rng.normal(size=(T, N)) + 5
    units = [f"u{i}" for i in range(N)]
    df = pd.DataFrame({"unit": np.repeat(units, T), "t": np.tile(np.arange(T), N), "y": Y.T.ravel()})
    return sc.Panel(df, unit="unit", time="t", outcome="y", treated="u0", treatment_time=T0)


def test_vertex_starts_and_short_pre_periods_match_clarabel():
    """Panels where a single weight exceeds rho (the start is a vertex on the sphere) and where
    T0 is short (a low-rank Gram): every programme certified by the kernel, equal to Clarabel's."""
    import synthcontrol as sc
    for seed, (N, T0, T1) in enumerate([(60, 15, 5), (39, 10, 12), (12, 30, 6)]):
        res = sc.SyntheticControl().fit(_factor_panel(seed, N, T0, T1))
        a = res.scpi(sims=30, seed=seed)
        info = a.details["in_sample_solver"]
        assert info["programmes_conic"] == 0 and info["max_kkt_violation"] < 1e-9
        b = res.scpi(sims=30, seed=seed, solver="conic")
        scale = 1 + np.abs(a.details["draws_upper"]).max()
        assert np.abs(a.details["draws_lower"] - b.details["draws_lower"]).max() < 1e-6 * scale
        assert np.abs(a.details["draws_upper"] - b.details["draws_upper"]).max() < 1e-6 * scale
