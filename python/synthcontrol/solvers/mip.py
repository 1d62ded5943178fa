"""One boundary for mixed-integer (MIP / convex MIQP) solves: SCIP through pyscipopt.

The caller builds a :class:`pyscipopt.Model` (variables, constraints, a linear objective -- a
quadratic objective goes in as an epigraph variable -- and any solver settings of its own) and
hands it, or a callback that builds it, to :func:`solve_mip`.  This module then

* sets the limits, **deterministic by default**: a node limit (SCIP's ``limits/nodes`` and
  ``limits/totalnodes``) and a relative gap limit (``limits/gap``).  SCIP is single-threaded and
  seeded, so with these limits alone the same model gives the same answer on every run and on every
  machine running the same SCIP build.  A wall-clock cap (``limits/time``) is only set when the user
  asks for one (``time_limit``, default ``None``); when it bites the result says so
  (``stopped_by="time_limit"``), because the answer then depends on the machine's speed;
* optionally stops as soon as the dual bound proves that nothing beats a target (``stop_at``: an
  objective limit plus an event handler that interrupts the search once the bound reaches it);
* runs the solve and reads everything off the model into a frozen :class:`MIPResult`;
* turns SCIP's own failures (pyscipopt raises plain ``Exception``, ``MemoryError``, ``KeyError``, ...
  for SCIP's return codes) into :class:`~synthcontrol.errors.SolverError`, here and nowhere else.
  Callers that must never crash (the global bound of the V search) catch ``SolverError``.

Only minimisation is supported (the models of this package minimise).
"""
from __future__ import annotations

import math
import time
import types
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import SolverError

__all__ = ["MIPResult", "solve_mip", "scip_available", "DEFAULT_NODE_LIMIT", "DEFAULT_GAP", "STOPPED_BY"]

#: Default node limit of :func:`solve_mip`.  The MIQP of :mod:`.global_bound` needs at most 109
#: nodes on the package's test cases (Prop 99 with Synth's V as the incumbent; 1-40 elsewhere) and
#: 160-537 nodes to prove optimality with no incumbent at all (Basque 160, Prop 99 259, Germany 537):
#: the limit is ~90x the largest test case and ~19x the largest full solve.
DEFAULT_NODE_LIMIT = 10_000

#: Default relative gap limit of :func:`solve_mip` (SCIP's ``limits/gap``).
DEFAULT_GAP = 1e-9

#: Every value :attr:`MIPResult.stopped_by` can take.
STOPPED_BY = ("optimal", "gap_limit", "node_limit", "time_limit", "objective_limit", "interrupted",
              "infeasible", "error")

# SCIP status -> stopped_by (statuses not listed: "error")
_STOPPED_BY = {"optimal": "optimal", "gaplimit": "gap_limit", "nodelimit": "node_limit",
               "totalnodelimit": "node_limit", "timelimit": "time_limit", "userinterrupt": "interrupted",
               "infeasible": "infeasible"}


def scip_available() -> bool:
    """True when pyscipopt (SCIP) can be imported; False when it is missing or its binary is broken."""
    try:
        import pyscipopt  # noqa: F401
    except Exception:  # ImportError, or a broken binary
        return False
    return True


@dataclass(frozen=True)
class MIPResult:
    """What a MIP/MIQP solve returned (minimisation).

    ``status``: SCIP's own status string (``"optimal"``, ``"nodelimit"``, ``"userinterrupt"``, ...).
    ``objective``: the best solution's objective value (``inf`` if no solution was found).
    ``bound``: the proven dual (lower) bound: no feasible point has a smaller objective; valid
    whatever stopped the solve (``inf``: proven infeasible; ``-inf``: nothing proven).  When the
    search was stopped at a target ``stop_at`` (``stopped_by`` "objective_limit" or, when ``proven``,
    "interrupted"), the bound is at least ``stop_at``.
    ``gap``: relative gap between ``objective`` and ``bound``, SCIP's definition
    ``|objective - bound| / min(|objective|, |bound|)`` (0 when equal; ``inf`` when either is infinite
    or they differ in sign or one is 0).
    ``proven``: the solve reached a conclusion -- optimal within the gap limit, infeasible, or the
    ``stop_at`` target proven; False when a node or time limit, a user interrupt or a failure
    stopped it (the bound is still valid, only weaker).
    ``stopped_by``: one of :data:`STOPPED_BY`: "optimal", "gap_limit", "node_limit", "time_limit"
    (only when the user's wall-clock cap bit), "objective_limit" (the ``stop_at`` objective limit
    pruned every node), "interrupted" (the search was interrupted: by the ``stop_at`` event when
    ``proven``, else by the user), "infeasible", or "error" (any other SCIP status: memory limit,
    unbounded, ...).
    ``nodes``: branch-and-bound nodes processed (all runs).
    ``seconds``: wall-clock time of the solve, building included when a builder was given (information
    only: not compared by ``==``).
    ``solution``: the best solution as a read-only mapping from variable name to value (original
    problem variables), or None if SCIP found no solution.
    """

    status: str
    objective: float
    bound: float
    gap: float
    proven: bool
    stopped_by: str
    nodes: int
    seconds: float = field(compare=False)
    solution: Mapping[str, float] | None = None


def _relative_gap(objective: float, bound: float) -> float:
    """SCIP's relative gap ``|p - d| / min(|p|, |d|)``: 0 when equal, inf when undefined."""
    if objective == bound:
        return 0.0
    if not (math.isfinite(objective) and math.isfinite(bound)) or objective * bound <= 0:
        return math.inf
    return abs(objective - bound) / min(abs(objective), abs(bound))


def _failure(solver: str, stage: str, exc: BaseException) -> SolverError:
    return SolverError(f"{solver} failed {stage}: {type(exc).__name__}: {exc}")


def solve_mip(model, *, node_limit: int | None = DEFAULT_NODE_LIMIT, gap: float = DEFAULT_GAP,
              time_limit: float | None = None, stop_at: float | None = None, quiet: bool = True,
              solver: str = "SCIP") -> MIPResult:
    """Solve a minimisation MIP/MIQP built with pyscipopt under deterministic limits.

    ``model``: a :class:`pyscipopt.Model`, or a callable with no arguments that builds and returns
    one (its exceptions are reported as solver failures too).  The model must be freshly built (not
    yet solved); it is solved in place.
    ``node_limit``: stop after this many branch-and-bound nodes (``None``: no node limit).
    ``gap``: stop once the relative gap between the best solution and the dual bound is at most
    this (SCIP's ``limits/gap``).
    ``time_limit``: an optional wall-clock cap in seconds (default ``None``: none).  It makes the
    answer depend on the machine's speed, so it is never set unless asked for, and the result says
    ``stopped_by="time_limit"`` when it bit.
    ``stop_at``: a target; prune every node that cannot go below it (objective limit) and interrupt
    the search as soon as the dual bound reaches it.  Use it when only "is anything below
    ``stop_at``?" matters: the bound returned is then at least ``stop_at`` or a point below it has
    been found.
    ``quiet``: silence SCIP's log.  ``solver``: the name used in error messages.

    Returns a :class:`MIPResult`.  Raises :class:`~synthcontrol.errors.SolverError` when SCIP fails
    (building, solving or reading the result), naming the solver and what it reported; raises
    :class:`~synthcontrol.errors.SpecificationError` for invalid limits.
    """
    from .._validate import check_count, check_number
    node_limit = check_count("node_limit", node_limit, allow_none=True)
    gap = check_number("gap", gap, low=0)
    time_limit = check_number("time_limit", time_limit, low=0, low_open=True, allow_none=True)
    if stop_at is not None and math.isnan(float(stop_at)):
        from ..errors import SpecificationError
        raise SpecificationError("stop_at must be a number or None, got nan")
    target = float(stop_at) if stop_at is not None and math.isfinite(float(stop_at)) else None

    t0 = time.perf_counter()
    if callable(model) and not hasattr(model, "optimize"):
        try:
            model = model()
        except Exception as exc:  # pyscipopt reports SCIP's return codes as plain exceptions
            raise _failure(solver, "while building the model", exc) from exc

    stopped = [False]
    try:
        from pyscipopt import SCIP_EVENTTYPE, Eventhdlr
        if quiet:
            model.hideOutput()
        model.setParam("limits/gap", gap)
        if node_limit is not None:
            model.setParam("limits/nodes", node_limit)
            model.setParam("limits/totalnodes", node_limit)  # restarts do not reset the cap
        if time_limit is not None:
            model.setParam("limits/time", time_limit)
        if target is not None:
            model.setObjlimit(target)  # prune any node that cannot go below the target

            class _Stop(Eventhdlr):
                def eventinit(self):
                    self.model.catchEvent(SCIP_EVENTTYPE.NODESOLVED, self)

                def eventexit(self):
                    self.model.dropEvent(SCIP_EVENTTYPE.NODESOLVED, self)

                def eventexec(self, event):
                    if self.model.getDualbound() >= target:
                        stopped[0] = True
                        self.model.interruptSolve()

            model.includeEventhdlr(_Stop(), "stop_at_target", "stop once the dual bound reaches the target")
    except Exception as exc:
        raise _failure(solver, "while setting its limits", exc) from exc

    try:
        model.optimize()
    except Exception as exc:
        raise _failure(solver, "while solving", exc) from exc

    try:
        status = model.getStatus()
        nodes = int(model.getNTotalNodes())
        solution = objective = None
        if model.getNSols() > 0:
            sol = model.getBestSol()
            objective = float(model.getSolObjVal(sol))
            solution = types.MappingProxyType(
                {v.name: float(model.getSolVal(sol, v)) for v in model.getVars()})
        dual = float(model.getDualbound())
        infinity = float(model.infinity())
    except Exception as exc:
        raise _failure(solver, "while reading its result", exc) from exc

    if objective is None or objective >= infinity:
        objective = math.inf
    dual = math.inf if dual >= infinity else (-math.inf if dual <= -infinity else dual)
    stopped_by = _STOPPED_BY.get(status, "error")
    proven = stopped_by in ("optimal", "gap_limit", "infeasible")
    if status == "infeasible" and target is not None:
        # with an objective limit, "infeasible" proves only that nothing is below the limit
        stopped_by, proven, dual = "objective_limit", True, target
    elif stopped[0]:
        stopped_by, proven, dual = "interrupted", True, max(dual, target)
    elif status == "infeasible":
        dual = math.inf
    return MIPResult(status=status, objective=objective, bound=dual, gap=_relative_gap(objective, dual),
                     proven=proven, stopped_by=stopped_by, nodes=nodes, seconds=time.perf_counter() - t0,
                     solution=solution)
