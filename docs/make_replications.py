"""Write the replication pages (docs/replications/*.md) and their figures from the code they show.

Usage (from the repository root)::

    .venv/bin/python docs/make_replications.py            # rewrite every page and figure
    .venv/bin/python docs/make_replications.py prop99     # one page
    .venv/bin/python docs/make_replications.py --check    # regenerate in memory; exit 1 if a page moved

Each page is one study.  Its Python block is the code a reader would run, and it is exactly the code
this script runs (``exec`` in a fresh namespace, in an empty temporary folder, on the data packaged
with synthcontrol).  Every number in the page's table is read from that namespace after the run, set
beside the number it is compared with (the recorded R reference packages and papers, read from the
case files in ``fixtures/``, or the paper's printed value), with the tolerance and the verdict.  No
number in a page is typed by hand.  ``python/tests/test_replication_pages.py`` runs ``--check``: a
page whose numbers no longer come out of the code fails the suite.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import math
import os
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PAGES = DOCS / "replications"
IMG = DOCS / "img"
FIXTURES = ROOT / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def source_text(src) -> str:
    """A case file's ``source`` entry as one short line."""
    if isinstance(src, str):
        return src
    parts = [src.get(k) for k in ("package", "paper", "algorithm") if src.get(k)]
    if src.get("file"):
        parts.append(f"`{Path(src['file']).name}`")
    return "; ".join(parts) or src.get("note", "")


# --------------------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One line of a page's table: a number of ours beside the number it is compared with."""
    quantity: str
    ours: float
    reference: float | None = None
    source: str = ""
    tol: float | None = None  # |ours - reference| <= tol, or...
    mode: str = "equal"  # "equal" | "at_most" (ours must not exceed it) | "info" (shown, not judged)
    digits: int = 6
    shown: str | None = None  # how ``ours`` is printed, when not as a number

    def fmt(self, x) -> str:
        if x is None:
            return "—"
        if isinstance(x, str):
            return x
        if x != 0 and abs(x) < 1e-8:  # solver round-off: its digits are not reproducible, its size is
            return "< 1e-8" if x > 0 else "> -1e-8"
        if isinstance(x, (int,)) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6 and self.digits == 0):
            return f"{int(x)}"
        return f"{x:.{self.digits}g}"

    def verdict(self) -> str:
        if self.mode == "info" or self.reference is None:
            return "shown for comparison"
        if self.mode == "at_most":
            return "yes: ours is lower (or equal)" if self.ours <= self.reference * (1 + 1e-12) else "**no: ours is higher**"
        ok = abs(self.ours - self.reference) <= self.tol
        return f"yes (within {self.tol:g})" if ok else f"**no** (tolerance {self.tol:g})"

    def line(self, notes: dict) -> str:
        """The table row; the source becomes a numbered note (``notes``: source -> number)."""
        ref = ""
        if self.source:
            ref = f"[{notes.setdefault(self.source, len(notes) + 1)}]"
        ours = self.shown if self.shown is not None else self.fmt(self.ours)
        return f"| {self.quantity} | {ours} | {self.fmt(self.reference)} | {ref} | {self.verdict()} |"

    @property
    def failed(self) -> bool:
        return "**no" in self.verdict()


def expected_rows(case: str, ours: dict, keys: list[str], labels: dict | None = None, digits=6,
                  names: dict | None = None) -> list[Row]:
    """Rows for a case file's ``expected`` entries (value, tol, source); ``names`` labels donor ids."""
    exp, rows = fixture(case)["expected"], []
    for k in keys:
        e = exp[k]
        if isinstance(e["value"], dict):  # weights: one row per recorded donor
            for d, v in e["value"].items():
                who = (names or {}).get(str(d), d)
                rows.append(Row(f"weight of {who}", ours[k].get(str(d), 0.0), v, source_text(e["source"]),
                                e["tol"], digits=digits))
        else:
            rows.append(Row((labels or {}).get(k, k), ours[k], e["value"], source_text(e["source"]), e["tol"],
                            digits=digits))
            if k == "bound_gap":  # proven distance to the optimum: its size matters, not its round-off digits
                r, loss = rows[-1], ours.get("loss_v", 1.0)
                if abs(r.ours) <= 1e-9 * abs(loss):
                    r.shown = "≤ 1e-9 × loss_v"
    return rows


def package_rows(case: str, ours: dict) -> list[Row]:
    """Rows for a case file's ``reference_packages`` (recorded numbers of R packages)."""
    rows = []
    for ref in fixture(case).get("reference_packages", []):
        for k, v in ref["recorded"].items():
            src = f"{ref['package']} {ref['version']}"
            if isinstance(ref.get("source"), str):
                src += f" (`{Path(ref['source']).name}`)" if ref["source"].endswith(".json") else f": {ref['source']}"
            mode = "at_most" if ref.get("mode") == "at_most" else "equal"
            rows.append(Row(f"{k} ({ref['package']})", ours[k], v, src, ref.get("tol", {}).get(k), mode))
    return rows


# --------------------------------------------------------------------------------------- pages
@dataclass
class Study:
    name: str
    title: str
    intro: str
    code: str
    rows: Callable[[dict], list[Row]]
    figure: Callable[[dict, Path], str] | None = None  # draws into the path; returns the caption
    notes: Callable[[dict], str] = lambda ns: ""
    timed: list[str] = field(default_factory=list)


def run_code(code: str) -> tuple[dict, float]:
    """Run a page's block as a reader would: fresh namespace, empty folder, packaged data."""
    ns = {"__name__": "__main__"}
    old = os.getcwd()
    env_data = os.environ.pop("SYNTHCONTROL_DATA", None)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()) as out, \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                exec(compile(code, "<page>", "exec"), ns)
                ns["__seconds__"] = time.perf_counter() - t0
            ns["__stdout__"] = out.getvalue()
            ns["__warnings__"] = sorted({str(w.message).split("\n")[0] for w in caught
                                         if w.category.__name__ == "SynthWarning"})
        finally:
            os.chdir(old)
            if env_data is not None:
                os.environ["SYNTHCONTROL_DATA"] = env_data
    return ns, ns["__seconds__"]


def render(study: Study, ns: dict, figure_caption: str | None) -> str:
    rows = study.rows(ns)
    n_fail = sum(r.failed for r in rows)
    judged = sum(r.mode != "info" and r.reference is not None for r in rows)
    out = [f"# {study.title}", "",
           "<!-- Generated by docs/make_replications.py from the code on this page: do not edit by hand.",
           "     python/tests/test_replication_pages.py regenerates it and fails when a number moved. -->", "",
           textwrap.dedent(study.intro).strip(), "", "## The code", "",
           "The block below is exactly what `docs/make_replications.py` runs to fill the table (on the data",
           "packaged with synthcontrol, from an empty folder).", "",
           "```python", textwrap.dedent(study.code).strip(), "```", "",
           "## The numbers", "",
           (f"{judged - n_fail} of {judged} compared numbers agree with their reference"
            + (f"; **{n_fail} do not** (see the notes)." if n_fail else ".")) if judged else
           "No number on this page is judged against a reference: they are shown side by side (see above).", "",
           "| quantity | synthcontrol | reference | source | agrees |", "|---|---|---|---|---|"]
    sources: dict = {}
    out += [r.line(sources) for r in rows]
    out += ["", "Sources:", ""] + [f"{i}. {src}" for src, i in sources.items()] + [""]
    warns = ns.get("__warnings__") or []
    if warns:
        out += ["Warnings the run printed (`SynthWarning`):", "", *[f"- {w}" for w in warns], ""]
    else:
        out += ["The run printed no `SynthWarning`.", ""]
    if figure_caption:
        out += ["## Figure", "", f"![{study.title}](../img/rep_{study.name}.png)", "", figure_caption.strip(), ""]
    notes = textwrap.dedent(study.notes(ns)).strip()
    if notes:
        out += ["## Notes", "", notes, ""]
    return "\n".join(out)


def build(study: Study, write_figure: bool) -> str:
    ns, _ = run_code(study.code)
    caption = None
    if study.figure is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        path = IMG / f"rep_{study.name}.png"
        target = path if write_figure else Path(tempfile.mkdtemp()) / path.name
        caption = study.figure(ns, target)
        plt.close("all")
    return render(study, ns, caption)


# ------------------------------------------------------------------------------------ studies
STUDIES: list[Study] = []  # filled below, one block per page

def _two_panel(ns_obs, ns_cf, periods, t0, title, ylabel, path, truth=None, cf_label="synthetic control"):
    """Trajectory (treated vs synthetic) above, gap below, one treatment line, post period shaded."""
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    x = np.asarray(periods)
    obs, cf = np.asarray(ns_obs, float), np.asarray(ns_cf, float)
    a1.plot(x, obs, color="black", lw=2, label="treated (observed)")
    a1.plot(x, cf, color="tab:blue", lw=2, ls="--", label=cf_label)
    a2.plot(x, obs - cf, color="tab:red", lw=2, label="gap: observed − synthetic")
    a2.axhline(0, color="grey", lw=0.8)
    if truth is not None:
        a2.axhline(truth, color="tab:green", lw=1.2, ls=":", label=f"true effect {truth:+g}")
    for a in (a1, a2):
        a.axvline(t0, color="grey", ls=":", lw=1)
        a.axvspan(t0, x.max(), color="grey", alpha=0.08, lw=0)
        a.grid(alpha=0.25)
        a.legend(loc="upper left" if a is a1 else "best", frameon=False, fontsize=9)
    a1.set_ylabel(ylabel)
    a2.set_ylabel("gap")
    a1.set_title(title)
    a2.set_xlabel("period (shaded: after the treatment)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# ---- the rollout study (seed 000) ------------------------------------------------------------
ROLLOUT_CODE = """
import synthcontrol as sc

logs = sc.datasets.load("rollout_logs")   # the seed's user-level logs
panel = sc.panel_from_events(
    logs, unit="workspace_id", time="signup_week", outcome="task_completed",
    cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
res = sc.SyntheticControl().fit(panel)    # wave 1's average vs 25 wave-2 donors
placebo = res.placebo(statistic="mean_gap", donor_pool="donors")
loo = res.leave_one_out()
boot = res.bootstrap(n_boot=500, seed=7)  # users resampled, weights refit
"""


def _rollout_rows(ns):
    res, pl, loo, boot = ns["res"], ns["placebo"], ns["loo"], ns["boot"]
    seed = "seed 000 tutorial (4 decimals printed)"
    w = res.weights
    ours = {"att": res.att, "pre_rmse": res.pre_rmse, "placebo.p_value": pl.p_value,
            "weights": {str(k): float(v) for k, v in w.items()}}
    rows = expected_rows("rollout_seed", ours, ["att", "pre_rmse", "weights", "placebo.p_value"],
                         {"att": "ATT (mean post-period gap)", "pre_rmse": "pre-period RMSE",
                          "placebo.p_value": "placebo p (mean gap, 25 donors)"}, digits=4)
    d = pl.details
    rows += [Row("placebo ATTs: mean", d["placebo_att_mean"], -0.0008, seed, 5e-5, digits=4),
             Row("placebo ATTs: standard deviation", d["placebo_att_sd"], 0.0380, seed, 5e-5, digits=4),
             Row("donors with weight > 0.001", float((w > 0.001).sum()), 12, seed, 0, digits=0),
             Row("leave-one-out ATT: lowest", float(loo["att"].min()), 0.0739, seed, 5e-5, digits=4),
             Row("leave-one-out ATT: highest", float(loo["att"].max()), 0.0945, seed, 5e-5, digits=4),
             Row("bootstrap 95% interval: lower", boot.ci_lower, 0.0511, seed + "; same resamples, exact solver", 5e-4, digits=4),
             Row("bootstrap 95% interval: upper", boot.ci_upper, 0.1215, seed + "; same resamples, exact solver", 5e-4, digits=4),
             Row("true effect inside the bootstrap interval (1 = yes)", float(boot.ci_lower <= 0.05 <= boot.ci_upper), 0,
                 "seed 000: \"Ground truth +0.0500 inside CI: NO\"", 0, digits=0)]
    return rows


def _rollout_figure(ns, path):
    res = ns["res"]
    _two_panel(res.observed, res.counterfactual, res.observed.index, 20,
               "Rollout study: 25 upgraded workspaces vs their synthetic control", "task completion rate",
               path, truth=0.05)
    return ("Top: the 25 wave-1 workspaces' weekly completion rate and the synthetic control built from "
            "wave-2 workspaces; bottom: their gap, with the generator's true effect (+0.05) dotted. The gap "
            f"averages {res.att:+.4f} after week 20: the estimate overshoots the truth, as the seed says, "
            "because single-workspace donors are noisier than the 25-workspace average.")


def _rollout_notes(ns):
    return """
        Every number matches the tutorial to its printed precision (the tutorial uses scipy SLSQP with
        `ftol=1e-12`; we solve the same problem exactly, so the solutions agree to the printed digits).
        The bootstrap draws the same users in the same order from `default_rng(7)` as the tutorial's
        `rng.integers(0, n, n)`; the remaining difference is the solver, hence the looser 5e-4.

        Two p-values are on offer for this study and they answer different questions: the mean-gap
        placebo p above (is an average gap this large unusual among single-workspace placebos?) and the
        RMSPE-ratio p (is the post/pre misfit unusual?). The treated unit is an average of 25
        workspaces, much smoother than any single placebo, so the mean-gap comparison is lopsided;
        `res.placebo(statistic="mean_gap")` says so with a `SynthWarning` (listed above) and
        [Inference](../placebo.md#the-rollout-study) explains which one to read.
    """


STUDIES.append(Study("rollout", "Replication: the global-rollout study (seed 000)", """
    The tutorial of seed 000: a model upgrade reaches 25 workspaces ("wave 1") in week 20 while 25
    others ("wave 2") wait; the data generator's true effect on task completion is +5 percentage
    points. The tutorial fits a synthetic control with scipy SLSQP, then runs a mean-gap placebo test,
    leave-one-out donors and a 500-draw user-level cluster bootstrap. Each of its printed numbers is
    recomputed below.
""", ROLLOUT_CODE, _rollout_rows, _rollout_figure, _rollout_notes))


# ---- Proposition 99 --------------------------------------------------------------------------
PROP99_CODE = """
import synthcontrol as sc

sm = sc.datasets.load("prop99")
panel = sc.Panel(sm, unit="state", time="year", outcome="cigsale",
                 treated="California", treatment_time=1989)
res = sc.SyntheticControl().fit(panel)   # outcome-only: every pre-period year
placebo = res.placebo(statistic="rmspe_ratio", donor_pool="all")
lto = res.lto(alpha=0.05)
ttest = res.ttest(K=3, alpha=0.05)
scpi = res.scpi(alpha=0.05, sims=200, e_method="gaussian", seed=0)

# ADH (2010)'s predictors, through the Synth-compatible path
ctrl = sorted(s for s in sm.state.unique() if s != "California")
dp = sc.synth_dataprep(
    foo=sm, predictors=["lnincome", "retprice", "age15to24"],
    predictors_op="mean", time_predictors_prior=range(1980, 1989),
    special_predictors=[("beer", range(1984, 1989), "mean"),
                        ("cigsale", [1975], "mean"), ("cigsale", [1980], "mean"),
                        ("cigsale", [1988], "mean")],
    dependent="cigsale", unit_variable="state", time_variable="year",
    treatment_identifier="California", controls_identifier=ctrl,
    time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
out = sc.synth(dp)
"""


def _synth_numbers(out) -> dict:
    return {"loss_v": out.loss_v, "lower_bound": out.lower_bound, "bound_gap": out.bound_gap,
            "outcome_only_bound": out.outcome_only_bound, "bound_attained": float(out.bound_attained),
            "weights": {str(k): float(v) for k, v in out.solution_w.items()}}


def _prop99_rows(ns):
    res, pl, lto, tt, scpi, out = (ns[k] for k in ("res", "placebo", "lto", "ttest", "scpi", "out"))
    ours = {"att": res.att, "pre_rmse": res.pre_rmse, "weights": {str(k): float(v) for k, v in res.weights.items()},
            "placebo.p_value": pl.p_value, "placebo.observed_rmspe_ratio": pl.details["observed_rmspe_ratio"]}
    rows = expected_rows("prop99_outcome_only", ours,
                         ["att", "pre_rmse", "weights", "placebo.p_value", "placebo.observed_rmspe_ratio"],
                         {"att": "ATT, outcome-only (packs per capita)", "pre_rmse": "pre-period RMSE",
                          "placebo.p_value": "placebo p (RMSPE ratio, all 39 states)",
                          "placebo.observed_rmspe_ratio": "California's post/pre RMSPE ratio"})
    t = scpi.details["table"]
    ours = {"lto_p_naive": lto.p_value, "lto_treated_losses": float(lto.details["treated_losses"]),
            "lto_n_pairs": float(lto.details["n_pairs"]), "ttest_att": tt.details["att"], "ttest_se": tt.details["se"],
            "scpi_rho": scpi.details["rho"]}
    rows += expected_rows("prop99_modern_inference", ours,
                          ["lto_p_naive", "lto_treated_losses", "lto_n_pairs", "ttest_att", "ttest_se", "scpi_rho"],
                          {"lto_p_naive": "leave-two-out naive p", "lto_treated_losses": "pairs where California loses",
                           "lto_n_pairs": "donor pairs", "ttest_att": "debiased t-test ATT (K = 3)",
                           "ttest_se": "debiased t-test standard error", "scpi_rho": "SCPI regularisation rho"})
    exp = fixture("prop99_modern_inference")["expected"]
    for col, key, label in (("e_mean", "scpi_e_mean", "SCPI out-of-sample error mean, 1989"),
                            ("out_of_sample_lower", "scpi_out_of_sample_lower", "SCPI out-of-sample bound (lower), 1989"),
                            ("out_of_sample_upper", "scpi_out_of_sample_upper", "SCPI out-of-sample bound (upper), 1989")):
        e = exp[key]
        rows.append(Row(label, float(t[col].iloc[0]), e["value"][0], source_text(e["source"]), e["tol"]))
    rows.append(Row("SCPI 95% ATT interval excludes 0 (1 = yes)", float(scpi.ci_upper < 0 or scpi.ci_lower > 0), 1,
                    "property, not a recorded number (the interval is simulated)", 0, digits=0))
    cov = _synth_numbers(out)
    rows += expected_rows("prop99_synth_covariates", cov,
                          ["loss_v", "lower_bound", "bound_gap", "outcome_only_bound", "weights"],
                          {"loss_v": "ADH predictors: loss_v (pre-period MSPE)",
                           "lower_bound": "proven lower bound on loss_v over all V",
                           "bound_gap": "loss_v − lower bound", "outcome_only_bound": "outcome-only MSPE (below every V)"})
    rows += package_rows("prop99_synth_covariates", cov)
    return rows


def _prop99_figure(ns, path):
    res = ns["res"]
    _two_panel(res.observed, res.counterfactual, res.observed.index, 1989,
               "Proposition 99: California vs synthetic California", "cigarette sales (packs per capita)", path)
    return ("California's per-capita cigarette sales and the outcome-only synthetic California (top) and "
            f"their gap (bottom). The pre-1989 fit has RMSE {res.pre_rmse:.2f} packs; the gap widens to "
            f"{res.gap.iloc[-1]:.1f} packs by 2000 and averages {res.att:.2f} after 1988.")


def _prop99_notes(ns):
    out, pl = ns["out"], ns["placebo"]
    t = pl.details["table"].sort_values("rmspe_ratio", ascending=False)
    above = t[~t.treated].head(pl.details["rank"] - 1)
    who = " and ".join(f"{u} ({r:.1f}, pre-period RMSPE {e:.2f})" for u, r, e in
                       zip(above.unit, above.rmspe_ratio, above.pre_rmspe))
    return f"""
        The outcome-only weights are compared with R `quadprog` on the same problem (polished to an exact
        KKT point). The placebo p is {pl.p_value:.4f} = {pl.details['rank']}/{pl.details['n_units']}, not
        ADH (2010)'s 1/39: ADH rank a covariate-weighted fit, while here every pre-period year is matched,
        and {who} reach a larger post/pre RMSPE ratio than California's {pl.details['observed_rmspe_ratio']:.1f}.
        See [Inference](../placebo.md#prop-99-p-339).

        With ADH's predictors, Synth 1.1-8 stops at loss_v 3.209 and MSCMT at 3.077; synthcontrol
        finds {out.loss_v:.4f} and proves no choice of V can do better (the lower bound equals it, bound
        gap {out.bound_gap:.1e}), so "lower or equal" is the right comparison with those packages.
    """


STUDIES.append(Study("prop99", "Replication: Proposition 99 (Abadie, Diamond & Hainmueller 2010)", """
    California's 1988 tobacco tax and control programme (Proposition 99), with the 38 states that
    passed no comparable law as donors. Recomputed here: the outcome-only synthetic California and its
    placebo test, the leave-two-out test, the debiased t-test and SCPI intervals, and the
    Synth-compatible fit with ADH (2010)'s predictors.
""", PROP99_CODE, _prop99_rows, _prop99_figure, _prop99_notes))


# ---- Basque Country --------------------------------------------------------------------------
BASQUE_CODE = """
import synthcontrol as sc

basque = sc.datasets.load("basque")
regions = basque[basque.regionno != 1]   # regionno 1 is Spain as a whole
panel = sc.Panel(regions, unit="regionname", time="year", outcome="gdpcap",
                 treated="Basque Country (Pais Vasco)", treatment_time=1970)
res = sc.SyntheticControl().fit(panel)   # outcome-only
placebo = res.placebo()

# Abadie & Gardeazabal (2003)'s predictors, as in Synth's example(synth)
years = range(1961, 1970, 2)
sectors = ["agriculture", "energy", "industry", "construction",
           "services.venta", "services.nonventa"]
dp = sc.synth_dataprep(
    foo=basque,
    predictors=["school.illit", "school.prim", "school.med", "school.high",
                "school.post.high", "invest"],
    predictors_op="mean", time_predictors_prior=range(1964, 1970),
    special_predictors=[("gdpcap", range(1960, 1970), "mean"),
                        *[(f"sec.{s}", years, "mean") for s in sectors],
                        ("popdens", [1969], "mean")],
    dependent="gdpcap", unit_variable="regionno", unit_names_variable="regionname",
    time_variable="year", treatment_identifier=17,
    controls_identifier=[*range(2, 17), 18],
    time_optimize_ssr=range(1960, 1970), time_plot=range(1955, 1998))
dp = sc.synth_compat.basque_schooling_shares(dp)  # the example's edit: shares
out = sc.synth(dp)
"""


def _basque_rows(ns):
    res, out = ns["res"], ns["out"]
    ours = {"att": res.att, "pre_rmse": res.pre_rmse, "weights": {str(k): float(v) for k, v in res.weights.items()}}
    rows = expected_rows("basque_outcome_only", ours, ["att", "pre_rmse", "weights"],
                         {"att": "ATT, outcome-only (GDP per capita, thousand 1986 USD)",
                          "pre_rmse": "pre-period RMSE"})
    rows.append(Row("placebo p (RMSPE ratio)", ns["placebo"].p_value, 0.41,
                    "Lei & Sudijono (2025) Table 1 as quoted in seed 001 (2 decimals)", 0.005, digits=4))
    cov = _synth_numbers(out)
    names = {str(k): v for k, v in zip(ns["basque"].regionno, ns["basque"].regionname)}
    rows += expected_rows("basque_synth_covariates", cov,
                          ["loss_v", "lower_bound", "bound_gap", "outcome_only_bound", "weights"],
                          {"loss_v": "A&G predictors: loss_v", "lower_bound": "proven lower bound on loss_v",
                           "bound_gap": "loss_v − lower bound", "outcome_only_bound": "outcome-only MSPE, 1960-69"},
                          names=names)
    rows += package_rows("basque_synth_covariates", cov)
    return rows


def _basque_figure(ns, path):
    dp, out = ns["dp"], ns["out"]
    cf = dp.Y0plot.to_numpy() @ out.solution_w.reindex(dp.Y0plot.columns).fillna(0).to_numpy()
    _two_panel(dp.Y1plot, cf, dp.Y1plot.index, 1970,
               "Basque Country vs synthetic Basque Country (A&G predictors)",
               "GDP per capita (thousand 1986 USD)", path)
    w = out.solution_w[out.solution_w > 0.01].sort_values(ascending=False)
    names = dict(zip(ns["basque"].regionno, ns["basque"].regionname))
    parts = ", ".join(f"{names.get(int(k), k)} {v:.3f}" for k, v in w.items())
    return (f"The Synth-compatible fit with Abadie & Gardeazabal's predictors (weights: {parts}). The gap opens "
            "after terrorism's onset in the 1970s, as in the paper's Figure 1.")


def _basque_notes(ns):
    out = ns["out"]
    return f"""
        With the example's predictors Synth 1.1-8 stops at loss_v 0.00886 with Cataluña 0.851 and
        Madrid 0.149 (the weights the paper reports, about 0.85 / 0.15), and MSCMT at 0.00429.
        synthcontrol reaches {out.loss_v:.6f} and proves that no V does better (the proven lower bound
        equals it to 1e-9 relative). That optimum is a corner of V that matches pre-1970 GDP per capita
        alone, so its weights differ from Synth's: Synth's V is a local stop, not the optimum of the
        problem it states. The outcome-only fit (every 1955-69 year matched) is a third set of weights;
        each is the exact solution of its own problem, and which problem to pose is the analyst's choice.
    """


STUDIES.append(Study("basque", "Replication: the Basque Country (Abadie & Gardeazabal 2003)", """
    The economic cost of terrorism in the Basque Country, with Spain's other 16 regions as donors
    (the national aggregate is dropped). Recomputed here: the outcome-only fit and its placebo test,
    and the Synth-compatible fit of R Synth's `example(synth)`, schooling edit included.
""", BASQUE_CODE, _basque_rows, _basque_figure, _basque_notes))


# ---- German reunification --------------------------------------------------------------------
GERMANY_CODE = """
import synthcontrol as sc

de = sc.datasets.load("germany")
donors = ["Australia", "Austria", "Belgium", "Denmark", "France", "Greece",
          "Italy", "Japan", "Netherlands", "New Zealand", "Norway", "Portugal",
          "Spain", "Switzerland", "UK", "USA"]
dp = sc.synth_dataprep(
    foo=de, predictors=["gdp", "trade", "infrate"], predictors_op="mean",
    time_predictors_prior=range(1981, 1991),
    special_predictors=[("industry", range(1981, 1991), "mean"),
                        ("schooling", [1980, 1985], "mean"),
                        ("invest80", [1980], "mean")],
    dependent="gdp", unit_variable="country", time_variable="year",
    treatment_identifier="West Germany", controls_identifier=donors,
    time_optimize_ssr=range(1960, 1990), time_plot=range(1960, 2004))
out = sc.synth(dp)                       # ADH (2015)'s specification

panel = sc.Panel(de, unit="country", time="year", outcome="gdp",
                 treated="West Germany", treatment_time=1990)
res = sc.SyntheticControl().fit(panel)   # outcome-only
placebo = res.placebo()
"""


def _germany_rows(ns):
    out, res, pl = ns["out"], ns["res"], ns["placebo"]
    cov = _synth_numbers(out)
    rows = expected_rows("germany_synth_covariates", cov,
                         ["loss_v", "lower_bound", "bound_gap", "outcome_only_bound", "weights"],
                         {"loss_v": "ADH predictors: loss_v (pre-period MSPE, USD²)",
                          "lower_bound": "proven lower bound on loss_v", "bound_gap": "loss_v − lower bound",
                          "outcome_only_bound": "outcome-only MSPE, 1960-89"})
    rows += package_rows("germany_synth_covariates", cov)
    rows.append(Row("outcome-only fit: pre-period MSPE", res.pre_rmse ** 2, fixture("germany_synth_covariates")
                    ["expected"]["outcome_only_bound"]["value"], "the bound above (same problem)", 1e-6 * 3702))
    rows.append(Row("placebo p (RMSPE ratio), outcome-only", pl.p_value, 0.059,
                    "Lei & Sudijono (2025) Table 1 as quoted in seed 001 (3 decimals)", 5e-4, digits=4))
    rows.append(Row("ATT 1990-2003, outcome-only (USD per capita)", res.att, None, "", None, "info"))
    return rows


def _germany_figure(ns, path):
    dp, out = ns["dp"], ns["out"]
    cf = dp.Y0plot.to_numpy() @ out.solution_w.reindex(dp.Y0plot.columns).fillna(0).to_numpy()
    _two_panel(dp.Y1plot, cf, dp.Y1plot.index, 1990, "West Germany vs synthetic West Germany (ADH 2015 predictors)",
               "GDP per capita (PPP, 2002 USD)", path)
    w = out.solution_w[out.solution_w > 0.01].sort_values(ascending=False)
    parts = ", ".join(f"{k} {v:.3f}" for k, v in w.items())
    return (f"Weights: {parts}. After reunification West Germany's GDP per capita falls below its synthetic "
            "counterpart, as in ADH (2015)'s Figure 2.")


def _germany_notes(ns):
    out = ns["out"]
    return f"""
        ADH (2015) publish rounded weights (Austria 0.42, USA 0.22, Japan 0.16, Switzerland 0.11,
        Netherlands 0.09), with V chosen by cross-validation on an earlier window; on `gdp` 1960-89
        those weights give an MSPE of 14,955. Minimising over V on 1960-89, as Synth does with this
        specification, gives {out.loss_v:,.1f}, certified optimal; Austria and the USA stay the two largest
        donors. The published weights were not meant to minimise this loss, so the comparison says only
        that ours is not worse on the fitted window.
    """


STUDIES.append(Study("germany", "Replication: German reunification (Abadie, Diamond & Hainmueller 2015)", """
    The economic cost of the 1990 reunification for West Germany, with 16 OECD countries as donors.
    Recomputed here: the Synth-compatible fit with ADH (2015)'s predictors, certified optimal over V,
    and the outcome-only fit with its placebo test.
""", GERMANY_CODE, _germany_rows, _germany_figure, _germany_notes))


# ---- Kansas (augsynth) -----------------------------------------------------------------------
KANSAS_CODE = """
import numpy as np
import synthcontrol as sc

ks = sc.datasets.load("kansas")
for col, src in {"lrevstate": "revstatecapita", "lrevlocal": "revlocalcapita",
                 "lwage": "avgwklywagecapita"}.items():
    ks[col] = np.log(ks[src])
ks["lgdp"] = ks["lngdpcapita"]
panel = sc.Panel(ks, unit="state", time="year_qtr", outcome="lngdpcapita",
                 treat="treated")
covs = ["lgdp", "lrevstate", "lrevlocal", "lwage", "estabscapita", "emplvlcapita"]

scm = sc.SyntheticControl().fit(panel)                   # progfunc = "None"
ridge = sc.SyntheticControl(augment="ridge").fit(panel)  # progfunc = "Ridge"
cov_ridge = sc.SyntheticControl(augment="ridge", covariates=covs).fit(panel)
cov_resid = sc.SyntheticControl(
    augment="ridge", covariates=covs, residualize=True,
    ridge_lambda=ridge.diagnostics["ridge_lambda"]).fit(panel)
conformal = ridge.conformal(alpha=0.05)
"""


def _kansas_rows(ns):
    rows = []
    labels = {"att": "ATT (log GDP per capita)", "l2_imbalance": "L2 imbalance", "ridge_lambda": "ridge lambda"}
    for case, var, tag in (("kansas_outcome_only", "scm", "SCM"), ("kansas_ridge", "ridge", "ridge ASCM"),
                           ("kansas_cov_ridge", "cov_ridge", "ridge ASCM + covariates"),
                           ("kansas_cov_ridge_resid", "cov_resid", "ridge ASCM + residualized covariates")):
        r = ns[var]
        ours = {"att": r.att, "l2_imbalance": r.diagnostics["l2_imbalance"],
                "ridge_lambda": r.diagnostics.get("ridge_lambda")}
        exp = fixture(case)["expected"]
        keys = [k for k in ("att", "l2_imbalance", "ridge_lambda") if k in exp]
        rows += expected_rows(case, ours, keys, {k: f"{tag}: {v}" for k, v in labels.items()})
        for ref in fixture(case).get("reference_packages", []):
            for k, v in ref["recorded"].items():
                rows.append(Row(f"{tag}: {labels[k]}", ours[k], v, f"{ref['package']} {ref['version']}",
                                ref["tol"][k]))
    c = ns["conformal"]
    rows.append(Row("ridge ASCM: conformal 95% ATT interval, lower", c.ci_lower, None, "", None, "info"))
    rows.append(Row("ridge ASCM: conformal 95% ATT interval, upper", c.ci_upper, None, "", None, "info"))
    return rows


def _kansas_figure(ns, path):
    r = ns["ridge"]
    x = r.observed.index
    _two_panel(r.observed, r.counterfactual, x, x[ns["panel"].T0],
               "Kansas vs its augmented synthetic control (ridge ASCM)", "log GDP per capita", path,
               cf_label="ridge-augmented synthetic control")
    return (f"Kansas's log GDP per capita and the ridge-augmented synthetic control (top), and their gap (bottom). "
            f"The 2012 tax cuts are followed by a gap averaging {r.att:+.4f} log points (about "
            f"{100 * (math.exp(r.att) - 1):+.1f}%).")


def _kansas_notes(ns):
    return """
        augsynth 0.2.0's numbers were recorded from R with the calls in each case file's `source`
        (`fixtures/kansas_*.json`). The ridge penalty is chosen by the same leave-one-period-out
        cross-validation and agrees to 1e-12. augsynth's conformal intervals were not recorded, so the
        conformal interval is shown, not judged; [Augmented SCM](../augmented.md) checks its coverage by
        simulation.
    """


STUDIES.append(Study("kansas", "Replication: the Kansas tax cuts (Ben-Michael, Feller & Rothstein 2021)", """
    Kansas's 2012 income tax cuts, the running example of augsynth: quarterly log GDP per capita, the
    other states as donors. Recomputed here: augsynth's ladder of estimators — plain SCM, ridge ASCM,
    and ridge ASCM with covariates (raw and residualized).
""", KANSAS_CODE, _kansas_rows, _kansas_figure, _kansas_notes))


# ---- the leave-two-out table (Lei & Sudijono 2025, Table 1) -----------------------------------
LTO_CODE = """
import synthcontrol as sc

sm = sc.datasets.load("prop99")
basque = sc.datasets.load("basque")
de = sc.datasets.load("germany")
panels = {
    "Prop 99": sc.Panel(sm, unit="state", time="year", outcome="cigsale",
                        treated="California", treatment_time=1989),
    "Basque": sc.Panel(basque[basque.regionno != 1], unit="regionname",
                       time="year", outcome="gdpcap",
                       treated="Basque Country (Pais Vasco)", treatment_time=1970),
    "Germany": sc.Panel(de, unit="country", time="year", outcome="gdp",
                        treated="West Germany", treatment_time=1990),
}
# The papers' predictors, every window ending before the treatment (see the notes)
sectors = ["agriculture", "energy", "industry", "construction",
           "services.venta", "services.nonventa"]
schooling = ["illit", "prim", "med", "high", "post.high"]
covariate_fits = {
    "Prop 99": sc.SyntheticControl(
        covariates={"lnincome": (1980, 1988), "retprice": (1980, 1988),
                    "age15to24": (1980, 1988), "beer": (1984, 1988)},
        outcome_lags=[1975, 1980, 1988], fit_window=(1970, 1988)),
    "Basque": sc.SyntheticControl(
        covariates={**{f"school.{c}": (1964, 1969) for c in schooling},
                    "invest": (1964, 1969),
                    **{f"sec.{c}": (1961, 1969) for c in sectors},
                    "popdens": (1969, 1969)},
        outcome_lags={"gdpcap": (1960, 1969)}, fit_window=(1960, 1969)),
    "Germany": sc.SyntheticControl(
        covariates={"trade": (1981, 1989), "infrate": (1981, 1989),
                    "industry": (1981, 1989), "schooling": (1980, 1985),
                    "invest80": (1980, 1980)},
        outcome_lags={"gdp": (1981, 1989)}, fit_window=(1960, 1989)),
}
table = {}
for study, panel in panels.items():
    fits = {"outcome-only": sc.SyntheticControl(),
            "covariates": covariate_fits[study]}
    for spec, est in fits.items():
        res = est.fit(panel)
        placebo = res.placebo(statistic="rmspe_ratio", donor_pool="all")
        lto = res.lto(alpha=0.05)
        table[study, spec] = dict(
            placebo_p=placebo.p_value, lto_p=lto.p_value,
            reject_powered=lto.details["reject_at_alpha"],
            n_pairs=lto.details["n_pairs"])
"""

# Lei & Sudijono (2025), Table 1, as quoted in seed 001 (placebo p, LTO p)
LTO_PAPER = {"Prop 99": (0.026, 0.024), "Basque": (0.41, 0.67), "Germany": (0.059, 0.042)}
LTO_PAPER_SOURCE = "Lei & Sudijono (2025), Table 1, as quoted in seed 001"


def _lto_rows(ns):
    rows = []
    for (study, spec), d in ns["table"].items():
        pl_paper, lto_paper = LTO_PAPER[study]
        rows.append(Row(f"{study}, {spec}: placebo p", d["placebo_p"], pl_paper, LTO_PAPER_SOURCE, None, "info", 4))
        rows.append(Row(f"{study}, {spec}: LTO p ({d['n_pairs']} pairs)", d["lto_p"], lto_paper, LTO_PAPER_SOURCE,
                        None, "info", 4))
    prop = ns["table"]["Prop 99", "outcome-only"]
    e = fixture("prop99_modern_inference")["expected"]["lto_p_naive"]
    rows.append(Row("Prop 99, outcome-only: LTO p (recorded run)", prop["lto_p"], e["value"], source_text(e["source"]),
                    e["tol"], digits=6))
    return rows


def _lto_figure(ns, path):
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(9, 4.6))
    labels, x = [], []
    studies = list(LTO_PAPER)
    width = 0.16
    colors = {"placebo": "tab:grey", "LTO": "tab:blue"}
    for i, study in enumerate(studies):
        for j, (spec, hatch) in enumerate((("outcome-only", ""), ("covariates", "//"))):
            d = ns["table"][study, spec]
            for k, (test, key) in enumerate((("placebo", "placebo_p"), ("LTO", "lto_p"))):
                pos = i + (2 * j + k - 1.5) * width
                ax.bar(pos, d[key], width * 0.92, color=colors[test], hatch=hatch, edgecolor="white",
                       label=f"{test} p, {spec}" if i == 0 else None)
        for k, v in enumerate(LTO_PAPER[study]):
            ax.plot([i - 2 * width, i + 2 * width], [v, v], color=("black", "tab:red")[k], lw=1.2,
                    ls=("--", ":")[k], label=("paper: placebo p", "paper: LTO p")[k] if i == 0 else None)
    ax.axhline(0.05, color="tab:green", lw=1, label="α = 0.05")
    ax.set_xticks(range(len(studies)), studies)
    ax.set_ylabel("p-value")
    ax.set_yscale("log")
    ax.set_ylim(0.005, 1)
    ticks = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_title("Placebo vs leave-two-out p-values on the three canonical studies")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False, fontsize=8.5)
    ax.grid(axis="y", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return ("Bars: our placebo (grey) and leave-two-out (blue) p-values, outcome-only (plain) and with the "
            "papers' predictors (hatched); lines: the paper's placebo (dashed) and LTO (dotted) p-values; "
            "green: 0.05. The p-value axis is logarithmic, so the small p-values stay visible.")


def _lto_notes(ns):
    t = ns["table"]
    g = t["Germany", "covariates"]
    return f"""
        **What agrees.** The placebo p-values of Basque ({t['Basque', 'outcome-only']['placebo_p']:.4f} = 7/17)
        and Germany ({t['Germany', 'outcome-only']['placebo_p']:.4f} = 1/17) are the paper's 0.41 and 0.059,
        and the paper's qualitative findings hold here: on Basque the LTO p-value is *larger* than the
        placebo's (LTO is not mechanically smaller); on Germany the placebo test cannot reject at 0.05
        (its smallest possible p is 1/17) while LTO does (p = {g['lto_p']:.4f}).

        **What differs, and why.** The paper's numbers come from the papers' covariate specifications
        and its own fitting code; ours come from exact fits of the specifications written above, which
        differ from the originals in two places: every predictor window here ends before the treatment
        (synthcontrol rejects a window that reaches into the post-period: ADH 2015 average `gdp` and
        `industry` over 1981-1990, with 1990 the treatment year), and the Basque schooling variables are
        levels, not the shares of Synth's example. V is chosen by minimising the pre-period fit with a
        certificate, not by the paper's procedure, and the placebo units' own fits refit V. So the
        p-values are comparable in kind, not to the digit, and the table does not judge them. The one
        recorded number (Prop 99's outcome-only LTO, 73 of 703 pairs) is reproduced exactly.

        Prop 99's placebo p is 3/39 outcome-only, where ADH (2010) report 1/39 with their covariate fit;
        the covariate version here gives {t['Prop 99', 'covariates']['placebo_p']:.4f}.
    """


STUDIES.append(Study("lto_table", "Replication: the leave-two-out table (Lei & Sudijono 2025)", """
    Lei & Sudijono's leave-two-out (LTO) placebo test compares the treated unit with every pair of
    donors instead of one donor at a time, so its p-value moves in steps of 1/C(J, 2) rather than 1/N.
    Their Table 1 sets it beside the classic placebo test on the three canonical studies. Both tests
    are rerun below, on the outcome-only fit and with the studies' predictors.
""", LTO_CODE, _lto_rows, _lto_figure, _lto_notes))


# ---- where the numbers differ from the seed's, on purpose ---------------------------------------
SEED_CODE = """
import synthcontrol as sc

sm, basque, de = (sc.datasets.load(n) for n in ("prop99", "basque", "germany"))
years = range(1961, 1970, 2)
sectors = ["agriculture", "energy", "industry", "construction",
           "services.venta", "services.nonventa"]
specs = {  # the Synth-compatible specifications of the Prop 99, Basque and Germany pages
    "Prop 99": (sc.synth_dataprep(
        foo=sm, predictors=["lnincome", "retprice", "age15to24"],
        predictors_op="mean", time_predictors_prior=range(1980, 1989),
        special_predictors=[("beer", range(1984, 1989), "mean"),
                            ("cigsale", [1975], "mean"), ("cigsale", [1980], "mean"),
                            ("cigsale", [1988], "mean")],
        dependent="cigsale", unit_variable="state", time_variable="year",
        treatment_identifier="California",
        controls_identifier=sorted(s for s in sm.state.unique() if s != "California"),
        time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001)), 1989),
    "Basque": (sc.synth_compat.basque_schooling_shares(sc.synth_dataprep(
        foo=basque,
        predictors=["school.illit", "school.prim", "school.med", "school.high",
                    "school.post.high", "invest"],
        predictors_op="mean", time_predictors_prior=range(1964, 1970),
        special_predictors=[("gdpcap", range(1960, 1970), "mean"),
                            *[(f"sec.{s}", years, "mean") for s in sectors],
                            ("popdens", [1969], "mean")],
        dependent="gdpcap", unit_variable="regionno", unit_names_variable="regionname",
        time_variable="year", treatment_identifier=17,
        controls_identifier=[*range(2, 17), 18],
        time_optimize_ssr=range(1960, 1970), time_plot=range(1955, 1998))), 1970),
    "Germany": (sc.synth_dataprep(
        foo=de, predictors=["gdp", "trade", "infrate"], predictors_op="mean",
        time_predictors_prior=range(1981, 1991),
        special_predictors=[("industry", range(1981, 1991), "mean"),
                            ("schooling", [1980, 1985], "mean"),
                            ("invest80", [1980], "mean")],
        dependent="gdp", unit_variable="country", time_variable="year",
        treatment_identifier="West Germany",
        controls_identifier=sorted(c for c in de.country.unique() if c != "West Germany"),
        time_optimize_ssr=range(1960, 1990), time_plot=range(1960, 2004)), 1990),
}
names = dict(zip(basque.regionno, basque.regionname))
table = {}
for study, (dp, start) in specs.items():
    for backend in ("auto", "malo", "mscmt"):
        out = sc.synth(dp, backend=backend)
        w = out.solution_w.reindex(dp.Y0plot.columns).fillna(0.0)
        gap = dp.Y1plot - dp.Y0plot.to_numpy() @ w.to_numpy()
        top = w.sort_values(ascending=False).head(3)
        table[study, backend] = dict(
            att=float(gap[gap.index >= start].mean()), loss_v=out.loss_v,
            certified=out.bound_attained, v_agreement=out.v_agreement,
            top=", ".join(f"{names.get(k, k)} {v:.2f}" for k, v in top.items()))
"""

# The seed's numbers (seed 001, "SCPI with the covariate backends"): ATT and v_agreement under its
# mscmt and malo backends, with its own covariate specification (whole-pre-period means).
SEED_TABLE = {("Prop 99", "mscmt"): (-18.98, "≈ 1"), ("Prop 99", "malo"): (-19.60, "n/a"),
              ("Germany", "mscmt"): (-1396, "≈ 1"), ("Germany", "malo"): (-1306, "n/a"),
              ("Basque", "mscmt"): (-0.70, "0.63"), ("Basque", "malo"): (-0.63, "≈ 0")}
SEED_SOURCE = "seed 001, SCPI with the covariate backends (its own covariate specification)"


def _seed_rows(ns):
    rows = []
    for (study, backend), d in ns["table"].items():
        ref = SEED_TABLE.get((study, backend), (None, None))
        rows.append(Row(f"{study}, {backend}: ATT", d["att"], ref[0], SEED_SOURCE if ref[0] is not None else "",
                        None, "info", 5))
        rows.append(Row(f"{study}, {backend}: loss_v ({'certified' if d['certified'] else 'not certified'})",
                        d["loss_v"], None, "", None, "info", 6))
        rows.append(Row(f"{study}, {backend}: v_agreement", d["v_agreement"], ref[1],
                        SEED_SOURCE if ref[1] is not None else "", None, "info", 3))
        rows.append(Row(f"{study}, {backend}: largest weights", d["top"], None, "", None, "info"))
    return rows


def _seed_notes(ns):
    t = ns["table"]
    best = {s: min(t[s, b]["loss_v"] for b in ("auto", "malo", "mscmt")) for s in ("Prop 99", "Basque", "Germany")}
    return f"""
        **v_agreement.** The seed reports v_agreement ≈ 1 ("fragile") for Prop 99 and Germany under
        its mscmt backend. Here, at the certified optimum (`backend="auto"`), it is
        {t['Prop 99', 'auto']['v_agreement']:.2g} for Prop 99 and {t['Germany', 'auto']['v_agreement']:.2g} for
        Germany: the optimum is a corner of V (all weight on one predictor), where the two canonical V's
        that make the same W optimal nearly coincide. A v_agreement near 1 says the V a search stopped at
        is one of many equally good ones for its W; it is a property of that stopping point, not of the
        problem. Our mscmt backend gives the values in the table; `canonical_v=` reports either canonical V.

        **ATT and weights.** The seed's covariate specification averages every covariate over the whole
        pre-period and uses other data files; ours are the published Synth specifications (ADH 2010,
        Abadie & Gardeazabal 2003 as in Synth's `example(synth)`, ADH 2015), solved to a certified
        optimum over V. Best loss_v found: Prop 99 {best['Prop 99']:.6g}, Basque {best['Basque']:.6g},
        Germany {best['Germany']:,.6g}. The seed's Basque mscmt weights (Cataluña .84, Madrid .16) are
        Synth's published split, which Synth reaches with a V that is not optimal for its own problem
        (loss_v 0.00886 against the proven optimum 0.00413); the certified optimum weights other regions,
        and its ATT differs accordingly. Both are exact answers to different questions; the table shows
        ours for every backend so that the backends can be compared on one specification.

        **The leave-two-out p-value.** The seed quotes Lei & Sudijono's Prop 99 LTO p = 0.024; our
        outcome-only run gives 73/703 = 0.1038, the value recorded from their outcome-only runs, and the
        covariate version gives the same. The [leave-two-out table](lto_table.md) sets every study side
        by side and explains the difference.
    """


STUDIES.append(Study("seed_differences", "Where our numbers differ from the seed's, on purpose", """
    The specification we were given (seed 001) quotes numbers from another implementation. Where ours
    differ, it is by design: we solve the published specifications to a certified optimum. This page
    runs the three canonical covariate studies under each of our V-search backends and sets the
    seed's numbers beside ours. Nothing here is judged against the seed (the specifications differ);
    the notes say why each difference is expected.
""", SEED_CODE, _seed_rows, None, _seed_notes))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"studies to build (default: all of {[s.name for s in STUDIES]})")
    ap.add_argument("--check", action="store_true", help="compare with the committed pages; write nothing")
    a = ap.parse_args(argv)
    unknown = set(a.names) - {s.name for s in STUDIES}
    if unknown:
        ap.error(f"unknown studies {sorted(unknown)}; known: {[s.name for s in STUDIES]}")
    todo = [s for s in STUDIES if not a.names or s.name in a.names]
    PAGES.mkdir(exist_ok=True)
    status = 0
    for s in todo:
        t0 = time.perf_counter()
        text = build(s, write_figure=not a.check)
        page = PAGES / f"{s.name}.md"
        shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
        took = time.perf_counter() - t0
        if a.check:
            old = page.read_text() if page.exists() else ""
            if old != text:
                status = 1
                print(f"{shown}: differs from what the code gives now ({took:.1f} s):")
                sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                           "committed", "regenerated", n=1))
            else:
                print(f"{shown}: up to date ({took:.1f} s)")
        else:
            page.write_text(text)
            print(f"wrote {shown} ({took:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
