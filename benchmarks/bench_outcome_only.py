#!/usr/bin/env python
"""Outcome-only synthetic control: synthcontrol vs scipy SLSQP, mlsynth and pysyncon.

One run prints, for two panels (Prop 99 and the global-rollout LLM-logs panel),
the median time of (a) one outcome-only fit and (b) the full in-space placebo
test for every contender, the ratio peer time / our time, and each contender's
accuracy (max |w - w_reference| and the pre-period MSE).

    python benchmarks/bench_outcome_only.py [--data DIR] [--repeats N] [--quick] [--json PATH]

Data directory: --data, else $SYNTHCONTROL_DATA, else <repo>/../shared/data.
Reference weights: --reference, else <data>/../reference, else <repo>/../shared/reference.

What is timed (everything is imported and every input is built before any timer
starts; median of repeats with time.perf_counter, after one warm-up call):

* "fit": ours = ``sc.SyntheticControl().fit(panel)`` on a prebuilt Panel;
  kernel = ``simplex_ls(X_pre, y_pre)`` on prebuilt arrays.
* "placebo test": a fresh fit followed by the placebo call, i.e. the treated
  fit plus every placebo fit, from nothing cached to a p-value.  Prop 99:
  1 + 38 = 39 fits (donor_pool="all": California joins each placebo's donor
  pool, so every fit has 38 donors).  Rollout: 1 + 25 = 26 fits (each donor vs
  the other 24).  A second row times the placebo call alone on an existing
  fit with ``res._memo`` cleared.  Peers do the same fits (labelled
  "fits x N" where we loop their single-fit call ourselves).

Peers' built-in placebo routines (mlsynth VanillaSC(inference=True), pysyncon
PlaceboTest) never put the treated unit in a placebo's donor pool: on Prop 99
they run the smaller "donors-only" design, and the rows say so.

BLAS threads default to 1 (OPENBLAS/OMP/MKL_NUM_THREADS, set before numpy is
imported unless already set): the problems are tiny and spinning BLAS threads
on a shared 2-core box inflate the timings by up to 10x.

Targets (printed facts, never assertions): one outcome-only fit >= 100x
faster than the seed tutorial's SLSQP; the 39-fit Prop 99 placebo < 20 ms.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

_T_START = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (Timing, bench, data_dirs, finish, fmt_t, fmt_x, machine_info, pin_blas, print_header,  # noqa: E402
                     quiet, try_import)

_BLAS_PRESET = pin_blas()  # before numpy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import synthcontrol as sc  # noqa: E402
from synthcontrol.solvers.simplex import placebo_fits, simplex_ls  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
IMPORT_NOTES: dict[str, str] = {}


mlsynth = try_import(IMPORT_NOTES, "mlsynth")
if mlsynth is not None:
    from mlsynth import VanillaSC
    from mlsynth.utils.bilevel.active_set import solve_simplex_qp as ml_solve_simplex_qp
    from mlsynth.utils.vanillasc_helpers.config import VanillaSCConfig
pysyncon = try_import(IMPORT_NOTES, "pysyncon")
if pysyncon is not None:
    from pysyncon import Dataprep, Synth
    from pysyncon.utils import PlaceboTest


# --------------------------------------------------------------------------- problem math
def pre_mse(X, y, w):
    r = y - X @ w
    return float(r @ r) / len(y)


def slsqp_tutorial(D_pre, Y_pre):
    """The seed tutorial's Step 1, verbatim apart from the variable plumbing."""
    n_donors = D_pre.shape[1]

    def objective(w):
        return np.mean((Y_pre - D_pre @ w) ** 2)

    w0 = np.ones(n_donors) / n_donors
    bounds = [(0, 1)] * n_donors
    constraints = [{"type": "eq", "fun": lambda w: w.sum() - 1}]
    result = minimize(objective, w0, method="SLSQP", bounds=bounds,
                      constraints=constraints, options={"ftol": 1e-12, "maxiter": 5000})
    return result.x


class Design:
    """One panel's fitting problem: Z_pre (T0 x N) with the treated series in column 0,
    the placebo targets and each target's donor columns."""

    def __init__(self, name, panel, placebo_pool):
        self.name = name
        self.panel = panel
        pre = ~panel.post
        self.Z = np.column_stack([panel.y_treated, panel.X_donors])
        self.Z_pre = np.ascontiguousarray(self.Z[pre])
        self.X_pre = np.ascontiguousarray(panel.X_donors[pre])
        self.y_pre = panel.y_treated[pre].copy()
        self.labels = [panel.treated_label] + [str(d) for d in panel.donors]
        N = self.Z.shape[1]
        self.placebo_pool = placebo_pool  # "all": treated joins the pool; "donors": it does not
        self.donor_mask = np.ones(N, dtype=bool)
        if placebo_pool == "donors":
            self.donor_mask[0] = False
        # the fits of the placebo test: (target column, donor columns)
        self.fits = []
        for i in range(N):
            m = self.donor_mask.copy()
            m[i] = False
            if i == 0:
                m[1:] = True
            self.fits.append((i, np.flatnonzero(m)))
        # exact per-fit optimum (our kernel; certified by its KKT report)
        self.ref_mse = np.empty(N)
        self.ref_kkt = 0.0
        for i, D in self.fits:
            f = simplex_ls(self.Z_pre[:, D], self.Z_pre[:, i])
            self.ref_mse[i] = f.ssr / self.Z_pre.shape[0]
            self.ref_kkt = max(self.ref_kkt, f.kkt_violation)

    def worst_excess(self, mse_by_target):
        """max over fits of (MSE - exact MSE) / exact MSE."""
        return excess_stats(self.ref_mse, self.labels, mse_by_target)[0]

    def excess(self, mse_by_target, ref_mse=None):
        return excess_stats(self.ref_mse if ref_mse is None else ref_mse, self.labels, mse_by_target)


def excess_stats(ref_mse, labels, mse_by_target, tol=1e-6):
    """(worst relative pre-MSE excess, note naming the worst fit and how many fits exceed ``tol``)."""
    ex = {i: (m - ref_mse[i]) / ref_mse[i] for i, m in mse_by_target.items()}
    if not ex:
        return float("nan"), ""
    i_w = max(ex, key=ex.get)
    n_bad = sum(v > tol for v in ex.values())
    note = ""
    if ex[i_w] > tol:
        note = (f"{n_bad} of {len(ex)} fits above the exact optimum by > {tol:g} rel; worst: '{labels[i_w]}' "
                f"(pre-MSE {mse_by_target[i_w]:.6g} vs exact {ref_mse[i_w]:.6g})")
    return float(ex[i_w]), note


# --------------------------------------------------------------------------- rows
class Row:
    def __init__(self, part, label, timing, *, wdiff=None, mse=None, excess=None, fits=None, note=""):
        self.part, self.label, self.timing = part, label, timing
        self.wdiff, self.mse, self.excess = wdiff, mse, excess
        self.fits = fits
        self.note = note

    def as_dict(self, api_t, kern_t):
        d = {"part": self.part, "contender": self.label, "fits": self.fits,
             "median_s": None, "repeats": None, "estimated": None, "times_s": None,
             "ratio_vs_ours_api": None, "ratio_vs_ours_kernel": None,
             "max_abs_w_minus_ref": self.wdiff, "pre_mse": self.mse,
             "worst_rel_pre_mse_excess": self.excess, "note": self.note}
        if self.timing is not None:
            t = self.timing.median
            d.update(median_s=t, min_s=min(self.timing.times), repeats=self.timing.n, estimated=self.timing.estimated,
                     times_s=self.timing.times, ratio_vs_ours_api=t / api_t,
                     ratio_vs_ours_kernel=t / kern_t)
        return d


def fmt_e(v, digits=1):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return f"{v:.{digits}e}"


def print_part(title, rows, api_t, kern_t, acc_header, show_mse=True):
    print(f"\n  {title}")
    hdr = (f"    {'contender':<58} {'median':>9} {'min':>9} {'n':>3} {'peer/ours':>10} {'peer/kernel':>11}  "
           f"{acc_header:>13}" + (f" {'pre-MSE':>14}" if show_mse else ""))
    print(hdr)
    print("    " + "-" * (len(hdr) - 4))
    for r in rows:
        if r.timing is None:
            print(f"    {r.label:<58} {'':>9}  {r.note}")
            continue
        t = r.timing.median
        est = "~" if r.timing.estimated else ""
        acc = fmt_e(r.wdiff) if r.excess is None else (fmt_e(r.excess) + " rel")
        mse = "-" if r.mse is None else f"{r.mse:.10g}"
        tmin = "-" if r.timing.estimated else fmt_t(min(r.timing.times))
        print(f"    {r.label:<58} {est + fmt_t(t):>9} {tmin:>9} {r.timing.n:>3} {fmt_x(t / api_t):>10} "
              f"{fmt_x(t / kern_t):>11}  {acc:>13}" + (f" {mse:>14}" if show_mse else ""))
        if r.note:
            print(f"    {'':<6}{r.note}")


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="data directory (default: $SYNTHCONTROL_DATA or <repo>/../shared/data)")
    ap.add_argument("--reference", help="reference directory (default: <data>/../reference)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats for fast items (default 7; 3 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats; the slow peer placebo loops are estimated as fit x N")
    ap.add_argument("--pysyncon-v", choices=("var", "normalized"), default="var",
                    help="pysyncon custom_V: the predictor-row variances (default; objective = 0.5 SSR) "
                         "or those divided by their sum (same argmin, objective scaled down)")
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    args = ap.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    repeats = max(1, repeats)
    budget = 1.5 if args.quick else 5.0  # seconds of timed calls per item, at most (>= 1 call)

    data, ref_dir = data_dirs(args, REPO)

    out = {"date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": {}, "settings": {"repeats": repeats, "quick": args.quick, "budget_s": budget,
                        "pysyncon_v": args.pysyncon_v},
           "panels": {}, "targets": {}}

    # ---- header
    mach = machine_info(IMPORT_NOTES, _BLAS_PRESET)
    out["machine"] = mach
    print_header("Outcome-only synthetic control benchmark", out["date_utc"], mach)
    if mach["OPENBLAS_CORETYPE"]:
        print(f"  note: OPENBLAS_CORETYPE={mach['OPENBLAS_CORETYPE']} is set (can slow numpy's BLAS)")
    for name in ("mlsynth", "pysyncon"):
        print(f"  {name}: {IMPORT_NOTES[name]}")
    preset = ", ".join(f"{k}={v}" for k, v in _BLAS_PRESET.items()) or "none preset"
    print(f"  BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']} (OPENBLAS/OMP/MKL_NUM_THREADS default to 1 "
          f"here; environment: {preset})")
    print(f"  timing: median (and min) of up to {repeats} repeats (items under ~70 ms: as many as fit in 0.5 s, <= 200) after 1 warm-up, <= {budget:g} s of timed calls "
          f"per item (slow items get fewer; 'n' = repeats used); '~' = estimated as fit x N")
    print(f"  data: {data}    reference: {ref_dir}")

    # ---- data and panels (not timed)
    smoking = pd.read_csv(data / "smoking.csv")
    p99 = sc.Panel(smoking, unit="state", time="year", outcome="cigsale",
                   treated="California", treatment_time=1989)
    logs = pd.read_csv(data / "synthetic_llm_logs.csv")
    roll = sc.panel_from_events(logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                                cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    gold = json.loads((ref_dir / "prop99_outcome_only_simplex.json").read_text())
    gold_placebo_path = ref_dir / "prop99_placebo_outcome_only.json"
    gold_placebo = json.loads(gold_placebo_path.read_text()) if gold_placebo_path.exists() else None

    designs = [
        (Design("prop99", p99, "all"),
         "Prop 99 (smoking.csv): California vs 38 donor states, fit on 1970-1988 (T0=19, J=38)",
         f"placebo test, {39} fits: California + each of the 38 donors as the target, "
         f"the other 38 units as donors (ADH 2010, donor_pool='all')"),
        (Design("rollout", roll, "donors"),
         "Global rollout (synthetic_llm_logs.csv): mean of workspaces 0-24 vs donors 25-49, "
         "weeks 0-29, fit on weeks 0-19 (T0=20, J=25)",
         "placebo test, 26 fits: the treated fit + 25 placebos (each donor vs the other 24)"),
    ]
    w_gold = np.array([gold["weights"][str(d)] for d in p99.donors])

    targets_lines = []
    for dz, title, ptitle in designs:
        panel = dz.panel
        is99 = dz.name == "prop99"
        X, y = dz.X_pre, dz.y_pre
        N = dz.Z.shape[1]
        n_fits = len(dz.fits)
        print("\n" + "=" * 118)
        print(title)

        # ---------- ours
        res = sc.SyntheticControl().fit(panel)
        w_ours = res.weights.to_numpy()
        w_ref = w_gold if is99 else w_ours
        ref_name = "max|w-w_gold|" if is99 else "max|w-w_ours|"
        mse_ours = pre_mse(X, y, w_ours)
        if not is99:
            print(f"  treated pre / post mean {y.mean():.4f} / {panel.y_treated[panel.post].mean():.4f} "
                  f"(tutorial: 0.5927 / 0.6421); ours pre-MSE {mse_ours:.6f} (tutorial SLSQP: 0.001400)")
        t_api = bench(lambda: sc.SyntheticControl().fit(panel), repeats, budget=budget)
        t_kern = bench(lambda: simplex_ls(X, y), repeats, budget=budget)
        kfit = simplex_ls(X, y)
        fit_rows = [
            Row("fit", "ours: SyntheticControl().fit(panel)", t_api,
                wdiff=float(np.abs(w_ours - w_ref).max()), mse=mse_ours,
                note=f"KKT violation {res.diagnostics['kkt_violation']:.1e}, duality gap "
                     f"{res.diagnostics['duality_gap']:.1e}"),
            Row("fit", "ours kernel: simplex_ls(X_pre, y_pre)", t_kern,
                wdiff=float(np.abs(kfit.weights - w_ref).max()), mse=pre_mse(X, y, kfit.weights)),
        ]

        # ---------- SLSQP (seed tutorial)
        t = bench(lambda: slsqp_tutorial(X, y), repeats, budget=budget)
        w = slsqp_tutorial(X, y)
        fit_rows.append(Row("fit", "scipy SLSQP, seed tutorial", t,
                            wdiff=float(np.abs(w - w_ref).max()), mse=pre_mse(X, y, w)))

        # ---------- mlsynth
        long = pd.DataFrame({
            "unit": np.repeat(dz.labels, len(panel.times)),
            "time": np.tile(np.asarray(panel.times), N),
            "y": dz.Z.T.ravel(),
        })
        t_post = np.asarray(panel.post)

        def long_with_target(target_label, drop=()):
            d = long[~long.unit.isin(drop)].copy()
            d["treat"] = ((d.unit == target_label) & np.tile(t_post, d.unit.nunique())).astype(int)
            return d

        ml_fit_row = ml_kern_row = None
        if mlsynth is not None:
            def ml_cfg(dframe, inference):
                return VanillaSCConfig(df=dframe, outcome="y", treat="treat", unitid="unit", time="time",
                                       backend="outcome-only", inference=inference, display_graphs=False)

            C_fit = ml_cfg(long_with_target(dz.labels[0]), False)

            def ml_weights(result, donor_labels):
                dw = result.weights.donor_weights
                return np.array([float(dw.get(str(lab), 0.0)) for lab in donor_labels])

            with quiet():
                t = bench(lambda: VanillaSC(C_fit).fit(), repeats, budget=budget)
                w = ml_weights(VanillaSC(C_fit).fit(), dz.labels[1:])
            ml_fit_row = Row("fit", "mlsynth VanillaSC(outcome-only).fit()", t,
                             wdiff=float(np.abs(w - w_ref).max()), mse=pre_mse(X, y, w))
            t = bench(lambda: ml_solve_simplex_qp(X, y), repeats, budget=budget)
            w = ml_solve_simplex_qp(X, y)
            ml_kern_row = Row("fit", "mlsynth kernel: active_set.solve_simplex_qp(X, y)", t,
                              wdiff=float(np.abs(w - w_ref).max()), mse=pre_mse(X, y, w))
            fit_rows += [ml_fit_row, ml_kern_row]
        else:
            fit_rows.append(Row("fit", "mlsynth", None, note=IMPORT_NOTES["mlsynth"]))

        # ---------- pysyncon
        pre_times = list(np.asarray(panel.times)[~t_post])
        if pysyncon is not None:
            def ps_dataprep(target, controls, frame=long):
                return Dataprep(foo=frame, predictors=[], predictors_op="mean", dependent="y",
                                unit_variable="unit", time_variable="time", treatment_identifier=target,
                                controls_identifier=list(controls), time_predictors_prior=pre_times,
                                time_optimize_ssr=pre_times,
                                special_predictors=[("y", [tt], "mean") for tt in pre_times])

            def ps_V(cols):
                # pysyncon divides each predictor row by its std over the fit's units (ddof=1);
                # custom_V = that variance undoes it, so the inner QP is the plain SSR
                # (0.5 SSR - const); "normalized" divides V by its sum (same argmin, smaller scale).
                v = dz.Z_pre[:, cols].std(axis=1, ddof=1) ** 2
                return v / v.sum() if args.pysyncon_v == "normalized" else v

            dp_fit = ps_dataprep(dz.labels[0], dz.labels[1:])
            V_fit = ps_V(np.arange(N))
            s = Synth()
            with quiet():
                t = bench(lambda: s.fit(dataprep=dp_fit, custom_V=V_fit), repeats, budget=budget)
                s.fit(dataprep=dp_fit, custom_V=V_fit)
            w = np.asarray(s.W)
            ps_fit_row = Row("fit", "pysyncon Dataprep + Synth.fit(custom_V)", t,
                             wdiff=float(np.abs(w - w_ref).max()), mse=pre_mse(X, y, w),
                             note="Dataprep: one special predictor per pre-period outcome; custom_V = "
                                  "row variances" + (" / their sum" if args.pysyncon_v == "normalized" else "")
                                  + ", so the inner SLSQP minimises the plain SSR")
            # the same solve from prebuilt matrices (skips Dataprep's predictor assembly)
            X0m = pd.DataFrame(dz.Z_pre[:, 1:], columns=dz.labels[1:])
            X1m = pd.Series(dz.Z_pre[:, 0], name=dz.labels[0])
            s2 = Synth()
            with quiet():
                t = bench(lambda: s2.fit(X0=X0m, X1=X1m, Z0=X0m, Z1=X1m, custom_V=V_fit), repeats,
                          budget=budget)
                s2.fit(X0=X0m, X1=X1m, Z0=X0m, Z1=X1m, custom_V=V_fit)
            w = np.asarray(s2.W)
            ps_mat_row = Row("fit", "pysyncon Synth.fit(X0=Z0=Y_pre, custom_V), no Dataprep", t,
                             wdiff=float(np.abs(w - w_ref).max()), mse=pre_mse(X, y, w))
            fit_rows += [ps_fit_row, ps_mat_row]
        else:
            fit_rows.append(Row("fit", "pysyncon", None, note=IMPORT_NOTES["pysyncon"]))

        # ================================================================ placebo
        pool = "all" if is99 else "donors"
        stat = "rmspe_ratio" if is99 else "mean_gap"

        def ours_placebo():
            r = sc.SyntheticControl().fit(panel)
            return r.placebo(statistic=stat, donor_pool=pool)

        tp_api = bench(ours_placebo, repeats, budget=budget)
        inf = ours_placebo()
        tab = inf.details["table"]
        ours_mse = {0: float(tab["pre_rmspe"].iloc[0]) ** 2}
        ours_mse.update({i: float(tab["pre_rmspe"].iloc[i]) ** 2 for i in range(1, N)})
        note = f"p = {inf.p_value:.4f} ({stat}); max KKT {inf.details['max_kkt_violation']:.1e}"
        if is99 and gold_placebo is not None:
            g = {u["unit"]: u["pre_rmspe"] for u in gold_placebo["per_unit"]}
            dev = max(abs(float(tab["pre_rmspe"].iloc[i]) - g[dz.labels[i]]) / g[dz.labels[i]]
                      for i in range(N))
            note += (f"; vs R quadprog gold: max rel |pre-RMSPE diff| {dev:.1e}, "
                     f"p {gold_placebo['p_value']:.4f}")
        call = 'donor_pool="all"' if is99 else 'statistic="mean_gap"'
        plac_rows = [Row("placebo", f"ours: fit + res.placebo({call})",
                         tp_api, excess=dz.worst_excess(ours_mse), fits=n_fits, note=note)]
        res_c = sc.SyntheticControl().fit(panel)

        def ours_placebo_only():
            res_c._memo.clear()
            res_c.placebo(statistic=stat, donor_pool=pool)

        plac_rows.append(Row("placebo", f"ours: res.placebo() only, _memo cleared ({n_fits - 1} fits)",
                             bench(ours_placebo_only, repeats, budget=budget), fits=n_fits - 1))
        targets_k = list(range(N))
        tp_kern = bench(lambda: placebo_fits(dz.Z_pre, targets=targets_k, donor_mask=dz.donor_mask),
                        repeats, budget=budget)
        kf = placebo_fits(dz.Z_pre, targets=targets_k, donor_mask=dz.donor_mask)
        # placebo_fits excludes the target itself; for target 0 with pool "donors" that is the design
        plac_rows.append(Row("placebo", f"ours kernel: placebo_fits(Y_pre) ({n_fits} fits)", tp_kern,
                             fits=n_fits,
                             excess=dz.worst_excess({i: f.ssr / len(y) for i, D, f in kf})))

        # SLSQP loop
        def slsqp_all():
            return {i: slsqp_tutorial(dz.Z_pre[:, D], dz.Z_pre[:, i]) for i, D in dz.fits}

        t = bench(slsqp_all, repeats, budget=budget, warmup=lambda: slsqp_tutorial(X, y))
        ws = slsqp_all()
        exc, nt = dz.excess({i: pre_mse(dz.Z_pre[:, D], dz.Z_pre[:, i], ws[i]) for i, D in dz.fits})
        plac_rows.append(Row("placebo", f"scipy SLSQP, seed tutorial (fits x {n_fits})", t, fits=n_fits,
                             excess=exc, note=nt))

        # mlsynth
        if mlsynth is not None:
            if is99:
                # exact design: one VanillaSC fit per target (configs built outside the timer)
                cfgs = [(i, D, ml_cfg(long_with_target(dz.labels[i]), False)) for i, D in dz.fits]

                def ml_loop():
                    return {i: VanillaSC(C).fit() for i, D, C in cfgs}

                if args.quick:
                    tm = Timing([ml_fit_row.timing.median * n_fits], estimated=True)
                    exc, nt = None, "estimated (--quick)"
                else:
                    with quiet():
                        tm = bench(ml_loop, repeats, budget=budget, warmup=lambda: VanillaSC(C_fit).fit())
                        rr = ml_loop()
                    exc, nt = dz.excess({i: pre_mse(dz.Z_pre[:, D], dz.Z_pre[:, i],
                                                    ml_weights(rr[i], [dz.labels[j] for j in D]))
                                         for i, D in dz.fits})
                plac_rows.append(Row("placebo", f"mlsynth VanillaSC(outcome-only).fit() (fits x {n_fits})", tm,
                                     fits=n_fits, excess=exc, note=nt))
            # its built-in placebo (inference=True): treated fit + each donor vs the other donors
            C_inf = ml_cfg(long_with_target(dz.labels[0]), True)
            with quiet():
                tm = bench(lambda: VanillaSC(C_inf).fit(), repeats, budget=budget)
                rr = VanillaSC(C_inf).fit()
            p_ml = rr.inference.p_value
            lab = f"mlsynth VanillaSC(inference=True), built-in ({N} fits)"
            nt = (f"design: treated fit + {N - 1} placebos, each donor vs the other {N - 2} donors "
                  f"(treated unit never a donor{'; not the 39-fit ADH design above' if is99 else ''}); "
                  f"p = {p_ml:.4f} (rmspe ratio); no per-fit weights returned")
            plac_rows.append(Row("placebo", lab, tm, fits=N, note=nt))
        else:
            plac_rows.append(Row("placebo", "mlsynth", None, note=IMPORT_NOTES["mlsynth"]))

        # pysyncon
        if pysyncon is not None:
            if is99:
                dps = [(i, D, ps_dataprep(dz.labels[i], [dz.labels[j] for j in D]), ps_V(np.r_[i, D]))
                       for i, D in dz.fits]

                def ps_loop():
                    out_w = {}
                    for i, D, dp, V in dps:
                        sm = Synth()
                        sm.fit(dataprep=dp, custom_V=V)
                        out_w[i] = np.asarray(sm.W)
                    return out_w

                if args.quick:
                    tm = Timing([ps_fit_row.timing.median * n_fits], estimated=True)
                    exc, nt = None, "estimated (--quick)"
                else:
                    with quiet():
                        # warm-up: one fit (the single-fit timing above already warmed everything)
                        tm = bench(ps_loop, 1, budget=budget,
                                   warmup=lambda: Synth().fit(dataprep=dp_fit, custom_V=V_fit))
                        wps = ps_loop()
                    exc, nt = dz.excess({i: pre_mse(dz.Z_pre[:, D], dz.Z_pre[:, i], wps[i])
                                         for i, D in dz.fits})
                    n_start = sum(bool(np.allclose(w_, 1.0 / len(w_), rtol=0, atol=1e-9)) for w_ in wps.values())
                    if n_start:
                        nt += (f"; {n_start} fit(s) returned SLSQP's uniform start weights 1/J "
                               f"(reported success)")
                plac_rows.append(Row("placebo", f"pysyncon Dataprep + Synth.fit (fits x {n_fits})",
                                     tm, fits=n_fits, excess=exc, note=nt))
            # its built-in PlaceboTest: each control vs the other controls, then the treated fit
            V_ctrl = ps_V(np.arange(1, N))

            def ps_placebo():
                pt = PlaceboTest()
                pt.fit(dataprep=dp_fit, scm=Synth(), scm_options={"custom_V": V_ctrl},
                       max_workers=1, verbose=False)
                return pt

            if args.quick:
                tm = Timing([ps_fit_row.timing.median * N], estimated=True)
                exc, ex_note = None, "estimated (--quick); "
            else:
                with quiet():
                    tm = bench(ps_placebo, 1, budget=budget,
                               warmup=lambda: Synth().fit(dataprep=dp_fit, custom_V=V_fit))
                    pt = ps_placebo()
                exc_d = {i: float(np.mean(pt.gaps.loc[pre_times, dz.labels[i]].to_numpy() ** 2))
                         for i in range(1, N)}
                # reference for this design: the placebo fits exclude the treated unit
                ref_mse = np.full(N, np.nan)
                for i in range(1, N):
                    D = np.array([j for j in range(1, N) if j != i])
                    ref_mse[i] = simplex_ls(dz.Z_pre[:, D], dz.Z_pre[:, i]).ssr / len(y)
                exc, ex_note = dz.excess(exc_d, ref_mse=ref_mse)
                ex_note = (ex_note + "; ") if ex_note else ""
            nt = ex_note + (f"design: {N - 1} placebos, each donor vs the other {N - 2} donors, + the treated fit; "
                  f"runs in a ProcessPoolExecutor (max_workers=1: one worker, no parallelism)")
            if is99:
                nt += "; not the 39-fit ADH design above"
            plac_rows.append(Row("placebo", f"pysyncon PlaceboTest built-in ({N} fits)", tm, fits=N,
                                 excess=exc, note=nt))
        else:
            plac_rows.append(Row("placebo", "pysyncon", None, note=IMPORT_NOTES["pysyncon"]))

        # ---------- print
        api_fit, kern_fit = t_api.median, t_kern.median
        print_part("(a) one outcome-only fit                            [ratios: peer time / ours; "
                   f"accuracy vs {'R quadprog gold' if is99 else 'ours'}]",
                   fit_rows, api_fit, kern_fit, ref_name)
        print_part(f"(b) {ptitle}\n      [accuracy: worst relative pre-MSE excess over the exact per-fit "
                   f"optimum, max over the fits]", plac_rows, tp_api.median, tp_kern.median, "MSE excess",
                   show_mse=False)

        # ---------- targets
        sl = next(r for r in fit_rows if r.label.startswith("scipy SLSQP")).timing.median
        r_api, r_kern = sl / api_fit, sl / kern_fit
        line = (f"[{dz.name}] one fit >= 100x faster than SLSQP: public API {r_api:.0f}x "
                f"({'MET' if r_api >= 100 else 'not met'}), kernel {r_kern:.0f}x "
                f"({'MET' if r_kern >= 100 else 'not met'})")
        targets_lines.append(line)
        out["targets"][f"{dz.name}_fit_speedup_vs_slsqp"] = {"api": r_api, "kernel": r_kern,
                                                             "goal": 100, "met_api": r_api >= 100,
                                                             "met_kernel": r_kern >= 100}
        if is99:
            tp = tp_api.median
            targets_lines.append(f"[prop99] 39-fit placebo < 20 ms: public API {fmt_t(tp)} "
                                 f"({'MET' if tp < 0.020 else 'not met'}), kernel {fmt_t(tp_kern.median)} "
                                 f"({'MET' if tp_kern.median < 0.020 else 'not met'})")
            out["targets"]["prop99_placebo_under_20ms"] = {"api_s": tp, "kernel_s": tp_kern.median,
                                                           "goal_s": 0.020, "met_api": tp < 0.020,
                                                           "met_kernel": tp_kern.median < 0.020}
        out["panels"][dz.name] = {
            "title": title, "placebo_design": ptitle, "n_placebo_fits": n_fits,
            "reference_kkt_max": dz.ref_kkt,
            "fit": [r.as_dict(api_fit, kern_fit) for r in fit_rows],
            "placebo": [r.as_dict(tp_api.median, tp_kern.median) for r in plac_rows],
        }

    print("\n" + "=" * 118)
    print("Targets (facts, not assertions):")
    for line in targets_lines:
        print("  " + line)
    return finish(out, args.json, _T_START)


if __name__ == "__main__":
    sys.exit(main())
