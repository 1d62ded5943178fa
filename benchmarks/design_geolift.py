"""Beyond enumeration (issue #13): GeoLift, 40 markets x 90 days, the first 60 pre, K = 5.

C(40, 5) = 658,008 treated sets.  For each mode we run ``sc.SyntheticDesign(solver="exact")`` under a
time limit (default 120 s) and print what it proved: the objective of its best set, the certified
lower bound, the gap, the number of sets solved exactly and whether the search finished (a proof).
Then the same two-way programme through SCIP (our centred, scaled MIP, ``gap_limit=0``) for
``--scip-seconds`` (default 600 s), with its incumbent, bound and gap.

Run: ``python benchmarks/design_geolift.py [--time-limit 120] [--scip-seconds 600] [--modes ...]``.
One BLAS thread, one process (set ``--n-jobs`` to use more workers in the exact search).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import synthcontrol as sc  # noqa: E402


def panel(T0=60):
    d = sc.datasets.load("geolift")
    dates = np.sort(d.date.unique())
    d = d[d.date.isin(dates[:90])].copy()
    return d, dates[T0 - 1]


def gap(obj, bound):
    return 100 * (obj - bound) / obj if obj > 0 else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--scip-seconds", type=float, default=600.0, help="0 skips SCIP")
    ap.add_argument("--modes", default="two_way_global,one_way_global,per_unit")
    ap.add_argument("--K", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--lam", type=float, default=None, help="default: the mean pre-period variance")
    args = ap.parse_args(argv)
    d, last_pre = panel()
    d["post"] = d.date > last_pre
    wide = d.pivot(index="date", columns="location", values="Y")
    Y = wide.to_numpy(float)[:60]
    lam = float(np.mean(Y.var(axis=0, ddof=1))) if args.lam is None else args.lam
    print(f"GeoLift: N = {wide.shape[1]} markets, T = 90 days (60 pre), K = {args.K}, lam = {lam:.6g}")
    best_two_way = None
    for mode in args.modes.split(","):
        t = time.perf_counter()
        des = sc.SyntheticDesign(K=args.K, mode=mode, solver="exact", lam=lam, time_limit=args.time_limit,
                                 n_jobs=args.n_jobs, run_inference=False)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = des.fit(d, unit="location", time="date", outcome="Y", post_col="post")
        el = time.perf_counter() - t
        cert = r.certificate
        print(f"exact {mode}: objective {r.objective:.6g}, bound {r.bound:.6g}, gap {gap(r.objective, r.bound):.3g}%,"
              f" proven {r.proven_optimal}, status {r.status}, sets solved {cert.get('n_solved')},"
              f" pruned {cert.get('n_pruned')}, stopped by {cert.get('stopped_by')}, {el:.1f} s")
        print("   treated:", list(r.treated))
        if mode == "two_way_global":
            best_two_way = r
    if args.scip_seconds > 0 and "two_way_global" in args.modes:
        from synthcontrol.solvers.syndes_mip import solve_design_mip
        t = time.perf_counter()
        m = solve_design_mip(Y, args.K, "two_way_global", lam, gap_limit=0.0, time_limit=args.scip_seconds)
        el = time.perf_counter() - t
        print(f"SCIP two_way_global ({args.scip_seconds:g} s): objective {m.objective:.6g}, bound {m.bound:.6g},"
              f" gap {gap(m.objective, m.bound):.3g}%, status {m.status} ({m.stopped_by}), {el:.1f} s")
        print("   treated:", [wide.columns[i] for i in m.treated])
        if best_two_way is not None:
            ob = min(best_two_way.objective, m.objective)
            bd = max(best_two_way.bound, m.bound)
            print(f"together: objective {ob:.6g}, bound {bd:.6g}, gap {gap(ob, bd):.3g}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
