"""What a user sees: the placebo figure's filtering and labels, and the warning when a treated
group's average is compared with single placebo units (#17)."""
from __future__ import annotations

import warnings

import matplotlib
import pytest

import synthcontrol as sc
from synthcontrol.plotting import GREY

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def rollout(rollout_logs):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    return sc.SyntheticControl().fit(p)


@pytest.fixture(scope="module")
def prop99(p99data):
    p = sc.Panel(p99data, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    return sc.SyntheticControl().fit(p)


def _said(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(x.message) for x in w if issubclass(x.category, sc.SynthWarning)]


def test_group_average_against_single_placebos_is_said(rollout, prop99):
    inf, said = _said(lambda: rollout.placebo(statistic="mean_gap"))
    assert any("little power" in m and "average of 25 units" in m for m in said), said
    assert inf.details["smoothness_ratio"] > 2  # 2.3 on the tutorial's log (9.1 on the demo's generated one)
    _, said = _said(lambda: rollout.placebo(statistic="rmspe_ratio"))
    assert not any("little power" in m for m in said)
    inf, said = _said(lambda: prop99.placebo(statistic="mean_gap"))  # one treated unit: nothing to say
    assert not any("little power" in m for m in said) and "smoothness_ratio" not in inf.details


def _grey_lines(ax):
    return [ln for ln in ax.lines if ln.get_color() == GREY and len(ln.get_xdata())]


def test_placebo_figure_hides_badly_fitted_placebos_and_says_so(prop99):
    inf = prop99.placebo(donor_pool="all")
    fig = prop99.plot("placebo", inference=inf)
    a1, a2 = fig.axes[:2]
    # Abadie's cut: pre-MSPE above 20x California's; the legend counts what is not drawn
    tab = inf.details["table"]
    cut = 20 * tab["pre_rmspe"].iloc[0] ** 2
    n_bad = int((tab["pre_rmspe"].iloc[1:] ** 2 > cut).sum())
    assert n_bad >= 1
    assert len(_grey_lines(a1)) == inf.details["n_placebos"] - n_bad
    legend = [t.get_text() for t in a1.get_legend().get_texts()]
    assert any(f"{n_bad} with pre-MSPE > 20x the treated's not drawn" in t for t in legend), legend
    assert a1.get_xlabel() == "year" and a1.get_ylabel() == "gap in cigsale"
    assert any(a.get_label() == "post-treatment" for a in a1.patches)  # the shaded post period
    assert any("observed ratio" in t.get_text() for t in a2.get_legend().get_texts())  # not "+12.44"
    everything = prop99.plot("placebo", inference=inf, mspe_cut=None)
    assert len(_grey_lines(everything.axes[0])) == inf.details["n_placebos"]


def test_group_placebo_figure_cuts_relative_to_the_placebos(rollout):
    """A group's average is smoother than any unit: the cut is taken against the placebos' median,
    so the placebos are drawn (against the treated's MSPE none would be)."""
    inf = rollout.placebo(statistic="rmspe_ratio")
    fig = rollout.plot("placebo", inference=inf)
    assert len(_grey_lines(fig.axes[0])) >= inf.details["n_placebos"] - 2
    assert fig.axes[0].get_xlabel() == "signup week"  # underscores as spaces


# ---- fit-level checks (the seed's failure modes), said at fit time and shown by summary()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _long(Y, T0):
    T, N = Y.shape
    df = pd.DataFrame({"unit": np.repeat([f"u{j}" for j in range(N)], T), "t": np.tile(np.arange(T), N),
                       "y": Y.T.ravel()})
    return sc.Panel(df, unit="unit", time="t", outcome="y", treated="u0", treatment_time=T0)


def test_canonical_fit_is_quiet_and_reports_its_checks(p99data):
    p = sc.Panel(p99data, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    res, said = _said(lambda: sc.SyntheticControl().fit(p))
    assert said == []
    d = res.diagnostics
    assert d["pre_r2"] == pytest.approx(0.9788, abs=1e-3)  # 1 - SSR/SST over 1970-1988
    assert d["max_weight"] == pytest.approx(0.3939, abs=1e-3) and d["donors_per_pre_period"] == 2.0
    text = res.summary()
    assert "Pre-period R^2           0.979" in text and "38 / 19  (J >= 0.8 T0: overfitting risk" in text


def test_a_dominant_donor_is_said():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(30, 8)).cumsum(axis=0)
    Y[:, 0] = 0.9 * Y[:, 3] + 0.1 * Y[:, 5] + 0.01 * rng.normal(size=30)
    res, said = _said(lambda: sc.SyntheticControl().fit(_long(Y, 20)))
    assert any("one donor carries" in m and "'u3'" in m for m in said), said
    assert res.diagnostics["max_weight"] >= 0.8 and "Largest weight" in res.summary()


def test_a_pre_fit_worse_than_a_flat_line_is_said(rollout_logs):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    res, said = _said(lambda: sc.SyntheticControl().fit(p))
    assert res.diagnostics["pre_r2"] < 0  # -0.94: the treated average's weekly moves are noise the donors miss
    assert any("worse than a flat line" in m for m in said)
    assert "(worse than a flat line)" in res.summary()


def test_as_many_active_donors_as_pre_periods_is_said():
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(12, 30))
    Y[:, 0] = Y[:, 1:].mean(axis=1)  # deep inside the hull: an exact fit with many donors
    res, said = _said(lambda: sc.SyntheticControl().fit(_long(Y, 6)))
    assert res.diagnostics["active_per_pre_period"] >= 0.8
    assert any("overfitting" in m for m in said), said


def test_intervals_figure_draws_each_methods_band(prop99):
    """plot('intervals', inference=...) for conformal, SCPI and jackknife+: the right panel's band is
    the table's interval, the level is in the title; a test without per-period intervals is refused."""
    for inf in (prop99.conformal(alpha=0.1), prop99.scpi(sims=40, seed=0), prop99.jackknife_plus(alpha=0.1)):
        fig = prop99.plot("intervals", inference=inf)
        a2 = fig.axes[1]
        assert "90% intervals" in a2.get_title()
        band = a2.collections[0].get_paths()[0].vertices  # fill_between: lower then upper edge
        t = inf.details["table"]
        lo, hi = ("effect_lower", "effect_upper") if "effect_lower" in t.columns else ("lower", "upper")
        ys = band[:, 1]
        assert np.min(ys) == pytest.approx(float(np.min(t[lo])), rel=1e-9)
        assert np.max(ys) == pytest.approx(float(np.max(t[hi])), rel=1e-9)
    with pytest.raises(sc.SpecificationError, match="per-period intervals"):
        prop99.plot("intervals", inference=prop99.placebo())


def test_lto_figure_colours_each_match_and_counts_the_donors_that_win(prop99):
    """plot('lto'): a donors x donors grid, one cell per match (symmetric, diagonal empty), red where the
    treated unit wins; the right panel's bars count, per donor, the matches its own ratio won -- on
    Prop 99 Missouri and Virginia (the two placebo states above California); the title carries the test."""
    inf = prop99.lto()
    fig = prop99.plot("lto", inference=inf)
    a1 = fig.axes[0]  # the grid (then the bars, then the grid's colourbar)
    a2 = next(a for a in fig.axes[1:] if a.patches)
    M = np.ma.filled(a1.images[0].get_array(), np.nan)
    J = len(prop99.panel.donors)
    assert M.shape == (J, J) and np.isnan(np.diag(M)).all()
    np.testing.assert_allclose(M, M.T, equal_nan=True)
    wins = int(np.sum(M[np.triu_indices(J, 1)] > 0))
    assert wins == inf.details["treated_wins"] == 630
    assert "630 of 703" in a1.get_title() and "does not reject at 5%" in a1.get_title()
    names = [t.get_text() for t in a2.get_yticklabels()]
    assert names[:2] == ["Missouri", "Virginia"]
    assert [round(b.get_width()) for b in a2.patches][:2] == [37, 36]
    with pytest.raises(sc.SpecificationError, match="leave-two-out"):
        prop99.plot("lto", inference=prop99.placebo())


def test_thin_event_cells_are_said(rollout_logs):
    """An events panel whose cells hold few users warns (the demo with --n-users 5000: median 2 per
    cell, 14% empty); the seed's log (about 19 users per workspace-week) does not."""
    kw = dict(unit="workspace_id", time="signup_week", outcome="task_completed", cluster="user_id",
              treated=range(25), treatment_time=20, window=(0, 30))
    thin = sc.datasets.make_rollout_logs(seed=42, n_users=5000)
    p, said = _said(lambda: sc.panel_from_events(thin, **kw))
    assert any(m.startswith("thin cells") for m in said), said
    assert int(p.cell_counts.to_numpy().sum()) == int((thin.signup_week < 30).sum())
    _, said = _said(lambda: sc.panel_from_events(rollout_logs, **kw))
    assert not any(m.startswith("thin cells") for m in said), said
