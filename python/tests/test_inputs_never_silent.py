"""Issue #11, parts 2 and 4: input that changed the answer without a word, and raw exceptions.

Every case of the issue is a test here.  Each asserts either the right answer (the same numbers as
the well-typed input: Prop 99's ATT -19.51363) or a typed error whose message names the argument
and the value / periods at fault.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.cli import main

from .conftest import data_dir, need_file

ATT = -19.51363  # Prop 99, outcome-only, California from 1989 (integer years)


@pytest.fixture(scope="module")
def smoke() -> pd.DataFrame:
    return pd.read_csv(need_file(data_dir() / "smoking.csv"))


@pytest.fixture(scope="module")
def p99(smoke):
    return sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treated="California",
                    treatment_time=1989)


@pytest.fixture(scope="module")
def res(p99):
    return sc.SyntheticControl().fit(p99)


def fit_att(df, **kw):
    args = dict(unit="state", time="year", outcome="cigsale", treated="California")
    args.update(kw)
    return sc.SyntheticControl().fit(sc.Panel(df, **args)).att


def relabel(smoke, fmt):
    d = smoke.copy()
    d["year"] = [fmt.format(y - 1969) for y in d["year"]]  # 1970 -> 1, ..., 1989 -> 20
    return d


def quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


# =============================================================================================
# 2a. periods are ordered by their meaning, never as text
# =============================================================================================
@pytest.mark.parametrize("tt", ["20", 20])
def test_numeric_text_periods_are_numbers(smoke, tt):
    d = relabel(smoke, "{}")
    assert d["year"].map(type).eq(str).all()
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=tt)
    assert p.T0 == 19 and list(p.times) == list(range(1, 32))  # not "1", "10", "11", ...
    assert p.treatment_time == 20
    assert any("read as numbers" in n and "'year'" in n for n in p.validation)
    assert sc.SyntheticControl().fit(p).att == pytest.approx(ATT, abs=1e-5)


def test_numeric_text_periods_same_answer_as_integers(smoke):
    d = relabel(smoke, "{}")
    assert fit_att(d, treatment_time="20") == pytest.approx(fit_att(smoke, treatment_time=1989), abs=1e-12)


def test_text_periods_without_an_order_are_refused(smoke):
    d = relabel(smoke, "{}q")
    with pytest.raises(sc.DataError, match=r"time column 'year' holds text labels .*'10q'.*time_order=\["):
        sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time="20q")


def test_text_periods_with_time_order(smoke):
    d = relabel(smoke, "{}q")
    order = [f"{k}q" for k in range(1, 32)]
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time="20q", time_order=order)
    assert p.T0 == 19 and list(p.times) == order
    assert any("time_order" in n for n in p.validation)
    r = sc.SyntheticControl().fit(p)
    assert r.att == pytest.approx(ATT, abs=1e-5)
    assert list(r.effects.index) == order[19:]
    # windows are labels of the order, compared by position, not as text ("9q" > "19q" as text)
    fw = sc.SyntheticControl(fit_window=("9q", "19q")).fit(p)
    ref = sc.SyntheticControl(fit_window=(1978, 1988)).fit(
        sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989))
    assert fw.att == pytest.approx(ref.att, abs=1e-12)
    lags = sc.SyntheticControl(outcome_lags=["6q", "11q", "19q"]).fit(p)
    lags_ref = sc.SyntheticControl(outcome_lags=[1975, 1980, 1988]).fit(
        sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989))
    assert lags.att == pytest.approx(lags_ref.att, abs=1e-9)
    quiet(r.in_time_placebo, fake_time="15q")
    r.plot("trajectory")


def test_time_order_problems_are_named(smoke):
    d = relabel(smoke, "{}q")
    order = [f"{k}q" for k in range(1, 32)]
    kw = dict(unit="state", time="year", outcome="cigsale", treated="California")
    with pytest.raises(sc.DataError, match=r"value\(s\) '31q' that time_order does not list"):
        sc.Panel(d, treatment_time="20q", time_order=order[:-1], **kw)
    with pytest.raises(sc.SpecificationError, match=r"time_order lists '3q' more than once"):
        sc.Panel(d, treatment_time="20q", time_order=order + ["3q"], **kw)
    with pytest.raises(sc.SpecificationError, match=r"time_order must be a list"):
        sc.Panel(d, treatment_time="20q", time_order="1q,2q", **kw)
    with pytest.raises(sc.SpecificationError, match=r"treatment_time '20' is not one of the period labels"):
        sc.Panel(d, treatment_time="20", time_order=order, **kw)
    p = sc.Panel(d, treatment_time="20q", time_order=order, **kw)
    with pytest.raises(sc.SpecificationError, match=r"outcome_lags \['5q', '25q'\] reaches into the post-treatment "
                                                    r"period: '25q' is at or after the treatment at year='20q'"):
        sc.SyntheticControl(outcome_lags=["5q", "25q"]).fit(p)


def test_fixed_width_labels_keep_their_order(smoke):
    # one prefix around numbers of one width: text order is numeric order, so they are accepted
    # (and noted); a label that is not in the column is refused rather than compared as text
    d = relabel(smoke, "P{:02d}")
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time="P20")
    assert p.T0 == 19 and list(p.times)[:2] == ["P01", "P02"]
    assert any("fixed-width numbers" in n for n in p.validation)
    assert sc.SyntheticControl().fit(p).att == pytest.approx(ATT, abs=1e-5)
    with pytest.raises(sc.SpecificationError, match=r"treatment_time 'P5' is not one of the period labels"):
        sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time="P5")


def test_ordered_categorical_time_keeps_its_order(smoke):
    d = relabel(smoke, "{}q")
    d["year"] = pd.Categorical(d["year"], categories=[f"{k}q" for k in range(1, 32)], ordered=True)
    assert fit_att(d, treatment_time="20q") == pytest.approx(ATT, abs=1e-5)


def test_iso_date_text_is_read_as_dates(smoke):
    d = smoke.copy()
    d["year"] = d["year"].astype(str) + "-01-01"
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time="1989-01-01")
    assert pd.api.types.is_datetime64_any_dtype(p.times.dtype) and p.T0 == 19
    assert any("read as dates" in n for n in p.validation)
    assert sc.SyntheticControl().fit(p).att == pytest.approx(ATT, abs=1e-5)
    # ISO text whose text order is not its time order (no zero padding in the month)
    d2 = pd.DataFrame({"u": np.repeat(list("ABCD"), 12), "t": [f"2020-{m}" for m in range(1, 13)] * 4,
                       "y": np.arange(48.0) % 7})
    d2["t"] = d2["t"].str.replace(r"-(\d)$", r"-0\1", regex=True)
    p2 = sc.Panel(d2, unit="u", time="t", outcome="y", treated="A", treatment_time="2020-10")
    assert p2.T0 == 9


def test_labels_that_read_as_the_same_number_are_refused():
    d = pd.DataFrame({"u": ["A", "A", "B", "B", "C", "C"], "t": ["1", "01", "1", "01", "1", "01"],
                      "y": [1.0, 2, 3, 4, 5, 6]})
    with pytest.raises(sc.DataError, match=r"labels '1', '01' are different text for the same number 1"):
        sc.Panel(d, unit="u", time="t", outcome="y")


def test_mixed_text_and_numbers_are_refused():
    d = pd.DataFrame({"u": ["A", "A", "B", "B"], "t": [1, "2", 1, "2"], "y": [1.0, 2, 3, 4]})
    with pytest.raises(sc.DataError, match=r"time column 't' mixes values of types int, str"):
        sc.Panel(d, unit="u", time="t", outcome="y")


def test_event_logs_with_text_weeks(rollout_logs):
    ev = rollout_logs.copy()
    kw = dict(unit="workspace_id", time="signup_week", outcome="task_completed", cluster="user_id",
              treated=range(25))
    ref = sc.SyntheticControl().fit(sc.panel_from_events(rollout_logs, treatment_time=20, window=(0, 30), **kw))
    ev["signup_week"] = ev["signup_week"].astype(str)
    p = sc.panel_from_events(ev, treatment_time="20", window=("0", "30"), **kw)
    assert list(p.times) == list(range(30)) and p.T0 == 20
    assert sc.SyntheticControl().fit(p).att == pytest.approx(ref.att, abs=1e-12)
    with pytest.raises(sc.SpecificationError, match=r"window \(30, 0\): start 30 is after end 0"):
        sc.panel_from_events(rollout_logs, treatment_time=20, window=(30, 0), **kw)


# =============================================================================================
# 2b. post-treatment information used as a predictor or in the fit
# =============================================================================================
@pytest.mark.parametrize("settings, pattern", [
    (dict(covariates=["lnincome", "beer"], predictor_window=(1980, 1995)),
     r"predictor_window \(1980, 1995\) reaches into the post-treatment period: 1989, 1990, .*\(7 in all\)"),
    (dict(covariates=["lnincome"], predictor_window=range(1980, 1991)),
     r"predictor_window range\(1980, 1991\) reaches into the post-treatment period: 1989, 1990 are at or after"),
    (dict(outcome_lags=[1975, 1995]),
     r"outcome_lags \[1975, 1995\] reaches into the post-treatment period: 1995 is at or after the treatment "
     r"at year=1989; the last pre-treatment period is 1988"),
    (dict(outcome_lags={"late": (1985, 1990)}),
     r"outcome_lags\['late'\] \(1985, 1990\) reaches into the post-treatment period: 1989, 1990"),
    (dict(covariates={"beer": (1984, 1995)}),
     r"covariates\['beer'\] \(1984, 1995\) reaches into the post-treatment period: 1989"),
    (dict(covariates={"beer": 1989}), r"covariates\['beer'\] 1989 reaches into the post-treatment period: 1989 is"),
    (dict(covariates={"beer": (1984, 2010)}), r"covariates\['beer'\] \(1984, 2010\) reaches into the post-treatment"),
    (dict(fit_window=(1970, 1995)), r"fit_window \(1970, 1995\) reaches into the post-treatment period: 1989"),
])
def test_post_treatment_windows_are_refused(p99, settings, pattern):
    with pytest.raises(sc.SpecificationError, match=pattern):
        sc.SyntheticControl(**settings).fit(p99)


def test_pre_treatment_windows_still_fit(p99):
    r = sc.SyntheticControl(outcome_lags=[1975, 1988]).fit(p99)
    assert list(r.V.index) == ["special.cigsale.1975", "special.cigsale.1988"]
    # periods given as text are converted like treatment_time (and are the same predictors)
    r2 = sc.SyntheticControl(outcome_lags=["1975", "1988"]).fit(p99)
    assert list(r2.V.index) == list(r.V.index) and r2.att == pytest.approx(r.att, abs=1e-12)


def test_post_treatment_window_on_the_command_line(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    rc = main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
               "--treated", "California", "--treatment-time", "1989", "--covariates", "lnincome",
               "--predictor-window", "1980:1995", "--inference", "loo"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "predictor_window (1980, 1995) reaches into the post-treatment period: 1989" in err
    assert "Traceback" not in err


# =============================================================================================
# 2c. types that were truncated or coerced
# =============================================================================================
def test_bootstrap_counts_are_not_truncated(rollout_logs):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    r = sc.SyntheticControl().fit(p)
    for bad, shown in ((2.7, "2.7"), (True, "True"), ("500", "'500'"), (500.0, "500.0")):
        with pytest.raises(sc.SpecificationError, match=rf"n_boot must be a whole number >= 2, got {shown}"):
            r.bootstrap(n_boot=bad)
    with pytest.raises(sc.SpecificationError, match=r"n_boot must be at least 2, got 1"):
        r.bootstrap(n_boot=1)
    b = r.bootstrap(n_boot=np.int64(5), seed=np.int64(3))  # numpy integers are fine
    assert b.details["n_boot"] == 5
    for bad in (0, "two", 1.5):
        with pytest.raises(sc.SpecificationError, match=rf"n_jobs must be a whole number .*got {bad!r}"):
            r.bootstrap(n_boot=5, n_jobs=bad)


@pytest.mark.parametrize("bad", ["two", 0, 2.0, True])
def test_scpi_n_jobs(res, bad):
    with pytest.raises(sc.SpecificationError, match=r"n_jobs must be a whole number of worker processes >= 1, "
                                                    r"or negative .*\(-1: every core\)( or None)?; got "):
        res.scpi(sims=20, n_jobs=bad)


def test_scpi_n_jobs_minus_one_is_every_core(res):
    a = quiet(res.scpi, sims=20, n_jobs=-1)
    b = quiet(res.scpi, sims=20, n_jobs=1)
    assert (a.ci_lower, a.ci_upper) == (b.ci_lower, b.ci_upper)


@pytest.mark.parametrize("bad, shown", [("abc", "'abc'"), (1.5, "1.5"), (-1, "-1"), (True, "True")])
@pytest.mark.parametrize("method, kw", [("scpi", dict(sims=20)), ("lto", dict(max_pairs=3)),
                                        ("conformal", dict())])
def test_bad_seeds_are_named(res, method, kw, bad, shown):
    with pytest.raises(sc.SpecificationError, match=rf"seed must be a whole number >= 0 or None, got {shown}"):
        getattr(res, method)(seed=bad, **kw)


def test_bootstrap_and_estimator_seeds(p99):
    for bad in ("abc", 1.5, -1):
        with pytest.raises(sc.SpecificationError, match=rf"seed must be a whole number >= 0.*got {bad!r}"):
            sc.SyntheticControl(seed=bad).fit(p99)
    for bad in (0, "two", 1.5, False):
        with pytest.raises(sc.SpecificationError, match=r"n_jobs must be a whole number"):
            sc.SyntheticControl(n_jobs=bad).fit(p99)
    assert sc.SyntheticControl(seed=np.int64(4), n_jobs=np.int32(1)).fit(p99).att == pytest.approx(ATT, abs=1e-5)


@pytest.mark.parametrize("method, kw, pattern", [
    ("conformal", dict(alpha=1.5), r"alpha must be in \(0, 1\), got 1\.5"),
    ("conformal", dict(alpha="0.1"), r"alpha must be in \(0, 1\), got '0\.1'"),
    ("conformal", dict(alpha=True), r"alpha must be in \(0, 1\), got True"),
    ("conformal", dict(alpha=float("nan")), r"alpha must be in \(0, 1\), got nan"),
    ("conformal", dict(grid=["a", "b"]), r"grid must be a one-dimensional sequence .*got \['a', 'b'\]"),
    ("conformal", dict(grid=[0.0, float("inf")]), r"grid must be .*finite number"),
    ("scpi", dict(alpha=0.5), r"alpha must be in \(0, 0\.5\), got 0\.5"),
    ("scpi", dict(u_alpha="x"), r"u_alpha must be in \(0, 0\.5\) or None, got 'x'$"),
    ("lto", dict(max_pairs=2.5), r"max_pairs must be a whole number >= 1 or None, got 2\.5"),
    ("lto", dict(alpha=0), r"alpha must be in \(0, 1\), got 0"),
    ("jackknife_plus", dict(alpha=0.7), r"alpha must be in \(0, 0\.5\), got 0\.7"),
    ("ttest", dict(alpha=-0.1), r"alpha must be in \(0, 1\), got -0\.1"),
])
def test_shared_arguments_are_checked_alike(res, method, kw, pattern):
    with pytest.raises(sc.SpecificationError, match=pattern):
        getattr(res, method)(**kw)


@pytest.mark.parametrize("kw, pattern", [
    (dict(seed="abc"), r"seed must be a whole number >= 0 or None or a numpy Generator, got 'abc'"),
    (dict(seed=1.5), r"seed must be .*got 1\.5"),
    (dict(n_users=10.5), r"n_users must be a whole number >= 1, got 10\.5"),
    (dict(n_users=True), r"n_users must be a whole number >= 1, got True"),
    (dict(effect="x"), r"effect must be a number in \[-1, 1\], got 'x'"),
    (dict(signal_ar=1.0), r"signal_ar must be a number in \(-1, 1\), got 1\.0"),
])
def test_make_rollout_logs_arguments(kw, pattern):
    kw = {"n_users": 100, **kw}
    with pytest.raises(sc.SpecificationError, match=pattern):
        sc.datasets.make_rollout_logs(**kw)


def test_make_rollout_logs_takes_a_generator():
    a = sc.datasets.make_rollout_logs(seed=np.random.default_rng(5), n_users=200)
    b = sc.datasets.make_rollout_logs(seed=5, n_users=200)
    pd.testing.assert_frame_equal(a, b)


def test_cli_reports_the_value_typed(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    base = ["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
            "--treated", "California", "--treatment-time", "1989"]
    cases = [(["--alpha", "1.5", "--inference", "scpi"], "--alpha must be in (0, 1), got 1.5"),
             (["--alpha", "abc"], "--alpha must be a number, got abc"),
             (["--sims", "2.5", "--inference", "scpi"], "--sims must be a whole number, got 2.5"),
             (["--sims", "5", "--inference", "scpi"], "--sims must be at least 10, got 5"),
             (["--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
             (["--max-pairs", "0", "--inference", "lto"], "--max-pairs must be at least 1, got 0"),
             (["--K", "1", "--inference", "ttest"], "--K must be at least 2, got 1")]
    for extra, msg in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert msg in err, (extra, err)
        assert "0.75" not in err  # not the halved alpha SCPI receives
    assert main(["demo", "--n-boot", "1", "--out", str(tmp_path / "d")]) == 2
    assert "--n-boot must be at least 2, got 1" in capsys.readouterr().err


def test_object_outcome_of_floats_is_accepted(smoke):
    d = smoke.copy()
    d["cigsale"] = d["cigsale"].astype(object)
    assert fit_att(d, treatment_time=1989) == pytest.approx(ATT, abs=1e-5)
    d.loc[5, "cigsale"] = None  # a missing cell is reported as missing, not as "non-numeric None"
    with pytest.raises(sc.DataError, match=r"outcome 'cigsale' is missing in 1 cell"):
        fit_att(d, treatment_time=1989)


def test_non_numeric_outcome_names_a_real_value(smoke):
    d = smoke.copy()
    d["cigsale"] = d["cigsale"].astype(object)
    d.loc[40, "cigsale"] = "12,5"
    with pytest.raises(sc.DataError, match=r"first non-numeric value: '12,5' \(row 40\)"):
        fit_att(d, treatment_time=1989)
    d2 = smoke.copy()
    d2["cigsale"] = d2["cigsale"].astype(str)  # all text: the first value is named, not None
    with pytest.raises(sc.DataError, match=rf"first non-numeric value: {re.escape(repr(d2['cigsale'][0]))} \(row 0\)"):
        fit_att(d2, treatment_time=1989)


def test_object_covariate_of_floats_is_accepted(p99, smoke):
    d = smoke.copy()
    d["beer"] = d["beer"].astype(object)
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    pr = sc.SyntheticControl(covariates={"beer": (1984, 1988)}).predictors(p)
    ref = sc.SyntheticControl(covariates={"beer": (1984, 1988)}).predictors(p99)
    pd.testing.assert_series_equal(pr.X1, ref.X1)


# =============================================================================================
# 4. raw exceptions that escaped
# =============================================================================================
def test_tz_aware_dates_with_text_treatment_time(smoke):
    d = smoke.copy()
    d["year"] = pd.to_datetime(d["year"].astype(str)).dt.tz_localize("America/Los_Angeles")
    kw = dict(unit="state", time="year", outcome="cigsale", treated="California")
    p = sc.Panel(d, treatment_time="1989-01-01", **kw)  # read in the column's zone
    assert p.T0 == 19 and sc.SyntheticControl().fit(p).att == pytest.approx(ATT, abs=1e-5)
    p2 = sc.Panel(d, treatment_time=pd.Timestamp("1989-01-01 08:00", tz="UTC"), **kw)  # the same instant
    assert p2.T0 == 19
    naive = smoke.copy()
    naive["year"] = pd.to_datetime(naive["year"].astype(str))
    with pytest.raises(sc.SpecificationError, match=r"treatment_time .* has a time zone, but the dates in column "
                                                    r"'year' have none"):
        sc.Panel(naive, treatment_time=pd.Timestamp("1989-01-01", tz="UTC"), **kw)
    with pytest.raises(sc.SpecificationError, match=r"treatment_time 'spring' cannot be compared with the dates"):
        sc.Panel(d, treatment_time="spring", **kw)


def test_one_column_in_two_roles(smoke):
    with pytest.raises(sc.SpecificationError, match=r"column 'year' is used for two roles \(unit and time\)"):
        sc.Panel(smoke, unit="year", time="year", outcome="cigsale")
    with pytest.raises(sc.SpecificationError, match=r"column 'cigsale' is used for two roles \(outcome and treat\)"):
        sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treat="cigsale")
    ev = pd.DataFrame({"w": [0, 1], "t": [0, 0], "y": [1.0, 2.0]})
    with pytest.raises(sc.SpecificationError, match=r"column 'w' is used for two roles \(unit and cluster\)"):
        sc.panel_from_events(ev, unit="w", time="t", outcome="y", cluster="w")


def test_text_treatment_time_on_integer_years(smoke, p99):
    p = sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treated="California", treatment_time="1989")
    assert p.T0 == p99.T0 and p.treatment_time == 1989
    assert sc.SyntheticControl().fit(p).att == pytest.approx(ATT, abs=1e-5)
    with pytest.raises(sc.SpecificationError, match=r"treatment_time '1989a' cannot be compared with column 'year'"):
        sc.Panel(smoke, unit="state", time="year", outcome="cigsale", treated="California", treatment_time="1989a")


def _fit_args(f, *extra):
    return ["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
            "--treated", "California", "--treatment-time", "1989", *extra]


@pytest.mark.parametrize("content, pattern", [
    (b"", "is empty"),
    (b"\n\n", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "is a binary file"),
    (bytes(range(128, 256)) * 4, "is not UTF-8 text"),
])
def test_cli_unreadable_files(tmp_path, capsys, content, pattern):
    f = tmp_path / "data.csv"
    f.write_bytes(content)
    assert main(_fit_args(f)) == 2
    err = capsys.readouterr().err
    assert pattern in err and "data.csv" in err and "Traceback" not in err


def test_cli_out_names_an_existing_file(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    target = tmp_path / "report"
    target.write_text("keep me")
    assert main(_fit_args(f, "--out", str(target))) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert main(["demo", "--out", str(target), "--n-users", "2000", "--n-boot", "5"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_cli_failed_run_leaves_no_mixed_output(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    out = tmp_path / "report"
    assert main(_fit_args(f, "--inference", "placebo", "--out", str(out))) == 0
    first = (out / "results.json").read_text()
    assert (out / "placebo.png").exists()
    capsys.readouterr()
    assert main(_fit_args(f, "--covariates", "lnincome", "--predictor-window", "1980:1995",
                          "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert f"nothing was written to {out}/" in err
    # a later successful run replaces the whole set: no stale placebo.png beside new results
    assert main(_fit_args(f, "--inference", "loo", "--out", str(out))) == 0
    assert not (out / "placebo.png").exists()
    new = json.loads((out / "results.json").read_text())
    assert "leave_one_out" in new and "placebo" not in new and new != json.loads(first)
    assert sorted(p.name for p in out.iterdir()) == ["effects.csv", "gap.png", "results.json", "summary.txt",
                                                     "trajectory.png", "weights.png"]


def test_cli_failure_keeps_previous_complete_run(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    out = tmp_path / "report"
    assert main(_fit_args(f, "--inference", "placebo", "--out", str(out))) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    # fails after the fit and its summary were printed (inference with a bad K for this panel)
    assert main(_fit_args(f, "--inference", "placebo", "ttest", "--K", "15", "--out", str(out))) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_cli_text_periods_need_and_take_time_order(tmp_path, capsys, smoke):
    d = relabel(smoke, "{}q")
    f = tmp_path / "q.csv"
    d.to_csv(f, index=False)
    args = ["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
            "--treated", "California", "--treatment-time", "20q", "--inference", "loo"]
    assert main(args) == 2
    assert "--time-order" in capsys.readouterr().err
    out = tmp_path / "o"
    assert main(args + ["--time-order", ",".join(f"{k}q" for k in range(1, 32)), "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["fit"]["att"] == pytest.approx(ATT, abs=1e-5)
    d2 = relabel(smoke, "{}")
    f2 = tmp_path / "n.csv"
    d2.to_csv(f2, index=False, quoting=1)  # every field quoted: "1", "2", ...
    assert main(["fit", str(f2), "--unit", "state", "--time", "year", "--outcome", "cigsale",
                 "--treated", "California", "--treatment-time", "20", "--inference", "loo",
                 "--out", str(tmp_path / "n")]) == 0
    assert json.loads((tmp_path / "n" / "results.json").read_text())["fit"]["att"] == pytest.approx(ATT, abs=1e-5)


# =============================================================================================
# Review of #11: one validator per argument, one label helper, one window-order message
# =============================================================================================
def _events_result(rollout_logs):
    p = sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                             cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    return sc.SyntheticControl().fit(p)


_INFERENCE_METHODS = ("placebo", "conformal", "scpi", "jackknife_plus", "lto", "ttest", "in_time_placebo",
                      "leave_one_out", "bootstrap")


def _public_arguments():
    import inspect
    out = []
    for m in _INFERENCE_METHODS:
        for name in list(inspect.signature(getattr(sc.SCResult, m)).parameters)[1:]:
            out.append((m, name))
    return out


@pytest.mark.parametrize("method, name", _public_arguments())
def test_every_inference_argument_is_checked_and_named(res, rollout_logs, method, name):
    """A value of the wrong kind for any public argument of any inference method is a
    SpecificationError that starts with the argument's name, raised before any work."""
    r = _events_result(rollout_logs) if method == "bootstrap" else res
    for bad in ("bad", object()):
        with pytest.raises(sc.SpecificationError, match=rf"^{name}\b"):
            getattr(r, method)(**{name: bad})


@pytest.mark.parametrize("method, kw", [
    ("conformal", dict(n_perm=100, grid_size=5)), ("ttest", dict()), ("lto", dict(max_pairs=3)),
    ("jackknife_plus", dict()), ("scpi", dict(sims=20)),
])
def test_numpy_float_alpha_is_one_level_everywhere(res, method, kw):
    # np.float32(0.1) passed the new check and was refused by the old isinstance test behind it
    inf = quiet(getattr(res, method), alpha=np.float32(0.1), **kw)
    want = float(np.float32(0.1))
    assert (inf.details["u_alpha"] + inf.details["e_alpha"] if method == "scpi" else inf.alpha) == \
        pytest.approx(2 * want if method == "scpi" else want, abs=1e-15)


@pytest.mark.parametrize("method, kw, pattern", [
    ("conformal", dict(q=float("inf")), r"^q must be a number > 0, got inf$"),
    ("conformal", dict(q=True), r"^q must be a number > 0, got True$"),
    ("conformal", dict(q=0), r"^q must be a number > 0, got 0$"),
    ("conformal", dict(q="1"), r"^q must be a number > 0, got '1'$"),
    ("conformal", dict(grid_size=50.0), r"^grid_size must be a whole number >= 2, got 50\.0$"),
    ("conformal", dict(grid_size=True), r"^grid_size must be a whole number >= 2, got True$"),
    ("conformal", dict(grid_size=1), r"^grid_size must be at least 2, got 1$"),
    ("conformal", dict(n_perm=1e4), r"^n_perm must be a whole number >= 100, got 10000\.0$"),
    ("conformal", dict(n_perm=99), r"^n_perm must be at least 100, got 99$"),
    ("conformal", dict(kind="blocks"), r"^kind must be 'iid' or 'block', got 'blocks'$"),
    ("conformal", dict(refine=1), r"^refine must be True or False, got 1$"),
    ("scpi", dict(sims=200.0), r"^sims must be a whole number >= 10, got 200\.0$"),
    ("scpi", dict(sims=9), r"^sims must be at least 10, got 9$"),
    ("scpi", dict(rho=float("inf")), r"^rho must be a number >= 0 or None, got inf$"),
    ("scpi", dict(rho=-0.1), r"^rho must be a number >= 0 or None, got -0\.1$"),
    ("scpi", dict(rho_max=0), r"^rho_max must be a number > 0, got 0$"),
    ("scpi", dict(e_method="normal"), r"^e_method must be one of \('gaussian', 'ls', 'qreg', 'empirical'\)"),
    ("scpi", dict(e_alpha=0.7), r"^e_alpha must be in \(0, 0\.5\) or None, got 0\.7$"),
    ("ttest", dict(K=2.5), r"^K must be a whole number >= 2 or 'auto', got 2\.5$"),
    ("ttest", dict(K=True), r"^K must be a whole number >= 2 or 'auto', got True$"),
    ("ttest", dict(K=1), r"^K must be at least 2, got 1$"),
    ("lto", dict(max_pairs=True), r"^max_pairs must be a whole number >= 1 or None, got True$"),
    ("leave_one_out", dict(threshold=True), r"^threshold must be a number in \[0, 1\), got True$"),
    ("placebo", dict(donor_pool=np.array(["donors", "all"])), r"^donor_pool must be 'donors' or 'all'"),
])
def test_inference_arguments_go_through_the_shared_checks(res, method, kw, pattern):
    with pytest.raises(sc.SpecificationError, match=pattern):
        getattr(res, method)(**kw)


def test_numpy_arguments_are_accepted_as_their_values(res):
    a = quiet(res.conformal, n_perm=np.int64(100), grid_size=np.int32(5), q=np.float64(2), kind=np.str_("block"),
              refine=np.bool_(False))
    b = quiet(res.conformal, n_perm=100, grid_size=5, q=2, kind="block", refine=False)
    assert (a.p_value, a.ci_lower, a.ci_upper) == (b.p_value, b.ci_lower, b.ci_upper)
    assert a.details["kind"] == "block" and type(a.details["kind"]) is str
    t1, t2 = res.ttest(K=np.int64(3)), res.ttest(K=3)
    assert t1.details["K"] == 3 and (t1.ci_lower, t1.ci_upper) == (t2.ci_lower, t2.ci_upper)
    assert res.ttest(K=np.str_("auto")).details["K_choice"] is not None


def test_lto_helpers_share_the_checks():
    from synthcontrol.inference.lto import lto_f, lto_powered_offset
    assert lto_f(np.int64(39), np.float32(0.05)) == pytest.approx(lto_f(39, float(np.float32(0.05))), abs=0)
    with pytest.raises(sc.SpecificationError, match=r"^N must be a whole number >= 4, got 39\.0$"):
        lto_powered_offset(39.0, 0.05)
    with pytest.raises(sc.SpecificationError, match=r"^alpha must be in \(0, 1\), got True$"):
        lto_f(39, True)


def test_bootstrap_flags_are_checked(rollout_logs):
    r = _events_result(rollout_logs)
    with pytest.raises(sc.SpecificationError, match=r"^progress must be True, False, None \(show after 2 s\) or a callable progress\(n_done\); got 'yes'$"):
        r.bootstrap(n_boot=5, progress="yes")
    a = r.bootstrap(n_boot=5, n_jobs=None)
    b = r.bootstrap(n_boot=5, n_jobs=np.int64(1))
    assert np.array_equal(a.details["draws"], b.details["draws"])


def test_synth_arguments_are_checked(smoke):
    dp = sc.synth_dataprep(smoke, predictors=["lnincome", "beer"], predictors_op="mean",
                           time_predictors_prior=range(1980, 1989), dependent="cigsale", unit_variable="state",
                           time_variable="year", treatment_identifier="California",
                           controls_identifier=[s for s in smoke.state.unique() if s != "California"][:8],
                           time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
    for kw, pattern in ((dict(seed=1.5), r"^seed must be a whole number >= 0, got 1\.5$"),
                        (dict(backend="fast"), r"^backend must be one of \('auto', 'malo', 'mscmt'\), got 'fast'$"),
                        (dict(certify="no"), r"^certify must be True or False, got 'no'$"),
                        (dict(time_limit=0), r"^time_limit must be a number > 0 or None, got 0$")):
        with pytest.raises(sc.SpecificationError, match=pattern):
            sc.synth(dp, **kw)


def test_one_label_helper():
    import pathlib

    import synthcontrol._validate as v
    from synthcontrol import cli, panel, predictors
    from synthcontrol.estimators import synthetic_control
    from synthcontrol.inference import conformal, in_time, scpi
    for mod in (panel, predictors, synthetic_control, conformal, in_time, scpi):
        assert mod._py is v._py, mod.__name__
    root = pathlib.Path(v.__file__).parent
    defs = [str(f.relative_to(root)) for f in root.rglob("*.py")
            if re.search(r"def _py\b|def _label\b|def _py_label\b|\.item\(\) if", f.read_text())]
    assert defs == ["_validate.py"]
    assert cli  # imports it where it is used
    assert v._py(np.int64(3)) == 3 and type(v._py(np.int64(3))) is int
    assert v._py(np.datetime64("2020-01-31T00:00:00.000000000")) == pd.Timestamp("2020-01-31")  # not an int


def test_mapping_as_a_window_is_a_specification_error(p99):
    for settings, name in ((dict(covariates={"beer": {"a": 1}}), r"covariates\['beer'\]"),
                           (dict(outcome_lags={"early": {"a": 1}}), r"outcome_lags\['early'\]"),
                           (dict(outcome_lags=[1975, {"a": 1}]), r"outcome_lags"),
                           (dict(covariates=["beer"], predictor_window={1980: 1988}), r"predictor_window")):
        with pytest.raises(sc.SpecificationError,
                           match=rf"^{name} must be a \(start, end\) pair of periods, a list of periods or one "
                                 rf"period; got a dict: "):
            sc.SyntheticControl(**settings).fit(p99)


def test_optional_alpha_message_reads_right(res):
    from synthcontrol._validate import check_alpha
    with pytest.raises(sc.SpecificationError, match=r"^u_alpha must be in \(0, 0\.5\) or None, got 0\.7$"):
        res.scpi(u_alpha=0.7)
    with pytest.raises(sc.SpecificationError, match=r"^alpha must be in \(0, 1\), got 2$"):
        check_alpha("alpha", 2)


def test_reversed_windows_say_start_is_after_end(p99, rollout_logs):
    msgs = []
    for f in (lambda: sc.SyntheticControl(fit_window=(1985, 1975)).fit(p99),
              lambda: sc.SyntheticControl(covariates={"beer": (1988, 1984)}).fit(p99),
              lambda: sc.panel_from_events(rollout_logs, unit="workspace_id", time="signup_week",
                                           outcome="task_completed", treated=range(25), treatment_time=20,
                                           window=(30, 0))):
        with pytest.raises(sc.SpecificationError) as e:
            f()
        msgs.append(str(e.value))
    assert msgs == ["fit_window (1985, 1975): start 1985 is after end 1975",
                    "covariates['beer'] (1988, 1984): start 1988 is after end 1984",
                    "window (30, 0): start 30 is after end 0"]
    from synthcontrol.predictors import build_predictors
    with pytest.raises(sc.SpecificationError, match=r"^window for covariate 'beer' \(1988, 1984\): start 1988 "
                                                    r"is after end 1984$"):
        build_predictors(p99.source, "state", "year", ["California"], ["Utah", "Nevada"],
                         covariates={"beer": (1988, 1984)})


def test_cli_alpha_bound_of_the_chosen_method_is_checked_first(monkeypatch, capsys):
    f = need_file(data_dir() / "smoking.csv")
    base = ["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
            "--treated", "California", "--treatment-time", "1989"]

    def no_fit(*a, **k):
        raise AssertionError("the fit ran before --alpha was checked")
    monkeypatch.setattr(sc.SyntheticControl, "fit", no_fit)
    assert main(base + ["--alpha", "0.6", "--inference", "placebo", "jackknife"]) == 2
    err = capsys.readouterr().err
    assert "--alpha must be in (0, 0.5) with --inference jackknife, got 0.6" in err
    assert "Traceback" not in err and "alpha must be in (0, 0.5), got" not in err
    assert main(base + ["--alpha", "1", "--inference", "conformal"]) == 2
    assert "--alpha must be in (0, 1), got 1" in capsys.readouterr().err
    with pytest.raises(AssertionError, match="the fit ran"):  # 0.6 is fine for the others
        main(base + ["--alpha", "0.6", "--inference", "conformal", "lto", "ttest", "scpi"])


def test_time_order_work_is_linear(monkeypatch):
    from synthcontrol import panel as panel_mod
    n = 400
    labels = [f"w{k}x" for k in range(n)]  # no number order: needs time_order
    s = pd.Series(labels[: n - 5] * 3, name="t")
    calls = {"unique": 0}
    real = pd.unique

    def counting(*a, **k):
        calls["unique"] += 1
        return real(*a, **k)
    monkeypatch.setattr(pd, "unique", counting)
    out, notes = panel_mod._normalize_time(s, "t", labels)
    assert list(out.cat.categories) == labels
    assert "5 listed label(s) have no rows" in notes[0]
    assert calls["unique"] <= 2  # not once per label of time_order
    # unhashable cells (isin cannot hash them) are named, not a TypeError, without a set per row
    bad = pd.Series([labels[0], [1, 2]], name="t", dtype=object)
    with pytest.raises(sc.DataError, match=r"\[1, 2\] that time_order does not list"):
        panel_mod._normalize_time(bad, "t", labels)


def test_r_bridge_turns_whole_doubles_into_exact_ints():
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "r-wrapper" / "inst" / "python" / "synthcontrol_rbridge.py"
    spec = importlib.util.spec_from_file_location("synthcontrol_rbridge_test", need_file(path))
    bridge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bridge)
    opts = bridge._estimator_options({"seed": 3e9, "n_jobs": -3e9}, None)
    assert opts == {"seed": 3000000000, "n_jobs": -3000000000}
    assert all(type(v) is int for v in opts.values())
    assert bridge._int_or_same(2.5) == 2.5 and bridge._int_or_same(float("inf")) == float("inf")
