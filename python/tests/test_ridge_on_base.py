"""Ridge augmentation of a covariate (V) fit or of the penalized fit (augment="ridge" with
backend="malo" | "mscmt" | "penalized"): Ben-Michael, Feller & Rothstein's correction of any base weights.

Expected numbers are computed here with plain numpy from the base fit's weights (the correction's
formula, the leave-one-period-out CV with the base held fixed), not by the code under test."""
import warnings

import numpy as np
import pytest

import synthcontrol as sc
from synthcontrol.errors import SpecificationError
from synthcontrol.solvers.vsearch import penalized_weights

COV = dict(covariates={"lnincome": (1980, 1988), "retprice": (1980, 1988), "age15to24": (1980, 1988),
                       "beer": (1984, 1988)}, outcome_lags=[1975, 1980, 1988], fit_window=(1970, 1988))


@pytest.fixture(scope="module")
def panel():
    return sc.Panel(sc.datasets.load("prop99"), unit="state", time="year", outcome="cigsale",
                    treated="California", treatment_time=1989)


def correction(Yd, y, mask, wb, lam):
    mu = Yd.mean(axis=1)
    A = (Yd[mask] - mu[mask, None]).T
    a = y[mask] - mu[mask]
    return wb + A @ np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), a - A.T @ wb)


@pytest.mark.parametrize("kw", [dict(backend="malo", **COV), dict(backend="penalized"),
                                dict(backend="penalized", penalized_lambda=0.1, **COV)],
                         ids=["malo+cov", "penalized", "penalized+cov"])
def test_fixed_penalty_is_the_correction_of_the_base_weights(panel, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)
        base = sc.SyntheticControl(**kw).fit(panel)
        res = sc.SyntheticControl(augment="ridge", ridge_lambda=50.0, **kw).fit(panel)
    y, Yd = np.asarray(panel.y_treated, float), np.asarray(panel.X_donors, float)
    pre = ~np.asarray(panel.post)
    wb = base.weights.reindex(panel.donors).to_numpy()
    w = correction(Yd, y, pre, wb, 50.0)
    np.testing.assert_allclose(res.weights.reindex(panel.donors).to_numpy(), w, atol=1e-10)
    assert res.att == pytest.approx(float(np.mean(y[~pre] - Yd[~pre] @ w)), abs=1e-9)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)  # the correction's columns are centred per period
    d = res.diagnostics
    assert d["ridge_lambda"] == 50.0 and d["base"]["backend"] == kw["backend"]
    assert d["l2_imbalance"] < d["l2_imbalance_base"]  # the correction reduces the pre-period imbalance
    assert res.model.kind == "ridge" and "ridge augmentation of" in res.model.description


def test_cv_holds_the_base_fixed(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)
        res = sc.SyntheticControl(augment="ridge", backend="penalized").fit(panel)
        base = sc.SyntheticControl(backend="penalized").fit(panel)
    y, Yd = np.asarray(panel.y_treated, float), np.asarray(panel.X_donors, float)
    pre = ~np.asarray(panel.post)
    wb = base.weights.reindex(panel.donors).to_numpy()
    path = res.diagnostics["lambda_path"]
    mu = Yd.mean(axis=1)
    A = (Yd[pre] - mu[pre, None]).T
    a = y[pre] - mu[pre]
    n = A.shape[1]
    for lam, err in list(zip(path["lambda"], path["cv_error"]))[::5]:
        errs = []
        for i in range(n - 1):  # augsynth's folds: each period but the last held out in turn
            keep = np.arange(n) != i
            wi = wb + A[:, keep] @ np.linalg.solve(A[:, keep].T @ A[:, keep] + lam * np.eye(n - 1),
                                                   a[keep] - A[:, keep].T @ wb)
            errs.append((a[i] - A[:, i] @ wi) ** 2)
        assert err == pytest.approx(np.mean(errs), rel=1e-8)
    lam = res.diagnostics["ridge_lambda"]
    np.testing.assert_allclose(res.weights.reindex(panel.donors).to_numpy(), correction(Yd, y, pre, wb, lam),
                               atol=1e-9)


def test_placebo_refits_correct_the_base_refit(panel):
    """A placebo refit: the base's refit (the penalized fit at its lambda), then the correction at the
    fitted ridge penalty."""
    res = sc.SyntheticControl(augment="ridge", ridge_lambda=20.0, backend="penalized",
                              penalized_lambda=0.2).fit(panel)
    Z = res.model.Z
    pre = ~np.asarray(panel.post)
    k = 5
    D = np.array([j for j in range(1, Z.shape[1]) if j != k])
    r = res.model.refit(k, D)
    wb = penalized_weights(Z[pre, k], Z[pre][:, D], 0.2).weights
    np.testing.assert_allclose(r.weights, correction(Z[:, D], Z[:, k], pre, wb, 20.0), atol=1e-8)
    pl = res.placebo()
    assert 0 < pl.p_value <= 1


def test_what_is_refused_says_why(panel):
    with pytest.raises(SpecificationError, match="residualize=True is augsynth's option"):
        sc.SyntheticControl(augment="ridge", backend="malo", residualize=True, **COV).fit(panel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sc.SynthWarning)
        res = sc.SyntheticControl(augment="ridge", backend="malo", ridge_lambda=10.0, **COV).fit(panel)
    with pytest.raises(SpecificationError, match="its base weights come from predictors"):
        res.conformal()
    with pytest.raises(SpecificationError, match="canonical_v"):
        sc.SyntheticControl(augment="ridge", backend="malo", canonical_v="max.order", **COV).fit(panel)
