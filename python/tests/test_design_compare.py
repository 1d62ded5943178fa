"""The shared fit-versus-power harness, the GeoLift-style selection and sc.compare_methods."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
from synthcontrol.design.compare import geolift_like_selection, score_contrast
from synthcontrol.design.menu import pareto_front


def _panel(seed=0, N=9, T=40, n_post=6):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, 2)).cumsum(axis=0)
    Y = 50 + rng.uniform(-3, 3, N) + F @ rng.uniform(0.3, 1.0, (N, 2)).T + 0.5 * rng.normal(size=(T, N))
    df = pd.DataFrame([{"unit": f"m{j}", "time": t, "y": float(Y[t, j]), "post": int(t >= T - n_post)}
                       for j in range(N) for t in range(T)])
    return Y, T - n_post, df


def test_score_contrast_against_a_direct_count():
    Y, T0, _ = _panel(1)
    Yp = Y[:T0]
    c = np.zeros(Yp.shape[1])
    c[[0, 1]] = 0.5
    c[[4, 5, 6]] = -1 / 3
    h = 5
    out = score_contrast(Yp, c, [0, 1], h, effects=(0.001, 0.01, 0.05), alpha=0.1, power=0.8)
    g = Yp @ c
    m = np.array([np.mean([g[(s + j) % T0] for j in range(h)]) for s in range(T0)])
    crit = np.sort(np.abs(m))[int(np.ceil(0.9 * (T0 - 1)))]
    b = Yp[:, [0, 1]].mean()
    powers = [np.mean(np.abs(m + e * b) > crit) for e in (0.001, 0.01, 0.05)]
    assert out["critical"] == pytest.approx(crit)
    np.testing.assert_allclose(out["power_curve"].power, powers)
    first = next((e for e, p in zip((0.001, 0.01, 0.05), powers) if p >= 0.8), math.nan)
    assert (math.isnan(out["mde_pct"]) and math.isnan(first)) or out["mde_pct"] == pytest.approx(100 * first)
    assert out["fit_rmse"] == pytest.approx(np.sqrt(np.mean(g ** 2)))
    # an effect on the treated units moves the contrast by exactly tau (treated weights sum to one)
    Y2 = Yp.copy()
    Y2[-h:, [0, 1]] += 2.5
    assert (Y2 @ c)[-h:].mean() - g[-h:].mean() == pytest.approx(2.5)
    # no effect on the grid detected: NaN, not a number
    assert math.isnan(score_contrast(Yp, c, [0, 1], h, effects=(1e-9,))["mde_pct"])
    with pytest.raises(sc.SpecificationError, match="horizon"):
        score_contrast(Yp, c, [0, 1], T0)


def test_geolift_like_candidates():
    Y, T0, _ = _panel(2)
    Yp = Y[:T0]
    rows = geolift_like_selection(Yp, 3, 5, lookback=4)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert len({r["treated"] for r in rows}) == len(rows)
    corr = np.corrcoef(Yp.T)
    for r in rows:
        S = r["treated"]
        assert len(S) == 3
        c = r["contrast"]
        np.testing.assert_allclose(c[list(S)], 1 / 3)
        assert c[c < 0].sum() == pytest.approx(-1.0) and (c[[j for j in range(9) if j not in S]] <= 1e-12).all()
        # each candidate is a market with its two most correlated markets
        assert any(set(S) == {i, *[j for j in np.argsort(-corr[i]) if j != i][:2]} for i in S)
    scores = [r["rank_score"] for r in rows]
    assert scores == sorted(scores)


def test_compare_methods_one_plane():
    _, _, df = _panel(3)
    cmp = sc.compare_methods(df, unit="unit", time="time", outcome="y", treated_size=2, horizon=5, post_col="post",
                             top_K=4, geolift_options={"lookback": 4})
    t = cmp.table
    assert set(t.method) == {"SYNDES", "GeoLift-style"}
    syn = t[t.method == "SYNDES"]
    assert list(syn.markets) == [", ".join(e["markets"]) for e in cmp.syndes.pool]
    Y_pre = np.asarray(cmp.syndes.outcome_pre)
    units = list(cmp.syndes.units)
    for _, r in t.iterrows():  # every row was scored by the one harness
        S = [units.index(u) for u in r.markets.split(", ")]
        s = score_contrast(Y_pre, r.contrast, S, 5)
        assert s["fit_rmse"] == pytest.approx(r.fit_rmse)
        assert (math.isnan(s["mde_pct"]) and math.isnan(r.mde_pct)) or s["mde_pct"] == pytest.approx(r.mde_pct)
    for m, sub in t.groupby("method"):
        front = set(pareto_front(sub.fit_rmse.to_numpy(), sub.mde_pct.to_numpy()))
        assert [i in front for i in range(len(sub))] == list(sub.pareto)
    json.dumps(cmp.to_dict())
    import matplotlib
    matplotlib.use("Agg")
    assert cmp.plot().axes[0].get_xlabel().startswith("pre-period RMSE")
