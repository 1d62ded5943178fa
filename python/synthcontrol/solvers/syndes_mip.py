"""Synthetic experimental design (SYNDES) as a mixed-integer programme solved by SCIP.

Doudchenko, Khosravi, Pouget-Abadie, Lahaie, Lubin, Mirrokni, Spiess and Imbens (2021), "Synthetic
Design: An Optimization Approach to Experimental Design with Synthetic Controls", arXiv:2112.00278.

Given pre-period outcomes ``Y`` (``T x N``: ``T`` periods, ``N`` units) choose the treated set
``S`` (``|S| = K``, ``C`` the other units) and simplex weights jointly.  For a fixed ``S`` the
objectives are (these are the numbers reported, in the data's units):

``two_way_global``
    ``(1/T) ||Y_S a - Y_C c||^2 + lam (||a||^2 + ||c||^2)``, ``a`` in simplex(S), ``c`` in simplex(C);
``one_way_global``
    ``(1/T) ||(1/K) Y_S 1 - Y_C c||^2 + lam (1/K + ||c||^2)``, ``c`` in simplex(C);
``per_unit``
    ``(1/(K T)) sum_{i in S} ||Y_i - Y_C w^i||^2 + (lam/K) sum_{i in S} ||w^i||^2``, each ``w^i`` in
    simplex(C).

The programmes (``D_i`` binary, ``D_i = 1``: unit ``i`` treated; ``sum_i D_i = K``)
------------------------------------------------------------------------------------
``two_way_global``
    The paper's (and mlsynth's) programme has one weight vector ``w >= 0`` and the product
    ``q_i = w_i D_i`` linearised by McCormick: ``q <= D``, ``q <= w``, ``q >= w - (1 - D)``,
    ``q >= 0``, ``sum q = 1``, ``sum w = 2``; the contrast is ``(2q - w)'y_t``.  We write it in the
    variables ``a = q`` (treated weights) and ``c = w - q`` (control weights), a linear change of
    variables that maps that polytope onto ``a, c >= 0``, ``sum a = sum c = 1``, ``a_i <= D_i``,
    ``c_i <= 1 - D_i`` exactly (``q <= w`` is ``c >= 0``; ``q >= w - (1 - D)`` is ``c <= 1 - D``), so
    the relaxation is the McCormick one.  Contrast ``(a - c)'y_t``; ridge ``sum a_i^2 + c_i^2``
    (``= sum q_i^2 + (w_i - q_i)^2``, equal to ``||a||^2 + ||c||^2`` at integer ``D``).  With
    ``K=None`` the programme chooses ``K`` in ``1..N-1`` (``1 <= sum D <= N-1``).
``one_way_global``
    ``c >= 0``, ``sum c = 1``, ``c_i <= 1 - D_i``; residual ``(1/K) sum_i D_i y_it - sum_i c_i y_it``;
    ridge ``lam (1/K + ||c||^2)`` (``1/K`` is a constant: ``K`` is fixed).
``per_unit``
    ``w_ij >= 0`` (``i != j``), ``sum_j w_ij = D_i``, ``w_ij <= 1 - D_j``: no products are needed (an
    untreated ``i`` has ``w_i = 0`` and a zero residual); residual ``D_i y_it - sum_j w_ij y_jt``.

Every residual is linear in the variables, ``Y x`` with ``x`` a vector whose entries sum to zero
(``a - c``; ``D/K - c``; ``D_i e_i - w_i``).  Budget: ``sum_i costs_i D_i <= budget``.

How SCIP sees it
----------------
* **The data are scaled first.**  Because every ``x`` sums to zero, the objectives are unchanged by a
  common per-period shift of all units: each period is centred by its mean over the units, and the
  result divided by ``s = max |entry|``.  SCIP then solves the programme with ``Y / s`` and
  ``lam_scaled = lam / s^2``, and ``objective_original = s^2 * objective_scaled`` (also for the
  bound).  Unscaled data in the millions (Walmart weekly sales) make SCIP's absolute tolerances
  meaningless: mlsynth's unscaled programme finds no design in 60 s on that panel.
* The ``T`` residuals of a contrast are replaced by ``r <= min(T, N - 1)`` rotated ones: with the SVD
  ``Y_centred = U diag(sigma) V'``, ``||Y_centred x|| = ||diag(sigma) V' x||`` for every ``x`` (singular
  values below ``1e-13 sigma_max`` are dropped).
* The quadratic objective goes in through one epigraph variable per residual block (``sum_k e_k^2
  <= z_b``; the objective ``sum_b z_b`` is linear; one block for the global modes, one per unit for
  ``per_unit``), the ridge through ``(N v)^2 <= u_v`` (scaled so that ``u`` is of order 1).  One
  epigraph per block was 1.3-1.5x faster than one per squared residual on Walmart subsets, with the
  same node counts.
* **The objective is normalised as well.**  SCIP's feasibility tolerance (1e-6) is absolute on
  ``sum e_k^2 <= z``; a good design on data scaled to ``max |entry| = 1`` can have an objective of
  1e-5 (Walmart), where the tolerance alone is a 2% error (SCIP reported "optimal" 0.6% below the
  design's true objective before this).  So the residuals are multiplied by ``M`` with
  ``M^2 = r / (T F_ref)`` (each squared residual ~1 at the reference design, whose fit part is
  ``F_ref``) and SCIP's objective is divided by the reference objective ``O_ref``: SCIP then sees an
  objective of order 1, and ``objective_original = s^2 O_ref objective_SCIP``.  The reference design
  is the best of a few cheap sets (each unit with its nearest units, the units nearest the period
  mean), improved by swap local search when ``warm_start`` (see :func:`solve_design_mip`).
* ``two_way_global`` with ``K=None`` and no budget is symmetric (swapping the treated and control
  sets leaves the objective unchanged): ``D_0 = 0`` is fixed, and the mirror image with the smaller
  treated set is returned.

What to expect (Walmart, N = 45 stores, T = 128 weeks, K = 3, lam = 0, 2 busy cores)
---------------------------------------------------------------------------------
``per_unit`` and ``one_way_global`` are proven optimal by SCIP alone in about 50 s (9 and ~1000
nodes).  ``two_way_global`` is not: its dual bound stays at 0 for minutes (3500 nodes in 120 s).
That is not the McCormick relaxation's fault: in the variables ``(D, a, c)`` even the convex hull of
the designs contains the average of two designs ``S + {i}`` (``a = e_i``, ``c = e_j``) and
``S + {j}`` (``a = e_j``, ``c = e_i``), whose contrast is 0, so every relaxation in these variables
has a bound near 0 while two units are free and fewer than ``K`` are fixed treated; the
branch-and-bound has to enumerate about ``C(N, K)`` leaves (the exact enumeration of all 14,190 sets
with the inner solver of this module takes ~140 s).  The
warm start (local search) finds the optimum (the 14,190-set brute force agrees) within seconds.

The returned objective is recomputed from the returned weights, which are the exact optimum of the
inner convex problem for the returned treated set (the package's active-set simplex least squares;
SCIP's own weights when they are better), so it never depends on SCIP's tolerances.  The returned
``bound`` is SCIP's dual bound (in the data's units), capped at the objective.
"""
from __future__ import annotations

import math
import time
import types
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..errors import InfeasibleDesignError, SolverError, SpecificationError
from .mip import _relative_gap, solve_mip
from .simplex import simplex_ls

__all__ = ["DesignMIPResult", "solve_design_mip", "design_objective", "inner_weights", "MODES"]

#: The three SYNDES programmes.
MODES = ("two_way_global", "one_way_global", "per_unit")

_RANK_RTOL = 1e-13  # singular values below this times the largest are dropped (exact to rounding)
#: Inner solves the warm start's swap local search may spend (deterministic cap).  Walmart (N = 45,
#: K = 3): 3 passes of 126 swaps reach the proven optimum of one_way_global and per_unit.
_LOCAL_SEARCH_EVALS = 1000


@dataclass(frozen=True)
class DesignMIPResult:
    """The design SCIP returned and what it proved.

    ``treated``: the treated units' column indices, sorted.
    ``objective``: the design's objective in the data's units, recomputed from ``weights``.
    ``weights``: read-only arrays: ``"treated"`` and ``"control"`` (``N``-vectors, zero off their side)
    for the global modes (``one_way_global``: ``1/K`` on the treated); ``"W"`` (``K x N``, one row per
    treated unit in the order of ``treated``, zero on the treated columns) for ``per_unit``.
    ``bound``: a proven lower bound on the optimum (data's units; at least 0, as every objective is),
    never above ``objective``.
    ``gap``: ``(objective - bound) / min(|objective|, |bound|)`` (SCIP's definition: 0 when equal,
    ``inf`` when the bound is 0 or negative).
    ``proven_optimal``: SCIP proved optimality (status "optimal"); False when it stopped at the gap,
    node or time limit (the design is then its best, within ``gap`` of the optimum).
    ``status``: SCIP's status; ``stopped_by``: what ended the search (see
    :data:`synthcontrol.solvers.mip.STOPPED_BY`); ``nodes``: branch-and-bound nodes;
    ``seconds``: wall clock of the whole call.
    ``K``: the number of treated units; ``mode``, ``lam``: as requested; ``scale``: the ``s`` the data
    were divided by.
    ``incumbents``: ``(seconds, objective)`` of each improving solution SCIP found (objective as SCIP
    computed it, in the data's units; seconds since the call started), the first one included;
    information only.
    """

    treated: tuple
    objective: float
    weights: Mapping[str, np.ndarray] = field(compare=False)
    bound: float
    gap: float
    proven_optimal: bool
    status: str
    stopped_by: str
    nodes: int
    seconds: float = field(compare=False)
    K: int = 0
    mode: str = ""
    lam: float = 0.0
    scale: float = 1.0
    incumbents: tuple = field(default=(), compare=False)

    @property
    def first_incumbent_seconds(self) -> float | None:
        """Seconds from the call to SCIP's first solution (None if it reported none)."""
        return self.incumbents[0][0] if self.incumbents else None


# ----------------------------------------------------------------------------------------------
# data preparation and the exact inner problem


def _prepare(Y):
    """Centre each period by the units' mean; return (centred, s, scaled, R) with ``R`` the
    rotated residual map (``||Y_scaled x|| = ||R x||``)."""
    Yc = Y - Y.mean(axis=1, keepdims=True)
    s = float(np.abs(Yc).max())
    if not (s > 0.0 and math.isfinite(s)):
        s = 1.0
    Ys = Yc / s
    T, N = Ys.shape
    if T > N - 1:
        _, sig, Vt = np.linalg.svd(Ys, full_matrices=False)
        keep = sig > _RANK_RTOL * (sig[0] if sig.size else 0.0)
        R = sig[keep, None] * Vt[keep]
        if R.shape[0] == 0:
            R = np.zeros((1, N))
    else:
        R = Ys
    return Yc, s, Ys, R


def design_objective(Y, mode, treated, weights, lam) -> float:
    """The SYNDES objective of a design, in the data's units (the formulas of the module docstring).

    ``Y`` (``T x N``); ``treated``: the treated indices; ``weights`` as in :class:`DesignMIPResult`.
    Computed on the data centred by period (exact: every weight block sums to one).
    """
    Y = np.asarray(Y, dtype=float)
    Yc = Y - Y.mean(axis=1, keepdims=True)
    return _objective(Yc, mode, tuple(treated), weights, float(lam))


def _objective(Yc, mode, S, weights, lam) -> float:
    fit, ridge = _objective_parts(Yc, mode, S, weights, lam)
    return fit + ridge


def _objective_parts(Yc, mode, S, weights, lam):
    """(fit, ridge) parts of the objective of a design."""
    T, N = Yc.shape
    K = len(S)
    if mode == "per_unit":
        W = np.asarray(weights["W"], dtype=float)
        total = 0.0
        ridge = 0.0
        for row, i in enumerate(S):
            r = Yc[:, i] - Yc @ W[row]
            total += float(r @ r)
            ridge += float(W[row] @ W[row])
        return total / (K * T), lam * ridge / K
    a = np.asarray(weights["treated"], dtype=float)
    c = np.asarray(weights["control"], dtype=float)
    r = Yc @ (a - c)
    if mode == "one_way_global":
        return float(r @ r) / T, lam * (1.0 / K + float(c @ c))
    return float(r @ r) / T, lam * (float(a @ a) + float(c @ c))


def _candidate_sets(Ys, K, costs, budget, max_seeds=60):
    """Cheap treated sets for the reference design: each unit with its ``K - 1`` nearest units, and
    the ``K`` units nearest the period means (affordable ones only; else the ``K`` cheapest)."""
    T, N = Ys.shape
    k = 1 if K is None else K
    sq = (Ys * Ys).sum(axis=0)
    dist = sq[:, None] + sq[None, :] - 2.0 * (Ys.T @ Ys)
    seeds = range(N) if N <= max_seeds else np.unique(np.linspace(0, N - 1, max_seeds).astype(int))
    sets = {tuple(sorted(int(j) for j in np.argsort(sq, kind="stable")[:k]))}
    for i in seeds:
        dist[i, i] = -np.inf  # the seed itself first
        sets.add(tuple(sorted(int(j) for j in np.argsort(dist[i], kind="stable")[:k])))
    if costs is not None:
        sets = {S for S in sets if costs[list(S)].sum() <= budget}
        if not sets:
            sets = {tuple(sorted(int(j) for j in np.argsort(costs, kind="stable")[:k]))}
    return sorted(sets)


def _reference(Ys, mode, K, lam_s, costs, budget, extra=None, max_evals=0, deadline=None, admissible=None,
               donor_excl=None):
    """The best of the cheap candidate sets (and ``extra``, the caller's incumbent), improved by
    swap local search (at most ``max_evals`` more inner solves): ``(S, weights, objective, fit part)``
    in scaled units.  ``admissible`` (restrictions): only sets it accepts are candidates; when none
    of the cheap sets is, the first of them is returned for the objective's scale only and the
    fourth entry of the tuple ``admissible_start`` is False."""
    best = None
    cands = _candidate_sets(Ys, K, costs, budget)
    if admissible is not None:
        ok = [S for S in cands if admissible(S)]
        cands = ok or cands[:1]
    if extra is not None and extra not in cands:
        cands.append(extra)

    def evaluate(S):
        w = inner_weights(Ys, mode, S, lam_s, donor_excl)
        fit, ridge = _objective_parts(Ys, mode, S, w, lam_s)
        return (S, w, fit + ridge, fit)

    for S in cands:
        cand = evaluate(S)
        if best is None or cand[2] < best[2] or (S == extra and cand[2] <= best[2]):
            best = cand
    # best-improvement swaps (one treated unit for one control unit) while they improve
    N = Ys.shape[1]
    evals = 0
    while evals < max_evals:
        if deadline is not None and time.perf_counter() > deadline:
            break  # the time limit covers the whole call: the local search gets a quarter of it
        S = best[0]
        Sset = set(S)
        step = None
        for i in S:
            for j in range(N):
                if j in Sset or evals >= max_evals or (deadline is not None and time.perf_counter() > deadline):
                    continue
                S2 = tuple(sorted((Sset - {i}) | {j}))
                if costs is not None and costs[list(S2)].sum() > budget:
                    continue
                if admissible is not None and not admissible(S2):
                    continue
                evals += 1
                cand = evaluate(S2)
                if cand[2] < (step or best)[2] * (1 - 1e-12):
                    step = cand
        if step is None:
            break
        best = step
    return best


def _augment(X, y, lam, T):
    """``min (1/T)||y - X w||^2 + lam ||w||^2`` as one least-squares problem (rows ``sqrt(lam T) I``)."""
    if lam <= 0.0:
        return X, y
    J = X.shape[1]
    root = math.sqrt(lam * T)
    return np.vstack((X, root * np.eye(J))), np.concatenate((y, np.zeros(J)))


def inner_weights(Ys, mode, S, lam, donor_excl=None) -> dict:
    """The exact optimal weights for the treated set ``S`` (the inner convex problem), as N-vectors
    (``"treated"`` / ``"control"``) or the ``K x N`` matrix ``"W"`` (``per_unit``).

    Solved by the package's exact active-set simplex least squares (:func:`.simplex.simplex_ls`):
    ``one_way_global`` and ``per_unit`` are simplex least-squares fits (ridge as extra rows);
    ``two_way_global`` is the distance between the convex hulls of the treated and control units,
    i.e. one simplex fit over the ``K (N - K)`` differences ``y_i - y_j`` (``i`` in S, ``j`` in C), with
    ``a_i = sum_j lambda_ij`` and ``c_j = sum_i lambda_ij`` (the ridge ``||a||^2 + ||c||^2`` as rows).
    ``donor_excl`` (``N x N`` bool, ``B[i, j]``: ``j`` may not be a donor of a treated ``i``) leaves
    out the excluded donors: of every treated unit in the global modes, of unit ``i`` in per_unit.
    """
    T, N = Ys.shape
    S = tuple(sorted(S))
    Sset = set(S)
    C = [j for j in range(N) if j not in Sset]
    B = None if donor_excl is None else np.asarray(donor_excl, dtype=bool)
    K = len(S)
    if mode == "per_unit":
        W = np.zeros((K, N))
        for row, i in enumerate(S):
            Ci = C if B is None else [j for j in C if not B[i, j]]
            Xa, ya = _augment(Ys[:, Ci], Ys[:, i], lam, T)
            fit = simplex_ls(Xa, ya)
            W[row, Ci] = _renormalised(fit.weights)
        return {"W": W}
    if B is not None:
        C = [j for j in C if not B[list(S), j].any()]
    if mode == "one_way_global":
        a = np.zeros(N)
        a[list(S)] = 1.0 / K
        Xa, ya = _augment(Ys[:, C], Ys[:, list(S)].mean(axis=1), lam, T)
        c = np.zeros(N)
        c[C] = _renormalised(simplex_ls(Xa, ya).weights)
        return {"treated": a, "control": c}
    # two_way_global: columns (i, j) = y_i - y_j; ridge rows for a (K) and for c (N - K)
    pairs = [(i, j) for i in S for j in C]
    X = np.stack([Ys[:, i] - Ys[:, j] for i, j in pairs], axis=1)
    if lam > 0.0:
        root = math.sqrt(lam * T)
        Ma = np.zeros((K, len(pairs)))
        Mc = np.zeros((len(C), len(pairs)))
        pos_S = {i: k for k, i in enumerate(S)}
        pos_C = {j: k for k, j in enumerate(C)}
        for col, (i, j) in enumerate(pairs):
            Ma[pos_S[i], col] = root
            Mc[pos_C[j], col] = root
        X = np.vstack((X, Ma, Mc))
    lam_w = _renormalised(simplex_ls(X, np.zeros(X.shape[0])).weights)
    a = np.zeros(N)
    c = np.zeros(N)
    for col, (i, j) in enumerate(pairs):
        a[i] += lam_w[col]
        c[j] += lam_w[col]
    return {"treated": a, "control": c}


def _renormalised(w):
    w = np.clip(np.asarray(w, dtype=float), 0.0, None)
    total = w.sum()
    return w / total if total > 0 else np.full(w.shape, 1.0 / w.size)


def _frozen_weights(weights):
    out = {}
    for k, v in weights.items():
        v = np.array(v, dtype=float)
        v.setflags(write=False)
        out[k] = v
    return types.MappingProxyType(out)


# ----------------------------------------------------------------------------------------------
# arguments


def _check_args(Y, K, mode, lam, costs, budget, gap_limit, time_limit, node_limit):
    from .._validate import check_choice, check_count, check_number
    mode = check_choice("mode", mode, MODES)
    try:
        Y = np.array(Y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpecificationError(f"Y must be a (T, N) array of numbers: {exc}") from exc
    if Y.ndim != 2 or Y.shape[0] < 1 or Y.shape[1] < 2:
        raise SpecificationError(f"Y must be a (T, N) array with T >= 1 periods and N >= 2 units, "
                                 f"got shape {Y.shape}")
    if not np.isfinite(Y).all():
        raise SpecificationError("Y must be finite (it contains NaN or infinite entries)")
    N = Y.shape[1]
    if K is None:
        if mode != "two_way_global":
            raise SpecificationError(f"K=None (let the programme choose K) is only available for "
                                     f"mode='two_way_global', not {mode!r}")
    else:
        K = check_count("K", K, 1)
        if K >= N:
            raise InfeasibleDesignError(f"K={K} treated units leave no control unit among N={N} units "
                                        f"(K must be at most N - 1 = {N - 1})")
    lam = float(check_number("lam", lam, low=0))
    if (costs is None) != (budget is None):
        raise SpecificationError("costs and budget go together: give both or neither")
    if costs is not None:
        costs = np.array(costs, dtype=float)
        if costs.shape != (N,):
            raise SpecificationError(f"costs must have one entry per unit ({N}), got shape {costs.shape}")
        if not np.isfinite(costs).all() or (costs < 0).any():
            raise SpecificationError("costs must be finite and >= 0")
        budget = float(check_number("budget", budget))
        cheapest = np.sort(costs)[:(1 if K is None else K)].sum()
        if cheapest > budget:
            need = "the cheapest unit" if K is None else f"the {K} cheapest units"
            raise InfeasibleDesignError(f"budget {budget:g} is below the cost of {need} ({cheapest:g}): "
                                        f"no treated set is affordable")
    gap_limit = 0.0 if gap_limit is None else float(check_number("gap_limit", gap_limit, low=0))
    time_limit = check_number("time_limit", time_limit, low=0, low_open=True, allow_none=True)
    node_limit = check_count("node_limit", node_limit, 1, allow_none=True)
    return Y, K, mode, lam, costs, budget, gap_limit, time_limit, node_limit


def _incumbent_set(incumbent, N, K, costs, budget):
    """The treated indices of ``incumbent``: a sequence of indices, ``(indices, objective)``, a mapping
    with ``"treated"``, or a :class:`DesignMIPResult` (its objective is not needed: the set's exact
    objective is recomputed)."""
    if isinstance(incumbent, DesignMIPResult):
        S = incumbent.treated
    elif isinstance(incumbent, Mapping):
        if "treated" not in incumbent:
            raise SpecificationError("incumbent mapping must have a 'treated' entry")
        S = incumbent["treated"]
    elif isinstance(incumbent, tuple) and len(incumbent) == 2 and np.ndim(incumbent[0]) == 1:
        S = incumbent[0]  # (indices, objective)
    else:
        S = incumbent
    try:
        arr = np.asarray(list(S))
    except TypeError as exc:
        raise SpecificationError(f"incumbent must give the treated indices, got {incumbent!r}") from exc
    if arr.ndim != 1 or arr.size == 0 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                  for v in arr.tolist()):
        raise SpecificationError(f"incumbent treated set must be a non-empty list of unit indices, got {S!r}")
    S = tuple(sorted(int(v) for v in arr))
    if len(set(S)) != len(S) or S[0] < 0 or S[-1] >= N:
        raise SpecificationError(f"incumbent treated set must be distinct indices in 0..{N - 1}, got {S}")
    if K is not None and len(S) != K:
        raise SpecificationError(f"incumbent treated set has {len(S)} units, K={K}")
    if len(S) >= N:
        raise SpecificationError("incumbent treated set leaves no control unit")
    if costs is not None and costs[list(S)].sum() > budget * (1 + 1e-12) + 1e-300:
        raise SpecificationError(f"incumbent treated set {S} costs {costs[list(S)].sum():g} > budget {budget:g}")
    return S


# ----------------------------------------------------------------------------------------------
# the model


class _Model:
    """Builds the SCIP model of one request (``build``), remembering its variables."""

    def __init__(self, R, Ys, mode, K, lam_s, costs, budget, fix_zero, start, t0, params, M, ref):
        self.R, self.Ys, self.mode, self.K, self.lam_s = R, Ys, mode, K, lam_s
        self.M, self.ref = M, ref  # residual multiplier M, objective divisor O_ref (module docstring)
        self.nr = float(R.shape[1])  # ridge multiplier: u >= (N v)^2
        self.costs, self.budget, self.fix_zero, self.start, self.t0 = costs, budget, fix_zero, start, t0
        self.params = params
        self.history = []
        self.start_accepted = None

    def build(self):
        from pyscipopt import Eventhdlr, Model, SCIP_EVENTTYPE, quicksum
        R, mode, K, lam_s = self.R, self.mode, self.K, self.lam_s
        r, N = R.shape
        T = self.Ys.shape[0]
        m = Model()
        m.hideOutput()
        D = [m.addVar(vtype="B", name=f"D{i}") for i in range(N)]
        if K is None:
            m.addCons(quicksum(D) >= 1)
            m.addCons(quicksum(D) <= N - 1)
        else:
            m.addCons(quicksum(D) == K)
        if self.fix_zero:
            m.chgVarUb(D[0], 0.0)
        rs = getattr(self, "restrictions", None)
        if rs is not None:
            for i in rs.forced:
                m.chgVarLb(D[i], 1.0)
            for i in rs.forbidden:
                m.chgVarUb(D[i], 0.0)
            for i, j in rs.edges:
                m.addCons(D[i] + D[j] <= 1)
            if rs.strata is not None:
                need = set(rs._strata_needing().tolist()) if rs.min_per_stratum else set()
                for g in range(len(rs.stratum_names)):
                    members = [D[i] for i in np.flatnonzero(rs.strata == g)]
                    if rs.max_per_stratum is not None:
                        m.addCons(quicksum(members) <= rs.max_per_stratum)
                    if g in need:
                        m.addCons(quicksum(members) >= rs.min_per_stratum)
        for S in getattr(self, "exclude_sets", ()):
            m.addCons(quicksum(D[i] for i in S) <= len(S) - 1)
        if self.costs is not None:
            top = float(self.costs.max()) or 1.0  # normalised: SCIP's tolerances are O(1)
            m.addCons(quicksum(float(self.costs[i] / top) * D[i] for i in range(N)) <= self.budget / top)
        self.D = D
        ridge_terms = []  # (variable, coefficient of its square in the scaled objective)
        blocks = []  # (x as a list of linear expressions in the variables, weight of ||R x||^2)
        if mode == "two_way_global":
            a = [m.addVar(lb=0.0, ub=1.0, name=f"a{i}") for i in range(N)]
            c = [m.addVar(lb=0.0, ub=1.0, name=f"c{i}") for i in range(N)]
            m.addCons(quicksum(a) == 1)
            m.addCons(quicksum(c) == 1)
            for i in range(N):
                m.addCons(a[i] <= D[i])  # McCormick q <= D (q = a)
                m.addCons(c[i] <= 1 - D[i])  # McCormick q >= w - (1 - D) (w = a + c)
            self._donor_cuts(m, c)
            blocks.append(([a[i] - c[i] for i in range(N)], 1.0 / T))
            ridge_terms += [(v, lam_s) for v in a + c]
            self.a, self.c = a, c
        elif mode == "one_way_global":
            c = [m.addVar(lb=0.0, ub=1.0, name=f"c{i}") for i in range(N)]
            m.addCons(quicksum(c) == 1)
            for i in range(N):
                m.addCons(c[i] <= 1 - D[i])
            self._donor_cuts(m, c)
            blocks.append(([(1.0 / K) * D[i] - c[i] for i in range(N)], 1.0 / T))
            ridge_terms += [(v, lam_s) for v in c]
            self.c = c
        else:
            W = {}
            B = None if rs is None else rs.donor_excl
            for i in range(N):
                for j in range(N):
                    if i != j:
                        W[i, j] = m.addVar(lb=0.0, ub=0.0 if B is not None and B[i, j] else 1.0, name=f"w{i}_{j}")
            for i in range(N):
                m.addCons(quicksum(W[i, j] for j in range(N) if j != i) == D[i])
                for j in range(N):
                    if j != i:
                        m.addCons(W[i, j] <= 1 - D[j])
                blocks.append(([D[i] if j == i else -W[i, j] for j in range(N)], 1.0 / (K * T)))
            ridge_terms += [(v, lam_s / K) for v in W.values()]
            self.W = W
        objective = []
        self.e, self.z = [], []
        for b, (x, weight) in enumerate(blocks):
            eb = []
            for k in range(r):
                e = m.addVar(lb=None, ub=None, name=f"e{b}_{k}")
                m.addCons(e == quicksum(float(self.M * R[k, j]) * x[j] for j in range(N) if R[k, j] != 0.0))
                eb.append(e)
            z = m.addVar(lb=0.0, ub=None, name=f"z{b}")
            m.addCons(quicksum(e * e for e in eb) <= z)
            objective.append((weight / (self.M ** 2 * self.ref), z))
            self.e.append(eb)
            self.z.append(z)
        self.u = []
        if lam_s > 0.0:
            nr = self.nr
            for v, coef in ridge_terms:
                u = m.addVar(lb=0.0, ub=nr * nr, name=f"u_{v.name}")
                m.addCons((nr * v) * (nr * v) <= u)
                self.u.append((v, u))
                objective.append((coef / (nr * nr * self.ref), u))
        constant = lam_s / K / self.ref if mode == "one_way_global" else 0.0  # the ridge's lam / K
        m.setObjective(quicksum(coef * z for coef, z in objective) + constant, "minimize")
        for key, value in (self.params or {}).items():
            m.setParam(key, value)

        history, t0 = self.history, self.t0

        class _Incumbents(Eventhdlr):
            def eventinit(self):
                self.model.catchEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

            def eventexit(self):
                self.model.dropEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

            def eventexec(self, event):
                sol = self.model.getBestSol()
                history.append((time.perf_counter() - t0, float(self.model.getSolObjVal(sol))))

        m.includeEventhdlr(_Incumbents(), "syndes_incumbents", "record each improving design")
        if self.start is not None:
            self.start_accepted = self._add_start(m)
            if self.start_accepted:
                history.append((time.perf_counter() - t0, self.start[2] / self.ref))
        self.model = m
        return m

    def _donor_cuts(self, m, c):
        """Global modes: a donor excluded by a treated unit carries no control weight,
        ``c_j <= 1 - D_i`` for every excluded pair ``(i, j)``."""
        rs = getattr(self, "restrictions", None)
        if rs is None or rs.donor_excl is None:
            return
        for i, j in zip(*np.nonzero(rs.donor_excl)):
            m.addCons(c[int(j)] <= 1 - self.D[int(i)])

    def _add_start(self, m):
        """Hand SCIP the incumbent design (all variables set) as a starting solution."""
        S, weights, _ = self.start
        N = len(self.D)
        Sset = set(S)
        sol = m.createSol()
        for i in range(N):
            m.setSolVal(sol, self.D[i], 1.0 if i in Sset else 0.0)
        xs = []
        values = {}
        if self.mode == "two_way_global":
            a, c = weights["treated"], weights["control"]
            for i in range(N):
                values[self.a[i].name] = float(a[i])
                values[self.c[i].name] = float(c[i])
                m.setSolVal(sol, self.a[i], float(a[i]))
                m.setSolVal(sol, self.c[i], float(c[i]))
            xs.append(a - c)
        elif self.mode == "one_way_global":
            c = weights["control"]
            for i in range(N):
                values[self.c[i].name] = float(c[i])
                m.setSolVal(sol, self.c[i], float(c[i]))
            d = np.array([1.0 if i in Sset else 0.0 for i in range(N)])
            xs.append(d / self.K - c)
        else:
            Wm = np.zeros((N, N))
            for row, i in enumerate(S):
                Wm[i] = weights["W"][row]
            for (i, j), v in self.W.items():
                values[v.name] = float(Wm[i, j])
                m.setSolVal(sol, v, float(Wm[i, j]))
            for i in range(N):
                x = -Wm[i].copy()
                x[i] = 1.0 if i in Sset else 0.0
                xs.append(x)
        for b, x in enumerate(xs):
            ev = self.M * (self.R @ x)
            for k, e in enumerate(self.e[b]):
                m.setSolVal(sol, e, float(ev[k]))
            m.setSolVal(sol, self.z[b], float(ev @ ev) * (1 + 1e-12))
        for v, u in self.u:
            m.setSolVal(sol, u, (self.nr * values[v.name]) ** 2 * (1 + 1e-12))
        return bool(m.addSol(sol, free=True))


# ----------------------------------------------------------------------------------------------
# the solve


def solve_design_mip(Y, K, mode, lam=0.0, *, costs=None, budget=None, gap_limit=0.05, time_limit=60.0,
                     node_limit=None, incumbent=None, warm_start=True, scip_params=None, restrictions=None,
                     exclude_sets=()) -> DesignMIPResult:
    """Choose the treated set and the weights of a SYNDES design with SCIP (mixed-integer programme).

    Parameters
    ----------
    Y : (T, N) array of pre-period outcomes (rows periods, columns units).
    K : number of treated units, ``1 <= K <= N - 1``; or None (``two_way_global`` only): the programme
        chooses ``K`` in ``1..N-1``.
    mode : ``"two_way_global"``, ``"one_way_global"`` or ``"per_unit"`` (module docstring).
    lam : ridge penalty ``>= 0``, in the objective's units (outcome units squared).
    costs, budget : optional, together: ``costs`` (N,) ``>= 0``; only sets with
        ``sum_{i in S} costs_i <= budget`` are allowed.
    gap_limit : stop once SCIP's relative gap is at most this (0: prove optimality; None means 0).
    time_limit : wall-clock cap in seconds on the whole call (None: none): the warm start's local
        search stops at a quarter of it and SCIP gets what is left (at least 5% of it).  With a time limit the result depends on the
        machine's speed; ``stopped_by`` says when it bit.
    node_limit : branch-and-bound node cap (None: none); deterministic.
    incumbent : optional starting design: the treated indices, ``(indices, objective)``, a mapping
        with ``"treated"``, or a previous :class:`DesignMIPResult`.  Its exact weights are computed
        and SCIP gets the complete solution (``addSol``), so it only has to prove (or improve on) it.
        The objective, if given, is not used (recomputed exactly).
    warm_start : also hand SCIP a design found before the search (default True): the best of a few
        cheap sets and of ``incumbent``, improved by best-improvement swap local search (one treated
        for one control unit, each candidate's weights solved exactly; at most
        :data:`_LOCAL_SEARCH_EVALS` inner solves, deterministic).  On Walmart (N = 45, K = 3) it
        takes 1-6 s and reaches the proven optimum of ``one_way_global`` and ``per_unit``.  False:
        SCIP starts from ``incumbent`` only (or from nothing).
    scip_params : optional dict of extra SCIP parameters (e.g. ``{"randomization/randomseedshift": 1}``).
    restrictions : optional :class:`synthcontrol.design.restrictions.Restrictions`: forced and
        forbidden units (``D_i`` fixed), conflict pairs (``D_i + D_j <= 1``), stratum quotas (``min <=
        sum_{i in s} D_i <= max``), donor exclusions (global modes: ``c_j <= 1 - D_i``; per_unit:
        ``w_ij = 0``).  The warm start then only visits sets the restrictions admit.
    exclude_sets : treated sets (index tuples) the design may not be: no-good cuts
        ``sum_{i in S} D_i <= |S| - 1``, used to build a menu of the next-best designs.

    The data are centred by period and scaled by ``s = max |entry|`` before SCIP sees them (the
    objectives are invariant to a common per-period shift, as every weight block sums to one);
    ``lam`` is passed as ``lam / s^2`` and SCIP's objective and bound are multiplied back by ``s^2``.

    Returns a :class:`DesignMIPResult`.  A search stopped by a limit returns its best design with
    ``proven_optimal=False`` and the bound it proved.

    Raises
    ------
    SpecificationError : bad arguments (``K=None`` outside ``two_way_global``, ...).
    InfeasibleDesignError : no treated set satisfies the request (``K >= N``, a budget below the
        cheapest sets, or SCIP proves the programme infeasible).
    SolverError : SCIP failed, or stopped (at the limit it names) before finding any design.
    """
    t0 = time.perf_counter()
    Y, K, mode, lam, costs, budget, gap_limit, time_limit, node_limit = _check_args(
        Y, K, mode, lam, costs, budget, gap_limit, time_limit, node_limit)
    T, N = Y.shape
    Yc, s, Ys, R = _prepare(Y)
    lam_s = lam / (s * s)
    exclude_sets = {tuple(sorted(int(i) for i in S)) for S in exclude_sets}
    fix_zero = mode == "two_way_global" and K is None and costs is None and restrictions is None and not exclude_sets
    donor_excl = None if restrictions is None else restrictions.donor_excl

    def admissible(S):
        S = tuple(sorted(S))
        return S not in exclude_sets and (restrictions is None or restrictions.admissible(S))
    restricted = restrictions is not None or bool(exclude_sets)

    S0 = None
    if incumbent is not None:
        S0 = _incumbent_set(incumbent, N, K, costs, budget)
        if fix_zero and 0 in S0:
            S0 = tuple(j for j in range(N) if j not in set(S0))  # its mirror image (same objective)
    # the reference design: the objective's scale for SCIP and (warm_start) its starting design
    if S0 is not None and restricted and not admissible(S0):
        raise SpecificationError(f"incumbent treated set {S0} breaks the restrictions (or is an excluded set)")
    S_ref, w_ref, o_ref, f_ref = _reference(Ys, mode, K, lam_s, costs, budget, S0,
                                            max_evals=_LOCAL_SEARCH_EVALS if warm_start else 0,
                                            deadline=None if time_limit is None else t0 + 0.25 * time_limit,
                                            admissible=admissible if restricted else None, donor_excl=donor_excl)
    if fix_zero and 0 in S_ref:
        S_ref = tuple(j for j in range(N) if j not in set(S_ref))
        w_ref = {"treated": w_ref["control"], "control": w_ref["treated"]}
    floor = 1e-10 * max(float(np.mean(Ys * Ys)), 1e-200)
    o_ref = max(o_ref, floor)
    f_ref = max(f_ref, 1e-4 * o_ref, floor)  # a ridge-dominated objective: residuals need no more
    M = math.sqrt(R.shape[0] / (T * f_ref))
    start = None
    if warm_start and (not restricted or admissible(S_ref)):
        start = (S_ref, w_ref, o_ref)
    elif S0 is not None:
        w0 = inner_weights(Ys, mode, S0, lam_s, donor_excl)
        start = (S0, w0, _objective(Ys, mode, S0, w0, lam_s))

    builder = _Model(R, Ys, mode, K, lam_s, costs, budget, fix_zero, start, t0, scip_params, M, o_ref)
    builder.restrictions, builder.exclude_sets = restrictions, sorted(exclude_sets)
    # what is left of the time limit after the preparation and the warm start goes to SCIP
    left = None if time_limit is None else max(0.05 * time_limit, time_limit - (time.perf_counter() - t0))
    res = solve_mip(builder.build, node_limit=node_limit, gap=gap_limit, time_limit=left,
                    solver="SCIP (SYNDES design)")
    unit = o_ref * s * s  # SCIP's objective and bound -> the data's units

    if res.stopped_by == "infeasible":
        if restrictions is not None and K is not None:
            raise InfeasibleDesignError(restrictions.explain(K) + " (SCIP proved the programme infeasible)")
        raise InfeasibleDesignError(
            f"no treated set satisfies the request (mode={mode!r}, K={K}, N={N}"
            + (f", budget {budget:g}" if costs is not None else "")
            + (f", {len(exclude_sets)} sets excluded" if exclude_sets else "")
            + "): SCIP proved the programme infeasible")
    if res.solution is None:
        limit = {"time_limit": f"the time limit ({time_limit:g} s)",
                 "node_limit": f"the node limit ({node_limit} nodes)"}.get(res.stopped_by, f"'{res.stopped_by}'")
        raise SolverError(f"SCIP found no design before it stopped at {limit} (status {res.status!r}, "
                          f"{res.nodes} nodes); raise the limit or pass an incumbent")

    sol = res.solution
    S = tuple(i for i in range(N) if sol[f"D{i}"] > 0.5)
    if not S or len(S) >= N or (K is not None and len(S) != K):
        raise SolverError(f"SCIP returned a design with {len(S)} treated units (status {res.status!r})")
    if costs is not None and costs[list(S)].sum() > budget + 1e-9 * max(abs(budget), float(costs.sum()), 1e-300):
        raise SolverError(f"SCIP's design {S} costs {costs[list(S)].sum():.12g}, above the budget "
                          f"{budget:.12g} by more than its tolerance")
    if restricted and not admissible(S):
        raise SolverError(f"SCIP's design {S} breaks the restrictions or repeats an excluded set")

    # the weights: the exact inner optimum for S, or SCIP's own if (numerically) better
    exact = inner_weights(Ys, mode, S, lam_s, donor_excl)
    weights = exact
    objective = _objective(Yc, mode, S, exact, lam)
    scip_w = _scip_weights(sol, mode, S, N)
    if scip_w is not None and donor_excl is not None:
        scip_w = None  # SCIP's weights honour the exclusions only to its tolerance; the exact ones do
    if scip_w is not None:
        other = _objective(Yc, mode, S, scip_w, lam)
        if other < objective:
            weights, objective = scip_w, other

    if fix_zero and len(S) > N - len(S):  # the mirror image: same objective, fewer treated units
        S = tuple(j for j in range(N) if j not in set(S))
        weights = {"treated": weights["control"], "control": weights["treated"]}
        objective = _objective(Yc, mode, S, weights, lam)

    bound = res.bound * unit if math.isfinite(res.bound) else res.bound
    bound = min(max(bound, 0.0), objective)  # every objective is >= 0
    history = tuple((sec, val * unit) for sec, val in builder.history)
    return DesignMIPResult(
        treated=S, objective=objective, weights=_frozen_weights(weights), bound=bound,
        gap=_relative_gap(objective, bound), proven_optimal=res.status == "optimal", status=res.status,
        stopped_by=res.stopped_by, nodes=res.nodes, seconds=time.perf_counter() - t0, K=len(S), mode=mode,
        lam=lam, scale=s, incumbents=history)


def _scip_weights(sol, mode, S, N):
    """SCIP's weights for the treated set S (clipped to the simplex), or None."""
    Sset = set(S)
    C = [j for j in range(N) if j not in Sset]
    try:
        if mode == "per_unit":
            W = np.zeros((len(S), N))
            for row, i in enumerate(S):
                v = np.array([sol[f"w{i}_{j}"] for j in C])
                W[row, C] = _renormalised(v)
            return {"W": W}
        c = np.zeros(N)
        c[C] = _renormalised(np.array([sol[f"c{j}"] for j in C]))
        a = np.zeros(N)
        if mode == "one_way_global":
            a[list(S)] = 1.0 / len(S)
        else:
            a[list(S)] = _renormalised(np.array([sol[f"a{i}"] for i in S]))
        return {"treated": a, "control": c}
    except KeyError:
        return None
