#!/usr/bin/env python
"""Ridge-augmented SCM and conformal inference on Kansas: synthcontrol vs mlsynth and augsynth.

One run prints, on augsynth's flagship case (Kansas's 2012 tax cuts: log GDP per
capita, 49 donor states, 89 pre + 16 post quarters), the median time of

* the ridge ASCM fit, with the ridge penalty chosen by cross-validation
  (augsynth's 21-point grid, leave-one-period-out, one-SE rule),
* its conformal inference (Chernozhukov, Wuthrich & Zhu 2021, as augsynth's
  ``summary()``): 16 post quarters x 51 grid refits for the per-period intervals,
  plus the joint test and the ATT interval, ``kind="iid"`` and ``kind="block"``,
* the same two for the plain (outcome-only) SCM fit, for reference,

for every contender, with the ratio to ours, the ATT, the ridge penalty and the
joint p-value, and a correctness line against augsynth 0.2.0's recorded answers.

    python benchmarks/bench_ascm.py [--data DIR] [--reference DIR] [--repeats N] [--skip-slow] [--json PATH]

Data directory: --data, else $SYNTHCONTROL_DATA, else <repo>/../shared/data (reads kansas.csv).
Reference directory: --reference, else <data>/../reference, else <repo>/../shared/reference
(reads kansas_augsynth_ridge.json and kansas_augsynth_none.json).

What is timed (everything is imported and every input -- the Panel, the data
frame, mlsynth configs -- is built before any timer starts; median of repeats
with time.perf_counter, after one warm-up call):

* ours: ``sc.SyntheticControl(augment="ridge").fit(p)`` (CV included) and
  ``sc.SyntheticControl().fit(p)``; ``res.conformal(alpha=0.05, kind=...)`` on an
  existing fit (``res._memo.clear()`` before each call), and fit + conformal
  (from nothing to a p-value, the comparator for mlsynth's one-call path).
* mlsynth 1.0.0: ``VanillaSC(VanillaSCConfig(df=..., augment="ridge",
  inference=False)).fit()`` and ``inference="conformal"`` (its fit and its
  conformal intervals in one call; iid only; its Monte Carlo size is its
  ``scpi_sims``, 200 by default, also timed at augsynth's 1000).  Its plain-SCM
  conformal call takes about a minute: it runs ONCE, without its own warm-up
  (its code path was warmed by the ASCM rows), or not at all with --skip-slow.
* augsynth 0.2.0 (R): times recorded in the reference JSON files (other
  process, other language; elapsed seconds, median of the recorded runs).

BLAS threads default to 1 (set before numpy is imported unless already set).
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
import synthcontrol.inference.conformal  # noqa: E402,F401  (imported lazily by res.conformal)
import synthcontrol.solvers.ridge  # noqa: E402,F401

REPO = Path(__file__).resolve().parent.parent
IMPORT_NOTES: dict[str, str] = {}

mlsynth = try_import(IMPORT_NOTES, "mlsynth")
if mlsynth is not None:
    from mlsynth import VanillaSC
    from mlsynth.utils.vanillasc_helpers.config import VanillaSCConfig

# augsynth 0.2.0's answers on Kansas (kansas_augsynth_ridge.json; also checked against the file)
AUG_ATT = -0.040062913813793566
AUG_LAMBDA = 0.07866222813499742
AUG_P_IID = 0.074
AUG_P_BLOCK = 0.2
ALPHA = 0.05


# --------------------------------------------------------------------------- rows
class Row:
    """One contender.  ``ref``: the id of our row its ratio is taken against."""

    def __init__(self, rid, label, timing, *, ref=None, att=None, lam=None, p=None, note="", kind=""):
        self.rid, self.label, self.timing, self.ref = rid, label, timing, ref
        self.att, self.lam, self.p = att, lam, p
        self.note, self.kind = note, kind

    def ratio(self, ours):
        if self.timing is None or self.ref is None or self.ref not in ours:
            return None
        return self.timing.median / ours[self.ref].median

    def as_dict(self, ours):
        d = {"id": self.rid, "contender": self.label, "kind": self.kind, "att": self.att,
             "lambda": self.lam, "joint_p": self.p, "note": self.note, "ratio_vs": self.ref,
             "median_s": None}
        if self.timing is not None:
            t = self.timing
            d.update(median_s=t.median, min_s=min(t.times), repeats=t.n, times_s=t.times,
                     recorded=t.recorded, first_call_s=t.first, ratio=self.ratio(ours))
        return d


def fmt_t(s):
    return _fmt_t(s, ms_digits=1)




def print_table(title, rows, ours):
    print_rows(title, rows, ours, [("ATT", 11, lambda r: fmt_g(r.att, 7)), ("lambda", 10, lambda r: fmt_g(r.lam, 6)),
                                   ("joint p", 8, lambda r: fmt_g(r.p, 4))], width=74)


def rec_timing(*elapsed):
    return Timing([float(e) for e in elapsed if e is not None], recorded=True)


def once(fn) -> Timing:
    """One timed call, no warm-up of its own (for items of about a minute)."""
    t = time.perf_counter()
    res = fn()
    dt = time.perf_counter() - t
    return Timing([dt], first=dt, result=res)


def aug_bounds(summ):
    """augsynth's per-period (lower, upper, p) over the post-period, from a summary block."""
    a = summ["att_per_period"]
    keep = [i for i, p in enumerate(a["p_val"]) if p is not None]
    return (np.array([a["lower_bound"][i] for i in keep], float),
            np.array([a["upper_bound"][i] for i in keep], float),
            np.array([a["p_val"][i] for i in keep], float))


def vs_aug(lo, hi, pv, ref):
    """max |diff| of the per-period bounds and p-values against an augsynth summary."""
    if ref is None:
        return ""
    alo, ahi, ap = aug_bounds(ref)
    if len(alo) != len(lo):
        return "per-period table: length differs from augsynth's"
    return (f"per-period vs augsynth summary(): max|lower diff| {np.nanmax(np.abs(lo - alo)):.1e}, "
            f"max|upper diff| {np.nanmax(np.abs(hi - ahi)):.1e}, max|p diff| {np.nanmax(np.abs(pv - ap)):.3f}")




# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="data directory (default: $SYNTHCONTROL_DATA or <repo>/../shared/data)")
    ap.add_argument("--reference", help="reference directory (default: <data>/../reference)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timed repeats per item (default 5; items slower than ~3 s stop after 3)")
    ap.add_argument("--no-peers", action="store_true", help="time ours only (skip mlsynth)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip mlsynth's plain-SCM conformal call (about 1 minute, run once)")
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)
    min_n = min(3, repeats)
    budget = 10.0  # seconds of timed calls per item; past it, stop once min_n repeats are in

    data, ref_dir = data_dirs(args, REPO)
    use_ml = mlsynth is not None and not args.no_peers
    head, dirty = source_state(REPO)

    out = {"date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {}, "settings": {"repeats": repeats, "min_repeats": min_n, "budget_s": budget,
                                       "alpha": ALPHA},
           "source": {"head": head, "python_dirty_files": dirty}, "blocks": {}, "correctness": {}}

    # ---- header
    mach = machine_info(IMPORT_NOTES, _BLAS_PRESET)
    out["machine"] = mach
    print_header("Ridge ASCM and conformal inference benchmark (Kansas)", out["date_utc"], mach)
    print(f"  synthcontrol source: {sc.__file__} at {head}"
          + ("" if not dirty else f" (+{dirty} uncommitted file(s) under python/)"))
    print(f"  mlsynth: {IMPORT_NOTES['mlsynth']}" + ("  [skipped: --no-peers]" if args.no_peers else ""))
    preset = ", ".join(f"{k}={v}" for k, v in _BLAS_PRESET.items()) or "none preset"
    print(f"  BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']} (default 1 here; environment: {preset})")
    print(f"  timing: median (and min) of up to {repeats} repeats (items under ~70 ms: as many as fit in 0.5 s, <= 200) after 1 warm-up; an item stops after "
          f"{min_n} once its timed calls pass {budget:g} s; 'n' = repeats used")
    print("  'vs ours' = time / the time of our row named after it (same work: fit vs fit, conformal on a fit vs "
          "summary() on a fit, one-call fit+conformal vs ours fit + conformal)")
    print(f"  data: {data}    reference: {ref_dir}")

    # ---- inputs (not timed)
    k = pd.read_csv(data / "kansas.csv")
    p = sc.Panel(k, unit="state", time="year_qtr", outcome="lngdpcapita", treat="treated")
    T0, T = p.T0, len(p.y_treated)
    J = np.asarray(p.X_donors).shape[1]
    ref_r = ref_n = None
    if (ref_dir / "kansas_augsynth_ridge.json").exists():
        ref_r = json.loads((ref_dir / "kansas_augsynth_ridge.json").read_text())
    if (ref_dir / "kansas_augsynth_none.json").exists():
        ref_n = json.loads((ref_dir / "kansas_augsynth_none.json").read_text())
    aug_ver = (ref_r or ref_n or {}).get("meta", {}).get("packages", {}).get("augsynth", "?")
    ml_base = dict(df=k, outcome="lngdpcapita", treat="treated", unitid="state", time="year_qtr",
                   display_graphs=False)
    title = (f"Kansas (kansas.csv): lngdpcapita, Kansas vs {J} donor states, {T0} pre + {T - T0} post quarters "
             f"(treated from {p.times[T0]}); alpha = {ALPHA}")
    print("\n" + "=" * 118)
    print(title)

    ours: dict[str, Timing] = {}
    blocks = {}

    def bench_ours(rid, fn, warmup=None):
        tm = bench(fn, repeats, budget=budget, min_n=min_n, warmup=warmup)
        ours[rid] = tm
        return tm

    def conf_row(rid, label, res_fn, kind, ref, summ):
        """Ours: conformal on an existing fit (cache cleared before each call)."""
        res = res_fn()

        def call():
            res._memo.clear()
            return res.conformal(alpha=ALPHA, kind=kind)
        tm = bench_ours(rid, call)
        inf = tm.result
        tb = inf.details["table"]
        se = inf.details.get("joint_p_mc_se", 0.0)
        how = (f"iid: per-period p exact, joint p from {inf.details['n_perm']} seeded permutations "
               f"(MC se {se:.4f})" if kind == "iid" else "block: T cyclic shifts, exact")
        cmp = vs_aug(tb["lower"].to_numpy(float), tb["upper"].to_numpy(float), tb["p_value"].to_numpy(float), summ)
        note = f"{how}; ATT interval [{inf.ci_lower:+.4f}, {inf.ci_upper:+.4f}]" + (f"; {cmp}" if cmp else "")
        return Row(rid, label, tm, ref=ref, att=float(np.mean(tb["effect"])),
                   lam=inf.details.get("ridge_lambda"), p=inf.p_value, note=note, kind="ours"), inf

    def ml_row(rid, label, cfg_kw, ref, summ=None, slow=False):
        try:
            C = VanillaSCConfig(**ml_base, **cfg_kw)
            with quiet():
                tm = once(lambda: VanillaSC(C).fit()) if slow else bench(
                    lambda: VanillaSC(C).fit(), repeats, budget=budget, min_n=min_n)
            r = tm.result
            att = float(r.effects.att)
            inf = r.inference
            lam = pv = None
            note = ""
            if cfg_kw.get("inference") == "conformal" and inf is not None and inf.details:
                dd = inf.details
                lam, pv = dd.get("lambda"), dd.get("joint_p_value")
                tau = np.asarray(dd["tau"], float)
                note = (f"ns = {cfg_kw.get('scpi_sims', 200)} permutations (its scpi_sims) for the per-period "
                        f"AND joint p; iid only; mean of its per-period bounds [{inf.ci_lower:+.4f}, "
                        f"{inf.ci_upper:+.4f}] (no ATT interval); "
                        + vs_aug(np.asarray(dd["pi_lower"], float), np.asarray(dd["pi_upper"], float),
                                 np.asarray(dd["period_p_value"], float), summ))
                if abs(float(np.mean(tau)) - att) > 1e-6:
                    note += (f"; ITS CONFORMAL EFFECTS ARE NOT THIS FIT'S: mean tau {np.mean(tau):+.6f} vs fit ATT "
                             f"{att:+.6f} (lambda {'None: re-cross-validated in every refit' if lam is None else lam})")
            elif cfg_kw.get("augment") == "ridge":
                note = "lambda not exposed in its results with inference=False (it is in the conformal row's details)"
            if slow:
                note = "run once (about 1 min), no warm-up of its own; " + note
            return Row(rid, label, tm, ref=ref, att=att, lam=lam, p=pv, note=note, kind="mlsynth")
        except Exception as exc:
            return Row(rid, label, None, note=f"failed: {type(exc).__name__}: {exc}", kind="mlsynth")

    # ============================================================ (a) ridge ASCM
    est_r = sc.SyntheticControl(augment="ridge")
    summ_iid = ref_r["summary_conformal_default"] if ref_r else None
    summ_blk = ref_r["summary_conformal_block"] if ref_r else None
    rows_a = []
    tm = bench_ours("A1", lambda: est_r.fit(p))
    res_r = tm.result
    dg = res_r.diagnostics
    rows_a.append(Row("A1", 'ours SyntheticControl(augment="ridge").fit(p)  [CV: 21 lambdas, LOO, 1-SE]', tm,
                      ref="A1", att=float(res_r.att), lam=dg["ridge_lambda"],
                      note=f"L2 imbalance {dg['l2_imbalance']:.6g} (augsynth "
                           f"{ref_r['l2_imbalance'] if ref_r else float('nan'):.6g}); "
                           f"{dg['n_negative_weights']} negative weights", kind="ours"))
    r_iid, inf_r_iid = conf_row("A2", 'ours res.conformal(alpha=0.05, kind="iid"), fitted res',
                                lambda: res_r, "iid", "A2", summ_iid)
    r_blk, inf_r_blk = conf_row("A3", 'ours res.conformal(alpha=0.05, kind="block"), fitted res',
                                lambda: res_r, "block", "A3", summ_blk)
    rows_a += [r_iid, r_blk]
    tm = bench_ours("A4", lambda: est_r.fit(p).conformal(alpha=ALPHA, kind="iid"))
    rows_a.append(Row("A4", 'ours fit(p) + conformal(kind="iid")  (from nothing to a p-value)', tm, ref="A4",
                      att=float(tm.result.details["table"]["effect"].mean()), lam=tm.result.details["ridge_lambda"],
                      p=tm.result.p_value, kind="ours"))
    if use_ml:
        rows_a.append(ml_row("M1", 'mlsynth VanillaSC(augment="ridge", inference=False).fit()',
                             dict(augment="ridge", inference=False), "A1"))
        rows_a.append(ml_row("M2", 'mlsynth VanillaSC(augment="ridge", inference="conformal").fit()',
                             dict(augment="ridge", inference="conformal"), "A4", summ_iid))
        rows_a.append(ml_row("M3", 'mlsynth VanillaSC(augment="ridge", inference="conformal", scpi_sims=1000)',
                             dict(augment="ridge", inference="conformal", scpi_sims=1000), "A4", summ_iid))
    else:
        rows_a.append(Row("M", "mlsynth", None, note=IMPORT_NOTES.get("mlsynth", "skipped")
                          if not args.no_peers else "skipped (--no-peers)", kind="mlsynth"))
    if ref_r:
        f = ref_r["timings_seconds_fit"]
        rows_a.append(Row("R1", f"augsynth {aug_ver} augsynth(progfunc='Ridge', scm=T) [recorded, other process]",
                          rec_timing(f["run1"]["elapsed"], f["run2"]["elapsed"]), ref="A1",
                          att=ref_r["att_average_post"], lam=ref_r["lambda"],
                          note=f"elapsed {f['run1']['elapsed']:.2f}, {f['run2']['elapsed']:.2f} s; CV grid of "
                               f"{len(ref_r['lambdas_cv'])} lambdas", kind="augsynth"))
        rows_a.append(Row("R2", "augsynth summary(fit)  (conformal iid, ns=1000) [recorded, other process]",
                          rec_timing(summ_iid["timing_seconds"], summ_iid.get("timing_seconds_run2")), ref="A2",
                          att=summ_iid["average_att"]["Estimate"], lam=ref_r["lambda"],
                          p=summ_iid["average_att"]["p_val"],
                          note=f"elapsed {summ_iid['timing_seconds']:.2f}, "
                               f"{summ_iid.get('timing_seconds_run2', float('nan')):.2f} s; set.seed(2024); "
                               f"per-period p from ns=1000 draws", kind="augsynth"))
        rows_a.append(Row("R3", "augsynth summary(fit, type='block') [recorded, other process]",
                          rec_timing(summ_blk["timing_seconds"]), ref="A3",
                          att=summ_blk["average_att"]["Estimate"], lam=ref_r["lambda"],
                          p=summ_blk["average_att"]["p_val"], note="one recorded run", kind="augsynth"))
    blocks["ridge"] = rows_a
    print_table("(a) ridge-augmented SCM (augment='ridge', lambda by CV) and its conformal inference", rows_a, ours)

    # ============================================================ (b) plain SCM
    est_n = sc.SyntheticControl()
    summ_n = ref_n.get("summary_conformal_default") if ref_n else None
    rows_b = []
    tm = bench_ours("B1", lambda: est_n.fit(p))
    res_n = tm.result
    rows_b.append(Row("B1", "ours SyntheticControl().fit(p)", tm, ref="B1", att=float(res_n.att), kind="ours"))
    n_iid, inf_n_iid = conf_row("B2", 'ours res.conformal(alpha=0.05, kind="iid"), fitted res', lambda: res_n,
                                "iid", "B2", summ_n)
    n_blk, inf_n_blk = conf_row("B3", 'ours res.conformal(alpha=0.05, kind="block"), fitted res', lambda: res_n,
                                "block", "B3", None)
    rows_b += [n_iid, n_blk]
    tm = bench_ours("B4", lambda: est_n.fit(p).conformal(alpha=ALPHA, kind="iid"))
    rows_b.append(Row("B4", 'ours fit(p) + conformal(kind="iid")', tm, ref="B4",
                      att=float(tm.result.details["table"]["effect"].mean()), p=tm.result.p_value, kind="ours"))
    if use_ml:
        rows_b.append(ml_row("M4", "mlsynth VanillaSC(inference=False).fit()", dict(inference=False), "B1"))
        if args.skip_slow:
            rows_b.append(Row("M5", 'mlsynth VanillaSC(inference="conformal").fit()', None,
                              note="skipped (--skip-slow; about 1 min)", kind="mlsynth"))
        else:
            rows_b.append(ml_row("M5", 'mlsynth VanillaSC(inference="conformal").fit()',
                                 dict(inference="conformal"), "B4", summ_n, slow=True))
    if ref_n:
        f = ref_n["timings_seconds_fit"]
        rows_b.append(Row("R4", f"augsynth {aug_ver} augsynth(progfunc='None', scm=T) [recorded, other process]",
                          rec_timing(f["run1"]["elapsed"], f["run2"]["elapsed"]), ref="B1",
                          att=ref_n["att_average_post"],
                          note=f"elapsed {f['run1']['elapsed']:.3f}, {f['run2']['elapsed']:.3f} s (the first R run "
                               f"pays first-call costs; median of the two; run 2 alone: "
                               f"{fmt_x(f['run2']['elapsed'] / ours['B1'].median)} B1)", kind="augsynth"))
        if summ_n and "timing_seconds" in summ_n:
            rows_b.append(Row("R5", "augsynth summary(fit)  (conformal iid, ns=1000) [recorded, other process]",
                              rec_timing(summ_n["timing_seconds"], summ_n.get("timing_seconds_run2")), ref="B2",
                              att=summ_n["average_att"]["Estimate"], p=summ_n["average_att"]["p_val"],
                              note="one recorded run; no block summary recorded for progfunc='None'",
                              kind="augsynth"))
    blocks["scm"] = rows_b
    print_table("(b) plain SCM (reference): outcome-only simplex fit and its conformal inference", rows_b, ours)

    # ============================================================ correctness
    print("\n" + "=" * 118)
    print(f"Correctness vs augsynth {aug_ver} (recorded): ATT {AUG_ATT:.10g}, lambda {AUG_LAMBDA:.10g}, "
          f"joint p iid {AUG_P_IID} / block {AUG_P_BLOCK}")
    if ref_r and (ref_r["att_average_post"] != AUG_ATT or ref_r["lambda"] != AUG_LAMBDA):
        print("  NOTE: the reference file's ATT/lambda differ from the constants in this script")
    se = inf_r_iid.details["joint_p_mc_se"]
    corr = {
        "ours_att": float(res_r.att), "ours_att_diff": float(res_r.att) - AUG_ATT,
        "ours_lambda": dg["ridge_lambda"], "ours_lambda_rel_diff": dg["ridge_lambda"] / AUG_LAMBDA - 1,
        "ours_joint_p_iid": inf_r_iid.p_value, "ours_joint_p_iid_mc_se": se,
        "ours_joint_p_block": inf_r_blk.p_value,
        "ours_scm_att": float(res_n.att), "ours_scm_joint_p_iid": inf_n_iid.p_value,
    }
    print(f"  ours ASCM:  ATT {res_r.att:.10g} (diff {corr['ours_att_diff']:+.1e}); lambda "
          f"{dg['ridge_lambda']:.10g} (rel diff {corr['ours_lambda_rel_diff']:+.1e}); joint p iid "
          f"{inf_r_iid.p_value:.4f} (MC se {se:.4f}; augsynth's own ns=1000 draw has se "
          f"{np.sqrt(AUG_P_IID * (1 - AUG_P_IID) / 1000):.4f}; diff {inf_r_iid.p_value - AUG_P_IID:+.4f}); "
          f"joint p block {inf_r_blk.p_value:.4g} "
          f"({'equal' if abs(inf_r_blk.p_value - AUG_P_BLOCK) < 1e-12 else 'DIFFERS'})")
    if ref_n:
        pn = summ_n["average_att"]["p_val"] if summ_n else None
        print(f"  ours SCM:   ATT {res_n.att:.10g} (augsynth {ref_n['att_average_post']:.10g}, diff "
              f"{res_n.att - ref_n['att_average_post']:+.1e}); joint p iid {inf_n_iid.p_value:.4f} (augsynth "
              f"{pn}); joint p block {inf_n_blk.p_value:.4g} (not recorded for augsynth)")
    for r in blocks["ridge"] + blocks["scm"]:
        if r.kind != "mlsynth" or r.timing is None:
            continue
        aug_att = AUG_ATT if r.rid in ("M1", "M2", "M3") else (ref_n or {}).get("att_average_post", np.nan)
        bits = [f"ATT {r.att:.10g} (diff vs augsynth {r.att - aug_att:+.1e})"]
        if r.lam is not None:
            bits.append(f"lambda {r.lam:.10g} (rel diff {r.lam / AUG_LAMBDA - 1:+.1e})")
        if r.p is not None:
            want = AUG_P_IID if r.rid in ("M2", "M3") else (summ_n or {}).get("average_att", {}).get("p_val")
            bits.append(f"joint p {r.p:.4g} (augsynth iid {want})")
        print(f"  mlsynth {r.rid}: " + "; ".join(bits))
        corr[f"mlsynth_{r.rid}"] = {"att": r.att, "lambda": r.lam, "joint_p": r.p}
    out["correctness"] = corr

    # ---- speed lines (facts)
    print("\nSpeed (facts, not assertions):")
    for a, b, what in (("R1", "A1", "ridge fit with CV"), ("R2", "A2", "conformal iid"),
                       ("R3", "A3", "conformal block"), ("M1", "A1", "ridge fit with CV"),
                       ("M2", "A4", "fit + conformal iid"), ("M3", "A4", "fit + conformal iid (ns 1000)"),
                       ("R5", "B2", "SCM conformal iid"), ("M5", "B4", "SCM fit + conformal iid")):
        ra = next((r for r in blocks["ridge"] + blocks["scm"] if r.rid == a and r.timing is not None), None)
        if ra is None or b not in ours:
            continue
        x = ra.timing.median / ours[b].median
        print(f"  {what:<32} {ra.label.split(' ')[0]:<8} {fmt_t(ra.timing.median):>9} vs ours "
              f"{fmt_t(ours[b].median):>9}: {fmt_x(x)} {'(recorded, other process)' if ra.timing.recorded else ''}")

    out["blocks"] = {name: [r.as_dict(ours) for r in rows] for name, rows in blocks.items()}
    out["title"] = title
    return finish(out, args.json, _T_START)


if __name__ == "__main__":
    sys.exit(main())
