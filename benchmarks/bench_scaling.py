"""Cost against the number of donors (issue #16): one outcome-only fit and the full in-space placebo
on seeded factor-model panels, with the growth exponent of each and the peak memory.

Panels: ``Y = F L + noise`` with ``r = 4`` random-walk factors over ``T`` periods, loadings
N(0, 1), noise sd 0.5 (seed 0); unit 0 is treated at period ``T - 10``.  "fit" is
``SyntheticControl().fit(panel)``; "placebo" is ``res.placebo()`` (every donor in turn as the
target, the others as its donors: N - 1 refits on one shared Gram matrix).  Times are medians of
repeats (fit) or one run (placebo beyond N = 200).  The exponent is the slope of log time on log N
over the sizes run.

    python benchmarks/bench_scaling.py                 # N = 50 .. 1000, T = 100
    python benchmarks/bench_scaling.py --sizes 50 100 200 --T 20
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: one BLAS thread per process
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import synthcontrol as sc  # noqa: E402


def factor_panel(N, T, seed=0, r=4):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, r)).cumsum(axis=0)
    L = rng.normal(size=(r, N))
    Y = F @ L + 0.5 * rng.normal(size=(T, N))
    units = np.repeat(np.arange(N), T)
    times = np.tile(np.arange(T), N)
    return pd.DataFrame({"unit": units, "t": times, "y": Y.T.ravel()})


def timed(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def slope(ns, ts):
    x, y = np.log(np.asarray(ns, float)), np.log(np.asarray(ts, float))
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 500, 1000])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--no-placebo-above", type=int, default=1000,
                    help="skip the placebo for N above this (default 1000)")
    args = ap.parse_args(argv)
    print(f"Scaling: factor-model panels, T = {args.T}, treated unit 0 from period {args.T - 10}; "
          f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"{'N':>6} {'panel build':>12} {'one fit':>10} {'placebo':>10} {'per refit':>10} {'uncertified':>11}"
          f" {'peak RSS':>9}")
    rows = []
    for N in args.sizes:
        df = factor_panel(N, args.T)
        tb, panel = timed(lambda: sc.Panel(df, unit="unit", time="t", outcome="y", treated=0,
                                           treatment_time=args.T - 10), 3)
        tf, res = timed(lambda: sc.SyntheticControl().fit(panel), 5 if N <= 500 else 3)
        tp = np.nan
        n_bad = ""
        if N <= args.no_placebo_above:
            tp, inf = timed(lambda: res.placebo(), 1)
            n_bad = str(inf.details.get("n_uncertified", 0))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
        rows.append((N, tb, tf, tp))
        print(f"{N:>6} {1e3 * tb:>10.2f}ms {1e3 * tf:>8.2f}ms {tp:>9.2f}s {1e3 * tp / (N - 1):>8.2f}ms "
              f"{n_bad:>11} {rss:>7.0f}MiB")
    ns = [r[0] for r in rows]
    print(f"growth exponent (log time on log N): fit {slope(ns, [r[2] for r in rows]):.2f}", end="")
    ok = [r for r in rows if np.isfinite(r[3])]
    if len(ok) >= 2:
        print(f", placebo {slope([r[0] for r in ok], [r[3] for r in ok]):.2f}", end="")
    print()


if __name__ == "__main__":
    main()
