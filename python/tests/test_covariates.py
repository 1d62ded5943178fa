"""Covariate (predictor-weighted) fits: the estimator path and the Synth-compatible path (issue #4).

Numbers and where they come from:
* Synth 1.1-8 loss.v and V: ``../shared/reference/prop99_synth.json``, ``basque_synth.json``;
  MSCMT 1.4.3 improveSynth: ``mscmt.json``;
* the corner solutions are re-solved here independently (cvxpy + Clarabel, the tie made an explicit
  equality constraint), tolerance 1e-6 relative on the loss (Clarabel's accuracy);
* Germany: the published ADH 2015 weights (Austria .42, USA .22, Japan .16, Switzerland .11,
  Netherlands .09), their loss computed from the data.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.errors import DataError, SpecificationError

from .conftest import data_dir, need_file, reference_dir

ADH = dict(predictors=["lnincome", "retprice", "age15to24"], predictors_op="mean",
           time_predictors_prior=range(1980, 1989),
           special_predictors=[("beer", range(1984, 1989), "mean"), ("cigsale", [1975], "mean"),
                               ("cigsale", [1980], "mean"), ("cigsale", [1988], "mean")],
           dependent="cigsale", unit_variable="state", time_variable="year",
           treatment_identifier="California", time_optimize_ssr=range(1970, 1989),
           time_plot=range(1970, 2001))


def _read(name):
    return pd.read_csv(need_file(data_dir() / name))


def _ref(name):
    return json.loads(need_file(reference_dir() / name).read_text())


@pytest.fixture(scope="module")
def smoking_df():
    return _read("smoking.csv")


@pytest.fixture(scope="module")
def prop99_synth(smoking_df):
    ctrl = sorted(s for s in smoking_df.state.unique() if s != "California")
    dp = sc.synth_dataprep(foo=smoking_df, controls_identifier=ctrl, **ADH)
    return dp, sc.synth(dp)


def _corner(dp, label):
    """The optimistic corner V = e_label solved independently: best outcome fit among the W that
    match predictor ``label`` exactly."""
    cp = pytest.importorskip("cvxpy")
    X1, X0 = dp.X1.to_numpy(), dp.X0.to_numpy()
    Z1, Z0 = dp.Z1.to_numpy(), dp.Z0.to_numpy()
    k = list(dp.X0.index).index(label)
    W = cp.Variable(X0.shape[1])
    pr = cp.Problem(cp.Minimize(cp.sum_squares(Z1 - Z0 @ W)), [W >= 0, cp.sum(W) == 1, X0[k] @ W == X1[k]])
    pr.solve(solver=cp.CLARABEL)
    return pr.value / len(Z1)


def test_prop99_certified_optimum_beats_synth(prop99_synth):
    dp, out = prop99_synth
    ref = _ref("prop99_synth.json")
    mscmt = _ref("mscmt.json")["prop99_improveSynth"]["improved_loss_v"]
    assert np.abs(dp.X0.to_numpy() - np.array(ref["X0"])).max() < 1e-10  # Synth's own matrices
    assert out.outcome_only_bound == pytest.approx(ref["outcome_only_lower_bound_of_loss_v"], abs=1e-9)
    assert out.loss_v < mscmt < ref["loss_v"]
    # the outcome-only bound is provably unattainable; the optimum is the corner on cigsale 1980
    # (Malo et al. 2024), and the global bound proves it: gap ~ 0
    assert out.solution_v["special.cigsale.1980"] == pytest.approx(1.0, abs=1e-9)
    corner = _corner(dp, "special.cigsale.1980")
    assert out.loss_v == pytest.approx(corner, rel=1e-6)
    assert out.bound_method == "global (corners + MIQP)" and out.bound_attained
    assert out.lower_bound <= out.loss_v and out.bound_gap < 1e-6
    assert out.lower_bound > out.outcome_only_bound + 4e-4  # the global bound is much tighter
    assert out.solution_w.sum() == pytest.approx(1.0, abs=1e-12)
    assert out.inner_gap < 1e-12
    # without the global bound only the outcome-only bound remains, 4.3e-4 below
    plain = sc.synth(dp, certify=False)
    assert plain.bound_method == "outcome-only" and not plain.bound_attained
    assert plain.bound_gap == pytest.approx(plain.loss_v - plain.outcome_only_bound, abs=1e-15)
    assert 4.0e-4 < plain.bound_gap < 4.5e-4


def test_custom_v_reproduces_synths_v_with_an_exact_inner_solve(prop99_synth):
    """Synth's V with our exact lower-level solve beats Synth's own W for that V (its optimiser stops
    early); MSCMT's recomputation of Synth's W at the same V gives 3.19329 as well."""
    dp, _ = prop99_synth
    ref = _ref("prop99_synth.json")
    mscmt = _ref("mscmt.json")["prop99_improveSynth"]
    out = sc.synth(dp, custom_v=[ref["solution_v"][k] for k in dp.X0.index])
    assert out.custom_v and out.backend == "custom_v"
    assert out.loss_v == pytest.approx(mscmt["synth_w_recomputed_loss_v"], rel=1e-5)
    assert out.loss_w == pytest.approx(mscmt["synth_w_recomputed_inner_loss_w"], rel=1e-4)
    assert out.loss_v < ref["loss_v"]
    # how far is Synth's V from the best any V can do: 0.449 above the certified optimum
    assert out.bound_gap == pytest.approx(out.loss_v - 2.7440893219, abs=1e-8)


def test_basque_synth_example_below_mscmt():
    b = _read("basque.csv")
    dp = sc.synth_dataprep(
        foo=b, predictors=["school.illit", "school.prim", "school.med", "school.high", "school.post.high", "invest"],
        predictors_op="mean", dependent="gdpcap", unit_variable="regionno", time_variable="year",
        special_predictors=[("gdpcap", range(1960, 1970), "mean")]
        + [(s, range(1961, 1970, 2), "mean") for s in ["sec.agriculture", "sec.energy", "sec.industry",
                                                       "sec.construction", "sec.services.venta",
                                                       "sec.services.nonventa"]]
        + [("popdens", [1969], "mean")],
        treatment_identifier=17, controls_identifier=list(range(2, 17)) + [18],
        time_predictors_prior=range(1964, 1970), time_optimize_ssr=range(1960, 1970),
        unit_names_variable="regionname", time_plot=range(1955, 1998))
    pp = sc.synth_compat.basque_schooling_shares(dp)  # example(synth)'s edit of the schooling rows
    X1, X0 = pp.X1, pp.X0
    assert "school.post.high" in dp.X0.index  # the input is not modified
    ref = _ref("basque_synth.json")
    assert np.abs(X0.to_numpy() - np.array(ref["X0"])).max() < 1e-10
    out = sc.synth(X1=X1, X0=X0, Z1=dp.Z1, Z0=dp.Z0)
    mscmt = _ref("mscmt.json")["basque_improveSynth"]["improved_loss_v"]
    assert out.loss_v < mscmt < ref["loss_v"]
    assert out.lower_bound <= out.loss_v and out.bound_gap < 1e-12 and out.bound_attained
    assert np.isfinite(out.v_agreement)
    assert out.loss_v == pytest.approx(
        _corner(sc.SynthData(X1=X1, X0=X0, Z1=dp.Z1, Z0=dp.Z0), "special.gdpcap.1960.1969"), rel=1e-6)
    tab = sc.synth_tab(sc.SynthData(X1=X1, X0=X0, Z1=dp.Z1, Z0=dp.Z0), out)
    assert tab["tab.pred"].shape == (len(X1), 3) and set(tab) == {"tab.pred", "tab.v", "tab.w", "tab.loss"}


def test_germany_no_worse_than_the_published_solution():
    d = _read("repgermany.csv")
    ctrl = sorted(c for c in d.country.unique() if c != "West Germany")
    dp = sc.synth_dataprep(
        foo=d, predictors=["gdp", "trade", "infrate"], predictors_op="mean",
        special_predictors=[("industry", range(1981, 1991), "mean"), ("schooling", [1980, 1985], "mean"),
                            ("invest80", [1980], "mean")],
        dependent="gdp", unit_variable="country", time_variable="year", treatment_identifier="West Germany",
        controls_identifier=ctrl, time_predictors_prior=range(1981, 1991), time_optimize_ssr=range(1960, 1990))
    out = sc.synth(dp)
    pub = pd.Series({"Austria": .42, "USA": .22, "Japan": .16, "Switzerland": .11, "Netherlands": .09})
    w_pub = pub.reindex(dp.Z0.columns, fill_value=0.0)
    pub_loss = float(((dp.Z1 - dp.Z0 @ w_pub) ** 2).mean())
    assert out.loss_v <= pub_loss
    assert out.lower_bound <= out.loss_v and out.bound_attained
    # the published weights are a point of the simplex too: they cannot beat the lower bound
    assert out.lower_bound <= pub_loss


def test_estimator_path_equals_the_synth_path(smoking_df, prop99_synth):
    _, out = prop99_synth
    p = sc.Panel(smoking_df, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    before = smoking_df.copy()
    res = sc.SyntheticControl(
        covariates=["lnincome", "retprice", "age15to24"], predictor_window=(1980, 1988),
        outcome_lags=[1975, 1980, 1988], fit_window=(1970, 1988)).fit(p)
    pd.testing.assert_frame_equal(smoking_df, before)
    d = res.diagnostics
    assert d["backend"] == "auto" and res.V is not None
    # the same predictors without beer: both searches land on the same corner (V = e_cigsale1980)
    assert d["lower_bound"] == pytest.approx(out.lower_bound, rel=1e-12)
    assert d["loss_v"] == pytest.approx(out.loss_v, rel=1e-9)
    assert d["bound_gap"] == pytest.approx(d["loss_v"] - d["lower_bound"], abs=1e-15)
    assert res.pre_rmse ** 2 == pytest.approx(d["loss_v"], rel=1e-9)  # fit window = pre-period
    assert "Bound gap (proven)" in res.summary() and "Predictor weights V" in res.summary()
    with pytest.raises(SpecificationError, match="bootstrap"):
        res.bootstrap(n_boot=5)
    pen = sc.SyntheticControl(covariates=["lnincome", "retprice"], outcome_lags=[1975, 1988],
                              backend="penalized").fit(p)
    assert pen.diagnostics["backend"] == "penalized" and pen.weights.sum() == pytest.approx(1.0)


def test_covariate_specification_errors(smoking_df):
    p = sc.Panel(smoking_df, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    with pytest.raises(SpecificationError, match="outcome-only"):
        sc.SyntheticControl(covariates=["beer"], backend="outcome-only").fit(p)
    with pytest.raises(SpecificationError, match="no covariates"):
        sc.SyntheticControl(backend="malo").fit(p)
    with pytest.raises(DataError, match="nosuch"):
        sc.SyntheticControl(covariates=["nosuch"]).fit(p)
    with pytest.raises(SpecificationError, match="custom_v"):
        sc.synth(X1=[1.0, 2.0], X0=[[1.0, 2.0], [3.0, 1.0]], Z1=[1.0, 2.0], Z0=[[1.0, 2.0], [2.0, 1.0]],
                 custom_v=[-1, 2])
    with pytest.raises(SpecificationError, match="X1, X0, Z1, Z0"):
        sc.synth(X1=[1.0])
    with pytest.raises(SpecificationError, match="mapping"):
        sc.from_synth_dataprep([1, 2, 3])
    with pytest.raises(DataError, match="nosuch"):
        sc.synth_dataprep(foo=smoking_df, **{**ADH, "dependent": "nosuch"}, controls_identifier=["Utah"])
    with pytest.raises(SpecificationError, match="predictors_op"):
        sc.synth_dataprep(foo=smoking_df, **{**ADH, "predictors_op": "median"}, controls_identifier=["Utah"])
    with pytest.raises(DataError, match="1950"):
        sc.synth_dataprep(foo=smoking_df, **{**ADH, "time_optimize_ssr": [1950, 1970]},
                          controls_identifier=["Utah", "Nevada"])


def test_from_synth_dataprep_accepts_r_style_matrices(prop99_synth):
    dp, out = prop99_synth
    raw = {"X1": dp.X1.to_numpy()[:, None], "X0": dp.X0.to_numpy(), "Z1": dp.Z1.to_numpy()[:, None],
           "Z0": dp.Z0.to_numpy()}
    again = sc.synth(sc.from_synth_dataprep(raw))
    assert again.loss_v == pytest.approx(out.loss_v, rel=1e-12)
    assert np.allclose(again.solution_w.to_numpy(), out.solution_w.to_numpy(), atol=1e-12)


def test_covariate_placebo_and_leave_one_out_run_their_own_v_search():
    """Synth's toy panel (synth.data of ?synth): every placebo and every leave-one-out refit is the
    same covariate fit with other units, so each gap must equal an independent sc.synth() on the
    matrices built for that unit."""
    d = _read("synth_data.csv")
    donors = [29, 2, 13, 17, 32, 38]
    d = d[d["unit.num"].isin(donors + [7])]
    p = sc.Panel(d, unit="unit.num", time="year", outcome="Y", treated=7, treatment_time=1991)
    est = sc.SyntheticControl(covariates=["X1", "X2", "X3"], predictor_window=(1984, 1989),
                              outcome_lags={"Y.84": (1984, 1984), "Y.85.89": (1985, 1989)},
                              fit_window=(1984, 1990))
    res = est.fit(p)
    inf = res.placebo(statistic="rmspe_ratio")
    tab = inf.details["table"]
    assert len(tab) == 7 and inf.details["n_placebos"] == 6
    assert inf.p_value == pytest.approx(inf.details["rank"] / 7)
    assert np.isfinite(inf.details["max_bound_gap"])
    # placebo for donor 13: target 13, pool = the other donors, the same predictors
    pool = [u for u in donors if u != 13]
    pr = est.predictors(p, treated=[13], donors=pool)
    years = list(range(1984, 1991))
    wide = d.pivot(index="year", columns="unit.num", values="Y")
    out = sc.synth(X1=pr.X1, X0=pr.X0, Z1=wide.loc[years, 13], Z0=wide.loc[years, pool])
    gap13 = wide[13] - wide[pool] @ out.solution_w.to_numpy()
    assert np.allclose(inf.details["gaps"][13].to_numpy(), gap13.to_numpy(), atol=1e-9)
    loo = res.leave_one_out(threshold=0.0)
    assert len(loo) == int((res.weights > 0).sum())
    j = loo.iloc[0]
    keep = [u for u in donors if u != j["dropped"]]
    pr = est.predictors(p, donors=keep)
    out = sc.synth(X1=pr.X1, X0=pr.X0, Z1=wide.loc[years, 7], Z0=wide.loc[years, keep])
    gap = wide[7] - wide[keep] @ out.solution_w.to_numpy()
    assert j["att"] == pytest.approx(float(gap.loc[1991:].mean()), abs=1e-9)
    # in-time placebo at 1988: the predictors measured on or after 1988 (X1-X3 over 1984-1989,
    # Y.85.89) are left out, said aloud; the refit is the covariate fit with Y.84 alone on the fit
    # window cut at 1988 -- the same as that fit made from scratch on the panel cut before the real
    # treatment with 1988 as the treatment time (one predictor: W is not unique, so the comparison is
    # with our own solver, whose tie-breaking is the same; sc.synth() may pick another minimiser)
    with pytest.warns(sc.SynthWarning, match="left out of the refit"):
        it = res.in_time_placebo(fake_time=1988)
    dropped = it.details["predictors_dropped"].split("; ")
    assert set(dropped) == {"X1", "X2", "X3", "Y.85.89"}
    again = sc.SyntheticControl(outcome_lags={"Y.84": (1984, 1984)}, fit_window=(1984, 1987)).fit(
        sc.Panel(d[d.year < 1991], unit="unit.num", time="year", outcome="Y", treated=7, treatment_time=1988))
    assert it.details["att"] == pytest.approx(again.att, abs=1e-8)


def test_placebo_table_names_each_fits_certificate():
    """Issue #16: every placebo refit's certificate is in the table, and the uncertified ones are
    named (a V search whose proven bound stays above its loss: Colorado on this 8-state panel)."""
    import warnings
    sm = sc.datasets.load("prop99")
    keep = ["California", "Utah", "Montana", "Nevada", "Connecticut", "Colorado", "Idaho", "Ohio"]
    small = sm[sm.state.isin(keep)].reset_index(drop=True)
    p = sc.Panel(small, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    res = sc.SyntheticControl(covariates=["lnincome", "retprice"], outcome_lags=[1975, 1988]).fit(p)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        inf = res.placebo()
    t = inf.details["table"]
    assert list(t.columns[-2:]) == ["certified", "bound_gap"]
    named = list(t.loc[~t["certified"], "unit"])
    assert named == inf.details["uncertified_units"] and len(named) == inf.details["n_uncertified_fits"] >= 1
    assert (t.loc[t["certified"], "bound_gap"].fillna(0) <= 1e-6 * 1e3).all()
    assert any(all(u in str(x.message) for u in named) for x in w)
    out = sc.SyntheticControl().fit(p).placebo().details["table"]  # outcome-only: KKT certificates
    assert out["certified"].all() and (out["kkt_violation"] < 1e-12).all()


def test_canonical_v_reports_a_canonical_v_and_keeps_the_fit(smoking):
    """canonical_v ("min.loss.w" / "max.order") changes only which V is reported: W, loss_v and the
    effects are the search's; V is the diagnostics' canonical vector; loss_w is recomputed for it (by
    hand here); v_reported names it; synth() does the same.  Settings it cannot apply are refused."""
    panel = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                     treatment_time=1989)
    kw = dict(covariates={"lnincome": (1980, 1988), "retprice": (1980, 1988), "age15to24": (1980, 1988),
                          "beer": (1984, 1988)}, outcome_lags=[1975, 1980, 1988], fit_window=(1970, 1988))
    base = sc.SyntheticControl(**kw).fit(panel)
    assert base.diagnostics["v_reported"] == "search"
    for cv, key in (("min.loss.w", "v_min_loss_w"), ("max.order", "v_max_order")):
        r = sc.SyntheticControl(canonical_v=cv, **kw).fit(panel)
        assert r.diagnostics["v_reported"] == cv
        np.testing.assert_allclose(r.weights.to_numpy(), base.weights.to_numpy(), atol=1e-12)
        assert r.diagnostics["loss_v"] == pytest.approx(base.diagnostics["loss_v"], rel=1e-12)
        assert r.att == pytest.approx(base.att, rel=1e-12)
        want = r.diagnostics[key]
        np.testing.assert_allclose(r.V.to_numpy(), [want[k] for k in r.V.index], atol=0)
    for bad, match in ((dict(canonical_v="median"), "canonical_v must be"),
                       (dict(canonical_v="max.order"), "outcome-only fit has no predictor weights"),
                       (dict(canonical_v="max.order", backend="penalized", covariates=["lnincome"]), "penalized"),
                       (dict(canonical_v="max.order", augment="ridge"), "ridge")):
        with pytest.raises(sc.SpecificationError, match=match):
            sc.SyntheticControl(**bad).fit(panel)


def test_synth_canonical_v(smoking):
    ctrl = sorted(s for s in smoking.state.unique() if s != "California")
    dp = sc.synth_dataprep(
        foo=smoking, predictors=["lnincome", "retprice", "age15to24"], predictors_op="mean",
        time_predictors_prior=range(1980, 1989),
        special_predictors=[("beer", range(1984, 1989), "mean"), ("cigsale", [1975], "mean"),
                            ("cigsale", [1980], "mean"), ("cigsale", [1988], "mean")],
        dependent="cigsale", unit_variable="state", time_variable="year",
        treatment_identifier="California", controls_identifier=ctrl,
        time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
    a, b = sc.synth(dp), sc.synth(dp, canonical_v="max.order")
    assert (a.v_reported, b.v_reported) == ("search", "max.order")
    np.testing.assert_allclose(a.solution_w.to_numpy(), b.solution_w.to_numpy(), atol=1e-12)
    assert b.loss_v == pytest.approx(a.loss_v, rel=1e-12)
    assert b.as_dict()["v_reported"] == "max.order"
    # loss_w is the reported V's predictor loss, by hand on Synth's scaled predictors
    x1s, x0s, _ = sc.synth_compat._scale(dp.X1.to_numpy(dtype=float), dp.X0.to_numpy(dtype=float))
    r = np.ravel(x1s) - x0s @ b.solution_w.to_numpy()
    assert b.loss_w == pytest.approx(float(b.solution_v.to_numpy() @ r ** 2), rel=1e-9, abs=1e-15)
    with pytest.raises(sc.SpecificationError, match="custom_v"):
        sc.synth(dp, custom_v=[1] * 7, canonical_v="min.loss.w")


def test_mscmt_budget_is_a_setting(smoking):
    """mscmt_maxiter / mscmt_popsize set the mscmt backend's differential evolution: a smaller budget
    evaluates fewer V's (n_evals; a bigger budget is not guaranteed a lower loss, DE being a heuristic)
    and the fit says how far it may be from the optimum (bound_gap);
    the same settings reach the refits (the model's settings) and sc.synth; other backends refuse them."""
    panel = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                     treatment_time=1989)
    kw = dict(covariates={"lnincome": (1980, 1988), "beer": (1984, 1988)}, outcome_lags=[1975, 1980, 1988],
              fit_window=(1970, 1988))
    small = sc.SyntheticControl(backend="mscmt", mscmt_maxiter=5, mscmt_popsize=3, **kw).fit(panel)
    big = sc.SyntheticControl(backend="mscmt", mscmt_maxiter=30, mscmt_popsize=8, **kw).fit(panel)
    assert small.diagnostics["n_evals"] < big.diagnostics["n_evals"]
    for r in (small, big):
        assert r.diagnostics["loss_v"] >= r.diagnostics["lower_bound"] * (1 - 1e-9)
    assert small.model.settings["mscmt_maxiter"] == 5 and small.model.settings["mscmt_popsize"] == 3
    with pytest.raises(sc.SpecificationError, match="mscmt_maxiter=5 sets the 'mscmt' backend"):
        sc.SyntheticControl(mscmt_maxiter=5, **kw).fit(panel)
    with pytest.raises(sc.SpecificationError, match="mscmt_popsize"):
        sc.SyntheticControl(backend="mscmt", mscmt_popsize=0, **kw).fit(panel)


def test_synth_reports_the_pre_period_r_squared(smoking):
    """SynthOutput.r_squared (Malo et al. 2024 report it): 1 - SSR/SST of the outcome fit over
    time_optimize_ssr, which with loss_v = SSR / T is 1 - T loss_v / SST (checked by hand)."""
    ctrl = sorted(s for s in smoking.state.unique() if s != "California")
    dp = sc.synth_dataprep(foo=smoking, predictors=["lnincome", "retprice"], predictors_op="mean",
                           time_predictors_prior=range(1980, 1989),
                           special_predictors=[("cigsale", [1975], "mean"), ("cigsale", [1988], "mean")],
                           dependent="cigsale", unit_variable="state", time_variable="year",
                           treatment_identifier="California", controls_identifier=ctrl,
                           time_optimize_ssr=range(1970, 1989), time_plot=range(1970, 2001))
    out = sc.synth(dp)
    z1 = dp.Z1.to_numpy(dtype=float).ravel()
    sst = float(((z1 - z1.mean()) ** 2).sum())
    assert out.r_squared == pytest.approx(1 - len(z1) * out.loss_v / sst, rel=1e-10)
    assert 0.9 < out.r_squared < 1 and out.as_dict()["r_squared"] == out.r_squared
    # loss_w in Synth's convention (V sums to one: recomputed by hand here) and with the 1/K factor
    x1 = dp.X1.to_numpy(dtype=float).ravel() / out.predictor_scale.to_numpy()
    x0 = dp.X0.to_numpy(dtype=float) / out.predictor_scale.to_numpy()[:, None]
    r = x1 - x0 @ out.solution_w.to_numpy()
    assert out.loss_w == pytest.approx(float(r @ (out.solution_v.to_numpy() * r)), rel=1e-8, abs=1e-14)
    assert out.loss_w_per_predictor == pytest.approx(out.loss_w / 4, rel=1e-15)
    assert out.as_dict()["loss_w_per_predictor"] == out.loss_w_per_predictor
