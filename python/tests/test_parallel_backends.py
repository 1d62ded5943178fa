"""Results are the same on every engine: serial, local processes, and a Dask cluster (issue #16).

A ``LocalCluster`` on loopback (2 worker processes, one thread each) runs the refit loops of the
placebo test (outcome-only and covariate), the leave-two-out test, the cluster bootstrap, the SCPI
simulation and the exact design search; each answer must equal the serial one exactly
(``assert_array_equal``: the engines run the same pure functions on the same inputs).  The
progress option and the block's errors are checked too.
"""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol import parallel

distributed = pytest.importorskip("distributed", reason="dask.distributed is in the test extras")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    # rpy2, loaded when the cross-language tests are collected, points LD_LIBRARY_PATH at R's and the
    # system's libraries; a worker spawned with it loads the system's libssl into this Python and
    # fails to import ssl.  The workers start with the environment the suite started with.
    saved = os.environ.pop("LD_LIBRARY_PATH", None)
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0", silence_logs=40)
    finally:
        if saved is not None:
            os.environ["LD_LIBRARY_PATH"] = saved
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def smoking():
    return sc.datasets.load("prop99")


@pytest.fixture(scope="module")
def p99(smoking):
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    return sc.SyntheticControl().fit(p)


def _each_engine(run, client):
    """``run()`` serially, in 2 local processes and on the Dask cluster."""
    with parallel.parallel_backend("serial"):
        a = run()
    with sc.parallel_backend("processes", n_jobs=2):
        b = run()
    with sc.parallel_backend("dask", client=client):
        c = run()
    return a, b, c


def _fresh(res):
    res._memo.clear()
    return res


def test_outcome_placebo_is_the_same_on_every_engine(p99, client):
    outs = _each_engine(lambda: _fresh(p99).placebo(donor_pool="all"), client)
    for o in outs[1:]:
        assert o.p_value == outs[0].p_value
        np.testing.assert_array_equal(o.details["table"]["rmspe_ratio"], outs[0].details["table"]["rmspe_ratio"])
        assert o.details["n_uncertified_fits"] == outs[0].details["n_uncertified_fits"] == 0


def test_placebo_blocks_on_a_wider_panel_are_the_same_on_every_engine(client):
    """150 units: three blocks of placebo targets, run in different workers."""
    rng = np.random.default_rng(4)
    T, N = 30, 150
    Y = rng.normal(size=(T, 3)).cumsum(axis=0) @ rng.normal(size=(3, N)) + 0.3 * rng.normal(size=(T, N))
    import pandas as pd
    df = pd.DataFrame({"u": np.repeat(np.arange(N), T), "t": np.tile(np.arange(T), N), "y": Y.T.ravel()})
    res = sc.SyntheticControl().fit(sc.Panel(df, unit="u", time="t", outcome="y", treated=0, treatment_time=25))
    outs = _each_engine(lambda: _fresh(res).placebo(), client)
    for o in outs[1:]:
        np.testing.assert_array_equal(o.details["gaps"].to_numpy(), outs[0].details["gaps"].to_numpy())
        np.testing.assert_array_equal(o.details["table"]["kkt_violation"], outs[0].details["table"]["kkt_violation"])


def test_covariate_placebo_is_the_same_on_every_engine(smoking, client):
    keep = ["California", "Utah", "Montana", "Nevada", "Connecticut", "Colorado", "Idaho", "Ohio"]
    small = smoking[smoking.state.isin(keep)].reset_index(drop=True)
    p = sc.Panel(small, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    res = sc.SyntheticControl(covariates=["lnincome", "retprice"], outcome_lags=[1975, 1988]).fit(p)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)  # one of the 7 V searches is uncertified, as serially
        outs = _each_engine(lambda: _fresh(res).placebo(statistic="mean_gap"), client)
    for o in outs[1:]:
        assert o.p_value == outs[0].p_value
        np.testing.assert_array_equal(o.details["table"]["att"], outs[0].details["table"]["att"])
        assert o.details["n_uncertified_fits"] == outs[0].details["n_uncertified_fits"]


def test_leave_two_out_is_the_same_on_every_engine(p99, client):
    outs = _each_engine(lambda: p99.lto(max_pairs=120, seed=5), client)
    for o in outs[1:]:
        assert o.p_value == outs[0].p_value
        np.testing.assert_array_equal(o.details["table"][["ratio_treated", "ratio_i", "ratio_j"]].to_numpy(),
                                      outs[0].details["table"][["ratio_treated", "ratio_i", "ratio_j"]].to_numpy())
        # the refits made are counted once, whichever worker made them
        assert o.details["n_fits"] == outs[0].details["n_fits"]
        assert o.details["max_kkt_violation"] == outs[0].details["max_kkt_violation"]


def test_cluster_bootstrap_is_the_same_on_every_engine(rollout_logs, client):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    res = sc.SyntheticControl().fit(p)
    a, b, c = _each_engine(lambda: res.bootstrap(n_boot=24, seed=3), client)
    np.testing.assert_array_equal(a.details["draws"], b.details["draws"])
    np.testing.assert_array_equal(a.details["draws"], c.details["draws"])
    # the draws are the one seeded stream's: resample r is rng.integers(0, n, n) after r - 1 others
    rng = np.random.default_rng(3)
    src = p.events
    for r in range(3):
        draws = rng.integers(0, src.n_clusters, size=src.n_clusters)
        M, _ = src.matrix(src.rows_for(draws))
        tr = p.units.get_indexer(list(p.treated_units))
        dn = p.units.get_indexer(list(p.donors))
        from synthcontrol.inference.bootstrap import _att_from_matrix
        att, _ = _att_from_matrix(M, tr, dn, res.fit_mask, p.post)
        assert a.details["draws"][r] == pytest.approx(att, rel=1e-12, abs=1e-14)


def test_scpi_simulation_is_the_same_on_every_engine(p99, client):
    a, b, c = _each_engine(lambda: p99.scpi(sims=60, seed=2, solver="conic"), client)
    for o in (b, c):
        assert (o.ci_lower, o.ci_upper) == (a.ci_lower, a.ci_upper)
        np.testing.assert_array_equal(o.details["table"].to_numpy(), a.details["table"].to_numpy())


def test_exact_design_search_is_the_same_on_every_engine(client):
    from synthcontrol.solvers.syndes import DesignProblem, enumerate_designs
    rng = np.random.default_rng(30)
    F = rng.normal(size=(16, 2)).cumsum(axis=0)
    Y = 10 + rng.uniform(-1, 1, 14) + F @ rng.uniform(0.3, 1.0, (14, 2)).T + 0.3 * rng.normal(size=(16, 14))
    a, b, c = _each_engine(lambda: enumerate_designs(DesignProblem(Y, "two_way_global", 0.1), 4), client)
    for o in (b, c):
        assert o.proven_optimal and o.best.treated == a.best.treated
        assert o.best.objective == a.best.objective


def test_pmap_engines_and_worker_errors(client):
    items = list(range(11))
    with sc.parallel_backend("dask", client=client):
        assert parallel.pmap(_square, items) == [x * x for x in items]
        pids = set(parallel.pmap(_pid, items, chunk_size=1))
        with pytest.raises(ZeroDivisionError):
            parallel.pmap(_inverse, [1, 0, 2])
    assert os.getpid() not in pids
    with sc.parallel_backend("serial"):  # the block wins over n_jobs
        assert set(parallel.pmap(_pid, items, n_jobs=2)) == {os.getpid()}
    with sc.parallel_backend("processes", n_jobs=2):
        assert parallel.plan(1).workers == 2 and parallel.plan(1).engine == "processes"
        with sc.parallel_backend("serial"):  # nested: the innermost wins
            assert parallel.plan(8).engine == "serial"
    assert parallel.current_backend() is None and parallel.plan(1).engine == "serial"


def test_backend_block_errors():
    with pytest.raises(sc.SpecificationError, match="engine must be one of"):
        with sc.parallel_backend("threads"):
            pass
    with pytest.raises(sc.SpecificationError, match="client= is for engine='dask'"):
        with sc.parallel_backend("processes", client=object()):
            pass
    with pytest.raises(sc.SpecificationError, match="must be a distributed.Client"):
        with sc.parallel_backend("dask", client="tcp://nowhere:8786"):
            pass
    with pytest.raises(sc.SpecificationError, match="n_jobs"):
        with sc.parallel_backend("processes", n_jobs=0):
            pass
    for engine in ("serial", "dask"):  # n_jobs would be ignored there: an error, not a silent drop
        with pytest.raises(sc.SpecificationError, match="n_jobs is for engine='processes'"):
            with sc.parallel_backend(engine, n_jobs=2):
                pass
    with pytest.raises(sc.SpecificationError, match="progress must be"):
        with sc.parallel_backend("serial", progress="yes"):
            pass


def test_progress_callable_bar_and_line_fallback(p99, monkeypatch):
    seen = []
    _fresh(p99).placebo(progress=seen.append)  # every registered method takes progress=
    assert seen[-1] == 38 and seen == sorted(seen)
    # off a terminal, progress=True writes one line per tenth of the work
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    parallel.pmap(_square, range(20), progress=True, desc="squares")
    lines = err.getvalue().strip().splitlines()
    assert 2 <= len(lines) <= 11 and lines[-1].startswith("squares: 20/20 (100%)")
    # None: quiet for calls under 2 s; False: nothing
    err.truncate(0)
    err.seek(0)
    parallel.pmap(_square, range(20))
    parallel.pmap(_square, range(20), progress=False)
    assert err.getvalue() == ""
    monkeypatch.setenv("SYNTHCONTROL_PROGRESS", "1")  # the environment's default
    parallel.pmap(_square, range(5))
    assert "synthcontrol: 5/5" in err.getvalue()
    import inspect
    assert "progress" in inspect.signature(sc.SCResult.lto).parameters


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def _inverse(x):
    return 1 / x


def test_a_log_on_the_cluster_gives_the_local_panel_and_bootstrap(rollout_logs, client, tmp_path):
    """``panel_from_events`` of a Dask DataFrame read from parquet: the same panel as the pandas
    log, and the same resamples (the users are coded in the same order of first appearance); the
    partitions' sums are added in another order than one pass over the log, hence rel 1e-12."""
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("pyarrow")
    kw = dict(unit="workspace_id", time="signup_week", outcome="task_completed", cluster="user_id",
              treated=range(25), treatment_time=20, window=(0, 30))
    local = sc.panel_from_events(rollout_logs, **kw)
    rollout_logs.to_parquet(tmp_path / "log.parquet", row_group_size=10_000)
    log = dd.read_parquet(tmp_path / "log.parquet", split_row_groups=True)
    assert log.npartitions > 1
    with sc.parallel_backend("dask", client=client):
        remote = sc.panel_from_events(log, **kw)
    assert remote.events.n_clusters == local.events.n_clusters
    np.testing.assert_allclose(remote.Y, local.Y, rtol=1e-13, atol=0)
    assert list(remote.units) == list(local.units) and list(remote.times) == list(local.times)
    a = sc.SyntheticControl().fit(local).bootstrap(n_boot=12, seed=3)
    b = sc.SyntheticControl().fit(remote).bootstrap(n_boot=12, seed=3)
    np.testing.assert_allclose(b.details["draws"], a.details["draws"], rtol=1e-10, atol=1e-13)
    with pytest.raises(sc.DataError, match="not found in events"):
        sc.panel_from_events(log, unit="workspace", time="signup_week", outcome="task_completed")


def test_conformal_intervals_are_the_same_on_every_engine(p99, client):
    a, b, c = _each_engine(lambda: p99.conformal(alpha=0.1, grid_size=20), client)
    for o in (b, c):
        assert o.p_value == a.p_value
        np.testing.assert_array_equal(o.details["table"].to_numpy(), a.details["table"].to_numpy())
        assert o.details["n_fits"] == a.details["n_fits"]
