"""Regenerate the design gallery (issue #14): `python docs/make_design_gallery.py`.

Writes docs/design_gallery.md and docs/img/gallery_*.png.  Every code block on the page is a string
in this file; the script runs the blocks in order in one namespace (as a reader, or
docs/_check_examples.py, would), captures what each prints, and writes the page: code, printed
output, figures and every number in the prose come from the run, none is typed by hand.  Timings are
wall-clock seconds (time.perf_counter) of this machine at the time of the run.

Options
-------
--quick     every case runs exactly as in the full build (nothing is skipped, so the numbers are
            the same), but the page and figures go to --out (default: a new temporary folder, so
            the tracked files are not touched) and figures are drawn at low resolution.  For a
            docs test: with --check the generated page is compared with the tracked one.
--out DIR   where to write design_gallery.md and img/ (default: docs/, or a temporary folder
            with --quick).
--check     exit 1 when the generated page differs from docs/design_gallery.md once the
            timings (numbers followed by " s") are masked.

The maps are drawn by draw_map() below from the DMA centroids of sc.datasets.load("dma_metadata");
they are not part of the code shown on the page.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
PAGE = "design_gallery.md"

# ------------------------------------------------------------------------------------------------
# The code shown on the page
# ------------------------------------------------------------------------------------------------

SETUP = '''\
import time

import numpy as np
import pandas as pd
import synthcontrol as sc

REGIONS = {"Northeast": "CT ME MA NH RI VT NJ NY PA",
           "Midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
           "South": "DE FL GA MD NC SC VA DC WV AL KY MS TN AR LA OK TX",
           "West": "AZ CO ID MT NV NM UT WY AK CA HI OR WA"}
REGION_OF_STATE = {s: region for region, states in REGIONS.items() for s in states.split()}

meta = sc.datasets.load("dma_metadata")   # 206 DMAs: name, code, state, centroid
adj = sc.datasets.load("dma_adjacency")   # 206 x 206, 1 = the two DMAs share a border
zone = (meta[meta.state.isin(["OH", "IN", "MI", "KY", "WV", "VA", "TN"])]
        .sort_values("dma_name").reset_index(drop=True))
zone["region"] = zone.state.map(REGION_OF_STATE)
names = zone.dma_name.tolist()
adj_zone = adj.loc[names, names]          # the borders inside the zone

# simulated weekly sales: a linear factor model whose loadings are shared within a region
rng = np.random.default_rng(11)
T, n_post, r = 40, 8, 4
N = len(zone)
factors = rng.normal(size=(T, r)).cumsum(axis=0)            # 4 random-walk factors
region_loading = {g: rng.normal(size=r) for g in sorted(zone.region.unique())}
loadings = np.array([region_loading[g] for g in zone.region]) + 0.15 * rng.normal(size=(N, r))
level = 100 + rng.normal(0, 5, size=N)
Y = level + factors @ loadings.T + rng.normal(size=(T, N))  # T x N
zone["population"] = np.round(rng.lognormal(12.5, 0.8, size=N)).astype(int)

df = pd.DataFrame({"dma": np.repeat(names, T), "week": np.tile(np.arange(1, T + 1), N),
                   "sales": Y.T.ravel(), "post": np.tile((np.arange(T) >= T - n_post).astype(int), N)})
df = df.merge(zone[["dma_name", "region", "state", "population"]].rename(columns={"dma_name": "dma"}),
              on="dma")
cols = dict(unit="dma", time="week", outcome="sales", post_col="post")
region_of = zone.set_index("dma_name").region               # DMA -> Census region
state_of = zone.set_index("dma_name").state
population_of = zone.set_index("dma_name").population

border = np.triu(adj_zone.to_numpy(), 1) > 0
i, j = np.nonzero(border)
cross = int(sum(region_of.iloc[a] != region_of.iloc[b] for a, b in zip(i, j)))
print(f"{N} DMAs in {zone.state.nunique()} states; regions: {zone.region.value_counts().to_dict()}")
print(f"{int(border.sum())} bordering pairs, {cross} of them across the Midwest/South line")
print(f"population: {population_of.min():,} to {population_of.max():,} "
      f"(median {int(population_of.median()):,})")
print(df.head(3).to_string(index=False))
'''

HELPER = '''\
plain = None   # the unrestricted design of case 1: the yardstick for the restricted ones


def show(res, seconds):
    """What to read off a fitted design."""
    c = res.certificate
    print("treated:      " + " | ".join(res.treated))
    line = f"objective:    {res.objective:.5f}"
    if plain is not None and res is not plain and (res.mode, res.K) == (plain.mode, plain.K):
        line += f"  ({100 * (res.objective / plain.objective - 1):+.2f}% vs the unrestricted design)"
    print(line)
    print(f"fit, power:   pre-period RMSE {res.pre_fit_rmse:.3f}; MDE over {res.mde_horizon} weeks "
          f"{res.mde_percent:.2f}% of the treated baseline")
    proof = "proven optimal" if res.proven_optimal else f"NOT proven optimal ({res.status})"
    solved = "" if c.get("n_solved") is None else f"{c['n_solved']:,} of "
    print(f"proof:        {proof}, gap {100 * res.mip_gap:.2f}%; {c['method']}: "
          f"{solved}{c['n_sets']:,} admissible sets solved")
    if c.get("restrictions"):
        print(f"restrictions: {c['restrictions']}")
    print(f"time:         {seconds:.2f} s wall, {c['seconds']:.2f} s in the search")
'''


@dataclass
class Case:
    slug: str
    title: str
    why: str
    code: str
    figure: Callable | None = None          # f(ns) -> matplotlib figure, saved as img/gallery_<slug>.png
    caption: str = ""
    after: Callable | None = None           # f(ns) -> markdown written after the output (from results)
    key: str | None = "res"                 # the namespace name of the case's DesignResult
    results: dict = field(default_factory=dict)


def _fit_block(args, extra=""):
    """The usual block: fit with the given arguments, print with show()."""
    return (f"t0 = time.perf_counter()\n"
            f"res = sc.SyntheticDesign({args}).fit(df, **cols)\n"
            f"show(res, time.perf_counter() - t0)\n" + extra)


CASES = [
    Case("01_plain", "The plain design",
         "The baseline: any of the 40 markets may be treated, and the design picks the three whose "
         "weighted average the other 37 reproduce best before the launch (`two_way_global`: one "
         "pooled treated side, one pooled synthetic control; use it when the effect is expected to "
         "be similar in every market). Every restricted design below is compared with this one.",
         _fit_block('K=3, mode="two_way_global", run_inference=False',
                    'plain = res\nprint(f"lambda (default: mean pre-period variance): {res.lam:.4f}")\n'
                    'fig = res.plot("design")\n'),
         figure=lambda ns: ns["fig"],
         caption="`res.plot(\"design\")`: the treated side (weighted average of the three markets) and "
                 "its synthetic control; the last 8 weeks (shaded) are not used to choose the design."),
    Case("02_forced", "Force one market in, keep one out",
         "A launch partner insists on Detroit, and Cincinnati must stay untouched (the head office is "
         "there, or it already runs another test). `to_be_treated` fixes markets in the treated set, "
         "`not_to_be_treated` keeps markets out of it; the latter stay available as donors. The "
         "search only visits the sets that contain Detroit and not Cincinnati.",
         _fit_block('K=3, run_inference=False,\n                         to_be_treated=["Detroit, MI"], '
                    'not_to_be_treated=["Cincinnati, OH"]',
                    'print(f"Cincinnati\'s weight as a donor: {res.control_weights[\'Cincinnati, OH\']:.4f}")\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "Detroit forced in, Cincinnati kept out",
                                    forced_in=["Detroit, MI"], forced_out=["Cincinnati, OH"])),
    Case("03_state", "At most one treated market per state",
         "Media buys, retail accounts or regulation are often organised by state, and two treated "
         "markets in one state share them: the test then has fewer independent markets than it seems. "
         "`cluster_col` forbids treating two markets of the same cluster (here the state).",
         _fit_block('K=3, run_inference=False, cluster_col="state"',
                    'print("states of the treated:", [state_of[m] for m in res.treated])\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "cluster_col=\"state\": one treated market per state",
                                    )),
    Case("04_bordering", "No two bordering treated markets",
         "Neighbouring markets share commuters, stores and TV signal; two treated neighbours behave "
         "like one large market and one regional shock hits both. `adjacency` (a unit-by-unit matrix) "
         "with `spillover_threshold` forbids treating two markets whose entry exceeds the threshold; "
         "with the 0/1 border matrix, 0.5 means \"share a border\" (a weighted matrix, e.g. a commuting "
         "share, works the same way).",
         _fit_block('K=3, run_inference=False,\n                         adjacency=adj_zone, spillover_threshold=0.5',
                    'pairs = [(a, b) for a in res.treated for b in res.treated if a < b and adj_zone.loc[a, b] > 0]\n'
                    'print("bordering pairs among the treated:", pairs)\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "adjacency: no two treated markets share a border",
                                    highlight_borders=True)),
    Case("05_quota", "At least one treated market per region",
         "The result must speak for both regions (a national roll-out decision, say). `stratum_col` "
         "with `min_per_stratum` (and/or `max_per_stratum`) sets quotas on the treated markets per "
         "stratum: here at least one Midwest and one South market.",
         _fit_block('K=3, run_inference=False,\n                         stratum_col="region", min_per_stratum=1',
                    'print("regions of the treated:", [region_of[m] for m in res.treated])\n')),
    Case("06_size", "Only mid-sized markets may be treated",
         "Small markets are noisy and may not carry the campaign's minimum spend; the largest are "
         "expensive or strategically off limits. `size_col` with `min_size`/`max_size` lets only "
         "markets inside the band be treated; the others remain donors.",
         _fit_block('K=3, run_inference=False,\n                         size_col="population", '
                    'min_size=200_000, max_size=2_000_000',
                    'inside = population_of.between(200_000, 2_000_000)\n'
                    'print(f"{int(inside.sum())} of {len(inside)} markets inside the band; treated populations:",\n'
                    '      [f"{population_of[m]:,}" for m in res.treated])\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "size band: only markets of 200,000-2,000,000 may be treated",
                                    hollow=[m for m, p in ns["population_of"].items()
                                            if not 200_000 <= p <= 2_000_000],
                                    hollow_label="outside the size band (donor only)")),
    Case("07_region_donors", "Donors from the treated markets' own region",
         "Seasonality, prices and competitors differ by region, and a synthetic control built from "
         "the treated market's own region is easier to defend. `donor_region_col` lets a treated "
         "market take donors from its own region only. In the global modes one control group serves "
         "all treated markets, so they must all come from one region (see case 9 for more).",
         _fit_block('K=3, run_inference=False, donor_region_col="region"',
                    'donors = res.control_weights[res.control_weights > 1e-3]\n'
                    'print("regions of the treated:", sorted({region_of[m] for m in res.treated}),\n'
                    '      f"| {len(donors)} donors, regions:", sorted({region_of[d] for d in donors.index}))\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "donor_region_col=\"region\": one region, its own donors",
                                    donors=True, hollow=[m for m, g in ns["region_of"].items()
                                                         if g not in {ns["region_of"][t] for t in ns["res"].treated}],
                                    hollow_label="other region: no donor")),
    Case("08_nonbordering_donors", "No donor on a treated market's border",
         "A campaign leaks into neighbouring markets (commuters, overlapping TV signal); a bordering "
         "donor is then partly treated and pulls the estimated effect toward zero. "
         "`exclude_bordering_donors=True` drops every treated market's neighbours from its donors. "
         "The neighbours come from the conflict graph, so passing `adjacency` also forbids two "
         "bordering treated markets (threshold 0 by default).",
         _fit_block('K=3, run_inference=False,\n                         adjacency=adj_zone, exclude_bordering_donors=True',
                    'donors = res.control_weights[res.control_weights > 1e-3]\n'
                    'touching = [d for d in donors.index if (adj_zone.loc[res.treated, d] > 0).any()]\n'
                    'print(f"{len(donors)} donors; donors bordering a treated market: {touching}")\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "exclude_bordering_donors: the treated markets' neighbours "
                                    "carry no weight", donors=True, highlight_borders=True,
                                    hollow=_neighbours(ns, ns["res"].treated),
                                    hollow_label="neighbour of a treated market: no donor"),
         after=lambda ns: _edge_note(ns)),
    Case("09_per_unit", "Both regions, each treated market with its own regional donors",
         "To test in both regions and still match every market within its region, give each treated "
         "market its own synthetic control (`mode=\"per_unit\"`, also the mode to use when effects may "
         "differ by market). Here: at least one market per region, no two treated neighbours, and "
         "each treated market's donors from its own region and not on its border. (A `per_unit` "
         "objective averages the markets' own fits and is on another scale than the two-way ones "
         "above: compare designs across modes by their pre-period RMSE and MDE.)",
         _fit_block('K=3, mode="per_unit", run_inference=False,\n'
                    '                         donor_region_col="region", adjacency=adj_zone, spillover_threshold=0.5,\n'
                    '                         exclude_bordering_donors=True,\n'
                    '                         stratum_col="region", min_per_stratum=1',
                    'W = res.unit_weights                   # one row of donor weights per treated market\n'
                    'for m in res.treated:\n'
                    '    w = W.loc[m][W.loc[m] > 1e-3].sort_values(ascending=False)\n'
                    '    near = [d for d in w.index if adj_zone.loc[m, d] > 0]\n'
                    '    print(f"{m} ({region_of[m]}): {len(w)} donors, regions {sorted(set(region_of[w.index]))}, "\n'
                    '          f"bordering donors {near}")\n'
                    '    print("    " + ", ".join(f"{d} {v:.3f}" for d, v in w.head(4).items()) + ", ...")\n'),
         figure=lambda ns: draw_map(ns, ns["res"], "per_unit: each treated market's donors (line width = weight)",
                                    per_unit=True)),
    Case("10_everything", "Everything at once, and a menu of designs",
         "In practice the restrictions come together, and one design is not enough to take to a "
         "meeting. Four markets, per-market synthetic controls, one per state, no two neighbours, "
         "both regions, donors from the own region and not on the border; `top_K=12` asks for the "
         "twelve best admissible designs, each with its proof. The recommendation then weighs fit "
         "(pre-period RMSE) against power (MDE) across the menu. Note that the conflict graph now "
         "joins markets of one state as well as neighbours, so `exclude_bordering_donors` also keeps "
         "a treated market's own-state markets out of its donors (the check below prints them).",
         't0 = time.perf_counter()\n'
         'res = sc.SyntheticDesign(\n'
         '    K=4, mode="per_unit", top_K=12, run_inference=False,\n'
         '    cluster_col="state", adjacency=adj_zone, spillover_threshold=0.5,\n'
         '    stratum_col="region", min_per_stratum=1,\n'
         '    donor_region_col="region", exclude_bordering_donors=True).fit(df, **cols)\n'
         'seconds = time.perf_counter() - t0\n'
         'show(res, seconds)\n'
         'W = res.unit_weights\n'
         'bad = [(m, d) for m in res.treated for d in W.columns[W.loc[m] > 1e-3]\n'
         '       if state_of[d] == state_of[m] or adj_zone.loc[m, d] > 0 or region_of[d] != region_of[m]]\n'
         'print("donors in another region, the same state or on the border of their treated market:", bad)\n'
         'print(res.certificate["menu"])\n'
         'menu = res.menu_table()[["rank", "design_id", "objective", "pre_fit_rmse", "mde_pct", "gap",\n'
         '                         "proven_optimal", "markets"]]\n'
         'print(menu.to_string(index=False, float_format=lambda v: f"{v:.4f}"))\n'
         'rec = res.recommendation\n'
         'win = rec.winner\n'
         'print(f"recommended ({rec.status}): {win[\'design_id\']} = {\', \'.join(win[\'markets\'])}")\n'
         'print(f"    menu rank {win[\'rank\']}, pre-period RMSE {win[\'pre_fit_rmse\']:.3f}, "\n'
         '      f"MDE {win[\'mde_pct\']:.2f}%; Pareto frontier: {rec.pareto_ids}")\n'
         'print(f"within 5 minutes: {seconds < 300} ({seconds:.2f} s)")\n'
         'fig = res.plot("pareto")\n',
         figure=lambda ns: ns["fig"], after=lambda ns: _menu_note(ns["res"]),
         caption="`res.plot(\"pareto\")`: the menu on the fit-versus-power plane; designs are numbered "
                 "by fit (D1 = the best pre-period RMSE), the recommended one is starred."),
    Case("11_infeasible", "An impossible request",
         "When the restrictions cannot all be met, the fit stops before searching and raises "
         "`sc.InfeasibleDesignError`, naming the smallest group of restrictions that conflict "
         "(dropping any one of them would make the design feasible). Two examples: two forced "
         "markets in the same state under one-per-state, and a quota that three markets cannot fill.",
         'for kwargs in (dict(to_be_treated=["Columbus, OH", "Dayton, OH"], cluster_col="state"),\n'
         '               dict(stratum_col="region", min_per_stratum=2)):\n'
         '    try:\n'
         '        sc.SyntheticDesign(K=3, run_inference=False, **kwargs).fit(df, **cols)\n'
         '    except sc.InfeasibleDesignError as err:\n'
         '        print(f"{type(err).__name__}: {err}")\n',
         key=None),
]

# ------------------------------------------------------------------------------------------------
# Figures drawn by the script (not shown on the page)
# ------------------------------------------------------------------------------------------------

REGION_COLOUR = {"Midwest": "#4e79a7", "South": "#f28e2b", "Northeast": "#59a14f", "West": "#b07aa1"}
TREATED = "#c0392b"
UNIT_COLOURS = ["#c0392b", "#2c7fb8", "#7b3294", "#1b7837", "#d95f02"]


def _neighbours(ns, treated):
    A = ns["adj_zone"]
    return sorted({d for m in treated for d in A.columns[A.loc[m].to_numpy() > 0]} - set(treated))


def _short(name):
    return name.split(",")[0]


def draw_map(ns, res, title, *, donors=False, per_unit=False, highlight_borders=False, forced_in=(),
             forced_out=(), hollow=(), hollow_label=""):
    """The zone's DMAs at their centroids, shared borders as grey lines, coloured by region; the
    treated markets starred, donors sized by weight (global modes) or joined to their treated market
    (per_unit)."""
    from matplotlib.lines import Line2D
    zone, A = ns["zone"], ns["adj_zone"]
    pos = {n: (lon, lat) for n, lon, lat in zip(zone.dma_name, zone.longitude, zone.latitude)}
    fig, ax = plt.subplots(figsize=(10.5, 7.4))
    treated = list(res.treated)
    names = list(zone.dma_name)
    Am = A.to_numpy()
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            if Am[a, b] > 0:
                (x0, y0), (x1, y1) = pos[names[a]], pos[names[b]]
                hot = highlight_borders and (names[a] in treated or names[b] in treated)
                ax.plot([x0, x1], [y0, y1], color="#555555" if hot else "#cccccc", lw=1.4 if hot else 0.8,
                        ls="--" if hot else "-", zorder=1)
    for st, g in zone.groupby("state"):  # the state's name at the mean of its DMAs' centroids
        ax.text(g.longitude.mean(), g.latitude.mean(), st, fontsize=24, color="#bbbbbb", alpha=0.5,
                ha="center", va="center", zorder=0, weight="bold")
    if per_unit and res.unit_weights is not None:
        W = res.unit_weights
        for k, m in enumerate(treated):
            col = UNIT_COLOURS[k % len(UNIT_COLOURS)]
            for d, w in W.loc[m].items():
                if w > 1e-3:
                    (x0, y0), (x1, y1) = pos[m], pos[d]
                    ax.plot([x0, x1], [y0, y1], color=col, lw=0.6 + 14 * w, alpha=0.55, zorder=2)
    cw = res.control_weights
    for n in names:
        x, y = pos[n]
        face = REGION_COLOUR[zone.loc[zone.dma_name == n, "region"].iloc[0]]
        size = 45
        if donors and cw[n] > 1e-3:
            size = 45 + 2200 * cw[n]
        empty = n in hollow
        ax.scatter([x], [y], s=size, facecolor="white" if empty else face, edgecolor=face if empty else "black",
                   linewidth=1.6 if empty else 0.5, alpha=0.9, zorder=3)
    for k, m in enumerate(treated):
        x, y = pos[m]
        col = UNIT_COLOURS[k % len(UNIT_COLOURS)] if per_unit else TREATED
        ax.scatter([x], [y], marker="*", s=420, color=col, edgecolor="black", linewidth=0.7, zorder=5)
        ax.annotate(_short(m), (x, y), textcoords="offset points", xytext=(8, 7), fontsize=10, weight="bold",
                    color=col, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.75))
    for m in forced_in:
        x, y = pos[m]
        ax.scatter([x], [y], s=700, facecolor="none", edgecolor=TREATED, linewidth=2, zorder=4)
    for m in forced_out:
        x, y = pos[m]
        ax.scatter([x], [y], marker="X", s=260, color="black", zorder=5)
        ax.annotate(_short(m) + " (kept out)", (x, y), textcoords="offset points", xytext=(8, -14), fontsize=9,
                    zorder=6)
    handles = [Line2D([], [], marker="o", ls="", color=REGION_COLOUR[g], markeredgecolor="black",
                      markeredgewidth=0.5, markersize=8, label=g) for g in sorted(zone.region.unique())]
    handles.append(Line2D([], [], marker="*", ls="", color=TREATED, markeredgecolor="black", markersize=15,
                          label="treated"))
    handles.append(Line2D([], [], color="#cccccc", label="shared border"))
    if highlight_borders:
        handles.append(Line2D([], [], color="#555555", ls="--", label="border of a treated market"))
    if donors:
        handles.append(Line2D([], [], marker="o", ls="", color="#888888", markersize=13,
                              label="donor (area ~ control weight)"))
    if per_unit:
        handles.append(Line2D([], [], color="#888888", lw=3, label="treated market -> its donor"))
    if forced_in:
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor=TREATED,
                              markeredgewidth=2, markersize=14, label="forced in (to_be_treated)"))
    if forced_out:
        handles.append(Line2D([], [], marker="X", ls="", color="black", markersize=10,
                              label="kept out (not_to_be_treated)"))
    if hollow:
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="#777777",
                              markeredgewidth=1.6, markersize=8, label=hollow_label))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)
    ax.set_aspect(1 / np.cos(np.deg2rad(zone.latitude.mean())))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# Running the blocks and writing the page
# ------------------------------------------------------------------------------------------------

def run_block(code, ns, label):
    """exec one block in the shared namespace; returns (stdout, wall seconds)."""
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, f"<gallery {label}>", "exec"), ns)
    return buf.getvalue(), time.perf_counter() - t0


def _fill(text, width=100):
    """Wrap a paragraph, unless a wrapped line would start like a markdown list item or heading."""
    lines = textwrap.wrap(text, width)
    if any(re.match(r"(\d+[.)]|[-*+#>])\s", ln) for ln in lines):
        return text
    return "\n".join(lines)


def _fence(kind, text):
    return f"```{kind}\n{text.rstrip()}\n```\n"


def _vs_plain(res, plain):
    """A sentence comparing a restricted design with the unrestricted one (from the results)."""
    if res.mode != plain.mode or res.K != plain.K:
        return ""
    if sorted(res.treated) == sorted(plain.treated):
        return ("The unrestricted design already satisfies this restriction, so here it costs nothing; "
                f"the search still proved it, solving {res.certificate['n_solved']:,} of the "
                f"{res.certificate['n_sets']:,} admissible sets.")
    changed = len(set(res.treated) - set(plain.treated))
    d_obj = 100 * (res.objective / plain.objective - 1)
    return (f"The restriction changes {changed} of the {res.K} markets; the objective rises by {d_obj:.2f}% and "
            f"the pre-period RMSE goes from {plain.pre_fit_rmse:.3f} to {res.pre_fit_rmse:.3f} "
            f"(MDE {plain.mde_percent:.2f}% to {res.mde_percent:.2f}%).")


def _edge_note(ns):
    """Neighbours of the treated markets inside the zone against the full DMA map (from the data)."""
    res, adj, zone_adj = ns["res"], ns["adj"], ns["adj_zone"]
    counts = [(m, int((zone_adj.loc[m] > 0).sum()), int((adj.loc[m] > 0).sum())) for m in res.treated]
    if all(a == b for _, a, b in counts):
        return ""
    listed = ", ".join(f"{_short(m)} {a} of {b}" for m, a, b in counts)
    return ("A market with few neighbours loses few donors to this restriction, and the edge of the zone "
            f"cuts neighbours off (neighbours inside the zone, of all neighbours in the DMA map: {listed}). "
            "Borders with markets outside the panel are invisible to the design: in a real test, "
            "keep every market near a treated one out of the panel or out of the donors.")


def _ordinal(k):
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _menu_note(res):
    """How the menu and the recommendation relate (from the results)."""
    rec, pool = res.recommendation, res.pool
    row = rec.table[rec.table.recommended].iloc[0]
    proven = all(e["proven_optimal"] for e in pool)
    out = []
    if proven:
        out.append(f"All {len(pool)} entries are proven: no admissible design outside the menu has a lower "
                   f"objective than entry {len(pool)}.")
    out.append(f"The menu is ranked by the objective (each market's own fit and the spread of its weights), "
               f"the recommendation by the pooled contrast's fit and power ({rec.weights['power']:.2f} power, "
               f"{rec.weights['fit']:.2f} fit): {rec.winner['design_id']} is {_ordinal(rec.winner['rank'])} by "
               f"objective, {_ordinal(int(row.rank_fit))} by fit and {_ordinal(int(row.rank_power))} by power")
    if rec.pareto_ids == [rec.winner["design_id"]]:
        out[-1] += ", so it beats every other design on both and is the whole Pareto frontier."
    else:
        out[-1] += f"; the Pareto frontier is {', '.join(rec.pareto_ids)}."
    return " ".join(out)


def write_summary(rows, total):
    out = ["| case | mode, K | treated | objective | vs case 1 | pre-period RMSE | MDE % | proven (gap) | "
           "sets solved / admissible | wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    plain = rows[0]["res"]
    for r in rows:
        res = r["res"]
        c = res.certificate
        vs = (f"{100 * (res.objective / plain.objective - 1):+.2f}%"
              if (res.mode, res.K) == (plain.mode, plain.K) else "–")
        solved = "–" if c.get("n_solved") is None else f"{c['n_solved']:,}"
        out.append(f"| {r['n']}. {r['title']} | {res.mode}, {res.K} | {', '.join(_short(m) for m in res.treated)} | "
                   f"{res.objective:.5f} | {vs} | {res.pre_fit_rmse:.3f} | {res.mde_percent:.2f} | "
                   f"{'yes' if res.proven_optimal else 'no'} ({100 * res.mip_gap:.2f}%) | "
                   f"{solved} / {c['n_sets']:,} | {r['seconds']:.2f} s |")
    return "\n".join(out) + "\n"


INTRO = """\
# Design gallery: restrictions on who is treated and who is a donor

A market test rarely lets the design treat any market it likes. A partner market must be in, the
head-office market must stay out, two treated markets must not share a state or a border, both
regions must be represented, markets must be large enough to carry the spend, and a treated
market's synthetic control should come from its own region and not from its neighbours (who are
partly exposed to the campaign). `sc.SyntheticDesign` takes each of these as a restriction, searches
only the treated sets they admit, and still proves that the design it returns is the best admissible
one (see [design.md](design.md) for the objective and the proof).

Each case below says when you would use the restriction, shows the code, what it printed and, where
a picture helps, a figure. Read the output as follows: `treated` are the markets to treat;
`objective` is the design's matching criterion (pre-period mean squared contrast plus the ridge
penalty `lambda (|a|^2 + |c|^2)` that rewards spreading weight; lower is better, and the percentage
is what a restriction costs against the unrestricted design); the pre-period RMSE and the MDE
(minimum detectable effect at 5%, 80% power, over the 8 test weeks, as % of the treated markets'
baseline; in-sample, so optimistic) are the numbers to take to a meeting; `proof` says whether the
design is proven the best admissible one and how many candidate sets the exact search had to solve.

This page is generated: `python docs/make_design_gallery.py` runs every block below in order, in one
Python session, and writes the page with what each block printed and the figures
(`docs/img/gallery_*.png`; the maps are drawn by `draw_map()` in the script). No number on the page
is typed by hand. {machine}

## The data

Simulated weekly sales (not real data) for the {n_dma} Nielsen DMAs of Ohio, Indiana, Michigan,
Kentucky, West Virginia, Virginia and Tennessee: a zone where the Census Midwest and South meet, so
real borders cross the regional line. The DMA names, states and borders are the packaged
`dma_metadata` and `dma_adjacency` data sets; the sales come from a linear factor model in which
markets of one region share their factor loadings (region loading plus noise of scale 0.15), so a
market is best matched by markets of its own region. 40 weeks, the last 8 marked `post` (not used
to choose the design); a simulated population per market.
"""


def build(out_dir: Path, dpi: int):
    from synthcontrol import __version__
    (out_dir / "img").mkdir(parents=True, exist_ok=True)
    ns = {"__name__": "__gallery__"}
    timings = {}
    t_start = time.perf_counter()
    setup_out, timings["setup"] = run_block(SETUP, ns, "setup")
    helper_out, _ = run_block(HELPER, ns, "helper")
    sections, rows, figures = [], [], []
    for n, case in enumerate(CASES, start=1):
        printed, secs = run_block(case.code, ns, case.slug)
        timings[case.slug] = secs
        print(f"case {n:>2} {case.slug:<24} {secs:7.2f} s", file=sys.stderr, flush=True)
        res = ns.get(case.key) if case.key else None
        part = [f"## {n}. {case.title}\n", _fill(case.why) + "\n", _fence("python", case.code),
                _fence("text", printed)]
        notes = []
        if res is not None and n > 1:
            notes.append(_vs_plain(res, ns["plain"]))
        if case.after is not None:
            notes.append(case.after(ns))
        for note in filter(None, notes):
            part.append(_fill(note) + "\n")
        if res is not None:
            rows.append({"n": n, "title": case.title, "res": res, "seconds": secs})
        if case.figure is not None:
            fig = case.figure(ns)
            name = f"gallery_{case.slug}.png"
            fig.savefig(out_dir / "img" / name, dpi=dpi, bbox_inches="tight")
            plt.close("all")
            figures.append(name)
            part.append(f"![{case.title}](img/{name})\n")
            if case.caption:
                part.append(f"*{case.caption}*\n")
        sections.append("\n".join(part))
    total = time.perf_counter() - t_start
    machine = (f"Last run: synthcontrol {__version__}, {os.cpu_count()} cores, one thread, "
               f"{total:.1f} s for the whole page.")
    page = [INTRO.format(machine=machine, n_dma=len(ns["zone"])),
            _fence("python", SETUP), _fence("text", setup_out),
            "A small helper prints what to read off each design (the first design is the yardstick):\n",
            _fence("python", HELPER)]
    page += sections
    page.append("## Summary\n")
    page.append("Wall-clock seconds of each case's block (fit, printing and the library's figure), "
                "measured with `time.perf_counter`:\n")
    page.append(write_summary(rows, total))
    page.append("\n*Generated by `docs/make_design_gallery.py`; run it again after changing the library.*\n")
    text = "\n".join(page)
    (out_dir / PAGE).write_text(text, encoding="utf-8")
    return text, timings, total, figures


def _mask(text):
    """The page without what depends on the machine and the moment: timings and the run line."""
    text = re.sub(r"Last run: [^\n]*(\n[^\n]+)*?for the whole page\.", "Last run: <machine>", text)
    return re.sub(r"\d+(\.\d+)? s\b", "<t> s", text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="run every case, write to --out (default: a "
                    "temporary folder) at low figure resolution")
    ap.add_argument("--out", type=Path, default=None, help="folder for design_gallery.md and img/")
    ap.add_argument("--check", action="store_true", help="exit 1 when the page (timings masked) differs from "
                    "the tracked docs/design_gallery.md")
    args = ap.parse_args(argv)
    out = args.out or (Path(tempfile.mkdtemp(prefix="design_gallery_")) if args.quick else HERE)
    text, timings, total, figures = build(out, dpi=50 if args.quick else 100)
    print(f"wrote {out / PAGE} and {len(figures)} figures in {out / 'img'}; total {total:.1f} s")
    if args.check:
        tracked = (HERE / PAGE).read_text(encoding="utf-8")
        if _mask(tracked) != _mask(text):
            diff = difflib.unified_diff(_mask(tracked).splitlines(), _mask(text).splitlines(), "tracked",
                                        "generated", lineterm="", n=1)
            print("\n".join(diff))
            return 1
        print("the page matches the tracked one (timings masked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
