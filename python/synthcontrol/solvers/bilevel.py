"""Certificates for the predictor-weight (V) problem of synthetic control.

The classic estimator is bilevel (Malo, Eskelinen, Zhou & Kuosmanen 2024):

    min_V  L(W*(V)) = ||Z1 - Z0 W*(V)||^2 / T        (upper level: outcome fit)
    W*(V) = argmin_{W in simplex} (X1 - X0 W)' V (X1 - X0 W)   (lower level: predictor fit)

with V diagonal, v >= 0, sum v = 1.  Whatever V is, W*(V) is a point of the
simplex, so the outcome-only optimum W** = argmin_W L(W) gives a LOWER BOUND
L(W**) on the bilevel loss.  The bound is attained -- and W** is then a
certified bilevel optimum -- iff some V makes W** optimal for the lower level.
The lower level is convex, so that holds iff its KKT conditions hold at W**:
with r = X1 - X0 W** and h_j(v) = -sum_p v_p X0[p, j] r_p (half the gradient),

    h_j(v) = mu  for j in supp(W**),     h_j(v) >= mu  otherwise,

which is LINEAR in (v, mu): a linear program.  We solve it maximising the
smallest slack of the off-support inequalities (a positive margin means W** is
the strict optimum among the vertices it could move to), then verify the
answer independently by the KKT certificate of the lower-level fit at that V.

When the lower level has several minimisers for the V found, the optimistic
(tie-breaking toward the upper level) convention of the bilevel literature
selects W**, since W** is the global upper-level optimum.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from .simplex import kkt_certificate, simplex_ls

__all__ = ["OutcomeBoundCertificate", "outcome_bound_certificate"]


@dataclass(frozen=True)
class OutcomeBoundCertificate:
    """Whether the outcome-only lower bound is attainable by some V, with the proof."""

    attainable: bool  # an LP-feasible V exists (within tol) and W** passes the lower-level KKT check
    lower_bound: float  # L(W**): outcome MSE over the fit periods
    w: np.ndarray  # W**, the outcome-only optimum
    v: np.ndarray | None  # predictor weights (sum 1) supporting W**, or None
    margin: float  # smallest off-support slack h_j - mu at v, relative to the scale; < 0 if infeasible
    inner_kkt: float  # KKT violation of W** for the lower level at v (relative); nan without v
    lp_status: str
    equality_gap: float = 0.0  # smallest achievable max |h_j - mu| on the support (relative): > 0 proves
    #                            the bound unattainable; its minimiser is returned in v_nearest
    v_nearest: np.ndarray | None = None


def outcome_bound_certificate(X1, X0, Z1, Z0, *, tol=1e-9) -> OutcomeBoundCertificate:
    """Test whether the outcome-only lower bound of the V problem is attained.

    Parameters
    ----------
    X1 : (P,) treated predictors;  X0 : (P, J) donors' predictors (scaled or not:
        a diagonal rescaling of the predictors maps feasible V's onto each other).
    Z1 : (T,) treated outcomes over the fit periods;  Z0 : (T, J) donors'.
    tol : feasibility tolerance on the relative KKT conditions.
    """
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    Z1 = np.asarray(Z1, dtype=float)
    Z0 = np.asarray(Z0, dtype=float)
    P, J = X0.shape
    if X1.shape != (P,) or Z0.shape[1] != J or Z1.shape != (Z0.shape[0],):
        raise ValueError(f"shapes do not match: X1 {X1.shape}, X0 {X0.shape}, Z1 {Z1.shape}, Z0 {Z0.shape}")
    fit = simplex_ls(Z0, Z1)
    w = fit.weights
    lower = fit.ssr / Z0.shape[0]
    r = X1 - X0 @ w
    # h_j(v) = -sum_p v_p X0[p, j] r_p  ->  H (J x P) with h = H v
    H = -(X0 * r[:, None]).T
    scale = float(np.abs(H).max()) or 1.0
    Hs = H / scale
    S = w > 0
    # variables: v (P), mu, t;  maximise t
    n = P + 2
    c = np.zeros(n)
    c[-1] = -1.0
    A_eq = [np.concatenate((Hs[j], [-1.0, 0.0])) for j in np.flatnonzero(S)]
    A_eq.append(np.concatenate((np.ones(P), [0.0, 0.0])))
    b_eq = np.zeros(len(A_eq))
    b_eq[-1] = 1.0
    off = np.flatnonzero(~S)
    A_ub = [np.concatenate((-Hs[j], [1.0, 1.0])) for j in off]  # mu + t - h_j <= 0
    bounds = [(0, None)] * P + [(None, None), (None, 1.0)]  # t capped: the LP stays bounded
    lp = linprog(c, A_ub=np.array(A_ub) if off.size else None, b_ub=np.zeros(off.size) if off.size else None,
                 A_eq=np.array(A_eq), b_eq=b_eq, bounds=bounds, method="highs")
    if lp.status != 0:
        gap, v_near = _equality_gap(Hs, S, P)
        return OutcomeBoundCertificate(False, lower, w, None, -np.inf, np.nan, lp.message, gap, v_near)
    v = np.clip(lp.x[:P], 0.0, None)
    v = v / v.sum()
    margin = float(lp.x[-1]) if off.size else np.inf
    # independent check: W** satisfies the lower level's KKT conditions at this V
    sv = np.sqrt(v)
    _, inner_kkt, _ = kkt_certificate(sv[:, None] * X0, sv * X1, w)
    attainable = margin >= -tol and inner_kkt <= max(tol, 1e-9)
    return OutcomeBoundCertificate(attainable, lower, w, v, margin, float(inner_kkt), lp.message, 0.0, v)


def _equality_gap(Hs, S, P):
    """min over the V simplex and mu of max_{j in S} |h_j(v) - mu| (an LP); (value, argmin v)."""
    rows, rhs = [], []
    for j in np.flatnonzero(S):
        rows.append(np.concatenate((Hs[j], [-1.0, -1.0])))
        rows.append(np.concatenate((-Hs[j], [1.0, -1.0])))
        rhs += [0.0, 0.0]
    c = np.zeros(P + 2)
    c[-1] = 1.0
    lp = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs),
                 A_eq=np.concatenate((np.ones(P), [0.0, 0.0]))[None, :], b_eq=[1.0],
                 bounds=[(0, None)] * P + [(None, None), (0, None)], method="highs")
    if lp.status != 0:
        return np.inf, None
    v = np.clip(lp.x[:P], 0.0, None)
    return float(lp.fun), v / v.sum()
