"""Cost against the number of donors (issue #16): one outcome-only fit and the full in-space placebo
on seeded factor-model panels, with the growth exponent of each and the peak memory.

Panels: ``Y = F L + noise`` with ``r = 4`` random-walk factors over ``T`` periods, loadings
N(0, 1), noise sd 0.5 (seed 0); unit 0 is treated at period ``T - 10``.  "fit" is
``SyntheticControl().fit(panel)``; "placebo" is ``res.placebo()`` (every donor in turn as the
target, the others as its donors: N - 1 refits on one shared Gram matrix).  Times are medians of
repeats (fit: 5 up to N = 500, 3 above; placebo: ``--placebo-repeats``, default 3 up to N = 200 and
1 above), each call after one warm-up.  The exponent is the slope of log time on log N over the
sizes run.

Peak memory, two measures per N:

* ``fit peak`` / ``placebo peak``: the peak of memory allocated *during* one call, traced by
  ``tracemalloc`` (Python objects and numpy arrays; not BLAS/LAPACK internal buffers).  Measured in a
  separate, untimed call, so tracing never slows the timed ones.
* ``peak RSS``: the process's resident high-water mark (``ru_maxrss``) after that N: monotone over
  the run, it includes the interpreter, numpy/scipy/pandas and everything built before.

    python benchmarks/bench_scaling.py                 # N = 50 .. 1000, T = 100
    python benchmarks/bench_scaling.py --sizes 50 100 200 --T 20
    python benchmarks/bench_scaling.py --json scaling.json
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import statistics
import sys
import time
import tracemalloc
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


def timed(f, repeats, setup=None):
    """One warm-up call, then the median of ``repeats`` timed calls (``setup`` untimed before each)."""
    if setup:
        setup()
    out = f()
    ts = []
    for _ in range(repeats):
        if setup:
            setup()
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), ts, out


def traced_peak(f, setup=None):
    """Peak bytes allocated during one call of ``f`` (tracemalloc), above what was live before it."""
    if setup:
        setup()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(peak - base, 0)


def slope(ns, ts):
    x, y = np.log(np.asarray(ns, float)), np.log(np.asarray(ts, float))
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 500, 1000])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--no-placebo-above", type=int, default=1000,
                    help="skip the placebo for N above this (default 1000)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed fit repeats (default 5 up to N = 500, 3 above)")
    ap.add_argument("--placebo-repeats", type=int, default=None,
                    help="timed placebo repeats (default 3 up to N = 200, 1 above)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc peak-memory calls")
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    print(f"Scaling: factor-model panels, T = {args.T}, treated unit 0 from period {args.T - 10}; "
          f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"{'N':>6} {'panel build':>12} {'one fit':>10} {'placebo':>10} {'per refit':>10} {'uncertified':>11}"
          f" {'fit peak':>9} {'plac. peak':>10} {'peak RSS':>9}")
    rows = []
    for N in args.sizes:
        df = factor_panel(N, args.T)
        tb, _, panel = timed(lambda: sc.Panel(df, unit="unit", time="t", outcome="y", treated=0,
                                              treatment_time=args.T - 10), 3)
        nf = args.repeats if args.repeats is not None else (5 if N <= 500 else 3)
        tf, tfs, res = timed(lambda: sc.SyntheticControl().fit(panel), max(1, nf))
        memf = None if args.no_memory else traced_peak(lambda: sc.SyntheticControl().fit(panel))
        tp, tps, n_bad, memp = np.nan, [], None, None
        clear = (lambda: res._memo.clear()) if hasattr(res, "_memo") else None
        if N <= args.no_placebo_above:
            npl = args.placebo_repeats if args.placebo_repeats is not None else (3 if N <= 200 else 1)
            tp, tps, inf = timed(lambda: res.placebo(), max(1, npl), setup=clear)
            n_bad = int(inf.details.get("n_uncertified", 0))
            if not args.no_memory:
                memp = traced_peak(lambda: res.placebo(), setup=clear)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
        rows.append({"N": N, "T": args.T, "panel_build_s": tb, "fit_s": tf, "fit_times_s": tfs,
                     "placebo_s": None if not np.isfinite(tp) else tp, "placebo_times_s": tps,
                     "per_refit_s": None if not np.isfinite(tp) else tp / (N - 1), "n_uncertified": n_bad,
                     "fit_peak_bytes": memf, "placebo_peak_bytes": memp, "peak_rss_mib": rss})
        mib = (lambda b: "-" if b is None else f"{b / 2**20:.1f}MiB")
        print(f"{N:>6} {1e3 * tb:>10.2f}ms {1e3 * tf:>8.2f}ms {tp:>9.3f}s {1e3 * tp / (N - 1):>8.2f}ms "
              f"{'' if n_bad is None else n_bad:>11} {mib(memf):>9} {mib(memp):>10} {rss:>7.0f}MiB", flush=True)
    ns = [r["N"] for r in rows]
    exps = {"fit": slope(ns, [r["fit_s"] for r in rows]) if len(rows) >= 2 else None}
    print(f"growth exponent (log time on log N): fit {exps['fit']:.2f}" if exps["fit"] is not None
          else "growth exponent: needs 2 sizes", end="")
    ok = [r for r in rows if r["placebo_s"] is not None]
    if len(ok) >= 2:
        exps["placebo"] = slope([r["N"] for r in ok], [r["placebo_s"] for r in ok])
        exps["per_refit"] = slope([r["N"] for r in ok], [r["per_refit_s"] for r in ok])
        print(f", placebo {exps['placebo']:.2f} (per refit {exps['per_refit']:.2f})", end="")
    okm = [r for r in ok if r["placebo_peak_bytes"]]
    if len(okm) >= 2:
        exps["placebo_peak_memory"] = slope([r["N"] for r in okm], [r["placebo_peak_bytes"] for r in okm])
        print(f"; placebo peak memory {exps['placebo_peak_memory']:.2f}", end="")
    print()
    total = time.perf_counter() - t_start
    print(f"Total wall time {total:.1f} s.")
    if args.json:
        out = {"date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "settings": {"sizes": args.sizes, "T": args.T, "no_placebo_above": args.no_placebo_above,
                            "repeats": args.repeats, "placebo_repeats": args.placebo_repeats},
               "numpy": np.__version__, "synthcontrol": sc.__version__,
               "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
               "loadavg_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
               "rows": rows, "growth_exponents": exps, "total_wall_s": total}
        Path(args.json).write_text(json.dumps(out, indent=2, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
