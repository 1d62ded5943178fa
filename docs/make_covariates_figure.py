"""Regenerate docs/img/prop99_covariates.png: `python docs/make_covariates_figure.py`.

The data come from the copy packaged with synthcontrol (`sc.datasets.load("prop99")`), Synth's and
MSCMT's recorded numbers from `fixtures/reference` ($SYNTHCONTROL_REFERENCE overrides it, as in the
tests).  This script writes the tracked figure on purpose; the docs' examples never do."""
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import synthcontrol as sc  # noqa: E402

HERE = Path(__file__).resolve().parent
REF = Path(os.environ.get("SYNTHCONTROL_REFERENCE", HERE.parent / "fixtures" / "reference"))

sm = sc.datasets.load("prop99")
ctrl = sorted(s for s in sm.state.unique() if s != "California")
dp = sc.synth_dataprep(
    foo=sm, predictors=["lnincome", "retprice", "age15to24"], predictors_op="mean",
    time_predictors_prior=range(1980, 1989),
    special_predictors=[("beer", range(1984, 1989), "mean"), ("cigsale", [1975], "mean"),
                        ("cigsale", [1980], "mean"), ("cigsale", [1988], "mean")],
    dependent="cigsale", unit_variable="state", time_variable="year", treatment_identifier="California",
    controls_identifier=ctrl, time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
out = sc.synth(dp)
synth_ref = json.loads((REF / "prop99_synth.json").read_text())
mscmt = json.loads((REF / "mscmt.json").read_text())["prop99_improveSynth"]["improved_loss_v"]

fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
years = dp.Y1plot.index
a0.plot(years, dp.Y1plot, color="black", lw=2, label="California")
a0.plot(years, dp.Y0plot.to_numpy() @ out.solution_w.to_numpy(), color="tab:blue", lw=2,
        label=f"synthcontrol (loss_v {out.loss_v:.4f})")
a0.plot(synth_ref["years_plot"], synth_ref["synthetic_Y"], color="tab:orange", ls="--",
        label=f"R Synth 1.1-8 (loss_v {synth_ref['loss_v']:.4f})")
a0.axvline(1988.5, color="grey", ls=":")
a0.set_xlabel("year")
a0.set_ylabel("cigarette sales per capita (packs)")
a0.set_title("Prop 99, ADH 2010 predictors")
a0.legend(frameon=False, fontsize=9)
labels = ["outcome-only\nbound", "synthcontrol\n(optimum)", "MSCMT 1.4.3", "Synth 1.1-8"]
vals = [out.outcome_only_bound, out.loss_v, mscmt, synth_ref["loss_v"]]
bars = a1.bar(labels, vals, color=["lightgrey", "tab:blue", "tab:green", "tab:orange"])
for b, v in zip(bars, vals):
    a1.text(b.get_x() + b.get_width() / 2, v + 0.02, f"{v:.4f}", ha="center", fontsize=9)
a1.set_ylim(2.5, 3.35)
a1.tick_params(axis="x", labelsize=8)
a1.set_ylabel("loss_v: pre-period MSE, 1970-88")
a1.set_title(f"certified optimum {out.loss_v:.6f} (gap {out.bound_gap:.0e})")
fig.tight_layout()
fig.savefig(HERE / "img" / "prop99_covariates.png", dpi=100)
print(out.loss_v, out.lower_bound, out.bound_gap)
