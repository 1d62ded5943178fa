#!/usr/bin/env python
"""Synthetic experimental design (SYNDES) on Walmart: our exact search vs SCIP vs mlsynth's SYNDES.

Data: ``sc.datasets.load("walmart")`` (45 stores x 143 weeks, weekly sales in dollars); the design
uses the first 128 weeks (``T0=128``; the other 15 weeks are the post-period that the fit's ATT,
permutation test and power curve use), K = 3 treated stores, lam = 0: C(45, 3) = 14,190 treated sets.

For each mode (``two_way_global``, ``one_way_global``, ``per_unit``):

* E, ours exact: ``SyntheticDesign(K=3, mode=m, lam=0, solver="exact").fit(df, unit="store",
  time="week", outcome="sales", T0=128)``; median wall time of the timed calls after one warm-up
  call (a call over 5 s is timed once, the first call), with its certificate: proven_optimal, objective,
  bound, sets solved / total (``certificate["n_solved"] / ["n_sets"]``), and the search's own seconds.
* S, SCIP on our formulation: ``synthcontrol.solvers.syndes_mip.solve_design_mip(Y_pre, 3, m, 0.0,
  gap_limit=0.05, time_limit=60)`` (centred, scaled data; its default warm start, the best of a few
  cheap candidate sets), one call: status, objective of its incumbent, bound, gap, time to its first
  incumbent.
* M, mlsynth (if it can be installed: a separate virtualenv, default /tmp/mlsynth-venv, with
  mlsynth from PyPI and PySCIPOpt, the SCIP interface its default solver needs; it cannot go into
  .venv): a child process imports mlsynth, then times one call of
  ``SYNDES({"df": df, "outcome": "sales", "unitid": "store", "time": "week", "K": 3, "mode": m,
  "lam": 0.0, "T0": 128, "gap_limit": 0.05, "time_limit": 60, "display_graph": False}).fit()``
  (its defaults: SCIP through CVXPY, gap_limit 0.05, time_limit 60; on unscaled data) and reports
  what it returns (status, treated set, its objective) or its error.  The objective of mlsynth's
  set is recomputed by our exact inner solver so that the three columns compare like with like.

Ratios: the SCIP and mlsynth wall times over ours.  Every import is outside the timers.

    python benchmarks/bench_design.py [--modes two_way_global,one_way_global,per_unit]
                                      [--repeats 3] [--no-scip] [--no-mlsynth]
                                      [--mlsynth-python /tmp/mlsynth-venv/bin/python] [--json PATH]

BLAS threads default to 1 (the child process inherits the setting).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import pin_blas  # noqa: E402

pin_blas()

import numpy as np  # noqa: E402

MODES = ("two_way_global", "one_way_global", "per_unit")
K, T0, LAM = 3, 128, 0.0
GAP_LIMIT, TIME_LIMIT = 0.05, 60.0

CHILD = r'''
import json, sys, time, warnings
t = time.perf_counter()
import numpy as np, pandas as pd
import mlsynth
from mlsynth import SYNDES
import_s = time.perf_counter() - t
df = pd.read_csv(sys.argv[1])
modes = sys.argv[2].split(",")
K, T0, lam, gap, tl = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
out = {"version": getattr(mlsynth, "__version__", "?"), "import_seconds": import_s, "modes": {}}
for m in modes:
    cfg = {"df": df, "outcome": "sales", "unitid": "store", "time": "week", "K": K, "mode": m, "lam": lam,
           "T0": T0, "gap_limit": gap, "time_limit": tl, "display_graph": False}
    rec = {}
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = SYNDES(cfg).fit()
        rec["seconds"] = time.perf_counter() - t
        d = res.design
        rec["status"] = str((d.raw_results or {}).get("status"))
        rec["treated"] = [int(x) for x in np.asarray(d.selected_unit_labels).tolist()]
        rec["objective"] = float(d.objective_value)
    except Exception as exc:
        rec["seconds"] = time.perf_counter() - t
        rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    out["modes"][m] = rec
    print(json.dumps({"mode": m, **rec}), file=sys.stderr, flush=True)
print(json.dumps(out))
'''


def load():
    import synthcontrol as sc
    df = sc.datasets.load("walmart")
    wide = df.pivot(index="week", columns="store", values="sales").sort_index()
    return df, wide


def time_ours(df, mode, repeats, budget=30.0, long_call=5.0):
    """One warm-up call, then up to ``repeats`` timed calls within ``budget`` seconds; a call longer
    than ``long_call`` seconds is timed once (the warm-up is the timing: nothing to warm up at
    that scale, and the machine is shared)."""
    import synthcontrol as sc
    d = sc.SyntheticDesign(K=K, mode=mode, lam=LAM, solver="exact", time_limit=600)
    call = lambda: d.fit(df, unit="store", time="week", outcome="sales", T0=T0)  # noqa: E731
    t = time.perf_counter()
    res = call()
    first = time.perf_counter() - t
    if first > long_call:
        return res, first, [first]
    times = []
    spent = first
    for _ in range(repeats):
        if times and spent + first > budget:
            break
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
        spent += times[-1]
    return res, first, times


def run_scip(Ypre, mode):
    from synthcontrol.solvers.syndes_mip import solve_design_mip
    t = time.perf_counter()
    r = solve_design_mip(Ypre, K, mode, LAM, gap_limit=GAP_LIMIT, time_limit=TIME_LIMIT)
    return r, time.perf_counter() - t


def run_mlsynth(python, df, modes):
    if not os.path.exists(python):
        return {"error": f"no interpreter at {python} (python3 -m venv /tmp/mlsynth-venv && "
                         f"/tmp/mlsynth-venv/bin/pip install mlsynth pyscipopt)"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "walmart.csv")
        df.to_csv(path, index=False)
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as fh:
            fh.write(CHILD)
        p = subprocess.run([python, script, path, ",".join(modes), str(K), str(T0), str(LAM), str(GAP_LIMIT),
                            str(TIME_LIMIT)], capture_output=True, text=True, timeout=3600)
    if p.returncode != 0 or not p.stdout.strip():
        return {"error": f"child exited {p.returncode}: {p.stderr.strip()[-600:]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_s(x):
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def ratio(secs, base, rec):
    """``secs / base``, marked when the contender did not finish its job: '>=' when a time limit
    stopped it (the time to its answer's proof is longer), 'failed' when it returned nothing."""
    if "error" in rec:
        return "failed"
    r = f"{secs / base:.1f}x"
    if rec.get("stopped_by") == "time_limit" or str(rec.get("status", "")).endswith("inaccurate"):
        r = ">= " + r + " (time limit)"
    return r


def table(rows, ml, modes):
    lines = ["| mode | contender | wall time | vs ours | treated stores | objective | bound | gap | certificate / status |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    for m in modes:
        o = rows[m]["ours"]
        base = o["median"]
        lines.append(f"| `{m}` | ours exact | {fmt_s(base)} (n={o['n']}) | 1.00x | {o['treated']} | {o['objective']:.6g} | "
                     f"{o['bound']:.6g} | {100 * max(o['objective'] - o['bound'], 0) / abs(o['objective']):.2g}% | "
                     f"{'proven optimal' if o['proven'] else o['status']}; {o['n_solved']:,} of {o['n_sets']:,} sets solved "
                     f"({o['n_pruned']:,} pruned by bound), search {fmt_s(o['search_seconds'])} |")
        s = rows[m].get("scip")
        if s is not None:
            if "error" in s:
                lines.append(f"| `{m}` | SCIP, our formulation | - | - | - | - | - | - | {s['error']} |")
            else:
                same = "same set" if sorted(s["treated"]) == sorted(o["treated"]) else "DIFFERENT set"
                lines.append(f"| `{m}` | SCIP, our formulation (gap 5%, 60 s) | {fmt_s(s['seconds'])} | "
                             f"{ratio(s['seconds'], base, s)} | {s['treated']} | {s['objective']:.6g} | {s['bound']:.6g} | "
                             f"{100 * s['gap']:.3g}% | {s['status']} ({s['stopped_by']}), {s['nodes']} nodes, first incumbent "
                             f"{fmt_s(s['first_incumbent'])}; {same} |")
        ml_m = rows[m].get("mlsynth")
        if ml_m is not None:
            name = f"mlsynth {ml.get('version', '?')} SYNDES (SCIP via CVXPY) [subprocess]"
            if "error" in ml_m:
                lines.append(f"| `{m}` | {name} | {fmt_s(ml_m['seconds'])} | {ratio(ml_m['seconds'], base, ml_m)} | - | - | - | - | "
                             f"fails: {ml_m['error'][:160]} |")
            else:
                same = "same set" if sorted(ml_m["treated"]) == sorted(o["treated"]) else "DIFFERENT set"
                ex = ml_m.get("objective_exact", math.nan)
                lines.append(f"| `{m}` | {name} | {fmt_s(ml_m['seconds'])} | {ratio(ml_m['seconds'], base, ml_m)} | "
                             f"{ml_m['treated']} | {ex:.6g} ({ex / o['objective']:.2f}x ours; its own number {ml_m['objective']:.6g}) | "
                             f"- | - | status {ml_m['status']}; {same} |")
    if ml is not None and "error" in ml:
        lines.append(f"\nmlsynth: {ml['error']}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-scip", action="store_true")
    ap.add_argument("--no-mlsynth", action="store_true")
    ap.add_argument("--mlsynth-python", default=os.environ.get("MLSYNTH_PYTHON", "/tmp/mlsynth-venv/bin/python"))
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    ap.add_argument("--table-from", default=None, help="print the table of a JSON file written by --json; no run")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if args.table_from:
        with open(args.table_from) as fh:
            saved = json.load(fh)
        print(table(saved["rows"], saved["mlsynth"], [m for m in modes if m in saved["rows"]]))
        return
    from synthcontrol.solvers.syndes import DesignProblem

    df, wide = load()
    units = list(wide.columns)
    Ypre = wide.to_numpy(float)[:T0]
    print(f"Walmart: {wide.shape[1]} stores x {wide.shape[0]} weeks, T0 = {T0}, K = {K}, lam = {LAM}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)

    rows = {}
    for m in modes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res, first, times = time_ours(df, m, args.repeats)
        c = res.certificate
        rows[m] = {"ours": dict(median=float(np.median(times)) if times else first, n=len(times), first=first,
                                treated=[int(u) for u in res.treated], objective=res.objective, bound=res.bound,
                                proven=bool(res.proven_optimal), status=res.status, n_solved=c.get("n_solved"),
                                n_sets=c.get("n_sets"), n_pruned=c.get("n_pruned"),
                                search_seconds=c.get("seconds"))}
        o = rows[m]["ours"]
        print(f"[{m}] ours exact: {fmt_s(o['median'])} (n={o['n']}, first {fmt_s(first)}), set {o['treated']}, "
              f"objective {o['objective']:.6g}, bound {o['bound']:.6g}, proven {o['proven']}, "
              f"{o['n_solved']} of {o['n_sets']} sets solved", flush=True)
        if not args.no_scip:
            try:
                r, secs = run_scip(Ypre, m)
                rows[m]["scip"] = dict(seconds=secs, status=r.status, stopped_by=r.stopped_by,
                                       treated=[units[i] for i in r.treated], objective=r.objective, bound=r.bound,
                                       gap=r.gap, proven=bool(r.proven_optimal), nodes=r.nodes,
                                       first_incumbent=r.first_incumbent_seconds)
            except Exception as exc:  # noqa: BLE001
                rows[m]["scip"] = dict(error=f"{type(exc).__name__}: {exc}")
            print(f"[{m}] SCIP: {rows[m]['scip']}", flush=True)

    ml = None
    if not args.no_mlsynth:
        print("mlsynth: running its SYNDES in a child process ...", flush=True)
        t = time.perf_counter()
        ml = run_mlsynth(args.mlsynth_python, df, modes)
        print(f"mlsynth child finished in {time.perf_counter() - t:.1f} s: {json.dumps(ml)[:1500]}", flush=True)
        if "modes" in ml:
            for m, rec in ml["modes"].items():
                if "treated" in rec and len(rec["treated"]) == K:
                    idx = tuple(sorted(units.index(u) for u in rec["treated"]))
                    rec["objective_exact"] = float(DesignProblem(Ypre, m, LAM).value(idx).objective)
                rows[m]["mlsynth"] = rec

    print()
    print(table(rows, ml, modes))
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "mlsynth": ml}, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
