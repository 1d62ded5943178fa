"""Figures for fitted results (matplotlib).  Every function returns the Figure."""
from __future__ import annotations

import numpy as np

from .errors import SpecificationError

__all__ = ["plot_result", "plot_bootstrap", "plot_leave_one_out"]

TREATED = "#C44E52"
SYNTH = "#3B5B92"
GREY = "#9A9A9A"
KINDS = ("trajectory", "gap", "weights", "placebo", "intervals", "lto", "penalty")


def _fig_ax(ax, figsize=(9, 4.5)):
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    return fig, ax


def _treatment_line(ax, res):
    """The treatment date (a dotted line) and the post-treatment periods (shaded)."""
    p = res.panel
    times = np.asarray(p.times)
    post = np.asarray(p.post, dtype=bool)
    if post.any():
        ax.axvspan(times[post][0], times[post][-1], color="#000000", alpha=0.05, linewidth=0,
                   label="post-treatment")
    ax.axvline(p.treatment_time, color="#555555", linestyle=":", linewidth=1.3,
               label=f"treatment ({p.treatment_time})")


def _axis_label(name) -> str:
    """A column name as an axis label: underscores as spaces (``task_completed`` -> ``task completed``)."""
    return str(name).replace("_", " ")


def _legend(ax, ncol=4):
    """One legend style: below the axes and their x label (a fixed 0.5 inch down, whatever the axes'
    height), so that it never sits on the data or the label."""
    height = ax.get_position().height * ax.figure.get_figheight()  # the axes' height in inches
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.5 / max(height, 0.5)),
              ncol=ncol)


def plot_result(res, kind="trajectory", ax=None, **kwargs):
    from .errors import SpecificationError
    if kind not in KINDS:
        raise SpecificationError(f"kind must be one of {KINDS}, got {kind!r}")
    return {"trajectory": _trajectory, "gap": _gap, "weights": _weights,
            "placebo": _placebo, "intervals": _intervals, "lto": _lto,
            "penalty": _penalty}[kind](res, ax=ax, **kwargs)


def _trajectory(res, ax=None, title=None):
    fig, ax = _fig_ax(ax)
    p = res.panel
    t = p.times
    ax.plot(t, res.observed.to_numpy(), color=TREATED, marker="o", markersize=3.5, linewidth=1.8,
            label=p.treated_label + (" (treated)" if len(p.treated_units) == 1 else ""))
    ax.plot(t, res.counterfactual.to_numpy(), color=SYNTH, marker="s", markersize=3, linestyle="--",
            linewidth=1.8, label="synthetic control")
    _treatment_line(ax, res)
    ax.set_xlabel(_axis_label(p.time))
    ax.set_ylabel(_axis_label(p.outcome))
    ax.set_title(title or f"Treated vs synthetic control — ATT {res.att:+.4g}, pre-period RMSE {res.pre_rmse:.3g}")
    _legend(ax)
    fig.tight_layout()
    return fig


def _gap(res, ax=None, title=None):
    fig, ax = _fig_ax(ax)
    p = res.panel
    g = res.gap.to_numpy()
    ax.axhline(0, color="black", linewidth=0.8)
    ax.plot(p.times, g, color=TREATED, marker="o", markersize=3.5, linewidth=1.8, label="observed - synthetic")
    post = p.post
    ax.fill_between(np.asarray(p.times)[post], 0, g[post], color=TREATED, alpha=0.15,
                    label=f"post-period mean {res.att:+.4g}")
    _treatment_line(ax, res)
    ax.set_xlabel(_axis_label(p.time))
    ax.set_ylabel(f"gap in {_axis_label(p.outcome)}")
    ax.set_title(title or "Gap between the treated unit and its synthetic control")
    _legend(ax)
    fig.tight_layout()
    return fig


def _weights(res, ax=None, threshold=1e-3, title=None):
    w = res.weights[res.weights > threshold].sort_values()
    fig, ax = _fig_ax(ax, figsize=(7, max(2.5, 0.32 * len(w) + 1.2)))
    ax.barh([str(i) for i in w.index], w.to_numpy(), color=SYNTH)
    for y, v in enumerate(w.to_numpy()):
        ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    ax.set_xlabel("weight")
    ax.set_xlim(0, max(w.max() * 1.18, 0.05))
    ax.set_title(title or f"Donor weights > {threshold:g} ({len(w)} of {len(res.weights)} donors)")
    fig.tight_layout()
    return fig


def _placebo(res, ax=None, statistic=None, title=None, inference=None, mspe_cut=20.0, **kwargs):
    """Left: every placebo's gap path in grey, the treated one in red.
    Right: the placebo distribution of the test statistic with the observed value.

    ``inference``: the placebo test to draw (from ``res.placebo(...)``); without it the test is run
    here with ``statistic`` (default ``"mean_gap"``) and the other keywords.  ``mspe_cut``: placebos
    whose pre-period MSPE exceeds this multiple of the treated unit's (of the placebos' median when the
    treated series is a group's average) are not drawn on the left (a badly fitted placebo's gaps
    would squash the axis; Abadie et al. 2010 use 20, 5 and 2); the legend says how many.  ``None`` draws them all.  The test itself is not changed."""
    import matplotlib.pyplot as plt
    inf = inference
    if inf is not None:
        if "gaps" not in inf.details or "statistic" not in inf.details:
            raise SpecificationError(f"plot('placebo', inference=...) draws a placebo test; got {inf.method!r}")
        if statistic is not None and inf.details["statistic"] != statistic or kwargs:
            raise SpecificationError("give either inference=<a placebo test> or the test's arguments "
                                     "(statistic=..., donor_pool=...), not both")
    else:
        inf = res.placebo(statistic=statistic or "mean_gap", **kwargs)
    d = inf.details
    gaps = d["gaps"]
    p = res.panel
    if ax is None:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    else:
        fig, a1, a2 = ax.figure, ax, None
    G = gaps.to_numpy()
    pre = ~np.asarray(p.post, dtype=bool)
    mspe = np.mean(G[pre] ** 2, axis=0)
    drawn = np.ones(G.shape[1], dtype=bool)
    # relative to the treated unit's pre-MSPE (Abadie et al.); for a treated group's average, which is
    # smoother than any single unit, relative to the placebos' median (else no placebo would be drawn)
    group = len(p.treated_units) > 1
    ref, ref_name = (float(np.median(mspe[1:])), "the placebos' median") if group else (mspe[0], "the treated's")
    if mspe_cut is not None and G.shape[1] > 1:
        drawn[1:] = mspe[1:] <= float(mspe_cut) * max(ref, 1e-300)
    for j in np.flatnonzero(drawn[1:]) + 1:
        a1.plot(p.times, G[:, j], color=GREY, linewidth=0.9, alpha=0.7)
    a1.plot(p.times, G[:, 0], color=TREATED, linewidth=2.2, label=p.treated_label)
    hidden = int((~drawn).sum())
    a1.plot([], [], color=GREY, label=f"placebos ({int(drawn[1:].sum())}"
            + (f"; {hidden} with pre-MSPE > {mspe_cut:g}x {ref_name} not drawn)" if hidden else ")"))
    a1.axhline(0, color="black", linewidth=0.8)
    _treatment_line(a1, res)
    a1.set_xlabel(_axis_label(p.time))
    a1.set_ylabel(f"gap in {_axis_label(p.outcome)}")
    what = "post/pre RMSPE ratio" if d["statistic"] == "rmspe_ratio" else "mean post-period gap"
    a1.set_title(title or f"In-space placebo — p = {inf.p_value:.4f} (rank of the {what})")
    _legend(a1, ncol=2)
    if a2 is not None:
        tab = d["table"]
        tab = tab[tab["included"]]
        col = "rmspe_ratio" if d["statistic"] == "rmspe_ratio" else "att"
        vals = tab.loc[~tab["treated"], col].to_numpy()
        obs = float(tab.loc[tab["treated"], col].iloc[0])
        a2.hist(vals, bins=min(20, max(5, len(vals) // 2)), color=GREY, edgecolor="white")
        a2.axvline(obs, color=TREATED, linewidth=2.2,
                   label=(f"observed ratio {obs:.3g}" if col == "rmspe_ratio" else f"observed mean gap {obs:+.4g}"))
        a2.set_xlabel("post/pre RMSPE ratio" if col == "rmspe_ratio" else "mean post-period gap")
        a2.set_ylabel("placebo units")
        _legend(a2, ncol=1)
        a2.set_title(f"Placebo distribution of the {what}")
    fig.tight_layout()
    return fig


def _interval_columns(table):
    """The per-period effect interval's columns of an inference table (conformal: lower/upper;
    SCPI and jackknife+: effect_lower/effect_upper), or None."""
    for lo, hi in (("effect_lower", "effect_upper"), ("lower", "upper")):
        if lo in table.columns and hi in table.columns:
            return lo, hi
    return None


def _intervals(res, ax=None, inference=None, title=None):
    """Two panels: left, the treated series and its synthetic control with the counterfactual's
    band; right, the per-period effect with its interval -- from a conformal, SCPI or jackknife+
    result (``inference=res.conformal()``, ...).  The level is in the titles."""
    import matplotlib.pyplot as plt
    inf = inference
    table = None if inf is None else inf.details.get("table")
    cols = None if table is None or not hasattr(table, "columns") else _interval_columns(table)
    if cols is None:
        raise SpecificationError("plot('intervals', inference=...) draws per-period intervals: give the result "
                                 "of res.conformal(), res.scpi() or res.jackknife_plus()")
    p = res.panel
    t_post = table["period"].to_numpy()
    lo, hi = table[cols[0]].to_numpy(dtype=float), table[cols[1]].to_numpy(dtype=float)
    obs = res.observed.reindex(t_post).to_numpy(dtype=float)
    level = f"{100 * (1 - inf.alpha):g}%" if getattr(inf, "alpha", None) is not None else "the"
    if ax is None:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.6))
    else:
        fig, a1, a2 = ax.figure, None, ax
    if a1 is not None:
        a1.plot(p.times, res.observed.to_numpy(), color=TREATED, marker="o", markersize=3, linewidth=1.8,
                label=str(p.treated_label))
        a1.plot(p.times, res.counterfactual.to_numpy(), color=SYNTH, linestyle="--", linewidth=1.8,
                label="synthetic control")
        # the counterfactual's band: observed minus the effect's interval
        a1.fill_between(t_post, obs - hi, obs - lo, color=SYNTH, alpha=0.18, label=f"{level} band")
        _treatment_line(a1, res)
        a1.set_xlabel(_axis_label(p.time))
        a1.set_ylabel(_axis_label(p.outcome))
        a1.set_title("Treated and synthetic control")
        _legend(a1, ncol=3)
    a2.axhline(0, color="black", linewidth=0.8)
    a2.fill_between(t_post, lo, hi, color=TREATED, alpha=0.18, label=f"{level} interval")
    a2.plot(t_post, table["effect"].to_numpy(dtype=float), color=TREATED, marker="o", markersize=3.5,
            linewidth=1.8, label="effect (observed - synthetic)")
    a2.set_xlabel(_axis_label(p.time))
    a2.set_ylabel(f"effect on {_axis_label(p.outcome)}")
    covers = int(np.sum((lo <= 0) & (0 <= hi)))
    a2.set_title(title or f"{inf.method}:\n{level} intervals ({len(t_post) - covers} of {len(t_post)} exclude 0)",
                 fontsize=10)
    _legend(a2, ncol=2)
    fig.tight_layout()
    return fig


def _lto(res, ax=None, inference=None, top=15, title=None):
    """The leave-two-out test at a glance.  Left: every donor pair's match as a cell of a donors x
    donors grid, coloured by the treated unit's margin, log10(treated ratio / the pair's larger
    ratio) -- red where the treated unit wins (its post/pre RMSPE ratio is the largest of the three),
    blue where the pair beats it, grey where a ratio is undefined or the pair was not drawn.  Right:
    the donors that beat the treated unit most often (the ``top`` of them) and in how many matches.
    ``inference``: the result of ``res.lto(...)`` to draw (run here with the defaults otherwise)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    inf = inference if inference is not None else res.lto()
    d = inf.details
    if "treated_wins" not in d or "table" not in d:
        raise SpecificationError(f"plot('lto', inference=...) draws a leave-two-out test; got {inf.method!r}")
    t = d["table"]
    donors = list(res.panel.donors)
    pos = {u: k for k, u in enumerate(donors)}
    J = len(donors)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.log10(t["ratio_treated"].to_numpy(float)
                          / np.maximum(t["ratio_i"].to_numpy(float), t["ratio_j"].to_numpy(float)))
    M = np.full((J, J), np.nan)
    for u, v, m in zip(t["unit_i"], t["unit_j"], margin):
        M[pos[u], pos[v]] = M[pos[v], pos[u]] = m
    if ax is None:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [5, 3]})
    else:
        fig, a1, a2 = ax.figure, ax, None
    lim = float(np.nanmax(np.abs(M))) if np.isfinite(M).any() else 1.0
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("#DDDDDD")
    im = a1.imshow(np.ma.masked_invalid(M), cmap=cmap, norm=TwoSlopeNorm(0.0, -lim - 1e-12, lim + 1e-12))
    step = max(1, J // 20)
    ticks = list(range(0, J, step))
    a1.set_xticks(ticks, [str(donors[k]) for k in ticks], rotation=90, fontsize=7)
    a1.set_yticks(ticks, [str(donors[k]) for k in ticks], fontsize=7)
    cb = fig.colorbar(im, ax=a1, fraction=0.046, pad=0.03)
    cb.set_label("treated margin: log10(treated ratio / pair's max)", fontsize=8)
    level = f"{100 * inf.alpha:g}%"
    decision = "rejects" if d["reject_at_alpha"] else "does not reject"
    a1.set_title(title or (f"Leave-two-out: {res.panel.treated_label} wins {d['treated_wins']} of {d['n_pairs']} "
                           f"matches\nnaive p = {inf.p_value:.4f}; powered test {decision} at {level}"),
                 fontsize=10)
    if a2 is not None:
        lost = ~t["treated_wins"].to_numpy(bool)
        beat = {}
        for u, v, ri, rj, rt, miss in zip(t["unit_i"], t["unit_j"], t["ratio_i"], t["ratio_j"],
                                          t["ratio_treated"], lost):
            if miss:  # the pair member(s) whose ratio is at least the treated one's
                for w, r in ((u, ri), (v, rj)):
                    if not np.isfinite(rt) or not np.isfinite(r) or r >= rt * (1 - 1e-9):
                        beat[w] = beat.get(w, 0) + 1
        items = sorted(beat.items(), key=lambda kv: -kv[1])[:top]
        if items:
            from matplotlib.ticker import MaxNLocator
            a2.barh(range(len(items)), [v for _, v in items], color=SYNTH, height=0.6)
            a2.set_yticks(range(len(items)), [str(k) for k, _ in items])
            a2.set_ylim(max(len(items), 8) - 0.5, -0.5)  # most first; a lone bar stays a bar, not a wall
            a2.xaxis.set_major_locator(MaxNLocator(integer=True))
            a2.set_xlabel(f"matches won against {res.panel.treated_label} (of {J - 1} each)")
            a2.tick_params(axis="y", labelsize=8)
            a2.set_title("Donors whose own ratio beats the treated unit's", fontsize=10)
        else:
            a2.text(0.5, 0.5, "the treated unit wins every match", ha="center", va="center", transform=a2.transAxes)
            a2.set_axis_off()
    fig.tight_layout()
    return fig


def plot_bootstrap(inf, ax=None, truth=None):
    """Histogram of cluster-bootstrap ATTs with the percentile interval."""
    fig, ax = _fig_ax(ax, figsize=(7, 4))
    d = inf.details
    ax.hist(d["draws"], bins=30, color=GREY, edgecolor="white")
    ax.axvline(d["att"], color=TREATED, linewidth=2, label=f"estimate {d['att']:+.4f}")
    ax.axvspan(inf.ci_lower, inf.ci_upper, color=SYNTH, alpha=0.12,
               label=f"{100 * (1 - inf.alpha):g}% CI [{inf.ci_lower:+.4f}, {inf.ci_upper:+.4f}]")
    if truth is not None:
        ax.axvline(truth, color="black", linestyle="--", linewidth=1.2, label=f"truth {truth:+.4f}")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("ATT in bootstrap resample")
    ax.set_ylabel("resamples")
    ax.set_title(f"User-level cluster bootstrap ({d['n_boot']} resamples)")
    _legend(ax, ncol=2 if truth is None else 3)
    fig.tight_layout()
    return fig


def plot_leave_one_out(loo, ax=None):
    """ATT after dropping each active donor, against the full-fit ATT."""
    fig, ax = _fig_ax(ax, figsize=(7, max(2.5, 0.32 * len(loo) + 1.2)))
    labels = [f"{d} (w={w:.3f})" for d, w in zip(loo["dropped"], loo["weight"])]
    ax.scatter(loo["att"], range(len(loo)), color=SYNTH, zorder=3)
    ax.set_yticks(range(len(loo)), labels)
    ax.invert_yaxis()
    ax.axvline(loo.attrs.get("att", np.nan), color=TREATED, linewidth=2, label="full-fit ATT")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("ATT without the donor")
    ax.set_title("Leave-one-out donor sensitivity")
    _legend(ax, ncol=1)
    fig.tight_layout()
    return fig


def _penalty(res, ax=None, title=None, top=8):
    """The penalized fit's lambda: its rule's score along the grid (the chosen lambda marked) above,
    and the donor weights along the same grid below (the ``top`` donors with the largest weight
    anywhere on the path in colour, the rest grey).  ``lambda = 0`` (the limit 0+) is drawn at the left
    edge of the log axis."""
    import matplotlib.pyplot as plt
    from .solvers.vsearch import penalized_weights
    d = res.diagnostics
    path = d.get("lambda_path")
    if d.get("backend") != "penalized" or not path:
        raise SpecificationError("plot('penalty') draws the lambda path of a penalized fit whose lambda was chosen "
                                 "(backend='penalized' without penalized_lambda)")
    lams = np.array([t[0] for t in path], dtype=float)
    scores = np.array([t[1] for t in path], dtype=float)
    pos = lams[lams > 0]
    zero_at = pos.min() / 10 if pos.size else 1e-6
    x = np.where(lams > 0, lams, zero_at)
    m = res.model
    X1, X0 = m.penalized_design()
    W = np.array([penalized_weights(X1, X0, lam).weights for lam in lams])  # (grid, J)
    if ax is None:
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 7.2), sharex=True, gridspec_kw={"height_ratios": [2, 3]})
    else:
        fig, a1, a2 = ax.figure, ax, None
    chosen = d["lambda"]
    cx = chosen if chosen > 0 else zero_at
    a1.plot(x, scores, color=SYNTH, marker="o", markersize=3.5, linewidth=1.6)
    a1.axvline(cx, color=TREATED, linestyle="--", linewidth=1.3)
    a1.set_xscale("log")
    rule = {"holdout": "held-out MSE", "pensynth": "held-out MSE\n(pensynth's grid)",
            "loo": "leave-one-out MSE\n(donors' post-period)"}.get(d.get("penalized_cv"), "score")
    a1.set_ylabel(rule, fontsize=9)
    a1.set_title(title or f"Penalized SC: lambda = {chosen:.3g} by the {d.get('penalized_cv')} rule, "
                          f"{d['n_active_donors']} donor{'s' if d['n_active_donors'] != 1 else ''}, ATT {res.att:+.4g}", fontsize=10)
    if a2 is not None:
        donors = list(m.donors)
        order = np.argsort(-W.max(axis=0))
        for j in order[top:]:
            a2.plot(x, W[:, j], color=GREY, linewidth=0.7, alpha=0.6)
        for j in order[:top]:
            if W[:, j].max() > 0:
                a2.plot(x, W[:, j], linewidth=1.6, label=str(donors[j]))
        a2.axvline(cx, color=TREATED, linestyle="--", linewidth=1.3, label=f"chosen lambda {chosen:.3g}")
        a2.set_ylabel("donor weight")
        a2.set_xlabel("lambda (the paper's scale; the leftmost point, 0+, is lambda = 0 read as its limit)")
        a2.set_ylim(-0.02, 1.02)
        _legend(a2, ncol=5)
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation
    base_fmt = LogFormatterSciNotation()
    (a2 or a1).xaxis.set_major_formatter(FuncFormatter(
        lambda v, i: "0+" if abs(np.log10(v) - np.log10(zero_at)) < 1e-9 else base_fmt(v, i)))
    fig.tight_layout()
    return fig
