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
    the largest violation of the KKT conditions, each donor's measured on its
    own scale: primal infeasibility, and stationarity / dual infeasibility of
    donor ``j`` divided by ``max(||x_j||, R) * R`` with ``R = max(||y||,
    sum_j w_j ||x_j||)`` (unitless; ~1e-15 for a well-solved
    problem).  Per-column scales keep one huge column from making every other
    donor's violation look small.
``duality_gap``
    the Frank-Wolfe gap ``g'w - min_j g_j`` (``g`` the gradient of the sum of
    squared residuals).  By convexity ``SSR(w) - SSR* <= duality_gap``: a proven
    bound on how far the returned objective can be from the optimum.
``converged``
    the active set terminated *and* the fit is certified to working precision:
    the part of the gap that the data's precision can resolve (each donor's
    descent less the rounding error of its own gradient entry) is at most
    ``GAP_RTOL`` times the SSR, or the fit is exact to working precision (its
    residual within 1e4 ulps of the fit's own scale per entry).  A fit is never called converged while its own certificate
    allows a relatively large improvement (see :func:`_fit_geometry`).

Column scales.  The entering test of the active-set loop uses a tolerance per
donor (the rounding error of that donor's gradient entry, ``~ eps ||x_j|| R``),
and candidates are ranked by their gradient per unit column norm, so a donor
whose outcomes are 1e12 times larger than the others (a data-entry error)
neither hides the others' descent directions nor is entered for rounding noise.

Because the weights sum to one, subtracting the same vector from ``y`` and
from every column of ``X`` leaves every residual unchanged.  The solver
therefore works on data centred by the donors' per-period *median*, which
removes a common level (e.g. outcomes around 1e5) that would otherwise swamp
the tolerances, and which one outlying donor cannot move (a mean would carry a
huge column into every other column); certificates are measured on the
centred data too.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgels, dgesv

__all__ = ["SimplexFit", "SharedGram", "simplex_ls", "simplex_ls_gram", "kkt_certificate", "placebo_fits",
           "center"]

_EPS = np.finfo(float).eps
GAP_RTOL = 1e-9  # converged: duality gap <= GAP_RTOL * SSR + the rounding floor
GAP_FLOOR = 1e3  # the floor: GAP_FLOOR * eps * sqrt(J) * R^2
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
    # the centring's scale R over the intrinsic one (residual and support spread): a large ratio
    # means the centre was far from the fit and the rounding floor was inflated (see simplex_ls)
    centre_ratio: float = 1.0

    @property
    def support(self) -> np.ndarray:
        return np.flatnonzero(self.weights > 0)


def center(X, y=None):
    """Subtract the donors' per-period median from ``X`` (and ``y``): same problem, better scaled.

    The median, not the mean: one donor with outcomes 1e12 times the others' would move a mean by
    1e12 / J and bury every other column's information under the rounding of that shift."""
    X = np.asarray(X, dtype=float)
    J = X.shape[1]
    if J > 2:  # the per-period median (np.partition: a fraction of np.median's overhead)
        h = J // 2
        if J % 2:
            m = np.partition(X, h, axis=1)[:, h]
        else:
            P = np.partition(X, (h - 1, h), axis=1)
            m = 0.5 * (P[:, h - 1] + P[:, h])
    else:
        m = _sum(X, axis=1) / max(J, 1)
    Xc = X - m[:, None]
    return (Xc, None) if y is None else (Xc, y - m)


def kkt_certificate(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Return ``(ssr, kkt_violation, duality_gap)`` for a candidate ``w``.

    ``kkt_violation`` is the max of: primal infeasibility (|sum w - 1|, max(-w));
    stationarity on the support and dual infeasibility off it, donor ``j``'s measured
    on the gradient of 0.5*SSR divided by ``max(||x_j||, R) * R`` (``R = max(||y||,
    sum_j w_j ||x_j||)``), all on the centred data (see the module
    docstring).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    Xc, yc = center(X, y)
    r = Xc @ w - yc
    ssr = float(r @ r)
    return (ssr, *_kkt_from_gradient(Xc.T @ r, w, Xc, yc, None, ssr))


def _colnorms(X):
    return np.sqrt(_sum(X * X, axis=0)) if X.size else np.zeros(X.shape[1])


def _resid_scale(colnorm, w, ynorm):
    """R = max(||y||, sum_j w_j ||x_j||): bounds ||X w|| and ||y||, hence the rounding of every
    gradient entry (eps ||x_k|| R) and of the residual.  Weighted, not the support's largest norm:
    a huge donor with a tiny weight contributes only its weighted size."""
    return max(ynorm, float(colnorm @ np.abs(w)))


def _kkt_from_gradient(g, w, X, y, colnorm=None, ssr=None, return_scale=False, R_c=None):
    """``(kkt_violation, duality_gap)`` from the half gradient ``g = X'(Xw - y)``.

    ``duality_gap`` is a proven bound on ``SSR(w) - SSR*``.  The Frank-Wolfe gap
    ``2 (g'w - min_j g_j)`` is one; when it is not small and ``ssr`` (= SSR(w)) is
    given, a tighter one is used (:func:`_fit_geometry`), which a huge donor's
    rounding noise cannot inflate.  With ``return_scale`` also that pass's result (else None): it
    runs when the gap is not small or when the gradient's rounding (``~ eps R_c^2``, ``R_c`` the
    data's size as centred) could hide one."""
    if colnorm is None or np.ndim(colnorm) == 0:
        colnorm = _colnorms(X)
    ynorm = math.sqrt(float(y @ y))
    R = _resid_scale(colnorm, w, ynorm)
    scale = np.maximum(colnorm, R)
    scale *= R
    np.maximum(scale, 1e-300, out=scale)
    supp = w > 0
    mu = float(g @ w)
    a = mu - g  # > 0 where moving weight to donor j lowers SSR
    stat = float(_max(np.abs(a[supp]) / scale[supp])) if supp.any() else 0.0
    dual = float(_max(np.maximum(0.0, a) / scale))
    prim = max(abs(float(_sum(w)) - 1.0), max(0.0, -float(_min(w))))
    kkt = max(prim, stat, dual)
    gap = 2.0 * max(0.0, float(_max(a)))  # the gradient of SSR is 2g
    geo = None
    if ssr is not None and (gap > GAP_RTOL * ssr or R_c is not None and
                            10.0 * _EPS * math.sqrt(len(w)) * R_c * R_c > GAP_RTOL * ssr):
        geo = _fit_geometry(X, w, ssr, a, R_c or 0.0)  # ((R_fit, R_int), gap, resolved gap)
        gap = min(gap, geo[1])
    if return_scale:
        return kkt, gap, geo
    return kkt, gap


def _fit_geometry(X, w, ssr, a=None, R_c=0.0):
    """What the fit's own geometry proves, seen from the fit ``f = X w`` (no choice of centre
    changes it).  Returns ``((R_fit, R_int), gap, resolved_gap)``.

    Weight caps.  Any ``w'`` with ``SSR(w') <= SSR(w)`` -- the optimum among them -- has
    ``||X w' - f|| <= 2 sqrt(SSR(w))``; with ``d_k = ||x_k - f||``, since
    ``w'_k (x_k - f) = (X w' - f) - sum_{j != k} w'_j (x_j - f)``, its weight on donor k is at most
    ``u_k = (2 sqrt(SSR) + max_{j != k} d_j) / d_k`` (and 1).  Several huge donors could cancel one
    another, so for each block H above a jump of 1e3 in the sorted distances, the smallest singular
    value of ``X_H - f`` caps them together: ``||w'_H|| <= (2 sqrt(SSR) + max_{j not in H} d_j) / sigma``.

    ``gap``: by convexity ``SSR(w) - SSR* <= 2 sum_k a_k w*_k`` (``a = g'w - g``), so the largest
    value of ``2 sum_k a_k w'_k`` over the simplex with ``w'_k <= u_k`` (a fractional knapsack:
    largest ``a_k`` first) bounds it.  For a donor 1e6 times the others' size ``u_k`` is ~1e-6 and the
    rounding noise of its gradient entry (~ eps d_k R) contributes ~ eps R^2.

    ``R_fit = max(sqrt(SSR), sum_j w_j d_j)``: the residual and the support's spread -- the scale of
    the residual's rounding in the best centring (at the fit); ``R_int = max(R_fit, max_k d_k u_k)``:
    the largest size at which a donor can enter the fit, which that rounding multiplies in the
    gradient.

    ``resolved_gap``: the same knapsack on ``a_k - nu_k``, with
    ``nu_k = 4 eps ((|S| + 1) R_c + T sqrt(SSR)) d_k`` a bound on the rounding error of
    ``a_k = (f - x_k)' r`` (the residual, computed in data of size ``R_c``, is off by
    ``<= eps (|S| + 1) R_c``; the dot product adds ``<= eps T d_k ||r||``): the part of the gap that
    the data's precision can resolve.  The kernel certifies a fit when it is small -- every donor's
    descent is within its own rounding error, or what remains is tiny -- so that a huge donor's noise
    excuses only its own entry, never a real gap on another donor."""
    J = X.shape[1]
    r = math.sqrt(max(ssr, 0.0))
    S = (w > 0).nonzero()[0]
    f = X[:, S] @ w[S]
    D = X - f[:, None]  # directly: the expanded form loses ~sqrt(eps) ||x_k|| to cancellation
    d = np.sqrt(_sum(D * D, axis=0))
    b0 = 2.0 * r
    if J > 1:
        top = np.argsort(d)[-2:]
        other = np.full(J, float(d[top[-1]]))
        other[top[-1]] = float(d[top[0]])
    else:
        other = np.zeros(J)
    u = np.minimum(1.0, np.divide(b0 + other, d, out=np.ones(J), where=d > 0))
    srt = np.sort(d)
    for i in np.flatnonzero(srt[1:] > 10.0 * np.maximum(srt[:-1], b0))[:12]:
        H = d > srt[i]
        if 1 < H.sum() <= min(X.shape[0], 50):
            sig = np.linalg.svd(D[:, H], compute_uv=False)[-1]
            if sig > 0:
                u[H] = np.minimum(u[H], (b0 + float(srt[i])) / sig)
    R_fit = max(r, float(d[S] @ w[S]) if len(S) else 0.0)  # residual and support spread
    scales = (R_fit, max(R_fit, float(_max(d * u))))
    if a is None:
        return scales, math.nan, math.nan
    # rounding of a_k = (f - x_k)' r: the residual is off by <= eps (|S| + 1) R_c (summing |S| + 1
    # terms of size <= R_c), and the dot product adds <= eps T d_k ||r||; a factor 4 of margin
    nu = (4.0 * _EPS * ((len(S) + 1) * R_c + X.shape[0] * r)) * d
    return scales, _knapsack_gap(a, u), _knapsack_gap(a - nu, u)


def _knapsack_gap(a, u):
    """``2 max sum_k a_k w_k`` over the simplex with ``w_k <= u_k`` (fill the largest ``a_k`` first)."""
    order = np.argsort(-a)
    cap = np.cumsum(u[order])
    k = int(np.searchsorted(cap, 1.0))  # fill order[:k] fully, order[k] partly
    if k >= len(a):  # the caps hold the optimum, so they sum to >= 1; rounding aside: the plain gap
        return 2.0 * max(0.0, float(_max(a)))
    filled = order[:k]
    val = float(a[filled] @ u[filled]) + float(a[order[k]]) * (1.0 - (float(cap[k - 1]) if k else 0.0))
    return 2.0 * max(0.0, val)


def intrinsic_scale(X, w, ssr):
    """The fit's own scales ``(R_fit, R_int)`` (see :func:`_fit_geometry`): the residual and support
    spread, and the largest size at which a donor can enter."""
    return _fit_geometry(X, w, ssr)[0]


def certified(gap, objective, R, J, R_c=0.0, T=1, R2=None) -> bool:
    """The scale-honest convergence test.  True when the proven distance to the optimum ``gap`` is

    * at most ``GAP_RTOL`` of the objective, or
    * below the rounding floor of the gradient, ``GAP_FLOOR eps sqrt(J) R R2`` (default ``R2 = R``).
      The kernel passes the fit's own scales (:func:`intrinsic_scale`): ``R`` the residual and
      support spread, ``R2`` the largest size at which a donor can enter -- what the best centring
      (at the fit) reaches; a fit computed in a poor centring misses it and is re-solved by
      :func:`simplex_ls`; or
    * below the rounding level of the SSR itself, ``GAP_FLOOR T (eps R_c)^2`` (``R_c``: the size
      of the data as centred): an exact fit, whose residual is rounding noise."""
    floor = GAP_FLOOR * _EPS * (math.sqrt(J) * R * (R if R2 is None else R2) + T * _EPS * R_c * R_c)
    return bool(gap <= GAP_RTOL * abs(objective) + floor)


def _equilibrated_ref(X, S, colnorm=None):
    """The reference donor of the elimination ``z_r = 1 - sum(rest)``: the support's smallest column
    (subtracting a huge column from the others would bury them), and the rest in order."""
    S = np.asarray(S)
    if colnorm is not None:
        i = int(colnorm.take(S).argmin())
    else:
        XS = X[:, S]
        i = int(_sum(XS * XS, axis=0).argmin())
    return i, S[i], np.concatenate((S[:i], S[i + 1:]))


def _solve_lstsq(X, y, S):
    """Equality-constrained LS on columns S from X (SVD on equilibrated columns; minimum-norm if
    degenerate).  Returns the weights in the order of ``S``."""
    if len(S) == 1:
        return np.ones(1)
    i, r, rest_idx = _equilibrated_ref(X, S)
    xr = X[:, r]
    A = X[:, rest_idx] - xr[:, None]
    d = np.sqrt(_sum(A * A, axis=0))
    d[d == 0.0] = 1.0
    rest = np.linalg.lstsq(A / d, y - xr, rcond=None)[0] / d
    return np.insert(rest, i, 1.0 - rest.sum())


class _Bordered:
    """The bordered KKT system [[G, 1], [1', 0]] z = [c; 1] of all donors; :meth:`system` returns
    the sub-system on rows/columns ``S`` (``S`` ends with the border index J) as fresh arrays.
    Small problems keep the whole bordered matrix (two ``take`` calls per solve); large ones, and
    a donor block ``D`` of a shared Gram matrix, build each sub-system from its rows alone --
    O(J |S|) per solve, never an O(J^2) copy of G."""

    __slots__ = ("G", "c", "D", "K", "rhs")

    def __init__(self, G, c, D=None):
        self.G, self.c, self.D = G, c, D  # D: the donors' rows / columns of a shared G (or None)
        self.K = self.rhs = None
        J = G.shape[0]
        if D is None and J <= _BORDER_WHOLE_UPTO:
            K = np.empty((J + 1, J + 1))
            K[:J, :J] = G
            K[J, :J] = 1.0
            K[:J, J] = 1.0
            K[J, J] = 0.0
            rhs = np.empty(J + 1)
            rhs[:J] = c
            rhs[J] = 1.0
            self.K, self.rhs = K, rhs

    def system(self, S):
        if self.K is not None:
            return self.K.take(S, 0).take(S, 1), self.rhs.take(S)
        Sd = S[:-1]
        k = len(Sd)
        rows = Sd if self.D is None else self.D.take(Sd)
        K = np.empty((k + 1, k + 1))
        K[:k, :k] = self.G.take(rows, 0).take(rows, 1)
        K[k, :k] = 1.0
        K[:k, k] = 1.0
        K[k, k] = 0.0
        r = np.empty(k + 1)
        r[:k] = self.c.take(Sd)
        r[k] = 1.0
        return K, r


# the whole bordered matrix is kept (and copied once per fit) up to this many donors
_BORDER_WHOLE_UPTO = 400


def _solve(Kb, X, y, S, safe=False, colnorm=None):
    """min ||y - X_S z||^2 s.t. sum z = 1, via the bordered KKT system of the Gram matrix.

    ``S`` ends with the border index J (see :class:`_Bordered`).  Falls back to
    the SVD solve on X when the system is singular or its answer does not
    satisfy sum z = 1 (a near-singular system).  The sum check is made only
    with ``safe=True``: the fast pass relies on the final certificate, and a fit
    whose certificate fails is redone in safe mode (see :func:`simplex_ls_gram`)."""
    k = len(S) - 1
    if k == 1:
        return np.ones(1)
    if X is None:  # the programme is (G, c) alone (a linear term in c): no X to fall back on
        return _solve_bordered_lstsq(Kb, S)
    if colnorm is not None:
        n = colnorm.take(S[:-1])
        if _max(n) > 1e6 * _min(n):  # wildly different column sizes: the Gram system is unreliable
            return _solve_lstsq(X, y, S[:-1])
    K, r = Kb.system(S)
    _, _, sol, info = dgesv(K, r, overwrite_a=1, overwrite_b=1)
    z = sol[:k]
    if info != 0 or (safe and not abs(_sum(z) - 1.0) < 1e-8):  # the comparison also catches NaN
        return _solve_lstsq(X, y, S[:-1])
    return z


def _solve_bordered_lstsq(Kb, S):
    """The subproblem on S from the bordered system itself (dgesv, or its minimum-norm least-squares
    solution when singular): ``min z'G_S z/2 - c_S'z, sum z = 1`` for any ``c``."""
    K, r = Kb.system(S)
    _, _, sol, info = dgesv(K.copy(), r.copy(), overwrite_a=1, overwrite_b=1)
    if info != 0 or not abs(_sum(sol[:-1]) - 1.0) < 1e-8:
        sol = np.linalg.lstsq(K, r, rcond=None)[0]
    return sol[:-1]


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
        return _rescaled(simplex_ls(X / s, y / s, max_iter=max_iter), s)
    fit = simplex_ls_gram(Xc.T @ Xc, Xc.T @ yc, Xc, yc, max_iter=max_iter)
    w = fit.weights
    centre_ok = fit.centre_ratio <= 1e3
    if fit.converged and centre_ok:
        return fit
    # Not certified, or certified only by the rounding floor (an exact fit, or a floor that the
    # centre inflated).  When donors' sizes differ wildly (some ~0, some huge) no fixed centre suits
    # every column: centre at the current fit X w (a point of the hull, on the residual's scale)
    # and solve again; keep the certified one, else the lower SSR.
    m = X @ fit.weights
    Xc2, yc2 = X - m[:, None], y - m
    if not np.isfinite(Xc2).all():
        return fit
    other = simplex_ls_gram(Xc2.T @ Xc2, Xc2.T @ yc2, Xc2, yc2, max_iter=max_iter)
    r1 = Xc2 @ w - yc2  # both SSRs in the same (better) centring
    ssr1 = float(r1 @ r1)
    first_ok = fit.converged and centre_ok
    if (other.converged, -other.ssr) >= (first_ok, -ssr1) or other.ssr < ssr1 - 2 * other.duality_gap:
        return other
    return SimplexFit(weights=w, ssr=ssr1, kkt_violation=fit.kkt_violation, duality_gap=fit.duality_gap,
                      n_iter=fit.n_iter, converged=first_ok)


def _rescaled(fit, s):
    """A fit of the data divided by ``s``, reported in the data's units (SSR and gap times s^2;
    inf where that is not representable -- the weights and the certificate are unaffected)."""
    with np.errstate(over="ignore"):
        return SimplexFit(weights=fit.weights, ssr=fit.ssr * s * s, kkt_violation=fit.kkt_violation,
                          duality_gap=fit.duality_gap * s * s, n_iter=fit.n_iter, converged=fit.converged,
                          centre_ratio=fit.centre_ratio)


def simplex_ls_gram(G, c, X, y, *, max_iter=None, safe=False, polish=True, donors=None) -> SimplexFit:
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
    Dix = None if donors is None else np.asarray(donors, dtype=np.intp)
    J = G.shape[0] if Dix is None else len(Dix)
    if J == 0:
        raise ValueError("simplex_ls: no donors (X has zero columns)")
    # G is the donors' Gram matrix, or (donors given) a shared Gram matrix of which the donors'
    # rows and columns are used -- read in place, never copied whole

    def gram_w(w, Sd):
        """G_donors @ w for w zero off Sd: O(J |Sd|) from the support's columns."""
        if Dix is None:
            return G.take(Sd, 1) @ w.take(Sd) if len(Sd) < J // 4 else G @ w
        return G.take(Dix.take(Sd), 1).take(Dix, 0) @ w.take(Sd)
    if max_iter is None:
        max_iter = 10 * J + 50
    diag = G.diagonal() if Dix is None else G.diagonal().take(Dix)
    diag_max = float(_max(diag))
    # |G_ij| <= max_i G_ii (Cauchy-Schwarz), so this bounds every entry of G and c's scale
    gscale = max(diag_max, float(_max(np.abs(c))), 1e-300)
    colnorm = np.sqrt(np.maximum(diag, 0.0))  # ||x_j||: each donor's own scale
    inv_norm = 1.0 / np.maximum(colnorm, 1e-300)
    ynorm = math.sqrt(float(y @ y))
    tcoef = 1e3 * _EPS * J ** 0.5  # entering tolerance of donor j: tcoef * R * (||x_j|| + R)
    tnorm = tcoef * colnorm
    cmax = float(_max(colnorm))
    # donors of wildly different sizes: per-donor tolerances, pricing per unit norm, and solves that
    # check the support's spread; otherwise one tolerance (the largest donor's) and plain pricing
    wide = cmax > 1e3 * max(float(_min(colnorm)), 1e-300)
    solve_norms = colnorm if wide else None
    Xs = X if polish else None  # without polish, (G, c) define the programme: solves stay in them
    Kb = _Bordered(G, c, Dix)

    # start at the best single donor; distances from X directly, since diag(G) - 2c loses
    # tiny distances against ||y||^2 (an exact copy of y must beat a near copy)
    d = diag - 2.0 * c  # squared distance to y, less ||y||^2
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
        # half gradient of SSR; w is zero off the support, so G @ w needs only its columns:
        # O(J |S|) instead of O(J^2) per iteration
        g = gram_w(w, S[:-1]) - c
        g -= float(g @ w)  # reduced: g_j - mu, negative where donor j is a descent direction
        R = max(ynorm, float(colnorm @ w))
        g[in_S] = np.inf
        if banned is not None:
            g[banned] = np.inf
        # a donor enters only if its descent exceeds the rounding error of its own gradient entry
        # (~ eps ||x_j|| R): one huge column neither hides the others nor enters for noise
        if wide:
            cand = (g < (-tcoef * R * R) - R * tnorm).nonzero()[0]
            if cand.size == 0:
                converged = True
                break
            # steepest per unit column norm
            k = int(cand[(g.take(cand) * inv_norm.take(cand)).argmin()]) if cand.size > 1 else int(cand[0])
        else:
            k = int(g.argmin())
            if not g[k] < -tcoef * R * (cmax + R):
                converged = True
                break
        S_new = np.concatenate((S[:-1], (k, J)))
        z = _solve(Kb, Xs, y, S_new, safe, solve_norms)
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
            z = _solve(Kb, Xs, y, S, safe, solve_norms)
            n_iter += 1
        else:
            w[S[:-1]] = z
            continue
        break  # the iteration cap interrupted the inner loop: not converged

    if not polish:
        g = gram_w(w, np.flatnonzero(w)) - c
        kkt, gap = _kkt_from_gradient(g, w, X, y, colnorm)
        obj = float(w @ (g - c)) + float(y @ y)
        ok = converged and certified(gap, obj, _resid_scale(colnorm, w, ynorm), J)
        return SimplexFit(weights=w, ssr=obj, kkt_violation=kkt,
                          duality_gap=gap, n_iter=n_iter, converged=ok)
    r = X @ w - y
    w, r = _polish(X, y, w, r, colnorm)
    ssr = float(r @ r)
    R_c = _resid_scale(colnorm, w, ynorm)
    kkt, gap, geo = _kkt_from_gradient(X.T @ r, w, X, y, colnorm, ssr, return_scale=True, R_c=R_c)
    if geo is None:
        # the usual case: a relatively tiny gap whose own rounding (~ eps R_c^2) is tinier still;
        # no need for the geometry pass (centre_ratio 1: the centre did not matter)
        ok, ratio = converged, 1.0
    else:
        (R_fit, R_int), _, resolved = geo
        # certified to working precision: the gap the data can resolve is relatively tiny, or the fit
        # is exact to working precision -- SSR(w) - SSR* <= SSR(w), and the residual is within 1e4
        # ulps of the fit's own scale per entry (an ill-conditioned support costs digits; a centre far
        # from the fit cannot inflate this: min(R_c, R_int))
        exact = (1e4 * _EPS * math.sqrt(X.shape[0]) * (int(np.count_nonzero(w)) + 1) * min(R_c, R_int)) ** 2
        ok = converged and min(resolved, ssr) <= GAP_RTOL * ssr + exact
        ratio = R_c / R_int if R_int > 0 else math.inf
    fit = SimplexFit(weights=w, ssr=ssr, kkt_violation=kkt, duality_gap=gap,
                     n_iter=n_iter, converged=ok, centre_ratio=ratio)
    if not safe and not (kkt <= 1e-10 and ok):
        other = simplex_ls_gram(G, c, X, y, max_iter=max_iter, safe=True, donors=donors)
        if (other.converged, -other.ssr, -other.kkt_violation) > (fit.converged, -fit.ssr, -kkt):
            return other
    return fit


def _polish(X, y, w, r0, colnorm=None):
    """Re-solve the final support from X (QR on equilibrated columns, not the Gram) and keep it if
    it is feasible and no worse; this removes the Gram matrix's squared conditioning, and puts the
    weights exactly on sum = 1.  Returns the weights and their residual ``X w - y``."""
    S = (w > 0).nonzero()[0]
    if len(S) <= 1:
        if len(S) == 1 and w[S[0]] != 1.0:
            w = np.zeros(len(w))
            w[S[0]] = 1.0
            return w, X[:, S[0]] - y
        return w, r0
    i, ref, rest_idx = _equilibrated_ref(X, S, colnorm)
    xr = X[:, ref]
    A = X[:, rest_idx] - xr[:, None]
    if A.shape[0] >= A.shape[1]:
        d = np.sqrt(_sum(A * A, axis=0))
        d[d == 0.0] = 1.0
        _, x, info = dgels(A / d, y - xr)
        if info == 0:
            rest = x[: A.shape[1]] / d
            z0 = 1.0 - _sum(rest)
            if z0 > 0 and _min(rest) > 0:
                cand = np.zeros(len(w))
                cand[ref] = z0
                cand[rest_idx] = rest
                r1 = X @ cand - y
                if r1 @ r1 <= r0 @ r0 * (1 + 1e-12) + 1e-300:
                    return cand, r1
    t = float(_sum(w))
    if abs(t - 1.0) > 4 * _EPS * len(S):  # off the simplex by rounding: back onto it
        w = w / t
        r0 = X @ w - y
    return w, r0


# donors above which a shared-Gram refit reads the donors' block in place instead of copying it
# (measured on factor panels, T = 100: the copy wins below a few hundred donors)
_IN_PLACE_FROM = 300


class SharedGram:
    """One Gram matrix for many fits on the same panel (placebo, leave-one-out, leave-two-out):
    ``Y`` (T, N) is centred once by its per-period median over all units (a common shift changes no
    residual) and, if its entries would under/overflow the Gram matrix, divided by their largest
    size.  :meth:`fit` solves target ``k`` on donors ``D`` from the shared Gram, and falls back to
    the single-fit path (:func:`simplex_ls` on the raw columns, with its own centring) when the
    shared centring does not let the fit be certified.  SSRs and gaps are in the data's units."""

    __slots__ = ("Y", "Yc", "G", "scale")

    def __init__(self, Y):
        self.Y = np.asarray(Y, dtype=float)
        Yc, _ = center(self.Y)
        s = float(_max(np.abs(Yc), axis=None)) if Yc.size else 0.0
        self.scale = s if 0.0 < s and not 1e-100 < s < 1e100 else 1.0
        self.Yc = np.ascontiguousarray(Yc / self.scale if self.scale != 1.0 else Yc)
        self.G = self.Yc.T @ self.Yc

    def fit(self, k, D) -> SimplexFit:
        G = self.G
        if len(D) > _IN_PLACE_FROM:  # the donors' block of the shared Gram read in place: no (N-1)^2 copy
            fit = simplex_ls_gram(G, G[D, k], self.Yc[:, D], self.Yc[:, k], donors=D)
        else:  # small panels: a contiguous copy is cheaper than indexing in place
            fit = simplex_ls_gram(G.take(D, 0).take(D, 1), G[D, k], self.Yc[:, D], self.Yc[:, k])
        if self.scale != 1.0:
            fit = _rescaled(fit, self.scale)
        if not fit.converged:
            fit = simplex_ls(self.Y[:, D], self.Y[:, k])
        return fit


def placebo_fits(Y, targets=None, donor_mask=None):
    """Batched fits that share one Gram matrix (:class:`SharedGram`).

    Y : (T, N) array of all units' fitting-period outcomes.
    targets : iterable of column indices to use as targets (default: all).
    donor_mask : optional (N,) boolean array of units allowed as donors
        (the target itself is always excluded).
    Returns a list of ``(target, donor_index_array, SimplexFit)``; a fit that could not be
    certified has ``converged=False`` (callers count and report them).
    """
    shared = SharedGram(Y)
    N = shared.Y.shape[1]
    if targets is None:
        targets = range(N)
    base = np.ones(N, dtype=bool) if donor_mask is None else np.asarray(donor_mask, dtype=bool)
    out = []
    for i in targets:
        m = base.copy()
        m[i] = False
        D = m.nonzero()[0]
        out.append((i, D, shared.fit(i, D)))
    return out
