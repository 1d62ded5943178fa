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


def simplex_ls_gram(G, c, X, y, *, max_iter=None, safe=False, polish=True, donors=None, start=None) -> SimplexFit:
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

    ``start``: an optional support (donor indices) to start from -- e.g. the previous solution's,
    when a search solves a sequence of nearby problems.  The search starts at the subproblem optimum
    on that support (moved back into the simplex by the usual ratio steps) instead of at the best
    single donor.  The answer is the same function of the optimal support, so only the number of
    steps changes; a start whose solve is not finite is ignored.
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
    if start is not None and len(start) > 1:
        # from the barycentre of the given support (feasible), the same steps as after an entering donor
        S0 = np.unique(np.asarray(start, dtype=np.intp))
        z = _solve(Kb, Xs, y, np.concatenate((S0, (J,))), safe, solve_norms)
        if np.isfinite(z).all():  # else: the cold start
            w = np.zeros(J)
            w[S0] = 1.0 / len(S0)
            in_S = np.zeros(J, dtype=bool)
            in_S[S0] = True
            S, z, n_iter = _toward_optimum(Kb, Xs, y, w, np.concatenate((S0, (J,))), in_S, z, 1, max_iter,
                                           safe, solve_norms)
            if _min(z) > 0:
                w[S[:-1]] = z
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
        S, z, n_iter = _toward_optimum(Kb, Xs, y, w, S, in_S, z, n_iter, max_iter, safe, solve_norms)
        if _min(z) > 0:
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
    fit = _polished_fit(X, y, w, colnorm, ynorm, n_iter, converged)
    kkt = fit.kkt_violation
    if not safe and not (kkt <= 1e-10 and fit.converged):
        other = simplex_ls_gram(G, c, X, y, max_iter=max_iter, safe=True, donors=donors)
        if (other.converged, -other.ssr, -other.kkt_violation) > (fit.converged, -fit.ssr, -kkt):
            return other
    return fit


def _toward_optimum(Kb, Xs, y, w, S, in_S, z, n_iter, max_iter, safe, solve_norms):
    """The active-set step into the simplex: from the feasible ``w`` on the support ``S`` (ending with
    the border index), ratio steps towards the subproblem optimum ``z``, dropping the weights that hit
    zero and re-solving, until ``z > 0`` or the iteration cap.  Updates ``w`` and ``in_S`` in place
    (not ``w`` on the final support: the caller sets ``w[S[:-1]] = z`` when ``z > 0``); returns
    ``(S, z, n_iter)``."""
    J = len(w)
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
    return S, z, n_iter


def _polished_fit(X, y, w, colnorm, ynorm, n_iter, converged) -> SimplexFit:
    """The end of an active-set search: the support re-solved from ``X`` (:func:`_polish`) and the
    fit's certificate.  A function of the support (the sorted indices of ``w > 0``), ``X`` and ``y``
    alone whenever the polish is kept -- not of the path that found the support."""
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
    return SimplexFit(weights=w, ssr=ssr, kkt_violation=kkt, duality_gap=gap,
                      n_iter=n_iter, converged=ok, centre_ratio=ratio)


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

    def fit_many(self, targets, donor_mask=None) -> list:
        """``[(donors, fit)]`` for many targets at once, ``donors`` the allowed units of ``donor_mask``
        (default: all) but the target, as :meth:`fit` would give them: the active-set searches run
        in one lockstep batch (:func:`_batch_search`), and each found support is finished as
        :meth:`fit` finishes it -- re-solved from the data by QR, and certified -- in one batch too
        (:func:`_batch_finish`).  A search or finish the batch cannot make as the single fit would
        (and a fit whose certificate is not clean) is made by :meth:`fit` itself."""
        targets = np.asarray(targets, dtype=np.intp).reshape(-1)
        F, N = len(targets), self.G.shape[0]
        ar = np.arange(F)
        excl = np.empty((F, N), dtype=bool)
        excl[:] = False if donor_mask is None else ~np.asarray(donor_mask, dtype=bool)
        excl[ar, targets] = True
        allowed = ~excl
        J = _sum(allowed, axis=1)
        same = F > 0 and int(_min(J)) == int(_max(J)) > 0
        donors = list(allowed.nonzero()[1].reshape(F, -1)) if same else [np.flatnonzero(a) for a in allowed]
        Yc = self.Yc
        Yt = Yc[:, targets]
        yy = _sum(Yt * Yt, axis=0)
        W = np.empty((F, N))
        n_iter = np.empty(F, dtype=np.intp)
        done = np.empty(F, dtype=bool)
        for a in range(0, F, _BATCH_CHUNK):  # bounded memory: (chunk, support, support) systems per round
            b = a + _BATCH_CHUNK
            W[a:b], n_iter[a:b], done[a:b] = _batch_search(self.G, targets[a:b], excl[a:b], yy[a:b])
        fits = [None] * F
        fin = done.nonzero()[0]
        if fin.size:
            colnorm = np.sqrt(np.maximum(self.G.diagonal(), 0.0))
            Wp, ssr, kkt, gap, ok = _batch_finish(Yc, targets[fin], W[fin], excl[fin], colnorm, yy[fin])
            Wd = Wp[allowed[fin]].reshape(len(fin), -1) if same else None
            for i, f, o, s2, k2, g2, it in zip(range(len(fin)), fin.tolist(), ok.tolist(), ssr.tolist(),
                                               kkt.tolist(), gap.tolist(), n_iter[fin].tolist()):
                if o:
                    fit = SimplexFit(weights=Wd[i] if same else Wp[i, donors[f]], ssr=s2, kkt_violation=k2,
                                     duality_gap=g2, n_iter=it, converged=True)
                else:  # the single fit's own finish (a polish not kept, or the geometry pass)
                    D = donors[f]
                    fit = _polished_fit(Yc[:, D], Yt[:, f], W[f, D], colnorm[D], math.sqrt(float(yy[f])), it, True)
                    if not (fit.kkt_violation <= 1e-10 and fit.converged):
                        continue
                fits[f] = fit if self.scale == 1.0 else _rescaled(fit, self.scale)
        return [(D, self.fit(int(k), D) if fit is None else fit) for k, D, fit in zip(targets, donors, fits)]


# placebo_fits batches the targets' searches (SharedGram.fit_many) up to this many units -- above it one
# target after another, as before (the batch also wins there, 3x at N = 500, T = 100, but its padded
# systems and extended Gram matrix grow the peak memory) -- in lockstep batches of this many targets
_BATCH_UPTO = 400
_BATCH_CHUNK = 128


def _batch_search(G, targets, excl, yy):
    """:func:`_lockstep` with the floating-point flags of its solves ignored (a singular system's NaN
    is caught and its search handed back)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _lockstep(G, targets, excl, yy)


def _lockstep(G, targets, excl, yy):
    """The active-set search of :func:`simplex_ls_gram` (fast pass, donors of similar sizes) run for
    many targets of one shared Gram matrix in lockstep: each round makes one step of every unfinished
    search -- a ratio step towards its last subproblem solution, or pricing -- then one solve of each
    search's bordered KKT system, all padded to the largest support and solved in one batched call.
    Each search makes the single fit's steps (same entering rule and tolerances, same ratio test, same
    ban of dependent candidates); only the rounding of the batched products differs.

    ``G``: (N, N) shared Gram matrix; ``targets``: (F,) target columns; ``excl``: (F, N) units that
    may not be donors of each search (the target among them); ``yy``: (F,) ``||y||^2``.
    Returns ``(W, n_iter, done)``: the weights over all N units (zero off the donors), the solves
    made, and whether the search ended by the entering test; the others are left to the single fit
    (iteration cap, non-finite or singular solves, donors of wildly different sizes, a target that
    (nearly) copies a donor: the single fit's own handling of those cases)."""
    F, N = excl.shape
    diag = G.diagonal()
    colnorm = np.sqrt(np.maximum(diag, 0.0))
    # the bordered matrix over an extended index: units 0..N-1, the border N, padding N+1.. (identity)
    NX = 2 * N + 2
    Gx = np.zeros((NX, NX))
    Gx[:N, :N] = G
    Gx[N, :N] = 1.0
    Gx[:N, N] = 1.0
    Gx[N + 1:, N + 1:] = np.eye(N + 1)
    C = G[:, targets].T  # row f: c = X'y of search f over all units
    J = N - excl.sum(axis=1)
    cmax = np.where(excl, -np.inf, colnorm).max(axis=1)
    cmin = np.where(excl, np.inf, colnorm).min(axis=1)
    gscale = np.maximum(np.maximum(np.where(excl, -np.inf, diag).max(axis=1),
                                   np.where(excl, -np.inf, np.abs(C)).max(axis=1)), 1e-300)
    d = diag - 2.0 * C
    d[excl] = np.inf
    j0 = d.argmin(axis=1)
    alone = (J < 2) | (cmax > 1e3 * np.maximum(cmin, 1e-300)) | (d[np.arange(F), j0] + yy <= 1e-8 * gscale)
    W_out = np.zeros((F, N))
    it_out = np.zeros(F, dtype=np.intp)
    done = np.zeros(F, dtype=bool)

    ids = np.flatnonzero(~alone)  # the live searches, compact
    n = len(ids)
    ar = np.arange(n)
    # the state of every live search, packed so that dropping finished searches is three copies:
    # floats [w, z (the last subproblem solution), c] over the extended index (c: 1 at the border),
    # booleans [support, not priced (excluded, or banned until the next progress), excluded], and
    # per search [target row, ||y||, -entering coefficient, largest column norm, iteration cap].
    # Every live search makes one solve per round, so its solves so far are the round count.
    P = np.zeros((n, 3, NX))
    P[ar, 0, j0[ids]] = 1.0
    P[:, 1] = P[:, 0]
    P[:, 2, :N] = C[ids]
    P[:, 2, N] = 1.0
    B = np.empty((n, 3, N), dtype=bool)
    B[:, 0] = P[:, 0, :N] > 0
    B[:, 1] = B[:, 2] = excl[ids]
    q = np.column_stack((ids, np.sqrt(yy[ids]), (-1e3 * _EPS) * np.sqrt(J[ids]), cmax[ids], 10 * J[ids] + 50))
    dropping = np.zeros(n, dtype=bool)
    ndrop = 0
    banned = False  # any ban outstanding
    rounds, min_cap = 0, int(_min(q[:, 4])) if n else 0
    Gt = G.T  # G w = w G' (row-wise): every search's gradient in one product
    Gf = Gx.ravel()
    slot = np.arange(N + 2)
    pad = N + 1 + slot
    while n:
        W, Z, Sm = P[:, 0, :N], P[:, 1, :N], B[:, 0]
        if ndrop:  # towards the subproblem optimum, dropping the weights that hit zero
            # (a search not dropping has z = w > 0 on its support: no negative entry, no change)
            neg = Z <= 0
            neg &= Sm
            ratios = np.ones((n, N))  # w / (w - z) <= 1 where z <= 0 < w
            np.divide(W, W - Z, out=ratios, where=neg)
            alpha = ratios.min(axis=1)[:, None]
            Wn = Z - W
            Wn *= alpha
            Wn += W
            drop = Wn <= 0
            drop |= neg & (ratios <= alpha * (1 + 1e-12))
            keep = Sm & ~drop
            if not _min(_sum(keep, axis=1)):  # cannot happen in exact arithmetic
                for r in np.flatnonzero(~keep.any(axis=1)):
                    keep[r, np.flatnonzero(Sm[r])[int(np.argmax(Wn[r, Sm[r]]))]] = True
            np.multiply(Wn, keep, out=W)
            Sm[:] = keep
        # pricing (used for the searches not dropping): half gradient g = G w - c, reduced by g'w
        g = W @ Gt
        g -= P[:, 2, :N]
        g -= _sum(g * W, axis=1)[:, None]
        R = np.maximum(q[:, 1], W @ colnorm)
        g[Sm | B[:, 1]] = np.inf
        k = g.argmin(axis=1)
        enter = g[ar, k] < q[:, 2] * R * (q[:, 3] + R)
        if ndrop:
            enter &= ~dropping
            finish = ~(dropping | enter)
        else:
            finish = ~enter
        leave = finish
        if rounds >= min_cap:  # at the iteration cap (the single fit stops before pricing): left alone
            capped = q[:, 4] <= rounds
            finish = finish & ~capped
            leave = leave | capped
        if leave.any():
            c = finish.nonzero()[0]
            f = q[c, 0].astype(np.intp)
            W_out[f] = W[c]
            it_out[f] = rounds
            done[f] = True
            live = ~leave
            P, B, q, k, enter, dropping = P[live], B[live], q[live], k[live], enter[live], dropping[live]
            n = len(q)
            if not n:
                break
            ar = np.arange(n)
            W, Z, Sm = P[:, 0, :N], P[:, 1, :N], B[:, 0]
        A = enter.nonzero()[0]
        kA = k[A]
        Sm[A, kA] = True
        # one solve per search: [[G_SS, 1], [1', 0]] [z; nu] = [c_S; 1] over [support (ascending),
        # border, padding], the padding's rows and columns those of the identity (unknowns 0, decoupled)
        cnt = _sum(Sm, axis=1)
        s = int(_max(cnt)) + 1
        idx = np.where(slot[:s] < cnt[:, None], np.argsort(~Sm, axis=1, kind="stable")[:, :s], pad[:s])
        idx[ar, cnt] = N
        Pf = P.reshape(-1)
        at = (ar * (3 * NX) + NX)[:, None] + idx  # z's entries in P (c's: + NX)
        sol = _solve_many(Gf[(idx * NX)[:, :, None] + idx[:, None, :]], Pf[at + NX])
        rounds += 1
        P[:, 1] = 0.0
        Pf[at] = sol
        if A.size:
            dep = ~(Z[A, kA] > 0)  # k (numerically) affinely dependent on the support: ban it
            if dep.any():
                Ad, kd = A[dep], kA[dep]
                Sm[Ad, kd] = False
                B[Ad, 1, kd] = True
                Z[Ad] = W[Ad]  # w unchanged: price again
                A = A[~dep]
                banned = True
            if banned:
                B[A, 1] = B[A, 2]  # progress lifts the bans
        infeas = Z <= 0
        infeas &= Sm
        dropping = infeas.any(axis=1)
        ndrop = int(_sum(dropping))
        if ndrop:
            feas = ~dropping
            W[feas] = Z[feas]
        else:
            W[:] = Z
        if not math.isfinite(float(_sum(sol, axis=None))):  # a singular or overflowing solve: left alone
            live = np.isfinite(sol).all(axis=1)
            P, B, q, dropping = P[live], B[live], q[live], dropping[live]
            ndrop = int(_sum(dropping))
            n = len(q)
            ar = np.arange(n)
    return W_out, it_out, done


try:  # numpy's batched LU solve without its wrapper (whose checks cost more than a small system)
    from numpy.linalg import _umath_linalg as _ula
    _gusolve = _ula.solve1  # (m, m), (m) -> (m): NaN for a singular system (under errstate "ignore")
except (ImportError, AttributeError):  # pragma: no cover - other numpy builds
    _gusolve = None


def _solve_many(K, r):
    """``K[i] x[i] = r[i]`` for a stack of small systems; rows of NaN where ``K[i]`` is singular (the
    caller ignores the floating-point flags: see :func:`_batch_search`)."""
    if _gusolve is not None:
        return _gusolve(K, r)
    try:
        return np.linalg.solve(K, r[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        x = np.full(r.shape, np.nan)
        for i in range(len(K)):
            _, _, xi, info = dgesv(K[i], r[i])
            if info == 0:
                x[i] = xi
        return x


def _positions(M, width, fill):
    """``(idx, count)``: per row of the boolean ``M``, its True columns in ascending order in the
    first ``count`` places of ``idx`` (n, width), the rest of ``idx`` from ``fill`` (broadcast)."""
    idx = np.empty((M.shape[0], width), dtype=np.intp)
    idx[:] = fill
    cs = np.cumsum(M, axis=1)
    r, c = M.nonzero()
    idx[r, cs[r, c] - 1] = c
    return idx, cs[:, -1]


def _batch_finish(Yc, targets, W, excl, colnorm, yy):
    """:func:`_polished_fit` for many searches of one centred panel ``Yc`` at once: each support
    re-solved from the data by QR (the reference donor eliminated, columns equilibrated; the systems
    padded with identity columns in extra rows, which leave the others' solution unchanged) and the
    fit's certificate.  Returns ``(W, ssr, kkt, gap, ok)``; a row with ``ok`` False (a polish not
    kept, or a certificate that needs :func:`_fit_geometry` or is not clean) is left to the single
    path."""
    m, N = W.shape
    T = Yc.shape[0]
    ar = np.arange(m)
    Y = Yc[:, targets]
    Sm = W > 0
    ref = np.where(Sm, colnorm, np.inf).argmin(axis=1)  # the support's smallest column
    rest = Sm.copy()
    rest[ar, ref] = False
    ok = np.ones(m, dtype=bool)
    Wp = W
    mc = rest.sum(axis=1)
    M = int(mc.max()) if m else 0
    if M:
        ridx, _ = _positions(rest, M, ref[:, None])  # padding: the reference itself (a zero column)
        xr = Yc[:, ref]  # (T, m)
        A = Yc[:, ridx].transpose(1, 0, 2) - xr.T[:, :, None]  # (m, T, M): the rest's columns less the reference
        d = np.sqrt(_sum(A * A, axis=1))
        d[d == 0.0] = 1.0
        # [A / d, y - x_ref] with a unit column in an extra row for each padding column; Householder QR
        # (R only): its last column holds Q'(y - x_ref), as in dgels, and the padding's unknowns are 0
        A3 = np.zeros((m, T + M, M + 1))
        np.divide(A, d[:, None, :], out=A3[:, :T, :M])
        A3[:, :T, M] = (Y - xr).T
        pr, pp = (np.arange(M) >= mc[:, None]).nonzero()
        A3[pr, T + pp, pp] = 1.0
        Rb = np.linalg.qr(A3, mode="r")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            x = _solve_many(np.ascontiguousarray(Rb[:, :M, :M]), np.ascontiguousarray(Rb[:, :M, M])) / d
        valid = np.arange(M) < mc[:, None]
        x[~valid] = 0.0
        z0 = 1.0 - _sum(x, axis=1)
        Wc = np.zeros((m, N))
        Wc[ar[:, None], ridx] = x
        Wc[ar, ref] = z0
        keep = (z0 > 0) & (np.where(valid, x, 1.0).min(axis=1) > 0)
        r0 = Yc @ W.T - Y
        r1 = Yc @ Wc.T - Y
        multi = mc > 0
        keep &= _sum(r1 * r1, axis=0) <= _sum(r0 * r0, axis=0) * (1 + 1e-12) + 1e-300
        keep &= mc <= T  # more columns than periods: the single fit's own handling
        ok = keep | ~multi
        Wp = np.where(keep[:, None], Wc, W)
    single = mc == 0
    if single.any():  # one donor: weight 1 exactly
        Wp = np.where(single[:, None], Sm, Wp)
    r = Yc @ Wp.T - Y  # (T, m)
    ssr = _sum(r * r, axis=0)
    g = (Yc.T @ r).T  # half gradient X'(Xw - y) over all units
    R = np.maximum(np.sqrt(yy), Wp @ colnorm)
    scale = np.maximum(colnorm, R[:, None])
    scale *= R[:, None]
    np.maximum(scale, 1e-300, out=scale)
    a = _sum(g * Wp, axis=1)[:, None] - g
    a[excl] = -np.inf
    supp = Wp > 0
    stat = np.where(supp, np.abs(a), 0.0) / scale
    dual = np.maximum(0.0, a) / scale
    kkt = np.maximum(np.maximum(stat.max(axis=1), dual.max(axis=1)), np.abs(_sum(Wp, axis=1) - 1.0))
    gap = 2.0 * np.maximum(0.0, a.max(axis=1))
    J = N - excl.sum(axis=1)
    geo = (gap > GAP_RTOL * ssr) | (10.0 * _EPS * np.sqrt(J) * R * R > GAP_RTOL * ssr)
    ok &= ~geo & (kkt <= 1e-10) & (_min(np.where(excl, 0.0, Wp), axis=1) >= 0)
    return Wp, ssr, kkt, gap, ok


def placebo_fits(Y, targets=None, donor_mask=None):
    """Batched fits that share one Gram matrix (:class:`SharedGram`); up to ``_BATCH_UPTO`` units the
    targets' active-set searches also run in lockstep (:meth:`SharedGram.fit_many`: the single fits'
    answers, at a fraction of their per-step overhead).

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
    if N <= _BATCH_UPTO:  # one lockstep batch of searches (SharedGram.fit_many)
        targets = list(targets)
        if len(targets) > 1:
            return [(i, D, f) for i, (D, f) in zip(targets, shared.fit_many(targets, base))]
    out = []
    for i in targets:
        m = base.copy()
        m[i] = False
        D = m.nonzero()[0]
        out.append((i, D, shared.fit(i, D)))
    return out
