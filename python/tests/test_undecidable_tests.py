"""Issue #11, section 3: tests that cannot decide must say so.

Each case of the issue, re-run: the answer is right, or a typed error / :class:`sc.SynthWarning`
names the problem.  The rules (``inference/_undefined.py``): a ratio over a pre-RMSPE (or a standard
error) of at most 1e-10 x the outcome's scale is undefined; undefined placebos are left out with a
count, an undefined treated statistic gives p = NaN; permutation p-values count the identity;
intervals that reach a grid's edge are searched beyond it and reported unbounded when they do not
close; a cross-validated ridge penalty on the edge of its grid extends the grid or is flagged, and so
are the penalized backend's lambda on its grid's top and SCPI's rho when its cap sets it; fits that
fail their certificate are counted and said once per call; every RMSPE is overflow-safe; what a
method says is kept in its details["warnings"].
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.solvers.ridge import cv_lambda, cv_lambda_extended, lambda_grid
from synthcontrol.solvers.simplex import simplex_ls

from .conftest import data_dir, need_file

TREATED = "California"


def _panel(df, tt=1989):
    return sc.Panel(df, unit="state", time="year", outcome="cigsale", treated=TREATED, treatment_time=tt)


def _fit(df, tt=1989, **kw):
    return sc.SyntheticControl(**kw).fit(_panel(df, tt))


def _no_synth_warning(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn()
    assert not [w for w in rec if issubclass(w.category, sc.SynthWarning)], [str(w.message) for w in rec]
    return out


@pytest.fixture(scope="module")
def prop99(smoking):
    return _fit(smoking)


@pytest.fixture(scope="module")
def constant(smoking):
    return smoking.assign(cigsale=100.0)


@pytest.fixture(scope="module")
def identical(smoking):
    """California replaced by a copy of Utah (a donor)."""
    d = smoking.copy()
    d.loc[d.state == TREATED, "cigsale"] = d.loc[d.state == "Utah", "cigsale"].to_numpy()
    return d


@pytest.fixture(scope="module")
def small(smoking):
    states = [TREATED] + sorted(set(smoking.state) - {TREATED})[:9]
    return smoking[smoking.state.isin(states)].reset_index(drop=True)


@pytest.fixture(scope="module")
def kansas():
    return pd.read_csv(need_file(data_dir() / "kansas.csv"))


def _kansas_fit(k, **kw):
    return sc.SyntheticControl(**kw).fit(sc.Panel(k, unit="state", time="year_qtr", outcome="lngdpcapita",
                                                  treat="treated"))


def _factor_panel(T=10, T0=7, J=12, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, 2)).cumsum(axis=0)
    X = F @ rng.uniform(0.2, 1.0, size=(2, J)) + rng.normal(scale=0.3, size=(T, J))
    y = F @ rng.uniform(0.2, 1.0, size=2) + rng.normal(scale=0.3, size=T)
    units = ["tr"] + [f"d{j}" for j in range(J)]
    df = pd.DataFrame({"u": np.repeat(units, T), "t": np.tile(np.arange(T), J + 1),
                       "y": np.concatenate([y] + [X[:, j] for j in range(J)])})
    return sc.Panel(df, unit="u", time="t", outcome="y", treated="tr", treatment_time=T0)


# ---------------------------------------------------------------------------------------------
# 0/0 statistics

def test_placebo_constant_outcome_is_undefined_not_zero(constant):
    """Before: p = 0.0 (every ratio 0/0 = NaN, and NaN >= NaN counts nothing)."""
    res = _fit(constant)
    with pytest.warns(sc.SynthWarning) as rec:
        inf = res.placebo()
    said = " | ".join(str(w.message) for w in rec)
    assert "38 of 38 placebo units" in said and "treated unit's pre-period fit is exact" in said
    assert math.isnan(inf.p_value)
    d = inf.details
    assert d["n_undefined"] == 38 and d["n_placebos"] == 0 and d["rank"] is None
    assert not d["table"].ratio_defined.any()
    assert math.isnan(res.diagnostics["rmspe_ratio"])  # the fit's own ratio: NaN, not inf
    # the mean-gap statistic needs no pre-fit normalisation: all gaps are 0, nothing is extreme
    # against 0 -> every placebo ties the treated unit and p = 1
    assert res.placebo(statistic="mean_gap").p_value == 1.0


def test_placebo_treated_identical_to_a_donor(identical):
    """Before: p = 0.0 with an observed ratio of NaN."""
    res = _fit(identical)
    assert res.weights["Utah"] == pytest.approx(1.0, abs=1e-9)
    with pytest.warns(sc.SynthWarning, match="undefined"):
        inf = res.placebo()
    assert math.isnan(inf.p_value) and math.isnan(inf.details["observed_rmspe_ratio"])
    assert inf.details["n_undefined"] == 0  # every placebo is fine: only the treated unit is undefined
    assert "exact" in inf.details["warnings"][0]


def test_placebo_two_pre_periods_is_not_decided_by_rounding(smoking):
    """Before: p = 0.436 (donor_pool='donors'), 0.462 ('all'), decided by pre-RMSPEs of 0 vs 1e-14."""
    res = _fit(smoking, tt=1972)
    for pool in ("donors", "all"):
        with pytest.warns(sc.SynthWarning):
            inf = res.placebo(donor_pool=pool)
        assert math.isnan(inf.p_value)
        t = inf.details["table"]
        tol = inf.details["undefined_tolerance"]
        assert 0 < t.pre_rmspe.iloc[0] <= tol  # 1.4e-14: not zero, yet a ratio over it is noise
        assert inf.details["n_undefined"] == int((t.pre_rmspe.iloc[1:] <= tol).sum()) > 0
        assert (t.pre_rmspe[t.included & ~t.treated] > tol).all()


def test_undefined_placebos_are_left_out_with_a_count(small):
    """A donor duplicated: it and its copy fit each other exactly -> two undefined placebos, left out
    of the ranking; the treated unit's p-value uses the others."""
    dd = pd.concat([small, small[small.state == "Alabama"].assign(state="Alabama copy")])
    res = _fit(dd)
    with pytest.warns(sc.SynthWarning, match="2 of 10 placebo units"):
        inf = res.placebo()
    d = inf.details
    t = d["table"].set_index("unit")
    assert d["n_undefined"] == 2 and not t.loc[["Alabama", "Alabama copy"], "included"].any()
    kept = t[t.included]
    assert d["n_units"] == len(kept) == 9
    assert inf.p_value == int((kept.rmspe_ratio >= t.loc[TREATED, "rmspe_ratio"]).sum()) / 9


def test_undefined_rule_is_relative_to_the_outcome_scale(smoking):
    """y -> 1e6 y changes no p-value and no undefined flag (the tolerance scales with the data)."""
    big = smoking.assign(cigsale=smoking.cigsale * 1e6)
    for tt in (1989, 1972):
        a, b = _fit(smoking, tt), _fit(big, tt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sc.SynthWarning)
            pa, pb = a.placebo(), b.placebo()
        assert (pa.details["table"].ratio_defined == pb.details["table"].ratio_defined).all()
        assert (math.isnan(pa.p_value) and math.isnan(pb.p_value)) or pa.p_value == pb.p_value


def test_lto_constant_and_identical(small, constant, identical):
    """Before: p = 1.0 with 2,109 undefined ratios (constant) and 1.0 (identical), said nowhere."""
    sub = constant[constant.state.isin(small.state.unique())]
    with pytest.warns(sc.SynthWarning, match="cannot decide"):
        inf = _fit(sub).lto()
    assert math.isnan(inf.p_value) and math.isnan(inf.details["p_powered"])
    assert inf.details["reject_at_alpha"] is False
    assert inf.details["n_undefined_matches"] == inf.details["n_pairs"] == 36

    sub = identical[identical.state.isin(list(small.state.unique()) + ["Utah"])]
    with pytest.warns(sc.SynthWarning, match="count as not won"):
        inf = _fit(sub).lto()
    d = inf.details
    t = d["table"]
    undefined = t[["ratio_treated", "ratio_i", "ratio_j"]].isna().any(axis=1)
    assert d["n_undefined_matches"] == int(undefined.sum()) > 0
    assert not t.treated_wins[undefined].any()  # conservative: an unscored match is not won
    assert inf.p_value >= d["n_undefined_matches"] / d["n_pairs"]


def test_lto_two_pre_periods(smoking, small):
    sub = smoking[smoking.state.isin(small.state.unique())]
    res = _fit(sub, tt=1972)
    with pytest.warns(sc.SynthWarning):
        inf = res.lto()
    d = inf.details
    # every match where a ratio sits on an exact pre-fit is not scored; no rounding-noise ratio is used
    t = d["table"]
    assert np.all(np.isnan(t.ratio_treated) | (t.ratio_treated < 1e6))
    assert d["n_undefined_matches"] > 0


def test_ttest_with_zero_standard_error(constant, identical):
    """Before: p = 1.0 (tstat NaN silently mapped to 1)."""
    for df in (constant, identical):
        with pytest.warns(sc.SynthWarning, match="t-statistic is undefined"):
            inf = _fit(df).ttest()
        assert math.isnan(inf.p_value) and math.isnan(inf.ci_lower) and math.isnan(inf.ci_upper)
        assert math.isnan(inf.details["tstat"])


def test_in_time_placebo_flags_undefined_ratios(constant, prop99):
    with pytest.warns(sc.SynthWarning, match="17 of 17 fake dates"):
        inf = _fit(constant).in_time_placebo()
    assert inf.details["table"].rmspe_ratio.isna().all()
    # Prop 99: the earliest fake dates leave fewer periods than donors -> exact fits, NaN ratios
    with pytest.warns(sc.SynthWarning, match="fake dates"):
        t = prop99.in_time_placebo().details["table"]
    assert (t.rmspe_ratio.isna() == ~t.ratio_defined).all()
    assert t.ratio_defined.iloc[-1] and (~t.ratio_defined).sum() >= 1


# ---------------------------------------------------------------------------------------------
# conformal grids

def test_conformal_alpha_below_the_attainable_level_is_an_error(prop99):
    """Before: alpha=0.01 printed finite intervals (the grid's edges, +-41.2 around the estimate)."""
    for alpha in (0.01, 0.05):  # T0 = 19: a per-period p-value is >= 1/20 and rejection needs p < alpha
        with pytest.raises(sc.SpecificationError, match=r"1/20 = 0\.05.*alpha > 0\.05"):
            prop99.conformal(alpha=alpha)


@pytest.mark.parametrize("grid", [[], [np.nan]])
def test_conformal_degenerate_grid_is_an_error(prop99, grid):
    """Before: bounds 0.0 (the appended 0 the only grid point) or NaN."""
    with pytest.raises(sc.SpecificationError, match="grid"):
        prop99.conformal(grid=grid)


def test_conformal_grid_extends_until_the_inversion_closes(prop99):
    """A grid far too narrow ([-1, 1] around effects of -8 to -30): the search goes beyond it and
    finds the same bounds as the default grid (both bisected)."""
    narrow = _no_synth_warning(lambda: prop99.conformal(alpha=0.1, grid=[-1.0, 1.0], refine=True))
    wide = prop99.conformal(alpha=0.1, refine=True)
    a, b = narrow.details["table"], wide.details["table"]
    assert (a.lower_status == "extended").all() and a.bounded.all()
    assert np.abs(a[["lower", "upper"]].to_numpy() - b[["lower", "upper"]].to_numpy()).max() < 1e-6
    assert narrow.details["n_periods_grid_extended"] == len(a)
    # the default grid closes on its own on Prop 99 at alpha = 0.1: nothing extended
    assert (b.lower_status == "grid").all() and (b.upper_status == "grid").all()


def test_conformal_interval_that_never_closes_is_unbounded_and_said():
    """A ridge fit with lambda = 0 and more donors than periods refits every period exactly: no
    effect is ever rejected.  Before this fix: finite bounds at the grid's edge, no flag."""
    res = sc.SyntheticControl(augment="ridge", ridge_lambda=0.0).fit(_factor_panel(J=30))
    with pytest.warns(sc.SynthWarning, match="does not close"):
        inf = res.conformal(alpha=0.2)
    t = inf.details["table"]
    assert np.isneginf(t.lower).all() and np.isposinf(t.upper).all() and not t.bounded.any()
    assert (t.lower_status == "unbounded").all() and inf.details["n_unbounded_periods"] == 3
    assert inf.ci_lower == -np.inf and inf.ci_upper == np.inf
    assert inf.details["att_interval_at_grid_edge"] is True
    assert any("ATT interval does not close" in m for m in inf.details["warnings"])


# ---------------------------------------------------------------------------------------------
# ridge penalty grid

def test_ridge_fixedeff_kansas_extends_the_grid(kansas):
    """Before: lambda 6.85e-08, the bottom of augsynth's grid, no flag (Texas 1.586, Tennessee -1.232)."""
    with pytest.warns(sc.SynthWarning, match="lower edge of augsynth's grid"):
        res = _kansas_fit(kansas, augment="ridge", fixedeff=True)
    d = res.diagnostics
    lams = np.array(d["lambda_path"]["lambda"])
    assert d["lambda_grid_extended"] == {"below": 10, "above": 0} and len(lams) == 31
    assert d["lambda_at_grid_edge"] is None
    assert lams.min() < d["ridge_lambda"] < 6.85e-08  # interior to the extended grid
    assert d["ridge_lambda"] == pytest.approx(lams[0] * 1e-8 ** (22 / 20), rel=1e-12)
    me = np.array(d["lambda_path"]["cv_error"])
    assert me[20] < me[19]  # the CV error was still falling at augsynth's bottom


def test_ridge_on_the_edge_of_the_extended_grid_is_flagged(smoking):
    """Prop 99 with fixedeff: 38 donors, 19 pre-periods -- the CV error falls all the way to the floor."""
    with pytest.warns(sc.SynthWarning, match="CV does not determine the penalty"):
        res = _fit(smoking, augment="ridge", fixedeff=True)
    d = res.diagnostics
    assert d["lambda_at_grid_edge"] == "lower"
    assert d["ridge_lambda"] == min(d["lambda_path"]["lambda"])
    assert "CV does not determine" in d["warnings"][0]


def test_interior_ridge_choice_is_unchanged_and_silent(kansas):
    res = _no_synth_warning(lambda: _kansas_fit(kansas, augment="ridge"))
    assert res.diagnostics["ridge_lambda"] == pytest.approx(0.0786622281349974, rel=1e-10)  # augsynth
    assert res.diagnostics["lambda_grid_extended"] == {"below": 0, "above": 0}
    assert res.diagnostics["lambda_at_grid_edge"] is None


def test_cv_lambda_extension_upward_and_interior_identity():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 20)).cumsum(axis=1)
    A = A - A.mean(axis=0)
    a = A.T @ rng.dirichlet(np.ones(12)) + 0.5 * rng.normal(size=20)
    grid = lambda_grid(A)
    lam0, me0, _ = cv_lambda(A, a, grid)
    assert lam0 == grid[0]  # augsynth's choice: the top of its grid
    lam, lams, me, se, info = cv_lambda_extended(A, a)
    assert info["extended_above"] > 0 and lams[0] > grid[0] and lam > grid[0]
    assert np.allclose(me[info["extended_above"]:], me0, rtol=1e-12)  # the old points keep their errors
    # an interior choice is returned exactly as cv_lambda gives it, on the unextended grid
    rng = np.random.default_rng(0)
    A2 = rng.normal(size=(15, 10)).cumsum(axis=1)
    a2 = A2.T @ rng.dirichlet(np.ones(15)) + 0.3 * rng.normal(size=10)
    g2 = lambda_grid(A2)
    l2, *_ = cv_lambda(A2, a2, g2)
    assert g2[-1] < l2 < g2[0]
    lx, lamsx, *_, infox = cv_lambda_extended(A2, a2)
    assert lx == l2 and np.array_equal(lamsx, g2) and infox == {"extended_below": 0, "extended_above": 0,
                                                                "at_edge": None}


# ---------------------------------------------------------------------------------------------
# permutation p-values count the identity

def test_conformal_joint_p_is_never_zero(prop99):
    """Before: joint p = 0.0 with a Monte Carlo standard error of 0 (10,000 draws, none as large)."""
    inf = prop99.conformal()
    assert inf.p_value == pytest.approx(1 / 10001, rel=1e-12) and inf.details["joint_p_mc_se"] > 0
    assert inf.details["permutations_exact"] is False
    small = prop99.conformal(n_perm=100)
    assert small.p_value >= 1 / 101
    block = prop99.conformal(kind="block")
    assert block.p_value >= 1 / len(prop99.panel.times)  # the T cyclic shifts include the identity


def test_conformal_enumerates_small_permutation_groups_exactly():
    """T = 10, 3 post periods: the 120 subsets of tested slots are enumerated; p is a multiple of
    1/120, at least 1/120, and equals the brute-force share."""
    p = _factor_panel()
    res = sc.SyntheticControl().fit(p)
    inf = res.conformal(alpha=0.2)
    d = inf.details
    assert d["permutations_exact"] is True and d["n_perm"] == 120 and d["joint_p_mc_se"] == 0.0
    y, Y = np.asarray(p.y_treated), np.asarray(p.X_donors)
    r = y - Y @ simplex_ls(Y, y).weights
    s0 = np.abs(r[7:]).sum()
    shares = [np.abs(r[list(S)]).sum() >= s0 - 1e-9 for S in itertools.combinations(range(10), 3)]
    assert inf.p_value == pytest.approx(np.mean(shares), abs=1e-12)
    assert inf.p_value >= 1 / 120 and (inf.p_value * 120) == pytest.approx(round(inf.p_value * 120))


def test_bootstrap_p_value_is_never_zero(rollout_logs):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    inf = sc.SyntheticControl().fit(p).bootstrap(n_boot=20, seed=7)
    assert (inf.details["draws"] > 0).all()  # every resample shows the effect ...
    assert inf.p_value == pytest.approx(2 / 21)  # ... and the p-value is the Monte Carlo floor, not 0


def test_placebo_p_values_count_the_treated_unit(prop99):
    for stat in ("rmspe_ratio", "mean_gap"):
        inf = prop99.placebo(statistic=stat)
        assert inf.p_value >= 1 / (inf.details["n_placebos"] + 1)


# ---------------------------------------------------------------------------------------------
# filters that leave nothing

def test_exclude_filter_that_drops_every_placebo_is_an_error(prop99):
    """Before: p = 1.0 with n_placebos = 0."""
    with pytest.raises(sc.SpecificationError, match=r"exclude_mspe_ratio=1e-09 drops all 38 placebos"):
        prop99.placebo(exclude_mspe_ratio=1e-9)
    inf = prop99.placebo(exclude_mspe_ratio=5)  # a filter that keeps some still works
    assert 0 < inf.details["n_placebos"] < 38
    assert inf.details["n_excluded_mspe_ratio"] == 38 - inf.details["n_placebos"]


# ---------------------------------------------------------------------------------------------
# SCPI with too few pre-periods

def test_scpi_two_pre_periods_is_an_error(smoking, identical):
    """Before: out-of-sample sigma 0 and out-of-sample bounds 0 (a zero-width band)."""
    with pytest.raises(sc.SpecificationError, match="fitted exactly"):
        _fit(smoking, tt=1972).scpi(sims=20)
    with pytest.raises(sc.SpecificationError, match="fitted exactly"):  # the same mechanism, any T0
        _fit(identical).scpi(sims=20)


def test_scpi_zero_width_out_of_sample_bound_is_an_error(smoking):
    """Two pre-periods that the donors cannot fit exactly: the residuals are not zero, but two points
    leave the location-scale model no spread (He's scale is 0)."""
    sub = smoking[smoking.state.isin([TREATED, "Alabama", "Arkansas", "Colorado", "Utah"])]
    res = _fit(sub, tt=1972)
    assert res.pre_rmse > 1.0
    with pytest.raises(sc.SpecificationError, match="zero width"):
        res.scpi(sims=20)
    ok = _fit(sub, tt=1974).scpi(sims=20)  # four pre-periods: a band of positive width
    t = ok.details["table"]
    assert (t.out_of_sample_upper - t.out_of_sample_lower > 1.0).all()


@pytest.mark.parametrize("bad", ["x", -1, 0, float("nan"), True])
def test_exclude_mspe_ratio_is_validated(bad):
    smoking = pd.read_csv(need_file(data_dir() / "smoking.csv"))
    res = sc.SyntheticControl().fit(sc.Panel(smoking, unit="state", time="year", outcome="cigsale",
                                             treated="California", treatment_time=1989))
    with pytest.raises(sc.SpecificationError, match="exclude_mspe_ratio must be a number > 0"):
        res.placebo(exclude_mspe_ratio=bad)


# ---------------------------------------------------------------------------------------------
# review of #11: the CV folds are computed once; one overflow-safe RMS; grid edges flagged by one
# helper; uncertified fits counted and said once; what is said is kept

def _said(rec):
    return [str(w.message) for w in rec if issubclass(w.category, sc.SynthWarning)]


def _uncertified(fn):
    """``fn`` (a simplex solver) whose fits all report a failed certificate."""
    import dataclasses

    def wrapped(*args, **kw):
        return dataclasses.replace(fn(*args, **kw), converged=False)
    return wrapped


def test_cv_extension_reuses_the_folds(smoking, monkeypatch):
    """Prop 99 with fixedeff extends augsynth's grid twice (15 points below).  Before: every extension
    redid the whole CV (18 folds x 3 = 54 simplex fits); now the 18 folds' fits and eigendecompositions
    are made once and only the new lambdas are evaluated -- with the same errors as a full CV on the
    final grid."""
    import synthcontrol.solvers.ridge as ridge
    p = _panel(smoking)
    A, a = ridge.matching_problem(p.X_donors, p.y_treated, p.T0, fixedeff=True)
    calls = []
    real = ridge.simplex_ls
    monkeypatch.setattr(ridge, "simplex_ls", lambda *x, **k: calls.append(1) or real(*x, **k))
    lam, lams, me, se, info = ridge.cv_lambda_extended(A, a)
    assert info["extended_below"] == 15 and len(lams) == 36
    assert len(calls) == A.shape[1] - 1  # one simplex fit per fold, whatever the number of extensions
    lam2, me2, se2 = ridge.cv_lambda(A, a, lams)  # the whole CV on the final grid
    assert lam2 == lam and np.array_equal(me, me2) and np.array_equal(se, se2)


def test_rms_helpers_are_overflow_safe():
    from synthcontrol._numerics import col_rms, rms
    x = np.array([3e300, -4e300, 0.0])
    assert rms(x) == pytest.approx(5e300 / math.sqrt(3), rel=1e-15)
    A = np.column_stack([x, x * 1e-300, np.zeros(3), [np.nan, 1.0, 1.0], [np.inf, 1.0, 1.0]])
    got = col_rms(A)
    assert got[:2] == pytest.approx([rms(x), rms(x * 1e-300)], rel=1e-15) and got[2] == 0.0
    assert math.isnan(got[3]) and got[4] == math.inf
    assert col_rms(np.empty((0, 2))).tolist() == [0.0, 0.0]


def test_outcomes_times_1e300_give_finite_rmspes_and_the_same_ratios(small):
    """Every RMSPE and ratio of the inference methods is finite for outcomes x 1e300 and equal to the
    unscaled one.  Before: in-time, leave-two-out and leave-one-out RMSPEs overflowed (inf / NaN ratios)."""
    res = [_fit(small.assign(cigsale=small.cigsale * f)) for f in (1.0, 1e300)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)
        a, b = (r.in_time_placebo().details["table"] for r in res)
        assert np.isfinite(b.pre_rmse).all() and np.isfinite(b.post_rmse).all()
        assert (a.ratio_defined == b.ratio_defined).all()
        assert np.allclose(a.rmspe_ratio[a.ratio_defined], b.rmspe_ratio[b.ratio_defined], rtol=1e-9)
        one = [r.in_time_placebo(fake_time=1980).details for r in res]
        assert one[1]["rmspe_ratio"] == pytest.approx(one[0]["rmspe_ratio"], rel=1e-9)
        assert one[1]["ratio_to_att"] == pytest.approx(one[0]["ratio_to_att"], rel=1e-9)
        a, b = (r.leave_one_out() for r in res)
        assert np.isfinite(b.pre_rmse).all() and np.allclose(b.pre_rmse / 1e300, a.pre_rmse, rtol=1e-9)
        a, b = (r.lto().details for r in res)
        for col in ("ratio_treated", "ratio_i", "ratio_j"):
            assert np.allclose(a["table"][col], b["table"][col], rtol=1e-9, equal_nan=False)
        assert a["p_naive"] == b["p_naive"]
        a, b = (r.placebo().details for r in res)
        assert np.isfinite(b["table"].pre_rmspe).all() and np.isfinite(b["placebo_att_sd"])
        assert np.allclose(a["table"].rmspe_ratio, b["table"].rmspe_ratio, rtol=1e-9)
        a, b = (r.ttest() for r in res)
        assert b.details["tstat"] == pytest.approx(a.details["tstat"], rel=1e-9) and b.p_value == pytest.approx(a.p_value)
    assert res[1].diagnostics["rmspe_ratio"] == pytest.approx(res[0].diagnostics["rmspe_ratio"], rel=1e-9)


def test_penalized_lambda_on_the_top_of_its_grid_is_flagged():
    """One predictor, two donors: C is nearest the treated unit and has its outcomes, A matches the
    predictor with C.  The outcome fit improves with every penalty up to the grid's top (100): the
    choice is the grid's, flagged.  Before: lambda 100, no flag."""
    rng = np.random.default_rng(0)
    T = 10
    base = rng.normal(size=T).cumsum()
    far = base + 3 + rng.normal(size=T)

    def panel(treated_like):
        units = {"tr": (0.0, treated_like), "C": (1.0, base), "A": (-1.005, far)}
        df = pd.DataFrame([(u, t, y[t], x) for u, (x, y) in units.items() for t in range(T)],
                          columns=["u", "t", "y", "x"])
        return sc.Panel(df, unit="u", time="t", outcome="y", treated="tr", treatment_time=8)
    est = sc.SyntheticControl(covariates=["x"], backend="penalized")
    with pytest.warns(sc.SynthWarning, match="largest value of its grid") as rec:
        res = est.fit(panel(base))
    d = res.diagnostics
    assert d["lambda"] == 100.0 and d["lambda_at_grid_edge"] == "upper" and d["certified"]
    assert d["n_uncertified_fits"] == 0
    assert [m for m in _said(rec) if "grid" in m] == [m for m in d["warnings"] if "grid" in m]
    # lambda = 0 is the penalty's natural boundary, not an edge: the treated unit like A -> lambda 0, silent
    res0 = _no_synth_warning(lambda: est.fit(panel(far)))
    assert res0.diagnostics["lambda"] == 0.0 and res0.diagnostics["lambda_at_grid_edge"] is None


def test_scpi_rho_set_by_its_cap_is_flagged(prop99):
    """Prop 99: scpi's type-1 rule gives rho = 0.744, capped at rho_max = 0.2 (R scpi's 0.2 too).
    Before: no trace of the cap."""
    with pytest.warns(sc.SynthWarning, match="rho 0.2 is the largest value of its range") as rec:
        d = prop99.scpi(sims=10).details
    assert d["rho"] == 0.2 and d["rho_at_grid_edge"] == "upper" and d["rho_rule"] == "type-1 (capped)"
    assert d["rho_uncapped"] == pytest.approx(0.7444, abs=1e-4)
    assert _said(rec) == d["warnings"]
    d = _no_synth_warning(lambda: prop99.scpi(sims=10, rho_max=1.0).details)  # under the cap: the rule's value
    assert d["rho"] == pytest.approx(0.7444, abs=1e-4) and d["rho_at_grid_edge"] is None
    d = _no_synth_warning(lambda: prop99.scpi(sims=10, rho=0.2).details)  # given: nothing to flag
    assert d["rho_rule"] == "given" and d["rho_at_grid_edge"] is None


def _noise_panel(seed=0, T=16, T0=12, J=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, J)).cumsum(axis=0)
    y = X @ rng.dirichlet(np.ones(J)) + rng.normal(scale=2.0, size=T)
    units = ["tr"] + [f"d{j}" for j in range(J)]
    df = pd.DataFrame({"u": np.repeat(units, T), "t": np.tile(np.arange(T), J + 1),
                       "y": np.concatenate([y] + [X[:, j] for j in range(J)])})
    return sc.Panel(df, unit="u", time="t", outcome="y", treated="tr", treatment_time=T0)


def test_ridge_edge_messages_name_their_own_trigger(smoking):
    """The upper edge is reached through the one-SE band, the lower through a still-falling CV error;
    each message says its own.  Before: both said "the CV error is still falling there"."""
    with pytest.warns(sc.SynthWarning) as rec:
        up = sc.SyntheticControl(augment="ridge").fit(_noise_panel())
    d = up.diagnostics
    assert d["lambda_at_grid_edge"] == "upper" and d["lambda_grid_extended"]["above"] > 0
    (msg,) = [m for m in _said(rec) if "ridge" in m]
    assert "one-standard-error band" in msg and "falling" not in msg and msg in d["warnings"]
    with pytest.warns(sc.SynthWarning) as rec:
        low = _fit(smoking, augment="ridge", fixedeff=True)
    assert low.diagnostics["lambda_at_grid_edge"] == "lower"
    (msg,) = [m for m in _said(rec) if "ridge" in m]
    assert "still falling" in msg and "one-standard-error" not in msg


def test_uncertified_fits_are_counted_and_said_once(smoking, small, rollout_logs, monkeypatch):
    """Fits whose certificate fails are counted in details["n_uncertified_fits"] (ridge: diagnostics)
    and said once per call.  Before: ignored by the bootstrap, the conformal refits, the ridge base fit
    and CV folds, and the placebo, leave-two-out, t-test and jackknife+ refits."""
    import dataclasses
    import importlib
    import synthcontrol.solvers.ridge as ridge
    refit_mod = importlib.import_module("synthcontrol.inference.refit")
    models_mod = importlib.import_module("synthcontrol.models")
    boot_mod = importlib.import_module("synthcontrol.inference.bootstrap")
    plac_mod = importlib.import_module("synthcontrol.inference.placebo")
    sco_mod = importlib.import_module("synthcontrol.models")  # the outcome-only fit lives with its model

    def once(call, key="n_uncertified_fits", get=lambda out: out.details):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = call()
        d = get(out)
        said = [m for m in _said(rec) if "not certified" in m]
        assert len(said) == 1, said
        assert said[0] in d["warnings"]
        return d[key], d

    res = _fit(small)
    ridge_res = _fit(small, augment="ridge")
    boot = sc.SyntheticControl().fit(sc.panel_from_events(
        rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed", cluster="user_id",
        treated=range(25), treatment_time=20, window=(0, 30)))
    # the estimator's ridge fit: the base fit and the CV folds
    monkeypatch.setattr(ridge, "simplex_ls", _uncertified(ridge.simplex_ls))
    n, d = once(lambda: _fit(small, augment="ridge"), get=lambda r: r.diagnostics)
    assert n == 19 == 1 + (19 - 1)  # the base fit and 18 folds (19 pre-periods)
    n, d = once(lambda: ridge_res.conformal(n_perm=100))  # ridge refits with the penalty kept: base fits
    assert n == d["n_fits"] > 0
    monkeypatch.undo()
    monkeypatch.setattr(models_mod, "simplex_ls", _uncertified(models_mod.simplex_ls))  # conformal's refits
    n, d = once(lambda: res.conformal(n_perm=100))
    assert n == d["n_fits"] > 0
    monkeypatch.undo()  # models.simplex_ls also makes the outcome-only fits below
    monkeypatch.setattr(boot_mod, "simplex_ls", _uncertified(boot_mod.simplex_ls))
    n, d = once(lambda: boot.bootstrap(n_boot=5, seed=1))
    assert n == 5
    real = plac_mod.placebo_fits
    monkeypatch.setattr(plac_mod, "placebo_fits", lambda *a, **k: [
        (i, D, dataclasses.replace(f, converged=False)) for i, D, f in real(*a, **k)])
    n, d = once(lambda: _fit(small).placebo())
    assert n == 9

    class Uncertain(refit_mod.UnitRefitter):  # every refit reports a failed certificate
        def _count(self, key, r):
            super()._count(key, dataclasses.replace(r, certified=False, n_uncertified=r.n_fits))
    for mod in ("lto", "ttest", "jackknife"):
        monkeypatch.setattr(importlib.import_module(f"synthcontrol.inference.{mod}"), "UnitRefitter", Uncertain)
    n, d = once(lambda: res.lto())
    assert n == d["n_fits"] > 0
    n, d = once(lambda: res.ttest())
    assert n == 3
    n, d = once(lambda: res.jackknife_plus())
    assert n == 19
    monkeypatch.setattr(sco_mod, "simplex_ls", _uncertified(sco_mod.simplex_ls))
    n, d = once(lambda: res.in_time_placebo())
    assert n == len(d["table"]) and not d["table"].certified.any()
    loo = {}
    n, d = once(lambda: loo.setdefault("out", res.leave_one_out()), get=lambda out: out.attrs)
    assert n == len(loo["out"]) > 0  # one refit per dropped donor


def test_warnings_said_by_inference_methods_are_kept_in_details(smoking, small, constant, prop99):
    """docs/inference.md: the text of every SynthWarning an inference method says is in the returned
    details["warnings"] (DataFrame.attrs["warnings"] for leave_one_out)."""
    const = _fit(constant)
    sub = constant[constant.state.isin(small.state.unique())]
    with warnings.catch_warnings():  # the fit's own checks (one donor carries it all) are not the test's
        warnings.simplefilter("ignore")
        sub_fit = _fit(sub)
    calls = [lambda: const.placebo(), lambda: const.in_time_placebo(), lambda: sub_fit.lto(),
             lambda: const.ttest(), lambda: prop99.jackknife_plus(alpha=0.02), lambda: prop99.scpi(sims=10),
             lambda: const.in_time_placebo(fake_time=1980)]
    for call in calls:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = call()
        said = _said(rec)
        assert said and said == out.details["warnings"], (said, out.details.get("warnings"))


def test_undefined_rule_uses_the_fitting_periods(smoking):
    """With fit_window the scale of the undefined-ratio rule is the fitting periods' outcomes, in the
    fit's own rmspe_ratio and in the placebo test alike (docs and code agree).  Here the earlier
    pre-periods are 1e6 times larger, so the two rules differ by orders of magnitude."""
    from synthcontrol.inference._undefined import RTOL, outcome_scale
    d = smoking.copy()
    d.loc[d.year < 1975, "cigsale"] *= 1e6
    res = _fit(d, fit_window=(1980, 1988))
    p = res.panel
    m = np.asarray(res.fit_mask)
    scale_fit = outcome_scale(np.asarray(p.y_treated)[m], np.asarray(p.X_donors)[m])
    scale_pre = outcome_scale(np.asarray(p.y_treated)[~p.post], np.asarray(p.X_donors)[~p.post])
    assert scale_pre > 1e4 * scale_fit
    inf = res.placebo()
    assert inf.details["outcome_scale"] == pytest.approx(scale_fit, rel=1e-12)
    assert inf.details["undefined_tolerance"] == pytest.approx(RTOL * scale_fit, rel=1e-12)
