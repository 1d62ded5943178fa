"""Exact least squares on the probability simplex.

Solves ``min_w ||y - X w||^2  subject to  w >= 0, sum(w) = 1`` with a primal
active-set method (Lawson-Hanson style, extended with the equality
constraint).  The method is finite and exact: at termination the support of
``w`` is a set of affinely independent donors and ``w`` restricted to it is the
equality-constrained least-squares solution, solved from ``X`` itself (not the
Gram matrix) so the answer is accurate to working precision.

It is correct when donors outnumber periods (singular Gram matrix), with
duplicated or collinear donors and when a donor equals the target: only
affinely independent donors ever enter the support.

Every fit returns a certificate:

``kkt_violation``
    the largest violation of the KKT conditions, relative to the scale of the
    problem (unitless; ~1e-15 for a well-solved problem).
``duality_gap``
    the Frank-Wolfe gap ``g'w - min_j g_j`` (``g`` the gradient of the sum of
    squared residuals).  By convexity ``SSR(w) - SSR* <= duality_gap``: a proven
    bound on how far the returned objective can be from the optimum.

Because the weights sum to one, subtracting the same vector from ``y`` and
from every column of ``X`` leaves every residual unchanged.  The solver
therefore works on data centred by the donors' per-period mean, which removes
a common level (e.g. outcomes around 1e5) that would otherwise swamp the
tolerances; certificates are measured on the centred data too.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgels, dgesv

__all__ = ["SimplexFit", "simplex_ls", "simplex_ls_gram", "kkt_certificate", "placebo_fits", "center"]

_EPS = np.finfo(float).eps
_min = np.minimum.reduce  # ufunc reductions: a fraction of ndarray.min()'s call overhead
_sum = np.add.reduce
_max = np.maximum.reduce


@dataclass(frozen=True)
class SimplexFit:
    """Result of one simplex least-squares fit (arrays only)."""

    weights: np.ndarray  # (J,)
    ssr: float  # sum of squared residuals at ``weights``
    kkt_violation: float  # relative, unitless
    duality_gap: float  # absolute, in SSR units: SSR(w) - SSR* <= duality_gap
    n_iter: int
    converged: bool

    @property
    def support(self) -> np.ndarray:
        return np.flatnonzero(self.weights > 0)


def center(X, y=None):
    """Subtract the donors' per-period mean from ``X`` (and ``y``): same problem, better scaled."""
    m = _sum(X, axis=1) / X.shape[1]
    Xc = X - m[:, None]
    return (Xc, None) if y is None else (Xc, y - m)


def kkt_certificate(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Return ``(ssr, kkt_violation, duality_gap)`` for a candidate ``w``.

    ``kkt_violation`` is the max of: primal infeasibility (|sum w - 1|, max(-w));
    stationarity on the support and dual infeasibility off it, both measured on
    the gradient of 0.5*SSR divided by ``max_j ||x_j|| * max(||y||, max_j ||x_j||)``
    (on the centred data, see the module docstring).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    Xc, yc = center(X, y)
    r = Xc @ w - yc
    ssr = float(r @ r)
    return (ssr, *_kkt_from_gradient(Xc.T @ r, w, Xc, yc))


def _kkt_from_gradient(g, w, X, y, colnorm=None):
    if colnorm is None:
        colnorm = float(np.sqrt((X * X).sum(axis=0)).max()) if X.size else 0.0
    scale = colnorm * max(math.sqrt(float(y @ y)), colnorm)
    if scale == 0.0:
        scale = 1.0
    supp = w > 0
    mu = float(g @ w)
    gmin = float(_min(g))
    gs = g[supp]
    stat = float(np.maximum.reduce(np.abs(gs - mu))) if gs.size else 0.0
    prim = max(abs(float(_sum(w)) - 1.0), max(0.0, -float(_min(w))))
    kkt = max(prim, stat / scale, max(0.0, mu - gmin) / scale)
    gap = 2.0 * max(0.0, mu - gmin)  # the gradient of SSR is 2g
    return kkt, gap


def _solve_lstsq(X, y, S):
    """Equality-constrained LS on columns S from X (SVD; minimum-norm if degenerate)."""
    if len(S) == 1:
        return np.ones(1)
    xr = X[:, S[0]]
    rest = np.linalg.lstsq(X[:, S[1:]] - xr[:, None], y - xr, rcond=None)[0]
    return np.concatenate(([1.0 - rest.sum()], rest))


def _bordered(G, c):
    """The bordered KKT matrix [[G, 1], [1', 0]] and right-hand side [c; 1] of all donors.

    The subproblem on a support S is the sub-system on rows/columns S + [J]:
    two ``take`` calls per solve instead of assembling it."""
    J = G.shape[0]
    K = np.empty((J + 1, J + 1))
    K[:J, :J] = G
    K[J, :J] = 1.0
    K[:J, J] = 1.0
    K[J, J] = 0.0
    rhs = np.empty(J + 1)
    rhs[:J] = c
    rhs[J] = 1.0
    return K, rhs


def _solve(Kb, rb, X, y, S, safe=False):
    """min ||y - X_S z||^2 s.t. sum z = 1, via the bordered KKT system of the Gram matrix.

    ``S`` ends with the border index J (see :func:`_bordered`).  Falls back to
    the SVD solve on X when the system is singular or its answer does not
    satisfy sum z = 1 (a near-singular system).  The sum check is made only
    with ``safe=True``: the fast pass relies on the final certificate, and a fit
    whose certificate fails is redone in safe mode (see :func:`simplex_ls_gram`)."""
    k = len(S) - 1
    if k == 1:
        return np.ones(1)
    _, _, sol, info = dgesv(Kb.take(S, 0).take(S, 1), rb.take(S), overwrite_a=1, overwrite_b=1)
    z = sol[:k]
    if info != 0 or (safe and not abs(_sum(z) - 1.0) < 1e-8):  # the comparison also catches NaN
        return _solve_lstsq(X, y, S[:-1])
    return z


def simplex_ls(X, y, *, max_iter=None) -> SimplexFit:
    """Solve ``min ||y - X w||^2, w >= 0, sum w = 1`` exactly.

    Parameters
    ----------
    X : (T, J) array, the donors' outcomes (columns are donors).
    y : (T,) array, the target's outcomes.
    max_iter : cap on active-set iterations (default ``10 * J + 50``); a fit
        stopped by the cap reports ``converged=False``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"simplex_ls: X must be (T, J) and y (T,), got {X.shape} and {y.shape}")
    if X.shape[1] == 0:
        raise ValueError("simplex_ls: no donors (X has zero columns)")
    Xc, yc = center(X, y)
    s = max(float(_max(np.abs(Xc), axis=None)), float(_max(np.abs(yc))))
    if 0.0 < s and not 1e-100 < s < 1e100:  # the Gram matrix would under/overflow: rescale
        fit = simplex_ls_gram(*_gram(Xc / s, yc / s), Xc / s, yc / s, max_iter=max_iter)
        return SimplexFit(weights=fit.weights, ssr=fit.ssr * s * s, kkt_violation=fit.kkt_violation,
                          duality_gap=fit.duality_gap * s * s, n_iter=fit.n_iter, converged=fit.converged)
    return simplex_ls_gram(Xc.T @ Xc, Xc.T @ yc, Xc, yc, max_iter=max_iter)


def _gram(X, y):
    return X.T @ X, X.T @ y


def simplex_ls_gram(G, c, X, y, *, max_iter=None, safe=False, polish=True) -> SimplexFit:
    """Active-set solve given the Gram matrix ``G = X'X`` and ``c = X'y``.

    With ``polish=False`` the problem is the quadratic programme
    ``min w'Gw/2 - c'w`` on the simplex for any ``c`` (e.g. ``X'y`` minus a linear
    penalty): no QR re-solve from ``X``, and the certificate is computed from the
    gradient ``G w - c`` (``X``, ``y`` then only set the certificate's scale);
    ``ssr`` is ``w'Gw - 2c'w + y'y``.

    ``X`` and ``y`` should already be centred (:func:`center`); batched callers
    centre once and share ``G`` across fits.  The Gram matrix drives the search
    (gradients and the small KKT solves); the final support is re-solved from
    ``X`` by QR, which avoids the Gram matrix's squared conditioning (a small
    certificate alone does not bound the weights' error when the fit is exact).  If the certificate of the fast pass is not
    clean (KKT violation above 1e-10, or not finite), the fit is redone with
    every small solve checked and, if singular, replaced by an SVD solve on X;
    the better of the two (by SSR, then KKT) is returned.
    """
    J = G.shape[0]
    if J == 0:
        raise ValueError("simplex_ls: no donors (X has zero columns)")
    if max_iter is None:
        max_iter = 10 * J + 50
    diag_max = float(_max(G.diagonal()))
    # |G_ij| <= max_i G_ii (Cauchy-Schwarz), so this bounds every entry of G and c's scale
    gscale = max(diag_max, float(_max(np.abs(c))), 1e-300)
    tol = 1e3 * _EPS * gscale * J ** 0.5
    Kb, rb = _bordered(G, c)

    # start at the best single donor; distances from X directly, since diag(G) - 2c loses
    # tiny distances against ||y||^2 (an exact copy of y must beat a near copy)
    d = G.diagonal() - 2.0 * c  # squared distance to y, less ||y||^2
    j0 = int(d.argmin())
    if d[j0] + float(y @ y) <= 1e-8 * gscale:  # a (near) copy of y: compare exactly on X
        D = X - y[:, None]
        j0 = int(np.argmin(_sum(D * D, axis=0)))
    S = np.array([j0, J])  # the support, then the border index J
    w = np.zeros(J)
    w[j0] = 1.0
    in_S = np.zeros(J, dtype=bool)
    in_S[j0] = True
    banned = None  # entering candidates rejected for rounding reasons (reset on progress)
    n_iter = 0
    converged = False
    while n_iter < max_iter:
        g = G @ w - c  # half gradient of SSR
        mu = float(g @ w)
        g[in_S] = np.inf
        if banned is not None:
            g[banned] = np.inf
        k = int(g.argmin())
        if not g[k] < mu - tol:
            converged = True
            break
        S_new = np.concatenate((S[:-1], (k, J)))
        z = _solve(Kb, rb, X, y, S_new, safe)
        n_iter += 1
        if not z[-1] > 0:  # k is (numerically) affinely dependent on the support: skip it
            if banned is None:
                banned = np.zeros(J, dtype=bool)
            banned[k] = True
            continue
        banned = None
        S = S_new
        in_S[k] = True
        # move towards the subproblem optimum on S, dropping the weights that hit zero
        while _min(z) <= 0:
            if n_iter >= max_iter:
                break
            Sd = S[:-1]
            ws = w[Sd]
            neg = z <= 0
            ratios = ws[neg] / (ws[neg] - z[neg])
            alpha = float(ratios.min())
            ws += alpha * (z - ws)
            drop = ws <= 0
            drop[np.flatnonzero(neg)[ratios <= alpha * (1 + 1e-12)]] = True
            if drop.all():  # cannot happen in exact arithmetic
                drop[int(np.argmax(ws))] = False
            w[Sd[drop]] = 0.0
            in_S[Sd[drop]] = False
            Sd = Sd[~drop]
            w[Sd] = ws[~drop]
            S = np.concatenate((Sd, (J,)))
            z = _solve(Kb, rb, X, y, S, safe)
            n_iter += 1
        else:
            w[S[:-1]] = z
            continue
        break  # the iteration cap interrupted the inner loop: not converged

    if not polish:
        g = G @ w - c
        kkt, gap = _kkt_from_gradient(g, w, X, y, math.sqrt(diag_max))
        return SimplexFit(weights=w, ssr=float(w @ (g - c)) + float(y @ y), kkt_violation=kkt,
                          duality_gap=gap, n_iter=n_iter, converged=converged)
    r = X @ w - y
    w, r = _polish(X, y, w, r)
    kkt, gap = _kkt_from_gradient(X.T @ r, w, X, y, math.sqrt(diag_max))
    fit = SimplexFit(weights=w, ssr=float(r @ r), kkt_violation=kkt, duality_gap=gap,
                     n_iter=n_iter, converged=converged)
    if not safe and not kkt <= 1e-10:
        other = simplex_ls_gram(G, c, X, y, max_iter=max_iter, safe=True)
        if (other.converged, -other.ssr, -other.kkt_violation) > (fit.converged, -fit.ssr, -kkt):
            return other
    return fit


def _polish(X, y, w, r0):
    """Re-solve the final support from X (QR, not the Gram) and keep it if it is
    feasible and no worse; this removes the Gram matrix's squared conditioning.
    Returns the weights and their residual ``X w - y``."""
    S = (w > 0).nonzero()[0]
    if len(S) <= 1:
        return w, r0
    xr = X[:, S[0]]
    A = X[:, S[1:]] - xr[:, None]
    if A.shape[0] >= A.shape[1]:
        _, x, info = dgels(A, y - xr)
        if info == 0:
            rest = x[: A.shape[1]]
            z0 = 1.0 - _sum(rest)
            if z0 > 0 and _min(rest) > 0:
                cand = np.zeros(len(w))
                cand[S[0]] = z0
                cand[S[1:]] = rest
                r1 = X @ cand - y
                if r1 @ r1 <= r0 @ r0 * (1 + 1e-12) + 1e-300:
                    return cand, r1
    return w, r0


def placebo_fits(Y, targets=None, donor_mask=None):
    """Batched fits that share one Gram matrix.

    Y : (T, N) array of all units' fitting-period outcomes.
    targets : iterable of column indices to use as targets (default: all).
    donor_mask : optional (N,) boolean array of units allowed as donors
        (the target itself is always excluded).
    Returns a list of ``(target, donor_index_array, SimplexFit)``.

    ``Y`` is centred once by its per-period mean over all units (a common
    shift of target and donors changes no residual), then ``G = Y'Y`` serves
    every fit.
    """
    Y = np.asarray(Y, dtype=float)
    T, N = Y.shape
    Yc, _ = center(Y)
    G = Yc.T @ Yc
    if targets is None:
        targets = range(N)
    base = np.ones(N, dtype=bool) if donor_mask is None else np.asarray(donor_mask, dtype=bool)
    out = []
    for i in targets:
        m = base.copy()
        m[i] = False
        D = m.nonzero()[0]
        fit = simplex_ls_gram(G.take(D, 0).take(D, 1), G[D, i], Yc[:, D], Yc[:, i])
        out.append((i, D, fit))
    return out
