"""The MIP/MIQP boundary (:mod:`synthcontrol.solvers.mip`, issue #12 "Solver boundary").

Where the numbers come from: the tiny MIQP's optimum is worked out by hand in its docstring; the
other tests check properties that hold whatever the instance (a bound below the best solution, the
limit that stopped the search, identical results on repeated runs).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

pyscipopt = pytest.importorskip("pyscipopt")

from synthcontrol.errors import SolverError, SpecificationError  # noqa: E402
from synthcontrol.solvers import global_bound, mip  # noqa: E402
from synthcontrol.solvers.mip import DEFAULT_NODE_LIMIT, STOPPED_BY, MIPResult, solve_mip  # noqa: E402
from synthcontrol.solvers.vsearch import solve_bilevel  # noqa: E402


def _tiny(extra=None):
    """``min (x - 2.6)^2 + (y - 1.2)^2`` over integers ``0 <= x, y <= 5`` with ``x + y <= 3``.

    By hand: the unconstrained rounding (3, 1) violates ``x + y <= 3``; on the line x + y = 3 the
    candidates are (3, 0): 0.16 + 1.44 = 1.6, (2, 1): 0.36 + 0.04 = 0.4, (1, 2): 2.56 + 0.64 = 3.2;
    below the line every point is farther than one of these.  Optimum 0.4 at (2, 1)."""
    m = pyscipopt.Model()
    x = m.addVar(vtype="I", lb=0, ub=5, name="x")
    y = m.addVar(vtype="I", lb=0, ub=5, name="y")
    t = m.addVar(lb=0.0, name="t")  # epigraph of the quadratic objective
    m.addCons((x - 2.6) * (x - 2.6) + (y - 1.2) * (y - 1.2) <= t)
    m.addCons(x + y <= 3)
    if extra is not None:
        extra(m, x, y)
    m.setObjective(t)
    return m


def _cvp(n=8, seed=0):
    """Integer least squares ``min ||b - A x||^2`` over ``x`` in ``{-20..20}^n`` (a closest-vector
    problem): root bound 0, 47 nodes to prove optimality at n = 8 (570 at n = 12)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    b = 5.0 * rng.normal(size=n)
    m = pyscipopt.Model()
    x = [m.addVar(vtype="I", lb=-20, ub=20, name=f"x{i}") for i in range(n)]
    e = [m.addVar(lb=None, ub=None, name=f"e{i}") for i in range(n)]
    for i in range(n):
        m.addCons(e[i] == float(b[i]) - pyscipopt.quicksum(float(A[i, j]) * x[j] for j in range(n)))
    t = m.addVar(lb=0.0, name="t")
    m.addCons(pyscipopt.quicksum(v * v for v in e) <= t)
    m.setObjective(t)
    return m


def _instance(seed, outside=False):
    """A V problem from test_vsearch.py's generator, at 10 donors and 12 periods."""
    from .test_vsearch import _instance as make
    return make(seed, J=10, T=12, outside=outside)


def test_tiny_miqp_is_solved_to_its_known_optimum():
    res = solve_mip(_tiny())
    assert isinstance(res, MIPResult)
    assert res.status == "optimal" and res.stopped_by == "optimal" and res.proven
    assert res.objective == pytest.approx(0.4, abs=1e-6)
    assert res.bound <= res.objective + 1e-12 and res.bound == pytest.approx(0.4, abs=1e-6)
    assert 0.0 <= res.gap <= 1e-6
    assert round(res.solution["x"]) == 2 and round(res.solution["y"]) == 1
    assert res.nodes >= 1 and res.seconds >= 0


def test_a_builder_callback_is_accepted():
    res = solve_mip(lambda: _tiny())
    assert res.stopped_by == "optimal" and res.objective == pytest.approx(0.4, abs=1e-6)


def test_infeasible_model():
    res = solve_mip(_tiny(lambda m, x, y: m.addCons(x + y >= 4)))
    assert res.status == "infeasible" and res.stopped_by == "infeasible" and res.proven
    assert res.bound == math.inf and res.objective == math.inf and res.solution is None


def test_stop_at_a_target_below_the_optimum_proves_it():
    """Nothing is below 0.3: the search stops with a bound of at least 0.3 and says why.  The bound
    stays a valid one (at most the optimum 0.4): "nothing below the limit" is not "infeasible"."""
    res = solve_mip(_tiny(), stop_at=0.3)
    assert res.stopped_by in ("objective_limit", "interrupted") and res.proven
    assert 0.3 <= res.bound <= 0.4 + 1e-9
    assert res.objective == math.inf or res.objective >= 0.3


def test_stop_at_a_target_above_the_optimum_finds_it():
    res = solve_mip(_tiny(), stop_at=0.5)
    assert res.stopped_by == "optimal" and res.objective == pytest.approx(0.4, abs=1e-6)


def test_node_limit_is_reported_and_the_bound_stays_valid():
    full = solve_mip(_cvp())
    assert full.stopped_by == "optimal" and full.nodes > 5
    res = solve_mip(_cvp(), node_limit=5)
    assert res.stopped_by == "node_limit" and res.status in ("nodelimit", "totalnodelimit")
    assert not res.proven
    assert res.nodes <= 5
    assert math.isfinite(res.bound) and res.bound <= res.objective
    assert res.bound <= full.objective + 1e-9 * max(1.0, abs(full.objective))  # still a valid bound
    assert res.gap > 0


def test_gap_limit_is_reported():
    res = solve_mip(_cvp(), gap=0.5)
    assert res.stopped_by in ("gap_limit", "optimal") and res.proven
    assert res.gap <= 0.5 + 1e-12
    if res.stopped_by == "gap_limit":
        assert res.status == "gaplimit"


def test_a_user_time_cap_is_reported_as_time_limit():
    """A microsecond cap on a problem that needs 47 nodes: the wall clock stops it, and the
    result says so (the one machine-dependent outcome)."""
    res = solve_mip(_cvp(), time_limit=1e-6)
    assert res.stopped_by == "time_limit" and res.status == "timelimit" and not res.proven
    assert res.bound <= res.objective


def test_no_wall_clock_limit_unless_asked():
    m = _cvp(4)
    solve_mip(m)
    assert m.getParam("limits/time") >= 1e20
    assert m.getParam("limits/nodes") == DEFAULT_NODE_LIMIT
    assert m.getParam("limits/gap") == mip.DEFAULT_GAP


def test_solves_are_deterministic():
    """Same model, same limits: identical results (``seconds`` is not compared), also when a node
    limit stops the search."""
    for kw in ({}, {"node_limit": 20}):
        a, b = solve_mip(_cvp(), **kw), solve_mip(_cvp(), **kw)
        assert a == b
        assert dict(a.solution) == dict(b.solution)
    X1, X0, Z1, Z0 = _instance(4)
    r1, w1, c1 = global_bound.nondegenerate_bound(X1, X0, Z1, Z0)
    r2, w2, c2 = global_bound.nondegenerate_bound(X1, X0, Z1, Z0)
    assert r1 == r2 and r1.stopped_by == "optimal"
    assert np.array_equal(w1, w2) and np.array_equal(c1, c2)


class _FailingModel(pyscipopt.Model):
    def optimize(self):
        raise Exception("SCIP: error in LP solver!")


def test_a_scip_exception_becomes_a_solver_error():
    m = _FailingModel()
    x = m.addVar(vtype="I", lb=0, ub=3, name="x")
    m.setObjective(x)
    with pytest.raises(SolverError, match=r"^SCIP failed while solving: Exception: SCIP: error in LP solver!$"):
        solve_mip(m)


def test_a_failing_builder_becomes_a_solver_error():
    def build():
        raise Exception("SCIP: error in input data!")

    with pytest.raises(SolverError, match="SCIP failed while building the model: .*error in input data"):
        solve_mip(build)


def test_the_global_bound_reports_a_scip_failure_without_crashing(monkeypatch):
    """SCIP's failure inside the global bound: SolverError from the boundary, caught by
    global_lower_bound, "unavailable" with the solver's message, stopped_by "error"."""
    monkeypatch.setattr(pyscipopt, "Model", _FailingModel)
    X1, X0, Z1, Z0 = _instance(9, outside=True)
    with pytest.raises(SolverError, match="SCIP failed while solving"):
        global_bound.nondegenerate_bound(X1, X0, Z1, Z0)
    gb = global_bound.global_lower_bound(X1, X0, Z1, Z0)
    assert gb.status == "unavailable: SCIP failed while solving: Exception: SCIP: error in LP solver!"
    assert gb.stopped_by == "error" and math.isnan(gb.lower)


def test_limits_reach_the_global_bound_and_the_fit():
    X1, X0, Z1, Z0 = _instance(9, outside=True)
    full = global_bound.global_lower_bound(X1, X0, Z1, Z0)
    assert full.stopped_by == "optimal" and full.status == "optimal"
    capped = global_bound.global_lower_bound(X1, X0, Z1, Z0, node_limit=1)
    assert capped.stopped_by == "node_limit"
    assert capped.nondegenerate_lower <= full.nondegenerate_lower  # weaker, still valid
    assert capped.lower <= full.lower
    timed = global_bound.global_lower_bound(X1, X0, Z1, Z0, time_limit=1e-6)
    assert timed.stopped_by == "time_limit"
    fit = solve_bilevel(X1, X0, Z1, Z0, time_limit=1e-6)
    assert fit.global_bound_stopped_by == "time_limit" == fit.global_bound.stopped_by
    fit = solve_bilevel(X1, X0, Z1, Z0)
    assert fit.global_bound_stopped_by in STOPPED_BY and fit.global_bound_stopped_by != "time_limit"
    # with an incumbent: proven that nothing beats it, said in the usual words
    stopped = global_bound.global_lower_bound(X1, X0, Z1, Z0, incumbent=1.01 * full.nondegenerate_lower)
    assert stopped.stopped_by == "optimal" and stopped.w is not None  # the MIQP's point beats it
    stopped = global_bound.global_lower_bound(X1, X0, Z1, Z0, incumbent=0.99 * full.nondegenerate_lower)
    assert stopped.stopped_by in ("objective_limit", "interrupted")
    assert stopped.status == global_bound.STOPPED_AT_INCUMBENT
    assert stopped.nondegenerate_lower >= 0.99 * full.nondegenerate_lower * (1 - 1e-10)


@pytest.mark.parametrize("kw, match", [
    (dict(node_limit=0), "node_limit"), (dict(node_limit=2.5), "node_limit"),
    (dict(gap=-1.0), "gap"), (dict(time_limit=0), "time_limit"), (dict(time_limit=math.inf), "time_limit"),
    (dict(stop_at=math.nan), "stop_at")])
def test_invalid_limits_are_refused(kw, match):
    with pytest.raises(SpecificationError, match=match):
        solve_mip(_tiny(), **kw)


def test_scip_available_is_re_exported():
    assert global_bound.scip_available is mip.scip_available
    assert mip.scip_available() is True
