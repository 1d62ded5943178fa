"""Bad-input tests: one test per malformed input.

Each test asserts the error TYPE (``DataError`` / ``SpecificationError``, both
``SynthError``) and that the message names what is wrong (the column, the unit,
the period, the offending value).  A raw numpy/pandas exception, a message that
does not name the culprit, or a silently accepted bad input is a failure.

Also: the caller's DataFrame is never modified, and ``Panel`` works with string
and integer unit labels and with a datetime64 time column.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc

UNITS = ["A", "B", "C", "D", "E"]
YEARS = list(range(2000, 2008))  # 8 periods
TT = 2004                        # treatment at the 5th period: 4 pre, 4 post


# ---------------------------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------------------------
def make_df(units=UNITS, years=YEARS, seed=0):
    """Long unit x year panel with a random outcome (no treatment column)."""
    rng = np.random.default_rng(seed)
    rows = [(u, t, float(10 + rng.normal())) for u in units for t in years]
    return pd.DataFrame(rows, columns=["state", "year", "sales"])


def with_treat(df, unit="A", start=TT, col="d"):
    out = df.copy()
    out[col] = ((out["state"] == unit) & (out["year"] >= start)).astype(int)
    return out


def make_events(units=UNITS, years=YEARS, users_per_unit=10, seed=1):
    """User-level log: every user of a unit has one row per year."""
    rng = np.random.default_rng(seed)
    rows = []
    uid = 0
    for u in units:
        for _ in range(users_per_unit):
            for t in years:
                rows.append((u, t, uid, float(rng.normal(5, 1))))
            uid += 1
    return pd.DataFrame(rows, columns=["workspace", "week", "user_id", "done"])


def panel(df, **kw):
    args = dict(unit="state", time="year", outcome="sales")
    args.update(kw)
    return sc.Panel(df, **args)


def events_panel(ev, **kw):
    args = dict(unit="workspace", time="week", outcome="done", cluster="user_id")
    args.update(kw)
    return sc.panel_from_events(ev, **args)


def cell(df, unit, year):
    return (df["state"] == unit) & (df["year"] == year)


@pytest.fixture
def df():
    return make_df()


@pytest.fixture
def ev():
    return make_events()


@pytest.fixture
def res(df):
    return sc.SyntheticControl().fit(panel(df, treated="A", treatment_time=TT))


def test_error_hierarchy():
    assert issubclass(sc.DataError, sc.SynthError)
    assert issubclass(sc.SpecificationError, sc.SynthError)
    assert not issubclass(sc.DataError, sc.SpecificationError)
    assert not issubclass(sc.SpecificationError, sc.DataError)


# =============================================================================================
# Panel: columns and container
# =============================================================================================
@pytest.mark.parametrize("role, missing", [("unit", "county"), ("time", "quarter"), ("outcome", "revenue")])
def test_panel_missing_column_is_named(df, role, missing):
    kw = {role: missing}
    with pytest.raises(sc.DataError, match=rf"column\(s\) '{missing}' not found"):
        panel(df, treated="A", treatment_time=TT, **kw)


def test_panel_missing_treat_column_is_named(df):
    with pytest.raises(sc.DataError, match=r"column\(s\) 'is_treated' not found"):
        panel(df, treat="is_treated")


@pytest.mark.parametrize("data", [lambda d: d.to_numpy(), lambda d: d.to_dict("list"), lambda d: None])
def test_panel_data_not_a_dataframe(df, data):
    bad = data(df)
    with pytest.raises(sc.DataError, match=rf"must be a pandas DataFrame, got {type(bad).__name__}"):
        panel(bad, treated="A", treatment_time=TT)


def test_panel_empty_dataframe(df):
    # 0 rows: there is nothing to analyse; a 0 x 0 Panel must not be built silently.
    with pytest.raises(sc.DataError, match=r"(?i)no rows|empty|0 rows"):
        panel(df.iloc[:0])


def test_panel_duplicated_column_name(df):
    # two columns called "sales": must be a typed error naming the column, not a pandas AttributeError
    dup = pd.concat([df, df[["sales"]]], axis=1)
    with pytest.raises(sc.DataError, match=r"'sales'"):
        panel(dup, treated="A", treatment_time=TT)


# =============================================================================================
# Panel: rows and outcome values
# =============================================================================================
def test_panel_duplicated_unit_period(df):
    dup = pd.concat([df, df[cell(df, "C", 2002)]], ignore_index=True)
    with pytest.raises(sc.DataError, match=r"state='C', year=2002"):
        panel(dup, treated="A", treatment_time=TT)


def test_panel_non_numeric_outcome(df):
    bad = df.copy()
    bad["sales"] = bad["sales"].astype(object)
    bad.loc[cell(bad, "B", 2003), "sales"] = "n/a"
    with pytest.raises(sc.DataError, match=r"outcome column 'sales' must be numeric.*'n/a'"):
        panel(bad, treated="A", treatment_time=TT)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_panel_infinite_outcome_names_unit_and_period(df, value):
    bad = df.copy()
    bad.loc[cell(bad, "D", 2005), "sales"] = value
    with pytest.raises(sc.DataError, match=r"'sales'.*infinite.*unit 'D', period 2005"):
        panel(bad, treated="A", treatment_time=TT)


def test_panel_nan_outcome_without_fill_names_unit_and_period(df):
    bad = df.copy()
    bad.loc[cell(bad, "B", 2003), "sales"] = np.nan
    with pytest.raises(sc.DataError, match=r"'sales' is missing.*unit 'B', period 2003.*interpolate"):
        panel(bad, treated="A", treatment_time=TT)


def test_panel_nan_outcome_with_fill_is_linear_interpolation(df):
    bad = df.copy()
    bad.loc[cell(bad, "B", 2003), "sales"] = np.nan
    bad.loc[cell(bad, "C", 2000), "sales"] = np.nan  # edge: carried back from the first observed
    p = panel(bad, treated="A", treatment_time=TT, fill="interpolate")
    y = df.set_index(["state", "year"])["sales"]
    assert p.n_filled == 2
    assert p.wide.loc[2003, "B"] == pytest.approx((y["B", 2002] + y["B", 2004]) / 2, rel=1e-12)
    assert p.wide.loc[2000, "C"] == pytest.approx(y["C", 2001], rel=1e-12)
    # observed cells are untouched
    assert p.wide.loc[2002, "B"] == y["B", 2002]


def test_panel_unbalanced_without_fill_names_unit_and_period(df):
    bad = df[~cell(df, "E", 2006)]
    with pytest.raises(sc.DataError, match=r"unbalanced.*unit 'E' has no row for period 2006"):
        panel(bad, treated="A", treatment_time=TT)


def test_panel_unbalanced_with_fill_is_accepted(df):
    bad = df[~cell(df, "E", 2006)]
    p = panel(bad, treated="A", treatment_time=TT, fill="interpolate")
    y = df.set_index(["state", "year"])["sales"]
    assert p.n_filled == 1
    assert p.Y.shape == (len(YEARS), len(UNITS))
    assert p.wide.loc[2006, "E"] == pytest.approx((y["E", 2005] + y["E", 2007]) / 2, rel=1e-12)


def test_panel_unbalanced_treated_row_with_treat_column_and_fill(df):
    # The treated unit has no row for one post period.  With fill="interpolate" the panel must
    # build (the absorbing treatment is unambiguous), not claim the treatment "switches off" at
    # a period for which there is no row at all.
    bad = with_treat(df)
    bad = bad[~cell(bad, "A", 2006)]
    p = panel(bad, treat="d", fill="interpolate")
    assert p.treated_units == ("A",)
    assert p.treatment_time == TT and p.T0 == 4
    assert p.n_filled == 1


# =============================================================================================
# Panel: treatment
# =============================================================================================
def test_panel_unknown_treated_unit(df):
    with pytest.raises(sc.DataError, match=r"treated unit\(s\) 'Texas' not found in column 'state'"):
        panel(df, treated="Texas", treatment_time=TT)


def test_panel_treated_without_treatment_time(df):
    with pytest.raises(sc.SpecificationError, match=r"treated='A' given without treatment_time"):
        panel(df, treated="A")


def test_panel_treatment_time_without_treated(df):
    with pytest.raises(sc.SpecificationError, match=r"treatment_time given without treated"):
        panel(df, treatment_time=TT)


def test_panel_treated_listed_twice(df):
    with pytest.raises(sc.SpecificationError, match=r"treated lists a unit twice.*'B'"):
        panel(df, treated=["B", "B"], treatment_time=TT)


@pytest.mark.parametrize("extra", [dict(treated="A"), dict(treatment_time=TT),
                                   dict(treated="A", treatment_time=TT)])
def test_panel_both_treat_column_and_treated(df, extra):
    with pytest.raises(sc.SpecificationError, match=r"treat=.*treated=.*not both"):
        panel(with_treat(df), treat="d", **extra)


def test_panel_treat_column_switches_off(df):
    bad = with_treat(df)
    bad.loc[cell(bad, "A", 2006), "d"] = 0
    with pytest.raises(sc.DataError, match=r"switches off: unit 'A' is treated at year=2004 but not at year=2006"):
        panel(bad, treat="d")


def test_panel_treat_column_value_two(df):
    bad = with_treat(df)
    bad.loc[cell(bad, "A", 2006), "d"] = 2
    with pytest.raises(sc.DataError, match=r"treatment column 'd' must be 0/1; found value 2"):
        panel(bad, treat="d")


def test_panel_treat_column_missing_value(df):
    bad = with_treat(df).astype({"d": float})
    bad.loc[cell(bad, "C", 2001), "d"] = np.nan
    with pytest.raises(sc.DataError, match=r"treatment column 'd' has missing values"):
        panel(bad, treat="d")


def test_panel_treat_column_no_treated_unit(df):
    bad = df.assign(d=0)
    with pytest.raises(sc.DataError, match=r"treatment column 'd' is 0 everywhere: no treated unit"):
        panel(bad, treat="d")


def test_panel_treat_column_staggered_adoption(df):
    bad = with_treat(df)
    bad.loc[(bad["state"] == "B") & (bad["year"] >= 2005), "d"] = 1
    with pytest.raises(sc.SpecificationError, match=r"staggered.*'A' at 2004.*'B' at 2005|'A' at 2004.*'B' at 2005.*staggered"):
        panel(bad, treat="d")


def test_panel_fewer_than_two_pre_periods(df):
    with pytest.raises(sc.DataError, match=r"fewer than 2 pre-treatment periods.*year=2001"):
        panel(df, treated="A", treatment_time=2001)


def test_panel_fewer_than_two_pre_periods_from_treat_column(df):
    with pytest.raises(sc.DataError, match=r"fewer than 2 pre-treatment periods.*year=2001"):
        panel(with_treat(df, start=2001), treat="d")


def test_panel_treatment_time_incomparable_string(df):
    # A string treatment time on an integer time column must not be compared lexicographically
    # (it is silently accepted today: "abc" sorts after every year -> no post-period).
    with pytest.raises(sc.SpecificationError, match=r"treatment_time 'abc'.*'year'"):
        panel(df, treated="A", treatment_time="abc")


def test_panel_treatment_time_numeric_string_not_lexicographic():
    # years 8..12: "10" < "8" as strings; the panel must not silently place the treatment at
    # T0=0 (or anywhere): either reject the string naming treatment_time, or treat it as 10.
    d = make_df(years=range(8, 13))
    try:
        p = panel(d, treated="A", treatment_time="10")
    except sc.SpecificationError as e:
        assert re.search(r"treatment_time '10'.*cannot be compared.*'year'", str(e)), str(e)
    else:
        assert p.T0 == 2


def test_panel_treatment_time_not_scalar(df):
    with pytest.raises(sc.SpecificationError, match=r"treatment_time.*\[2004\]"):
        panel(df, treated="A", treatment_time=[2004])


def test_panel_no_post_period_builds_but_fit_fails(df):
    p = panel(df, treated="A", treatment_time=2010)  # design use: allowed
    assert p.T0 == len(YEARS) and not p.has_post
    with pytest.raises(sc.SpecificationError, match=r"no post-treatment period.*2010.*2007"):
        sc.SyntheticControl().fit(p)


def test_panel_without_treatment_fit_fails(df):
    p = panel(df)
    with pytest.raises(sc.SpecificationError, match=r"no treated unit"):
        sc.SyntheticControl().fit(p)


# =============================================================================================
# Panel: donors, fill, aggregate
# =============================================================================================
def test_panel_one_donor(df):
    with pytest.raises(sc.DataError, match=r"fewer than 2 donors.*1 unit\(s\) \('C'\)"):
        panel(df, treated="A", treatment_time=TT, donors=["C"])


def test_panel_one_donor_left_after_treated_group(df):
    with pytest.raises(sc.DataError, match=r"fewer than 2 donors.*\('E'\)"):
        panel(df, treated=["A", "B", "C", "D"], treatment_time=TT)


def test_panel_unknown_donor(df):
    with pytest.raises(sc.DataError, match=r"donor unit\(s\) 'Nevada' not found in column 'state'"):
        panel(df, treated="A", treatment_time=TT, donors=["B", "C", "Nevada"])


def test_panel_unit_both_treated_and_donor(df):
    with pytest.raises(sc.SpecificationError, match=r"'A' are both treated and donors"):
        panel(df, treated="A", treatment_time=TT, donors=["A", "B", "C"])


def test_panel_unit_both_treated_by_column_and_donor(df):
    with pytest.raises(sc.SpecificationError, match=r"'A' are both treated and donors"):
        panel(with_treat(df), treat="d", donors=["A", "B", "C"])


def test_panel_donor_listed_twice(df):
    with pytest.raises(sc.SpecificationError, match=r"donors lists a unit twice"):
        panel(df, treated="A", treatment_time=TT, donors=["B", "B", "C"])


@pytest.mark.parametrize("fill", ["linear", "ffill", 0, True])
def test_panel_bad_fill(df, fill):
    with pytest.raises(sc.SpecificationError, match=rf"fill must be one of .*got {re.escape(repr(fill))}"):
        panel(df, treated="A", treatment_time=TT, fill=fill)


@pytest.mark.parametrize("aggregate", ["median", "sum", None])
def test_panel_bad_aggregate(df, aggregate):
    with pytest.raises(sc.SpecificationError, match=rf"aggregate must be one of .*got {re.escape(repr(aggregate))}"):
        panel(df, treated=["A", "B"], treatment_time=TT, aggregate=aggregate)


# =============================================================================================
# panel_from_events
# =============================================================================================
@pytest.mark.parametrize("role, missing", [("unit", "team"), ("time", "day"), ("outcome", "clicked"),
                                           ("cluster", "account_id")])
def test_events_missing_column_is_named(ev, role, missing):
    with pytest.raises(sc.DataError, match=rf"column\(s\) '{missing}' not found in events"):
        events_panel(ev, treated="A", treatment_time=TT, **{role: missing})


def test_events_not_a_dataframe(ev):
    with pytest.raises(sc.DataError, match=r"events must be a pandas DataFrame, got dict"):
        events_panel(ev.to_dict("list"), treated="A", treatment_time=TT)


def test_events_non_numeric_outcome(ev):
    bad = ev.copy()
    bad["done"] = bad["done"].astype(object)
    bad.loc[7, "done"] = "yes"
    with pytest.raises(sc.DataError, match=r"outcome column 'done' must be numeric.*'yes'"):
        events_panel(bad, treated="A", treatment_time=TT)


def test_events_infinite_outcome_names_unit_and_period(ev):
    bad = ev.copy()
    i = bad.index[(bad["workspace"] == "C") & (bad["week"] == 2003)][0]
    bad.loc[i, "done"] = np.inf
    # the row number alone does not tell the user which unit-period is affected
    with pytest.raises(sc.DataError, match=r"'done'.*infinite.*unit 'C'.*period 2003"):
        events_panel(bad, treated="A", treatment_time=TT)


def test_events_empty_cell_without_fill_names_unit_and_period(ev):
    bad = ev[~((ev["workspace"] == "D") & (ev["week"] == 2002))]
    with pytest.raises(sc.DataError, match=r"no events, first: unit 'D', period 2002"):
        events_panel(bad, treated="A", treatment_time=TT, fill=None)


def test_events_nan_outcome_cell_without_fill_names_unit_and_period(ev):
    bad = ev.copy()
    bad.loc[(bad["workspace"] == "D") & (bad["week"] == 2002), "done"] = np.nan
    with pytest.raises(sc.DataError, match=r"unit 'D', period 2002"):
        events_panel(bad, treated="A", treatment_time=TT, fill=None)


def test_events_empty_cell_with_fill_is_linear_interpolation(ev):
    bad = ev[~((ev["workspace"] == "D") & (ev["week"] == 2002))]
    p = events_panel(bad, treated="A", treatment_time=TT, fill="interpolate")
    means = ev.groupby(["workspace", "week"])["done"].mean()
    assert p.n_filled == 1
    assert p.wide.loc[2002, "D"] == pytest.approx((means["D", 2001] + means["D", 2003]) / 2, rel=1e-12)
    assert p.wide.loc[2001, "D"] == pytest.approx(means["D", 2001], rel=1e-12)


def test_events_window_with_no_rows(ev):
    with pytest.raises(sc.DataError, match=r"no event rows.*window \(2050, 2060\).*'week'"):
        events_panel(ev, treated="A", treatment_time=TT, window=(2050, 2060))


def test_events_treated_unit_absent_from_window(ev):
    bad = ev[~((ev["workspace"] == "A") & (ev["week"] >= 2003))]
    with pytest.raises(sc.DataError, match=r"treated unit\(s\) 'A' not found in column 'workspace' \(inside the window\)"):
        events_panel(bad, treated="A", treatment_time=2005, window=(2003, 2008))


def test_events_unknown_treated_unit(ev):
    with pytest.raises(sc.DataError, match=r"treated unit\(s\) 'Z' not found in column 'workspace'"):
        events_panel(ev, treated="Z", treatment_time=TT)


def test_events_treated_without_treatment_time(ev):
    with pytest.raises(sc.SpecificationError, match=r"treated='A' given without treatment_time"):
        events_panel(ev, treated="A")


def test_events_treatment_time_without_treated(ev):
    # sc.Panel rejects this; panel_from_events silently builds an untreated panel
    with pytest.raises(sc.SpecificationError, match=r"treatment_time given without treated"):
        events_panel(ev, treatment_time=TT)


def test_events_treated_listed_twice(ev):
    # sc.Panel rejects this; panel_from_events silently averages the unit with itself
    with pytest.raises(sc.SpecificationError, match=r"treated lists a unit twice.*'B'"):
        events_panel(ev, treated=["B", "B"], treatment_time=TT)


def test_events_missing_cluster_values(ev):
    bad = ev.astype({"user_id": float})
    bad.loc[3, "user_id"] = np.nan
    with pytest.raises(sc.DataError, match=r"cluster column 'user_id' has missing values"):
        events_panel(bad, treated="A", treatment_time=TT)


def test_events_fewer_than_two_pre_periods(ev):
    with pytest.raises(sc.DataError, match=r"fewer than 2 pre-treatment periods.*week=2001"):
        events_panel(ev, treated="A", treatment_time=2001)


def test_events_no_post_period_builds_but_fit_fails(ev):
    p = events_panel(ev, treated="A", treatment_time=2010)
    assert not p.has_post
    with pytest.raises(sc.SpecificationError, match=r"no post-treatment period"):
        sc.SyntheticControl().fit(p)


def test_events_one_donor(ev):
    with pytest.raises(sc.DataError, match=r"fewer than 2 donors.*\('B'\)"):
        events_panel(ev, treated="A", treatment_time=TT, donors=["B"])


def test_events_unknown_donor(ev):
    with pytest.raises(sc.DataError, match=r"donor unit\(s\) 'Q' not found in column 'workspace'"):
        events_panel(ev, treated="A", treatment_time=TT, donors=["B", "Q"])


def test_events_unit_both_treated_and_donor(ev):
    with pytest.raises(sc.SpecificationError, match=r"'A' are both treated and donors"):
        events_panel(ev, treated="A", treatment_time=TT, donors=["A", "B", "C"])


@pytest.mark.parametrize("fill", ["zero", "ffill"])
def test_events_bad_fill(ev, fill):
    with pytest.raises(sc.SpecificationError, match=rf"fill must be one of .*got '{fill}'"):
        events_panel(ev, treated="A", treatment_time=TT, fill=fill)


def test_events_bad_agg(ev):
    with pytest.raises(sc.SpecificationError, match=r"agg must be 'mean', got 'sum'"):
        events_panel(ev, treated="A", treatment_time=TT, agg="sum")


def test_events_bad_treat_aggregate(ev):
    # sc.Panel validates aggregate=; panel_from_events passes treat_aggregate through unchecked
    with pytest.raises(sc.SpecificationError, match=r"aggregate.*'median'"):
        events_panel(ev, treated=["A", "B"], treatment_time=TT, treat_aggregate="median")


@pytest.mark.parametrize("window", [5, (2001,), (2001, 2003, 2005)])
def test_events_window_not_a_pair(ev, window):
    with pytest.raises(sc.SpecificationError, match=rf"window.*{re.escape(repr(window))}"):
        events_panel(ev, treated="A", treatment_time=TT, window=window)


def test_events_window_incomparable_with_time(ev):
    with pytest.raises(sc.SynthError, match=r"window.*'week'|'week'.*window"):
        events_panel(ev, treated="A", treatment_time=TT, window=("a", "z"))


def test_events_treatment_time_not_scalar(ev):
    with pytest.raises(sc.SpecificationError, match=r"treatment_time.*\[2004\]"):
        events_panel(ev, treated="A", treatment_time=[2004])


# =============================================================================================
# estimator
# =============================================================================================
def test_fit_given_a_dataframe(df):
    with pytest.raises(sc.SpecificationError, match=r"takes a synthcontrol\.Panel, got DataFrame"):
        sc.SyntheticControl().fit(df)


def test_fit_covariate_column_missing(df):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.DataError, match="nosuch"):
        sc.SyntheticControl(covariates=["nosuch"]).fit(p)


def test_fit_covariate_window_outside_the_data(df):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SynthError, match="1900"):
        sc.SyntheticControl(covariates={"sales": (1900, 1901)}).fit(p)


def test_fit_covariates_on_an_events_panel(ev):
    p = events_panel(ev, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match="panel_from_events"):
        sc.SyntheticControl(covariates=["done"]).fit(p)


def test_fit_augment_unknown(df):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=r"augment must be None or 'ridge', got 'lasso'"):
        sc.SyntheticControl(augment="lasso").fit(p)


def test_fit_unknown_backend(df):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=r"backend must be one of .*got 'bogus'"):
        sc.SyntheticControl(backend="bogus").fit(p)


def test_fit_window_reaches_post_period(df):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=r"fit_window \(2001, 2005\) reaches into the post-treatment"):
        sc.SyntheticControl(fit_window=(2001, 2005)).fit(p)


@pytest.mark.parametrize("window", [(2002, 2002), (1990, 1995)])  # reversed: test_inputs_never_silent
def test_fit_window_fewer_than_two_periods(df, window):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=rf"fit_window {re.escape(repr(window))} covers [01] period\(s\); need >= 2"):
        sc.SyntheticControl(fit_window=window).fit(p)


@pytest.mark.parametrize("window", [2001, (2001, 2002, 2003)])
def test_fit_window_not_a_pair(df, window):
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=r"fit_window must be a \(start, end\) pair"):
        sc.SyntheticControl(fit_window=window).fit(p)


def test_fit_window_incomparable_with_time(df):
    # strings on an integer time column: a raw pandas TypeError today
    p = panel(df, treated="A", treatment_time=TT)
    with pytest.raises(sc.SpecificationError, match=r"fit_window start 'a' cannot be compared with column 'year'"):
        sc.SyntheticControl(fit_window=("a", "b")).fit(p)


# =============================================================================================
# inference and plots
# =============================================================================================
def test_bootstrap_on_unit_level_panel(res):
    with pytest.raises(sc.SpecificationError, match=r"panel_from_events"):
        res.bootstrap(n_boot=10)


@pytest.mark.parametrize("kw, pattern", [(dict(n_boot=1), r"n_boot must be at least 2, got 1"),
                                         (dict(alpha=1.5), r"alpha must be in \(0, 1\), got 1\.5")])
def test_bootstrap_bad_arguments(ev, kw, pattern):
    r = sc.SyntheticControl().fit(events_panel(ev, treated="A", treatment_time=TT))
    with pytest.raises(sc.SpecificationError, match=pattern):
        r.bootstrap(**kw)


def test_placebo_bogus_statistic(res):
    with pytest.raises(sc.SpecificationError, match=r"statistic must be one of .*got 'bogus'"):
        res.placebo(statistic="bogus")


def test_placebo_bogus_donor_pool(res):
    with pytest.raises(sc.SpecificationError, match=r"donor_pool must be 'donors' or 'all', got 'x'"):
        res.placebo(donor_pool="x")


def test_placebo_negative_exclude_ratio(res):
    with pytest.raises(sc.SpecificationError, match=r"exclude_mspe_ratio must be a number > 0 or None, got -1"):
        res.placebo(exclude_mspe_ratio=-1)


@pytest.mark.parametrize("fake", [TT, 2006])
def test_in_time_placebo_at_or_after_treatment(res, fake):
    with pytest.raises(sc.SpecificationError, match=rf"fake_time {fake} must be before the treatment time {TT}"):
        res.in_time_placebo(fake_time=fake)


def test_in_time_placebo_fewer_than_two_periods_before(res):
    with pytest.raises(sc.SpecificationError, match=r"fake_time 2001 leaves 1 period\(s\) to fit on"):
        res.in_time_placebo(fake_time=2001)


@pytest.mark.parametrize("fake", [1999, 2002.5])
def test_in_time_placebo_period_not_in_panel(res, fake):
    with pytest.raises(sc.SpecificationError, match=rf"fake_time {re.escape(repr(fake))} is not a period of the panel"):
        res.in_time_placebo(fake_time=fake)


def test_in_time_placebo_string_on_numeric_time(res):
    # text that reads exactly as a number is that period (as in the R wrapper and the CLI,
    # docs/panel.md); text that does not is refused, naming the argument and the column
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an exact 2-period fit is warned about; not the point here
        as_text = res.in_time_placebo(fake_time="2002")
        as_number = res.in_time_placebo(fake_time=2002)
    assert as_text.details["att"] == as_number.details["att"]
    with pytest.raises(sc.SpecificationError, match=r"fake_time 'spring' cannot be compared with column 'year'"):
        res.in_time_placebo(fake_time="spring")


def test_in_time_placebo_unhashable_fake_time(res):
    # a list: a raw "unhashable type" TypeError today
    with pytest.raises(sc.SpecificationError, match=r"fake_time \[2002\]"):
        res.in_time_placebo(fake_time=[2002])


def test_leave_one_out_bad_threshold(res):
    # a string threshold: a raw numpy UFuncTypeError today
    with pytest.raises(sc.SpecificationError, match=r"threshold.*'x'"):
        res.leave_one_out(threshold="x")


def test_plot_bogus_kind(res):
    pytest.importorskip("matplotlib")
    with pytest.raises(sc.SpecificationError, match=r"kind must be one of .*got 'bogus'"):
        res.plot(kind="bogus")


# =============================================================================================
# the caller's DataFrame is never modified
# =============================================================================================
def _exercise(p):
    r = sc.SyntheticControl().fit(p)
    r.placebo()
    r.placebo(statistic="mean_gap", donor_pool="all")
    r.leave_one_out()
    r.in_time_placebo(fake_time=2002)
    r.to_frame()
    return r


def test_dataframe_unchanged_by_panel_fit_and_inference(df):
    d = df.sample(frac=1.0, random_state=1)  # shuffled rows: sorting in place would show
    before = d.copy()
    _exercise(panel(d, treated="A", treatment_time=TT))
    pd.testing.assert_frame_equal(d, before)


def test_dataframe_with_nan_and_fill_unchanged(df):
    d = df.copy()
    d.loc[cell(d, "B", 2003), "sales"] = np.nan
    d.loc[cell(d, "A", 2000), "sales"] = np.nan
    d = d[~cell(d, "E", 2006)].sample(frac=1.0, random_state=2)
    before = d.copy()
    p = panel(d, treated="A", treatment_time=TT, fill="interpolate")
    assert p.n_filled == 3
    _exercise(p)
    pd.testing.assert_frame_equal(d, before)
    assert d["sales"].isna().sum() == 2


def test_dataframe_with_treat_column_unchanged(df):
    d = with_treat(df).sample(frac=1.0, random_state=3)  # shuffled rows, non-default index
    before = d.copy()
    _exercise(panel(d, treat="d"))
    pd.testing.assert_frame_equal(d, before)


def test_events_unchanged_by_panel_fit_bootstrap(ev):
    e = ev.copy()
    e.loc[(e["workspace"] == "C") & (e["week"] == 2002), "done"] = np.nan  # an empty, filled cell
    e = e.sample(frac=1.0, random_state=4)
    before = e.copy()
    p = events_panel(e, treated="A", treatment_time=TT, window=(2000, 2008), fill="interpolate")
    assert p.n_filled == 1
    r = _exercise(p)
    r.bootstrap(n_boot=20, seed=7)
    pd.testing.assert_frame_equal(e, before)


def test_dataframe_unchanged_after_rejected_input(df):
    d = with_treat(df)
    d.loc[cell(d, "A", 2006), "d"] = 0
    d = d.sample(frac=1.0, random_state=5)
    before = d.copy()
    with pytest.raises(sc.DataError):
        panel(d, treat="d")
    pd.testing.assert_frame_equal(d, before)


# =============================================================================================
# label and time types
# =============================================================================================
def test_string_unit_labels(df):
    p = panel(df, treated="C", treatment_time=TT)
    assert list(p.units) == UNITS
    assert p.treated_units == ("C",)
    assert list(p.donors) == ["A", "B", "D", "E"]
    r = sc.SyntheticControl().fit(p)
    assert list(r.weights.index) == ["A", "B", "D", "E"]
    assert r.weights.sum() == pytest.approx(1.0)


def test_int_unit_labels():
    d = make_df(units=[3, 1, 0, 2, 4])
    p = panel(d, treated=[0, 1], treatment_time=TT)
    assert list(p.units) == [0, 1, 2, 3, 4]
    assert list(p.donors) == [2, 3, 4]
    y = d.set_index(["state", "year"])["sales"]
    assert p.y_treated[0] == pytest.approx((y[0, 2000] + y[1, 2000]) / 2)
    r = sc.SyntheticControl().fit(p)
    assert list(r.weights.index) == [2, 3, 4]
    with pytest.raises(sc.DataError, match=r"treated unit\(s\) 7 not found in column 'state'"):
        panel(d, treated=7, treatment_time=TT)


def test_datetime_time_column():
    d = make_df()
    d["year"] = pd.Timestamp("2020-01-06") + pd.to_timedelta((d["year"] - 2000) * 7, unit="D")
    assert pd.api.types.is_datetime64_any_dtype(d["year"])
    before = d.copy()
    tt = pd.Timestamp("2020-02-03")  # the 5th week
    p = panel(d, treated="A", treatment_time=tt)
    assert p.T0 == 4 and p.has_post
    assert p.times[p.T0] == tt
    r = sc.SyntheticControl().fit(p)
    assert list(r.effects.index) == list(p.times[4:])
    r.in_time_placebo(fake_time=pd.Timestamp("2020-01-20"))
    r.placebo()
    pd.testing.assert_frame_equal(d, before)
    # a NaN cell in a datetime panel names the date
    bad = d.copy()
    bad.loc[(bad["state"] == "B") & (bad["year"] == pd.Timestamp("2020-01-13")), "sales"] = np.nan
    with pytest.raises(sc.DataError, match=r"unit 'B', period .*2020-01-13"):
        panel(bad, treated="A", treatment_time=tt)


def test_datetime_treatment_time_of_wrong_type():
    d = make_df()
    d["year"] = pd.Timestamp("2020-01-06") + pd.to_timedelta((d["year"] - 2000) * 7, unit="D")
    with pytest.raises(sc.SpecificationError, match=r"treatment_time 2004 cannot be compared with column 'year'"):
        panel(d, treated="A", treatment_time=2004)
