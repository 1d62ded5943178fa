"""Restrictions on a design: who may be treated, and who may be a treated unit's donor.

Treatment restrictions are linear constraints on the assignment ``D`` (``D_i = 1``: unit ``i``
treated):

* ``to_be_treated``: ``D_i = 1``; ``not_to_be_treated``: ``D_i = 0`` (the unit stays a donor);
* ``cluster_col`` / ``adjacency`` + ``spillover_threshold``: a conflict graph (two units sharing a
  cluster, or whose adjacency entry exceeds the threshold) with ``D_i + D_j <= 1`` on every edge;
* ``stratum_col`` + ``min_per_stratum`` / ``max_per_stratum``: ``min <= sum_{i in s} D_i <= max``
  (the minimum in every stratum that has a treatable unit);
* ``size_col`` + ``min_size`` / ``max_size``: units outside the band get ``D_i = 0`` (stay donors).

Donor restrictions are a relation ``B`` (``B[i, j]``: if ``i`` is treated, ``j`` may not be its
donor), the union of ``donor_region_col`` (``j``'s region differs from ``i``'s),
``exclude_bordering_donors`` (``j`` is ``i``'s neighbour in the conflict graph) and
``donor_exclusion`` (an explicit matrix).  In the global modes one control vector serves every
treated unit, so the donors of ``S`` are the controls that no treated unit excludes; in
``per_unit`` each treated unit has its own donors.

:meth:`Restrictions.sets` generates the admissible treated sets with the restrictions applied while
the sets are built (a partial set that already breaks a restriction, or can no longer meet a
quota, is never extended), and :meth:`Restrictions.explain` names the smallest group of
restrictions that cannot be met together.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validate import _py
from ..errors import DataError, InfeasibleDesignError, SpecificationError

__all__ = ["Restrictions", "build_restrictions", "RESTRICTION_PARAMS"]

RESTRICTION_PARAMS = ("to_be_treated", "not_to_be_treated", "cluster_col", "adjacency", "spillover_threshold",
                      "stratum_col", "min_per_stratum", "max_per_stratum", "size_col", "min_size", "max_size",
                      "donor_region_col", "exclude_bordering_donors", "donor_exclusion")


@dataclass
class Restrictions:
    """The restrictions of one design on ``N`` units (indices are column positions)."""

    labels: list
    forced: tuple = ()
    forbidden: dict = field(default_factory=dict)     # index -> the restriction that forbids it
    edges: tuple = ()                                 # conflict pairs (i < j)
    edge_source: str = ""                             # "cluster_col", "adjacency" or both
    strata: np.ndarray = None                         # stratum code per unit (or None)
    stratum_names: list = None
    min_per_stratum: int = None
    max_per_stratum: int = None
    donor_excl: np.ndarray = None                     # N x N bool: B[i, j]
    donor_sources: tuple = ()
    donor_parts: dict = None                          # source -> its N x N exclusion matrix
    mode: str = "global"                              # "global" or "per_unit" (how donors are shared)
    costs: np.ndarray = None                          # with budget: sum of costs over S <= budget
    budget: float = None

    @property
    def N(self):
        return len(self.labels)

    @property
    def any_treatment(self):
        return bool(self.forced or self.forbidden or self.edges or self.strata is not None)

    @property
    def any_beyond_budget(self):
        """Restrictions other than costs/budget (those the annealed mode and arms cannot take)."""
        return self.any_treatment or self.donor_excl is not None

    @property
    def any(self):
        return self.any_treatment or self.donor_excl is not None

    def names(self):
        """The restriction families in force (for messages and the certificate)."""
        out = []
        if self.forced:
            out.append("to_be_treated")
        kinds = sorted(set(self.forbidden.values()))
        out += kinds
        if self.edges:
            out.append(self.edge_source)
        if self.strata is not None:
            out.append("stratum quotas")
        out += list(self.donor_sources)
        if self.costs is not None:
            out.append("budget")
        return out

    # -- treatment side ---------------------------------------------------------------------------
    def neighbours(self):
        nb = [set() for _ in range(self.N)]
        for i, j in self.edges:
            nb[i].add(j)
            nb[j].add(i)
        return nb

    def admissible(self, S) -> bool:
        S = set(int(i) for i in S)
        if not set(self.forced) <= S or S & set(self.forbidden):
            return False
        if self.costs is not None and self.costs[list(S)].sum() > self._budget_tol():
            return False
        for i, j in self.edges:
            if i in S and j in S:
                return False
        if self.strata is not None:
            counts = np.bincount(self.strata[list(S)], minlength=len(self.stratum_names))
            if self.max_per_stratum is not None and counts.max(initial=0) > self.max_per_stratum:
                return False
            if self.min_per_stratum is not None:
                need = self._strata_needing()
                if np.any(counts[need] < self.min_per_stratum):
                    return False
        return self.donors_ok(S)

    def _budget_tol(self):
        return self.budget + 1e-12 * max(1.0, abs(self.budget))

    def _strata_needing(self):
        """Strata that must reach ``min_per_stratum``: those with a treatable unit."""
        treatable = [i for i in range(self.N) if i not in self.forbidden]
        return np.unique(self.strata[treatable])

    def sets(self, K, limit=None):
        """All admissible treated sets of size ``K`` (sorted index tuples, as a ``M x K`` array),
        built unit by unit with every restriction checked on the partial set.  ``limit``: stop
        and return None once more than ``limit`` sets exist."""
        N = self.N
        forced = sorted(self.forced)
        if len(forced) > K:
            return np.zeros((0, K), dtype=np.int64)
        cand = [i for i in range(N) if i not in self.forbidden and i not in set(forced)]
        nb = self.neighbours()
        n_str = 0 if self.strata is None else len(self.stratum_names)
        need = self._strata_needing() if (self.strata is not None and self.min_per_stratum) else np.zeros(0, int)
        lo = self.min_per_stratum or 0
        hi = self.max_per_stratum
        out = []
        counts = np.zeros(max(n_str, 1), dtype=np.int64)
        chosen = list(forced)
        for i in forced:
            for j in forced:
                if j in nb[i]:
                    return np.zeros((0, K), dtype=np.int64)
            if n_str:
                counts[self.strata[i]] += 1
        if n_str and hi is not None and counts.max() > hi:
            return np.zeros((0, K), dtype=np.int64)
        blocked = np.zeros(N, dtype=np.int64)  # how many chosen units conflict with each unit
        for i in forced:
            for j in nb[i]:
                blocked[j] += 1
        # remaining candidates per stratum at or after position p (for the quota look-ahead)
        if n_str:
            cand_str = np.array([self.strata[i] for i in cand], dtype=np.int64)
            after = np.zeros((len(cand) + 1, n_str), dtype=np.int64)
            for p in range(len(cand) - 1, -1, -1):
                after[p] = after[p + 1]
                after[p, cand_str[p]] += 1
        donors_checked = self.donor_excl is not None
        spend = [0.0]
        if self.costs is not None:
            spend[0] = float(self.costs[forced].sum()) if forced else 0.0
            cap = self._budget_tol()
            if spend[0] > cap:
                return np.zeros((0, K), dtype=np.int64)
            # the cheapest m candidates at or after position p: a lower bound on what m more cost
            cc = np.array([self.costs[i] for i in cand], dtype=float)
            cheapest_after = [np.sort(cc[p:]) for p in range(len(cand) + 1)]

        def deficit():
            if not len(need):
                return 0
            return int(np.maximum(lo - counts[need], 0).sum())

        def rec(p, slots):
            if slots == 0:
                if self.costs is not None and spend[0] > cap:
                    return
                if deficit() == 0 and (not donors_checked or self.donors_ok(chosen)):
                    out.append(tuple(sorted(chosen)))
                    if limit is not None and len(out) > limit:
                        raise _TooMany
                return
            if len(cand) - p < slots:
                return
            if n_str and len(need):
                d = np.maximum(lo - counts[need], 0)
                if d.sum() > slots or np.any(d > after[p, need]):
                    return
            if self.costs is not None and spend[0] + cheapest_after[p][:slots].sum() > cap:
                return
            for q in range(p, len(cand) - slots + 1):
                i = cand[q]
                if blocked[i]:
                    continue
                if n_str:
                    s = self.strata[i]
                    if hi is not None and counts[s] >= hi:
                        continue
                    counts[s] += 1
                for j in nb[i]:
                    blocked[j] += 1
                chosen.append(i)
                if self.costs is not None:
                    spend[0] += self.costs[i]
                rec(q + 1, slots - 1)
                if self.costs is not None:
                    spend[0] -= self.costs[i]
                chosen.pop()
                for j in nb[i]:
                    blocked[j] -= 1
                if n_str:
                    counts[s] -= 1
        try:
            rec(0, K - len(forced))
        except _TooMany:
            return None
        return np.array(out, dtype=np.int64).reshape(-1, K)

    # -- donor side ---------------------------------------------------------------------------
    def donors_of(self, S):
        """Global modes: the units that may carry control weight when ``S`` is treated."""
        ctrl = np.ones(self.N, dtype=bool)
        ctrl[list(S)] = False
        if self.donor_excl is not None:
            ctrl &= ~self.donor_excl[list(S)].any(axis=0)
        return np.flatnonzero(ctrl)

    def unit_donors(self, i, S):
        """per_unit: treated unit ``i``'s donors when ``S`` is treated."""
        ctrl = np.ones(self.N, dtype=bool)
        ctrl[list(S)] = False
        if self.donor_excl is not None:
            ctrl &= ~self.donor_excl[i]
        return np.flatnonzero(ctrl)

    def donors_ok(self, S):
        if self.donor_excl is None:
            return True
        if self.mode == "per_unit":
            return all(len(self.unit_donors(i, S)) > 0 for i in S)
        return len(self.donors_of(S)) > 0

    # -- explaining infeasibility -------------------------------------------------------------
    def without(self, family):
        """A copy without one restriction family (for :meth:`explain`)."""
        r = Restrictions(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        if family == "to_be_treated":
            r.forced = ()
        elif family in ("not_to_be_treated", "size band"):
            r.forbidden = {i: why for i, why in self.forbidden.items() if why != family}
        elif family == self.edge_source:
            r.edges, r.edge_source = (), ""
        elif family == "stratum quotas":
            r.strata = r.stratum_names = r.min_per_stratum = r.max_per_stratum = None
        elif family in self.donor_sources:
            parts = {k: v for k, v in (self.donor_parts or {}).items() if k != family}
            r.donor_parts = parts or None
            r.donor_sources = tuple(parts)
            r.donor_excl = np.logical_or.reduce(list(parts.values())) if parts else None
        elif family == "budget":
            r.costs = r.budget = None
        return r

    def explain(self, K):
        """A message naming a smallest group of restriction families that admit no treated set
        of size ``K`` together (every family outside it can be dropped without help; inside it,
        dropping any one makes the design feasible)."""
        fams = self.names()
        core = list(fams)
        current = self
        for f in fams:  # deletion filter: drop each family whose removal keeps it infeasible
            trial = current.without(f)
            if not _feasible(trial, K):
                current, core = trial, [c for c in core if c != f]
        detail = self._detail(current, K)
        if not core:
            return f"no treated set of size K={K} exists{detail}"
        if len(core) == 1:
            return f"no treated set of size K={K} satisfies {core[0]} (it cannot be met on its own){detail}"
        return (f"no treated set of size K={K} satisfies the restrictions together: "
                f"{', '.join(core[:-1])} and {core[-1]} conflict (each is satisfiable without the others){detail}")

    def _detail(self, r, K):
        bits = []
        if r.forced:
            bits.append(f"{len(r.forced)} forced")
        n_ok = sum(1 for i in range(r.N) if i not in r.forbidden)
        bits.append(f"{n_ok} of {r.N} units treatable")
        if r.strata is not None and r.min_per_stratum:
            bits.append(f"min_per_stratum={r.min_per_stratum} over {len(r._strata_needing())} strata")
        if r.edges:
            bits.append(f"{len(r.edges)} conflicting pairs")
        return " (" + "; ".join(bits) + ")" if bits else ""


class _TooMany(Exception):
    pass


def _feasible(r, K):
    s = r.sets(K, limit=0)
    return s is None or len(s) > 0


# --------------------------------------------------------------------------------------------------
# building from the user's arguments
# --------------------------------------------------------------------------------------------------

def _unit_column(data, unit, col, what):
    if col not in data.columns:
        raise DataError(f"{what} {col!r} is not a column of the data; columns: {list(data.columns)}")
    g = data.groupby(unit)[col]
    n = g.nunique(dropna=False)
    bad = n[n > 1]
    if len(bad):
        raise DataError(f"{what} {col!r} must be constant within each unit; it varies for "
                        f"{[_py(u) for u in bad.index[:5]]}")
    return g.first()


def _labels_to_index(name, values, units):
    if values is None:
        return []
    if isinstance(values, (str, int, np.integer)) or not hasattr(values, "__iter__"):
        values = [values]
    pos = {u: k for k, u in enumerate(units)}
    pos_str = {str(u): k for k, u in enumerate(units)}
    out = []
    for v in values:
        if v in pos:
            out.append(pos[v])
        elif str(v) in pos_str:
            out.append(pos_str[str(v)])
        else:
            raise SpecificationError(f"{name}: unit {v!r} is not in the data")
    return sorted(set(out))


def _square(name, M, units):
    """A unit-by-unit matrix (DataFrame keyed by unit labels, or an N x N array in unit order)."""
    if isinstance(M, pd.DataFrame):
        idx = pd.Index([str(u) for u in M.index])
        cols = pd.Index([str(u) for u in M.columns])
        want = [str(u) for u in units]
        missing = [u for u in want if u not in idx or u not in cols]
        if missing:
            raise SpecificationError(f"{name} has no row/column for unit(s) {missing[:5]}")
        A = M.set_axis(idx, axis=0).set_axis(cols, axis=1).loc[want, want].to_numpy(dtype=float)
    else:
        A = np.asarray(M, dtype=float)
        if A.shape != (len(units), len(units)):
            raise SpecificationError(f"{name} must be a DataFrame keyed by unit labels or an N x N array "
                                     f"(N = {len(units)}), got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise DataError(f"{name} has non-finite entries")
    return A


def build_restrictions(design, data, unit, units, mode):
    """The :class:`Restrictions` of ``design`` (a SyntheticDesign) on ``units`` (the wide columns)."""
    units = list(units)
    N = len(units)
    r = Restrictions(labels=units, mode="per_unit" if mode == "per_unit" else "global")
    forced = _labels_to_index("to_be_treated", design.to_be_treated, units)
    forbidden = {i: "not_to_be_treated" for i in _labels_to_index("not_to_be_treated", design.not_to_be_treated, units)}
    both = sorted(set(forced) & set(forbidden))
    if both:
        raise InfeasibleDesignError(f"unit(s) {[_py(units[i]) for i in both]} are both in to_be_treated and "
                                    f"not_to_be_treated")
    if design.size_col is not None:
        if design.min_size is None and design.max_size is None:
            raise SpecificationError("size_col needs min_size and/or max_size")
        size = _unit_column(data, unit, design.size_col, "size_col").reindex(units).astype(float).to_numpy()
        lo = -math.inf if design.min_size is None else float(design.min_size)
        hi = math.inf if design.max_size is None else float(design.max_size)
        if lo > hi:
            raise InfeasibleDesignError(f"size band: min_size={design.min_size} exceeds max_size={design.max_size}")
        for i in np.flatnonzero((size < lo) | (size > hi)):
            forbidden.setdefault(int(i), "size band")
    elif design.min_size is not None or design.max_size is not None:
        raise SpecificationError("min_size / max_size need size_col")
    r.forced, r.forbidden = tuple(forced), forbidden
    # the conflict graph
    conflict = np.zeros((N, N), dtype=bool)
    sources = []
    if design.cluster_col is not None:
        cl = _unit_column(data, unit, design.cluster_col, "cluster_col").reindex(units).to_numpy()
        same = (cl[:, None] == cl[None, :]) & ~pd.isna(cl)[:, None]
        conflict |= same
        sources.append("cluster_col")
    if design.adjacency is not None:
        A = _square("adjacency", design.adjacency, units)
        thr = 0.0 if design.spillover_threshold is None else float(design.spillover_threshold)
        conflict |= (A > thr) | (A.T > thr)
        sources.append("adjacency")
    elif design.spillover_threshold is not None:
        raise SpecificationError("spillover_threshold needs adjacency (a unit-by-unit matrix)")
    np.fill_diagonal(conflict, False)
    r.edges = tuple((int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(conflict, 1))))
    r.edge_source = " + ".join(sources)
    # strata
    if design.stratum_col is not None:
        if design.min_per_stratum is None and design.max_per_stratum is None:
            raise SpecificationError("stratum_col needs min_per_stratum and/or max_per_stratum")
        st = _unit_column(data, unit, design.stratum_col, "stratum_col").reindex(units)
        if st.isna().any():
            raise DataError(f"stratum_col {design.stratum_col!r} is missing for unit(s) "
                            f"{[_py(u) for u in st.index[st.isna()][:5]]}")
        codes, names = pd.factorize(st, sort=True)
        r.strata, r.stratum_names = codes.astype(np.int64), [_py(x) for x in names]
        for k in ("min_per_stratum", "max_per_stratum"):
            v = getattr(design, k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
                raise SpecificationError(f"{k} must be a whole number >= 0, got {v!r}")
        r.min_per_stratum, r.max_per_stratum = design.min_per_stratum, design.max_per_stratum
        if r.min_per_stratum is not None and r.max_per_stratum is not None and r.min_per_stratum > r.max_per_stratum:
            raise InfeasibleDesignError(f"stratum quotas: min_per_stratum={r.min_per_stratum} exceeds "
                                        f"max_per_stratum={r.max_per_stratum}")
    elif design.min_per_stratum is not None or design.max_per_stratum is not None:
        raise SpecificationError("min_per_stratum / max_per_stratum need stratum_col")
    # donors
    parts = {}
    if design.donor_region_col is not None:
        reg = _unit_column(data, unit, design.donor_region_col, "donor_region_col").reindex(units).to_numpy()
        parts["donor_region_col"] = reg[:, None] != reg[None, :]
    if design.exclude_bordering_donors:
        if not r.edges:
            raise SpecificationError("exclude_bordering_donors needs a conflict source: cluster_col or adjacency")
        parts["exclude_bordering_donors"] = conflict.copy()
    if design.donor_exclusion is not None:
        parts["donor_exclusion"] = _square("donor_exclusion", design.donor_exclusion, units) > 0
    if parts:
        for v in parts.values():
            np.fill_diagonal(v, False)
        r.donor_parts, r.donor_sources = parts, tuple(parts)
        r.donor_excl = np.logical_or.reduce(list(parts.values()))
    return r
