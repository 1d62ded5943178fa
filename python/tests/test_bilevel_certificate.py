"""The outcome-only lower bound of the V problem and its LP certificate (groundwork for issue #4).

Numbers: the lower bounds are outcome-only simplex fits (validated elsewhere against R quadprog);
the predictor specifications are R Synth's (``prop99_synth.json``, ``basque_synth.json``), built by
``synthcontrol.predictors``, which reproduces Synth's dataprep matrices exactly (test_predictors.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthcontrol.predictors import build_predictors
from synthcontrol.solvers.bilevel import outcome_bound_certificate
from synthcontrol.solvers.simplex import simplex_ls

from .conftest import data_dir, need_file


def _read(name):
    return pd.read_csv(need_file(data_dir() / name))


def test_basque_bound_is_attained_and_certified():
    b = _read("basque.csv")
    donors = [r for r in sorted(b.regionno.unique()) if r not in (1, 17)]
    pr = build_predictors(
        b, "regionno", "year", 17, donors,
        covariates=["school.illit", "school.prim", "school.med", "school.high", "school.post.high", "invest"],
        predictor_window=(1964, 1969),
        special=[("gdpcap", range(1960, 1970), "mean")]
        + [(s, range(1961, 1970, 2), "mean") for s in ["sec.agriculture", "sec.energy", "sec.industry",
                                                          "sec.construction", "sec.services.venta",
                                                          "sec.services.nonventa"]]
        + [("popdens", [1969], "mean")],
        pre_periods=list(range(1955, 1970)))
    X1, X0, _ = pr.scaled()
    Y = b.pivot(index="year", columns="regionno", values="gdpcap").loc[1960:1969]
    cert = outcome_bound_certificate(X1.to_numpy(), X0[donors].to_numpy(), Y[17].to_numpy(), Y[donors].to_numpy())
    assert cert.attainable
    assert cert.inner_kkt < 1e-9 and cert.margin >= 0
    assert abs(cert.v.sum() - 1) < 1e-12 and (cert.v >= 0).all()
    # below MSCMT 1.4.3's improved Synth solution (0.004286071) and Synth 1.1-8 (0.008864629)
    assert cert.lower_bound < 0.004286071 < 0.008864629
    # independent check: at that V, the lower level's optimal value equals W**'s predictor loss
    sv = np.sqrt(cert.v)
    A, a = sv[:, None] * X0[donors].to_numpy(), sv * X1.to_numpy()
    inner = simplex_ls(A, a)
    f_star = float(np.sum((a - A @ cert.w) ** 2))
    assert f_star <= inner.ssr + 1e-12 * max(1.0, float(a @ a))


def test_prop99_bound_is_not_attainable_and_the_lp_proves_it():
    """With ADH 2010's predictors no V makes the outcome-only optimum optimal for the lower level:
    the smallest achievable KKT violation on the support is ~1.7e-6 (relative), far above rounding.
    The bilevel optimum is therefore strictly above 2.7437; the search reaches 2.7440893 at the corner
    V = e_cigsale1980 (test_covariates.py), below MSCMT's 3.0767 and Synth's 3.2091."""
    sm = _read("smoking.csv")
    donors = sorted(s for s in sm.state.unique() if s != "California")
    pr = build_predictors(sm, "state", "year", "California", donors,
                          covariates=["lnincome", "retprice", "age15to24"], predictor_window=(1980, 1988),
                          special=[("beer", range(1984, 1989), "mean"), ("cigsale", [1975], "mean"),
                                   ("cigsale", [1980], "mean"), ("cigsale", [1988], "mean")],
                          pre_periods=list(range(1970, 1989)))
    X1, X0, _ = pr.scaled()
    Y = sm.pivot(index="year", columns="state", values="cigsale").loc[1970:1988]
    cert = outcome_bound_certificate(X1.to_numpy(), X0[donors].to_numpy(), Y["California"].to_numpy(),
                                     Y[donors].to_numpy())
    assert not cert.attainable and cert.v is None
    assert cert.lower_bound == pytest.approx(2.743661645, abs=1e-8)
    assert 1e-7 < cert.equality_gap < 1e-4
    assert cert.v_nearest is not None and abs(cert.v_nearest.sum() - 1) < 1e-12


def test_outcome_predictors_make_the_bound_attainable():
    """If the predictors are the fit-period outcomes themselves, uniform V reproduces the upper level."""
    rng = np.random.default_rng(3)
    Z0 = rng.normal(size=(12, 8)).cumsum(axis=0)
    Z1 = Z0 @ rng.dirichlet(np.ones(8)) + 0.3 * rng.normal(size=12)
    cert = outcome_bound_certificate(Z1, Z0, Z1, Z0)
    assert cert.attainable and cert.inner_kkt < 1e-9
