"""Regenerate the result figures the pages show, with the library's own plot functions, from the
data packaged with synthcontrol: `python docs/make_result_figures.py`.

    img/prop99_trajectory.png, img/prop99_weights.png   (index.md, outcome_only.md)
    img/rollout_placebo.png                              (inference.md)
    img/penalized_path.png                               (penalized.md)

This script writes the tracked figures on purpose; the docs' examples never do."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import synthcontrol as sc  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"

sm = sc.datasets.load("prop99")
p99 = sc.Panel(sm, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
res = sc.SyntheticControl().fit(p99)
res.plot("trajectory").savefig(IMG / "prop99_trajectory.png", dpi=100)
res.plot("weights").savefig(IMG / "prop99_weights.png", dpi=100)

logs = sc.datasets.load("rollout_logs")
roll = sc.panel_from_events(logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                            cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
rr = sc.SyntheticControl().fit(roll)
rr.plot("placebo", inference=rr.placebo(statistic="mean_gap")).savefig(IMG / "rollout_placebo.png", dpi=100)
adh = dict(covariates=["lnincome", "retprice", "age15to24", "beer"], predictor_window=(1980, 1988),
           outcome_lags=[1975, 1980, 1988])
pen = sc.SyntheticControl(backend="penalized", penalized_cv="loo", **adh).fit(p99)
pen.plot("penalty").savefig(IMG / "penalized_path.png", dpi=100)
print("wrote", ", ".join(f.name for f in (IMG / "prop99_trajectory.png", IMG / "prop99_weights.png",
                                          IMG / "rollout_placebo.png", IMG / "penalized_path.png")))
