"""Estimator-level invariants (DESIGN.md) and result-object behaviour, on generated panels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthcontrol as sc


def make_long(rng, n_units=8, n_periods=12, treated_unit=0, effect=0.0, T0=8):
    Y = rng.normal(size=(n_periods, n_units)).cumsum(axis=0) + rng.normal(scale=2, size=n_units)
    Y[T0:, treated_unit] += effect
    t, u = np.meshgrid(np.arange(n_periods), np.arange(n_units), indexing="ij")
    return pd.DataFrame({"unit": [f"u{i}" for i in u.ravel()], "period": 2000 + t.ravel(),
                         "y": Y.ravel()})


def fit(df, **kw):
    panel = sc.Panel(df, unit="unit", time="period", outcome="y", treated="u0", treatment_time=2008, **kw)
    return sc.SyntheticControl().fit(panel)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.floats(0.1, 50), b=st.floats(-100, 100))
def test_affine_map_of_outcome(seed, a, b):
    """y -> a*y + b on every unit: same weights, ATT scaled by a, pre RMSE by a."""
    rng = np.random.default_rng(seed)
    df = make_long(rng, effect=1.5)
    r1 = fit(df)
    df2 = df.assign(y=a * df["y"] + b)
    r2 = fit(df2)
    np.testing.assert_allclose(r2.counterfactual, a * r1.counterfactual + b, rtol=1e-7, atol=1e-6 * (abs(b) + a))
    assert r2.att == pytest.approx(a * r1.att, rel=1e-6, abs=1e-8 * (abs(b) + a))
    assert r2.pre_rmse == pytest.approx(a * r1.pre_rmse, rel=1e-6, abs=1e-8 * (abs(b) + a))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_relabelling_and_row_order(seed, perm_seed):
    """Renaming donors and shuffling rows changes nothing but labels."""
    rng = np.random.default_rng(seed)
    df = make_long(rng)
    r1 = fit(df)
    names = {f"u{i}": (f"u{i}" if i == 0 else f"donor_{(i * 7) % 11}_{i}") for i in range(8)}
    df2 = df.assign(unit=df["unit"].map(names)).sample(frac=1, random_state=perm_seed)
    r2 = fit(df2)
    w2 = r2.weights.rename(index={v: k for k, v in names.items()}).reindex(r1.weights.index)
    np.testing.assert_allclose(r1.counterfactual, r2.counterfactual, atol=1e-9)
    assert r1.att == pytest.approx(r2.att, abs=1e-9)
    if r1.panel.T0 > len(r1.weights):  # unique solution only when T0 > J
        np.testing.assert_allclose(w2, r1.weights, atol=1e-8)


def test_donor_identical_to_treated_gets_weight_one():
    rng = np.random.default_rng(1)
    df = make_long(rng, n_units=30, n_periods=10, T0=6)  # J = 29 > T0 = 6: singular Gram
    y0 = df.loc[df.unit == "u0", "y"].to_numpy()
    df.loc[df.unit == "u17", "y"] = y0
    panel = sc.Panel(df, unit="unit", time="period", outcome="y", treated="u0", treatment_time=2006)
    res = sc.SyntheticControl().fit(panel)
    assert res.weights["u17"] == pytest.approx(1.0, abs=1e-12)
    assert res.pre_rmse < 1e-12 and abs(res.att) < 1e-12


def test_treated_group_is_the_mean_of_its_units():
    rng = np.random.default_rng(2)
    df = make_long(rng, n_units=10)
    panel = sc.Panel(df, unit="unit", time="period", outcome="y", treated=["u0", "u1", "u2"],
                     treatment_time=2008)
    wide = df.pivot(index="period", columns="unit", values="y")
    np.testing.assert_allclose(panel.y_treated, wide[["u0", "u1", "u2"]].mean(axis=1))
    assert list(panel.donors) == [f"u{i}" for i in range(3, 10)]


def test_treat_column_equals_treated_and_time():
    rng = np.random.default_rng(3)
    df = make_long(rng)
    df["d"] = ((df.unit == "u0") & (df.period >= 2008)).astype(int)
    r1 = sc.SyntheticControl().fit(sc.Panel(df, unit="unit", time="period", outcome="y", treat="d"))
    r2 = fit(df)
    assert r1.panel.treatment_time == 2008 and r1.panel.treated_units == ("u0",)
    assert r1.att == pytest.approx(r2.att, abs=1e-12)


def test_fit_window_restricts_the_fitted_periods():
    rng = np.random.default_rng(4)
    df = make_long(rng, n_periods=14, T0=10)
    panel = sc.Panel(df, unit="unit", time="period", outcome="y", treated="u0", treatment_time=2010)
    full = sc.SyntheticControl().fit(panel)
    late = sc.SyntheticControl(fit_window=(2005, 2009)).fit(panel)
    # the late-window fit is optimal on its own window, so it is at least as good there
    m = (panel.times >= 2005) & (panel.times <= 2009)
    g_full, g_late = full.gap.to_numpy()[m], late.gap.to_numpy()[m]
    assert (g_late ** 2).sum() <= (g_full ** 2).sum() + 1e-10
    assert not np.allclose(full.weights, late.weights)


def test_result_frame_summary_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    rng = np.random.default_rng(5)
    res = fit(make_long(rng, effect=3.0))
    fr = res.to_frame()
    assert list(fr.columns) == ["period", "observed", "counterfactual", "effect", "post"]
    assert fr["post"].sum() == 4 and fr.loc[fr.post, "effect"].mean() == pytest.approx(res.att)
    np.testing.assert_allclose(fr["observed"] - fr["counterfactual"], fr["effect"])
    s = res.summary()
    assert "ATT" in s and f"{res.att:+.4f}" in s and "KKT" in s
    for kind in ("trajectory", "gap", "weights", "placebo"):
        fig = res.plot(kind)
        fig.savefig(tmp_path / f"{kind}.png")
        assert (tmp_path / f"{kind}.png").stat().st_size > 5_000
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):  # results are immutable
        res.att = 0.0


def test_placebo_mean_gap_counts_by_hand():
    rng = np.random.default_rng(6)
    res = fit(make_long(rng, n_units=12, effect=4.0))
    inf = res.placebo(statistic="mean_gap")
    tab = inf.details["table"]
    obs = tab.loc[tab.treated, "att"].iloc[0]
    pl = tab.loc[~tab.treated, "att"].to_numpy()
    assert inf.details["n_as_extreme"] == int((np.abs(pl) >= abs(obs)).sum())
    assert inf.p_value == (inf.details["n_as_extreme"] + 1) / (len(pl) + 1)
    # each placebo's ATT equals a direct fit with that donor as the treated unit
    df = make_long(np.random.default_rng(6), n_units=12, effect=4.0)
    for donor in ("u3", "u7"):
        p = sc.Panel(df[df.unit != "u0"], unit="unit", time="period", outcome="y", treated=donor,
                     treatment_time=2008)
        direct = sc.SyntheticControl().fit(p)
        assert tab.set_index("unit").loc[donor, "att"] == pytest.approx(direct.att, abs=1e-9)


def test_in_time_placebo_respects_fit_window():
    rng = np.random.default_rng(8)
    df = make_long(rng, n_periods=16, T0=12)
    panel = sc.Panel(df, unit="unit", time="period", outcome="y", treated="u0", treatment_time=2012)
    full = sc.SyntheticControl().fit(panel).in_time_placebo(fake_time=2009)
    late = sc.SyntheticControl(fit_window=(2004, 2011)).fit(panel).in_time_placebo(fake_time=2009)
    # the windowed fit uses 2004-2008 only: identical to fitting a panel cut to those years
    cut = sc.Panel(df[df.period >= 2004], unit="unit", time="period", outcome="y", treated="u0",
                   treatment_time=2009)
    direct = sc.SyntheticControl(fit_window=(2004, 2008)).fit(cut)
    np.testing.assert_allclose(late.details["weights"], direct.weights, atol=1e-10)
    assert not np.allclose(full.details["weights"], late.details["weights"])
    with pytest.raises(sc.SpecificationError, match="fit window"):
        sc.SyntheticControl(fit_window=(2008, 2011)).fit(panel).in_time_placebo(fake_time=2009)


def test_result_series_are_not_shared_with_the_caller():
    rng = np.random.default_rng(9)
    res = fit(make_long(rng))
    w0 = res.weights.copy()
    try:
        s = res.weights
        s.iloc[0] = 99.0
    except ValueError:  # pandas < 3 without copy-on-write: the read-only array refuses the write
        pass
    pd.testing.assert_series_equal(res.weights, w0)
    assert isinstance(res.diagnostics["n_active_donors"], int)
