"""Figures of a design: the synthetic treated and control paths, and the power curve."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_design", "plot_power", "plot_pareto", "plot_comparison"]

TREATED, SYNTH, GREY = "#c0392b", "#2c3e50", "#95a5a6"


def _ax(ax, figsize):
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_design(dres, ax=None):
    """The treated units' weighted path against their synthetic control over time; the post
    window shaded, the objective and the proof status in the title."""
    fig, ax = _ax(ax, (9, 4.5))
    times = np.asarray(dres.times)
    tr = dres.treated_path.to_numpy()  # y_t' a: the treated side of the contrast
    co = dres.control_path.to_numpy()  # y_t' c: its synthetic control
    ax.plot(times, tr, color=TREATED, linewidth=2.2, label=f"treated ({', '.join(map(str, dres.treated))})")
    ax.plot(times, co, color=SYNTH, linewidth=2.0, linestyle="--", label="synthetic control")
    if not dres.planning:
        ax.axvspan(times[dres.T0], times[-1], color=GREY, alpha=0.18, label="post-treatment window")
        ax.axvline(times[dres.T0], color="#555555", linestyle=":", linewidth=1.3)
    ax.set_xlabel(str(getattr(dres.times, "name", None) or "period").replace("_", " "))
    ax.set_ylabel(str(dres.outcome_name or "outcome").replace("_", " "))
    status = "proven optimal" if dres.proven_optimal else f"gap {100 * dres.mip_gap:.3g}% ({dres.status})"
    ax.set_title(f"{dres.mode} design, K = {dres.K}: objective {dres.objective:.4g}, {status}")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_power(dres, ax=None):
    """The minimum detectable effect (absolute and % of the treated pre-period mean) against the
    post-period horizon, from the design's power curve."""
    fig, ax = _ax(ax, (7, 4))
    pc = dres.power_curve
    ax.plot(pc.horizon, pc.mde_absolute, marker="o", color=SYNTH)
    ax.set_xlabel("post-treatment periods (horizon h)")
    ax.set_ylabel("minimum detectable effect")
    if pc.mde_percent.notna().any():
        sec = ax.secondary_yaxis("right", functions=(lambda y: 100 * y / pc.attrs.get("baseline_value", np.nan),
                                                     lambda p: p * pc.attrs.get("baseline_value", np.nan) / 100))
        sec.set_ylabel("% of the treated pre-period mean")
    unreliable = pc[~pc.hac_reliable] if "hac_reliable" in pc else pc.iloc[0:0]
    if len(unreliable):
        ax.scatter(unreliable.horizon, unreliable.mde_absolute, color=TREATED, zorder=3,
                   label="horizon > T0/4: long-run SD less reliable")
        ax.legend(frameon=False, fontsize=8)
    ax.set_title(f"Power: 5% two-sided test, 80% power (long-run SD {pc.long_run_sigma.iloc[0]:.4g})")
    fig.tight_layout()
    return fig


def plot_pareto(dres, ax=None):
    """The menu on the fit-versus-power plane: pre-period RMSE (x) against the MDE at the realised
    horizon (% of the treated pre-period mean, y), the Pareto frontier joined, designs labelled by
    fit (D1 = best fit), the recommended design starred."""
    fig, ax = _ax(ax, (8, 5))
    rec = dres.recommendation
    tab = rec.table
    front = tab[tab.pareto].sort_values("pre_fit_rmse")
    rest = tab[~tab.pareto]
    ax.scatter(rest.pre_fit_rmse, rest.mde_pct, color=GREY, s=36, label="dominated", zorder=2)
    ax.plot(front.pre_fit_rmse, front.mde_pct, color=SYNTH, marker="o", linewidth=1.5,
            label="Pareto frontier (fit vs power)", zorder=3)
    for _, r in tab.iterrows():
        ax.annotate(r.design_id, (r.pre_fit_rmse, r.mde_pct), textcoords="offset points", xytext=(5, 4), fontsize=8)
    win = tab[tab.recommended]
    if len(win):
        ax.scatter(win.pre_fit_rmse, win.mde_pct, marker="*", s=320, color=TREATED, zorder=4,
                   label=f"recommended: {win.design_id.iloc[0]} ({win.markets.iloc[0]})")
    ax.set_xlabel("pre-period RMSE of the contrast (fit; lower is better)")
    ax.set_ylabel(f"MDE at h = {rec.horizon} (% of treated baseline; lower is better)")
    ax.set_title(f"{len(tab)} designs: fit vs power ({rec.status}; weights power {rec.weights['power']:.2f}, "
                 f"fit {rec.weights['fit']:.2f})")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_comparison(cmp, ax=None):
    """Designs of several methods on one fit-versus-power plane (shared harness), each method's
    Pareto frontier joined; designs with no detectable effect on the grid are drawn at the top."""
    fig, ax = _ax(ax, (8.5, 5))
    tab = cmp.table
    colours = {"SYNDES": TREATED, "GeoLift-style": SYNTH}
    finite = tab.mde_pct[np.isfinite(tab.mde_pct)]
    top = (finite.max() * 1.1) if len(finite) else 1.0
    for m, sub in tab.groupby("method", sort=False):
        col = colours.get(m, GREY)
        y = sub.mde_pct.where(np.isfinite(sub.mde_pct), top)
        ax.scatter(sub.fit_rmse, y, color=col, s=40, label=f"{m} designs", zorder=3,
                   marker="o" if m == "SYNDES" else "s")
        fr = sub[sub.pareto].sort_values("fit_rmse")
        ax.plot(fr.fit_rmse, fr.mde_pct.where(np.isfinite(fr.mde_pct), top), color=col, linewidth=1.5, zorder=2,
                marker="o" if m == "SYNDES" else "s", markersize=12, markerfacecolor="none",
                label=f"{m} Pareto frontier ({len(fr)})")
        for (_, r), yy in zip(sub.iterrows(), y):
            ax.annotate(r.label, (r.fit_rmse, yy), textcoords="offset points",
                        xytext=(4, 3) if m == "SYNDES" else (4, -9), fontsize=7, color=col)
    if (~np.isfinite(tab.mde_pct)).any():
        ax.axhline(top, color=GREY, linestyle=":", linewidth=1)
        ax.text(ax.get_xlim()[0], top, " no effect on the grid detected", va="bottom", fontsize=7, color=GREY)
    st = cmp.settings
    ax.set_xlabel("pre-period RMSE of the contrast (fit; lower is better)")
    ax.set_ylabel(f"MDE at h = {st['horizon']} (% of treated baseline; lower is better)")
    ax.set_title(f"SYNDES vs GeoLift-style selection, K = {st['treated_size']}\none harness: "
                 f"{100 * st['power']:.0f}% power, two-sided {100 * st['alpha']:g}% moving-block test", fontsize=11)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
