"""SCPI prediction intervals against R scpi 3.0.1 (../shared/reference/prop99_scpi.json: Prop 99,
outcome-only simplex, package defaults, sims = 200, set.seed(8894)).

* Deterministic pieces (no simulation): rho, the active donors, the HC1 df, E[u], Sigma, E[e],
  the out-of-sample variance and the gaussian / qreg / ls out-of-sample bounds -- equal to R's up
  to R's own weights' error (its weights differ from the exact ones by 2e-6; tolerances below).
* Simulated pieces (the in-sample bounds, hence every interval): within Monte-Carlo error.  R's
  numbers come from 200 draws, so do ours; the standard deviation of a 200-draw quantile is
  estimated by resampling our draws, and the difference must stay within 4.5 such standard
  deviations of the difference (sqrt(2) times one), per period and bound.
"""
from __future__ import annotations

import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.inference.scpi import quantile_regression, restricted_quantiles


@pytest.fixture(scope="module")
def prop99(smoking):
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    return sc.SyntheticControl().fit(p)


@pytest.fixture(scope="module")
def ours(prop99):
    return prop99.scpi(alpha=0.05, sims=200, seed=11)


@pytest.fixture(scope="module")
def r_scpi(reference):
    return reference("prop99_scpi.json")["scpi"]


def _vals(block):
    return np.array(block["values"], dtype=float)


def test_deterministic_pieces_equal_r_scpi(prop99, ours, r_scpi):
    d = ours.details
    inf = r_scpi["inference"]
    assert d["rho"] == inf["rho"] == 0.2
    assert d["active_donors"] == ["Montana", "Nevada", "Utah"] and d["df"] == 5
    assert np.max(np.abs(d["u_mean"] - np.array(inf["u.mean"]))) < 1e-4
    S = _vals(inf["Sigma"])
    assert np.max(np.abs(d["Sigma"] - S)) < 1e-4 * np.abs(S).max()
    assert np.max(np.abs(d["u_var"] - np.diag(_vals(inf["u.var"])))) < 1e-3
    assert np.max(np.abs(d["e_mean"] - np.array(inf["e.mean"]))) < 1e-4
    assert np.max(np.abs(d["e_var"] - np.array(inf["e.var"]))) < 1e-2
    ins = _vals(r_scpi["bounds"]["insample"])
    t = d["table"]
    for method, key, tol in (("gaussian", "subgaussian", 1e-3), ("ls", "ls", 1e-2), ("qreg", "qreg", 1e-3)):
        R = _vals(r_scpi["bounds"][key]) - ins  # R's out-of-sample bounds alone
        # the out-of-sample part needs no simulation: a 10-draw run is enough for the other methods
        tt = t if method == "gaussian" else prop99.scpi(sims=10, seed=0, e_method=method).details["table"]
        assert np.max(np.abs(tt.out_of_sample_lower.to_numpy() - R[:, 0])) < tol, method
        assert np.max(np.abs(tt.out_of_sample_upper.to_numpy() - R[:, 1])) < tol, method


def test_intervals_within_monte_carlo_error_of_r(ours, r_scpi):
    d = ours.details
    lo_draws, hi_draws = d["draws_lower"], d["draws_upper"]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, lo_draws.shape[0], size=(300, lo_draws.shape[0]))
    sd_lo = np.nanquantile(lo_draws[idx], 0.025, axis=1).std(axis=0)[:12]
    sd_hi = np.nanquantile(hi_draws[idx], 0.975, axis=1).std(axis=0)[:12]
    R_in = _vals(r_scpi["bounds"]["insample"])
    t = d["table"]
    z_lo = (t.in_sample_lower.to_numpy() - R_in[:, 0]) / (np.sqrt(2) * sd_lo)
    z_hi = (t.in_sample_upper.to_numpy() - R_in[:, 1]) / (np.sqrt(2) * sd_hi)
    assert np.all(np.abs(z_lo) < 4.5) and np.all(np.abs(z_hi) < 4.5), (z_lo, z_hi)
    # the full intervals (R's CI.all.gaussian) then agree within the same error
    R_all = _vals(r_scpi["inference"]["CI.all.gaussian"])[:, :2]
    assert np.all(np.abs(t.cf_lower.to_numpy() - R_all[:, 0]) < 4.5 * np.sqrt(2) * sd_lo + 1e-3)
    assert np.all(np.abs(t.cf_upper.to_numpy() - R_all[:, 1]) < 4.5 * np.sqrt(2) * sd_hi + 1e-3)
    # the counterfactual itself is R's Y_post_fit
    assert t.counterfactual.to_numpy() == pytest.approx(np.ravel(_vals(r_scpi["Y_post_fit"])), abs=1e-4)


def test_att_interval_excludes_zero_and_is_coherent(ours, prop99):
    d = ours.details
    assert ours.ci_upper < 0 and ours.ci_lower < d["att"] < ours.ci_upper
    assert d["att"] == pytest.approx(prop99.att, abs=1e-10)
    assert ours.alpha == pytest.approx(0.1) and d["coverage"] == pytest.approx(0.9)
    t = d["table"]
    assert np.all(t.effect_lower < t.effect) and np.all(t.effect < t.effect_upper)
    assert np.all(t.joint_cf_lower <= t.cf_lower) and np.all(t.joint_cf_upper >= t.cf_upper)
    assert d["failed_sims"] == 0
    # seeded: the same seed gives the same draws
    again = prop99.scpi(sims=20, seed=3)
    assert again.ci_lower == prop99.scpi(sims=20, seed=3).ci_lower


def test_quantile_regression_and_restricted_quantiles():
    rng = np.random.default_rng(0)
    D = np.column_stack([rng.normal(size=60), np.ones(60)])
    y = D @ [2.0, 1.0] + rng.standard_t(3, size=60)
    b = quantile_regression(D, y, 0.5)
    # the LP optimum: no direction improves the check loss
    loss = lambda bb: np.sum(np.abs(y - D @ bb))  # noqa: E731
    for dlt in ([1e-3, 0], [-1e-3, 0], [0, 1e-3], [0, -1e-3]):
        assert loss(b) <= loss(b + np.array(dlt)) + 1e-12
    q = restricted_quantiles(D, y, (0.1, 0.5, 0.9), D)
    assert np.all(q[0] <= q[1] + 1e-12) and np.all(q[1] <= q[2] + 1e-12)  # no crossing
    assert np.mean(y <= q[2]) == pytest.approx(0.9, abs=0.1)


def test_scpi_errors(prop99):
    for kw, match in ((dict(alpha=0.6), "alpha"), (dict(sims=5), "sims"), (dict(e_method="bayes"), "e_method"),
                      (dict(rho=-1), "rho"), (dict(u_alpha=0), "u_alpha"),
                      (dict(solver="ecos"), "solver")):
        with pytest.raises(SpecificationError, match=match):
            prop99.scpi(**kw)


def test_scpi_with_covariates_and_ridge(smoking):
    p = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                 treatment_time=1989)
    cov = sc.SyntheticControl(covariates=["lnincome", "retprice", "age15to24"], predictor_window=(1980, 1988),
                              outcome_lags=[1975, 1980, 1988]).fit(p)
    a = cov.scpi(sims=30, seed=0)
    assert a.details["fit_kind"] == "predictors" and "approximation" in a.details["design"]
    assert a.ci_lower < a.details["att"] < a.ci_upper
    rid = sc.SyntheticControl(augment="ridge").fit(p)
    b = rid.scpi(sims=30, seed=0)
    assert b.details["fit_kind"] == "ridge" and "||x||_2" in b.details["design"]
    assert b.details["failed_sims"] == 0
    assert b.ci_lower < b.details["att"] < b.ci_upper
    assert b.details["att"] == pytest.approx(rid.att, abs=1e-10)


def test_in_sample_bounds_within_monte_carlo_error_of_scpi_pkg(ours):
    """scpi-pkg 4.0.0 (Python; recorded in fixtures/oracles, 30 seeds x 200 draws): our 200-draw
    in-sample bounds lie within 4.5 Monte-Carlo SDs of its mean (SD of one 200-draw run, taken from
    its 30 runs, times sqrt(1 + 1/30) for the error of its mean)."""
    import json
    from pathlib import Path
    o = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "oracles" / "scpi_pkg_prop99.json").read_text())
    t = ours.details["table"]
    for side, col in (("in_sample_lower", "in_sample_lower"), ("in_sample_upper", "in_sample_upper")):
        mean = np.array(o[side]["mean"])
        sd = np.array(o[side]["sd"]) * np.sqrt(1 + 1 / 30)
        got = (t.counterfactual + t[col]).to_numpy()
        z = (got - mean) / sd
        assert np.all(np.abs(z) < 4.5), (side, z.round(2))


def test_n_jobs_gives_the_same_draws(prop99):
    a = prop99.scpi(sims=60, seed=5)
    b = prop99.scpi(sims=60, seed=5, n_jobs=2)
    assert np.array_equal(a.details["draws_lower"], b.details["draws_lower"])
    assert np.array_equal(a.details["draws_upper"], b.details["draws_upper"])
    assert (a.ci_lower, a.ci_upper) == (b.ci_lower, b.ci_upper)


def test_u_missp_false_centres_nothing(prop99):
    """u_missp=False (scpi's u.missp = FALSE): E[u | H] = 0, so the HC1 variance is built from the raw
    residuals -- Sigma recomputed by hand here -- and the in-sample bounds change; the default (True)
    regresses the residuals on the active donors' design (a non-zero u_mean on Prop 99)."""
    on = prop99.scpi(sims=50, seed=0)
    off = prop99.scpi(sims=50, seed=0, u_missp=False)
    assert on.details["u_missp"] is True and off.details["u_missp"] is False
    assert np.abs(on.details["u_mean"]).max() > 0 and not np.any(off.details["u_mean"])
    p = prop99.panel
    mask = np.asarray(prop99.fit_mask, dtype=bool)
    B = np.asarray(p.X_donors, dtype=float)[mask]
    u = np.asarray(p.y_treated, dtype=float)[mask] - B @ np.asarray(prop99.w, dtype=float)
    T0, df = len(u), off.details["df"]
    omega = u ** 2 * T0 / (T0 - df)
    np.testing.assert_allclose(off.details["Sigma"], (B * omega[:, None]).T @ B / T0 ** 2, rtol=1e-12, atol=0)
    t_on, t_off = on.details["table"], off.details["table"]
    assert not np.allclose(t_on.cf_lower.to_numpy(), t_off.cf_lower.to_numpy())
    with pytest.raises(sc.SpecificationError, match="u_missp"):
        prop99.scpi(u_missp="yes")
