#!/usr/bin/env python
"""Modern inference on Prop 99 (LTO, SCPI, debiased t-test): synthcontrol vs mlsynth, scpi-pkg and R scpi.

One run prints, on Prop 99 (cigsale, California treated from 1989, 38 donor
states, 1970-1988 pre, 1989-2000 post, outcome-only simplex fit), the median time
of three inference procedures for every contender, the ratio peer time / our
time, and each contender's answer:

(a) the leave-two-out refined placebo test (Lei & Sudijono 2025), all
    C(38, 2) = 703 donor pairs: ours ``res.lto(alpha=0.05)`` vs mlsynth's
    ``VanillaSC(inference="lto")``; p-values (ours must be 73/703);
(b) SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021) with 200
    simulations: ours ``res.scpi(alpha=0.05, sims=200, seed=0)`` (n_jobs=1 and
    n_jobs=2) vs scpi-pkg 4.0.0's ``scpi()`` (Python; run in a subprocess of its
    own virtualenv), mlsynth's ``VanillaSC(inference="scpi")`` and R scpi
    3.0.1's recorded time; the ATT interval and the 1989 gaussian band of each;
(c) the debiased cross-fitting t-test (Chernozhukov, Wuthrich & Zhu 2025), K = 3:
    ours ``res.ttest(K=3, alpha=0.1)`` vs mlsynth's ``debiased_sc_ttest`` and
    ``VanillaSC(inference="ttest")``; the debiased ATT of each.

    python benchmarks/bench_inference.py [--data DIR] [--reference DIR] [--repeats N] [--quick]
                                         [--no-peers] [--scpi-python PATH] [--json PATH]

Data directory: --data, else $SYNTHCONTROL_DATA, else <repo>/../shared/data (reads smoking.csv).
Reference directory: --reference, else <data>/../reference, else <repo>/../shared/reference
(reads prop99_scpi.json: R scpi 3.0.1's intervals and scpi_timings_seconds).

What is timed (everything is imported and every input -- the Panel, the fitted
result, mlsynth's configs and arrays, scpi-pkg's scdata objects -- is built
before any timer starts; median of repeats with time.perf_counter, after one
warm-up call):

* ours: each procedure on an existing fit (``res._memo.clear()`` before each
  call; none of the three caches its answer today, the clear makes sure), and
  fit + procedure (from nothing to the answer: the comparator for mlsynth's
  one-call ``VanillaSC(...).fit()``, whose timer includes its data preparation
  and its fit).
* mlsynth 1.0.0: ``VanillaSC(VanillaSCConfig(..., backend="outcome-only",
  inference=...)).fit()`` with the config built outside the timer, and
  ``mlsynth.utils.inferutils.debiased_sc_ttest(y, Y0, T0, T1, K=3, alpha=0.1)``
  on prebuilt arrays.
* scpi-pkg 4.0.0 (GPL; called, never copied): ``--scpi-python`` (default
  $SCPI_PYTHON, else /work/venv-scpi/bin/python) runs a child script that imports
  scpi_pkg, builds ``scdata`` (per period) and ``scdataMulti(effect="unit")`` (the
  ATT), makes one warm-up call, then times ``scpi(d, w_constr={"name": "simplex"},
  sims=200, cores=1)`` with ``np.random.seed(0)`` before each call (median of
  3 timed calls, fewer if --repeats is smaller, 1 with --quick) and prints JSON.  It has its own process
  because scpi-pkg needs pandas < 3.
* R scpi 3.0.1: elapsed times recorded in prop99_scpi.json (other process, other
  language; median of the recorded runs).

BLAS threads default to 1 (set before numpy is imported unless already set; the
scpi-pkg child inherits the setting).

Targets (printed facts, never assertions): LTO >= 20x faster than mlsynth; SCPI
>= 10x faster than scpi-pkg.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

_T_START = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (Timing, bench, data_dirs, finish, fmt_x, machine_info, pin_blas, print_header, quiet,  # noqa: E402
                     try_import)
from _common import fmt_g, print_rows, source_state  # noqa: E402
from _common import fmt_t as _fmt_t  # noqa: E402

_BLAS_PRESET = pin_blas()  # before numpy is imported

import logging  # noqa: E402

logging.getLogger("matplotlib").setLevel(logging.ERROR)  # mlsynth imports matplotlib (font-cache chatter)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import scipy.optimize  # noqa: E402,F401
import scipy.stats  # noqa: E402,F401

import synthcontrol as sc  # noqa: E402
import synthcontrol.inference.lto  # noqa: E402,F401  (the three are imported lazily by res.lto/scpi/ttest)
import synthcontrol.inference.scpi  # noqa: E402,F401
import synthcontrol.inference.ttest  # noqa: E402,F401

try:
    import clarabel  # noqa: E402,F401  (SCPI's conic solver, imported lazily by res.scpi)
except ImportError:  # pragma: no cover - a dependency of synthcontrol
    pass

REPO = Path(__file__).resolve().parent.parent
IMPORT_NOTES: dict[str, str] = {}

mlsynth = try_import(IMPORT_NOTES, "mlsynth")
if mlsynth is not None:
    from mlsynth import VanillaSC
    from mlsynth.utils.inferutils import debiased_sc_ttest
    from mlsynth.utils.vanillasc_helpers.config import VanillaSCConfig

TREATED, T_TREAT = "California", 1989
LTO_ALPHA = 0.05
LTO_LOSSES, LTO_PAIRS = 73, 703          # ours on Prop 99 (fixtures/prop99_modern_inference)
SCPI_ALPHA, SIMS, SCPI_SEED = 0.05, 200, 0
TT_K, TT_ALPHA = 3, 0.1
TT_ATT = -17.9911214507                  # ours, debiased ATT at K = 3
LTO_TARGET, SCPI_TARGET = 20.0, 10.0
QUICK_COLD_S = 3.0                       # --quick: a call slower than this is timed once (its first call)


# --------------------------------------------------------------------------- the scpi-pkg child
# Runs under scpi-pkg's own interpreter (pandas < 3).  argv: data_csv, sims, n_timed, quick_cold_s.
SCPI_CHILD = r'''
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import pandas as pd
from scpi_pkg.scdata import scdata
from scpi_pkg.scdataMulti import scdataMulti
from scpi_pkg.scpi import scpi
import_s = time.perf_counter() - t0
from importlib.metadata import version

csv, sims, n_timed, cold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
df = pd.read_csv(csv)[["state", "year", "cigsale"]]
co = sorted(u for u in dict.fromkeys(df.state) if u != "California")
d = scdata(df=df, id_var="state", time_var="year", outcome_var="cigsale",
           period_pre=np.arange(1970, 1989), period_post=np.arange(1989, 2001), unit_tr="California",
           unit_co=co, constant=False, cointegrated_data=False, verbose=False)
df2 = df.copy()
df2["treat"] = ((df2.state == "California") & (df2.year >= 1989)).astype(int)
dU = scdataMulti(df2, id_var="state", time_var="year", outcome_var="cigsale", treatment_var="treat",
                 effect="unit", constant=False, cointegrated_data=False, verbose=False)

def call(data):
    np.random.seed(0)  # scpi_pkg draws from numpy's global RNG
    return scpi(data, w_constr={"name": "simplex"}, sims=sims, cores=1, verbose=False)

def timed(data):
    t = time.perf_counter(); r = call(data); first = time.perf_counter() - t
    if cold > 0 and first > cold:           # --quick: a slow call is timed once, cold
        return r, {"times": [first], "first": first, "cold": True}
    ts = []
    for _ in range(n_timed):
        t = time.perf_counter(); r = call(data); ts.append(time.perf_counter() - t)
    return r, {"times": ts, "first": first, "cold": False}

r, tm = timed(d)
g = r.CI_all_gaussian
rU, tmU = timed(dU)
ybar = float(np.asarray(rU.Y_post, float).mean())
fit = float(np.asarray(rU.Y_post_fit, float).ravel()[0])
lo, hi = float(rU.CI_all_gaussian.iloc[0, 0]), float(rU.CI_all_gaussian.iloc[0, 1])
out = {"import_s": import_s, "python": sys.version.split()[0],
       "versions": {p: version(p) for p in ("scpi_pkg", "numpy", "pandas", "scipy", "cvxpy")},
       "per_period": dict(tm, gauss_lower=g.iloc[:, 0].tolist(), gauss_upper=g.iloc[:, 1].tolist(),
                          Y_post_fit=np.asarray(r.Y_post_fit, float).ravel().tolist(),
                          failed_sims=float(np.nansum(np.asarray(r.failed_sims, dtype=float)))),
       "att_unit": dict(tmU, att=ybar - fit, att_lower=ybar - hi, att_upper=ybar - lo,
                        Y0_lower=lo, Y0_upper=hi)}
print("@@JSON@@" + json.dumps(out))
'''


def run_scpi_pkg(py, csv, n_timed, cold):
    """scpi-pkg in its own interpreter; returns its JSON dict, or raises with its stderr's tail."""
    cp = subprocess.run([py, "-c", SCPI_CHILD, str(csv), str(SIMS), str(n_timed), str(cold)],
                        capture_output=True, text=True, timeout=1800, env=dict(os.environ))
    line = next((ln for ln in cp.stdout.splitlines() if ln.startswith("@@JSON@@")), None)
    if cp.returncode != 0 or line is None:
        tail = (cp.stderr or cp.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit {cp.returncode}: " + " | ".join(tail))
    return json.loads(line[len("@@JSON@@"):])


# --------------------------------------------------------------------------- rows
class Row:
    """One contender.  ``ref``: the id of our row its ratio is taken against.  ``ans``: the answer
    columns of its block (dict), ``note``: a line printed under it."""

    def __init__(self, rid, label, timing, *, ref=None, ans=None, note="", kind="", extra=None):
        self.rid, self.label, self.timing, self.ref = rid, label, timing, ref
        self.ans = ans or {}
        self.note, self.kind = note, kind
        self.extra = extra or {}

    def ratio(self, ours):
        if self.timing is None or self.ref is None or self.ref not in ours:
            return None
        return self.timing.median / ours[self.ref].median

    def as_dict(self, ours):
        d = {"id": self.rid, "contender": self.label, "kind": self.kind, "answer": self.ans,
             "note": self.note, "ratio_vs": self.ref, "median_s": None, **self.extra}
        if self.timing is not None:
            t = self.timing
            d.update(median_s=t.median, min_s=min(t.times), repeats=t.n, times_s=t.times,
                     recorded=t.recorded, first_call_s=t.first, cold=getattr(t, "cold", False),
                     ratio=self.ratio(ours))
        return d


def fmt_t(s):
    return _fmt_t(s, ms_digits=1)




def fmt_iv(lo, hi, d=2):
    if lo is None or hi is None:
        return "-"
    return f"[{lo:.{d}f}, {hi:.{d}f}]"


def print_table(title, rows, ours, cols):
    print_rows(title, rows, ours, cols, width=70)


def rec_timing(*elapsed):
    return Timing([float(e) for e in elapsed if e is not None], recorded=True)




# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="data directory (default: $SYNTHCONTROL_DATA or <repo>/../shared/data)")
    ap.add_argument("--reference", help="reference directory (default: <data>/../reference)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per item (default 5, 1 with --quick; items slower than ~3 s stop after 3)")
    ap.add_argument("--quick", action="store_true",
                    help="1 timed repeat; a call slower than 3 s is timed once, cold (its warm-up is the "
                         "timing, marked '*'); about 1 min instead of about 3")
    ap.add_argument("--no-peers", action="store_true",
                    help="time ours only (skip mlsynth and scpi-pkg; R's recorded time is still shown)")
    ap.add_argument("--scpi-python", metavar="PATH",
                    default=os.environ.get("SCPI_PYTHON", "/work/venv-scpi/bin/python"),
                    help="interpreter with scpi_pkg installed (default $SCPI_PYTHON or /work/venv-scpi/bin/python)")
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats if args.repeats is not None else (1 if args.quick else 5))
    min_n = min(3, repeats)
    budget = 1.5 if args.quick else 10.0  # s of timed calls per item; past it, stop once min_n repeats are in
    cold_s = QUICK_COLD_S if args.quick else 0.0

    data, ref_dir = data_dirs(args, REPO)
    use_ml = mlsynth is not None and not args.no_peers
    head, dirty = source_state(REPO)

    out = {"date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {}, "settings": {"repeats": repeats, "min_repeats": min_n, "budget_s": budget,
                                       "quick": args.quick, "lto_alpha": LTO_ALPHA, "scpi_alpha": SCPI_ALPHA,
                                       "sims": SIMS, "scpi_seed": SCPI_SEED, "ttest_K": TT_K,
                                       "ttest_alpha": TT_ALPHA},
           "source": {"head": head, "python_dirty_files": dirty},
           "targets": {"lto_vs_mlsynth": LTO_TARGET, "scpi_vs_scpi_pkg": SCPI_TARGET},
           "blocks": {}, "correctness": {}}

    # ---- header
    mach = machine_info(IMPORT_NOTES, _BLAS_PRESET)
    out["machine"] = mach
    print_header("Modern inference benchmark (Prop 99: LTO, SCPI, debiased t-test)", out["date_utc"], mach)
    print(f"  synthcontrol source: {sc.__file__} at {head}"
          + ("" if not dirty else f" (+{dirty} uncommitted file(s) under python/)"))
    print(f"  mlsynth: {IMPORT_NOTES['mlsynth']}" + ("  [skipped: --no-peers]" if args.no_peers else ""))
    print(f"  scpi-pkg: subprocess {args.scpi_python}" + ("  [skipped: --no-peers]" if args.no_peers else ""))
    preset = ", ".join(f"{k}={v}" for k, v in _BLAS_PRESET.items()) or "none preset"
    print(f"  BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']} (default 1 here; environment: {preset})")
    print(f"  timing: median (and min) of up to {repeats} repeats (items under ~70 ms: as many as fit in 0.5 s, <= 200) after 1 warm-up; an item stops after "
          f"{min_n} once its timed calls pass {budget:g} s; 'n' = repeats used"
          + (f"; '*' = timed once, cold (--quick, call > {QUICK_COLD_S:g} s)" if args.quick else ""))
    print("  'vs ours' = time / the time of our row named after it (same work: procedure on a fit vs procedure on a "
          "fit, one-call fit+procedure vs ours fit + procedure)")
    print(f"  data: {data}    reference: {ref_dir}")

    # ---- inputs (not timed)
    csv = data / "smoking.csv"
    smoking = pd.read_csv(csv)
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated=TREATED, treatment_time=T_TREAT)
    est = sc.SyntheticControl()
    res = est.fit(p)
    T0, T = p.T0, len(p.y_treated)
    J = np.asarray(p.X_donors).shape[1]
    ref_r = None
    if (ref_dir / "prop99_scpi.json").exists():
        ref_r = json.loads((ref_dir / "prop99_scpi.json").read_text())
    r_ver = (ref_r or {}).get("meta", {}).get("packages", {}).get("scpi", "?")
    ml_df = smoking[["state", "year", "cigsale"]].copy()
    ml_df["treated"] = ((ml_df.state == TREATED) & (ml_df.year >= T_TREAT)).astype(int)
    ml_base = dict(df=ml_df, outcome="cigsale", treat="treated", unitid="state", time="year",
                   backend="outcome-only", display_graphs=False)
    wide = ml_df.pivot(index="year", columns="state", values="cigsale").sort_index()
    y_arr = wide[TREATED].to_numpy(float)
    Y0_arr = wide.drop(columns=TREATED).to_numpy(float)
    T0_ml = int((wide.index < T_TREAT).sum())
    T1_ml = len(wide) - T0_ml
    title = (f"Prop 99 ({csv.name}): cigsale, {TREATED} vs {J} donor states, {T0} pre + {T - T0} post years "
             f"(treated from {T_TREAT}); outcome-only simplex fit, ATT {res.att:.10g}")
    print("\n" + "=" * 118)
    print(title)

    ours: dict[str, Timing] = {}
    blocks = {}

    def timeit(fn, warmup=None):
        """bench(), except that with --quick a call slower than QUICK_COLD_S is timed once, cold."""
        if not args.quick:
            return bench(fn, repeats, budget=budget, min_n=min_n, warmup=warmup)
        t = time.perf_counter()
        r = (warmup or fn)()
        first = time.perf_counter() - t
        if first > QUICK_COLD_S:
            tm = Timing([first], first=first, result=r)
            tm.cold = True
            return tm
        t = time.perf_counter()
        fn()
        return Timing([time.perf_counter() - t], first=first, result=r)

    def bench_ours(rid, fn, warmup=None):
        tm = timeit(fn, warmup)
        ours[rid] = tm
        return tm

    def on_fit(method, **kw):
        def call():
            res._memo.clear()
            return getattr(res, method)(**kw)
        return call

    def ml_row(rid, label, cfg_kw, ref, answer, note_fn=None):
        try:
            C = VanillaSCConfig(**ml_base, **cfg_kw)
            with quiet():
                tm = timeit(lambda: VanillaSC(C).fit())
            r = tm.result
            ans = answer(r)
            note = note_fn(r, ans) if note_fn else ""
            return Row(rid, label, tm, ref=ref, ans=ans, note=note, kind="mlsynth")
        except Exception as exc:
            return Row(rid, label, None, note=f"failed: {type(exc).__name__}: {exc}", kind="mlsynth")

    def skipped(rid, label, why):
        return Row(rid, label, None, note=why, kind="peer")

    ml_why = IMPORT_NOTES.get("mlsynth", "") if not args.no_peers else "skipped (--no-peers)"

    # ============================================================ (0) the fit alone, for reference
    rows_0 = []
    tm = bench_ours("F1", lambda: est.fit(p))
    rows_0.append(Row("F1", "ours SyntheticControl().fit(p)", tm, ref="F1", ans={"att": float(tm.result.att)},
                      kind="ours"))
    if use_ml:
        rows_0.append(ml_row("M0", 'mlsynth VanillaSC(backend="outcome-only", inference=False).fit()',
                             dict(inference=False), "F1", lambda r: {"att": float(r.effects.att)}))
    blocks["fit"] = rows_0
    print_table("(0) the outcome-only fit alone (reference: it is inside every one-call row below)", rows_0, ours,
                [("ATT", 14, lambda r: fmt_g(r.ans.get("att"), 10))])

    # ============================================================ (a) LTO
    rows_a = []

    def lto_ans(inf):
        d = inf.details
        return {"p": inf.p_value, "losses": d.get("treated_losses"), "pairs": d.get("n_pairs"),
                "p_powered": d.get("p_powered"), "reject": d.get("reject_at_alpha")}

    tm = bench_ours("L1", on_fit("lto", alpha=LTO_ALPHA))
    lto_ours = tm.result
    d = lto_ours.details
    rows_a.append(Row("L1", f"ours res.lto(alpha={LTO_ALPHA}), fitted res  [all pairs]", tm, ref="L1",
                      ans=lto_ans(lto_ours), kind="ours",
                      note=f"{d['n_fits']} fits of {d['n_fits_naive']} (3 per pair; outcome-only fits reuse each "
                           f"other when the units left out carry no weight); max KKT violation "
                           f"{d['max_kkt_violation']:.1e}"))
    tm = bench_ours("L2", lambda: est.fit(p).lto(alpha=LTO_ALPHA))
    rows_a.append(Row("L2", f"ours fit(p) + lto(alpha={LTO_ALPHA})  (from nothing to a p-value)", tm, ref="L2",
                      ans=lto_ans(tm.result), kind="ours"))
    if use_ml:
        def ml_lto_ans(r):
            inf = r.inference
            dd = inf.details or {}
            return {"p": inf.p_value, "losses": dd.get("treated_losses"), "pairs": dd.get("n_pairs"),
                    "p_powered": dd.get("p_powered"), "reject": dd.get("reject_at_alpha")}

        row = ml_row("M1", f'mlsynth VanillaSC(backend="outcome-only", inference="lto", alpha={LTO_ALPHA}).fit()',
                     dict(inference="lto", alpha=LTO_ALPHA), "L2", ml_lto_ans)
        if row.timing is not None:
            row.note = (f"one call: its data preparation, its fit, then 3 fits per pair (2,109 fits); "
                        f"vs L1 (lto on an existing fit): {fmt_x(row.timing.median / ours['L1'].median)}")
        rows_a.append(row)
    else:
        rows_a.append(skipped("M1", "mlsynth VanillaSC(inference=\"lto\")", ml_why))
    blocks["lto"] = rows_a
    print_table(f"(a) leave-two-out refined placebo test (Lei & Sudijono 2025), all C({J}, 2) = {J * (J - 1) // 2} "
                f"donor pairs, alpha = {LTO_ALPHA}", rows_a, ours,
                [("p (naive)", 10, lambda r: fmt_g(r.ans.get("p"), 7)),
                 ("losses/pairs", 12, lambda r: f"{r.ans.get('losses')}/{r.ans.get('pairs')}"),
                 ("p powered", 10, lambda r: fmt_g(r.ans.get("p_powered"), 6)),
                 ("reject", 6, lambda r: str(r.ans.get("reject")))])

    # ============================================================ (b) SCPI
    rows_b = []

    def scpi_ans(inf):
        tb = inf.details["table"]
        return {"att": inf.details["att"], "att_lower": inf.ci_lower, "att_upper": inf.ci_upper,
                "g1989_lower": float(tb["cf_lower"].iloc[0]), "g1989_upper": float(tb["cf_upper"].iloc[0]),
                "failed_sims": inf.details.get("failed_sims")}

    scpi_kw = dict(alpha=SCPI_ALPHA, sims=SIMS, seed=SCPI_SEED)
    tm = bench_ours("S1", on_fit("scpi", **scpi_kw, n_jobs=1))
    scpi_ours = tm.result
    rows_b.append(Row("S1", f"ours res.scpi(alpha={SCPI_ALPHA}, sims={SIMS}, seed={SCPI_SEED}), n_jobs=1, fitted res",
                      tm, ref="S1", ans=scpi_ans(scpi_ours), kind="ours",
                      note=f"{T - T0} periods + their mean x 2 conic programmes x {SIMS} draws "
                           f"({2 * (T - T0 + 1) * SIMS:,} programmes: "
                           f"{scpi_ours.details['in_sample_solver']['programmes_kernel']:,} by the exact "
                           f"active-set kernel, {scpi_ours.details['in_sample_solver']['programmes_conic']:,} "
                           f"by Clarabel); e_method='gaussian'; {scpi_ours.details['failed_sims']} failed draws"))
    try:
        tm = bench_ours("S2", on_fit("scpi", **scpi_kw, n_jobs=2))
        rows_b.append(Row("S2", "ours the same with n_jobs=2 (joblib, 2 cores)", tm, ref="S1",
                          ans=scpi_ans(tm.result), kind="ours",
                          note="same seed, same draws: the answer must equal S1's"))
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        lines = [ln.strip() for ln in str(exc.__cause__ or "").splitlines() if ln.strip().strip('"')]
        why = f" ({lines[-1][:120]})" if lines else ""  # the workers' error, e.g. what could not be pickled
        rows_b.append(Row("S2", "ours the same with n_jobs=2 (joblib, 2 cores)", None, kind="ours",
                          note=f"FAILED: {type(exc).__name__}: {msg[:120]}{why}"))
    tm = bench_ours("S3", lambda: est.fit(p).scpi(**scpi_kw))
    rows_b.append(Row("S3", "ours fit(p) + scpi(...), n_jobs=1  (from nothing to the intervals)", tm, ref="S3",
                      ans=scpi_ans(tm.result), kind="ours"))
    pkg = None
    if not args.no_peers:
        n_child = min(repeats, 3) if not args.quick else 1  # scpi() takes ~6 s: median of 3
        try:
            pkg = run_scpi_pkg(args.scpi_python, csv, n_child, cold_s)
        except Exception as exc:
            rows_b.append(skipped("P1", "scpi-pkg scpi()", f"failed: {type(exc).__name__}: {exc}"))
        if pkg is not None:
            ver = pkg["versions"]["scpi_pkg"]
            pp, au = pkg["per_period"], pkg["att_unit"]
            tp = Timing(pp["times"], first=pp["first"])
            tp.cold = pp["cold"]
            rows_b.append(Row("P1", f"scpi-pkg {ver} scpi(scdata, simplex, sims={SIMS}, cores=1) [subprocess]",
                              tp, ref="S1", kind="scpi-pkg",
                              ans={"att": None, "att_lower": None, "att_upper": None,
                                   "g1989_lower": pp["gauss_lower"][0], "g1989_upper": pp["gauss_upper"][0],
                                   "failed_sims": pp["failed_sims"]},
                              note=f"per period (12 rows); np.random.seed(0); pandas {pkg['versions']['pandas']}, "
                                   f"cvxpy {pkg['versions']['cvxpy']}; first call {pp['first']:.2f} s; no ATT "
                                   "interval from this call (P2)"))
            tu = Timing(au["times"], first=au["first"])
            tu.cold = au["cold"]
            rows_b.append(Row("P2", f"scpi-pkg {ver} scpi(scdataMulti(effect='unit'), ...) [subprocess]", tu,
                              ref="S1", kind="scpi-pkg",
                              ans={"att": au["att"], "att_lower": au["att_lower"], "att_upper": au["att_upper"]},
                              note=f"its ATT interval: a second call (1 row: the post-period mean); ours gives it in "
                                   f"the same call; P1 + P2 = {fmt_t(tp.median + tu.median)} = "
                                   f"{fmt_x((tp.median + tu.median) / ours['S1'].median)} S1"))
    else:
        rows_b.append(skipped("P1", "scpi-pkg scpi()", "skipped (--no-peers)"))
    if use_ml:
        def ml_scpi_ans(r):
            inf = r.inference
            dd = inf.details
            return {"att": float(dd.get("att", r.effects.att)), "att_lower": inf.ci_lower,
                    "att_upper": inf.ci_upper, "g1989_lower": float(np.asarray(dd["counterfactual_lower"])[0]),
                    "g1989_upper": float(np.asarray(dd["counterfactual_upper"])[0])}
        row = ml_row("M2", f'mlsynth VanillaSC(backend="outcome-only", inference="scpi", scpi_sims={SIMS}).fit()',
                     dict(inference="scpi", scpi_sims=SIMS, alpha=SCPI_ALPHA), "S3", ml_scpi_ans)
        if row.timing is not None:
            row.note = (f"one call (its fit included); seed=0 (its default); gaussian e-bound uses "
                        f"sqrt(2 log(1/e_alpha)) with e_alpha = alpha (scpi uses e_alpha/2); vs S1: "
                        f"{fmt_x(row.timing.median / ours['S1'].median)}")
        rows_b.append(row)
    else:
        rows_b.append(skipped("M2", 'mlsynth VanillaSC(inference="scpi")', ml_why))
    if ref_r:
        st = ref_r["scpi_timings_seconds"]
        el = [v["elapsed"] for v in st.values() if isinstance(v, dict) and "elapsed" in v]
        g = ref_r["scpi"]["inference"]["CI.all.gaussian"]["values"]
        rows_b.append(Row("R1", f"R scpi {r_ver} scpi(df, simplex, sims=200, cores=1) [recorded, other process]",
                          rec_timing(*el), ref="S1", kind="R",
                          ans={"att": None, "att_lower": None, "att_upper": None,
                               "g1989_lower": g[0][0], "g1989_upper": g[0][1]},
                          note=f"elapsed {', '.join(f'{e:.2f}' for e in el)} s; set.seed(8894); per period only "
                               f"(no ATT interval recorded)"))
    blocks["scpi"] = rows_b
    print_table(f"(b) SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021), simplex, {SIMS} simulations, "
                f"u_alpha = e_alpha = {SCPI_ALPHA} (90% intervals)", rows_b, ours,
                [("ATT", 9, lambda r: fmt_g(r.ans.get("att"), 6)),
                 ("ATT interval", 17, lambda r: fmt_iv(r.ans.get("att_lower"), r.ans.get("att_upper"))),
                 ("1989 Y(0) gaussian", 19, lambda r: fmt_iv(r.ans.get("g1989_lower"), r.ans.get("g1989_upper")))])

    # ============================================================ (c) t-test
    rows_c = []

    def tt_ans(inf):
        d = inf.details
        return {"att": d["att"], "se": d["se"], "lower": inf.ci_lower, "upper": inf.ci_upper, "p": inf.p_value}

    tm = bench_ours("T1", on_fit("ttest", K=TT_K, alpha=TT_ALPHA))
    tt_ours = tm.result
    rows_c.append(Row("T1", f"ours res.ttest(K={TT_K}, alpha={TT_ALPHA}), fitted res", tm, ref="T1",
                      ans=tt_ans(tt_ours), kind="ours",
                      note=f"r = {tt_ours.details['r']} held-out periods per fold; naive ATT "
                           f"{tt_ours.details['naive_att']:.10g}"))
    tm = bench_ours("T2", lambda: est.fit(p).ttest(K=TT_K, alpha=TT_ALPHA))
    rows_c.append(Row("T2", "ours fit(p) + ttest(...)", tm, ref="T2", ans=tt_ans(tm.result), kind="ours"))
    if use_ml:
        try:
            tm = timeit(lambda: debiased_sc_ttest(y_arr, Y0_arr, T0=T0_ml, T1=T1_ml, K=TT_K, alpha=TT_ALPHA))
            dd = tm.result
            rows_c.append(Row("M3", f"mlsynth inferutils.debiased_sc_ttest(y, Y0, T0, T1, K={TT_K}, "
                                    f"alpha={TT_ALPHA})  [arrays]", tm, ref="T1", kind="mlsynth",
                              ans={"att": float(dd["att"]), "se": float(dd["se"]), "lower": float(dd["ci_lower"]),
                                   "upper": float(dd["ci_upper"]), "p": dd.get("p_value")},
                              note="its default weight_fn (simplex, OSQP); no p-value returned"))
        except Exception as exc:
            rows_c.append(skipped("M3", "mlsynth debiased_sc_ttest", f"failed: {type(exc).__name__}: {exc}"))

        def ml_tt_ans(r):
            inf = r.inference
            dd = inf.details
            return {"att": float(dd["att_debiased"]), "se": float(dd["se"]), "lower": inf.ci_lower,
                    "upper": inf.ci_upper, "p": inf.p_value}
        rows_c.append(ml_row("M4", f'mlsynth VanillaSC(backend="outcome-only", inference="ttest", ttest_K={TT_K}, '
                                   f'alpha={TT_ALPHA}).fit()', dict(inference="ttest", ttest_K=TT_K, alpha=TT_ALPHA),
                             "T2", ml_tt_ans, lambda r, a: "one call: its data preparation, its fit, the K refits"))
    else:
        rows_c.append(skipped("M3", "mlsynth debiased_sc_ttest / VanillaSC(inference=\"ttest\")", ml_why))
    blocks["ttest"] = rows_c
    print_table(f"(c) debiased cross-fitting t-test (Chernozhukov, Wuthrich & Zhu 2025), K = {TT_K}, "
                f"alpha = {TT_ALPHA}", rows_c, ours,
                [("ATT (debiased)", 15, lambda r: fmt_g(r.ans.get("att"), 12)),
                 ("se", 8, lambda r: fmt_g(r.ans.get("se"), 5)),
                 (f"{100 * (1 - TT_ALPHA):.0f}% CI", 17, lambda r: fmt_iv(r.ans.get("lower"), r.ans.get("upper"))),
                 ("p", 8, lambda r: fmt_g(r.ans.get("p"), 4))])

    # ============================================================ correctness
    print("\n" + "=" * 118)
    print("Correctness")
    corr = {}
    d = lto_ours.details
    exact = d["treated_losses"] == LTO_LOSSES and d["n_pairs"] == LTO_PAIRS
    corr["lto_ours"] = {"p": lto_ours.p_value, "losses": d["treated_losses"], "pairs": d["n_pairs"],
                        "expected": f"{LTO_LOSSES}/{LTO_PAIRS}", "ok": bool(exact)}
    print(f"  LTO   ours p = {d['treated_losses']}/{d['n_pairs']} = {lto_ours.p_value:.7f}  (expected "
          f"{LTO_LOSSES}/{LTO_PAIRS} = {LTO_LOSSES / LTO_PAIRS:.7f}: {'OK' if exact else 'DIFFERS'})")
    m1 = next((r for r in rows_a if r.rid == "M1" and r.timing is not None), None)
    if m1:
        same = m1.ans.get("losses") == d["treated_losses"] and m1.ans.get("pairs") == d["n_pairs"]
        corr["lto_mlsynth"] = dict(m1.ans, same_as_ours=bool(same))
        print(f"        mlsynth p = {m1.ans['losses']}/{m1.ans['pairs']} = {m1.ans['p']:.7f}  "
              f"({'equal to ours' if same else 'DIFFERS from ours'}); powered p ours "
              f"{d['p_powered']:.7f}, mlsynth {m1.ans['p_powered']:.7f}")
    a = scpi_ans(scpi_ours)
    corr["scpi_ours"] = a
    print(f"  SCPI  ours ATT {a['att']:.6f}, ATT interval {fmt_iv(a['att_lower'], a['att_upper'], 3)}; 1989 Y(0) "
          f"gaussian {fmt_iv(a['g1989_lower'], a['g1989_upper'], 3)}  (seed {SCPI_SEED}; Monte Carlo: these move "
          "with the seed in every package)")
    s2 = next((r for r in rows_b if r.rid == "S2" and r.timing is not None), None)
    if s2:
        dmax = max(abs(s2.ans[k] - a[k]) for k in ("att_lower", "att_upper", "g1989_lower", "g1989_upper"))
        corr["scpi_njobs2_max_abs_diff"] = dmax
        print(f"        n_jobs=2 vs n_jobs=1: max |diff| {dmax:.1e}")
    for r in rows_b:
        if r.kind in ("scpi-pkg", "mlsynth", "R") and r.timing is not None:
            bits = []
            if r.ans.get("att_lower") is not None:
                bits.append(f"ATT interval {fmt_iv(r.ans['att_lower'], r.ans['att_upper'], 3)} (ours - it: "
                            f"{a['att_lower'] - r.ans['att_lower']:+.3f}/{a['att_upper'] - r.ans['att_upper']:+.3f})")
            if r.ans.get("g1989_lower") is not None:
                dl, du = a["g1989_lower"] - r.ans["g1989_lower"], a["g1989_upper"] - r.ans["g1989_upper"]
                bits.append(f"1989 gaussian {fmt_iv(r.ans['g1989_lower'], r.ans['g1989_upper'], 3)} (ours - it: "
                            f"{dl:+.3f}/{du:+.3f})")
            print(f"        {r.rid} {r.label.split(' scpi')[0].split(' VanillaSC')[0]}: " + "; ".join(bits))
            corr[f"scpi_{r.rid}"] = r.ans
    tt_ok = abs(tt_ours.details["att"] - TT_ATT) < 1e-8
    corr["ttest_ours"] = dict(tt_ans(tt_ours), expected_att=TT_ATT, ok=bool(tt_ok))
    print(f"  t-test ours ATT {tt_ours.details['att']:.10f}  (expected {TT_ATT}: {'OK' if tt_ok else 'DIFFERS'}); "
          f"{100 * (1 - TT_ALPHA):.0f}% CI {fmt_iv(tt_ours.ci_lower, tt_ours.ci_upper, 6)}")
    for r in rows_c:
        if r.kind == "mlsynth" and r.timing is not None:
            diff = r.ans["att"] - tt_ours.details["att"]
            print(f"        {r.rid} mlsynth ATT {r.ans['att']:.10f} (diff {diff:+.1e}); "
                  f"CI {fmt_iv(r.ans['lower'], r.ans['upper'], 6)}")
            corr[f"ttest_{r.rid}"] = r.ans
    out["correctness"] = corr

    # ---- targets and speed lines (facts)
    print("\nTargets (facts, not assertions):")
    tg = {}

    def target(name, peer_id, our_id, goal, what):
        row = next((r for b in blocks.values() for r in b if r.rid == peer_id and r.timing is not None), None)
        if row is None or our_id not in ours:
            print(f"  {what}: not measured")
            tg[name] = None
            return
        x = row.timing.median / ours[our_id].median
        tg[name] = {"peer": peer_id, "ours": our_id, "ratio": x, "goal": goal, "met": bool(x >= goal)}
        print(f"  {what}: {fmt_t(row.timing.median)} vs ours {fmt_t(ours[our_id].median)} ({our_id}) = {fmt_x(x)}; "
              f"target >= {goal:g}x: {'MET' if x >= goal else 'NOT MET'}")

    target("lto_vs_mlsynth_fit_plus_lto", "M1", "L2", LTO_TARGET, "LTO, mlsynth one call vs ours fit + lto")
    target("lto_vs_mlsynth_lto_on_fit", "M1", "L1", LTO_TARGET, "LTO, mlsynth one call vs ours lto on a fit")
    target("scpi_vs_scpi_pkg", "P1", "S1", SCPI_TARGET, "SCPI, scpi-pkg scpi() vs ours scpi(n_jobs=1)")
    target("scpi_vs_scpi_pkg_njobs2", "P1", "S2", SCPI_TARGET, "SCPI, scpi-pkg scpi() vs ours scpi(n_jobs=2)")
    for peer, ourid, what in (("M2", "S3", "SCPI, mlsynth one call vs ours fit + scpi"),
                              ("R1", "S1", "SCPI, R scpi (recorded) vs ours scpi"),
                              ("M3", "T1", "t-test, mlsynth debiased_sc_ttest vs ours ttest on a fit"),
                              ("M4", "T2", "t-test, mlsynth one call vs ours fit + ttest")):
        row = next((r for b in blocks.values() for r in b if r.rid == peer and r.timing is not None), None)
        if row is not None and ourid in ours:
            x = row.timing.median / ours[ourid].median
            tg[f"{peer}_vs_{ourid}"] = x
            print(f"  {what}: {fmt_x(x)}")
    out["targets_result"] = tg

    out["blocks"] = {name: [r.as_dict(ours) for r in rows] for name, rows in blocks.items()}
    out["scpi_pkg_child"] = pkg
    out["title"] = title
    return finish(out, args.json, _T_START)


if __name__ == "__main__":
    sys.exit(main())
