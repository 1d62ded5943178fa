"""The rollout study at 5,000,000 users (issue #16): the 500-rep user-level cluster bootstrap on
one machine (serial, and 2 local processes) and through Dask on a LocalCluster reading the log from
parquet, with the wall time and the peak memory of each.

The log is ``sc.datasets.make_rollout_logs(seed=1, n_users=5_000_000)`` (one row per user);
the panel is workspaces 0-24 treated at week 20, window weeks 0-29 (the seed tutorial's study).
Peak memory is the resident-set high-water mark (``VmHWM``), reset just before the bootstrap
(``/proc/self/clear_refs``), of this process and, for Dask, of each worker; "log" is the size of
the arrays the bootstrap reads (cell, outcome, user code: 24 bytes a row).

    python benchmarks/bench_bootstrap_5m.py                       # 5,000,000 users, 500 reps
    python benchmarks/bench_bootstrap_5m.py --users 200000 --reps 50
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import numpy as np  # noqa: E402

import synthcontrol as sc  # noqa: E402

KW = dict(unit="workspace_id", time="signup_week", outcome="task_completed", cluster="user_id",
          treated=range(25), treatment_time=20, window=(0, 30))


def _hwm_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _status_mb(field):
    """A ``/proc/self/status`` field (``VmHWM``: peak resident set; ``VmRSS``: now) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def _hwm_mb():
    return _status_mb("VmHWM")


def _rss_mb():
    return _status_mb("VmRSS")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=5_000_000)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--skip-serial", action="store_true")
    a = ap.parse_args(argv)
    from synthcontrol.datasets import make_rollout_logs
    t = time.perf_counter()
    logs = make_rollout_logs(seed=1, n_users=a.users)[["workspace_id", "signup_week", "task_completed", "user_id"]]
    print(f"log: {len(logs):,} rows ({logs.memory_usage(deep=True).sum() / 1e6:.0f} MB as a DataFrame), "
          f"made in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    panel = sc.panel_from_events(logs, **KW)
    res = sc.SyntheticControl().fit(panel)
    print(f"panel + fit: {time.perf_counter() - t:.2f} s; ATT {res.att:+.5f}; bootstrap arrays "
          f"{24 * len(logs) / 1e6:.0f} MB", flush=True)
    rows = []
    runs = [("serial", None)] * (not a.skip_serial) + [("processes", 2)]
    for engine, n in runs:
        _hwm_reset()
        base = _rss_mb()
        t = time.perf_counter()
        with sc.parallel_backend(engine, n_jobs=n):
            b = res.bootstrap(n_boot=a.reps, seed=7, progress=False)
        sec = time.perf_counter() - t
        rows.append((f"one machine, {engine}" + (f" ({n} workers)" if n else ""), sec, base, _hwm_mb(), None, b))
        print(f"  {rows[-1][0]}: {sec:.1f} s", flush=True)
    # Dask: the log written to parquet, read by the cluster
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.parquet"
        logs.to_parquet(path, row_group_size=max(1, len(logs) // 8))
        del logs, panel
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0",
                               silence_logs=40)
        client = Client(cluster)
        try:
            with sc.parallel_backend("dask", client=client):
                t = time.perf_counter()
                remote = sc.panel_from_events(dd.read_parquet(path, split_row_groups=True), **KW)
                rres = sc.SyntheticControl().fit(remote)
                read = time.perf_counter() - t
                client.run(_hwm_reset)
                _hwm_reset()
                base = _rss_mb()
                t = time.perf_counter()
                b = rres.bootstrap(n_boot=a.reps, seed=7, progress=False)
                sec = time.perf_counter() - t
                workers = client.run(_hwm_mb)
            rows.append((f"Dask LocalCluster, 2 workers (parquet read + panel {read:.1f} s)", sec, base, _hwm_mb(),
                         max(workers.values()), b))
        finally:
            client.close()
            cluster.close()
    print()
    print(f"500-rep cluster bootstrap, {a.users:,} users ({a.reps} resamples)")
    print(f"{'engine':<58} {'seconds':>8} {'RSS before':>11} {'peak RSS':>9} {'peak/worker':>12}  95% CI")
    for name, sec, base, peak, wpeak, b in rows:
        wp = f"{wpeak:.0f} MB" if wpeak is not None else "-"
        print(f"{name:<58} {sec:8.1f} {base:8.0f} MB {peak:6.0f} MB {wp:>12}  [{b.ci_lower:+.5f}, {b.ci_upper:+.5f}]")
    d0 = rows[0][5].details["draws"]
    for name, *_, b in rows[1:]:
        print(f"max |draw - {rows[0][0]}| for {name.split(' (')[0]}: {np.max(np.abs(b.details['draws'] - d0)):.2e}")


if __name__ == "__main__":
    main()
