#!/usr/bin/env python
"""Synthetic experimental design (SYNDES): the Section 5 simulation, all three designs vs randomised DiM.

Reproduces the Monte Carlo of the SYNDES verification note (Doudchenko, Khosravi, Pouget-Abadie,
Lahaie, Lubin, Mirrokni, Spiess & Imbens 2021, arXiv:2112.00278, Section 5): every replication draws
a fresh panel, chooses the design on the pre-period, injects an effect into the chosen treated units'
post-periods, estimates the ATT and runs the moving-block permutation test.

Generator (one fresh draw of everything per replication)
--------------------------------------------------------
    N = 10 units, T_pre = 18, T_post = 6 (T = 24), K = 3 treated, sigma = 0.25

    y_it = alpha_i + lambda_i1 F_1t + lambda_i2 F_2t + eps_it

    alpha_i    ~ U(8, 12)                      unit levels
    lambda_if  ~ U(0.3, 1)                     loadings on 2 factors
    F_ft       = 0.7 F_f,t-1 + sqrt(1 - 0.7^2) u_ft,  u_ft ~ N(0, 1),  F_f1 ~ N(0, 1)
                                               (stationary AR(1), unit variance)
    eps_it     ~ N(0, sigma^2), sigma = 0.25

Procedure
---------
* Pilot (its own seed stream, ``--pilot`` replications, no effect): the analytic MDE of each design
  at horizon h = T_post = 6 (``DesignResult.mde``: 5% two-sided, 80% power, Newey-West long-run SD of
  the pre-period contrast).  tau = the mean of the pilot MDEs over the replications and the three
  designs: one effect size for every design.
* Main run (``--reps`` replications).  For each design (``two_way_global``, ``one_way_global``,
  ``per_unit``; lam default = the mean pre-period variance of the units; ``solver="exact"``):
    - size: ``SyntheticDesign(K=3, mode=...).fit(panel, T0=18)`` on the panel without effect;
    - power: the same panel with tau added to the chosen treated units' six post-periods, fitted
      again (the design depends on the pre-period only, so it is the same design: checked);
  the ATT estimate is ``post_fit["ate"]`` (the post-period mean of the contrast), the test
  ``inference.p_value`` (moving-block permutation test over the T = 24 cyclic shifts), rejection when
  p <= 0.05.  With 24 shifts the smallest attainable p-value is 1/24 = 0.0417 (ties count against
  rejection), so "p <= 0.05" means "p = 1/24": the observed post block has the strictly largest
  |mean| of the 24 blocks; under exact exchangeability the size is 1/24, not 0.05.
  The size run and the power run use the same panels (common random numbers).
* Randomised difference-in-means baseline: K = 3 units drawn at random (a separate seed stream), the
  estimate is the mean of the treated units' post-period outcomes minus the mean of the other
  units' post-period outcomes (no pre-period adjustment: the seed's "randomized DiM").  Its test: the
  same moving-block permutation test applied to its contrast series (1/K on the treated, -1/(N-K) on
  the others).

Reported per design: the MDE (mean over the main replications of ``DesignResult.mde``), bias and RMSE
of the ATT estimate (errors estimate - tau of the power run; by construction equal to the size run's
estimate, see above), size and power at 5%; each with its Monte-Carlo standard error (SE of the mean
for the MDE and the bias, binomial sqrt(p(1-p)/R) for size and power, the delta method
SD(e^2) / (2 RMSE sqrt(R)) for the RMSE).

    python benchmarks/design_simulation.py [--reps 200] [--pilot 50] [--seed 20211201] [--markdown PATH]

Single process (n_jobs=1), BLAS pinned to one thread.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import pin_blas, write_outputs  # noqa: E402

pin_blas()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

N, T_PRE, T_POST, K, SIGMA = 10, 18, 6, 3, 0.25
T = T_PRE + T_POST
N_FACTORS, RHO, LOAD_LO, LOAD_HI, LEVEL_LO, LEVEL_HI = 2, 0.7, 0.3, 1.0, 8.0, 12.0
MODES = ("two_way_global", "one_way_global", "per_unit")
LEVEL = 0.05
SEED_DEFAULT = 20211201


def draw_panel(rng, levels=(LEVEL_LO, LEVEL_HI)) -> np.ndarray:
    """One panel, T x N (periods in rows), from the generator in the module docstring."""
    alpha = rng.uniform(levels[0], levels[1], N)
    lam = rng.uniform(LOAD_LO, LOAD_HI, (N, N_FACTORS))
    F = np.empty((T, N_FACTORS))
    F[0] = rng.standard_normal(N_FACTORS)
    s = math.sqrt(1.0 - RHO ** 2)
    for t in range(1, T):
        F[t] = RHO * F[t - 1] + s * rng.standard_normal(N_FACTORS)
    return alpha + F @ lam.T + rng.normal(0.0, SIGMA, (T, N))


def long_frame(Y: np.ndarray) -> pd.DataFrame:
    Tn, Nn = Y.shape
    return pd.DataFrame({"unit": np.repeat(np.arange(Nn), Tn), "t": np.tile(np.arange(Tn), Nn),
                         "y": Y.T.ravel()})


def fit(mode, Y):
    import synthcontrol as sc
    return sc.SyntheticDesign(K=K, mode=mode, solver="exact").fit(long_frame(Y), unit="unit", time="t",
                                                                   outcome="y", T0=T_PRE)


def with_effect(Y, treated, tau):
    Y1 = Y.copy()
    Y1[T_PRE:, list(treated)] += tau
    return Y1


def pilot_mde(n, seed):
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(n)]
    mdes = {m: [] for m in MODES}
    for rng in rngs:
        Y = draw_panel(rng)
        for m in MODES:
            mdes[m].append(fit(m, Y).mde)
    return {m: np.asarray(v) for m, v in mdes.items()}


def dim_contrast(treated):
    c = np.full(N, -1.0 / (N - K))
    c[list(treated)] = 1.0 / K
    return c


def main_run(n, seed, tau, levels=(LEVEL_LO, LEVEL_HI)):
    from synthcontrol.design.power import block_permutation_pvalue, block_permutation_test
    panel_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 2]).spawn(n)]
    dim_rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    rows = []
    for r, rng in enumerate(panel_rngs):
        Y = draw_panel(rng, levels)
        for m in MODES:
            r0 = fit(m, Y)
            r1 = fit(m, with_effect(Y, [int(u) for u in r0.treated], tau))
            if list(r1.treated) != list(r0.treated):
                raise RuntimeError(f"replication {r}, {m}: the design changed with the post-period effect")
            rows.append(dict(rep=r, design=m, mde=r0.mde, est0=r0.post_fit["ate"], p0=r0.inference.p_value,
                             est1=r1.post_fit["ate"], p1=r1.inference.p_value, proven=r0.proven_optimal,
                             pre_rmse=r0.pre_fit_rmse,
                             # the same test on the design's own (fixed) contrast, for comparison
                             p0_fixed=block_permutation_pvalue(r0.contrast_series.to_numpy(), T_PRE),
                             p1_fixed=block_permutation_pvalue(r1.contrast_series.to_numpy(), T_PRE),
                             covered=r1.inference.ci_lower <= tau <= r1.inference.ci_upper))
        treated = np.sort(dim_rng.choice(N, K, replace=False))
        c = dim_contrast(treated)
        for tau_, key in ((0.0, 0), (tau, 1)):
            g = with_effect(Y, treated, tau_) @ c
            t = block_permutation_test(g, T_PRE, alpha=0.1)
            if key == 0:
                est0, p0 = float(g[T_PRE:].mean()), t["p_value"]
            else:
                est1, p1 = float(g[T_PRE:].mean()), t["p_value"]
        rows.append(dict(rep=r, design="random DiM", mde=math.nan, est0=est0, p0=p0, est1=est1, p1=p1,
                         p0_fixed=p0, p1_fixed=p1, covered=math.nan, proven=True, pre_rmse=float(np.sqrt(np.mean((Y[:T_PRE] @ c) ** 2)))))
    return pd.DataFrame(rows)


def summarise(df, tau):
    out = []
    for d in list(MODES) + ["random DiM"]:
        x = df[df.design == d]
        R = len(x)
        e = x.est1.to_numpy() - tau
        mse = float(np.mean(e ** 2))
        rmse = math.sqrt(mse)
        size = float(np.mean(x.p0 <= LEVEL))
        power = float(np.mean(x.p1 <= LEVEL))
        mde = x.mde.to_numpy()
        out.append(dict(
            design=d, R=R,
            mde=float(np.mean(mde)) if np.isfinite(mde).all() else math.nan,
            mde_se=float(np.std(mde, ddof=1) / math.sqrt(R)) if np.isfinite(mde).all() else math.nan,
            bias=float(np.mean(e)), bias_se=float(np.std(e, ddof=1) / math.sqrt(R)),
            rmse=rmse, rmse_se=float(np.std(e ** 2, ddof=1) / math.sqrt(R) / (2 * rmse)),
            size=size, size_se=math.sqrt(size * (1 - size) / R),
            power=power, power_se=math.sqrt(power * (1 - power) / R),
            size10=float(np.mean(x.p0 <= 0.10)), power10=float(np.mean(x.p1 <= 0.10)),
            size_fixed=float(np.mean(x.p0_fixed <= LEVEL)), power_fixed=float(np.mean(x.p1_fixed <= LEVEL)),
            coverage=float(np.mean(x.covered.astype(float))),
            proven=float(np.mean(x.proven)), pre_rmse=float(np.mean(x.pre_rmse)),
            crn_check=float(np.max(np.abs((x.est1 - x.est0).to_numpy() - tau))),
        ))
    return pd.DataFrame(out)


def fmt(v, se, d=3):
    if not math.isfinite(v):
        return "--"
    return f"{v:.{d}f} ± {se:.{d}f}"


def markdown(s, tau, args, pilot, secs):
    lines = [
        f"N = {N}, T_pre = {T_PRE}, T_post = {T_POST}, K = {K}, sigma = {SIGMA}; {args.reps} replications "
        f"(seed {args.seed}); levels U({args.levels[0]:g}, {args.levels[1]:g}); tau = {tau:.4f} "
        + (f"(mean analytic MDE at h = {T_POST} over a {args.pilot}-replication pilot: "
           + ", ".join(f"{m} {pilot[m].mean():.4f}" for m in MODES) + "). " if pilot is not None else "(given). ")
        + "Reject when p <= 0.05 (attainable: p = 1/24 = 0.0417 only). ± = Monte-Carlo SE. The test is the "
          "default (weights refitted under the null); 'fixed' is the same shifts of the design's own contrast; "
          "coverage is that of the 90% interval at the true tau.",
        "",
        "| design | MDE | bias | RMSE | size (5%) | power (5%) | size / power at 10% | fixed: size / power (5%) "
        "| 90% CI coverage | pre-fit RMSE | proven optimal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for _, r in s.iterrows():
        name = f"`{r.design}`" if r.design in MODES else r.design + " (baseline)"
        lines.append(f"| {name} | {fmt(r.mde, r.mde_se)} | {fmt(r.bias, r.bias_se)} | {fmt(r.rmse, r.rmse_se)} | "
                     f"{fmt(r['size'], r.size_se, 3)} | {fmt(r['power'], r.power_se, 3)} | "
                     f"{r.size10:.3f} / {r.power10:.3f} | {r.size_fixed:.3f} / {r.power_fixed:.3f} | "
                     f"{'--' if not math.isfinite(r.coverage) else f'{r.coverage:.3f}'} | {r.pre_rmse:.3f} | "
                     f"{'--' if r.design not in MODES else f'{100 * r.proven:.0f}%'} |")
    dim = s[s.design == "random DiM"].iloc[0]
    ratios = ", ".join(f"{r.design} {dim.rmse / r.rmse:.1f}x" for _, r in s.iterrows() if r.design in MODES)
    lines += ["", f"RMSE of randomised DiM / RMSE of the design: {ratios}. Wall time {secs:.0f} s."]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--pilot", type=int, default=50)
    ap.add_argument("--seed", type=int, default=SEED_DEFAULT)
    ap.add_argument("--tau", type=float, default=None, help="skip the pilot and use this effect size")
    ap.add_argument("--levels", type=float, nargs=2, default=(LEVEL_LO, LEVEL_HI), metavar=("LO", "HI"),
                    help="range of the unit levels (a sensitivity check; the pilot always uses U(8, 12))")
    ap.add_argument("--markdown", default=None, help="also write the markdown table to this file")
    ap.add_argument("--csv", default=None, help="write the per-replication rows to this CSV")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the HAC-reliability note (T0 < 4h) is in the power curve's table
        if args.tau is None:
            pilot = pilot_mde(args.pilot, args.seed)
            tau = float(np.mean(np.concatenate([pilot[m] for m in MODES])))
            t_pilot = time.perf_counter() - t_start
            print(f"pilot: {args.pilot} replications in {t_pilot:.1f} s; MDE at h={T_POST}: "
                  + ", ".join(f"{m} {pilot[m].mean():.4f}" for m in MODES) + f"; tau = {tau:.4f}", flush=True)
        else:
            tau, pilot, t_pilot, args.pilot = float(args.tau), None, 0.0, 0
        df = main_run(args.reps, args.seed, tau, tuple(args.levels))
    secs = time.perf_counter() - t_start
    s = summarise(df, tau)
    if (s.crn_check > 1e-9).any():
        raise RuntimeError(f"estimate with effect - estimate without != tau: {s.crn_check.max()}")
    md = markdown(s, tau, args, pilot, secs)
    print(md)
    print(f"\nwall time {secs:.1f} s (pilot {t_pilot:.1f} s); load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores")
    write_outputs(md, df, args.markdown, args.csv)
    return s


if __name__ == "__main__":
    main()
