"""The predictor-weight (V) search of covariate synthetic control, with bounds.

The bilevel problem (Malo, Eskelinen, Zhou & Kuosmanen 2024; see
:mod:`synthcontrol.solvers.bilevel` for the notation)::

    min_V  L_V(W*(V)) = ||Z1 - Z0 W*(V)||^2 / T
    W*(V) in argmin_{W in simplex} L_W(V, W) = (X1 - X0 W)' diag(v) (X1 - X0 W),   v in simplex

Everything here is built on one exact operation, :meth:`VProblem.inner`: the
lower level solved for a given ``v`` with ties broken toward the upper level
(the optimistic bilevel convention).  We use the epsilon-regularised (Tykhonov)
lower level of the paper, ``L_W + eps * L_V`` with a tiny relative ``eps``,
solved exactly by the active-set simplex kernel on the stacked matrix
``[sqrt(v) X0; sqrt(eps) Z0]``.  When ``L_W(V, .)`` has a unique minimiser the
answer is that minimiser up to O(eps); when it has many (a corner ``V`` whose
predictor the donors can match exactly), the regularisation picks the one with
the best outcome fit.  How far the returned ``W`` is from optimal for the lower
level is measured exactly and reported (``inner_gap``: ``L_W(W) - min L_W``,
the min computed by a separate exact solve).

Bounds, all proven:

* lower bound: the outcome-only optimum ``L(W**)`` (no ``W`` on the simplex does
  better, whatever ``V`` is);
* upper bound: ``L_V`` at any ``(V, W*(V))`` we evaluate;
* the LP of :func:`~synthcontrol.solvers.bilevel.outcome_bound_certificate`
  decides whether the lower bound is attained (then ``W**`` is optimal and the
  gap is 0);
* otherwise the global lower bound of :mod:`synthcontrol.solvers.global_bound`
  (exact Lagrangian bounds of every exact-match corner, SCIP on a convex MIQP
  of the non-degenerate KKT points) closes the gap when the answer is optimal.

Search strategies (the backends of :class:`~synthcontrol.SyntheticControl`):

``malo``
    certificate LP; the K corner solutions ``V = e_k``; a local search over
    ``log10 v`` (Nelder-Mead, derivative-free, because ``L_V(W*(V))`` is only
    piecewise smooth) started from the best corners and from equal weights.
``mscmt``
    seeded differential evolution over ``log10 v`` in ``[-8, 0]^K`` (as
    Becker & Kloessner's MSCMT), each candidate evaluated with the exact inner
    solve, then the same local polish.
``auto``
    the certificate first; then the corners and the global bound with the best
    corner as incumbent (usually a proof); if the gap is still open, a
    quasi-random design of starting points, each polished locally, and the
    bound again.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import differential_evolution, linprog, minimize
from scipy.optimize import nnls as _nnls
from scipy.stats import qmc

from .bilevel import outcome_bound_certificate
from .simplex import _colnorms, _kkt_from_gradient, _resid_scale, center, certified, simplex_ls, simplex_ls_gram

__all__ = ["VProblem", "BilevelFit", "solve_bilevel", "penalized_fit", "penalized_certificate",
           "flag_penalized_lambda", "PENALIZED_LAMBDAS", "PENALIZED_CV", "penalized_weights",
           "pensynth_lambdas", "holdout_split", "v_choices", "CANONICAL_V", "reported_v",
           "check_v_options", "MSCMT_BUDGET"]

CANONICAL_V = (False, "min.loss.w", "max.order")  # which V a covariate fit reports (MSCMT's determine_v)

_LOG_LO = -8.0  # smallest log10 weight the searches use (MSCMT's default lower bound on V is 1e-8)


@dataclass(frozen=True)
class BilevelFit:
    """The outcome of a V search: the answer, its bounds, and how it was found."""

    w: np.ndarray  # donor weights (J,)
    v: np.ndarray  # predictor weights (P,), sum 1
    loss_v: float  # upper level: mean squared outcome gap over the fit periods
    loss_w: float  # lower level: (X1 - X0 w)' diag(v) (X1 - X0 w) on the given (scaled) predictors
    lower_bound: float  # proven: no (V, W) does better than this (the best bound available)
    bound_gap: float  # loss_v - lower_bound >= 0: proven distance to the optimum at most this
    attained: bool  # bound_gap ~ 0: the answer is a certified optimum
    outcome_only_bound: float  # L(W**), the bound every V problem has
    bound_method: str  # "lp-certificate" | "global (corners + MIQP)" | "outcome-only"
    inner_gap: float  # L_W(w) - min_W L_W(v, W) >= 0 (exact), how far w is from optimal for v
    inner_gap_rel: float  # inner_gap / (||X1 - mean||^2 scale), unitless
    inner_optimal: bool  # w is on the simplex and optimal for v (inner_gap_rel <= 1e-9)
    v_agreement: float  # max |v_min_loss_w - v_max_order|: how well the data pin V down
    v_min_loss_w: np.ndarray | None
    v_max_order: np.ndarray | None
    backend: str
    n_evals: int
    seconds: float
    stages: dict = field(default_factory=dict)  # stage name -> best loss_v after it
    certificate: object = None  # the LP certificate of the lower bound
    global_bound: object = None  # GlobalBound, when computed
    extra: dict = field(default_factory=dict)
    # what ended the global bound's MIQP (GlobalBound.stopped_by): "optimal", "gap_limit", "node_limit",
    # "time_limit" (the caller's wall-clock cap bit: machine-dependent), "objective_limit" / "interrupted"
    # (proved nothing beats the incumbent), "infeasible", "error"; None when no MIQP was run
    global_bound_stopped_by: str | None = None


class VProblem:
    """One bilevel instance: scaled predictors ``X1 (P,)``, ``X0 (P, J)`` and
    outcomes ``Z1 (T,)``, ``Z0 (T, J)`` over the fit periods."""

    def __init__(self, X1, X0, Z1, Z0, *, eps=1e-6):
        X1 = np.asarray(X1, dtype=float)
        X0 = np.asarray(X0, dtype=float)
        Z1 = np.asarray(Z1, dtype=float)
        Z0 = np.asarray(Z0, dtype=float)
        if X0.ndim != 2 or X1.shape != (X0.shape[0],):
            raise ValueError(f"predictors: X0 must be (P, J) and X1 (P,), got {X0.shape} and {X1.shape}")
        if Z0.ndim != 2 or Z1.shape != (Z0.shape[0],) or Z0.shape[1] != X0.shape[1]:
            raise ValueError(f"outcomes: Z0 must be (T, J={X0.shape[1]}) and Z1 (T,), got {Z0.shape}, {Z1.shape}")
        self.X1, self.X0, self.Z1, self.Z0 = X1, X0, Z1, Z0
        self.P, self.J = X0.shape
        self.T = Z0.shape[0]
        # centring by the donors' mean is exact for both levels (weights sum to one)
        self._Xc, self._xc = center(X0, X1)
        self._Zc, self._zc = center(Z0, Z1)
        sx = float(np.mean(self._Xc ** 2)) or 1.0
        sz = float(np.mean(self._Zc ** 2)) or 1.0
        self.eps = float(eps)
        self._root_eps = math.sqrt(self.eps * sx / sz * self.P / self.T)
        self._zscale = self._root_eps
        self.n_evals = 0
        self._support = None  # the last inner solution's support (a warm start for the next)
        self._xscale = max(float(self._xc @ self._xc), sx * self.P)

    # ---- the exact pieces ------------------------------------------------------------------
    def loss_v(self, w) -> float:
        r = self._zc - self._Zc @ w
        return float(r @ r) / self.T

    def loss_w(self, v, w) -> float:
        r = self._xc - self._Xc @ w
        return float(v @ (r * r))

    def inner(self, v, exact=True) -> np.ndarray:
        """Donor weights optimal for ``v`` (ties broken toward the outcome fit).  ``exact=False``:
        the active-set search's own weights, without the final re-solve from the data and its
        certificate -- what a search needs to compare V's (see :class:`_Tracker`)."""
        self.n_evals += 1
        sv = np.sqrt(v)
        A = np.vstack((sv[:, None] * self._Xc, self._zscale * self._Zc))
        b = np.concatenate((sv * self._xc, self._zscale * self._zc))
        G = A.T @ A
        # a search evaluates nearby V's in turn: start from the last solution's support (the answer
        # is a function of the optimal support; only the number of steps changes)
        w = simplex_ls_gram(G, A.T @ b, A, b, start=self._support, polish=exact).weights
        self._support = np.flatnonzero(w)
        return w

    def inner_fast(self, v) -> np.ndarray:
        """Donor weights optimal for ``v`` through one NNLS solve (Lawson-Hanson, scipy's C code):
        a search's comparison of V's, several times cheaper than the active-set kernel on small
        problems.  With ``B = b 1' - A`` (the residual of each donor alone), the simplex problem is
        the minimum-norm point of conv(B); if ``u`` solves ``min_{u >= 0} ||B u||^2 + s^2 (1'u - 1)^2``
        then ``u = w* s^2 / (s^2 + ||B w*||^2)`` (check the KKT conditions), so ``w* = u / sum(u)``
        exactly.  Falls back to :meth:`inner` if NNLS fails."""
        self.n_evals += 1
        fb = self._fast_buffers()
        Bx, E, f, rowsq, zsq = fb
        P = self.P
        np.multiply(np.sqrt(v)[:, None], Bx, out=E[:P])
        sc = math.sqrt((float(v @ rowsq) + zsq) / self.J) or 1.0
        E[-1] = sc
        f[-1] = sc
        try:
            u, _ = _nnls(E, f)
        except (RuntimeError, ValueError):
            u = None
        if u is None or not np.isfinite(u).all() or float(u.sum()) <= 0:
            self.n_evals -= 1
            return self.inner(v, exact=False)
        return u / u.sum()

    def _fast_buffers(self):
        """The pieces of :meth:`inner_fast` that do not depend on V, built once: ``Bx`` (each donor's
        predictor residual ``x1 - X0_j``), the stacked matrix (its outcome rows fixed), the target."""
        if getattr(self, "_fb", None) is None:
            Bx = self._xc[:, None] - self._Xc
            Bz = self._zscale * (self._zc[:, None] - self._Zc)
            E = np.empty((self.P + self.T + 1, self.J))
            E[self.P:self.P + self.T] = Bz
            f = np.zeros(E.shape[0])
            self._fb = (Bx, E, f, (Bx * Bx).sum(axis=1), float((Bz * Bz).sum()))
        return self._fb

    def inner_gap(self, v, w) -> float:
        """Exact ``L_W(v, w) - min_W L_W(v, W)`` (>= 0 up to rounding)."""
        sv = np.sqrt(v)
        best = simplex_ls(sv[:, None] * self._Xc, sv * self._xc)
        return max(0.0, self.loss_w(v, w) - best.ssr)

    def value(self, v, exact=True) -> tuple[float, np.ndarray]:
        w = self.inner(v, exact)
        return self.loss_v(w), w

    # ---- parameterisation for the searches -----------------------------------------------------
    @staticmethod
    def v_from_log(a) -> np.ndarray:
        a = np.clip(np.asarray(a, dtype=float), _LOG_LO - 4, 0.0)
        e = 10.0 ** (a - a.max())
        return e / e.sum()


class _Tracker:
    """Evaluates V's for a search and remembers the best.

    The search compares V's by the inner problem's active-set solution alone (``exact=False``: no
    re-solve from the data and no certificate per evaluation, about half an evaluation's cost);
    :attr:`best` is the best V's exact ``(loss_v, v, w)``, evaluated once when asked."""

    def __init__(self, prob: VProblem, fast=False):
        self.prob = prob
        self.fast = bool(fast)  # evaluate through VProblem.inner_fast (NNLS)
        self._best = (math.inf, None, None)  # by the search's evaluations
        self._exact = None  # _best re-evaluated exactly

    def __call__(self, v) -> float:
        v = np.asarray(v, dtype=float)
        v = v / v.sum()
        if self.fast:
            w = self.prob.inner_fast(v)
            loss = self.prob.loss_v(w)
        else:
            loss, w = self.prob.value(v, exact=False)
        if loss < self._best[0]:
            self._best = (loss, v, w)
            self._exact = None
        return loss

    @property
    def best(self):
        if self._best[1] is None:
            return self._best
        if self._exact is None:
            v = self._best[1]
            loss, w = self.prob.value(v)
            self._exact = (loss, v, w)
        return self._exact

    def log(self, a) -> float:
        return self(VProblem.v_from_log(a))

    def log_many(self, A):
        """``log`` for each column of ``A`` (P, S): differential evolution's vectorised call (the V's
        and the outcome losses computed for the whole population at once)."""
        A = np.clip(np.atleast_2d(np.asarray(A, dtype=float).T), _LOG_LO - 4, 0.0)  # (S, P)
        E = 10.0 ** (A - A.max(axis=1, keepdims=True))
        Vs = E / E.sum(axis=1, keepdims=True)
        prob = self.prob
        inner = prob.inner_fast if self.fast else (lambda v: prob.inner(v, exact=False))
        W = np.array([inner(v) for v in Vs])  # (S, J)
        R = prob._zc[None, :] - W @ prob._Zc.T
        losses = (R * R).sum(axis=1) / prob.T
        i = int(np.argmin(losses))
        if losses[i] < self._best[0]:
            self._best = (float(losses[i]), Vs[i], W[i])
            self._exact = None
        return losses


def sunny_donors(X1, X0):
    """Donors that can carry weight in the predictor fit for some V (Becker & Kloessner's "sunny"
    donors), by an LP per donor; the rest are "shady" for every V.

    For a positive diagonal V and a treated point ``X1`` outside the donors' hull H, the V-weighted
    projection ``p`` of ``X1`` on H satisfies ``(X1 - p)' V (q - p) <= 0`` for every ``q`` in H: the
    normal ``n = V (X1 - p)`` makes ``p``'s face the maximiser of ``n'q`` over H, and ``n'(X1 - p) > 0``.
    Every donor with positive weight lies on that face.  So donor ``j`` can carry weight only if some
    ``n`` has ``n'(X0_i - X0_j) <= 0`` for every donor ``i`` and ``n'(X1 - X0_j) >= 1`` (the scale of
    ``n`` is free): an LP in ``n``.  An infeasible LP proves ``j`` shady.  Returns a boolean mask
    (True: sunny), or None when ``X1`` is in H (then every V fits it exactly and no donor is shady)
    or an LP fails."""
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    P, J = X0.shape
    s = max(float(np.abs(X0).max()), float(np.abs(X1).max()), 1e-300)
    X0s, x1s = X0 / s, X1 / s
    inside = linprog(np.zeros(J), A_eq=np.vstack([X0s, np.ones((1, J))]), b_eq=np.concatenate([x1s, [1.0]]),
                     bounds=(0, None), method="highs")
    if inside.status == 0:
        return None
    keep = np.ones(J, dtype=bool)
    for j in range(J):
        A = np.vstack([(X0s - X0s[:, [j]]).T, (X0s[:, j] - x1s)[None, :]])
        b = np.concatenate([np.zeros(J), [-1.0]])
        lp = linprog(np.zeros(P), A_ub=A, b_ub=b, bounds=(None, None), method="highs")
        if lp.status == 2:
            keep[j] = False
        elif lp.status != 0:
            return None
    return keep if keep.any() else None


def _corners(track: _Tracker):
    out = []
    for k in range(track.prob.P):
        e = np.zeros(track.prob.P)
        e[k] = 1.0
        out.append((track(e), k))
    return sorted(out)


def _polish(track: _Tracker, v0, max_evals):
    """Nelder-Mead over log10 v from ``v0`` (zeros mapped to the search floor)."""
    P = track.prob.P
    a0 = np.log10(np.maximum(np.asarray(v0, dtype=float), 10.0 ** _LOG_LO))
    a0 = a0 - a0.max()
    simplex0 = [a0]
    for i in range(P):
        a = a0.copy()
        # a weight at the floor is tried at 1e-4 (a floor-sized change would not register);
        # others move by a factor of 10
        a[i] = -4.0 if a[i] <= _LOG_LO + 1.0 else (a[i] + 1.0 if a[i] < -1.0 else a[i] - 1.0)
        simplex0.append(a)
    minimize(track.log, a0, method="Nelder-Mead",
             options={"initial_simplex": np.array(simplex0), "maxfev": max_evals,
                      "xatol": 1e-6, "fatol": 1e-12 * max(track.best[0], 1e-300)})


def v_choices(prob: VProblem, w, *, tol=1e-7, v_ref=None):
    """Two canonical V's under which ``w`` is optimal for the lower level (MSCMT's
    ``determine_v``): the one with the smallest predictor loss, and the one with the
    largest smallest weight ("max order").  Returns ``(v_min_loss_w, v_max_order)``;
    ``None`` where the KKT polytope is empty at tolerance ``tol`` (relative)."""
    P = prob.P
    r = prob._xc - prob._Xc @ w
    H = -(prob._Xc * r[:, None]).T  # h = H v: half the lower level's gradient
    scale = float(np.abs(H).max()) or 1.0
    Hs = H / scale
    S = w > 1e-12 * max(1.0, float(w.max()))
    if v_ref is not None:  # the V the search found must be inside: widen tol to its own KKT residual
        h = Hs @ np.asarray(v_ref, dtype=float)
        mu = float(h[S].mean())
        viol = max(float(np.abs(h[S] - mu).max()), float(np.max(mu - h[~S], initial=0.0)))
        tol = max(tol, 1.5 * viol)
    # variables: v (P), mu, s ; rows: |h_j - mu| <= tol on S, h_j - mu >= -tol off S
    n = P + 2
    A_ub, b_ub = [], []
    for j in range(prob.J):
        row = np.concatenate((Hs[j], [-1.0, 0.0]))
        A_ub.append(-row)
        b_ub.append(tol)
        if S[j]:
            A_ub.append(row)
            b_ub.append(tol)
    A_eq = [np.concatenate((np.ones(P), [0.0, 0.0]))]
    bounds = [(0, None)] * P + [(None, None), (None, None)]

    def lp(c, extra_ub=()):
        A = np.array(A_ub + [e[0] for e in extra_ub])
        b = np.array(b_ub + [e[1] for e in extra_ub])
        res = linprog(c, A_ub=A, b_ub=b, A_eq=np.array(A_eq), b_eq=[1.0], bounds=bounds, method="highs")
        if res.status != 0:
            return None
        v = np.clip(res.x[:P], 0.0, None)
        return v / v.sum()

    rr = r * r
    v1 = lp(np.concatenate((rr / (float(rr.max()) or 1.0), [0.0, 0.0])))
    # max order: maximise s subject to v_p >= s
    c2 = np.zeros(n)
    c2[-1] = -1.0
    extra = [(np.concatenate((-np.eye(P)[p], [0.0, 1.0])), 0.0) for p in range(P)]
    v2 = lp(c2, extra)
    return v1, v2


def _exact_corner(prob: VProblem, v, w):
    """When ``v`` is a corner ``e_k`` and ``w`` matches predictor k up to the tie-break's
    tolerance, re-solve on ``w``'s support with ``r_k = 0`` imposed exactly (a small KKT system with
    two equality constraints).  Returns the exact corner point, or ``w`` unchanged."""
    nz = np.flatnonzero(v > 0)
    if nz.size != 1:
        return w
    k = int(nz[0])
    S = np.flatnonzero(w > 0)
    a = prob._Xc[k, S]
    if S.size < 2 or abs(prob._xc[k] - float(a @ w[S])) > 1e-6 * (float(np.abs(prob._Xc[k]).max()) or 1.0):
        return w
    Z = prob._Zc[:, S]
    n = S.size
    K = np.zeros((n + 2, n + 2))
    K[:n, :n] = Z.T @ Z
    K[:n, n] = 1.0
    K[n, :n] = 1.0
    K[:n, n + 1] = a
    K[n + 1, :n] = a
    rhs = np.concatenate((Z.T @ prob._zc, [1.0, prob._xc[k]]))
    try:
        sol = np.linalg.lstsq(K, rhs, rcond=None)[0][:n]
    except np.linalg.LinAlgError:
        return w
    if sol.min() < 0 or abs(sol.sum() - 1) > 1e-12:
        return w
    cand = np.zeros_like(w)
    cand[S] = sol
    # keep it unless it costs more than 1e-6 (relative) of outcome fit: the tie-break traded an
    # O(eps) predictor mismatch for that much fit, and exactness is worth it
    if prob.loss_v(cand) <= prob.loss_v(w) + 1e-6 * max(prob.loss_v(w), 1e-300):
        return cand
    return w


def _certify(prob, loss, v, w, time_limit):
    """Exact corner clean-up, then the global lower bound with (loss, v, w) as the incumbent.
    Returns ``(loss, v, w, gb)``; the MIQP's own best point replaces the incumbent if better.

    Whether it is adopted is decided by the MIQP's best point alone, which depends only on the data,
    the incumbent and the MIQP's deterministic limits (node limit, gap): the same inputs adopt the
    same point on every machine.  Only a wall-clock cap (``time_limit``, default None) would make it
    depend on the machine's speed; ``gb.stopped_by == "time_limit"`` says when that happened."""
    from .global_bound import global_lower_bound
    w = _exact_corner(prob, v, w)
    loss = prob.loss_v(w)
    gb = global_lower_bound(prob.X1, prob.X0, prob.Z1, prob.Z0, incumbent=loss, time_limit=time_limit)
    vv = _miqp_v(prob, gb)
    if vv is not None and math.isfinite(gb.nondegenerate_lower):
        lv, wv = prob.value(vv)  # the MIQP's best point, realised through its V: a better incumbent?
        if lv < loss * (1 - 1e-9):
            loss, v, w = lv, vv, wv
    return loss, v, w, gb


def _miqp_v(prob, gb):
    """The V realising the MIQP's best point (``v_p = c_p / r_p``, normalised), or None."""
    if gb is None or gb.w is None:
        return None
    r = prob.X1 - prob.X0 @ gb.w
    ok = np.abs(r) > 1e-12
    vv = np.clip(np.where(ok, gb.c / np.where(ok, r, 1.0), 0.0), 0.0, None)
    return vv / vv.sum() if vv.sum() > 0 else None


def _certified_finish(prob, track, backend, cert, t0, stages, certify, time_limit) -> BilevelFit:
    """The search's best point, certified (global bound) when asked, as a BilevelFit."""
    gb, best = None, track.best
    if certify:
        *best, gb = _certify(prob, *track.best, time_limit)
        stages["global_bound"] = gb.lower
    return _finish(prob, tuple(best), backend, cert, t0, stages, gb)


def _closed(loss, gb) -> bool:
    return gb is not None and math.isfinite(gb.lower) and loss - gb.lower <= 1e-9 * max(abs(gb.lower), 1e-300)


def _finish(prob, best, backend, cert, t0, stages, gb=None) -> BilevelFit:
    loss, v, w = best
    outcome_bound = cert.lower_bound
    lower, method = outcome_bound, "outcome-only"
    if cert.attainable and backend != "mscmt":  # mscmt reports its own search's answer
        w, v, loss = cert.w, cert.v, prob.loss_v(cert.w)
        method = "lp-certificate"
    elif gb is not None and math.isfinite(gb.lower) and gb.lower > lower:
        lower, method = gb.lower, "global (corners + MIQP)"
    gap = max(0.0, loss - lower)
    attained = method == "lp-certificate" or gap <= 1e-9 * max(abs(lower), 1e-300)
    ig = prob.inner_gap(v, w)
    v1, v2 = v_choices(prob, w, v_ref=v)
    agree = float(np.abs(v1 - v2).max()) if v1 is not None and v2 is not None else math.nan
    return BilevelFit(
        w=w, v=v, loss_v=loss, loss_w=prob.loss_w(v, w), lower_bound=lower,
        bound_gap=0.0 if method == "lp-certificate" else gap, attained=attained,
        outcome_only_bound=outcome_bound, bound_method=method,
        inner_gap=ig, inner_gap_rel=ig / prob._xscale,
        inner_optimal=bool(abs(w.sum() - 1) < 1e-10 and w.min() >= 0 and ig / prob._xscale <= 1e-9),
        v_agreement=agree,
        v_min_loss_w=v1, v_max_order=v2, backend=backend, n_evals=prob.n_evals,
        seconds=time.perf_counter() - t0, stages=stages, certificate=cert, global_bound=gb,
        global_bound_stopped_by=None if gb is None else gb.stopped_by)


MSCMT_BUDGET = {"mscmt_maxiter": 60, "mscmt_popsize": 10}  # the "mscmt" backend's DE budget (defaults)


def check_v_options(backend, canonical_v=False, mscmt_maxiter=60, mscmt_popsize=10, mscmt_prune_shady=False,
                    *, who="fit"):
    """The V-search options of ``SyntheticControl`` and ``sc.synth``, checked in one place:
    ``canonical_v`` one of :data:`CANONICAL_V`; the mscmt budget whole numbers >= 1 and
    ``mscmt_prune_shady`` a bool, each other than its default only with ``backend="mscmt"``.
    Returns ``(maxiter, popsize)`` as ints."""
    from .._validate import check_count
    from ..errors import SpecificationError
    if canonical_v is not False and canonical_v not in CANONICAL_V[1:]:
        raise SpecificationError(f"canonical_v must be False, 'min.loss.w' or 'max.order', got {canonical_v!r}")
    out = []
    for name, value in (("mscmt_maxiter", mscmt_maxiter), ("mscmt_popsize", mscmt_popsize)):
        value = check_count(name, value, 1)
        if value != MSCMT_BUDGET[name] and backend != "mscmt":
            raise SpecificationError(f"{name}={value} sets the 'mscmt' backend's search budget; this {who} uses "
                                     f"backend={backend!r}: drop it or set backend='mscmt'")
        out.append(int(value))
    from .._validate import check_bool
    if check_bool("mscmt_prune_shady", mscmt_prune_shady) and backend != "mscmt":
        raise SpecificationError(f"mscmt_prune_shady=True sets the 'mscmt' backend's search; this {who} uses "
                                 f"backend={backend!r}: drop it or set backend='mscmt'")
    return tuple(out)


def reported_v(fit: BilevelFit, X1, X0, canonical_v=False):
    """The V a covariate fit reports, with its predictor loss: the search's V (``canonical_v=False``),
    or one of the two canonical V's under which the same donor weights are optimal (MSCMT's
    ``determine_v``): ``"min.loss.w"`` (the smallest predictor loss) or ``"max.order"`` (the largest
    smallest weight).  Every such V gives the same W and the same outcome fit ``loss_v``; only V and
    ``loss_w`` change.  Returns ``(v, loss_w, reported, note)``: ``reported`` names the V returned,
    ``note`` says why it is the search's V when the canonical one could not be computed (else None)."""
    if canonical_v is False:
        return fit.v, fit.loss_w, "search", None
    v = fit.v_min_loss_w if canonical_v == "min.loss.w" else fit.v_max_order
    if v is None:
        return fit.v, fit.loss_w, "search", (
            f"canonical_v={canonical_v!r}: no canonical V could be computed at this W (the polytope of V's "
            f"making W optimal is empty at the solver's tolerance); the search's V is reported")
    v = np.asarray(v, dtype=float)
    r = np.asarray(X1, dtype=float) - np.asarray(X0, dtype=float) @ fit.w
    return v, float(v @ (r * r)), canonical_v, None


def solve_bilevel(X1, X0, Z1, Z0, *, backend="auto", seed=0, eps=1e-6, n_starts=32,
                  polish_evals=None, de_maxiter=60, de_popsize=10, certify=True,
                  time_limit=None, prune_shady=False) -> BilevelFit:
    """Solve the V problem with bounds; see the module docstring for the backends.

    ``X1``, ``X0`` must be the (scaled) predictors, ``Z1``, ``Z0`` the outcomes over the
    fit periods.  ``certify``: when the LP certificate does not settle the problem, compute the
    global lower bound of :mod:`synthcontrol.solvers.global_bound` (SCIP under a deterministic node
    limit and gap; its bound is valid whenever it stops).  Needs pyscipopt; without it the bound is
    the outcome-only one.  ``time_limit``: an optional wall-clock cap in seconds on each SCIP call
    (default None: none).

    Deterministic for a given ``seed``: the same inputs give the same answer on every run and every
    machine (with the same SCIP build), because every limit is deterministic -- unless a
    ``time_limit`` bites, which :attr:`BilevelFit.global_bound_stopped_by` then reports as
    ``"time_limit"``.
    """
    if backend not in ("auto", "malo", "mscmt"):
        raise ValueError(f"backend must be 'auto', 'malo' or 'mscmt', got {backend!r}")
    from .global_bound import scip_available
    certify = bool(certify) and scip_available()
    t0 = time.perf_counter()
    prob = VProblem(X1, X0, Z1, Z0, eps=eps)
    track = _Tracker(prob)
    stages = {}
    cert = outcome_bound_certificate(prob.X1, prob.X0, prob.Z1, prob.Z0)
    stages["certificate"] = cert.lower_bound if cert.attainable else math.inf
    if cert.attainable and backend != "mscmt":
        return _finish(prob, track.best, backend, cert, t0, stages)
    P = prob.P
    polish_evals = polish_evals or min(60 * P, 400)
    if backend == "mscmt":
        rng_seed = int(seed)
        track.fast = True
        search = track
        sunny = sunny_donors(prob.X1, prob.X0) if prune_shady else None
        if sunny is not None and 2 <= sunny.sum() < prob.J:
            # the search runs on the sunny donors; its best V is then solved on the whole pool
            sub = VProblem(prob.X1, prob.X0[:, sunny], prob.Z1, prob.Z0[:, sunny], eps=eps)
            sub._zscale = sub._root_eps = prob._zscale  # the whole pool's tie-break weight: the same inner problem
            search = _Tracker(sub, fast=True)
        stages["n_sunny"] = prob.J if sunny is None else int(sunny.sum())
        # a Latin hypercube population of exactly popsize x P (a Sobol one would be rounded up to a power of 2)
        differential_evolution(search.log_many, [(_LOG_LO, 0.0)] * P, seed=rng_seed, maxiter=de_maxiter,
                               popsize=de_popsize, tol=1e-10, polish=False, init="latinhypercube",
                               vectorized=True, updating="deferred")
        if search is not track:
            prob.n_evals += search.prob.n_evals
            track(search._best[1])
        stages["differential_evolution"] = track.best[0]
        _polish(track, track.best[1], polish_evals)
        stages["polish"] = track.best[0]
        return _certified_finish(prob, track, backend, cert, t0, stages, certify, time_limit)
    corners = _corners(track)
    stages["corners"] = track.best[0]
    if certify:
        # the optimum is often a corner (Malo et al. 2024): try to prove it before searching
        *best, gb = _certify(prob, *track.best, time_limit)
        stages["global_bound"] = gb.lower
        if _closed(best[0], gb):
            return _finish(prob, tuple(best), backend, cert, t0, stages, gb)
    starts = [np.eye(P)[k] for _, k in corners[: min(2, P)]] + [np.full(P, 1.0 / P)]
    vv = _miqp_v(prob, gb) if certify else None
    if vv is not None:
        starts.append(vv)  # the MIQP's best non-degenerate point
    if backend == "auto":
        # a scrambled Sobol design over log10 v: the search does not hinge on one basin
        pts = qmc.Sobol(P, scramble=True, seed=seed).random_base2(max(1, math.ceil(math.log2(n_starts))))
        scored = sorted((track.log(_LOG_LO * p), i) for i, p in enumerate(pts))
        stages["design"] = track.best[0]
        starts += [VProblem.v_from_log(_LOG_LO * pts[i]) for _, i in scored[:2]]
    for v0 in starts:
        _polish(track, v0, polish_evals)
    _polish(track, track.best[1], 2 * polish_evals)  # restart from the best point found
    stages["local_search"] = track.best[0]
    return _certified_finish(prob, track, backend, cert, t0, stages, certify, time_limit)


# the penalized backend's grid: 0 (plain predictor matching) and 25 values from 1e-4 to 100.  The
# penalty is dimensionless (both terms of the objective are in squared predictor units), so one grid
# serves every scale of data.
PENALIZED_LAMBDAS = np.concatenate(([0.0], np.logspace(-4, 2, 25)))
#: the rules that choose the penalized backend's lambda (``SyntheticControl(penalized_cv=...)``)
PENALIZED_CV = ("holdout", "loo", "pensynth")
#: the share of the fitting periods the ``"holdout"`` rule holds out when the predictors are the
#: outcomes themselves (the last periods; at least one)
HOLDOUT_SHARE = 0.3


def penalized_weights(X1, X0, lam):
    """The penalised weights at one ``lam``: the minimiser on the simplex of
    ``||X1 - X0 W||^2 + lam * sum_j W_j ||X1 - X0_j||^2`` (Abadie & L'Hour 2021, eq. 5 for one
    treated unit).  For ``lam > 0`` the objective is strictly convex in the fitted value and linear
    in the penalty, and the weights are unique when the donors' predictors are in general position
    (their Theorem 1).  Returns the solver's :class:`~synthcontrol.solvers.simplex.SimplexFit`
    (``weights``, ``converged``); :func:`penalized_certificate` checks the answer."""
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    return _penalized_path(X1, X0, [lam], fits=True)[0]


def _interior_support(G, c, tol=1e-7):
    """The support of the penalised QP ``min w'Gw/2 - c'w`` on the simplex, from an interior-point
    solve (Clarabel): a start for the active-set kernel when its own path stalls (degenerate
    vertices: more donors than predictors, a target almost inside their hull).  None on failure."""
    try:
        import clarabel
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - clarabel comes with cvxpy
        return None
    J = G.shape[0]
    st = clarabel.DefaultSettings()
    st.verbose = False
    st.tol_gap_abs = st.tol_gap_rel = st.tol_feas = 1e-12
    A = sp.csc_matrix(np.vstack([np.ones((1, J)), -np.eye(J)]))
    b = np.concatenate(([1.0], np.zeros(J)))
    try:
        sol = clarabel.DefaultSolver(sp.csc_matrix(np.triu(G)), -np.asarray(c, dtype=float), A, b,
                                     [clarabel.ZeroConeT(1), clarabel.NonnegativeConeT(J)], st).solve()
    except Exception:  # noqa: BLE001 - any solver failure: no start, the kernel's answer stands
        return None
    w = np.asarray(sol.x, dtype=float)
    if w.shape != (J,) or not np.isfinite(w).all():
        return None
    S = np.flatnonzero(w > tol * max(1.0, float(w.max())))
    return S if len(S) else None


def _zero_plus(X1, X0, d):
    """``lambda = 0``, read as the limit ``lambda -> 0+`` (the paper's Section 3): of all the
    synthetic controls with the best fit, the one with the smallest penalty ``d'W``.  The fitted value
    ``X0 W*`` of the plain fit is unique (the objective is strictly convex in it), so the limit is
    the LP ``min d'W`` s.t. ``X0 W = X0 W*``, ``sum W = 1``, ``W >= 0`` (HiGHS): a vertex, hence sparse,
    and unique unless the LP ties.  The LP's answer is kept only if its fit is as good as ``W*``'s
    to the plain fit's own certificate; otherwise ``W*`` stands."""
    fit = simplex_ls(X0, X1)
    J = X0.shape[1]
    if J <= 1 or np.count_nonzero(fit.weights) <= 1:
        return fit
    target = X0 @ fit.weights
    scale = max(1.0, float(np.abs(X0).max()))
    lp = linprog(d / max(float(d.max()), 1e-300), A_eq=np.vstack([X0 / scale, np.ones((1, J))]),
                 b_eq=np.concatenate([target / scale, [1.0]]), bounds=(0, None), method="highs")
    if lp.status != 0 or lp.x is None:
        return fit
    w = np.maximum(np.asarray(lp.x, dtype=float), 0.0)
    w[w < 1e-12] = 0.0
    w = w / w.sum()
    r = X1 - X0 @ w
    ssr = float(r @ r)
    if not ssr <= fit.ssr + max(fit.duality_gap, 1e-12 * max(fit.ssr, float(X1 @ X1))):
        return fit
    from dataclasses import replace
    return replace(fit, weights=w, ssr=ssr)


def _penalized_path(X1, X0, lambdas, fits=False):
    """Weights and certificate flags for each ``lam`` of ``lambdas`` on one problem (one Gram
    matrix); ``lam = 0`` goes through the plain simplex fit (its QR polish).  A penalised solve
    whose certificate does not hold is restarted from the support of an interior-point solve and
    the better certified answer kept.  ``fits``: return the :class:`SimplexFit` objects."""
    Xc, xc = center(X0, X1)
    d = ((X0 - X1[:, None]) ** 2).sum(axis=0)
    G = Xc.T @ Xc
    c0 = Xc.T @ xc
    out = []
    for lam in lambdas:
        if lam > 0:
            c = c0 - 0.5 * lam * d
            fit = simplex_ls_gram(G, c, Xc, xc, polish=False)
            if not fit.converged:
                S = _interior_support(G, c)
                if S is not None:
                    again = simplex_ls_gram(G, c, Xc, xc, polish=False, start=S)
                    if again.converged or again.duality_gap < fit.duality_gap:
                        fit = again
        else:
            fit = _zero_plus(X1, X0, d)
        out.append(fit if fits else (fit.weights, bool(fit.converged)))
    return out


def pensynth_lambdas(X1, X0, n=100):
    """pensynth's grid for ``cv_pensynth`` (van Kesteren's R package), in the paper's scale.

    pensynth minimises ``||X1 - X0 W||^2 / 2 + lambda_p * Delta'W``, so its ``lambda_p`` is half the
    paper's ``lambda``.  Its grid runs exponentially from ``1e-11`` to ``sum_j |X1'X0_j| / Delta_j``
    in ``n`` steps (its ``lambda_sequence``); returned here doubled (the paper's scale).  Donors whose
    predictors equal the treated unit's (``Delta_j = 0``) are left out of the sum."""
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    d = ((X0 - X1[:, None]) ** 2).sum(axis=0)
    ok = d > 0
    lmax = float(np.sum(np.abs((X1 @ X0)[ok] / d[ok]))) if ok.any() else 1.0
    lmax = max(lmax, 1e-10)
    return 2.0 * np.exp(np.linspace(math.log(1e-11), math.log(lmax), int(n)))


def penalized_fit(X1, X0, Z1=None, Z0=None, *, cv="holdout", train=None, donor_post=None, lam=None,
                  lambdas=None, info=None):
    """Abadie & L'Hour (2021) penalised synthetic control, with its ``lambda`` chosen by a rule.

    ``X1`` (K,), ``X0`` (K, J): the predictors of the final fit (scaled covariates, or the
    outcomes over the fitting periods).  ``lam``: a fixed penalty (no search).  Otherwise ``lam``
    is chosen on ``lambdas`` (default :data:`PENALIZED_LAMBDAS`; ``cv="pensynth"``: pensynth's
    grid, :func:`pensynth_lambdas`) by ``cv``:

    ``"holdout"``
        weights fitted on ``train = (X1t, X0t)`` (default ``(X1, X0)``) and scored by the mean
        squared error of the held-out outcomes ``Z1`` (T,), ``Z0`` (T, J).  With covariates the
        predictors train and the pre-period outcomes validate; without, the caller passes the first
        periods as ``train`` and the last ones as ``Z``.
    ``"pensynth"``
        the same, on pensynth's ``cv_pensynth`` grid (100 values).
    ``"loo"``
        the paper's rule: each untreated unit in turn is the target, fitted from the other untreated
        units on its predictors (the columns of ``X0``), and scored by the squared error of its
        post-period outcomes ``donor_post`` (T1, J), summed over units and periods (reported as a
        mean).  The treated unit's outcomes take no part in it.

    The smallest score wins; ties go to the smaller ``lam``.  Returns ``(w, lam, table)`` with
    ``table`` a list of ``(lam, score)`` (NaN scores with a fixed ``lam``).  ``info``: a dict to
    receive ``n_fits`` and ``n_uncertified`` (the grid's fits whose certificate did not hold).
    """
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    if cv not in PENALIZED_CV:
        raise ValueError(f"cv must be one of {PENALIZED_CV}, got {cv!r}")
    if lam is not None:
        fit = penalized_weights(X1, X0, float(lam))
        if info is not None:
            info.update(n_fits=1, n_uncertified=int(not fit.converged))
        return fit.weights, float(lam), [(float(lam), math.nan)]
    X1t, X0t = (X1, X0) if train is None else (np.asarray(train[0], dtype=float), np.asarray(train[1], dtype=float))
    if lambdas is None:
        lambdas = pensynth_lambdas(X1t, X0t) if cv == "pensynth" else PENALIZED_LAMBDAS
    lambdas = [float(x) for x in lambdas]
    n_fits = n_bad = 0
    if cv == "loo":
        P = np.asarray(donor_post, dtype=float)
        J = X0.shape[1]
        if P.ndim != 2 or P.shape[1] != J or P.shape[0] == 0 or J < 3:
            raise ValueError("the leave-one-out rule needs the donors' post-period outcomes and >= 3 donors")
        sse = np.zeros(len(lambdas))
        for j in range(J):
            rest = np.delete(np.arange(J), j)
            for i, (w, ok) in enumerate(_penalized_path(X0[:, j], X0[:, rest], lambdas)):
                r = P[:, j] - P[:, rest] @ w
                sse[i] += float(r @ r)
                n_fits += 1
                n_bad += not ok
        scores = sse / P.size
        path = None
    else:
        Z1 = np.asarray(Z1, dtype=float)
        Z0 = np.asarray(Z0, dtype=float)
        path = _penalized_path(X1t, X0t, lambdas)
        scores = np.empty(len(lambdas))
        for i, (w, ok) in enumerate(path):
            r = Z1 - Z0 @ w
            scores[i] = float(r @ r) / len(r)
            n_fits += 1
            n_bad += not ok
    best = 0
    for i in range(1, len(lambdas)):
        if scores[i] < scores[best] - 1e-15 * max(1.0, abs(scores[best])):
            best = i
    lam = lambdas[best]
    if path is not None and train is None:
        w = path[best][0]
    else:
        fit = penalized_weights(X1, X0, lam)
        n_fits += 1
        n_bad += not fit.converged
        w = fit.weights
    if info is not None:
        info.update(n_fits=n_fits, n_uncertified=n_bad)
    return w, lam, [(lam_i, float(s)) for lam_i, s in zip(lambdas, scores)]


def holdout_split(T):
    """``(n_train, n_held_out)`` of ``T`` fitting periods under the ``"holdout"`` rule without
    covariates: the last ``max(1, round(HOLDOUT_SHARE * T))`` periods are held out."""
    if T < 2:
        raise ValueError("the holdout rule needs >= 2 fitting periods")
    n_va = min(T - 1, max(1, int(round(HOLDOUT_SHARE * T))))
    return T - n_va, n_va


def flag_penalized_lambda(lam, table, details, info=None, cv="holdout"):
    """Record in ``details["lambda_at_grid_edge"]`` (and say) a penalized fit whose ``lam`` is the
    largest value of its grid (``table`` as :func:`penalized_fit` returns it): the rule ``cv``'s
    score was still falling at the largest penalty tried, so a larger one (towards matching on the
    single nearest donor) might score better.  ``lam = 0`` is the natural lower boundary of the
    penalty (its limit 0+), not an edge, and is not flagged.  With ``info`` (filled by
    :func:`penalized_fit`), ``details["n_uncertified_fits"]`` counts the grid's fits whose
    certificate did not hold (said once).  Returns the side or None."""
    from ..inference._undefined import flag_grid_edge, report_uncertified
    if info is not None and "n_uncertified" in info:
        report_uncertified(info["n_uncertified"], info.get("n_fits"), "penalized (the lambda grid's fits)", details,
                           where="diagnostics")
    scored = {"loo": "the leave-one-out prediction of the donors' post-period outcomes",
              "pensynth": "the held-out outcomes' fit (pensynth's grid)"}.get(cv, "the held-out outcomes' fit")
    return flag_grid_edge(
        "lambda", lam, [t[0] for t in table], details, who="penalized", natural=("lower",),
        where="diagnostics",
        why=f"{scored} is best at the largest penalty tried",
        consequence="a larger penalty, towards matching on the nearest donor, might score better; "
                    "lambda is bounded by the grid, not determined by the data")


def penalized_certificate(X1, X0, w, lam):
    """The KKT certificate of a penalised fit: for ``lam`` fixed the objective
    ``||X1 - X0 w||^2 + lam sum_j w_j ||X1 - X0_j||^2`` is a convex QP on the simplex, so the
    Frank-Wolfe gap bounds ``objective(w) - objective*``.  Returns
    ``(objective, kkt_violation, duality_gap, certified)``.

    The certificate is the simplex kernel's own (:mod:`.simplex`), applied to the penalised
    gradient: the same per-donor scaling of the KKT residuals (column norms of the centred
    predictors, the residual scale ``R``) and the same convergence test.  Only the plain
    Frank-Wolfe gap is used (no SSR is passed): the kernel's tighter geometric bound is a bound for
    the least-squares objective, not for the penalised one."""
    X1 = np.asarray(X1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    w = np.asarray(w, dtype=float)
    Xc, xc = center(X0, X1)
    d = ((X0 - X1[:, None]) ** 2).sum(axis=0)
    r = Xc @ w - xc
    g = Xc.T @ r + 0.5 * lam * d  # half gradient
    obj = float(r @ r) + lam * float(d @ w)
    colnorm = _colnorms(Xc)
    kkt, gap = _kkt_from_gradient(g, w, Xc, xc, colnorm)
    R = _resid_scale(colnorm, w, math.sqrt(float(xc @ xc)))
    return obj, kkt, gap, certified(gap, obj, R, len(w))
