#!/usr/bin/env python
"""Every benchmark in one command: one summary table (ours vs each installed peer), the scaling
series, and a plot of cost against N.

    .venv-bench/bin/python benchmarks/run_all.py            # full run, about 10-15 min on 2 shared cores
    .venv-bench/bin/python benchmarks/run_all.py --quick    # fewer repeats, slow peer loops estimated
    .venv-bench/bin/python benchmarks/run_all.py --from DIR # re-print the summary from a saved run

It runs, one after the other, each in its own subprocess of this interpreter (so every script pins
its BLAS threads before numpy loads, and no script's imports or caches leak into another's timings):

    bench_outcome_only.py   Prop 99 + rollout: one fit and the placebo test   (mlsynth, pysyncon, SLSQP)
    bench_inference.py      Prop 99: LTO, SCPI, debiased t-test               (mlsynth, scpi-pkg)
    bench_covariates.py     Prop 99 + Basque: the V problem                   (mlsynth)
    bench_ascm.py           Kansas: ridge ASCM and conformal inference        (mlsynth)
    bench_scaling.py        ours only: N = 50 .. 1000 at T = 100, time and peak memory

each with ``--json`` into the output directory (``--out``, default a new temporary directory; the
scripts' full printouts are kept there too as ``<name>.txt``), then reads the JSON files back and
prints ONE table.  Every ratio is peer median / ours median of the same row, both measured in the
same process of the same run (the scripts time ours and the peers back to back, after the same
warm-up, on the same prebuilt inputs), so the ratio is paired by run even when the machine's speed
drifts between runs.  A peer that is not installed, or whose row the script did not produce,
prints ``-`` and the reason is listed under the table.

scpi-pkg 4.0 needs pandas < 3, so it lives in its own virtualenv: ``--scpi-python`` (default
``$SCPI_PYTHON``, else ``<repo>/.venv-scpi/bin/python`` if it exists), passed to
``bench_inference.py``.

The plot (log-log, fit and placebo time against N, plus peak memory) goes to
``docs/img/scaling.png`` when ``docs/img`` exists, else ``benchmarks/scaling.png``; ``--plot PATH``
overrides, ``--no-plot`` skips it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = ("mlsynth", "pysyncon", "scpi-pkg", "SLSQP")

# (name, script, flags always, flags with --quick, flags without --quick)
SCRIPTS = [
    ("outcome_only", "bench_outcome_only.py", [], ["--quick"], []),
    ("inference", "bench_inference.py", [], ["--quick"], []),
    ("covariates", "bench_covariates.py", [], ["--repeats", "1"], []),
    ("ascm", "bench_ascm.py", [], ["--repeats", "1", "--skip-slow"], []),
    ("scaling", "bench_scaling.py", ["--sizes", "50", "100", "200", "500", "1000", "--T", "100"],
     ["--repeats", "1", "--placebo-repeats", "1"], []),
]


# --------------------------------------------------------------------------- row selection
def _by_label(rows, prefix):
    return next((r for r in rows if r.get("contender", "").startswith(prefix)), None)


def _by_id(rows, rid):
    return next((r for r in rows if r.get("id") == rid), None)


def _cell(r):
    """(median seconds, marker) of a JSON row, or (None, reason)."""
    if r is None:
        return None, "row missing"
    t = r.get("median_s")
    if t is None:
        return None, (r.get("note") or "not run")[:90]
    mark = ""
    if r.get("estimated"):
        mark = "~"
    elif r.get("cold"):
        mark = "*"
    elif r.get("recorded"):
        mark = "r"
    return t, mark


# Each workload: (label, script, locator, ours selector, {peer: selector}, footnote).
# A selector is a function of the script's JSON returning one row dict (or None).
def _oo(panel, part, prefix):
    return lambda d: _by_label(d["panels"][panel][part], prefix)


def _inf(block, rid):
    return lambda d: _by_id(d["blocks"][block], rid)


def _cov(case, prefix, contains=""):
    return lambda d: next((r for r in d["cases"][case]["rows"]
                           if r.get("contender", "").startswith(prefix) and contains in r["contender"]), None)


def _ascm(block, rid):
    return lambda d: _by_id(d["blocks"][block], rid)


WORKLOADS = [
    ("Prop 99: one fit (J=38)", "outcome_only",
     _oo("prop99", "fit", "ours: SyntheticControl().fit"),
     {"mlsynth": _oo("prop99", "fit", "mlsynth VanillaSC(outcome-only).fit()"),
      "pysyncon": _oo("prop99", "fit", "pysyncon Dataprep + Synth.fit"),
      "SLSQP": _oo("prop99", "fit", "scipy SLSQP")},
     "ours = SyntheticControl().fit(panel); mlsynth VanillaSC(outcome-only).fit(); pysyncon Dataprep + "
     "Synth.fit(custom_V); SLSQP = the seed tutorial's scipy call"),
    ("Prop 99: placebo test (39 fits)", "outcome_only",
     _oo("prop99", "placebo", "ours: fit + res.placebo"),
     {"mlsynth": _oo("prop99", "placebo", "mlsynth VanillaSC(inference=True), built-in"),
      "pysyncon": _oo("prop99", "placebo", "pysyncon PlaceboTest built-in"),
      "SLSQP": _oo("prop99", "placebo", "scipy SLSQP")},
     "ours = fit + res.placebo(donor_pool='all') (ADH: 39 fits, California in the pools); mlsynth and "
     "pysyncon = their built-in placebo tests, which run the smaller donors-only design (treated fit + "
     "38 placebos on 37 donors); SLSQP = seed call x 39"),
    ("Rollout: one fit (J=25)", "outcome_only",
     _oo("rollout", "fit", "ours: SyntheticControl().fit"),
     {"mlsynth": _oo("rollout", "fit", "mlsynth VanillaSC(outcome-only).fit()"),
      "pysyncon": _oo("rollout", "fit", "pysyncon Dataprep + Synth.fit"),
      "SLSQP": _oo("rollout", "fit", "scipy SLSQP")}, None),
    ("Rollout: placebo test (26 fits)", "outcome_only",
     _oo("rollout", "placebo", "ours: fit + res.placebo"),
     {"mlsynth": _oo("rollout", "placebo", "mlsynth VanillaSC(inference=True), built-in"),
      "pysyncon": _oo("rollout", "placebo", "pysyncon PlaceboTest built-in"),
      "SLSQP": _oo("rollout", "placebo", "scipy SLSQP")},
     "same design for every contender (treated fit + 25 placebos)"),
    ("Prop 99: LTO test (703 pairs)", "inference", _inf("lto", "L2"),
     {"mlsynth": _inf("lto", "M1")},
     "ours = fit + res.lto() (from nothing to the p-value); mlsynth = VanillaSC(inference='lto').fit()"),
    ("Prop 99: SCPI (200 sims)", "inference", _inf("scpi", "S3"),
     {"mlsynth": _inf("scpi", "M2"), "scpi-pkg": _inf("scpi", "P1")},
     "ours = fit + res.scpi(n_jobs=1); scpi-pkg = scpi(scdata) per period (its ATT interval is a second "
     "call, not counted); mlsynth = VanillaSC(inference='scpi').fit()"),
    ("Prop 99: debiased t-test (K=3)", "inference", _inf("ttest", "T2"),
     {"mlsynth": _inf("ttest", "M4")},
     "ours = fit + res.ttest(); mlsynth = VanillaSC(inference='ttest').fit()"),
    ("Prop 99: covariates / V problem", "covariates", _cov("prop99", "ours sc.synth(", "backend='auto'"),
     {"mlsynth": _cov("prop99", "mlsynth VanillaSC(backend='mscmt'")},
     "ours = sc.synth(backend='auto'), certified optimum; mlsynth = VanillaSC(backend='mscmt') (its "
     "covariate default), which stops at a worse loss (see bench_covariates)"),
    ("Basque: covariates / V problem", "covariates", _cov("basque", "ours sc.synth(", "backend='auto'"),
     {"mlsynth": _cov("basque", "mlsynth VanillaSC(backend='mscmt'")}, None),
    ("Kansas: ridge ASCM fit (CV lambda)", "ascm", _ascm("ridge", "A1"),
     {"mlsynth": _ascm("ridge", "M1")}, None),
    ("Kansas: ridge ASCM + conformal (iid)", "ascm", _ascm("ridge", "A4"),
     {"mlsynth": _ascm("ridge", "M3")},
     "ours = fit + res.conformal(kind='iid'); mlsynth = VanillaSC(augment='ridge', inference='conformal', "
     "scpi_sims=1000) (augsynth's 1000 draws; at its default 200 draws see bench_ascm's M2 row)"),
    ("Kansas: SCM + conformal (iid)", "ascm", _ascm("scm", "B4"),
     {"mlsynth": _ascm("scm", "M5")},
     "mlsynth's plain-SCM conformal call (~1 min) is timed once, and skipped with --quick"),
]


# --------------------------------------------------------------------------- formatting
def fmt_t(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms" if s >= 0.1 else f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_x(r):
    return f"{r:.1f}x" if r < 10 else f"{r:.0f}x"


def run_script(name, script, flags, out_dir, env, timeout):
    jpath = out_dir / f"{name}.json"
    log = out_dir / f"{name}.txt"
    cmd = [sys.executable, str(HERE / script), *flags, "--json", str(jpath)]
    t = time.perf_counter()
    print(f"[run_all] {name:<13} {' '.join(cmd[1:])}", flush=True)
    try:
        with open(log, "w") as fh:
            cp = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd=REPO)
        rc = cp.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    dt = time.perf_counter() - t
    status = "ok" if rc == 0 and jpath.exists() else f"FAILED (exit {rc}; see {log})"
    print(f"[run_all] {name:<13} {dt:7.1f} s  {status}", flush=True)
    return {"name": name, "cmd": cmd, "rc": rc, "wall_s": dt, "log": str(log),
            "json": str(jpath) if jpath.exists() else None}


def peer_versions(data):
    """Peer -> version string, from the scripts' own import notes."""
    v = {"SLSQP": None}
    for key in ("outcome_only", "inference", "covariates", "ascm"):
        d = data.get(key)
        if not d:
            continue
        peers = d.get("machine", {}).get("peers", {})
        for p in ("mlsynth", "pysyncon"):
            if p in peers and p not in v:
                v[p] = peers[p].split(" (import")[0]
        if key == "inference":
            child = d.get("scpi_pkg_child")
            if isinstance(child, dict) and child.get("versions"):
                v["scpi-pkg"] = child["versions"].get("scpi_pkg")
            elif child:
                v.setdefault("scpi-pkg", "not available")
        if key == "outcome_only" and "scipy" in d.get("machine", {}):
            v["SLSQP"] = "scipy " + d["machine"]["scipy"]
    return v


def summary(data, runs):
    peers = list(PEERS)
    notes = []
    table = []
    for label, key, ours_sel, peer_sel, foot in WORKLOADS:
        d = data.get(key)
        if d is None:
            table.append((label, "-", {p: ("-", "") for p in peers}, f"{key} did not run"))
            continue
        try:
            ours_t, ours_m = _cell(ours_sel(d))
        except (KeyError, TypeError):
            ours_t, ours_m = None, "row missing"
        cells = {}
        for p in peers:
            if p not in peer_sel:
                cells[p] = ("", "")
                continue
            try:
                t, m = _cell(peer_sel[p](d))
            except (KeyError, TypeError):
                t, m = None, "row missing"
            if t is None:
                cells[p] = ("-", "")
                notes.append(f"{label} / {p}: {m}")
                continue
            ratio = f"{fmt_x(t / ours_t)}" if ours_t else "-"
            cells[p] = (f"{m}{fmt_t(t)}", ratio)
        table.append((label, (ours_m if ours_t is not None else "") + fmt_t(ours_t), cells, foot))
    return table, notes


def print_summary(table, notes, versions):
    w0 = max(len(r[0]) for r in table)
    wcol = 19
    heads = ["ours"] + [f"{p}" for p in PEERS]
    sep = " | "
    line = f"{'workload':<{w0}}{sep}" + sep.join(f"{h:>{wcol}}" for h in heads)
    print(line)
    print(f"{'':<{w0}}{sep}{'median':>{wcol}}{sep}" + sep.join(f"{'median (peer/ours)':>{wcol}}" for _ in PEERS))
    print("-" * len(line))
    for label, ours, cells, _ in table:
        row = f"{label:<{w0}}{sep}{ours:>{wcol}}"
        for p in PEERS:
            t, r = cells[p]
            txt = f"{t} ({r})" if r else t
            row += f"{sep}{txt:>{wcol}}"
        print(row)
    print("-" * len(line))
    vv = ", ".join(f"{p} {versions.get(p) or 'not installed'}" for p in PEERS)
    print(f"peers: {vv}")
    print("ratio = peer median / ours median, both from the same process of this run; '~' estimated "
          "(--quick: single fit x N), '*' timed once cold (--quick), blank = the peer has no such routine")
    for i, (label, _, _, foot) in enumerate(table):
        if foot:
            print(f"  {label}: {foot}")
    for n in notes:
        print(f"  missing: {n}")


def print_scaling(sd):
    rows = sd["rows"]
    mib = (lambda b: "-" if b is None else f"{b / 2**20:.1f} MiB")
    print(f"\nScaling (ours only; factor-model panels, T = {sd['settings']['T']}; median of repeats; peak = "
          f"tracemalloc peak during one call; RSS = process high-water mark)")
    hdr = (f"{'N':>6} | {'fit':>10} | {'placebo':>10} | {'per refit':>10} | {'uncert.':>7} | {'fit peak':>10} | "
           f"{'placebo peak':>12} | {'peak RSS':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        pr = r["per_refit_s"]
        print(f"{r['N']:>6} | {fmt_t(r['fit_s']):>10} | {fmt_t(r['placebo_s']):>10} | {fmt_t(pr):>10} | "
              f"{'-' if r['n_uncertified'] is None else r['n_uncertified']:>7} | {mib(r['fit_peak_bytes']):>10} | "
              f"{mib(r['placebo_peak_bytes']):>12} | {r['peak_rss_mib']:>5.0f} MiB")
    e = sd.get("growth_exponents", {})
    bits = [f"{k.replace('_', ' ')} {v:.2f}" for k, v in e.items() if v is not None]
    print("growth exponents (slope of log cost on log N): " + ", ".join(bits))


def plot_scaling(sd, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullFormatter

    rows = sd["rows"]
    N = np.array([r["N"] for r in rows], float)
    fit = np.array([r["fit_s"] for r in rows], float)
    ok = [r for r in rows if r["placebo_s"] is not None]
    Np = np.array([r["N"] for r in ok], float)
    plc = np.array([r["placebo_s"] for r in ok], float)
    e = sd.get("growth_exponents", {})
    fig, (ax, axm) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.35, 1]})
    ax.loglog(N, fit, "o-", color="C0", label=f"one fit (slope {e.get('fit', float('nan')):.2f})")
    if len(ok):
        ax.loglog(Np, plc, "s-", color="C3",
                  label=f"placebo: N-1 refits (slope {e.get('placebo', float('nan')):.2f})")
    # reference slopes through the first point of each series: grey, dotted = N, dashed = N^2
    for series, n0 in ((fit, N), (plc, Np)):
        if len(series):
            ax.loglog(n0, series[0] * (n0 / n0[0]), ":", color="0.55", lw=1)
            ax.loglog(n0, series[0] * (n0 / n0[0]) ** 2, "--", color="0.55", lw=1)
    ax.plot([], [], ":", color="0.55", label="reference: cost ∝ N")
    ax.plot([], [], "--", color="0.55", label="reference: cost ∝ N²")
    ax.set_xlabel("number of units N (donors + 1), T = %d periods" % sd["settings"]["T"])
    ax.set_ylabel("wall time [s] (median, 1 BLAS thread)")
    ax.set_title("Time against N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fpk = [r["fit_peak_bytes"] for r in rows]
    ppk = [r["placebo_peak_bytes"] for r in ok]
    if all(v is not None for v in fpk):
        axm.loglog(N, np.array(fpk) / 2**20, "o-", color="C0", label="one fit")
    if ppk and all(v is not None for v in ppk):
        lab = "placebo"
        if e.get("placebo_peak_memory") is not None:
            lab += f" (slope {e['placebo_peak_memory']:.2f})"
        axm.loglog(Np, np.array(ppk) / 2**20, "s-", color="C3", label=lab)
    for a in (ax, axm):
        a.set_xticks(N)
        a.set_xticklabels([f"{int(n)}" for n in N])
        a.xaxis.set_minor_formatter(NullFormatter())
    axm.set_xlabel("number of units N")
    axm.set_ylabel("peak memory during the call [MiB] (tracemalloc)")
    axm.set_title("Peak memory against N")
    axm.grid(True, which="both", alpha=0.3)
    axm.legend(fontsize=8, loc="upper left")
    fig.suptitle("synthcontrol outcome-only cost vs N (factor-model panels, bench_scaling.py)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats everywhere; the slowest peer loops estimated or timed once cold")
    ap.add_argument("--only", nargs="+", choices=[s[0] for s in SCRIPTS], help="run only these scripts")
    ap.add_argument("--out", metavar="DIR", help="where the JSON files and printouts go (default: a new temp dir)")
    ap.add_argument("--from", dest="from_dir", metavar="DIR",
                    help="run nothing: summarise the JSON files already in DIR (a previous --out)")
    ap.add_argument("--scpi-python", metavar="PATH",
                    default=os.environ.get("SCPI_PYTHON") or (str(REPO / ".venv-scpi" / "bin" / "python")
                                                              if (REPO / ".venv-scpi" / "bin" / "python").exists()
                                                              else None),
                    help="interpreter with scpi_pkg (default $SCPI_PYTHON, else <repo>/.venv-scpi/bin/python)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per script (default 3600)")
    ap.add_argument("--plot", metavar="PATH", help="where the PNG goes (default docs/img/scaling.png if docs/img "
                                                  "exists, else benchmarks/scaling.png)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    runs = []
    quick = args.quick
    if args.from_dir:
        out_dir = Path(args.from_dir)
        meta = out_dir / "run_all.json"
        if meta.exists():
            quick = json.loads(meta.read_text()).get("quick", quick)
    else:
        out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="synthcontrol-bench-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(k, "1")
        env.setdefault("PYTHONWARNINGS", "ignore")
        print(f"[run_all] {'quick' if args.quick else 'full'} run; python {sys.executable}; "
              f"OPENBLAS_NUM_THREADS={env['OPENBLAS_NUM_THREADS']}; output {out_dir}", flush=True)
        for name, script, always, quick_flags, full_flags in SCRIPTS:
            if args.only and name not in args.only:
                continue
            flags = list(always) + (quick_flags if args.quick else full_flags)
            if name == "inference" and args.scpi_python:
                flags += ["--scpi-python", args.scpi_python]
            runs.append(run_script(name, script, flags, out_dir, env, args.timeout))
        (out_dir / "run_all.json").write_text(json.dumps({"quick": args.quick, "runs": runs}, indent=2))

    data = {}
    for name, *_ in SCRIPTS:
        p = out_dir / f"{name}.json"
        if p.exists():
            data[name] = json.loads(p.read_text())

    print("\n" + "=" * 118)
    d0 = next(iter(data.values()), {})
    m = d0.get("machine", {})
    load = m.get("loadavg_at_start")
    load = " ".join(f"{x:.2f}" for x in load) if load else "?"
    print(f"SUMMARY ({'quick' if quick else 'full'} run{'' if not args.from_dir else ', from ' + str(out_dir)}"
          f"; {d0.get('date_utc', '?')}): python {m.get('python', '?')}, numpy {m.get('numpy', '?')}, "
          f"scipy {m.get('scipy', '?')}, pandas {m.get('pandas', '?')}; cores {m.get('cpu_count', '?')}; "
          f"load average at the first script's start {load}")
    print("=" * 118)
    table, notes = summary(data, runs)
    for r in runs:
        if r["rc"] != 0:
            notes.append(f"{r['name']}: exit {r['rc']}, see {r['log']}")
    print_summary(table, notes, peer_versions(data))

    sd = data.get("scaling")
    if sd:
        print_scaling(sd)
        if not args.no_plot:
            path = Path(args.plot) if args.plot else (
                REPO / "docs" / "img" / "scaling.png" if (REPO / "docs" / "img").is_dir() else HERE / "scaling.png")
            try:
                plot_scaling(sd, path)
                print(f"wrote {path}")
            except Exception as exc:  # matplotlib missing, etc.: the numbers above still stand
                print(f"plot failed: {type(exc).__name__}: {exc}")
    else:
        print("\nScaling: bench_scaling.py did not run or failed")
    if runs:
        print(f"\nper-script wall time: " + ", ".join(f"{r['name']} {r['wall_s']:.0f} s" for r in runs))
    print(f"run_all total wall time {time.perf_counter() - t0:.1f} s; printouts and JSON in {out_dir}")
    return 0 if all(r["rc"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
