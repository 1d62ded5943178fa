"""Tests for the exact simplex least-squares kernel ``synthcontrol.solvers.simplex``.

The kernel solves ``min_w ||y - X w||^2  s.t.  w >= 0, sum(w) = 1``.  This file checks it:

1. against an independent solver (cvxpy + CLARABEL at tight tolerances) on a few thousand random problems
   made by hypothesis: tall and wide (J = 2T, singular Gram) designs, duplicated and collinear donors,
   exact fits, a target equal to one donor, large and tiny scales, a single donor, small integers;
2. its certificates (simplex feasibility, ``kkt_violation``, ``duality_gap`` as a true bound, ``converged``);
3. the invariants of DESIGN.md (donor permutation, ``y -> a*y + b`` with ``X -> a*X + b``, a donor
   identical to the target) and the Gram-level entry point ``simplex_ls_gram``;
4. ``placebo_fits`` against separate ``simplex_ls`` calls, with ``targets`` and ``donor_mask``;
5. the Prop 99 gold-standard weights (R: quadprog + exact KKT polish, cross-checked with lsei::pnnls).

Conventions used in the tolerances.  The problem does not change if one constant is subtracted from ``y``
and from every column of ``X`` (because ``sum(w) = 1``), so accuracy is measured against the *centred*
scale ``scale = max(||y - m||, max_j ||x_j - m||)`` with ``m`` the mid-range of the data.  An SSR is
compared in units of ``scale**2``, a fitted vector ``X w`` in units of ``scale``.  The fitted vector is
unique even when the weights are not; weights are compared only when the solution is unique, through
``kappa = scale / sigma_min(X Z)`` (``Z`` an orthonormal basis of ``{d : sum(d) = 0}``; finite exactly
when the donors are affinely independent), the factor by which an error in ``X w`` can grow into an
error in ``w`` between two points of the simplex.  No test looks at timings.

The last section holds regression tests for kernel bugs found while writing this file (in the kernel
of commit 7a8eb0b): (a) the stopping tolerance grew with the *uncentred* Gram matrix, so data with a
common level far above their spread stopped at a non-optimal point that the certificate called
converged; (b) ``converged`` was reported True when ``max_iter`` cut the inner loop short; (c) an exact
copy of the target loses to a near-copy within ~sqrt(eps) * ||y||.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space

from synthcontrol.solvers.simplex import (
    SimplexFit,
    kkt_certificate,
    placebo_fits,
    simplex_ls,
    simplex_ls_gram,
)

from .conftest import need_file

try:  # the independent reference solver (test extra: cvxpy + clarabel)
    import cvxpy as cp

    _HAVE_CLARABEL = "CLARABEL" in cp.installed_solvers()
except ImportError:  # pragma: no cover - depends on the environment
    cp = None
    _HAVE_CLARABEL = False

needs_clarabel = pytest.mark.skipif(not _HAVE_CLARABEL,
                                    reason="cvxpy with the CLARABEL solver is not installed")

# --------------------------------------------------------------------------------------------------------
# Tolerances (relative to the centred scale defined in the module docstring).  Each also gets the
# rounding error of evaluating y - X w from the raw data (Scales.rnd, ssr_slack), which matters only
# when the spread of the data is negligible next to their level.
# --------------------------------------------------------------------------------------------------------
# CLARABEL is run on the centred problem divided by its largest entry, with gap/feasibility tolerances
# 1e-12 (1e-13 and below is more than it reliably reaches: it then reports "optimal_inaccurate").  Its
# weights are projected onto the simplex before use, so the reference is exactly feasible and its SSR
# is an upper bound on the optimum.
CLARABEL_TOL = 1e-12
# Our kernel is exact up to rounding, so its SSR may not exceed the reference's by more than rounding
# (measured: <= 3e-15 * scale**2 over thousands of problems).
OBJ_RTOL = 1e-11
# The reference stops at an SSR gap of ~1e-12 * scale**2, hence its fitted vector is only good to about
# sqrt(1e-12) = 1e-6 * scale when the optimal SSR is ~0 (measured: up to 7.5e-7).  Our fitted vector
# must match it to 2e-6 * scale, and must also satisfy the rigorous bound in assert_matches_reference.
FIT_RTOL = 2e-6
# Weights are compared only when kappa <= KAPPA_MAX ("unique" in a numerically meaningful sense), with
# the fitted-value tolerance divided by sigma_min(X Z), i.e. FIT_RTOL * kappa (at most 2e-3; measured
# differences are <= 2.5e-7 * kappa).
KAPPA_MAX = 1e3
# When the optimum is an exact fit, our residual must be tiny (measured ~1e-15 * scale).
EXACT_RTOL = 1e-10
# Feasibility and KKT targets of the kernel's certificate.
SUM_TOL = 1e-12
KKT_TOL = 1e-9
# Two runs of our own exact kernel (invariance tests) agree to rounding (measured: SSR 5e-15 * scale**2,
# fitted values 4e-12 * scale, weights 4e-13 * kappa); weights are compared with SELF_FIT_RTOL * kappa.
SELF_SSR_RTOL = 1e-12
SELF_FIT_RTOL = 1e-9

# Per-kind example counts: 10 kinds x (150 + 100) = 2,500 CLARABEL comparisons, plus ~1,250 problems in
# the certificate/invariance/placebo tests (~25 s for the whole file on two slow cores).
N_AGREE = 150
N_CERT = 100
N_INVARIANT = 200

EPS = np.finfo(float).eps
HYP = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------------------------------------
# Random problems
# --------------------------------------------------------------------------------------------------------
class Problem(NamedTuple):
    X: np.ndarray
    y: np.ndarray
    exact: bool  # True when y is known to be a convex combination of the columns (optimal SSR = 0)


KINDS = (
    "tall",  # T >= J + 1, generic: unique solution
    "wide",  # J = 2T: singular Gram matrix
    "duplicated",  # some donors repeated
    "collinear",  # one donor an affine combination (coefficients summing to 1) of the others
    "exact_fit",  # y a convex combination of a random subset of donors
    "y_is_column",  # y equal to one donor (sometimes duplicated)
    "large_scale",  # values ~1e3
    "tiny_scale",  # values ~1e-3
    "single_donor",  # J = 1
    "small_integers",  # entries in {-2..2}: ties, repeats and degenerate geometry
)


def _target(draw, rng, X):
    """A target near the donors' convex hull (possibly exactly in it) or an unrelated one."""
    T, J = X.shape
    spread = float(X.std()) or float(np.abs(X).max()) or 1.0
    if draw(st.booleans()):
        lam = rng.dirichlet(np.full(J, draw(st.sampled_from([0.2, 1.0]))))
        noise = draw(st.sampled_from([0.0, 1e-6, 1e-2, 0.3, 1.0, 3.0]))
        y = X @ lam + noise * spread * rng.standard_normal(T)
        return y, noise == 0.0
    return float(X.mean()) + 2.0 * spread * rng.standard_normal(T), False


@st.composite
def problems(draw, kind):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    exact = False
    if kind == "tall":
        J = draw(st.integers(2, 15))
        T = draw(st.integers(J + 1, J + 20))
        X = rng.standard_normal((T, J))
        y, exact = _target(draw, rng, X)
    elif kind == "wide":
        T = draw(st.integers(1, 10))
        X = rng.standard_normal((T, 2 * T))
        y, exact = _target(draw, rng, X)
    elif kind == "duplicated":
        J0 = draw(st.integers(1, 9))
        T = draw(st.integers(1, 25))
        base = rng.standard_normal((T, J0))
        cols = np.concatenate([np.arange(J0), rng.integers(0, J0, size=draw(st.integers(1, J0 + 1)))])
        rng.shuffle(cols)
        X = base[:, cols]
        y, exact = _target(draw, rng, base)
    elif kind == "collinear":
        J = draw(st.integers(3, 12))
        T = draw(st.integers(2, J + 15))
        X = rng.standard_normal((T, J))
        k = draw(st.integers(0, J - 1))
        a = rng.standard_normal(J - 1)
        a[-1] = 1.0 - a[:-1].sum()
        X[:, k] = np.delete(X, k, axis=1) @ a
        y, exact = _target(draw, rng, X)
    elif kind == "exact_fit":
        J = draw(st.integers(1, 15))
        T = draw(st.integers(1, 25))
        X = rng.standard_normal((T, J))
        S = rng.choice(J, size=draw(st.integers(1, J)), replace=False)
        y = X[:, S] @ rng.dirichlet(np.ones(len(S)))
        exact = True
    elif kind == "y_is_column":
        J = draw(st.integers(1, 15))
        T = draw(st.integers(1, 25))
        X = rng.standard_normal((T, J))
        j = draw(st.integers(0, J - 1))
        y = X[:, j].copy()
        if draw(st.booleans()):  # duplicate the matching donor somewhere
            X = np.insert(X, draw(st.integers(0, J)), y, axis=1)
        exact = True
    elif kind in ("large_scale", "tiny_scale"):
        J = draw(st.integers(1, 15))
        T = draw(st.integers(1, 25))
        unit = 1e3 if kind == "large_scale" else 1e-3
        X = unit * (rng.standard_normal((T, J)) + draw(st.sampled_from([0.0, 1.0])))
        y, exact = _target(draw, rng, X)
    elif kind == "single_donor":
        T = draw(st.integers(1, 20))
        unit = draw(st.sampled_from([1e-3, 1.0, 1e3]))
        X = unit * rng.standard_normal((T, 1))
        y = unit * rng.standard_normal(T)
    elif kind == "small_integers":
        T = draw(st.integers(1, 6))
        J = draw(st.integers(1, 8))
        X = rng.integers(-2, 3, size=(T, J)).astype(float)
        y = rng.integers(-2, 3, size=T).astype(float)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return Problem(X, y, exact)


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------
class Scales(NamedTuple):
    m: float  # a common centre: the mid-range of all the data
    scale: float  # the centred scale (see the module docstring)
    rnd: float  # bound on the rounding error of y - X @ w (w on the simplex) computed from the raw data
    T: int


def scales_of(X, y) -> Scales:
    lo, hi = min(X.min(), y.min()), max(X.max(), y.max())
    m = 0.5 * (lo + hi)
    scale = max(float(np.linalg.norm(y - m)), float(np.linalg.norm(X - m, axis=0).max()))
    T, J = X.shape
    # each entry of X @ w is a J-term sum with sum(|x_tj| w_j) <= max|X|: error <= ~J eps max|X|
    rnd = 4.0 * EPS * (J + 2) * np.sqrt(T) * max(float(np.abs(X).max()), float(np.abs(y).max()))
    return Scales(m, scale if scale > 0 else 1.0, rnd, T)


def ssr_slack(sc: Scales, *ssrs: float) -> float:
    """Rounding in SSR values computed from the raw data: 2 rnd ||r|| + rnd**2 + the sum's own rounding.

    It matters only when the spread of the data is tiny compared with their level (e.g. T = 1).
    """
    return sum(2.0 * sc.rnd * np.sqrt(max(v, 0.0)) + sc.rnd**2 + 4.0 * sc.T * EPS * max(v, 0.0) for v in ssrs)


def affine_sigma(X):
    """``sigma_min(X Z)``: the smallest ||X d|| over sum(d) = 0, ||d|| = 1 (0 if affinely dependent)."""
    T, J = X.shape
    if J == 1:
        return np.inf  # a single donor: the weight is always exactly 1
    if J - 1 > T:
        return 0.0
    return float(np.linalg.svd(X @ null_space(np.ones((1, J))), compute_uv=False).min())


def ssr_of(X, y, w):
    r = y - X @ w
    return float(r @ r)


def clarabel_weights(X, y):
    """Reference weights from cvxpy + CLARABEL, projected onto the simplex.

    The solver sees ``((X - m)/s, (y - m)/s)``: the same minimiser (shifting y and every donor by one
    constant is exact because sum(w) = 1), with entries in [-1, 1] so that its tolerances are relative.
    """
    m = scales_of(X, y).m
    s = max(float(np.abs(X - m).max()), float(np.abs(y - m).max())) or 1.0
    J = X.shape[1]
    w = cp.Variable(J)
    prob = cp.Problem(cp.Minimize(cp.sum_squares((X - m) / s @ w - (y - m) / s)), [w >= 0, cp.sum(w) == 1])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=CLARABEL_TOL, tol_gap_rel=CLARABEL_TOL,
               tol_feas=CLARABEL_TOL, tol_ktratio=1e-8)
    assert prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE), prob.status
    wr = np.clip(np.asarray(w.value, dtype=float).ravel(), 0.0, None)
    return wr / wr.sum()


def assert_on_simplex(w, J):
    assert w.shape == (J,)
    assert np.isfinite(w).all()
    assert w.min() >= 0.0, f"negative weight {w.min()}"
    assert abs(w.sum() - 1.0) <= SUM_TOL, f"weights sum to 1 + {w.sum() - 1.0:.3e}"


def assert_matches_reference(X, y, fit: SimplexFit, w_ref):
    """Objective, fitted values and (when unique) weights agree with the reference solution."""
    sc = scales_of(X, y)
    scale = sc.scale
    ssr_ref = ssr_of(X, y, w_ref)
    # 1. objective: ours is exact, the reference is feasible, so ours can only be lower (up to rounding)
    assert fit.ssr <= ssr_ref + OBJ_RTOL * scale**2 + ssr_slack(sc, fit.ssr, ssr_ref), (
        f"SSR {fit.ssr!r} above the reference {ssr_ref!r} by {(fit.ssr - ssr_ref) / scale**2:.3e} * scale^2")
    # 2. fitted values.  For feasible w, SSR(w) - SSR* >= ||X(w - w*)||^2, and SSR* >= SSR(ours) - gap, so
    #    ||X(w - w_ref)|| <= sqrt(SSR_ref - SSR + gap) + sqrt(gap)  (plus rounding).
    d_fit = float(np.linalg.norm(X @ (fit.weights - w_ref)))
    gap = max(fit.duality_gap, 0.0)
    slack = 1e-9 * scale + 2.0 * sc.rnd
    bound = np.sqrt(max(ssr_ref - fit.ssr, 0.0) + gap + slack**2) + np.sqrt(gap) + slack
    fit_tol = FIT_RTOL * scale + 2.0 * sc.rnd
    assert d_fit <= fit_tol, f"fitted values differ by {d_fit / scale:.3e} * scale"
    assert d_fit <= bound, f"fitted values differ by {d_fit:.3e} > the certified bound {bound:.3e}"
    # 3. weights, only when the solution is unique (kappa = scale / sigma <= KAPPA_MAX); between two simplex
    #    points ||w1 - w2|| <= ||X (w1 - w2)|| / sigma
    sigma = affine_sigma(X)
    if sigma * KAPPA_MAX >= scale:
        d_w = float(np.abs(fit.weights - w_ref).max())
        assert d_w <= fit_tol / sigma, f"weights differ by {d_w:.3e} (kappa {scale / sigma:.1f})"


def assert_self_agreement(X, y, w1, ssr1, w2, ssr2, a=1.0, sc2: Scales | None = None):
    """Two fits of the same problem agree to rounding.

    ``w2, ssr2`` may come from the mapped problem ``(a X + b, a y + b)`` whose ``scales_of`` is ``sc2``.
    """
    sc = scales_of(X, y)
    rnd2 = sc.rnd if sc2 is None else sc2.rnd / abs(a)  # the mapped problem's rounding, in original units
    ssr_tol = SELF_SSR_RTOL * sc.scale**2 + ssr_slack(sc, ssr1) + (ssr_slack(sc, ssr2) if sc2 is None
                                                                  else ssr_slack(sc2, ssr2) / a**2)
    assert abs(ssr2 / a**2 - ssr1) <= ssr_tol, f"SSR {ssr1!r} vs {ssr2 / a**2!r}"
    fit_tol = SELF_FIT_RTOL * sc.scale + 2.0 * (sc.rnd + rnd2)
    d_fit = float(np.linalg.norm(X @ (w1 - w2)))
    assert d_fit <= fit_tol, f"fitted values differ by {d_fit / sc.scale:.3e} * scale"
    sigma = affine_sigma(X)
    if sigma * KAPPA_MAX >= sc.scale:
        assert np.abs(w1 - w2).max() <= fit_tol / sigma, (w1, w2)


# --------------------------------------------------------------------------------------------------------
# 1. Agreement with an independent solver
# --------------------------------------------------------------------------------------------------------
@needs_clarabel
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=N_AGREE, **HYP)
@given(data=st.data())
def test_matches_clarabel(kind, data):
    X, y, exact = data.draw(problems(kind))
    fit = simplex_ls(X, y)
    assert_on_simplex(fit.weights, X.shape[1])
    assert_matches_reference(X, y, fit, clarabel_weights(X, y))
    sc = scales_of(X, y)
    if exact:  # optimum SSR is 0 and the kernel is exact
        assert np.sqrt(fit.ssr) <= EXACT_RTOL * sc.scale + sc.rnd, f"exact fit missed: SSR {fit.ssr!r}"
    same = np.all(X == y[:, None], axis=0)
    if same.any():  # a donor equal to the target takes all the weight (shared among its duplicates)
        assert fit.weights[same].sum() >= 1.0 - SUM_TOL, fit.weights
        assert fit.ssr == 0.0
    if X.shape[1] == 1:
        assert fit.weights.tolist() == [1.0]


# --------------------------------------------------------------------------------------------------------
# 2. Certificates
# --------------------------------------------------------------------------------------------------------
@needs_clarabel
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=N_CERT, **HYP)
@given(data=st.data())
def test_certificates(kind, data):
    X, y, _ = data.draw(problems(kind))
    J = X.shape[1]
    fit = simplex_ls(X, y)
    sc = scales_of(X, y)
    assert_on_simplex(fit.weights, J)
    assert fit.converged
    assert 0 <= fit.n_iter <= 10 * J + 50
    assert fit.kkt_violation < KKT_TOL
    assert fit.duality_gap >= 0.0
    # the reported SSR is the SSR of the reported weights
    assert abs(fit.ssr - ssr_of(X, y, fit.weights)) <= ssr_slack(sc, fit.ssr)
    # the duality gap is a valid bound on the distance to the optimum (the reference's SSR >= SSR*)
    ssr_ref = ssr_of(X, y, clarabel_weights(X, y))
    assert fit.ssr - ssr_ref <= fit.duality_gap + 1e-13 * sc.scale**2 + ssr_slack(sc, fit.ssr, ssr_ref)
    # kkt_certificate recomputes the same certificate from X alone
    ssr_c, kkt_c, gap_c = kkt_certificate(X, y, fit.weights)
    assert abs(ssr_c - fit.ssr) <= ssr_slack(sc, fit.ssr)
    assert kkt_c < KKT_TOL
    assert gap_c == pytest.approx(fit.duality_gap, rel=1e-6, abs=1e-12 * sc.scale**2)


@settings(max_examples=N_INVARIANT, **HYP)
@given(data=st.data(), kind=st.sampled_from(["tall", "wide", "duplicated", "small_integers"]))
def test_duality_gap_bounds_any_feasible_point(data, kind):
    """kkt_certificate on an arbitrary simplex point: its gap bounds SSR(w) - SSR* (convexity)."""
    X, y, _ = data.draw(problems(kind))
    J = X.shape[1]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = rng.dirichlet(np.full(J, 0.5))
    ssr, kkt, gap = kkt_certificate(X, y, w)
    best = simplex_ls(X, y)
    sc = scales_of(X, y)
    assert abs(ssr - ssr_of(X, y, w)) <= ssr_slack(sc, ssr)
    assert ssr - best.ssr <= gap + 1e-12 * sc.scale**2 + ssr_slack(sc, ssr, best.ssr)
    assert kkt >= 0.0 and gap >= 0.0


def test_kkt_certificate_flags_infeasible_and_suboptimal_points():
    # donors at (0,0), (1,1), (2,0); the target (1, 0.5) is inside the triangle:
    # w* = (1/4, 1/2, 1/4), SSR* = 0
    X = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 0.0]])
    y = np.array([1.0, 0.5])
    fit = simplex_ls(X, y)
    np.testing.assert_allclose(fit.weights, [0.25, 0.5, 0.25], rtol=0, atol=1e-15)
    assert fit.ssr <= 1e-30 and fit.kkt_violation < KKT_TOL
    _, kkt_sum, _ = kkt_certificate(X, y, 2.0 * fit.weights)  # sum(w) = 2
    assert kkt_sum >= 1.0
    _, kkt_neg, _ = kkt_certificate(X, y, np.array([-0.5, 1.0, 0.5]))  # a negative weight
    assert kkt_neg >= 0.5
    ssr_v, kkt_v, gap_v = kkt_certificate(X, y, np.array([1.0, 0.0, 0.0]))  # a non-optimal vertex
    assert ssr_v == 1.25
    assert kkt_v > 1e-2
    assert gap_v >= ssr_v - fit.ssr


@settings(max_examples=N_INVARIANT, **HYP)
@given(data=st.data())
def test_converged_flag_is_honest_under_an_iteration_cap(data):
    """With ``max_iter`` below what a solve needs, ``converged`` may be False; but ``converged=True`` must
    still mean a KKT point, and the weights and the duality gap must stay valid.

    Every cap from 1 to the uncapped iteration count is tried, on wide problems (J = 2T..4T) with targets
    near the hull, where the active set often drops donors.  The kernel of commit 7a8eb0b failed on
    about 3% of these problems (see test_iteration_cap_reports_convergence_at_non_optimal_point).
    """
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    T = data.draw(st.integers(2, 6))
    J = data.draw(st.integers(2 * T, 4 * T))
    X = rng.standard_normal((T, J))
    y = X @ rng.dirichlet(np.full(J, 0.3)) + 0.3 * rng.standard_normal(T)
    full = simplex_ls(X, y)
    sc = scales_of(X, y)
    for cap in range(1, full.n_iter + 1):
        fit = simplex_ls(X, y, max_iter=cap)
        assert_on_simplex(fit.weights, J)
        assert fit.ssr - full.ssr <= fit.duality_gap + 1e-12 * sc.scale**2 + ssr_slack(sc, fit.ssr, full.ssr)
        if fit.converged:
            assert fit.kkt_violation < KKT_TOL, (
                f"converged=True with kkt_violation {fit.kkt_violation:.3e} (max_iter={cap}, the full solve "
                f"needs {full.n_iter}); SSR {fit.ssr!r} vs optimum {full.ssr!r}")


# --------------------------------------------------------------------------------------------------------
# 3. Invariants (DESIGN.md) and the Gram-level entry point
# --------------------------------------------------------------------------------------------------------
INVARIANCE_KINDS = ["tall", "wide", "duplicated", "collinear", "exact_fit", "large_scale", "tiny_scale",
                    "small_integers"]


@settings(max_examples=N_INVARIANT, **HYP)
@given(data=st.data(), kind=st.sampled_from(INVARIANCE_KINDS))
def test_permuting_donors_permutes_weights(data, kind):
    X, y, _ = data.draw(problems(kind))
    J = X.shape[1]
    perm = np.array(data.draw(st.permutations(range(J))), dtype=int)
    f = simplex_ls(X, y)
    g = simplex_ls(X[:, perm], y)
    w_back = np.empty(J)
    w_back[perm] = g.weights  # weight of original donor perm[i] is g.weights[i]
    assert_self_agreement(X, y, f.weights, f.ssr, w_back, g.ssr)


@settings(max_examples=N_INVARIANT, **HYP)
@given(
    data=st.data(),
    kind=st.sampled_from(INVARIANCE_KINDS),
    log_a=st.floats(-3, 3),
    sign=st.sampled_from([-1.0, 1.0]),
    b_rel=st.floats(-10, 10),
)
def test_affine_map_of_outcomes(data, kind, log_a, sign, b_rel):
    """``y -> a*y + b`` and ``X -> a*X + b``: same weights, SSR times a**2, fitted values mapped.

    ``|b|`` is kept within 10 centred scales; far larger common levels have their own tests at the end
    (test_common_level_does_not_hide_a_descent_direction, test_high_common_level_matches_clarabel).
    """
    X, y, _ = data.draw(problems(kind))
    sc = scales_of(X, y)
    a = sign * 10.0**log_a
    b = b_rel * abs(a) * sc.scale
    Xm, ym = a * X + b, a * y + b
    sc2 = scales_of(Xm, ym)
    f = simplex_ls(X, y)
    g = simplex_ls(Xm, ym)
    assert_on_simplex(g.weights, X.shape[1])
    assert_self_agreement(X, y, f.weights, f.ssr, g.weights, g.ssr, a=a, sc2=sc2)
    mapped = a * (X @ f.weights) + b
    tol = SELF_FIT_RTOL * abs(a) * sc.scale + 2.0 * (abs(a) * sc.rnd + sc2.rnd)
    assert np.linalg.norm(Xm @ g.weights - mapped) <= tol


@settings(max_examples=N_INVARIANT, **HYP)
@given(data=st.data(), kind=st.sampled_from(INVARIANCE_KINDS + ["single_donor"]))
def test_donor_identical_to_target_gets_weight_one(data, kind):
    X, y, _ = data.draw(problems(kind))
    # a *different* donor within ~sqrt(eps) of y is indistinguishable from y to the kernel's Gram-based
    # vertex choice: that limitation has its own test (test_exact_copy_of_target_beats_a_near_copy)
    dist = np.linalg.norm(X - y[:, None], axis=0)
    raw = max(float(np.linalg.norm(y)), float(dist.max()))
    assume(not ((dist > 0) & (dist < 1e-6 * raw)).any())
    pos = data.draw(st.integers(0, X.shape[1]))
    Xa = np.insert(X, pos, y, axis=1)
    fit = simplex_ls(Xa, y)
    same = np.all(Xa == y[:, None], axis=0)  # the new donor, plus any pre-existing copy of y
    assert same[pos]
    assert fit.weights[same].sum() >= 1.0 - SUM_TOL, fit.weights
    assert fit.ssr == 0.0
    assert fit.kkt_violation < KKT_TOL


@settings(max_examples=N_CERT, **HYP)
@given(data=st.data(), kind=st.sampled_from(INVARIANCE_KINDS))
def test_simplex_ls_gram_matches_simplex_ls(data, kind):
    """The Gram-level entry point, fed with data shifted by their per-period donor mean (the same problem),
    gives the same fit as simplex_ls."""
    X, y, _ = data.draw(problems(kind))
    m = X.mean(axis=1)
    Xc, yc = X - m[:, None], y - m
    f = simplex_ls(X, y)
    h = simplex_ls_gram(Xc.T @ Xc, Xc.T @ yc, Xc, yc)
    assert h.converged and h.kkt_violation < KKT_TOL
    assert_on_simplex(h.weights, X.shape[1])
    assert_self_agreement(X, y, f.weights, f.ssr, h.weights, h.ssr)


def test_no_donors_is_an_error():
    with pytest.raises(ValueError, match="no donors"):
        simplex_ls(np.zeros((3, 0)), np.zeros(3))


# --------------------------------------------------------------------------------------------------------
# 4. placebo_fits
# --------------------------------------------------------------------------------------------------------
@settings(max_examples=100, **HYP)
@given(data=st.data())
def test_placebo_fits_match_separate_fits(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    N = data.draw(st.integers(2, 12))
    T = data.draw(st.integers(1, 15))
    Y = 100.0 + np.cumsum(rng.standard_normal((T, N)), axis=0) + 5.0 * rng.standard_normal(N)
    if N >= 3 and data.draw(st.booleans()):  # a duplicated unit
        Y[:, 0] = Y[:, -1]
    targets = None
    if data.draw(st.booleans()):
        targets = data.draw(st.lists(st.integers(0, N - 1), min_size=1, max_size=N, unique=True))
    mask = None
    if data.draw(st.booleans()):  # a donor mask with at least two allowed units (so every target has a donor)
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=N, max_size=N)))
        mask[rng.choice(N, size=2, replace=False)] = True
    expected_targets = list(range(N)) if targets is None else targets
    allowed = np.ones(N, dtype=bool) if mask is None else mask

    out = placebo_fits(Y, targets=targets, donor_mask=mask)
    assert [i for i, _, _ in out] == expected_targets
    for i, D, fit in out:
        want = np.flatnonzero(allowed & (np.arange(N) != i))
        np.testing.assert_array_equal(D, want)
        assert i not in D
        assert fit.converged and fit.kkt_violation < KKT_TOL
        assert_on_simplex(fit.weights, len(D))
        alone = simplex_ls(Y[:, D], Y[:, i])
        assert_self_agreement(Y[:, D], Y[:, i], alone.weights, alone.ssr, fit.weights, fit.ssr)


def test_placebo_fits_excludes_target_even_if_masked_in():
    Y = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.0]])
    out = placebo_fits(Y, targets=[1], donor_mask=np.array([True, True, False]))
    ((i, D, fit),) = out
    assert i == 1
    assert D.tolist() == [0]
    assert fit.weights.tolist() == [1.0]
    assert fit.ssr == pytest.approx(1.0 + 1.0)


# --------------------------------------------------------------------------------------------------------
# 5. Regression on real data: Prop 99
# --------------------------------------------------------------------------------------------------------
def _repo_root() -> Path:
    here = Path(__file__).resolve().parent
    for p in (here, *here.parents):
        if (p / "pyproject.toml").exists() or (p / ".git").exists():
            return p
    return here.parents[1]


SHARED = _repo_root().parent / "shared"  # the sibling ../shared of the repository root


def _data_file(name: str) -> Path:
    """``$SYNTHCONTROL_DATA``, else the data packaged with synthcontrol (see conftest.py)."""
    from .conftest import data_dir
    return data_dir() / name


# Gold standard (shared/reference/prop99_outcome_only_simplex.json, headline numbers in its README):
# computed in R 4.2.2 with quadprog::solve.QP (1e-10 ridge to find the support) followed by an exact KKT
# solve on that support, and cross-checked with lsei::pnnls(sum = 1) to 2e-13.  Outcome-only fit of
# California's cigsale on the 38 control states, 1970-1988.  We measured agreement to 2e-13.
PROP99_WEIGHTS = {
    "Utah": 0.3939080236,
    "Montana": 0.2318399512,
    "Nevada": 0.2049225842,
    "Connecticut": 0.1090896242,
    "New Hampshire": 0.0454290464,
    "Colorado": 0.0148107704,
}
PROP99_SSR = 52.12957126


def test_prop99_outcome_only_weights():
    pd = pytest.importorskip("pandas")
    path = need_file(_data_file("smoking.csv"))
    panel = pd.read_csv(path).pivot(index="year", columns="state", values="cigsale")
    assert panel.shape == (31, 39)
    pre = panel.loc[1970:1988]
    donors = sorted(s for s in panel.columns if s != "California")
    assert len(donors) == 38 and len(pre) == 19
    fit = simplex_ls(pre[donors].to_numpy(), pre["California"].to_numpy())
    w = dict(zip(donors, fit.weights))

    # headline numbers (10 decimals, so rounding contributes <= 5e-11)
    expected = {d: PROP99_WEIGHTS.get(d, 0.0) for d in donors}
    assert max(abs(w[d] - expected[d]) for d in donors) <= 1e-9, {d: v for d, v in w.items() if v > 0}
    assert fit.ssr == pytest.approx(PROP99_SSR, abs=1e-8)
    assert fit.kkt_violation < 1e-8
    assert fit.converged

    # full-precision reference, when the shared reference folder is present ($SYNTHCONTROL_REFERENCE or
    # ../shared/reference, as in conftest.py)
    from .conftest import reference_dir
    ref_dir = reference_dir()
    ref_path = ref_dir / "prop99_outcome_only_simplex.json"
    if ref_path.exists():
        ref = json.loads(ref_path.read_text())
        assert ref["donors"] == donors
        assert max(abs(w[d] - ref["weights"][d]) for d in donors) <= 1e-9
        assert fit.ssr == pytest.approx(ref["kkt_reported"]["objective_ssr"], rel=1e-10)


# --------------------------------------------------------------------------------------------------------
# Regression tests for kernel bugs found while writing these tests (all fail on commit 7a8eb0b)
# --------------------------------------------------------------------------------------------------------
def test_common_level_does_not_hide_a_descent_direction():
    """A common level far above the spread must not make the kernel stop early.

    y = X @ (0.2, 0.3, 0.3, 0.2) exactly (integers), so the optimum SSR is 0, and it is unique (the four
    donors are affinely independent).  Without the level the kernel finds it.  At level 1e5 the kernel of
    commit 7a8eb0b stopped after two iterations at w = (0.369, 0.237, 0, 0.394), SSR 3.0e-3, reporting
    converged=True and kkt_violation 3e-13: donor 2's gradient gap g_2 - g'w = -1.0e-2 (accurately
    computed) was below the stopping tolerance 1e3 * eps * max|G| * sqrt(J) = 1.3e-2, which grew with the
    *uncentred* Gram matrix (level**2) although the problem does not depend on the level.
    """
    level = 1e5
    D = 10.0 * np.array([[6.0, 1.0, 9.0, 9.0], [-2.0, 9.0, -3.0, 0.0], [-1.0, -5.0, 5.0, 7.0]])
    yd = np.array([60.0, 14.0, 12.0])
    w_star = np.array([0.2, 0.3, 0.3, 0.2])
    np.testing.assert_allclose(D @ w_star, yd, rtol=0, atol=1e-12)

    centred = simplex_ls(D, yd)  # same problem without the level: solved exactly
    np.testing.assert_allclose(centred.weights, w_star, rtol=0, atol=1e-12)

    fit = simplex_ls(level + D, level + yd)
    assert fit.ssr <= 1e-12, (
        f"SSR {fit.ssr:.3e} (optimum 0), weights {fit.weights}, kkt {fit.kkt_violation:.1e}")
    np.testing.assert_allclose(fit.weights, w_star, rtol=0, atol=1e-9)


@needs_clarabel
@settings(max_examples=50, **HYP)
@given(data=st.data())
def test_high_common_level_matches_clarabel(data):
    """Panel-like data: levels 1e4-1e5 with unit-size movements (e.g. incomes in dollars).

    The kernel of commit 7a8eb0b failed here for the reason given in
    test_common_level_does_not_hide_a_descent_direction (on ~15% of these problems at level 1e4, ~60%
    at 1e5).
    """
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    level = data.draw(st.sampled_from([1e4, 1e5]))
    J = data.draw(st.integers(2, 30))
    T = data.draw(st.integers(5, 25))
    X = level + np.cumsum(rng.standard_normal((T, J)), axis=0) + 3.0 * rng.standard_normal(J)
    noise = data.draw(st.sampled_from([0.0, 1e-3, 0.1]))
    y = X @ rng.dirichlet(np.full(J, 0.5)) + noise * rng.standard_normal(T)
    fit = simplex_ls(X, y)
    assert_on_simplex(fit.weights, J)
    assert_matches_reference(X, y, fit, clarabel_weights(X, y))


def test_iteration_cap_reports_convergence_at_non_optimal_point():
    """``converged=True`` must not be reported when ``max_iter`` cuts the inner loop short.

    In the kernel of commit 7a8eb0b, with max_iter=2 the inner (drop) loop of simplex_ls_gram stopped
    after one ratio step, at w = (4/11, 7/11, 0, 0), which is not the minimiser on its support.  The outer
    loop then ran the convergence test, which only looks at donors *outside* the support (none has
    g_k < g'w there), and set converged=True; _polish then moved to the support optimum (5/13, 8/13, 0, 0),
    where donor 3 does have a descent direction.  Result: converged=True, kkt_violation 5.9e-3, SSR
    2/13 = 0.154 against the optimum 1/17 = 0.0588 at w = (4/17, 0, 0, 13/17) (the duality gap, 0.154,
    stayed a valid bound).
    """
    X = np.array([[-2.0, -1.0, -2.0, -1.0], [-3.0, 2.0, 0.0, 1.0]])
    y = np.array([-1.0, 0.0])
    full = simplex_ls(X, y)
    np.testing.assert_allclose(full.weights, [4 / 17, 0, 0, 13 / 17], atol=1e-12)
    assert full.ssr == pytest.approx(1 / 17, rel=1e-12)

    capped = simplex_ls(X, y, max_iter=2)
    assert capped.ssr - full.ssr <= capped.duality_gap  # the gap is honest ...
    assert not capped.converged or capped.kkt_violation < KKT_TOL, (  # ... the flag is not
        f"converged=True at w={capped.weights}, kkt_violation {capped.kkt_violation:.2e}, "
        f"SSR {capped.ssr:.4f} vs optimum {full.ssr:.4f}")


def test_exact_copy_of_target_beats_a_near_copy():
    """DESIGN.md: a donor identical to the target gets weight 1.  It does not when another donor lies
    within ~sqrt(eps) * ||y|| of the target and comes first.

    The start vertex is argmin(diag(G) - 2c) = argmin(||x_j - y||^2 - ||y||^2), evaluated in Gram
    arithmetic: ||x_0 - y||^2 = 1e-18 vanishes next to ||y||^2, the two donors tie, the first one wins,
    and its gradient gap (~1e-18) is far below the stopping tolerance.  Result: w = (1, 0, 0), SSR 1e-18,
    instead of w = (0, 1, 0), SSR 0, with converged=True and kkt_violation ~1e-19; with the first two
    columns swapped the exact copy wins, so the answer also depends on the donor order.  Found in
    commit 3e1fc63; fixed by re-measuring near-copy distances on X when choosing the start.
    """
    y = np.array([1.0, 2.0, 3.0])
    near = np.array([1.0 + 1e-9, 2.0, 3.0])
    other = np.array([5.0, 0.0, 2.0])
    fit = simplex_ls(np.column_stack([near, y, other]), y)
    assert fit.weights.tolist() == [0.0, 1.0, 0.0], f"weights {fit.weights}, SSR {fit.ssr!r}"
    assert fit.ssr == 0.0


@pytest.mark.parametrize("s", [1e-200, 1e-120, 1e120, 1e200])
def test_extreme_magnitudes_are_rescaled(s):
    """Outcomes near the float limits: the Gram matrix would under/overflow; the kernel rescales."""
    X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    y = np.array([0.5, 0.5])
    base = simplex_ls(X, y)
    fit = simplex_ls(s * X, s * y)
    np.testing.assert_allclose(fit.weights, base.weights, atol=1e-12)
    np.testing.assert_allclose(fit.weights, [0.5, 0.5, 0.0], atol=1e-12)
    assert fit.converged and fit.kkt_violation < 1e-12
    assert fit.ssr == pytest.approx(base.ssr * s * s, abs=1e-12 * s * s)


def test_warm_start_support_gives_the_cold_answer():
    """``start=``: any starting support (the optimum's, a wrong one, a superset, one with a
    duplicated column) ends at the cold search's optimum, to rounding: the same fitted values (unique
    for least squares) and SSR, and the same weights where the optimum is unique (no duplicate)."""
    from synthcontrol.solvers.simplex import simplex_ls_gram
    rng = np.random.default_rng(11)
    for trial in range(40):
        T, J = rng.integers(5, 30), rng.integers(3, 40)
        X = rng.normal(size=(T, J))
        if trial % 4 == 0:
            X[:, -1] = X[:, 0]  # a duplicated donor
        y = X[:, : max(1, J // 3)] @ rng.dirichlet(np.ones(max(1, J // 3))) + 0.3 * rng.normal(size=T)
        G, c = X.T @ X, X.T @ y
        cold = simplex_ls_gram(G, c, X, y)
        opt = np.flatnonzero(cold.weights)
        starts = [opt, rng.choice(J, size=min(J, 3), replace=False), np.arange(J), np.array([0, J - 1])]
        for S0 in starts:
            warm = simplex_ls_gram(G, c, X, y, start=S0)
            assert warm.converged
            assert warm.ssr <= cold.ssr * (1 + 1e-9) + 1e-12
            np.testing.assert_allclose(X @ warm.weights, X @ cold.weights, atol=1e-7)
            # the weights are unique when the support's columns are affinely independent (and no
            # other support reaches the same fit: not an exact fit, no duplicated donor)
            Xa = np.vstack((X[:, opt], np.ones(len(opt))))
            if trial % 4 and np.linalg.matrix_rank(Xa) == len(opt) and cold.ssr > 1e-6:
                np.testing.assert_allclose(warm.weights, cold.weights, atol=1e-7)
