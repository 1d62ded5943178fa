"""Synthetic experimental design (SYNDES, Doudchenko, Khosravi, Pouget-Abadie et al. 2021): choose
which units to treat and the synthetic weights jointly, before the experiment runs."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from .._validate import _py, check_choice, check_number, check_seed
from ..errors import InfeasibleDesignError, SpecificationError

from .base import Settings

__all__ = ["SyntheticDesign"]

MODES = ("two_way_global", "one_way_global", "per_unit", "two_way_global_annealed")
SOLVERS = ("auto", "exact", "SCIP")
PERMUTATIONS = ("refit", "fixed")
SELECTIONS = ("in_sample", "holdout", "ic")
_RESTRICTIONS = ("to_be_treated", "not_to_be_treated", "cluster_col", "adjacency", "spillover_threshold",
                 "stratum_col", "min_per_stratum", "max_per_stratum", "size_col", "min_size", "max_size",
                 "donor_region_col", "exclude_bordering_donors", "donor_exclusion")
_PARAMS = ("K", "mode", "lam", "gap_limit", "time_limit", "solver", "costs", "budget", "arm") + _RESTRICTIONS + (
    "top_K", "selection", "holdout_frac", "power_weight", "fit_weight", "run_inference", "alpha", "permutation",
    "seed", "max_sets", "n_jobs")


class SyntheticDesign(Settings):
    """Choose the treated units of an experiment and their synthetic weights (SYNDES).

    The experimenter has pre-period outcomes for ``N`` units and can treat ``K``.  For a treated set
    ``S`` (``C`` the others, ``T`` pre-periods) the objectives, reported as ``objective``, are

    * ``"two_way_global"``: ``(1/T)||Y_S a - Y_C c||^2 + lam (||a||^2 + ||c||^2)``, ``a`` and ``c``
      non-negative summing to one on ``S`` and on ``C``: one weighted treated average against one
      synthetic control (effects assumed homogeneous);
    * ``"one_way_global"``: ``(1/T)||(1/K) Y_S 1 - Y_C c||^2 + lam (1/K + ||c||^2)``: the plain
      average of the treated units against a synthetic control;
    * ``"per_unit"``: ``(1/(K T)) sum_{i in S} ||Y_i - Y_C w^i||^2 + (lam/K) sum_i ||w^i||^2``: a
      synthetic control for every treated unit;
    * ``"two_way_global_annealed"``: the two-way objective searched by seeded simulated annealing
      (fast on large problems; ``proven_optimal`` is False and ``bound`` is the ridge terms' floor).

    Parameters
    ----------
    K : int or None
        Treated units (per arm with ``arm``).  ``None`` (``two_way_global`` only): the design
        chooses ``K`` in ``1..N-1``.
    mode : str
        One of the above.
    lam : float, optional
        The ridge weight, the variance term of the estimator's MSE.  Default: the mean over units
        of the pre-period variance of each unit's outcome (``ddof=1``).
    solver : {"auto", "exact", "SCIP"}
        ``"exact"``: our best-first search over the treated sets (every set bounded from below,
        sets solved exactly in the order of their bounds until the next bound reaches the best
        objective: a proof of optimality); ``"SCIP"``: the mixed-integer programme (McCormick
        linearisation) on centred, scaled data, under ``gap_limit`` and ``time_limit``; ``"auto"``:
        the exact search when there are at most ``max_sets`` treated sets, else SCIP.
    gap_limit, time_limit : float or None
        Limits of the SCIP solve (relative gap, default 0.05; seconds, default 60); ``time_limit``
        also stops the exact search (which then reports the bound it proved).
    costs : dict, Series or column name, optional; budget : float, optional
        Cost of treating each unit and the total budget: ``sum of costs over S <= budget``.
    arm : column name, optional
        A unit-level arm label: an independent design per arm (results keyed by arm).  Not
        combinable with ``costs``/``budget`` or the restrictions below.
    to_be_treated, not_to_be_treated : unit labels, optional
        Units forced into the treated set; units that may not be treated (they stay donors).
    cluster_col : column name; adjacency : DataFrame (unit x unit) or N x N array; spillover_threshold : float
        A conflict graph: two units sharing a cluster, or whose adjacency entry exceeds
        ``spillover_threshold`` (default 0), are never both treated.
    stratum_col : column name; min_per_stratum, max_per_stratum : int
        Quotas: at least ``min_per_stratum`` treated in every stratum with a treatable unit, at most
        ``max_per_stratum`` in any.
    size_col : column name; min_size, max_size : float
        Only units whose size is within the band may be treated (the others stay donors).
    donor_region_col : column name; exclude_bordering_donors : bool; donor_exclusion : DataFrame or array
        Who may be a treated unit's donor: one of its own region; not one of its conflict-graph
        neighbours (needs ``cluster_col`` or ``adjacency``); not ``j`` where
        ``donor_exclusion[i, j] > 0``.  Combined by union.  The global modes share one control vector
        among the treated units, so a donor must be allowed for all of them: with
        ``donor_region_col`` every treated unit then comes from one region.  ``per_unit`` gives each
        treated unit its own donors (multi-region designs).
        All restrictions compose with each other and with ``costs``/``budget``; the exact search
        builds only the sets they admit and SCIP gets them as linear constraints.  When none is
        admissible, :class:`~synthcontrol.InfeasibleDesignError` names the restrictions that conflict.
    top_K : int
        The menu: the ``top_K`` best distinct designs (``dres.pool``, best first by ``selection``),
        proven the best ``top_K`` by the exact search (SCIP: no-good cuts, each entry with its gap).
    selection : {"in_sample", "holdout", "ic"} or None
        How the menu is ranked and ``dres`` chosen: the objective (``"in_sample"``); the
        out-of-sample contrast RMSE on the last ``holdout_frac`` of the pre-period, the menu being
        searched on the rest (``"holdout"``); or ``SSR + 2 sigma^2 df`` (``"ic"``; Pouliot, Xie & Liu;
        ``df`` = active control donors - 1, ``sigma^2`` the best-fitting entry's mean squared
        pre-period contrast).  None: ``"holdout"`` when ``holdout_frac`` is given, else
        ``"in_sample"``.  ``holdout``/``ic`` need ``top_K >= 2``.
    holdout_frac : float in (0, 1), optional
    power_weight, fit_weight : float
        Weights of the recommendation's composite rank (default 0.51 / 0.49; normalised to sum 1).
    run_inference : bool
        With post-treatment periods: the moving-block permutation test of the design's effect.
    alpha : float
        Level of the permutation test's interval.
    permutation : {"refit", "fixed"}
        ``"refit"`` (default): for each hypothesised effect the design's weights (same treated set)
        are refitted on all periods under the null before the cyclic shifts (Chernozhukov,
        Wuthrich & Zhu); the interval inverts it numerically.  ``"fixed"``: the shifts of the
        design's own contrast, whose pre-period is fitted in sample and so too quiet: in the seed's
        simulation it rejects 15-19% of true nulls at an attainable 4.2% (the refitted test: 9-13%).
    seed : int
        Seed of the annealed mode.
    max_sets : int
        ``solver="auto"`` searches exactly up to this many treated sets (default 2,000,000).
    n_jobs : int
        Workers for the exact search's set solves (joblib's convention; results do not depend on
        it).  With workers the exact search runs without ``time_limit`` (every set whose bound is
        below the incumbent is solved).
    """

    _PARAMS = _PARAMS

    def __init__(self, K=3, mode="two_way_global", lam=None, gap_limit=0.05, time_limit=60.0, solver="auto",
                 costs=None, budget=None, arm=None, to_be_treated=None, not_to_be_treated=None, cluster_col=None,
                 adjacency=None, spillover_threshold=None, stratum_col=None, min_per_stratum=None,
                 max_per_stratum=None, size_col=None, min_size=None, max_size=None, donor_region_col=None,
                 exclude_bordering_donors=False, donor_exclusion=None, top_K=1, selection=None, holdout_frac=None,
                 power_weight=0.51, fit_weight=0.49, run_inference=True, alpha=0.1, permutation="refit",
                 seed=0, max_sets=2_000_000, n_jobs=1):
        self.K = K
        self.mode = mode
        self.lam = lam
        self.gap_limit = gap_limit
        self.time_limit = time_limit
        self.solver = solver
        self.costs = costs
        self.budget = budget
        self.arm = arm
        self.to_be_treated = to_be_treated
        self.not_to_be_treated = not_to_be_treated
        self.cluster_col = cluster_col
        self.adjacency = adjacency
        self.spillover_threshold = spillover_threshold
        self.stratum_col = stratum_col
        self.min_per_stratum = min_per_stratum
        self.max_per_stratum = max_per_stratum
        self.size_col = size_col
        self.min_size = min_size
        self.max_size = max_size
        self.donor_region_col = donor_region_col
        self.exclude_bordering_donors = exclude_bordering_donors
        self.donor_exclusion = donor_exclusion
        self.top_K = top_K
        self.selection = selection
        self.holdout_frac = holdout_frac
        self.power_weight = power_weight
        self.fit_weight = fit_weight
        self.run_inference = run_inference
        self.alpha = alpha
        self.permutation = permutation
        self.seed = seed
        self.max_sets = max_sets
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------------------------------
    def _check(self):
        mode = check_choice("mode", self.mode, MODES)
        solver = check_choice("solver", self.solver, SOLVERS)
        if self.K is None:
            if mode != "two_way_global":
                raise SpecificationError(f"K=None (the design chooses K) is available for mode='two_way_global' only; "
                                         f"mode={mode!r} needs a whole number K >= 1")
        elif isinstance(self.K, bool) or not isinstance(self.K, (int, np.integer)) or self.K < 1:
            raise SpecificationError(f"K must be a whole number >= 1 (or None with mode='two_way_global'), got {self.K!r}")
        if self.lam is not None:
            check_number("lam", self.lam, low=0)
        check_number("gap_limit", self.gap_limit, low=0, allow_none=True)
        check_number("time_limit", self.time_limit, low=0, low_open=True, allow_none=True)
        check_number("alpha", self.alpha, low=0, high=1, low_open=True, high_open=True)
        check_choice("permutation", self.permutation, PERMUTATIONS)
        check_seed("seed", self.seed)
        if (self.costs is None) != (self.budget is None):
            raise SpecificationError("costs and budget go together: give both (the total cost of the treated "
                                     "units must not exceed the budget) or neither")
        if self.budget is not None:
            check_number("budget", self.budget, low=0)
        if self.arm is not None and self.budget is not None:
            raise SpecificationError("arm and costs/budget cannot be combined: the budget is defined over all "
                                     "units, the arms are separate designs. Run one design per arm with its own "
                                     "budget instead")
        used = [k for k in _RESTRICTIONS if getattr(self, k) is not None and getattr(self, k) is not False]
        if self.arm is not None and used:
            raise SpecificationError(f"arm cannot be combined with restrictions ({', '.join(used)}): they are "
                                     f"defined over all units, the arms are separate designs. Run one design per "
                                     f"arm with its own restrictions instead")
        if mode == "two_way_global_annealed" and used:
            raise SpecificationError(f"mode='two_way_global_annealed' does not take restrictions ({', '.join(used)}): "
                                     f"its swap search cannot keep them; use mode='two_way_global' (exact search or "
                                     f"SCIP)")
        if isinstance(self.top_K, bool) or not isinstance(self.top_K, (int, np.integer)) or self.top_K < 1:
            raise SpecificationError(f"top_K must be a whole number >= 1, got {self.top_K!r}")
        if self.holdout_frac is not None:
            check_number("holdout_frac", self.holdout_frac, low=0, high=1, low_open=True, high_open=True)
        selection = self.selection
        if selection is None:
            selection = "holdout" if self.holdout_frac is not None else "in_sample"
        selection = check_choice("selection", selection, SELECTIONS)
        if selection == "holdout" and self.holdout_frac is None:
            raise SpecificationError("selection='holdout' needs holdout_frac (the share of the pre-period held out)")
        if selection != "holdout" and self.holdout_frac is not None:
            raise SpecificationError(f"holdout_frac is used by selection='holdout' only, not {selection!r}")
        if selection != "in_sample" and self.top_K < 2:
            raise SpecificationError(f"selection={selection!r} ranks a menu: it needs top_K >= 2, got {self.top_K}")
        if selection != "in_sample" and mode == "two_way_global_annealed":
            raise SpecificationError(f"selection={selection!r} needs an exact or SCIP mode, not the annealed one")
        for k in ("power_weight", "fit_weight"):
            check_number(k, getattr(self, k), low=0)
        if not self.power_weight + self.fit_weight > 0:
            raise SpecificationError("power_weight + fit_weight must be > 0")
        if self.K is None and self.top_K > 1:
            raise SpecificationError("top_K > 1 needs a whole number K")
        self._selection = selection
        return mode, solver

    def fit(self, data, *, unit, time, outcome, T0=None, post_col=None):
        """Choose the design on a long DataFrame (one row per unit and period).

        The pre-period is the first ``T0`` periods, or the periods where ``post_col`` is 0 (it wins,
        with a ``UserWarning``, when both are given and disagree).  Without post-treatment periods
        the fit is a plan: the design and its power, no effect.  Returns a
        :class:`~synthcontrol.design.results.DesignResult` (or, with ``arm``, a
        :class:`~synthcontrol.design.results.ArmDesigns`)."""
        from ..design.results import ArmDesigns
        mode, solver = self._check()
        if not isinstance(data, pd.DataFrame):
            raise SpecificationError(f"fit() takes a long pandas DataFrame, got {type(data).__name__}")
        for col, what in ((unit, "unit"), (time, "time"), (outcome, "outcome")):
            if col not in data.columns:
                from ..errors import DataError
                raise DataError(f"{what} column {col!r} not found; columns: {list(data.columns)}")
        wide, T0 = self._wide(data, unit, time, outcome, T0, post_col)
        costs = self._costs(data, unit, wide.columns)
        if self.arm is None:
            from ..design.restrictions import build_restrictions
            restr = build_restrictions(self, data, unit, wide.columns, mode)
            if costs is not None:
                restr.costs, restr.budget = costs, float(self.budget)
            return self._design(wide, T0, costs, mode, solver, restr=restr)
        if self.arm not in data.columns:
            from ..errors import DataError
            raise DataError(f"arm column {self.arm!r} not found; columns: {list(data.columns)}")
        arms = data.groupby(unit)[self.arm].nunique()
        if (arms > 1).any():
            u = arms.index[arms > 1][0]
            raise SpecificationError(f"the arm column {self.arm!r} must be constant within a unit; unit {_py(u)!r} "
                                     f"has {int(arms[u])} arms")
        label = data.groupby(unit)[self.arm].first()
        out = {}
        for a in pd.unique(label.loc[wide.columns]):
            cols = [u for u in wide.columns if label[u] == a]
            if self.K is not None and len(cols) < self.K + 1:
                raise InfeasibleDesignError(f"arm {_py(a)!r} has {len(cols)} unit(s); a design with K={self.K} "
                                            f"treated needs at least K + 1 = {self.K + 1} (one control at least)")
            out[_py(a)] = self._design(wide[cols], T0, None, mode, solver, arm=_py(a))
        return ArmDesigns(out)

    # ------------------------------------------------------------------------------------------
    def _wide(self, data, unit, time, outcome, T0, post_col):
        from ..errors import DataError
        keys = data[[unit, time]]
        if keys.duplicated().any():
            u, t = (_py(v) for v in keys[keys.duplicated()].iloc[0])
            raise DataError(f"duplicate rows for unit {u!r} at period {t!r}")
        try:
            wide = data.pivot(index=time, columns=unit, values=outcome).sort_index()
        except Exception as e:  # noqa: BLE001
            raise DataError(f"cannot build the unit x period table: {e}") from None
        wide = wide.astype(float)
        wide.attrs["outcome"] = outcome  # for the figures' axis label
        if wide.isna().any().any():
            t, u = next((t, u) for u in wide.columns for t in wide.index if np.isnan(wide.at[t, u]))
            raise DataError(f"the panel must be balanced with no missing outcome: unit {_py(u)!r} has none at "
                            f"period {_py(t)!r}")
        nT = len(wide)
        T0_post = None
        if post_col is not None:
            if post_col not in data.columns:
                raise DataError(f"post_col {post_col!r} not found; columns: {list(data.columns)}")
            per = data.groupby(time)[post_col].max().reindex(wide.index)
            if not set(pd.unique(per)) <= {0, 1, True, False}:
                raise DataError(f"post_col {post_col!r} must be 0/1")
            per = per.astype(int).to_numpy()
            T0_post = int(np.argmax(per == 1)) if per.any() else nT
            if per.any() and not per[T0_post:].all():
                raise DataError(f"post_col {post_col!r} must mark one final block of periods (0s, then 1s)")
        if T0 is not None:
            if isinstance(T0, bool) or not isinstance(T0, (int, np.integer)) or not 2 <= T0 <= nT:
                raise SpecificationError(f"T0 must be a whole number of pre-periods in 2..{nT}, got {T0!r}")
            if T0_post is not None and T0_post != T0:
                warnings.warn(f"T0={T0} and post_col {post_col!r} disagree (post_col gives T0={T0_post}); "
                              f"post_col wins", UserWarning, stacklevel=3)
        T0 = T0_post if T0_post is not None else (T0 if T0 is not None else nT)
        if T0 < 2:
            raise SpecificationError(f"the design needs at least 2 pre-periods, got {T0}")
        return wide, int(T0)

    def _costs(self, data, unit, units):
        if self.costs is None:
            return None
        c = self.costs
        if isinstance(c, str):
            if c not in data.columns:
                from ..errors import DataError
                raise DataError(f"costs column {c!r} not found")
            c = data.groupby(unit)[c].first()
        c = pd.Series(c, dtype=float).reindex(units)
        if c.isna().any():
            raise SpecificationError(f"costs has no value for unit(s) {[_py(u) for u in c.index[c.isna()]][:5]}")
        if (c < 0).any():
            raise SpecificationError("costs must be >= 0")
        return c.to_numpy()

    def _design(self, wide, T0, costs, mode, solver, arm=None, restr=None):
        from ..design.menu import assemble
        from ..design.results import build_result
        from ..solvers.syndes import DesignProblem
        Y = wide.to_numpy()
        Ypre = Y[:T0]
        N = Y.shape[1]
        K = self.K
        if K is not None and K >= N:
            raise InfeasibleDesignError(f"K={K} treated units leave no control among the {N} units; K must be "
                                        f"at most N - 1 = {N - 1}")
        lam = float(np.mean(Ypre.var(axis=0, ddof=1))) if self.lam is None else float(self.lam)
        base_mode = "two_way_global" if mode == "two_way_global_annealed" else mode
        selection = getattr(self, "_selection", "in_sample")
        T_fit = T0
        if selection == "holdout":
            n_val = max(1, int(round(self.holdout_frac * T0)))
            T_fit = T0 - n_val
            if T_fit < 2:
                raise SpecificationError(f"holdout_frac={self.holdout_frac:g} leaves {T_fit} of the {T0} pre-periods "
                                         f"to search on; at least 2 are needed")
        donor_excl = None if restr is None else restr.donor_excl
        found, info = self._search(Ypre[:T_fit], costs, mode, base_mode, solver, lam, restr)
        results = []
        full = DesignProblem(Ypre, base_mode, lam, donor_excl=donor_excl) if T_fit < T0 else None
        extra = []
        for sv, bound, proven, status in found:
            row = {}
            if full is not None:
                # the set was chosen on the leading periods; its out-of-sample error is that of the
                # weights fitted there, and the design reported is the set's fit on the whole pre-period
                c_fit = sv.treated_weights - sv.control_weights
                row["oos_rmse"] = float(np.sqrt(np.mean((Ypre[T_fit:] @ c_fit) ** 2)))
                row["search_objective"] = float(sv.objective)
                row["search_proven"] = bool(proven)
                sv = full.value(sv.treated)
                bound, proven, status = math.nan, False, "holdout"
            results.append(build_result(self, wide, T0, mode, lam, sv, bound, proven, status, info, costs=costs,
                                        arm=arm, donor_excl=donor_excl))
            extra.append(row)
        return assemble(results, extra, selection, T_fit=T_fit, power_weight=self.power_weight,
                        fit_weight=self.fit_weight, top_K=self.top_K)

    def _search(self, Ys, costs, mode, base_mode, solver, lam, restr):
        """The best ``top_K`` treated sets on the pre-period rows ``Ys``: a list of ``(SetValue,
        bound, proven, status)`` (best first) and the certificate's dict."""
        from ..design.restrictions import Restrictions
        from ..solvers.syndes import DesignProblem, anneal_designs, enumerate_designs
        N = Ys.shape[1]
        K = self.K
        top_K = int(self.top_K)
        if restr is None:
            restr = Restrictions(labels=list(range(N)))
        Ks = list(range(1, N)) if K is None else [K]
        if costs is not None:
            cheapest = np.sort(costs)
            Ks = [k for k in Ks if cheapest[:k].sum() <= self.budget]
            if not Ks:
                raise InfeasibleDesignError(
                    f"budget {self.budget:g} is below the cost of the cheapest {K if K else 1} unit(s) "
                    f"({cheapest[:K or 1].sum():g}): no treated set is affordable")
        problem = DesignProblem(Ys, base_mode, lam, donor_excl=restr.donor_excl)
        restricted = restr.any
        # how many treated sets: exact when unrestricted; with restrictions, the admissible sets are
        # built (pruned) whenever the treatable units leave at most max_sets candidates
        free = N - len(restr.forbidden) - len(restr.forced)
        combos_by_k, n_sets = {}, 0
        for k in Ks:
            upper = math.comb(max(free, 0), max(k - len(restr.forced), 0)) if k >= len(restr.forced) else 0
            if not restricted:
                n_sets += math.comb(N, k)
            elif upper <= self.max_sets:
                combos_by_k[k] = restr.sets(k)
                n_sets += len(combos_by_k[k])
            else:
                n_sets += upper  # an upper bound: too many to build
        if restricted and combos_by_k and len(combos_by_k) == len(Ks) and n_sets == 0:
            raise InfeasibleDesignError(restr.explain(Ks[0] if K is not None else 1))
        use = solver
        if solver == "auto":
            use = "exact" if n_sets <= self.max_sets and mode != "two_way_global_annealed" else "SCIP"
        if mode == "two_way_global_annealed":
            use = "anneal"
        if use == "exact" and n_sets > self.max_sets:
            raise SpecificationError(
                f"solver='exact' would enumerate {n_sets:,} treated sets (more than max_sets = {self.max_sets:,}); "
                f"use solver='SCIP' (or 'auto'), mode='two_way_global_annealed', or raise max_sets if it can finish")
        if use == "exact":
            from ..solvers.syndes import _combos
            from ..parallel import plan
            workers = plan(self.n_jobs).workers  # the estimator's n_jobs, or the parallel_backend block's
            results = []
            for k in Ks:
                if restricted:
                    combos = combos_by_k[k]
                else:
                    combos = _combos(N, k)
                    if costs is not None:
                        combos = combos[costs[combos].sum(axis=1) <= self.budget + 1e-12 * max(1.0, abs(self.budget))]
                if len(combos) == 0:
                    continue
                results.append(enumerate_designs(problem, k, combos=combos, n_jobs=self.n_jobs, top_k=top_K,
                                                 time_limit=self.time_limit if workers == 1 else None))
            best = min(results, key=lambda r: r.best.objective)
            bound = min(r.bound for r in results)
            info = dict(method="exact best-first search" + (" over K = 1..N-1" if K is None else ""),
                        n_sets=sum(r.n_sets for r in results), n_solved=sum(r.n_solved for r in results),
                        n_pruned=sum(r.n_pruned for r in results), seconds=sum(r.seconds for r in results),
                        stopped_by="complete" if all(r.stopped_by == "complete" for r in results) else "time_limit",
                        best_set_duality_gap=best.best.gap)
            if restricted:
                info["restrictions"] = ", ".join(restr.names())
            if workers > 1 and self.time_limit is not None and info["seconds"] > self.time_limit:
                from ..errors import SynthWarning
                info["time_limit_ignored"] = True
                warnings.warn(f"design: with n_jobs={self.n_jobs} the exact search runs to its proof without a time "
                              f"limit; it took {info['seconds']:.1f} s, beyond time_limit={self.time_limit:g} s "
                              f"(certificate['time_limit_ignored'])", SynthWarning, stacklevel=4)
            complete = all(r.proven_optimal for r in results)
            pool = sorted((v for r in results for v in r.pool), key=lambda v: v.objective)[:top_K]
            found = []
            for v in pool:
                proven = complete and v.objective - bound <= 1e-9 * abs(v.objective) + v.gap if v is pool[0] \
                    else complete
                found.append((v, v.objective if proven else bound, proven,
                              "optimal" if proven else info["stopped_by"]))
            if top_K > 1:
                info["menu"] = (f"the {len(pool)} best admissible sets, proven" if complete else
                                f"the {len(pool)} best sets found before the time limit (not proven)")
            return found, info
        if use == "anneal":
            if K is None:
                raise SpecificationError("the annealed mode needs a whole number K")
            adm = None
            if costs is not None:
                adm = lambda S: costs[list(S)].sum() <= self.budget  # noqa: E731
            search = anneal_designs(problem, K, seed=self.seed, admissible=adm, top_k=top_K)
            info = dict(method=search.method, n_sets=search.n_sets, n_solved=search.n_solved, n_pruned=0,
                        seconds=search.seconds, stopped_by=search.stopped_by, best_set_duality_gap=search.best.gap)
            return [(v, search.bound, False, "heuristic") for v in search.pool], info
        from ..solvers.syndes_mip import solve_design_mip
        found, seconds, nodes, stop_note = [], 0.0, 0, None
        for r in range(top_K):
            try:
                mres = solve_design_mip(Ys, K, base_mode, lam, costs=costs, budget=self.budget,
                                        gap_limit=self.gap_limit, time_limit=self.time_limit,
                                        restrictions=restr if restr.any_beyond_budget else None,
                                        exclude_sets=[f[0].treated for f in found])
            except InfeasibleDesignError:
                if not found:
                    raise
                stop_note = f"only {len(found)} admissible designs exist"
                break
            sv = problem.value(mres.treated)  # the exact weights and objective of the set SCIP chose
            proven = bool(mres.proven_optimal)
            found.append((sv, min(float(mres.bound), sv.objective), proven, "optimal" if proven else mres.status))
            seconds += mres.seconds
            nodes += mres.nodes
            first = mres if r == 0 else first
            last = mres
        info = dict(method="SCIP mixed-integer programme (centred, scaled data)" +
                    (f", {len(found)} solves with no-good cuts" if top_K > 1 else ""), n_sets=n_sets,
                    n_solved=None, n_pruned=None, seconds=seconds, stopped_by=last.stopped_by,
                    best_set_duality_gap=found[0][0].gap, nodes=nodes, scip_objective=first.objective)
        if restricted:
            info["restrictions"] = ", ".join(restr.names())
        if stop_note:
            info["menu"] = stop_note
        return found, info
