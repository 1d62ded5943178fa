"""Size, power and coverage of the leave-two-out test, SCPI intervals and the debiased t-test.

Run: ``python docs/sim_modern_inference.py`` (one process, one BLAS thread; about 11 minutes with
the defaults on one core of the development machine).  It prints the tables quoted in
``docs/modern_inference.md``, writes ``docs/img/modern_inference_coverage.png`` and the numbers
behind it to ``docs/img/modern_inference_coverage.json``.  ``--quick`` runs a few replications of
each part to check timing (nothing written); ``--plot-only`` redraws the figure from the JSON.

Data-generating process (a linear factor model with a known effect)::

    y_it = lambda_t' mu_i + e_it,   e_it ~ N(0, 1) iid,
    lambda_kt = 0.7 lambda_k,t-1 + N(0, 1)      (3 stationary AR(1) factors),
    mu_i = 4 pi_i,   pi_i on the 2-simplex.

The loadings lie in a triangle with corners ``4 e_1``, ``4 e_2``, ``4 e_3``.  Each corner is held
by two units (``pi_i`` a unit vector) and the other ``N - 6`` units are drawn inside
(``pi_i ~ Dirichlet(1, 1, 1)``).  So *every* unit's loadings are a convex combination of the
others' loadings, and synthetic control is well specified whichever unit is treated.  The treated
unit is drawn uniformly from the ``N`` units, as the placebo and leave-two-out tests assume.  Under
the alternative its outcome gets ``+tau`` in every post period (``tau = 2``, two noise SDs).

Part A (size and power, alpha = 0.05; N = 10 and 30; T0 = 30, T1 = 10): the in-space placebo test
with the post/pre RMSPE ratio (``donor_pool="all"``, exact under uniform assignment, and the default
``donor_pool="donors"``), and the leave-two-out test (naive ``p <= 0.05`` and the powered
decision ``reject_at_alpha``).  The null and alternative panels of a replication share their
draws; only the effect differs.

Part B (coverage; N = 20, T0 = 40, T1 = 10, tau = 2): SCPI intervals (alpha = 0.05 for both
pieces, nominal 90%, Gaussian out-of-sample bounds, ``sims`` in-sample draws) per period, jointly
over the 10 periods (simultaneous band) and for the ATT; the t-test's ATT interval (K = 3,
alpha = 0.1, nominal 90%).  Reported: coverage of the true effect, the mean interval width, with
Monte-Carlo standard errors (per-period coverage is averaged within a replication first, so its
standard error accounts for the periods' correlation).

Every replication has its own seed (``numpy.random.SeedSequence(seed).spawn``), so any subset of
replications can be rerun alone.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core: leave the other free
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import synthcontrol as sc  # noqa: E402
from synthcontrol.inference.lto import lto_type_i_bound  # noqa: E402

K_FACTORS, RHO, SCALE, TAU, ALPHA = 3, 0.7, 4.0, 2.0, 0.05
A_DESIGN = {"T0": 30, "T1": 10}
B_DESIGN = {"N": 20, "T0": 40, "T1": 10}
HERE = Path(__file__).resolve().parent


def loadings(rng, N):
    """(N, 3): two units at each corner of the loading triangle, the rest inside."""
    corners = np.repeat(np.eye(K_FACTORS), 2, axis=0)
    inside = rng.dirichlet(np.ones(K_FACTORS), size=N - len(corners))
    return SCALE * np.vstack([corners, inside])


def untreated_panel(rng, N, T):
    """(T, N) untreated outcomes."""
    f = np.empty((T, K_FACTORS))
    f[0] = rng.normal(size=K_FACTORS) / math.sqrt(1 - RHO ** 2)  # stationary start
    for t in range(1, T):
        f[t] = RHO * f[t - 1] + rng.normal(size=K_FACTORS)
    return f @ loadings(rng, N).T + rng.normal(size=(T, N))


def to_panel(Y, treated, T0):
    T, N = Y.shape
    df = pd.DataFrame({"unit": np.repeat(np.arange(N), T), "t": np.tile(np.arange(T), N),
                       "y": Y.T.ravel()})
    return sc.Panel(df, unit="unit", time="t", outcome="y", treated=int(treated), treatment_time=T0)


def rate(x):
    """Mean and Monte-Carlo standard error of per-replication numbers."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


# ------------------------------------------------------------------------------------------------
# part A: size and power

def part_a_rep(seed, N):
    rng = np.random.default_rng(seed)
    T0, T1 = A_DESIGN["T0"], A_DESIGN["T1"]
    Y = untreated_panel(rng, N, T0 + T1)
    treated = int(rng.integers(N))  # uniform assignment
    out = {}
    for label, tau in (("null", 0.0), ("effect", TAU)):
        Yl = Y.copy()
        Yl[T0:, treated] += tau
        res = sc.SyntheticControl().fit(to_panel(Yl, treated, T0))
        p_all = res.placebo(statistic="rmspe_ratio", donor_pool="all").p_value
        p_don = res.placebo(statistic="rmspe_ratio").p_value
        lto = res.lto(alpha=ALPHA)
        out[label] = {"placebo_all": p_all <= ALPHA, "placebo_donors": p_don <= ALPHA,
                      "lto_naive": lto.p_value <= ALPHA, "lto_powered": lto.details["reject_at_alpha"],
                      "placebo_all_p": p_all, "lto_p": lto.p_value}
    return out


TESTS_A = (("placebo_all", "placebo, donor_pool='all' (p <= 0.05)"),
           ("placebo_donors", "placebo, donor_pool='donors' (p <= 0.05)"),
           ("lto_naive", "LTO naive (p <= 0.05)"),
           ("lto_powered", "LTO powered (reject_at_alpha)"))


def run_part_a(seeds, Ns):
    rows = []
    for N in Ns:
        reps = [part_a_rep(s, N) for s in seeds[N]]
        bounds = {"placebo_all": math.floor(ALPHA * N + 1e-12) / N,
                  "placebo_donors": math.floor(ALPHA * N + 1e-12) / N,
                  "lto_naive": lto_type_i_bound(N, ALPHA), "lto_powered": lto_type_i_bound(N, ALPHA)}
        for key, name in TESTS_A:
            size, size_se = rate([r["null"][key] for r in reps])
            power, power_se = rate([r["effect"][key] for r in reps])
            rows.append({"N": N, "test": name, "key": key, "size": size, "size_se": size_se,
                         "type_i_bound": bounds[key], "power": power, "power_se": power_se,
                         "reps": len(reps)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# part B: coverage

def part_b_rep(seed, sims):
    rng = np.random.default_rng(seed)
    N, T0, T1 = B_DESIGN["N"], B_DESIGN["T0"], B_DESIGN["T1"]
    Y = untreated_panel(rng, N, T0 + T1)
    treated = int(rng.integers(N))
    Y[T0:, treated] += TAU
    res = sc.SyntheticControl().fit(to_panel(Y, treated, T0))
    s = res.scpi(alpha=ALPHA, sims=sims, e_method="gaussian", seed=int(rng.integers(2 ** 31)))
    tab = s.details["table"]
    lo, hi = tab.effect_lower.to_numpy(), tab.effect_upper.to_numpy()
    obs = tab.observed.to_numpy()
    jlo, jhi = obs - tab.joint_cf_upper.to_numpy(), obs - tab.joint_cf_lower.to_numpy()
    t = res.ttest(K=3, alpha=0.1)
    return {
        "scpi_period": float(np.mean((lo <= TAU) & (TAU <= hi))),
        "scpi_period_w": float(np.mean(hi - lo)),
        "scpi_joint": float(np.all((jlo <= TAU) & (TAU <= jhi))),
        "scpi_joint_w": float(np.mean(jhi - jlo)),
        "scpi_att": float(s.ci_lower <= TAU <= s.ci_upper),
        "scpi_att_w": s.ci_upper - s.ci_lower,
        "ttest_att": float(t.ci_lower <= TAU <= t.ci_upper),
        "ttest_att_w": t.ci_upper - t.ci_lower,
        "sc_att_err": res.att - TAU,
        "ttest_att_err": t.details["att"] - TAU,
        "failed_sims": s.details["failed_sims"],
    }


TESTS_B = (("scpi_period", "SCPI per-period effect interval", 0.90),
           ("scpi_joint", "SCPI simultaneous band, all 10 periods", 0.90),
           ("scpi_att", "SCPI ATT interval", 0.90),
           ("ttest_att", "t-test ATT interval (K=3, alpha=0.1)", 0.90))


def run_part_b(seeds, sims):
    reps = [part_b_rep(s, sims) for s in seeds]
    rows = []
    for key, name, nominal in TESTS_B:
        cov, cov_se = rate([r[key] for r in reps])
        w, w_se = rate([r[key + "_w"] for r in reps])
        rows.append({"interval": name, "key": key, "nominal": nominal, "coverage": cov,
                     "coverage_se": cov_se, "mean_width": w, "width_se": w_se, "reps": len(reps)})
    extra = {k: dict(zip(("mean", "se"), rate([r[k] for r in reps])))
             for k in ("sc_att_err", "ttest_att_err")}
    extra["failed_sims_total"] = int(sum(r["failed_sims"] for r in reps))
    return pd.DataFrame(rows), extra


# ------------------------------------------------------------------------------------------------

def figure(tab_a, tab_b, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    short = {"placebo_all": "placebo\n(all)", "placebo_donors": "placebo\n(donors)",
             "lto_naive": "LTO\nnaive", "lto_powered": "LTO\npowered"}
    keys = [k for k, _ in TESTS_A]
    for ax, col, title in ((axes[0], "size", f"size at alpha = {ALPHA} (no effect)"),
                           (axes[1], "power", f"power, effect = {TAU:g} noise SDs")):
        for i, N in enumerate(sorted(tab_a.N.unique())):
            sub = tab_a[tab_a.N == N].set_index("key").loc[keys]
            x = np.arange(len(keys)) + (i - 0.5) * 0.36
            ax.bar(x, sub[col], width=0.36, yerr=2 * sub[col + "_se"], capsize=3, label=f"N = {N}")
            if col == "size":
                ax.scatter(x, sub["type_i_bound"], marker="_", s=300, linewidths=2, color="crimson",
                           zorder=3, label="type-I bound" if i == 0 else None)
        ax.set_xticks(range(len(keys)), [short[k] for k in keys])
        ax.set_title(title)
    axes[0].axhline(ALPHA, color="grey", ls="--", lw=1)
    axes[0].legend(frameon=False, fontsize=8)
    axes[1].set_ylim(0, 1.05)
    ax = axes[2]
    lab = {"scpi_period": "SCPI\nper period", "scpi_joint": "SCPI\njoint band", "scpi_att": "SCPI\nATT",
           "ttest_att": "t-test\nATT"}
    x = np.arange(len(tab_b))
    ax.bar(x, tab_b.coverage, width=0.55, yerr=2 * tab_b.coverage_se, capsize=3, color="tab:green")
    ax.axhline(0.9, color="black", ls="--", lw=1)
    ax.set_xticks(x, [lab[k] for k in tab_b.key])
    ax.set_ylim(0.5, 1.02)
    ax.set_title("coverage of nominal 90% intervals")
    for xi, (c, w) in enumerate(zip(tab_b.coverage, tab_b.mean_width)):
        ax.text(xi, 0.52, f"width\n{w:.2f}", ha="center", fontsize=8)
    fig.text(0.005, 0.005, "bars: +- 2 Monte-Carlo SE", fontsize=7, color="grey")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps-a", type=int, default=1000, help="replications per N in part A")
    ap.add_argument("--reps-b", type=int, default=300, help="replications in part B")
    ap.add_argument("--sims", type=int, default=200, help="SCPI in-sample draws")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--quick", action="store_true", help="a few replications, nothing written")
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw the figure from the JSON of an earlier run (no simulation)")
    args = ap.parse_args(argv)
    img = HERE / "img"
    png = img / "modern_inference_coverage.png"
    if args.plot_only:
        saved = json.loads(png.with_suffix(".json").read_text())
        figure(pd.DataFrame(saved["size_power"]), pd.DataFrame(saved["coverage"]), png)
        print(f"wrote {png}")
        return
    if args.quick:
        args.reps_a, args.reps_b = 10, 5
    Ns = (10, 30)
    root = np.random.SeedSequence(args.seed)
    sa10, sa30, sb = root.spawn(3)
    seeds_a = {10: sa10.spawn(args.reps_a), 30: sa30.spawn(args.reps_a)}
    seeds_b = sb.spawn(args.reps_b)
    pd.set_option("display.width", 140)

    t0 = time.perf_counter()
    tab_a = run_part_a(seeds_a, Ns)
    ta = time.perf_counter() - t0
    print(f"Part A: size and power at alpha = {ALPHA}; T0 = {A_DESIGN['T0']}, T1 = {A_DESIGN['T1']}, "
          f"effect {TAU:g}; {args.reps_a} replications per N; {ta:.0f} s")
    print(tab_a.drop(columns=["key", "reps"]).round(4).to_string(index=False))

    t1 = time.perf_counter()
    tab_b, extra = run_part_b(seeds_b, args.sims)
    tb = time.perf_counter() - t1
    print(f"\nPart B: coverage; N = {B_DESIGN['N']}, T0 = {B_DESIGN['T0']}, T1 = {B_DESIGN['T1']}, "
          f"effect {TAU:g}; {args.reps_b} replications, SCPI sims = {args.sims}; {tb:.0f} s")
    print(tab_b.drop(columns=["key", "reps"]).round(4).to_string(index=False))
    print(f"ATT error (estimate - {TAU:g}): SC {extra['sc_att_err']['mean']:+.4f} "
          f"(se {extra['sc_att_err']['se']:.4f}), debiased t-test {extra['ttest_att_err']['mean']:+.4f} "
          f"(se {extra['ttest_att_err']['se']:.4f}); failed SCPI draws: {extra['failed_sims_total']}")
    total = time.perf_counter() - t0
    print(f"\ntotal {total:.0f} s")
    if args.quick:
        print(f"per replication: part A {ta / (2 * args.reps_a):.3f} s, part B {tb / args.reps_b:.3f} s")
        return
    figure(tab_a, tab_b, png)
    out = {
        "settings": {"seed": args.seed, "alpha": ALPHA, "tau": TAU, "factors": K_FACTORS, "ar1": RHO,
                     "loading_scale": SCALE, "noise_sd": 1.0, "part_a": {**A_DESIGN, "N": list(Ns),
                                                                        "reps": args.reps_a},
                     "part_b": {**B_DESIGN, "reps": args.reps_b, "scpi_sims": args.sims,
                                "scpi_alpha": ALPHA, "ttest_K": 3, "ttest_alpha": 0.1}},
        "size_power": tab_a.to_dict(orient="records"),
        "coverage": tab_b.to_dict(orient="records"),
        "att_error": extra,
        "runtime_seconds": {"part_a": round(ta, 1), "part_b": round(tb, 1), "total": round(total, 1)},
    }
    (img / "modern_inference_coverage.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {png} and {png.with_suffix('.json')}")


if __name__ == "__main__":
    main()
