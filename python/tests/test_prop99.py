"""Prop 99 (California, treated from 1989; 38 donors; pre-period 1970-1988), outcome-only.

Expected numbers: ``shared/reference/prop99_outcome_only_simplex.json`` — quadprog
with an exact KKT polish on the support, cross-checked against lsei::pnnls to
2e-13, computed in R 4.2.2 on ``smoking.csv`` (tidysynth's panel, exported
exactly).  ``P99data.csv`` (mlsynth's copy) differs in the last float digits,
so there the issue's tolerance of 1e-3 on weights applies.
The placebo reference is ``prop99_placebo_outcome_only.json`` (all 39 units,
California in the donor pool of each placebo, quadprog + polish).
"""
from __future__ import annotations

import numpy as np
import pytest

import synthcontrol as sc

GOLD = {"Utah": 0.3939080236, "Montana": 0.2318399512, "Nevada": 0.2049225842,
        "Connecticut": 0.1090896242, "New Hampshire": 0.0454290464, "Colorado": 0.0148107704}


def _fit(df):
    panel = sc.Panel(df, unit="state", time="year", outcome="cigsale",
                     treated="California", treatment_time=1989)
    return sc.SyntheticControl().fit(panel)


def test_gold_weights_on_exact_export(smoking, reference):
    ref = reference("prop99_outcome_only_simplex.json")
    res = _fit(smoking)
    w = res.weights
    ref_w = np.array([ref["weights"][s] for s in w.index])
    assert np.abs(w.to_numpy() - ref_w).max() < 1e-9  # measured 2e-13
    assert res.att == pytest.approx(ref["att_1989_2000"], abs=1e-9)
    assert res.pre_rmse == pytest.approx(ref["pre_rmse_1970_1988"], abs=1e-9)
    assert res.diagnostics["kkt_violation"] < 1e-8
    gaps = res.gap
    for year, g in ref["gaps"].items():
        assert gaps[int(year)] == pytest.approx(g, abs=1e-8)


def test_issue_numbers_on_p99data(p99data):
    res = _fit(p99data)
    assert round(res.att, 4) == -19.5136
    assert round(res.pre_rmse, 4) == 1.6564
    active = res.weights[res.weights > 1e-6]
    assert set(active.index) == set(GOLD)
    for k, v in GOLD.items():
        assert abs(active[k] - v) < 1e-3
    assert res.diagnostics["kkt_violation"] < 1e-8
    assert res.diagnostics["n_active_donors"] == 6


def test_placebo_rmspe_ratio_matches_reference(smoking, reference):
    ref = reference("prop99_placebo_outcome_only.json")
    res = _fit(smoking)
    inf = res.placebo(statistic="rmspe_ratio", donor_pool="all")
    d = inf.details
    assert d["observed_rmspe_ratio"] == pytest.approx(12.43997, abs=1e-4)
    assert d["rank"] == 3 and d["n_units"] == 39
    assert inf.p_value == pytest.approx(3 / 39)
    tab = d["table"].set_index("unit")
    above = set(tab.index[(tab["rmspe_ratio"] > d["observed_rmspe_ratio"])])
    assert above == {"Missouri", "Virginia"}
    assert d["max_kkt_violation"] < 1e-8


def test_placebo_against_reference_per_unit(smoking, reference):
    """Every unit's ratio, ATT and placebo weights against the R computation."""
    ref = reference("prop99_placebo_outcome_only.json")
    res = _fit(smoking)
    d = res.placebo(statistic="rmspe_ratio", donor_pool="all").details
    tab = d["table"].set_index("unit").rename(index={res.panel.treated_label: "California"})
    for row in ref["per_unit"]:
        u = row["unit"]
        assert tab.loc[u, "rmspe_ratio"] == pytest.approx(row["ratio"], rel=1e-7), u
        assert tab.loc[u, "att"] == pytest.approx(row["att"], abs=1e-7), u
        assert tab.loc[u, "pre_rmspe"] == pytest.approx(row["pre_rmspe"], rel=1e-7), u
    order = tab.sort_values("rmspe_ratio", ascending=False).index.tolist()
    assert order == ref["units_sorted_by_ratio_desc"]


def test_exclusion_filter(smoking):
    res = _fit(smoking)
    full = res.placebo(donor_pool="all")
    filt = res.placebo(donor_pool="all", exclude_mspe_ratio=2)
    tab = full.details["table"]
    pre = tab["pre_rmspe"].to_numpy() ** 2
    expect_kept = int((pre[1:] <= 2 * pre[0]).sum())
    assert filt.details["n_placebos"] == expect_kept < 38
    assert filt.p_value == filt.details["rank"] / (expect_kept + 1)


def test_in_time_placebo_and_loo(smoking):
    res = _fit(smoking)
    itp = res.in_time_placebo(fake_time=1980)
    d = itp.details
    assert d["fake_time"] == 1980
    assert list(d["effects"].index) == list(range(1980, 1989))
    assert abs(d["weights"].sum() - 1) < 1e-12
    # the fake effect is small next to the real one (ADH 2015's in-time logic)
    assert abs(d["att"]) < 0.25 * abs(res.att)
    alltimes = res.in_time_placebo()
    assert len(alltimes.details["table"]) == res.panel.T0 - 2
    loo = res.leave_one_out()
    assert set(loo["dropped"]) == set(GOLD)
    assert (loo["att"] < 0).all()
