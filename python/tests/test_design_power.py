"""Inference and minimum detectable effects of a synthetic experimental design
(``synthcontrol.design.power``).

Every expected number here is recomputed independently in the test: the permutation p-value by an
explicit loop over ``np.roll`` shifts, the interval ends by a grid scan of that brute-force p-value
refined by bisection, the long-run variance by explicit autocovariance loops, the normal quantiles
as printed constants (z_0.975 = 1.959963984540054, z_0.8 = 0.8416212335729143).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthcontrol.design import power as P
from synthcontrol.errors import DataError, SpecificationError, SynthWarning

Z975 = 1.959963984540054
Z80 = 0.8416212335729143


# ------------------------------------------------------------------------------------------------
# independent reference implementations
# ------------------------------------------------------------------------------------------------

def brute_p(g, T0, tau0=0.0):
    """p(tau0) by a plain loop over the T cyclic shifts (np.roll), tol from the observed series."""
    g = np.asarray(g, dtype=float)
    tol = 1e-10 * np.max(np.abs(g))
    gt = g.copy()
    gt[T0:] -= tau0
    obs = abs(gt[T0:].mean())
    T = len(g)
    hits = 0
    for s in range(T):
        shifted = np.roll(gt, -s)  # shifted[t] = gt[(t + s) % T]
        if abs(shifted[T0:].mean()) >= obs - tol:
            hits += 1
    return hits / T


def bisect_edge(g, T0, alpha, inside, outside, iters=200):
    """The transition of ``p(tau0) > alpha`` between an accepted and a rejected point."""
    for _ in range(iters):
        mid = 0.5 * (inside + outside)
        if mid in (inside, outside):
            break
        if brute_p(g, T0, mid) > alpha:
            inside = mid
        else:
            outside = mid
    return inside, outside


def nw_reference(x):
    """Newey-West variance by explicit loops (1-based formula of the docstring)."""
    x = [float(v) for v in x]
    T0 = len(x)
    gbar = sum(x) / T0
    L = math.floor(4 * (T0 / 100) ** (2 / 9))

    def gamma(k):
        return sum((x[t] - gbar) * (x[t - k] - gbar) for t in range(k, T0)) / T0

    return gamma(0) + 2 * sum((1 - k / (L + 1)) * gamma(k) for k in range(1, L + 1)), L


def ar1_series(rng, n, rho, burn=200):
    e = rng.normal(size=n + burn)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, n + burn):
        x[t] = rho * x[t - 1] + e[t]
    return x[burn:]


# ------------------------------------------------------------------------------------------------
# contrast series
# ------------------------------------------------------------------------------------------------

def test_contrast_series_is_Y_times_c():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(15, 6))
    c = np.array([0.5, 0.5, -0.2, -0.3, -0.5, 0.0])
    g = P.contrast_series(Y, c)
    expected = np.array([sum(Y[t, j] * c[j] for j in range(6)) for t in range(15)])
    np.testing.assert_allclose(g, expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(P.contrast_series(pd.DataFrame(Y), c), expected, atol=1e-14)
    with pytest.raises(SpecificationError, match="one entry per unit"):
        P.contrast_series(Y, c[:5])
    Y[3, 2] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        P.contrast_series(Y, c)


# ------------------------------------------------------------------------------------------------
# block permutation test
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_p_value_matches_brute_force_loop(seed):
    rng = np.random.default_rng(seed)
    T0 = int(rng.integers(1, 30))
    L = int(rng.integers(1, 15))
    if seed % 3 == 0:   # integer values: many exact ties, which count against rejection
        g = rng.integers(-2, 3, size=T0 + L).astype(float)
    else:
        g = rng.standard_t(3, size=T0 + L) + (seed % 3 == 1) * np.r_[np.zeros(T0), np.full(L, 1.5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthWarning)  # short series: alpha < 1/T warns
        res = P.block_permutation_test(g, T0, alpha=0.1)
    assert res["p_value"] == brute_p(g, T0)
    assert res["n_shifts"] == T0 + L
    assert res["estimate"] == pytest.approx(g[T0:].mean(), abs=1e-14)
    # the reference distribution: every shifted block mean, the observed one first
    T = T0 + L
    expected = np.array([np.roll(g, -s)[T0:].mean() for s in range(T)])
    np.testing.assert_allclose(res["null_block_means"], expected, rtol=0, atol=1e-13)
    assert res["min_p_value"] == 1 / T
    # the p-value at a hypothesised effect is the same brute-force function
    tau0 = float(rng.normal())
    assert P.block_permutation_pvalue(g, T0, tau0) == brute_p(g, T0, tau0)


def test_p_value_counts_exact_ties_and_constant_series():
    g = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])  # every block mean of length 1 has |m| = 1
    assert P.block_permutation_test(g, 5, alpha=0.5)["p_value"] == 1.0
    res = P.block_permutation_test(np.zeros(8), 6, alpha=0.3)
    assert res["p_value"] == 1.0
    assert res["ci_lower"] == 0.0 and res["ci_upper"] == 0.0
    # a large shift in the post-period: the observed block is the unique extreme one
    g = np.r_[np.zeros(19), 10.0]
    assert P.block_permutation_test(g, 19, alpha=0.1)["p_value"] == 1 / 20


@pytest.mark.parametrize("seed,T0,L,alpha", [(1, 24, 6, 0.1), (2, 15, 1, 0.1), (3, 10, 10, 0.2),
                                              (4, 40, 3, 0.05), (5, 7, 12, 0.25), (6, 30, 5, 0.1)])
def test_ci_ends_match_grid_scan_of_brute_force_p(seed, T0, L, alpha):
    rng = np.random.default_rng(seed)
    g = ar1_series(rng, T0 + L, 0.4)
    g[T0:] += rng.normal() * 2
    res = P.block_permutation_test(g, T0, alpha=alpha)
    lo, hi = res["ci_lower"], res["ci_upper"]
    assert np.isfinite(lo) and np.isfinite(hi)
    assert not res["ci_flags"]["non_interval"] and not res["ci_flags"]["unbounded"]
    # grid wide enough to contain every breakpoint: |ends| <= (|m0| + |ms|)/(1 - a) <= 2 L max|g|
    R = 2 * L * np.max(np.abs(g)) + 1
    grid = np.linspace(res["estimate"] - R, res["estimate"] + R, 4001)
    acc = np.array([brute_p(g, T0, t) > alpha for t in grid])
    assert acc.any()
    idx = np.flatnonzero(acc)
    # the accepted grid points form one run and coincide with [lo, hi] away from the ends
    assert idx[-1] - idx[0] + 1 == idx.size
    far = (np.abs(grid - lo) > 1e-9) & (np.abs(grid - hi) > 1e-9)
    np.testing.assert_array_equal(acc[far], ((grid >= lo) & (grid <= hi))[far])
    # refine the two transitions of the grid by bisection on the brute-force p-value
    i0, i1 = idx[0], idx[-1]
    assert 0 < i0 and i1 < grid.size - 1
    left_in, left_out = bisect_edge(g, T0, alpha, grid[i0], grid[i0 - 1])
    right_in, right_out = bisect_edge(g, T0, alpha, grid[i1], grid[i1 + 1])
    assert abs(lo - left_in) < 1e-9 and abs(lo - left_out) < 1e-9
    assert abs(hi - right_in) < 1e-9 and abs(hi - right_out) < 1e-9
    # a step inside the ends is accepted, a step outside is not (at the ends themselves the
    # comparison is an equality that rounding decides either way)
    step = 1e-7 * max(1.0, abs(lo), abs(hi))
    assert brute_p(g, T0, lo + step) > alpha and brute_p(g, T0, hi - step) > alpha
    assert brute_p(g, T0, lo - step) <= alpha and brute_p(g, T0, hi + step) <= alpha


def test_estimate_inside_its_interval_on_200_random_series():
    rng = np.random.default_rng(2024)
    for i in range(200):
        T0 = int(rng.integers(1, 40))
        L = int(rng.integers(1, 20))
        kind = i % 4
        if kind == 0:
            g = rng.normal(size=T0 + L)
        elif kind == 1:
            g = ar1_series(rng, T0 + L, float(rng.uniform(-0.9, 0.9)))
        elif kind == 2:
            g = rng.standard_cauchy(size=T0 + L) * 10 ** rng.uniform(-3, 3)
        else:
            g = np.linspace(0, rng.normal() * 5, T0 + L) + rng.normal(size=T0 + L) * 0.1
        g[T0:] += rng.normal() * 3
        alpha = float(rng.choice([0.05, 0.1, 0.2, 0.5]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SynthWarning)
            res = P.block_permutation_test(g, T0, alpha=alpha)
        assert res["ci_lower"] <= res["estimate"] <= res["ci_upper"], (i, res["estimate"],
                                                                       res["ci_lower"], res["ci_upper"])
        assert P.block_permutation_pvalue(g, T0, res["estimate"]) == 1.0
        assert not res["ci_flags"]["non_interval"]
        assert res["ci_flags"]["unbounded"] == (1 / (T0 + L) > alpha)
        if not res["ci_flags"]["unbounded"]:   # no note: the rounding guard never had to widen
            assert res["ci_flags"]["notes"] == []


def test_rejection_impossible_gives_unbounded_interval_with_warning():
    rng = np.random.default_rng(7)
    g = rng.normal(size=12)
    with pytest.warns(SynthWarning, match="smallest attainable p-value"):
        res = P.block_permutation_test(g, 9, alpha=0.05)   # 1/T = 1/12 > 0.05
    assert res["ci_lower"] == -math.inf and res["ci_upper"] == math.inf
    assert res["ci_flags"]["unbounded"] and res["ci_flags"]["rejection_impossible"]
    assert not res["rejection_possible"] and res["min_p_value"] == 1 / 12
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthWarning)
        res = P.block_permutation_test(g, 9, alpha=1 / 12)  # p = 1/12 attainable: rejection possible
    assert res["rejection_possible"] and np.isfinite(res["ci_lower"])


# ------------------------------------------------------------------------------------------------
# long-run variance
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T0", [3, 5, 17, 100, 250])
def test_long_run_variance_matches_loop_formula(T0):
    rng = np.random.default_rng(T0)
    x = ar1_series(rng, T0, 0.5)
    s2, L = nw_reference(x)
    sigma, bw, sp = P.long_run_variance(x)
    assert bw == L
    assert sigma == pytest.approx(math.sqrt(max(s2, 0)), rel=1e-12)
    assert sp == pytest.approx(np.std(x, ddof=1), rel=1e-14)
    assert P.newey_west_bandwidth(100) == 4 and P.newey_west_bandwidth(2000) == 7


def test_white_noise_long_run_sigma_close_to_sigma_perm():
    # T0 = 2000, bandwidth 7: sd(sigma_LR / sigma) ~ sqrt(2 (1 + 2 sum w_k^2) / T0) / 2 ~ 0.037
    rng = np.random.default_rng(11)
    sigma, bw, sp = P.long_run_variance(rng.normal(size=2000))
    assert bw == 7
    assert abs(sigma / sp - 1) < 0.12
    # ...and the check has teeth: a persistent series is clearly inflated
    sigma_ar, _, sp_ar = P.long_run_variance(ar1_series(rng, 2000, 0.6))
    assert sigma_ar / sp_ar > 1.3


def test_bartlett_weights_never_give_a_negative_variance():
    rng = np.random.default_rng(5)
    n = 60
    t = np.arange(n)
    adversarial = [
        (-1.0) ** t,                                  # lag-1 autocorrelation ~ -1
        np.where(t % 4 < 2, 1.0, -1.0),               # period 4
        np.where(t % 3 == 0, 2.0, -1.0),              # period 3
        np.cos(np.pi * t * 0.9),                      # near-Nyquist sinusoid
        (-1.0) ** t * (1 + 0.01 * rng.normal(size=n)),
        np.r_[np.ones(n // 2), -np.ones(n // 2)],     # a level shift
    ]
    for x in adversarial:
        gamma0 = np.var(x)
        for L in range(1, n):
            assert P._newey_west_variance(x, L) >= -1e-12 * gamma0, L
    # without the Bartlett weights (truncated, uniform kernel) the same series goes negative
    x = adversarial[0]
    d = x - x.mean()
    g1 = d[1:] @ d[:-1] / n
    assert np.var(x) + 2 * g1 < 0
    # the public function returns a real number on them
    for x in adversarial:
        s, _, _ = P.long_run_variance(x)
        assert np.isfinite(s) and s >= 0


# ------------------------------------------------------------------------------------------------
# MDE and power
# ------------------------------------------------------------------------------------------------

def test_mde_curve_against_hand_computation():
    rng = np.random.default_rng(3)
    x = ar1_series(rng, 30, 0.3)
    s2, L = nw_reference(x)
    sig = math.sqrt(s2)
    with pytest.warns(SynthWarning, match="hac_reliable"):
        df = P.mde_curve(x, baseline=-8.0)
    assert list(df["horizon"]) == list(range(1, 13))
    for _, row in df.iterrows():
        h = row["horizon"]
        mde = (Z975 + Z80) * sig / math.sqrt(h)
        assert row["se"] == pytest.approx(sig / math.sqrt(h), rel=1e-12)
        assert row["mde_absolute"] == pytest.approx(mde, rel=1e-12)
        assert row["mde_percent"] == pytest.approx(100 * mde / 8.0, rel=1e-12)
        assert row["bandwidth"] == L
        assert row["sigma_perm"] == pytest.approx(np.std(x, ddof=1), rel=1e-14)
        # the fallback rule: the same formula, flagged when T0 < 4h
        assert row["hac_reliable"] == (30 >= 4 * h)
        assert (row["note"] == "") == row["hac_reliable"]
        assert row["min_p_value"] == pytest.approx(1 / (30 + h))
        assert row["permutation_can_reject"] == (1 / (30 + h) <= 0.05)
    for col in ["horizon", "se", "mde_absolute", "mde_percent", "long_run_sigma", "sigma_perm",
                "bandwidth", "hac_reliable"]:
        assert col in df.columns
    # no baseline: percent is NaN, and no warning when every horizon is reliable
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthWarning)
        df2 = P.mde_curve(x, horizons=[1, 5, 7], alpha=0.1, power=0.9)
    assert df2["mde_percent"].isna().all() and df2["hac_reliable"].all()
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.9)
    np.testing.assert_allclose(df2["mde_absolute"], z * sig / np.sqrt([1, 5, 7]), rtol=1e-12)


def test_hac_reliable_boundary_is_T0_equal_4h():
    rng = np.random.default_rng(4)
    df = P.mde_curve(rng.normal(size=28), horizons=[7])
    assert bool(df["hac_reliable"].iloc[0])
    with pytest.warns(SynthWarning, match=r"h = \[7\]"):
        df = P.mde_curve(rng.normal(size=27), horizons=[6, 7])
    assert list(df["hac_reliable"]) == [True, False]


@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.1, 0.9), (0.2, 0.5), (0.01, 0.95)])
def test_power_at_mde_is_target_plus_the_neglected_tail(alpha, power):
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    sig, _, _ = P.long_run_variance(x)
    df = P.mde_curve(x, horizons=range(1, 21), alpha=alpha, power=power)
    za = stats.norm.ppf(1 - alpha / 2)
    for h, mde in zip(df["horizon"], df["mde_absolute"]):
        se = sig / math.sqrt(h)
        got = P.power_at(mde, int(h), sig, alpha)
        # the MDE formula inverts the near tail exactly; the far tail is what it neglects
        far_tail = stats.norm.cdf(-mde / se - za)
        assert got - far_tail == pytest.approx(power, abs=1e-12)
        assert stats.norm.cdf(mde / se - za) == pytest.approx(power, abs=1e-12)
        assert 0 < got - power < 6e-3
    if (alpha, power) == (0.05, 0.8):
        assert abs(P.power_at(df["mde_absolute"].iloc[0], 1, sig, alpha) - power) < 1e-6


def test_power_at_edges():
    assert P.power_at(0.0, 4, 1.0, 0.05) == pytest.approx(0.05, abs=1e-15)
    assert P.power_at(-2.0, 4, 1.0, 0.05) == P.power_at(2.0, 4, 1.0, 0.05)
    assert P.power_at(1.0, 4, 0.0, 0.05) == 1.0 and P.power_at(0.0, 4, 0.0, 0.05) == 0.05
    arr = P.power_at(np.array([0.0, 0.5, 3.0]), 2, 1.0, 0.1)
    assert arr.shape == (3,) and np.all(np.diff(arr) > 0)


# ------------------------------------------------------------------------------------------------
# AR(1) surface
# ------------------------------------------------------------------------------------------------

def test_vif_at_zero_rho_is_one_over_T_exactly():
    for T in [1, 2, 3, 7, 12, 100, 1000]:
        assert P.ar1_vif(T, 0.0) == 1 / T


@pytest.mark.parametrize("T,rho", [(1, 0.5), (6, 0.7), (12, -0.4), (30, 0.95)])
def test_vif_is_variance_of_the_mean_of_an_ar1(T, rho):
    idx = np.arange(T)
    corr = rho ** np.abs(idx[:, None] - idx[None, :])
    assert P.ar1_vif(T, rho) == pytest.approx(corr.sum() / T ** 2, rel=1e-12)


def test_ar1_mde_is_a_separately_named_quantity():
    rng = np.random.default_rng(9)
    x = ar1_series(rng, 50, 0.5)
    res = P.ar1_mde(x, 6)
    assert "mde" not in res and "mde_ar1" in res
    d = x - x.mean()
    rho = (d[1:] @ d[:-1]) / (d @ d)
    sigma = np.std(x, ddof=1)
    k = np.arange(1, 6)
    vif = (1 + 2 * np.sum((1 - k / 6) * rho ** k)) / 6
    assert res["rho"] == pytest.approx(rho, rel=1e-12)
    assert res["sigma"] == pytest.approx(sigma, rel=1e-12)
    assert res["vif"] == pytest.approx(vif, rel=1e-12)
    assert res["mde_ar1"] == pytest.approx((Z975 + Z80) * sigma * math.sqrt(vif), rel=1e-12)
    # the clip at 0.99
    trend = np.arange(40.0)
    res = P.ar1_mde(np.r_[trend, trend[::-1]] ** 3, 4)
    assert res["rho"] <= 0.99
    alt = (-1.0) ** np.arange(400)             # sample rho = -(n-1)/n = -0.9975
    res = P.ar1_mde(alt, 4)
    assert res["rho"] == -0.99 and res["rho_clipped"]
    # white noise: the AR(1) number and the Newey-West MDE answer the same question similarly
    w = rng.normal(size=3000)
    nw = P.mde_curve(w, horizons=[6])["mde_absolute"].iloc[0]
    assert P.ar1_mde(w, 6)["mde_ar1"] == pytest.approx(nw, rel=0.15)


# ------------------------------------------------------------------------------------------------
# baseline and balance
# ------------------------------------------------------------------------------------------------

def test_baseline_value_kinds_and_unusable_baselines():
    Y = np.array([[1.0, 2.0, 10.0], [3.0, 4.0, 20.0]])
    mask = np.array([True, True, False])
    assert P.baseline_value(Y, mask) == 2.5
    assert P.baseline_value(Y, mask, "control") == 15.0
    assert P.baseline_value(Y, mask, "overall") == pytest.approx(40 / 6)
    assert P.baseline_value(Y, mask, 7) == 7.0
    with pytest.raises(SpecificationError, match="kind"):
        P.baseline_value(Y, mask, "median")
    with pytest.raises(SpecificationError, match="no control units"):
        P.baseline_value(Y, np.ones(3, bool), "control")
    x = np.random.default_rng(1).normal(size=40)
    for bad in (0.0, float("nan"), float("inf")):
        with pytest.warns(SynthWarning, match="zero or not finite"):
            df = P.mde_curve(x, horizons=[1, 2], baseline=bad)
        assert df["mde_percent"].isna().all() and df["mde_absolute"].notna().all()
    b = P.baseline_value(np.zeros((3, 3)), mask)
    with pytest.warns(SynthWarning, match="zero or not finite"):
        P.mde_curve(x, horizons=[1], baseline=b)


def test_standardized_mean_differences():
    X = np.array([[1.0, 5.0, 3.0], [2.0, 5.0, 1.0], [4.0, 5.0, 0.0], [7.0, 5.0, 2.0]])
    q = np.array([1.0, 1.0, 0.0, 0.0])          # not normalised: divided by its sum
    w = np.array([0.0, 0.0, 0.25, 0.75])
    smd = P.standardized_mean_differences(X, q, w)
    for j in (0, 2):
        mt = X[:2, j].mean()
        mc = 0.25 * X[2, j] + 0.75 * X[3, j]
        assert smd[j] == pytest.approx((mt - mc) / np.std(X[:, j], ddof=1), rel=1e-14)
    assert np.isnan(smd[1])                      # constant covariate: zero SD
    s = P.standardized_mean_differences(pd.DataFrame(X, columns=["a", "b", "c"]), q, w)
    assert list(s.index) == ["a", "b", "c"] and s["a"] == pytest.approx(smd[0])
    with pytest.raises(SpecificationError, match="non-negative"):
        P.standardized_mean_differences(X, -q, w)
    with pytest.raises(SpecificationError, match="one entry per unit"):
        P.standardized_mean_differences(X, q[:3], w)


# ------------------------------------------------------------------------------------------------
# invalid inputs
# ------------------------------------------------------------------------------------------------

BAD_ALPHAS = [0, 0.0, 1, 1.0, -0.1, 1.5, float("nan"), True]


@pytest.mark.parametrize("alpha", BAD_ALPHAS)
def test_alpha_outside_unit_interval_raises(alpha):
    g = np.random.default_rng(0).normal(size=30)
    calls = [
        lambda: P.block_permutation_test(g, 20, alpha=alpha),
        lambda: P.mde_curve(g, alpha=alpha),
        lambda: P.power_at(1.0, 3, 1.0, alpha),
        lambda: P.ar1_mde(g, 5, alpha=alpha),
        lambda: P.mde_curve(g, power=alpha),
        lambda: P.ar1_mde(g, 5, power=alpha),
    ]
    for call in calls:
        with pytest.raises(SpecificationError, match=r"(alpha|power) must be in \(0, 1\)"):
            call()


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_short_pre_period_raises(n):
    x = np.ones(n)
    for call in (lambda: P.long_run_variance(x), lambda: P.mde_curve(x), lambda: P.ar1_mde(x, 3)):
        with pytest.raises(SpecificationError, match="T0 >= 3"):
            call()


@pytest.mark.parametrize("horizons", [[0], [1, 2, -1], [], [1.5], 0, "12"])
def test_bad_horizons_raise(horizons):
    x = np.random.default_rng(0).normal(size=30)
    with pytest.raises(SpecificationError, match="horizon"):
        P.mde_curve(x, horizons=horizons)


def test_other_invalid_inputs_raise():
    g = np.random.default_rng(0).normal(size=10)
    with pytest.raises(SpecificationError, match="h must be"):
        P.power_at(1.0, 0, 1.0, 0.05)
    with pytest.raises(SpecificationError, match="T_post must be"):
        P.ar1_mde(g, 0)
    with pytest.raises(SpecificationError, match="sigma_LR"):
        P.power_at(1.0, 2, -1.0, 0.05)
    for T0 in (0, 10, 2.0):
        with pytest.raises(SpecificationError, match="T0 must be"):
            P.block_permutation_test(g, T0)
    with pytest.raises(SpecificationError, match="rho"):
        P.ar1_vif(5, 1.0)
    g[3] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        P.block_permutation_test(g, 5)
    with pytest.raises(DataError, match="non-finite"):
        P.long_run_variance(g)
