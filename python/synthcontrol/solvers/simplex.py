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

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgels, dgesv

__all__ = ["SimplexFit", "simplex_ls", "simplex_ls_gram", "kkt_certificate", "placebo_fits"]

_EPS = np.finfo(float).eps


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


def kkt_certificate(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Return ``(ssr, kkt_violation, duality_gap)`` for a candidate ``w``.

    ``kkt_violation`` is the max of: primal infeasibility (|sum w - 1|, max(-w));
    stationarity on the support and dual infeasibility off it, both measured on
    the gradient of 0.5*SSR divided by ``max_j ||x_j|| * max(||y||, max_j ||x_j||)``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    r = X @ w - y
    ssr = float(r @ r)
    g = X.T @ r  # half gradient of SSR
    return (ssr, *_kkt_from_gradient(g, w, X, y))


def _kkt_from_gradient(g, w, X, y, G=None):
    if G is not None:
        colnorm = float(np.sqrt(G.diagonal().max())) if G.size else 0.0
    else:
        colnorm = float(np.sqrt((X * X).sum(axis=0)).max()) if X.size else 0.0
    scale = colnorm * max(float(np.sqrt(y @ y)), colnorm)
    if scale == 0.0:
        scale = 1.0
    supp = w > 0
    mu = float(g @ w)
    stat = float(np.abs(g[supp] - mu).max()) if supp.any() else 0.0
    dual = float(max(0.0, mu - g.min())) if g.size else 0.0
    prim = max(abs(float(w.sum()) - 1.0), float(max(0.0, -w.min())) if w.size else 0.0)
    kkt = max(prim, stat / scale, dual / scale)
    gap = 2.0 * max(0.0, mu - float(g.min()))  # gradient of SSR is 2g
    return kkt, gap


def _solve_on_support(X, y, S):
    """Equality-constrained LS on columns S: min ||y - X_S z||, sum z = 1.

    Parametrised by the first column as reference: z_r = 1 - sum(rest), so it is
    an unconstrained LS in |S|-1 unknowns, solved by an SVD-based lstsq (the
    minimum-norm solution when the columns are affinely dependent).
    """
    if len(S) == 1:
        return np.ones(1)
    xr = X[:, S[0]]
    A = X[:, S[1:]] - xr[:, None]
    b = y - xr
    rest = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.concatenate(([1.0 - rest.sum()], rest))


def _solve_on_support_gram(G, c, S):
    """Same problem through the Gram matrix: the bordered KKT system of the subproblem.

    Returns None when that system is numerically singular (the caller then
    falls back to the SVD solve on X).
    """
    k = len(S)
    if k == 1:
        return np.ones(1)
    K = np.ones((k + 1, k + 1))
    K[:k, :k] = G[S][:, S]
    K[k, k] = 0.0
    rhs = np.empty(k + 1)
    rhs[:k] = c[S]
    rhs[k] = 1.0
    _, _, sol, info = dgesv(K, rhs, overwrite_a=1, overwrite_b=1)
    if info != 0:
        return None
    z = sol[:k]
    if not np.isfinite(z).all():
        return None
    return z


def _subproblem(G, c, X, y, S):
    z = _solve_on_support_gram(G, c, S)
    return _solve_on_support(X, y, S) if z is None else z


def simplex_ls(X, y, *, G=None, c=None, max_iter=None, w0=None) -> SimplexFit:
    """Solve ``min ||y - X w||^2, w >= 0, sum w = 1`` exactly.

    Parameters
    ----------
    X : (T, J) array, the donors' outcomes (columns are donors).
    y : (T,) array, the target's outcomes.
    G, c : optional precomputed ``X.T @ X`` and ``X.T @ y`` (the batched callers
        share one Gram matrix across many fits).
    max_iter : cap on active-set iterations (default ``10 * J + 50``).
    w0 : optional warm start (any point of the simplex; its support seeds the
        active set).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    T, J = X.shape
    if G is None:
        G = X.T @ X
    if c is None:
        c = X.T @ y
    return simplex_ls_gram(G, c, X, y, max_iter=max_iter, w0=w0)


def simplex_ls_gram(G, c, X, y, *, max_iter=None, w0=None) -> SimplexFit:
    """Active-set solve given the Gram matrix ``G = X'X`` and ``c = X'y``.

    The Gram matrix drives the search (gradients and the small KKT solves);
    the final support is re-solved from ``X`` for full accuracy.
    """
    J = G.shape[0]
    if J == 0:
        raise ValueError("simplex_ls: no donors (X has zero columns)")
    if max_iter is None:
        max_iter = 10 * J + 50
    gscale = max(float(np.abs(G).max()), float(np.abs(c).max()), 1e-300)
    tol = 1e3 * _EPS * gscale * max(1, J) ** 0.5

    in_S = np.zeros(J, dtype=bool)
    if w0 is not None:
        w = np.clip(np.asarray(w0, dtype=float), 0.0, None)
        s = w.sum()
        if not np.isfinite(s) or s <= 0:
            w0 = None
        else:
            w = w / s
            in_S = w > 0
    if w0 is None:
        # start at the best single donor (a vertex)
        j0 = int(np.argmin(np.diag(G) - 2.0 * c))
        w = np.zeros(J)
        w[j0] = 1.0
        in_S[j0] = True
        need_solve = False
    else:
        need_solve = True

    n_iter = 0
    converged = False
    banned = np.zeros(J, dtype=bool)  # entering candidates rejected for rounding reasons
    z = None
    while n_iter < max_iter:
        if need_solve:
            # inner loop: move towards the subproblem optimum on S, dropping blockers
            S = in_S.nonzero()[0]
            while True:
                n_iter += 1
                if z is None:
                    z = _subproblem(G, c, X, y, S)
                if z.min() > 0:
                    w[:] = 0.0
                    w[S] = z
                    break
                ws = w[S]
                neg = (z <= 0).nonzero()[0]
                ratios = ws[neg] / (ws[neg] - z[neg])
                alpha = float(ratios.min())
                ws = ws + alpha * (z - ws)
                drop = np.zeros(len(S), dtype=bool)
                drop[neg[ratios <= alpha * (1 + 1e-12)]] = True
                drop |= ws <= 0  # anything that rounded to zero or below
                ws[drop] = 0.0
                w[:] = 0.0
                w[S] = ws
                in_S[S[drop]] = False
                z = None
                if not in_S.any():  # cannot happen in exact arithmetic
                    j = S[int(np.argmax(ws))]
                    in_S[j] = True
                    w[:] = 0.0
                    w[j] = 1.0
                    break
                S = in_S.nonzero()[0]
                if n_iter >= max_iter:
                    break
            need_solve = False
            banned[:] = False
            z = None
        g = G @ w - c
        mu = float(g @ w)
        cand = np.where(in_S | banned, np.inf, g)
        k = int(np.argmin(cand))
        if not cand[k] < mu - tol:
            converged = True
            break
        # test the entering donor: its coefficient in the new subproblem must be > 0
        in_S[k] = True
        S_new = in_S.nonzero()[0]
        z = _subproblem(G, c, X, y, S_new)
        if z[np.searchsorted(S_new, k)] <= 0:
            in_S[k] = False
            banned[k] = True
            z = None
            n_iter += 1
            continue
        need_solve = True

    w = _polish(X, y, w)
    r = X @ w - y
    ssr = float(r @ r)
    g = X.T @ r
    kkt, gap = _kkt_from_gradient(g, w, X, y, G)
    return SimplexFit(weights=w, ssr=ssr, kkt_violation=kkt, duality_gap=gap,
                      n_iter=n_iter, converged=converged)


def _polish(X, y, w):
    """Re-solve the final support from X (QR, not the Gram) and keep it if it is
    feasible and no worse; this removes the Gram matrix's squared conditioning."""
    S = (w > 0).nonzero()[0]
    if len(S) <= 1:
        out = np.zeros_like(w)
        out[S] = 1.0
        return out
    xr = X[:, S[0]]
    A = X[:, S[1:]] - xr[:, None]
    if A.shape[0] >= A.shape[1]:
        _, x, info = dgels(A, y - xr)
        rest = x[: A.shape[1]] if info == 0 else None
    else:
        rest = None
    if rest is not None and np.isfinite(rest).all():
        z = np.concatenate(([1.0 - rest.sum()], rest))
        if z.min() > 0:
            cand = np.zeros_like(w)
            cand[S] = z
            r0 = X @ w - y
            r1 = X @ cand - y
            if r1 @ r1 <= r0 @ r0 * (1 + 1e-12) + 1e-300:
                return cand
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def placebo_fits(Y, targets=None, donor_mask=None, *, G=None):
    """Batched fits that share one Gram matrix.

    Y : (T, N) array of all units' fitting-period outcomes.
    targets : iterable of column indices to use as targets (default: all).
    donor_mask : optional (N,) boolean array of units allowed as donors
        (the target itself is always excluded).
    Returns a list of ``(target, donor_index_array, SimplexFit)``.
    """
    Y = np.asarray(Y, dtype=float)
    T, N = Y.shape
    if G is None:
        G = Y.T @ Y
    if targets is None:
        targets = range(N)
    base = np.ones(N, dtype=bool) if donor_mask is None else np.asarray(donor_mask, dtype=bool)
    out = []
    for i in targets:
        m = base.copy()
        m[i] = False
        D = np.flatnonzero(m)
        fit = simplex_ls_gram(G[np.ix_(D, D)], G[D, i], Y[:, D], Y[:, i])
        out.append((i, D, fit))
    return out
