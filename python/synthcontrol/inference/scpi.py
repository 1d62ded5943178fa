"""SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021; Cattaneo, Feng, Palomba & Titiunik's
scpi package), written from the papers' description -- no code of the GPL package is used.

The counterfactual of post period ``t`` is ``p_t' w_hat`` (``p_t`` the donors' outcomes at ``t``);
its prediction error splits into the in-sample error of the weights, ``p_t'(w_hat - w0)``, and the
out-of-sample shock ``e_t``.  Both get a bound, at levels ``u_alpha`` and ``e_alpha``; the
interval for the counterfactual is ``[p_t'w_hat + w_lb + e_lb, p_t'w_hat + w_ub + e_ub]`` and has
coverage at least ``1 - u_alpha - e_alpha`` (90% with the defaults).

In-sample (simulation).  With ``B`` the donors' outcomes over the fitting periods (``T0`` rows),
``u = A - B w_hat`` the pre-period residuals, ``Q = B'B / T0`` and
``Sigma = B' diag(omega) B / T0^2`` with HC1 weights ``omega_s = T0 / (T0 - df) (u_s - E[u_s])^2``
(``df`` = active weights - 1; ``E[u]`` from an OLS of ``u`` on the large donors' outcomes and a
constant), each draw ``G ~ N(0, Sigma)`` defines the localised set

    {x : (x - w_hat)'Q(x - w_hat) - 2 G'(x - w_hat) <= 0,  sum x = 1,  x_j >= lb_j}

with ``lb_j = w_hat_j`` for the weights below ``rho`` and 0 for the others.  ``p_t'(w_hat - x)`` is
minimised and maximised over that set (two small second-order-cone programmes per draw and period:
solved exactly by a compiled active-set method, ``solvers/_ballsimplex.c``, whose every answer is
KKT-checked; Clarabel re-solves any it cannot certify, and solves all of them when the kernel is not
installed or for ridge fits);
``w_lb``/``w_ub`` are the ``u_alpha/2`` and ``1 - u_alpha/2`` quantiles over the draws.  ``rho`` is
scpi's data-driven rule (type 1, ``C sqrt(log(J) d0 log(T0)) / sqrt(T0)`` with
``C = sd(u) / min_j sd(B_j)``, ``d0`` the active weights), capped at ``rho_max = 0.2``.  A ``rho`` set
by the cap (the rule's value is above ``rho_max``; Prop 99: 0.744) is not determined by the data: it is
flagged (``details["rho_at_grid_edge"] = "upper"``, the rule's value in ``details["rho_uncapped"]``)
and said with a warning.

Out-of-sample (location-scale).  ``e`` (the pre-period residuals) is regressed on the same design
(large donors' outcomes and a constant): the mean ``E[e_t]`` is the OLS prediction at ``t``, the
scale ``sigma_t = min(sqrt(exp(fitted log-variance)), IQR_t / 1.34)`` (the IQR from He's restricted
regression quantiles at 0.25 and 0.75, as R scpi).  ``e_method``: ``"gaussian"`` (sub-Gaussian,
``E[e_t] -+ sqrt(2 log(2 / e_alpha)) sigma_t``), ``"ls"`` (the standardised residuals' empirical
quantiles), ``"qreg"`` (quantile regressions of ``e`` at ``e_alpha/2`` and ``1 - e_alpha/2``),
``"empirical"`` (the residuals' own quantiles, no design).  Because ``E[e_t]`` enters the bounds, a
fit whose pre-period residuals have a predictable mean (a poor pre-fit) gets intervals shifted by
that predicted error: they need not contain the raw effect estimate.

The ATT interval comes from the same simulation: one more row, the post-period mean of ``p_t``
(and of the design), carried through every step, as scpi's ``effect = "unit"`` does.  Simultaneous
bands over all post periods (``details["joint_lower"/"joint_upper"]``) follow scpi: the quantiles of
the per-draw minimum/maximum over the periods, plus the Gaussian out-of-sample bounds scaled by
``sqrt(log(T1 + 1))``.

Other fits.  Covariate (V-weighted) fits use the outcome design ``B`` with their weights -- the
weights were also shaped by the predictors, so the in-sample term is an approximation (say so in
``details["design"]``).  Ridge-augmented weights leave the simplex: their localised set replaces
the simplex by ``{sum x = 1, ||x||_2 <= ||w_hat||_2 + rho}`` (scpi's ridge-type constraint).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._validate import (_py, check_alpha, check_choice, check_count, check_n_jobs, check_number,
                         check_seed)
from ..errors import SolverError, SpecificationError
from .._numerics import col_rms, rms
from ._undefined import RTOL, flag_grid_edge, outcome_scale, say
from .base import Inference, register

__all__ = ["scpi_inference", "scpi_rho", "quantile_regression", "restricted_quantiles"]

_E_METHODS = ("gaussian", "ls", "qreg", "empirical")


# ------------------------------------------------------------------------------------------------
# small building blocks

def scpi_rho(u, B, w, rho_max=0.2, names=None):
    """scpi's type-1 regularisation parameter (with its fallbacks), capped at ``rho_max``."""
    return _rho_rule(u, B, w, rho_max, names)[0]


def _rho_rule(u, B, w, rho_max=0.2, names=None):
    """:func:`scpi_rho` and how it was set: ``(rho, uncapped, rule)`` with ``uncapped`` the rule's
    value before the cap and ``rule`` ``"type-1"``, ``"type-1 (capped)"``, ``"fallback"``,
    ``"fallback (capped)"`` or ``"fallback: rho_max"`` (scpi's choice for a near-exact pre-fit)."""
    u = np.asarray(u, dtype=float)
    B = np.asarray(B, dtype=float)
    T0, J = B.shape
    # the standard deviations, overflow-safe (finite for outcomes of 1e300): rms of the centred values
    sd_u = rms(u - u.mean())
    sd_b = col_rms(B - B.mean(axis=0)) * math.sqrt(T0 / (T0 - 1)) if T0 > 1 else np.full(J, np.nan)
    if not np.all(sd_b > 0):
        j = int(np.flatnonzero(~(sd_b > 0))[0])
        who = repr(names[j]) if names is not None else str(j)
        raise SpecificationError(f"donor {who} has no variation over the fitting periods; SCPI's scale "
                                 f"needs every donor to vary (drop it from the donor pool)")
    d0 = int(np.count_nonzero(np.abs(w) >= 1e-6))
    rate = math.sqrt(math.log(max(J, 2)) * d0 * math.log(T0)) / math.sqrt(T0)
    raw = sd_u / sd_b.min() * rate
    rho = min(raw, rho_max)
    rule = "type-1"
    if rho < 1e-3:  # scpi's fallbacks for a (near) exact pre-fit
        raw2 = sd_u * (sd_b.max() / sd_b.min()) / sd_b.min() * rate
        rho2 = min(raw2, rho_max)
        if rho2 > rho:
            rho, raw, rule = rho2, raw2, "fallback"
        if rho < 0.05:
            return float(rho_max), float(raw), "fallback: rho_max"
    if raw > rho_max:
        rule += " (capped)"
    return float(rho), float(raw), rule


def _ols(D, y):
    coef, *_ = np.linalg.lstsq(D, y, rcond=None)
    return coef


def quantile_regression(D, y, tau):
    """Coefficients of the ``tau`` quantile regression of ``y`` on ``D`` (no added intercept),
    solved as a linear programme (HiGHS)."""
    from scipy.optimize import linprog
    D = np.asarray(D, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = D.shape
    # variables: beta (free, k), u+ (n), u- (n); D beta + u+ - u- = y
    c = np.concatenate([np.zeros(k), np.full(n, tau), np.full(n, 1 - tau)])
    A_eq = np.hstack([D, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    out = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
    if out.status != 0:
        raise SolverError(f"quantile regression at tau={tau} failed: {out.message}")
    return out.x[:k]


def restricted_quantiles(D, y, taus, Dnew):
    """He's (1997) restricted regression quantiles of ``y`` on ``D`` (no added intercept), predicted
    at the rows of ``Dnew``: the median regression ``b``, a scale ``s(x) = x'g`` from the median
    regression of ``|y - D b|``, and for each ``tau`` the coefficient ``c_tau`` of the quantile
    regression of the residuals on ``s``; the ``tau`` quantile at ``x`` is ``x'b + c_tau s(x)``.
    The quantile lines cannot cross.  (This is the quantile-regression routine behind R scpi's
    out-of-sample bounds, ``Qtools::rrq``; statsmodels' unrestricted fits differ.)
    Returns an array (len(taus), len(Dnew))."""
    b = quantile_regression(D, y, 0.5)
    r = y - D @ b
    g = quantile_regression(D, np.abs(r), 0.5)
    s = D @ g
    out = []
    for tau in taus:
        c = quantile_regression(s[:, None], r, tau)[0]
        out.append(Dnew @ b + c * (Dnew @ g))
    return np.array(out)


def _design(B, P_rows, active, T0, extra=10):
    """The conditional-moment design: the active donors' outcomes and a constant (a constant
    only when there are too few periods, scpi's over-fitting rule)."""
    cols = list(active)
    if T0 - extra <= len(cols) + 1:
        cols = []
    Dpre = np.column_stack([B[:, cols], np.ones(B.shape[0])])
    Dpost = np.column_stack([P_rows[:, cols], np.ones(P_rows.shape[0])])
    return Dpre, Dpost, cols


def _psd_root(S):
    lam, V = np.linalg.eigh((S + S.T) / 2)
    return V * np.sqrt(np.clip(lam, 0.0, None))


def _q_factor(Q):
    """``L`` (J x r) with ``L L' = Q`` on the eigen-directions above scpi's relative threshold."""
    lam, V = np.linalg.eigh((Q + Q.T) / 2)
    scale = float(np.abs(lam).max()) if lam.size else 0.0
    if scale <= 0:
        return np.zeros((Q.shape[0], 0))
    keep = lam / scale > 1e6 * np.finfo(float).eps
    return V[:, keep] * np.sqrt(lam[keep])


# ------------------------------------------------------------------------------------------------
# the in-sample simulation

class _Programs:
    """The two conic programmes per draw and row, posed in ``d = (x - w) / s`` (``s`` the ball's
    radius in weight units), so every number the solver sees is of order one: in ``x`` itself a
    near-exact pre-fit asks for differences of 1e-4 in objectives of 1e3."""

    def __init__(self, w, Q, lb, kind, rho):
        import scipy.sparse as sp
        self.sp = sp
        self.w = w
        self.L = _q_factor(Q)
        self.colnorm2 = np.sum(self.L * self.L, axis=0)
        self.lb = lb
        self.kind = kind
        self.rho = rho
        self.J = len(w)
        self.r = self.L.shape[1]
        self.qstar = float(np.linalg.norm(w)) + rho  # the ridge set: ||x||_2 <= Q*
        self._setup()

    def _setup(self):
        """The Clarabel objects (rebuilt in a joblib worker: they cannot be pickled)."""
        import clarabel
        J, r = self.J, self.r
        self.clarabel = clarabel
        cones = [clarabel.ZeroConeT(1)]
        cones.append(clarabel.NonnegativeConeT(J) if self.kind == "simplex" else clarabel.SecondOrderConeT(J + 1))  # "ball"
        cones.append(clarabel.SecondOrderConeT(r + 1))
        self.cones = cones
        st = clarabel.DefaultSettings()
        st.verbose = False
        st.max_iter = 200
        self.settings = st
        self.P0 = self.sp.csc_matrix((J, J))

    def __getstate__(self):
        state = dict(self.__dict__)
        for k in ("clarabel", "cones", "settings", "P0", "sp"):
            state.pop(k, None)
        return state

    def __setstate__(self, state):
        import scipy.sparse as sp
        self.__dict__.update(state)
        self.sp = sp
        self._setup()

    def _solve_flat(self, rows):
        """A ball of zero radius (an exactly fitted pre-period leaves ``G = 0``): the set is
        ``{x : L'(x - w) = 0, sum x = 1, x >= lb}``, a polytope; min and max of ``p'x`` are linear
        programmes (HiGHS)."""
        from scipy.optimize import linprog
        w, L, J = self.w, self.L, self.J
        A_eq = np.vstack([L.T, np.ones((1, J))])
        b_eq = np.zeros(A_eq.shape[0])
        bounds = list(zip(self.lb - w, [None] * J))
        lo = np.full(len(rows), np.nan)
        hi = np.full(len(rows), np.nan)
        base = rows @ w
        for i, p in enumerate(rows):
            for sign, out in ((1.0, lo), (-1.0, hi)):
                r = linprog(sign * p, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
                if r.status == 0:
                    out[i] = base[i] + sign * r.fun
        return lo, hi

    def solve_draw(self, G, rows):
        """min and max of ``rows @ x`` over the set of draw ``G`` (``G`` on ``Q``'s kept
        directions): two (n_rows,) arrays (NaN where the solver did not reach an optimum).

        With ``G = L g`` the quadratic constraint is the ball ``||L'(x - w) - g|| <= ||g||``."""
        w, L, J = self.w, self.L, self.J
        g = (G @ L) / self.colnorm2
        R = float(np.sqrt(g @ g))
        lnorm = float(np.sqrt(self.colnorm2.max())) if self.colnorm2.size else 0.0
        if self.kind == "simplex" and not R > 1e-9 * lnorm * float(np.abs(w).sum()):
            return self._solve_flat(rows)
        s = R / lnorm
        A_rows = [np.ones((1, J))]
        b_rows = [[0.0]]
        if self.kind == "simplex":
            A_rows.append(-np.eye(J))
            b_rows.append((w - self.lb) / s)  # d >= (lb - w) / s
        else:
            A_rows += [np.zeros((1, J)), -np.eye(J)]
            b_rows += [[self.qstar / s], w / s]  # ||d + w/s|| <= Q*/s
        A_rows += [np.zeros((1, J)), L.T]
        b_rows += [[R / s], g / s]  # ||g/s - L'd|| <= R/s
        A = self.sp.csc_matrix(np.vstack(A_rows))
        b = np.concatenate([np.ravel(x) for x in b_rows])
        solver = self.clarabel.DefaultSolver(self.P0, rows[0], A, b, self.cones, self.settings)
        base = rows @ w
        lo = np.full(len(rows), np.nan)
        hi = np.full(len(rows), np.nan)
        ok_status = ("Solved", "AlmostSolved")
        for i, p in enumerate(rows):
            for sign, out in ((1.0, lo), (-1.0, hi)):
                solver.update(q=sign * p)
                sol = solver.solve()
                if str(sol.status) in ok_status:
                    out[i] = base[i] + s * sign * sol.obj_val
        return lo, hi


def _project(G, L):
    """``G`` projected on the column space of ``L`` (``Q``'s kept eigen-directions): the quadratic
    constraint then is a ball in ``L'x`` (directions ``Q`` does not constrain carry no linear term)."""
    U = L / np.linalg.norm(L, axis=0)  # L's columns are orthogonal (scaled eigenvectors)
    return (G @ U) @ U.T


def _fast_draws(progs, Gs, rows):
    """min/max of ``rows @ x`` for every draw with the compiled active-set kernel; the programmes it
    cannot certify are re-solved with Clarabel.  Returns ``(mn, mx, n_kernel, n_conic, max_kkt)``."""
    from ..solvers.ballsimplex import solve_batch
    L, w, lb = progs.L, progs.w, progs.lb
    lam0 = np.maximum(w - lb, 0.0)  # x = w in the shifted variables: always feasible
    m = float(lam0.sum())
    nr = len(rows)
    if not m > 0:  # every weight is pinned at its lower bound: the set is the single point w
        v = rows @ w
        return np.tile(v, (len(Gs), 1)), np.tile(v, (len(Gs), 1)), 0, 0, 0.0
    colnorm2 = np.sum(L * L, axis=0)
    g = (Gs @ L) / colnorm2  # G = L g on the kept directions
    d = lb - w
    A = g - (L.T @ d)[None, :]
    R = np.sqrt(np.sum(g * g, axis=1))  # the ball ||L'(x - w) - g|| <= ||g||
    C = np.vstack([rows, -rows])
    val, status, kkt = solve_batch(L, A, R, m, lam0, C)
    base = rows @ lb
    mn = base[None, :] + val[:, :nr]
    mx = base[None, :] - val[:, nr:]
    bad = (status != 0) | ~(kkt <= 1e-8)
    n_conic = int(bad.sum())
    max_kkt = float(np.max(kkt[~bad])) if (~bad).any() else float("nan")
    if n_conic:
        for dr in np.flatnonzero(bad.any(axis=1)):
            lo, hi = progs.solve_draw(Gs[dr], rows)
            mn[dr], mx[dr] = lo, hi
    return mn, mx, int(bad.size - n_conic), n_conic, max_kkt


def _simulate(progs, Sroot, rows, sims, seed, n_jobs, use_kernel=True):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((sims, Sroot.shape[1]))
    Gs = _project(Z @ Sroot.T, progs.L)
    if use_kernel and progs.kind == "simplex":
        from ..solvers.ballsimplex import available
        if available():
            mn, mx, nk, nc, kk = _fast_draws(progs, Gs, rows)
            return mn, mx, {"solver": "active-set kernel (exact, KKT-checked)", "programmes_kernel": nk,
                            "programmes_conic": nc, "max_kkt_violation": kk}
        from ..versions import first_time
        if first_time("ballsimplex"):
            say("scpi: the compiled SCPI kernel (synthcontrol.solvers._ballsimplex) is not built, so the "
                "simulated programmes are solved by Clarabel: the same answers, about 20x slower. Reinstall "
                "with a C compiler (pip install --force-reinstall .) to build it; sc.show_versions() lists "
                "the optional parts")

    def chunk(block):
        out = [progs.solve_draw(G, rows) for G in block]
        return np.array([o[0] for o in out]), np.array([o[1] for o in out])
    from ..parallel import plan, pmap
    workers = plan(n_jobs).workers
    if workers == 1 or sims < 50:
        lo, hi = chunk(Gs)
    else:
        n_chunks = max(1, min(len(Gs), 4 * workers))
        parts = pmap(chunk, np.array_split(Gs, n_chunks), n_jobs=n_jobs, chunk_size=1, desc="scpi draws")
        lo = np.vstack([p[0] for p in parts])
        hi = np.vstack([p[1] for p in parts])
    return lo, hi, {"solver": "Clarabel (conic interior point)", "programmes_kernel": 0,
                    "programmes_conic": int(2 * lo.size)}  # (sims, n_rows): min and max of p'x


# ------------------------------------------------------------------------------------------------

@register("scpi", title="SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021)",
          cli=lambda args: {k: v for k, v in (("alpha", None if args.alpha is None else args.alpha / 2),
                                              ("sims", args.sims), ("seed", args.seed)) if v is not None},
          cli_table=["period", "observed", "counterfactual", "effect", "effect_lower", "effect_upper"])
def scpi_inference(res, alpha=0.05, sims=200, e_method="gaussian", seed=0, u_alpha=None, e_alpha=None,
                   rho=None, rho_max=0.2, n_jobs=1, solver="auto", u_missp=True) -> Inference:
    """SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021), as the scpi package computes
        them for the simplex: an in-sample simulation of the weights' error (``sims`` seeded draws,
        two small conic programmes each per post period) plus an out-of-sample location-scale
        bound (``e_method``: ``"gaussian"``, ``"ls"``, ``"qreg"`` or ``"empirical"``).

        ``alpha`` is both levels (``u_alpha``, ``e_alpha`` override them): intervals cover with
        probability at least ``1 - u_alpha - e_alpha`` (90% by default; ``Inference.alpha`` is that
        sum).  ``ci_lower``/``ci_upper``: the ATT interval from the same simulation.
        ``details["table"]``: per period the counterfactual band, the effect interval, the in- and
        out-of-sample pieces and scpi's simultaneous band; ``rho``, ``active_donors``, ``Sigma``,
        ``u_mean``, ``e_mean``, ``e_var``, ``failed_sims``.  Covariate fits use the outcome design
        (approximate, see ``details["design"]``); ridge fits an L2-ball set.  ``solver="conic"``
        solves every in-sample programme with Clarabel instead of the exact compiled kernel (a
        cross-check; ``details["in_sample_solver"]`` says which solved what).
        ``u_missp`` (scpi's ``u.missp``): True (default) allows the weights' model to be misspecified and
        estimates the residuals' conditional mean ``E[u | H]`` by regressing them on the active donors'
        design (``details["u_mean"]``); False sets it to 0, so the variance is built from the raw
        residuals.
        """
    alpha = check_alpha("alpha", alpha, high=0.5)
    sims = check_count("sims", sims, 10)
    e_method = check_choice("e_method", e_method, _E_METHODS)
    seed = check_seed("seed", seed)
    u_alpha = check_alpha("u_alpha", u_alpha, high=0.5, allow_none=True)
    e_alpha = check_alpha("e_alpha", e_alpha, high=0.5, allow_none=True)
    rho = check_number("rho", rho, low=0, allow_none=True)
    rho_max = check_number("rho_max", rho_max, low=0, low_open=True)
    n_jobs = check_n_jobs("n_jobs", n_jobs, allow_none=True)
    from .._validate import check_bool
    u_missp = check_bool("u_missp", u_missp)
    solver = check_choice("solver", solver, ("auto", "conic"),
                          what="'auto' (the exact kernel when built, else Clarabel) or 'conic' (Clarabel for "
                               "every programme)")
    if res.panel.T0 >= len(res.panel.times):
        raise SpecificationError("SCPI needs post-treatment periods")
    u_alpha = alpha if u_alpha is None else u_alpha
    e_alpha = alpha if e_alpha is None else e_alpha
    p = res.panel
    model = res.model
    mask = np.asarray(res.fit_mask, dtype=bool)
    post = np.asarray(p.post, dtype=bool)
    y = np.asarray(p.y_treated, dtype=float)
    X = np.asarray(p.X_donors, dtype=float)
    w = np.asarray(res.w, dtype=float)
    A, B = y[mask], X[mask]
    T0, J = B.shape
    P = X[post]
    T1 = P.shape[0]
    rows = np.vstack([P, P.mean(axis=0, keepdims=True)])  # the post periods, then their mean

    u = A - B @ w
    # the out-of-sample error's location and scale are estimated from these residuals: residuals that
    # are zero relative to the outcome's scale (an exact pre-fit, the rule of ._undefined) would give
    # a zero-width out-of-sample bound, a band claiming a certainty the data do not have
    scale = outcome_scale(A, B)
    if not 1e-100 < scale < 1e100:  # its covariances are products of outcomes: they would over/underflow
        raise SpecificationError(
            f"SCPI works with products of outcomes, which over/underflow at outcomes of size {scale:.3g}; "
            f"rescale the outcome (e.g. divide it by {10 ** round(math.log10(scale)):.0e}): the weights do "
            f"not change and the intervals scale with it")
    floor = RTOL * scale
    u_rms = rms(u)  # overflow-safe
    if not u_rms > floor:
        raise SpecificationError(
            f"SCPI cannot estimate the out-of-sample error: the {T0} fitting periods are fitted exactly "
            f"(residual RMS {u_rms:.3g} <= {RTOL:g} x the outcome scale {scale:.6g}; {J} donors), so the "
            f"error's scale would be 0 and the prediction intervals zero-width. Use a longer pre-period "
            f"(more fitting periods than the donors can reproduce exactly) or a smaller donor pool")
    nz = int(np.count_nonzero(np.abs(w) >= 1e-6))
    df = min(nz - 1, T0 - 1) if model.simplex else min(nz, T0 - 1)  # simplex weights: one fewer
    rho_details = {"rho_rule": "given", "rho_uncapped": None, "rho_at_grid_edge": None}
    if rho is None:
        rho_v, raw, rule = _rho_rule(u, B, w, rho_max, names=list(p.donors))
        rho_details.update(rho_rule=rule, rho_uncapped=raw)
        if rule.endswith("(capped)"):  # rho set by the cap, not by the data: a choice on its range's edge
            flag_grid_edge(
                "rho", rho_v, (0.0, rho_max), rho_details, who="SCPI", natural=("lower",), span="range",
                why=f"scpi's {rule.split()[0]} rule gives {raw:.4g}, above rho_max = {rho_max:g}, and is capped",
                consequence="rho is set by rho_max, not by the data; which weights count as zero (held at their "
                            "fitted value in the simulation's constraint set) and which donors enter the error "
                            "model's design follow from it",
                advice="Compare the intervals under other rho_max (or rho) values (details['rho_uncapped'])")
    else:
        rho_v = float(rho)
    active = np.flatnonzero(w > rho_v)
    if active.size == 0:
        active = np.array([int(np.argmax(w))])

    # conditional mean and HC1 variance of the residuals; Sigma over all donors
    Dpre, Dpost, cols = _design(B, rows, active, T0)
    u_mean = Dpre @ _ols(Dpre, u) if u_missp else np.zeros_like(u)
    omega = (u - u_mean) ** 2 * T0 / (T0 - df)
    Sigma = (B * omega[:, None]).T @ B / T0 ** 2
    Q = B.T @ B / T0
    Sroot = _psd_root(Sigma)

    # in-sample: min/max of p'x over each draw's localised set
    if not model.simplex:  # weights off the simplex: scpi's ridge-type (L2 ball) set
        lb = np.full(J, -np.inf)
        progs = _Programs(w, Q, lb, "ball", rho_v)
    else:
        lb = np.where(w < rho_v, np.maximum(w, 0.0), 0.0)
        progs = _Programs(w, Q, lb, "simplex", rho_v)
    mn, mx, solver_info = _simulate(progs, Sroot, rows, int(sims), seed, n_jobs, use_kernel=solver == "auto")
    pw = rows @ w
    low_draws = pw[None, :] - mx  # p'(w_hat - x) at the x maximising p'x: the lower branch
    high_draws = pw[None, :] - mn
    failed = np.isnan(low_draws) | np.isnan(high_draws)
    n_failed = int(failed.any(axis=1).sum())
    if n_failed > 0.5 * sims:
        raise SolverError(f"SCPI: the conic solver failed in {n_failed} of {sims} simulations")

    def q(a, level):
        return np.nanquantile(a, level, axis=0)
    w_lb = q(low_draws, u_alpha / 2)
    w_ub = q(high_draws, 1 - u_alpha / 2)

    # out-of-sample location-scale model
    e = u
    b_e = _ols(Dpre, e)
    e_mean = Dpost @ b_e
    resid = e - Dpre @ b_e
    logv = np.log(np.maximum(resid ** 2, np.finfo(float).tiny))
    g = _ols(Dpre, logv)
    var_model = np.exp(Dpost @ g)
    q25, q75 = restricted_quantiles(Dpre, resid, (0.25, 0.75), Dpost)
    iqr = np.abs(q75 - q25)
    sigma = np.minimum(np.sqrt(var_model), iqr / 1.34)
    a2 = e_alpha / 2
    gauss = math.sqrt(2 * math.log(1 / a2))
    eg_lb, eg_ub = e_mean - gauss * sigma, e_mean + gauss * sigma
    if e_method == "gaussian":
        e_lb, e_ub = eg_lb, eg_ub
    elif e_method == "ls":
        z = resid / np.sqrt(np.exp(Dpre @ g))
        e_lb = e_mean + sigma * np.quantile(z, a2)
        e_ub = e_mean + sigma * np.quantile(z, 1 - a2)
    elif e_method == "qreg" and cols:
        e_lb, e_ub = restricted_quantiles(Dpre, e, (a2, 1 - a2), Dpost)
    else:  # "empirical", or "qreg" with a constant-only design (scpi then uses these quantiles)
        e_lb = np.full(len(rows), np.quantile(e, a2))
        e_ub = np.full(len(rows), np.quantile(e, 1 - a2))

    flat = np.flatnonzero(~(e_ub - e_lb > floor))
    if flat.size:
        labels = [_py(t) for t in p.times[post]] + ["ATT"]
        raise SpecificationError(
            f"SCPI's out-of-sample bound (e_method={e_method!r}) has zero width in {flat.size} of {len(rows)} "
            f"rows (first: {labels[flat[0]]!r}; width <= {RTOL:g} x the outcome scale {scale:.6g}): the {T0} "
            f"fitting periods leave the error model no residual spread to estimate its scale from, and a "
            f"zero-width band would claim a certainty the data do not have. Use a longer pre-period")
    cf_lb = pw + w_lb + e_lb
    cf_ub = pw + w_ub + e_ub
    obs = np.concatenate([y[post], [y[post].mean()]])
    eff = obs - pw

    # simultaneous bands over the post periods (scpi's joint bounds)
    jm = math.sqrt(math.log(T1 + 1)) if T1 > 1 else 1.0
    wj_lb = float(np.nanquantile(np.nanmin(low_draws[:, :T1], axis=1), u_alpha / 2))
    wj_ub = float(np.nanquantile(np.nanmax(high_draws[:, :T1], axis=1), 1 - u_alpha / 2))
    joint_lb = pw[:T1] + wj_lb + eg_lb[:T1] * jm
    joint_ub = pw[:T1] + wj_ub + eg_ub[:T1] * jm

    times = p.times[post]
    table = pd.DataFrame({
        "period": list(times), "observed": obs[:T1], "counterfactual": pw[:T1], "effect": eff[:T1],
        "cf_lower": cf_lb[:T1], "cf_upper": cf_ub[:T1],
        "effect_lower": obs[:T1] - cf_ub[:T1], "effect_upper": obs[:T1] - cf_lb[:T1],
        "in_sample_lower": w_lb[:T1], "in_sample_upper": w_ub[:T1],
        "out_of_sample_lower": e_lb[:T1], "out_of_sample_upper": e_ub[:T1],
        "e_mean": e_mean[:T1], "e_sigma": sigma[:T1],
        "joint_cf_lower": joint_lb, "joint_cf_upper": joint_ub,
    })
    att_lo, att_hi = float(obs[-1] - cf_ub[-1]), float(obs[-1] - cf_lb[-1])
    names = list(p.donors)
    design = model.scpi_design
    details = {
        "att": float(eff[-1]),
        "att_lower": att_lo, "att_upper": att_hi,
        "att_cf_lower": float(cf_lb[-1]), "att_cf_upper": float(cf_ub[-1]),
        "table": table,
        "periods": list(times),
        "pi_lower": table.effect_lower.to_numpy(), "pi_upper": table.effect_upper.to_numpy(),
        "counterfactual_lower": cf_lb[:T1], "counterfactual_upper": cf_ub[:T1],
        "rho": rho_v, "active_donors": [names[j] for j in active],
        "design_donors": [names[j] for j in cols],
        "df": df, "u_alpha": u_alpha, "e_alpha": e_alpha, "e_method": e_method,
        "sims": int(sims), "seed": seed, "failed_sims": n_failed,
        "coverage": 1 - u_alpha - e_alpha,
        "u_missp": u_missp, "u_mean": u_mean, "u_var": omega, "Sigma": Sigma, "e_mean": e_mean[:T1],
        "e_var": sigma[:T1] ** 2, "joint_in_sample": (wj_lb, wj_ub),
        "draws_lower": low_draws, "draws_upper": high_draws,
        "fit_kind": model.kind, "design": design, "in_sample_solver": solver_info,
    }
    said = rho_details.pop("warnings", [])
    details.update(rho_details)
    if said:  # what was said about rho is kept with the result
        details.setdefault("warnings", []).extend(said)
    return Inference(method=f"SCPI prediction intervals ({e_method})", p_value=None, ci_lower=att_lo,
                     ci_upper=att_hi, alpha=u_alpha + e_alpha, details=details)
