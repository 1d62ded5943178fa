"""Predictor matrices (issue 4, item 1) against R Synth 1.1-8's recorded ``dataprep`` output.

References: ``shared/reference/prop99_synth.json`` and ``basque_synth.json`` (X0 stored as a list
of predictor rows, one entry per control unit in ``controls.identifier`` order; X1 as a
rowname -> value dict).  Data: ``smoking.csv`` and ``basque.csv``, the packages' own objects.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthcontrol.errors import DataError, SpecificationError
from synthcontrol.predictors import Predictors, build_predictors

from .conftest import _need, data_dir

TOL = 1e-10


def _prop99(smoking, ref):
    return build_predictors(
        smoking, "state", "year", "California", ref["control_states"],
        covariates=["lnincome", "retprice", "age15to24"], predictor_window=(1980, 1988),
        special=[("beer", range(1984, 1989), "mean")],
        outcome="cigsale", outcome_lags=[1975, 1980, 1988])


@pytest.fixture(scope="module")
def basque() -> pd.DataFrame:
    return pd.read_csv(_need(data_dir() / "basque.csv"))


# --------------------------------------------------------------------------- Prop 99


def test_prop99_matches_synth_dataprep(smoking, reference):
    ref = reference("prop99_synth.json")
    states = sorted(smoking["state"].unique())
    assert ref["control_states"] == [s for s in states if s != "California"]
    p = _prop99(smoking, ref)
    assert isinstance(p, Predictors)
    assert p.names == ref["X0_rownames"]
    assert list(p.X0.index) == ref["X0_rownames"]
    assert list(p.X0.columns) == ref["control_states"]
    x0 = np.array(ref["X0"], dtype=float)
    assert x0.shape == (7, 38)
    np.testing.assert_allclose(p.X0.to_numpy(), x0, rtol=TOL, atol=TOL)
    assert list(ref["X1"]) == ref["X0_rownames"]
    np.testing.assert_allclose(p.X1[ref["X0_rownames"]].to_numpy(),
                               np.array(list(ref["X1"].values())), rtol=TOL, atol=TOL)
    assert p.windows["lnincome"] == tuple(range(1980, 1989))
    assert p.windows["special.beer.1984.1988"] == tuple(range(1984, 1989))
    assert p.windows["special.cigsale.1975"] == (1975,)


def test_prop99_scaled_matches_synth_normalisation(smoking, reference):
    ref = reference("prop99_synth.json")
    p = _prop99(smoking, ref)
    x0 = np.array(ref["X0"], dtype=float)
    x1 = np.array(list(ref["X1"].values()))
    big = np.column_stack([x0, x1])                 # cbind(X0, X1): all 39 units
    divisor = np.sqrt(big.var(axis=1, ddof=1))      # sqrt(apply(., 1, var))
    x1s, x0s, div = p.scaled()
    np.testing.assert_allclose(div.to_numpy(), divisor, rtol=TOL)
    np.testing.assert_allclose(x0s.to_numpy(), x0 / divisor[:, None], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(x1s.to_numpy(), x1 / divisor, rtol=TOL, atol=TOL)
    assert list(x0s.columns) == ref["control_states"] and list(x1s.index) == p.names


def test_covariate_dict_and_explicit_list_equal_specials(smoking, reference):
    ref = reference("prop99_synth.json")
    base = _prop99(smoking, ref)
    alt = build_predictors(
        smoking, "state", "year", "California", ref["control_states"],
        covariates={"lnincome": list(range(1980, 1989))},
        special=[("beer", [1984, 1985, 1986, 1987, 1988], "mean"), ("cigsale", 1975, "mean")],
        outcome="cigsale", outcome_lags={"cig7580": (1975, 1980)})
    assert alt.names == ["special.lnincome.1980.1988", "special.beer.1984.1988",
                         "special.cigsale.1975", "cig7580"]
    assert alt.X0.loc["special.lnincome.1980.1988"].equals(base.X0.loc["lnincome"].rename(
        "special.lnincome.1980.1988"))
    assert np.array_equal(alt.X0.loc["special.cigsale.1975"], base.X0.loc["special.cigsale.1975"])
    ca = smoking[(smoking.state == "California") & smoking.year.between(1975, 1980)]
    assert alt.X1["cig7580"] == pytest.approx(ca.cigsale.mean(), rel=1e-14)
    assert alt.windows["cig7580"] == tuple(range(1975, 1981))


def test_group_of_treated_units(smoking):
    p = build_predictors(smoking, "state", "year", ["California", "Utah"], ["Nevada", "Ohio", "Iowa"],
                         outcome="cigsale", outcome_lags=[1980, 1985])
    cig = smoking.set_index(["state", "year"])["cigsale"]
    assert p.X1["special.cigsale.1980"] == pytest.approx(
        (cig["California", 1980] + cig["Utah", 1980]) / 2, rel=1e-14)
    _, _, div = p.scaled()
    vals = [cig[s, 1985] for s in ["Nevada", "Ohio", "Iowa", "California", "Utah"]]
    assert div["special.cigsale.1985"] == pytest.approx(np.std(vals, ddof=1), rel=1e-12)


# --------------------------------------------------------------------------- Basque


SCHOOL = ["school.illit", "school.prim", "school.med", "school.high"]


def _postprocess_schooling(x1: pd.Series, x0: pd.DataFrame):
    """example(synth)'s post-processing: merge high + post.high, then shares (in %) of the four."""
    x1, x0 = x1.copy(), x0.copy()
    x1["school.high"] = x1["school.high"] + x1["school.post.high"]
    x0.loc["school.high"] = x0.loc["school.high"] + x0.loc["school.post.high"]
    x1, x0 = x1.drop("school.post.high"), x0.drop(index="school.post.high")
    x1[SCHOOL] = (100 * x1[SCHOOL]) / x1[SCHOOL].sum()
    x0.loc[SCHOOL] = 100 * (x0.loc[SCHOOL] / x0.loc[SCHOOL].sum(axis=0))
    return x1, x0


def test_basque_matches_synth_dataprep(basque, reference):
    ref = reference("basque_synth.json")
    donors = list(range(2, 17)) + [18]
    assert [int(c) for c in ref["X0_colnames"]] == donors
    sectors = ["sec.agriculture", "sec.energy", "sec.industry", "sec.construction",
               "sec.services.venta", "sec.services.nonventa"]
    p = build_predictors(
        basque, "regionno", "year", 17, donors,
        covariates=["school.illit", "school.prim", "school.med", "school.high",
                    "school.post.high", "invest"],
        pre_periods=(1964, 1969),
        special=[("gdpcap", range(1960, 1970), "mean")]
        + [(s, range(1961, 1970, 2), "mean") for s in sectors]
        + [("popdens", 1969, "mean")])
    assert p.names[:6] == SCHOOL + ["school.post.high", "invest"]
    assert [n for n in p.names if n != "school.post.high"] == ref["X0_rownames"]

    rows = ref["X0_rownames"]
    x0_ref = pd.DataFrame(np.array(ref["X0"], dtype=float), index=rows, columns=donors)
    x1_ref = pd.Series(ref["X1"])[rows]

    untouched = [r for r in rows if r not in SCHOOL]   # invest and the specials
    assert len(untouched) == 9
    np.testing.assert_allclose(p.X0.loc[untouched].to_numpy(), x0_ref.loc[untouched].to_numpy(),
                               rtol=TOL, atol=TOL)
    np.testing.assert_allclose(p.X1[untouched].to_numpy(), x1_ref[untouched].to_numpy(),
                               rtol=TOL, atol=TOL)

    x1_pp, x0_pp = _postprocess_schooling(p.X1, p.X0)
    assert list(x0_pp.index) == rows
    np.testing.assert_allclose(x0_pp.to_numpy(), x0_ref.to_numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(x1_pp[rows].to_numpy(), x1_ref.to_numpy(), rtol=TOL, atol=TOL)
    # the odd-year sector windows (the data only has odd years) are kept as requested
    assert p.windows["special.sec.energy.1961.1969"] == (1961, 1963, 1965, 1967, 1969)


# --------------------------------------------------------------------------- errors and semantics


def _toy() -> pd.DataFrame:
    return pd.DataFrame({
        "u": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
        "t": [1, 2, 3, 4] * 3,
        "x": [1.0, np.nan, 3.0, 4.0, np.nan, np.nan, 5.0, 7.0, 2.0, 2.0, 2.0, 2.0],
        "const": [3.0] * 12,
        "y": np.arange(12, dtype=float),
        "label": list("pqrstuvwxyzo"),
    })


def test_missing_cells_use_available_periods():
    p = build_predictors(_toy(), "u", "t", "a", ["b", "c"], covariates=["x"], pre_periods=(1, 3))
    assert p.X1["x"] == pytest.approx(2.0)        # mean(1, NA, 3, na.rm = TRUE)
    assert p.X0.loc["x", "b"] == pytest.approx(5.0)
    assert p.X0.loc["x", "c"] == pytest.approx(2.0)


def test_missing_row_counts_as_missing_cell():
    df = _toy()
    df = df[~((df.u == "a") & (df.t == 2))]
    p = build_predictors(df, "u", "t", "a", ["b", "c"], covariates=["y"], pre_periods=[1, 2, 3])
    assert p.X1["y"] == pytest.approx(1.0)         # (0 + 2) / 2


def test_missing_column_is_data_error():
    with pytest.raises(DataError, match="'nope'"):
        build_predictors(_toy(), "u", "t", "a", ["b", "c"], covariates=["nope"], pre_periods=(1, 4))
    with pytest.raises(DataError, match="'unit_col'"):
        build_predictors(_toy(), "unit_col", "t", "a", ["b"], covariates=["x"], pre_periods=(1, 4))
    with pytest.raises(DataError, match="'yy'"):
        build_predictors(_toy(), "u", "t", "a", ["b"], outcome="yy", outcome_lags=[1])


def test_non_numeric_column_is_data_error():
    with pytest.raises(DataError, match="'label'.*not numeric"):
        build_predictors(_toy(), "u", "t", "a", ["b"], special=[("label", [1, 2], "mean")])


def test_empty_window_names_column_unit_and_window():
    with pytest.raises(DataError) as exc:
        build_predictors(_toy(), "u", "t", "a", ["b", "c"], covariates={"x": (1, 2)})
    msg = str(exc.value)
    assert "'x'" in msg and "'b'" in msg and "[1, 2]" in msg


def test_window_periods_absent_from_data():
    with pytest.raises(SpecificationError, match="not in the data.*5"):
        build_predictors(_toy(), "u", "t", "a", ["b"], covariates=["x"], pre_periods=(1, 5))
    with pytest.raises(SpecificationError, match="0, 9"):
        build_predictors(_toy(), "u", "t", "a", ["b"], special=[("x", [0, 1, 9], "mean")])
    with pytest.raises(SpecificationError, match="7"):
        build_predictors(_toy(), "u", "t", "a", ["b"], outcome="y", outcome_lags=[1, 7])
    df = _toy()
    df = df[df.t != 2]                            # period 2 gone for every unit
    with pytest.raises(SpecificationError, match="not in the data.*2"):
        build_predictors(df, "u", "t", "a", ["b"], covariates=["y"], predictor_window=(1, 4))


def test_zero_sd_predictor_on_scaled():
    p = build_predictors(_toy(), "u", "t", "a", ["b", "c"], covariates=["const", "y"],
                         pre_periods=(1, 4))
    with pytest.raises(SpecificationError, match="'const'") as exc:
        p.scaled()
    assert "'y'" not in str(exc.value)


def test_callers_frame_unchanged(smoking, reference):
    ref = reference("prop99_synth.json")
    before = smoking.copy(deep=True)
    _prop99(smoking, ref).scaled()
    pd.testing.assert_frame_equal(smoking, before)
    toy = _toy()
    toy_before = toy.copy(deep=True)
    build_predictors(toy, "u", "t", "a", ["b", "c"], covariates={"x": [1, 3]})
    pd.testing.assert_frame_equal(toy, toy_before)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(covariates=["x"]), "predictor_window or pre_periods"),
    (dict(outcome_lags=[1]), "needs outcome"),
    (dict(special=[("x", (1, 3), "mean")]), "not the tuple"),
    (dict(special=[("x", [1, 3], "median")]), "only the 'mean'"),
    (dict(special=[("x", [1, 3])]), "triple"),
    (dict(covariates={"x": (3, 1)}), "after end"),
    (dict(covariates={"x": (1, 2, 3)}), "pair"),
    (dict(special=[("x", [1, 2, 3], "mean"), ("x", [1, 3], "mean")]), "duplicate"),
    (dict(), "no predictors"),
])
def test_bad_specifications(kwargs, pattern):
    with pytest.raises(SpecificationError, match=pattern):
        build_predictors(_toy(), "u", "t", "a", ["b", "c"], **kwargs)


@pytest.mark.parametrize("treated, donors, pattern", [
    ("z", ["b"], "treated unit.*'z'"),
    ("a", ["b", "zz"], "donor unit.*'zz'"),
    ("a", ["a", "b"], "both treated and donor"),
    ("a", [], "no donor"),
])
def test_bad_units(treated, donors, pattern):
    with pytest.raises(SpecificationError, match=pattern):
        build_predictors(_toy(), "u", "t", treated, donors, covariates={"x": [3, 4]})


def test_duplicate_rows_is_data_error():
    df = pd.concat([_toy(), _toy().iloc[[0]]])
    with pytest.raises(DataError, match="duplicate rows for unit 'a' at period 1"):
        build_predictors(df, "u", "t", "a", ["b"], covariates={"x": [3, 4]})
