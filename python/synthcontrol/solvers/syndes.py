"""Exact search for synthetic experimental designs (SYNDES, Doudchenko et al. 2021).

For a treated set ``S`` (``|S| = K``; ``C`` the other units) and pre-period outcomes ``Y`` (T x N)
the three objectives are

* ``two_way_global``: ``(1/T)||Y_S a - Y_C c||^2 + lam (||a||^2 + ||c||^2)``, ``a`` on the simplex of
  ``S``, ``c`` on the simplex of ``C``;
* ``one_way_global``: ``(1/T)||(1/K) Y_S 1 - Y_C c||^2 + lam (1/K + ||c||^2)``;
* ``per_unit``: ``(1/(K T)) sum_{i in S} ||Y_i - Y_C w^i||^2 + (lam/K) sum_i ||w^i||^2``.

Each is a convex quadratic programme over one or two simplices once ``S`` is fixed.  This module
solves those programmes exactly from one shared Gram matrix (:func:`block_simplex_qp`: a primal
active-set method whose answer carries a duality-gap certificate), and searches the treated sets:

* **best-first enumeration**: a certified lower bound is computed for every candidate set at once
  (vectorised), the sets are solved in the order of their bounds, and the search stops when the
  next bound is not below the best objective found: every set not solved is *proven* no better.
  The bounds: a separating direction ``v`` between the units' outcome paths gives
  ``(min_S v'y - max_C v'y)^2 / (T ||v||^2)`` (and the mirror case) for the global modes, the
  directions being the residuals of the sets already solved and the principal directions of the
  data; per unit, each treated unit's fit from every other unit (a larger pool fits at least as
  well).  Plus the ridge term's own minimum ``lam (1/K + 1/(N - K))`` (global) or
  ``lam / (N - K)`` per unit.
* **per_unit fits reuse**: unit ``i``'s fit from the pool ``N - {i}`` is still optimal from a smaller
  pool that keeps its support (its KKT conditions still hold), so most per-unit fits are shared.

The data are centred per period (every block of weights sums to one, so a common shift changes no
objective) and scaled to entries of order one before any arithmetic; objectives are reported in the
data's units.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["block_simplex_qp", "DesignProblem", "SetValue", "SearchResult", "enumerate_designs",
           "anneal_designs", "MODES"]

MODES = ("two_way_global", "one_way_global", "per_unit")


# ------------------------------------------------------------------------------------------------
# the kernel: min 1/2 x'Hx + g'x  s.t.  x >= 0,  sum of x over each block = 1
# ------------------------------------------------------------------------------------------------
def block_simplex_qp(H, g, blocks, nb, x0_support=None, max_iter=500, x0=None):
    """Exact minimiser of ``1/2 x'Hx + g'x`` over a product of simplices.

    ``H`` (n, n) positive semi-definite, ``g`` (n,), ``blocks`` (n,) block index in ``0..nb-1``
    of each variable.  A primal active-set method: on the current support ``P`` it solves the
    equality-constrained problem (one multiplier per block) by its KKT system, steps back to the
    boundary when a variable would go negative, and adds the variable with the most negative
    reduced cost ``grad_j - mu_b(j)`` until none is negative.  ``x0``: a feasible starting point
    (non-negative, each block summing to one; its support is the first active set).  Returns ``(x, value, gap, n_iter)``
    where ``gap = grad'x - sum_b min_{j in b} grad_j`` is the Frank-Wolfe duality gap: a proven
    bound on ``value - optimum`` (the objective is convex).
    """
    from scipy.linalg import lapack
    n = len(g)
    # start: in each block the vertex with the smallest objective
    vert = 0.5 * np.diag(H) + g
    x = np.zeros(n)
    P = []
    if x0 is not None:
        x = np.array(x0, dtype=float)
        P = np.flatnonzero(x > 0).tolist()
    for b in ([] if x0 is not None else range(nb)):
        idx = np.flatnonzero(blocks == b)
        if x0_support is not None:
            cand = [j for j in x0_support if blocks[j] == b]
            if cand:
                j = cand[int(np.argmin(vert[cand]))]
            else:
                j = idx[int(np.argmin(vert[idx]))]
        else:
            j = idx[int(np.argmin(vert[idx]))]
        x[j] = 1.0
        P.append(j)
    P = sorted(P)
    scale = max(float(np.abs(H).max()), float(np.abs(g).max()), 1e-300)
    tol = 1e-13 * scale
    it = 0
    for it in range(1, max_iter + 1):
        Pa = np.asarray(P)
        m = len(Pa)
        K = np.zeros((m + nb, m + nb))
        K[:m, :m] = H.take(Pa, 0).take(Pa, 1)
        bp = blocks[Pa]
        K[np.arange(m), m + bp] = -1.0
        K[m + bp, np.arange(m)] = 1.0
        rhs = np.empty(m + nb)
        rhs[:m] = -g[Pa]
        rhs[m:] = 1.0
        _, _, sol, info = lapack.dgesv(K, rhs)
        if info != 0:
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        z = sol[:m]
        if z.min() < -1e-15:  # step back to the boundary and drop what hits zero
            xp = x[Pa]
            neg = z < xp
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = np.where(neg & (z < 0), xp / (xp - z), np.inf)
            a = float(min(1.0, ratios.min()))
            xp = xp + a * (z - xp)
            xp[xp < 1e-15] = 0.0
            x[Pa] = xp
            keep = xp > 0
            # every block keeps at least one variable (its sum is one)
            P = sorted(Pa[keep].tolist())
            continue
        x[:] = 0.0
        x[Pa] = z
        mu = sol[m:]
        grad = H @ x + g
        red = grad - mu[blocks]
        red[Pa] = 0.0
        j = int(np.argmin(red))
        if red[j] >= -tol:
            break
        P = sorted(P + [j])
    grad = H @ x + g
    value = float(0.5 * x @ H @ x + g @ x)
    mins = np.full(nb, np.inf)
    np.minimum.at(mins, blocks, grad)
    gap = float(max(grad @ x - mins.sum(), 0.0))
    return x, value, gap, it


# ------------------------------------------------------------------------------------------------
# one design problem: the data scaled once, objectives per treated set
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetValue:
    """A treated set's exact design: objective (data units), the duality-gap bound on its distance
    from the set's optimum (data units), and the weights (N-vectors; per_unit: a K x N matrix)."""

    treated: tuple
    objective: float
    gap: float
    treated_weights: np.ndarray = field(repr=False, default=None)
    control_weights: np.ndarray = field(repr=False, default=None)
    unit_weights: np.ndarray = field(repr=False, default=None)  # per_unit: K x N


class DesignProblem:
    """Pre-period outcomes ``Y`` (T x N), ``mode``, ``lam``: exact objectives of any treated set.

    The outcomes are centred per period by their mean over units and divided by their largest
    absolute entry ``s``; every quadratic term is formed from one Gram matrix ``G = Yc'Yc``, and
    objectives are multiplied back by ``s^2`` (``lam`` is divided by ``s^2`` inside).
    """

    def __init__(self, Y, mode, lam, donor_excl=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        Y = np.asarray(Y, dtype=float)
        self.T, self.N = Y.shape
        Yc = Y - Y.mean(axis=1, keepdims=True)
        s = float(np.abs(Yc).max()) or 1.0
        self.s2 = s * s
        self.Yc = Yc / s
        self.G = self.Yc.T @ self.Yc
        self.mode = mode
        self.lam = float(lam)
        self.lam_s = self.lam / self.s2
        self._unit_cache = {}
        self.n_qp = 0
        # donor restrictions: B[i, j] True = j may not be a donor of treated unit i.  Every lower
        # bound below ignores them (fewer donors can only raise an objective), so they stay valid.
        self.donor_excl = None if donor_excl is None else np.asarray(donor_excl, dtype=bool)

    def controls(self, S):
        """The units that may carry control weight when ``S`` is treated (global modes): not
        treated, and excluded by no treated unit."""
        ctrl = np.ones(self.N, dtype=bool)
        ctrl[list(S)] = False
        if self.donor_excl is not None:
            ctrl &= ~self.donor_excl[list(S)].any(axis=0)
        return np.flatnonzero(ctrl)

    # -- the three objectives -----------------------------------------------------------------
    def value(self, S, x0=None) -> SetValue:
        """The exact design of the treated set ``S``; ``x0`` (global modes): a feasible N-vector
        to start the active-set method from (a batch iterate)."""
        S = tuple(sorted(int(i) for i in S))
        if self.mode == "two_way_global":
            return self._two_way(S, x0)
        if self.mode == "one_way_global":
            return self._one_way(S, x0)
        return self._per_unit(S)

    def _two_way(self, S, x0=None):
        N, T = self.N, self.T
        if x0 is None:
            x0 = self._start(S)
        if self.donor_excl is not None:
            # the programme on the treated units and the allowed donors only
            idx = np.concatenate([np.asarray(S, dtype=np.int64), self.controls(S)])
            sign = np.where(np.arange(idx.size) < len(S), 1.0, -1.0)
            G = self.G[np.ix_(idx, idx)]
            x0 = np.asarray(x0, dtype=float)[idx]
            x0 = self._feasible(x0, [list(range(len(S))), None])
        else:
            idx = None
            sign = -np.ones(N)
            sign[list(S)] = 1.0
            G = self.G
            x0 = self._feasible(x0, [list(S), None])
        n = sign.size
        H = 2.0 * (G * np.outer(sign, sign) / T + self.lam_s * np.eye(n))
        blocks = np.where(sign > 0, 0, 1)
        x, val, gap, _ = block_simplex_qp(H, np.zeros(n), blocks, 2, x0=x0)
        self.n_qp += 1
        if idx is not None:
            full = np.zeros(N)
            full[idx] = x
            x = full
            sign = -np.ones(N)
            sign[list(S)] = 1.0
        a = np.where(sign > 0, x, 0.0)
        c = np.where(sign < 0, x, 0.0)
        return SetValue(S, val * self.s2, gap * self.s2, a, c)

    def _one_way(self, S, x0=None):
        N, T, K = self.N, self.T, len(S)
        C = self.controls(S)
        G = self.G
        Gcc = G[np.ix_(C, C)]
        H = 2.0 * (Gcc / T + self.lam_s * np.eye(len(C)))
        g = -2.0 * G[np.ix_(C, S)].sum(axis=1) / (K * T)
        const = G[np.ix_(S, S)].sum() / (K * K * T) + self.lam_s / K
        if x0 is None:
            x0 = self._start(S)
        xs = self._feasible(np.asarray(x0)[C], [None])
        x, val, gap, _ = block_simplex_qp(H, g, np.zeros(len(C), dtype=int), 1, x0=xs)
        self.n_qp += 1
        a = np.zeros(N)
        a[list(S)] = 1.0 / K
        c = np.zeros(N)
        c[C] = x
        return SetValue(S, (val + const) * self.s2, gap * self.s2, a, c)

    def _start(self, S):
        """A starting point for the global modes: uniform over ``S`` on the treated side, and on the
        control side uniform over the union of the treated units' own synthetic-control supports
        (each unit fitted from all others, computed once): the two sides of a good design usually
        look like that."""
        if not hasattr(self, "_loo_support"):
            keep_mode, self.mode = self.mode, "per_unit"
            try:
                self._loo_support = [self._unit(i, (i,))[4] for i in range(self.N)]
            finally:
                self.mode = keep_mode
        x = np.zeros(self.N)
        Sset = set(S)
        x[list(S)] = 1.0 / len(S)
        ctrl = sorted(set().union(*(self._loo_support[i] for i in S)) - Sset)
        if not ctrl:
            ctrl = [j for j in range(self.N) if j not in Sset]
        x[ctrl] = 1.0 / len(ctrl)
        return x

    def _feasible(self, x0, blocks):
        """A batch iterate made exactly feasible (non-negative, each block summing to one), or None."""
        if x0 is None:
            return None
        x = np.maximum(np.asarray(x0, dtype=float), 0.0)
        if len(blocks) == 2:
            S = blocks[0]
            ins = np.zeros(len(x), dtype=bool)
            ins[S] = True
            for m in (ins, ~ins):
                s = x[m].sum()
                if not s > 0:
                    return None
                x[m] /= s
            return x
        s = x.sum()
        return x / s if s > 0 else None

    def unit_fit(self, i, pool):
        """Unit ``i``'s ridge-penalised simplex fit from the units ``pool`` (sorted tuple):
        ``(value, gap, weights on pool)``, value = ||Y_i - Y_pool w||^2 / T + lam ||w||^2 (scaled)."""
        T = self.T
        P = np.asarray(pool)
        G = self.G
        H = 2.0 * (G[np.ix_(P, P)] / T + self.lam_s * np.eye(len(P)))
        g = -2.0 * G[P, i] / T
        x, val, gap, _ = block_simplex_qp(H, g, np.zeros(len(P), dtype=int), 1)
        self.n_qp += 1
        return val + G[i, i] / T, gap, x

    def _unit(self, i, S):
        """Unit i's fit from N - S, reusing a fit from a larger pool whose support avoids S."""
        excl = frozenset(S) - {i}
        E = frozenset() if self.donor_excl is None else frozenset(np.flatnonzero(self.donor_excl[i]).tolist())
        while True:
            key = (i, E)
            hit = self._unit_cache.get(key)
            if hit is None:
                pool = tuple(j for j in range(self.N) if j != i and j not in E)
                val, gap, x = self.unit_fit(i, pool)
                support = frozenset(np.asarray(pool)[x > 0].tolist())
                hit = self._unit_cache[key] = (val, gap, pool, x, support)
            drop = hit[4] & excl
            if not drop:
                return hit
            E = E | drop

    def _per_unit(self, S):
        K = len(S)
        W = np.zeros((K, self.N))
        tot = gap = 0.0
        for r, i in enumerate(S):
            val, g, pool, x, _ = self._unit(i, S)
            tot += val
            gap += g
            W[r, list(pool)] = x
        a = np.zeros(self.N)
        a[list(S)] = 1.0 / K
        return SetValue(S, tot / K * self.s2, gap / K * self.s2, a, W.mean(axis=0), W)

    # -- certified lower bounds for many sets at once ----------------------------------------
    def ridge_floor(self, K):
        """The smallest value the ridge terms can take (data units)."""
        N = self.N
        if self.mode == "two_way_global":
            return self.lam * (1.0 / K + 1.0 / (N - K))
        if self.mode == "one_way_global":
            return self.lam * (1.0 / K + 1.0 / (N - K))
        return self.lam / (N - K)

    def direction_bounds(self, combos, directions):
        """Lower bounds (data units) on the global modes' objectives for every set in ``combos``
        (M, K): for each direction v, the squared separation of the treated units' projections
        from the controls' along v (two_way: of their ranges; one_way: of the treated mean from
        the controls' range), divided by T ||v||^2; the best over the directions, plus the ridge
        floor."""
        M, K = combos.shape
        N, T = self.N, self.T
        best = np.zeros(M)
        for v in directions:
            nv = float(np.linalg.norm(v))
            if not nv > 0:
                continue
            p = (self.Yc.T @ v) / nv  # projections of the units (scaled data)
            order = np.argsort(p)
            lo_idx, hi_idx = order[: K + 1], order[::-1][: K + 1]
            ps = p[combos]
            # the control side's max / min: the first of the K + 1 extreme units not in S
            in_hi = (combos[:, :, None] == hi_idx[None, None, :]).any(axis=1)  # (M, K+1)
            in_lo = (combos[:, :, None] == lo_idx[None, None, :]).any(axis=1)
            cmax = p[hi_idx][np.argmax(~in_hi, axis=1)]
            cmin = p[lo_idx][np.argmax(~in_lo, axis=1)]
            if self.mode == "two_way_global":
                sep = np.maximum(np.maximum(ps.min(axis=1) - cmax, cmin - ps.max(axis=1)), 0.0)
            else:
                m = ps.mean(axis=1)
                sep = np.maximum(np.maximum(m - cmax, cmin - m), 0.0)
            np.maximum(best, sep * sep / T, out=best)
        # rounding: the bound is shaded down by a relative 1e-9 so that it never exceeds the truth
        return best * self.s2 * (1 - 1e-9) + self.ridge_floor(K)

    def unit_bounds(self, combos):
        """per_unit: each treated unit's fit from every other unit bounds its term from below."""
        K = combos.shape[1]
        loo = np.array([self._unit(i, (i,))[0] for i in range(self.N)])
        return loo[combos].sum(axis=1) / K * self.s2 * (1 - 1e-9)

    def batch_bounds(self, combos, cutoff, n_iter=200, check_every=5, chunk=20000, deadline=None):
        """Certified lower bounds (data units) for the global modes' objectives of many sets at
        once: accelerated projected gradient (FISTA) on every set's programme together, and at
        every check the best of two bounds valid whatever the iterate -- the Frank-Wolfe bound
        ``f(x) - gap(x)`` (the objective is convex) and the Lagrangian bound of the iterate's
        residual.  The sets are processed in rounds of ``check_every`` iterations over all chunks,
        so a ``deadline`` leaves every set with the bound of the same number of rounds; a set leaves
        the batch as soon as its bound reaches ``cutoff`` (it is proven no better).  Returns the
        best bound found per set and the last iterate of every set."""
        M, K = combos.shape
        N, T = self.N, self.T
        G = self.G
        lam = self.lam_s
        L = 2.0 * (float(np.linalg.eigvalsh(G)[-1]) / T + lam)
        out = np.full(M, -np.inf)
        iterates = np.zeros((M, N))
        two = self.mode == "two_way_global"
        cut_s = cutoff / self.s2
        chunks = []
        for lo in range(0, M, chunk):
            cb = combos[lo:lo + chunk]
            m = len(cb)
            ins = np.zeros((m, N), dtype=bool)
            ins[np.arange(m)[:, None], cb] = True
            if two:
                g0 = np.zeros((m, N))
                const = np.zeros(m)
                X = np.where(ins, 1.0 / K, 1.0 / (N - K))
            else:
                g0 = np.where(ins, 0.0, -2.0 * (G[cb].sum(axis=1)) / (K * T))
                const = np.einsum("mij->m", G[cb[:, :, None], cb[:, None, :]]) / (K * K * T) + lam / K
                X = np.where(ins, 0.0, 1.0 / (N - K))
            chunks.append(dict(lo=lo, cb=cb, ins=ins, sign=np.where(ins, 1.0, -1.0), g0=g0, const=const, X=X,
                               Y=X.copy(), t=1.0, best=np.full(m, -np.inf), alive=np.arange(m)))
        done_iter = 0
        while done_iter < n_iter and any(len(c["alive"]) for c in chunks):
            if deadline is not None and time.perf_counter() > deadline:
                break
            for c in chunks:
                alive = c["alive"]
                if not len(alive):
                    continue
                ins, sign, g0 = c["ins"][alive], c["sign"][alive], c["g0"][alive]
                X, Yk, tk = c["X"][alive], c["Y"][alive], c["t"]
                for _ in range(check_every):
                    grad = self._grad(Yk, ins, sign, g0, two, lam)
                    Xn = self._project(Yk - grad / L, ins, two, K, N)
                    tn = 0.5 * (1 + math.sqrt(1 + 4 * tk * tk))
                    Yk = Xn + ((tk - 1) / tn) * (Xn - X)
                    X, tk = Xn, tn
                c["X"][alive], c["Y"][alive], c["t"] = X, Yk, tk
                gx = self._grad(X, ins, sign, g0, two, lam)
                f = 0.5 * np.einsum("mn,mn->m", X, gx - g0) + np.einsum("mn,mn->m", X, g0) + c["const"][alive]
                small = np.where(~ins, gx, np.inf).min(axis=1)
                if two:
                    gap = np.einsum("mn,mn->m", X, gx) - (np.where(ins, gx, np.inf).min(axis=1) + small)
                else:
                    gap = np.einsum("mn,mn->m", X, gx) - small
                lb = np.maximum(f - np.maximum(gap, 0.0),
                                self._dual_bound(X, ins, sign, c["cb"][alive], two, K, c["const"][alive]))
                c["best"][alive] = np.maximum(c["best"][alive], lb)
                c["alive"] = alive[c["best"][alive] < cut_s * (1 - 1e-12)]
            done_iter += check_every
        for c in chunks:
            m = len(c["cb"])
            out[c["lo"]:c["lo"] + m] = c["best"]
            iterates[c["lo"]:c["lo"] + m] = c["X"]
        return out * self.s2 * (1 - 1e-9), iterates

    def _simplex_min(self, P, mask, lam):
        """Per row: min over the simplex of ``mask`` of ``2 p'x + lam ||x||^2`` (lam > 0: at the
        projection of ``-p / lam``; lam = 0: twice the smallest p)."""
        if lam <= 0:
            return 2.0 * np.where(mask, P, np.inf).min(axis=1)
        Xs = self._simplex_rows(-P / lam, mask)
        return 2.0 * np.einsum("mn,mn->m", P, Xs) + lam * np.einsum("mn,mn->m", Xs, Xs)

    def _dual_bound(self, X, ins, sign, cb, two, K, const):
        """Lagrangian bound from the iterate's residual ``u``: for the global modes
        ``f* >= min_x [2 u'(target - M x) ... ] - T ||u||^2``, exact at the optimum (strong duality);
        with lam = 0 the residual's direction is scaled optimally (``sep^2 / (T ||u||^2)``)."""
        T, lam = self.T, self.lam_s
        Yc = self.Yc
        if two:
            R = (sign * X) @ Yc.T / T  # u = M x / T
            P = R @ Yc  # p_j = y_j' u
            if lam <= 0:
                sep = np.where(ins, P, np.inf).min(axis=1) - np.where(~ins, P, -np.inf).max(axis=1)
                nu = np.einsum("mt,mt->m", R, R)
                with np.errstate(divide="ignore", invalid="ignore"):
                    b = np.where((sep > 0) & (nu > 0), sep * sep / (T * nu), 0.0)
                return b
            h = self._simplex_min(P, ins, lam) + self._simplex_min(-P, ~ins, lam) - T * np.einsum("mt,mt->m", R, R)
            return h
        ybar = Yc[:, cb].mean(axis=2).T if cb.ndim == 2 else None  # (m, T)
        R = (ybar - X @ Yc.T) / T
        P = R @ Yc
        pbar = np.einsum("mt,mt->m", R, ybar)
        if lam <= 0:
            sep = pbar - np.where(~ins, P, -np.inf).max(axis=1)
            nu = np.einsum("mt,mt->m", R, R)
            with np.errstate(divide="ignore", invalid="ignore"):
                b = np.where((sep > 0) & (nu > 0), sep * sep / (T * nu), 0.0)
            return b + lam / K
        h = 2.0 * pbar + self._simplex_min(-P, ~ins, lam) - T * np.einsum("mt,mt->m", R, R)
        return h + lam / K

    def _grad(self, X, ins, sign, g0, two, lam):
        T = self.T
        if two:
            return 2.0 * (sign * ((sign * X) @ self.G) / T + lam * X)
        gr = 2.0 * (X @ self.G / T + lam * X) + g0
        return np.where(ins, 0.0, gr)

    @staticmethod
    def _simplex_rows(V, mask):
        """Rows of ``V`` restricted to ``mask`` projected onto the simplex (zeros outside)."""
        N = V.shape[1]
        W = np.where(mask, V, -np.inf)
        U = -np.sort(-W, axis=1)
        fin = np.isfinite(U)
        css = np.cumsum(np.where(fin, U, 0.0), axis=1)
        k = np.arange(1, N + 1)
        cond = fin & (U - (css - 1.0) / k > 0)
        rho = cond.sum(axis=1)
        rho = np.maximum(rho, 1)
        theta = (css[np.arange(len(V)), rho - 1] - 1.0) / rho
        return np.where(mask, np.maximum(V - theta[:, None], 0.0), 0.0)

    def _project(self, V, ins, two, K, N):
        if two:
            return self._simplex_rows(V, ins) + self._simplex_rows(V, ~ins)
        return self._simplex_rows(V, ~ins)

    def residual_direction(self, sv: SetValue):
        """The separating direction of a solved global design: its pre-period contrast."""
        c = np.zeros(self.N)
        c += sv.treated_weights
        c -= sv.control_weights
        return self.Yc @ c


# ------------------------------------------------------------------------------------------------
# search
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    """The best treated set found and what was proven about it.

    ``bound``: a proven lower bound on the optimum over every admissible set (data units);
    ``proven_optimal`` when ``objective - bound <= rtol * |objective|`` (plus the best set's own
    duality gap).  ``n_sets``: admissible sets; ``n_solved``: sets whose programme was solved;
    ``n_pruned``: sets proven no better by their bound alone."""

    best: SetValue
    bound: float
    proven_optimal: bool
    n_sets: int
    n_solved: int
    n_pruned: int
    seconds: float
    stopped_by: str
    method: str
    values: dict = field(repr=False, default_factory=dict)
    pool: list = field(repr=False, default_factory=list)  # the top_k best sets found, best first


def _combos(N, K, allowed=None):
    units = np.arange(N) if allowed is None else np.asarray(allowed)
    return np.array(list(itertools.combinations(units.tolist(), K)), dtype=np.int64).reshape(-1, K)


class _SolveChunk:
    """Picklable: the exact designs of a chunk of treated sets (a worker's share)."""

    def __init__(self, problem):
        self.problem = problem

    def __call__(self, sets):
        return [self.problem.value(S) for S in sets]


def enumerate_designs(problem: DesignProblem, K, *, combos=None, rtol=1e-9, time_limit=None,
                      n_directions=8, keep_values=False, batch_above=50_000, batch_iter=200, n_jobs=1, top_k=1):
    """Best-first search over the treated sets of size ``K`` (or the given ``combos``).

    Every set gets a certified lower bound; sets are solved exactly in increasing order of their
    bounds until the next bound reaches the best objective found (``rtol`` relative).  With
    ``top_k > 1`` the search keeps the ``top_k`` best sets (``pool``, best first) and stops when the
    next bound reaches the ``top_k``-th best objective: then they are proven the ``top_k`` best.  Above
    ``batch_above`` sets the global modes' bounds are first tightened by :meth:`batch_bounds`
    (``batch_iter`` iterations; below it exact solves of every set cost less, measured on Walmart:
    0.9 ms per two-way set).  With
    ``time_limit`` (seconds) a search that has not finished stops and reports the bound it proved
    (the smallest bound among the sets not solved)."""
    t0 = time.perf_counter()
    if combos is None:
        combos = _combos(problem.N, K)
    M = len(combos)
    if M == 0:
        raise ValueError("no admissible treated set")
    values = {}
    # initial directions: the leading principal directions of the scaled data (over periods)
    dirs = []
    if problem.mode != "per_unit":
        U, sv, _ = np.linalg.svd(problem.Yc, full_matrices=False)
        dirs = [U[:, k] for k in range(min(n_directions, U.shape[1]))]
        lb = problem.direction_bounds(combos, dirs)
    else:
        lb = problem.unit_bounds(combos)
    best = None
    solved = np.zeros(M, dtype=bool)
    stopped_by = "complete"
    top_k = max(1, int(top_k))
    pool = []  # the top_k best solved, best first

    def record(k, sv):
        """Set ``k`` solved: its bound becomes its certified value; the incumbent is updated."""
        nonlocal best
        solved[k] = True
        lb[k] = max(lb[k], sv.objective - sv.gap)
        if keep_values:
            values[sv.treated] = sv
        if best is None or sv.objective < best.objective:
            best = sv
        if len(pool) < top_k or sv.objective < pool[-1].objective:
            pool.append(sv)
            pool.sort(key=lambda v: v.objective)
            del pool[top_k:]

    def cutoff():
        """Sets whose bound reaches this need not be solved: the top_k-th best objective (less
        its duality gap), or +inf while fewer than top_k sets are solved."""
        if len(pool) < top_k:
            return math.inf
        kth = pool[-1]
        return kth.objective * (1 - rtol) - max(v.gap for v in pool)
    if problem.mode != "per_unit" and M > batch_above:
        # an incumbent from the most promising sets, then certified batch bounds for the rest
        first = np.argsort(lb, kind="stable")[:32]
        for k in first:
            record(k, problem.value(combos[k]))
        todo = np.flatnonzero(~solved & (lb < cutoff()))
        if len(todo):
            # the most promising sets first, so that a time limit leaves the weakest bounds unimproved
            todo = todo[np.argsort(lb[todo], kind="stable")]
            blb, _ = problem.batch_bounds(combos[todo], min(cutoff(), pool[-1].objective), n_iter=batch_iter,
                                          deadline=None if time_limit is None else t0 + 0.5 * time_limit)
            lb[todo] = np.maximum(lb[todo], blb)
            # (the batch iterates are not used as warm starts: the treated units' own
            # synthetic-control supports start the exact solves better, measured on Walmart)
    refresh_at = 16  # add the first solved sets' contrasts as directions, then re-bound
    from ..parallel import plan, pmap
    workers = plan(n_jobs).workers
    if workers > 1 and best is None and time_limit is None and M >= 500:
        for k in np.argsort(lb, kind="stable")[:32]:  # an incumbent first
            record(k, problem.value(combos[k]))
    if workers > 1 and best is not None and time_limit is None:
        # every set whose bound is below the incumbent must be solved: hand them to the workers in
        # chunks (the proof is the same: each set is solved, or its bound reaches the best found)
        todo = np.flatnonzero(~solved & (lb < cutoff()))
        if len(todo) >= 500:
            todo = todo[np.argsort(lb[todo], kind="stable")]
            parts = np.array_split(todo, 4 * workers)
            outs = pmap(_SolveChunk(problem), [[tuple(combos[k]) for k in part] for part in parts],
                        n_jobs=n_jobs, chunk_size=1, desc="design: exact solves")
            for part, svs in zip(parts, outs):
                for k, sv in zip(part, svs):
                    record(k, sv)
    order = np.argsort(lb, kind="stable")
    pos = 0
    while pos < M:
        k = order[pos]
        if solved[k]:
            pos += 1
            continue
        if lb[k] >= cutoff():
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped_by = "time_limit"
            break
        record(k, problem.value(combos[k]))
        pos += 1
        if problem.mode != "per_unit" and int(solved.sum()) == refresh_at and refresh_at < M:
            # the solved designs' contrasts separate their sides best: tighten every bound
            extra = [problem.residual_direction(best)]
            newlb = problem.direction_bounds(combos, dirs + extra)
            lb = np.where(solved, lb, np.maximum(lb, newlb))
            dirs = dirs + extra
            refresh_at *= 8
            order = np.argsort(lb, kind="stable")
            pos = 0
    n_solved = int(solved.sum())
    unsolved = ~solved
    rest = float(lb[unsolved].min()) if unsolved.any() else math.inf
    bound = min(best.objective - best.gap, rest)
    proven = bool(best.objective - bound <= rtol * abs(best.objective) + best.gap + 1e-300) \
        and stopped_by == "complete"
    return SearchResult(best, bound, proven, M, n_solved, M - n_solved if stopped_by == "complete" else 0,
                        time.perf_counter() - t0, stopped_by, "best-first enumeration",
                        values if keep_values else {}, list(pool))


def anneal_designs(problem: DesignProblem, K, *, seed=0, n_iter=2000, allowed=None, admissible=None,
                   t_start=None, top_k=1):
    """Seeded simulated annealing over treated sets (swap one treated for one control unit), each
    set's objective exact.  Returns a :class:`SearchResult` with ``proven_optimal=False`` and the
    ridge terms' floor as its (weak but valid) bound; ``pool``: the ``top_k`` best sets visited."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    N = problem.N
    units = np.arange(N) if allowed is None else np.asarray(allowed)
    if len(units) <= K:
        raise ValueError("fewer admissible units than K + 1")
    cache = {}

    def val(S):
        S = tuple(sorted(S))
        hit = cache.get(S)
        if hit is None:
            hit = cache[S] = problem.value(S)
        return hit
    for _ in range(1000):
        cur = tuple(sorted(rng.choice(units, size=K, replace=False).tolist()))
        if admissible is None or admissible(cur):
            break
    cur_v = val(cur)
    best = cur_v
    temp = t_start if t_start is not None else max(cur_v.objective, 1e-300) * 0.1
    for it in range(n_iter):
        out = rng.choice(list(cur))
        inn = rng.choice([u for u in units if u not in cur])
        cand = tuple(sorted([u for u in cur if u != out] + [int(inn)]))
        if admissible is not None and not admissible(cand):
            continue
        cv = val(cand)
        d = cv.objective - cur_v.objective
        if d <= 0 or rng.random() < math.exp(-d / max(temp, 1e-300)):
            cur, cur_v = cand, cv
            if cv.objective < best.objective:
                best = cv
        temp *= 0.997
    floor = problem.ridge_floor(K)
    visited = sorted((v for S, v in cache.items() if admissible is None or admissible(S)),
                     key=lambda v: v.objective)
    return SearchResult(best, floor, False, math.comb(len(units), K), len(cache), 0, time.perf_counter() - t0,
                        "iterations", "simulated annealing (seeded)", pool=visited[:max(1, int(top_k))])
