"""Coverage and bias of conformal intervals for SC and ridge ASCM on a factor model (issue #5).

Run: ``python docs/sim_conformal_coverage.py [--reps 200] [--seed 1]`` (about 80 s on 2 cores).
Writes ``docs/img/conformal_coverage.png`` and prints the table quoted in ``docs/augmented.md``.

DGP (an interactive fixed-effects model, as in Ben-Michael, Feller & Rothstein 2021, Section 7):
``y_it = alpha_i + lambda_i' f_t + e_it`` with 3 AR(1) factors (rho 0.8), the first with a linear
trend (3 units over the pre-period), N0 = 30 donors, T0 = 40
pre-periods, T1 = 5 post-periods, e_it ~ N(0, 0.5^2).  Two designs for the treated unit's loadings:

* "good fit": a convex combination of the donors' loadings (SC can balance the pre-period);
* "poor fit": the same, but the loading on the trending factor set beyond the donors' largest
  (max + half a standard deviation), so no simplex weights can follow the trend (the regime ASCM
  targets).

The true effect is tau_t = 0.5 in every post period (added to the treated unit).  For each replication
we fit SC and ridge ASCM (lambda by CV), and compute 90% conformal per-period intervals (iid).
Reported: coverage of tau_t by the per-period intervals, the mean interval width, and the bias of
the ATT estimate (mean over replications of ATT_hat - 0.5), with Monte Carlo standard errors.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import synthcontrol as sc

N0, T0, T1, K, TAU = 30, 40, 5, 3, 0.5


def simulate(rng, design):
    T = T0 + T1
    f = np.zeros((T, K))
    for t in range(1, T):
        f[t] = 0.8 * f[t - 1] + rng.normal(size=K)
    f[:, 0] += 3.0 * np.arange(T) / T0  # a trending factor: loading mismatch on it biases SC
    lam0 = rng.normal(size=(N0, K))
    w = rng.dirichlet(np.ones(N0) * 0.5)
    lam1 = lam0.T @ w
    if design == "poor fit":
        # beyond the donors' hull on the trending factor: no simplex weights can match the trend
        lam1 = lam1.copy()
        lam1[0] = lam0[:, 0].max() + 0.5 * lam0[:, 0].std()
    a0 = rng.normal(size=N0)
    a1 = a0 @ w
    Y0 = a0[None, :] + f @ lam0.T + 0.5 * rng.normal(size=(T, N0))
    y1 = a1 + f @ lam1 + 0.5 * rng.normal(size=T)
    y1[T0:] += TAU
    rows = {"unit": np.repeat(np.arange(N0 + 1), T), "t": np.tile(np.arange(T), N0 + 1),
            "y": np.concatenate([y1] + [Y0[:, j] for j in range(N0)])}
    return pd.DataFrame(rows)


def one(rng, design, alpha):
    df = simulate(rng, design)
    p = sc.Panel(df, unit="unit", time="t", outcome="y", treated=0, treatment_time=T0)
    out = {}
    for name, kw in (("SC", {}), ("ASCM", {"augment": "ridge"})):
        res = sc.SyntheticControl(**kw).fit(p)
        inf = res.conformal(alpha=alpha, kind="iid", n_perm=1000, seed=int(rng.integers(1 << 31)))
        tab = inf.details["table"]
        cover = ((tab["lower"] <= TAU) & (TAU <= tab["upper"])).to_numpy()
        out[name] = (cover.mean(), float((tab["upper"] - tab["lower"]).mean()), res.att - TAU)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--alpha", type=float, default=0.1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    rows = []
    for design in ("good fit", "poor fit"):
        acc = {"SC": [], "ASCM": []}
        for _ in range(args.reps):
            for k, v in one(rng, design, args.alpha).items():
                acc[k].append(v)
        for k, v in acc.items():
            a = np.array(v)
            rows.append({"design": design, "estimator": k,
                         "coverage": a[:, 0].mean(), "coverage_se": a[:, 0].std(ddof=1) / np.sqrt(len(a)),
                         "mean_width": a[:, 1].mean(),
                         "bias": a[:, 2].mean(), "bias_se": a[:, 2].std(ddof=1) / np.sqrt(len(a)),
                         "rmse": float(np.sqrt(np.mean(a[:, 2] ** 2)))})
    tab = pd.DataFrame(rows)
    pd.set_option("display.width", 120)
    print(f"{args.reps} replications per design, nominal coverage {1 - args.alpha:.0%}, "
          f"seed {args.seed}, {time.perf_counter() - t0:.0f} s")
    print(tab.round(4).to_string(index=False))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, col, se, title in ((a0, "coverage", "coverage_se", f"coverage of {1 - args.alpha:.0%} intervals"),
                               (a1, "bias", "bias_se", "bias of the ATT (true effect 0.5)")):
        for i, est in enumerate(("SC", "ASCM")):
            sub = tab[tab.estimator == est]
            x = np.arange(len(sub)) + (i - 0.5) * 0.3
            ax.bar(x, sub[col], width=0.3, yerr=2 * sub[se], label=est, capsize=3)
        ax.set_xticks(range(2), ["good pre-fit", "poor pre-fit"])
        ax.set_title(title)
    a0.axhline(1 - args.alpha, color="black", ls="--", lw=1)
    a0.set_ylim(0, 1.05)
    a1.axhline(0, color="black", lw=1)
    a0.legend(frameon=False)
    fig.tight_layout()
    from pathlib import Path
    out = Path(__file__).resolve().parent / "img" / "conformal_coverage.png"
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
