"""Inference and minimum detectable effects for a synthetic experimental design.

Everything here is a function of one scalar series.  A fitted design (treated weights ``q``,
control weights ``w``) reduces to a contrast vector ``c`` over the ``N`` units (for example
``c = q - w``); with ``y_t`` the ``N`` outcomes at period ``t`` the per-period effect estimate is

    g_t = y_t' c,            t = 1, ..., T,

and the ATT estimate is the mean of ``g`` over the ``L = T - T0`` post-treatment periods.  Under the
sharp null of no effect the design balances the two sides over the pre-period, so the pre-period
values ``g_1, ..., g_T0`` are a direct sample of the estimator's noise.

Contents
--------
* :func:`contrast_series` -- ``g = Y c``.
* :func:`block_permutation_test` -- the moving-block (cyclic-shift) permutation test of Chernozhukov,
  Wuthrich & Zhu with an exact test-inversion confidence interval (:func:`block_permutation_pvalue`
  gives ``p(tau0)`` at any hypothesised constant effect).
* :func:`long_run_variance` -- the Newey-West (Bartlett) long-run SD of the pre-period contrast.
* :func:`mde_curve` / :func:`power_at` -- the minimum detectable effect per post-period horizon and
  the power at a given effect, both from ``SE(h) = sigma_LR / sqrt(h)``.  This is *the* MDE of a
  design.
* :func:`ar1_mde` / :func:`ar1_vif` -- a second, differently named quantity (``mde_ar1``): the MDE
  implied by an AR(1) model of the contrast.  It answers the same question under a parametric model
  and is reported under its own name, never as an alternative value of the MDE.
* :func:`baseline_value` -- the denominator of an MDE in percent.
* :func:`standardized_mean_differences` -- covariate balance of a design.

Normal quantiles are written ``z_p = Phi^{-1}(p)``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .._validate import check_alpha, check_choice, check_count
from ..errors import DataError, SpecificationError, SynthWarning

__all__ = [
    "contrast_series",
    "block_permutation_test",
    "block_permutation_pvalue",
    "long_run_variance",
    "newey_west_bandwidth",
    "mde_curve",
    "power_at",
    "ar1_vif",
    "ar1_mde",
    "baseline_value",
    "standardized_mean_differences",
]

#: Relative tolerance of the permutation comparison ``|m_s| >= |m_0| - tol`` (times ``max|g|``).
TIE_RTOL = 1e-10
#: Bounds of the AR(1) coefficient in :func:`ar1_mde`.
RHO_CLIP = 0.99
#: A horizon ``h`` is called HAC-reliable when the pre-period holds at least this many
#: non-overlapping blocks of length ``h`` (``T0 >= HAC_BLOCKS * h``).
HAC_BLOCKS = 4


# --------------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------------

def _series(name, x, *, min_len=1):
    """A finite one-dimensional float array of length >= ``min_len``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpecificationError(f"{name} must be a one-dimensional array of numbers: {exc}") from None
    if arr.ndim != 1:
        raise SpecificationError(f"{name} must be one-dimensional, got an array of shape {arr.shape}")
    if arr.size < min_len:
        raise SpecificationError(f"{name} must have at least {min_len} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise DataError(f"{name} has {bad.size} non-finite value(s) (first at position {int(bad[0])})")
    return arr


def _pre_series(g_pre):
    """The pre-period contrast: finite, at least 3 periods (a lag-1 autocovariance needs 2 pairs)."""
    arr = _series("g_pre", g_pre, min_len=0)
    if arr.size < 3:
        raise SpecificationError(
            f"the pre-period contrast g_pre must have T0 >= 3 periods to estimate its variance and "
            f"serial correlation, got T0 = {arr.size}")
    return arr


def _z(alpha, power):
    """``z_{1-alpha/2}`` and ``z_power``."""
    return float(stats.norm.ppf(1.0 - alpha / 2.0)), float(stats.norm.ppf(power))


# --------------------------------------------------------------------------------------------------
# 1. the contrast series
# --------------------------------------------------------------------------------------------------

def contrast_series(Y, c):
    """The per-period effect estimates of a design: ``g = Y c``.

    ``Y`` is the ``T x N`` outcome matrix (periods in rows, units in columns; a DataFrame is taken
    as its values) and ``c`` the length-``N`` contrast vector.  Returns ``g`` of length ``T`` with

        g_t = sum_j Y[t, j] c_j.

    Non-finite outcomes or contrast entries raise :class:`~synthcontrol.DataError` (a missing
    outcome would otherwise turn the whole period into NaN silently).
    """
    Yv = np.asarray(Y.to_numpy() if isinstance(Y, pd.DataFrame) else Y, dtype=float)
    cv = np.asarray(c, dtype=float)
    if Yv.ndim != 2:
        raise SpecificationError(f"Y must be a T x N matrix, got an array of shape {Yv.shape}")
    if cv.ndim != 1 or cv.size != Yv.shape[1]:
        raise SpecificationError(
            f"c must be a vector with one entry per unit (N = {Yv.shape[1]} columns of Y), got shape "
            f"{cv.shape}")
    if not np.all(np.isfinite(Yv)):
        raise DataError(f"Y has {int(np.sum(~np.isfinite(Yv)))} non-finite value(s)")
    if not np.all(np.isfinite(cv)):
        raise DataError(f"c has {int(np.sum(~np.isfinite(cv)))} non-finite value(s)")
    return Yv @ cv


# --------------------------------------------------------------------------------------------------
# 2. the moving-block permutation test and its confidence interval
# --------------------------------------------------------------------------------------------------

def _block_means(g, T0):
    """Block means ``m_s`` and post-period counts ``k_s`` of the ``T`` cyclic shifts.

    Shift ``s`` (``s = 0, ..., T-1``) moves the series to ``g^(s)_t = g_{(t+s) mod T}``; its block is
    the last ``L`` entries, i.e. the original positions ``(T0 + s + j) mod T``, ``j = 0..L-1``.
    ``m_s`` is their mean and ``k_s`` the number of them that are post-period positions (``>= T0``).
    Summed term by term (``L`` vectorised passes), the same order a direct loop would use.
    """
    T = g.size
    L = T - T0
    s = np.arange(T)
    acc = np.zeros(T)
    k = np.zeros(T, dtype=np.int64)
    for j in range(L):
        pos = (T0 + s + j) % T
        acc += g[pos]
        k += pos >= T0
    return acc / L, k


def _check_test_inputs(g, T0, alpha):
    g = _series("g", g, min_len=2)
    T = g.size
    T0 = check_count("T0", T0, 1, maximum=T - 1)
    if alpha is not None:
        alpha = check_alpha("alpha", alpha)
    return g, T0, alpha


def block_permutation_pvalue(g, T0, tau0=0.0):
    """The moving-block permutation p-value of ``H0: tau = tau0`` (a constant post-period effect).

    With ``T = len(g)``, ``L = T - T0`` and the post-period entries shifted to
    ``g_t(tau0) = g_t - tau0`` (``t > T0``; pre entries unchanged), the observed statistic is
    ``|m_0(tau0)|``, ``m_0`` the post-period mean, and the reference distribution is the block mean
    ``m_s(tau0)`` of every cyclic shift ``s = 0, ..., T-1`` (see :func:`block_permutation_test`):

        p(tau0) = #{ s : |m_s(tau0)| >= |m_0(tau0)| - tol } / T,   tol = 1e-10 * max_t |g_t|,

    ``g`` the *observed* series (one tolerance for every ``tau0``, so that ``p`` is one well-defined
    function of ``tau0``).  Ties count against rejection; ``p >= 1/T`` always (``s = 0`` counts).
    """
    g, T0, _ = _check_test_inputs(g, T0, None)
    tau0 = float(tau0)
    if not math.isfinite(tau0):
        raise SpecificationError(f"tau0 must be a finite number, got {tau0!r}")
    tol = TIE_RTOL * float(np.max(np.abs(g)))
    gt = g.copy()
    gt[T0:] -= tau0
    m, _ = _block_means(gt, T0)
    return float(np.sum(np.abs(m) >= abs(m[0]) - tol)) / g.size


def _acceptance_set(m, k, L, alpha, tol):
    """The exact set ``{tau0 : p(tau0) > alpha}`` as a list of closed intervals.

    For a shift ``s != 0`` with ``a = k_s / L`` (``0 <= a < 1``; only ``s = 0`` has ``k_s = L``) the
    block mean under ``tau0`` is ``m_s - a tau0`` and the observed one ``m_0 - tau0``.  Shift ``s``
    counts iff ``|m_s - a tau0| >= |m_0 - tau0| - tol``.  The difference
    ``|m_0 - tau0| - |m_s - a tau0|`` has slope ``sign(tau0 - m_0) -+ a``, so it falls up to
    ``tau0 = m_0`` and rises after it; the set where shift ``s`` counts is therefore the closed
    interval ``[lo_s, hi_s]`` with ends where the two sides are equal (each side is linear on
    each arm of the absolute value):

        lo_s = min( (m_0 - m_s - tol) / (1 - a),  (m_0 + m_s - tol) / (1 + a) ),
        hi_s = max( (m_0 - m_s + tol) / (1 - a),  (m_0 + m_s + tol) / (1 + a) ).

    Then ``T p(tau0) = 1 + #{s != 0 : lo_s <= tau0 <= hi_s}``.  The function is evaluated at every
    distinct end and in every gap between consecutive ends (it is constant there), which gives the
    accepted set exactly, without assuming its shape.  (Every ``[lo_s, hi_s]`` contains ``m_0``, so
    the accepted set is in fact always one interval around ``m_0``; the sweep checks it.)
    """
    T = m.size
    m0 = m[0]
    a = k[1:] / L
    ms = m[1:]
    lo = np.minimum((m0 - ms - tol) / (1.0 - a), (m0 + ms - tol) / (1.0 + a))
    hi = np.maximum((m0 - ms + tol) / (1.0 - a), (m0 + ms + tol) / (1.0 + a))
    lo_sorted = np.sort(lo)
    hi_sorted = np.sort(hi)

    def count(x):
        x = np.asarray(x, dtype=float)
        return 1 + np.searchsorted(lo_sorted, x, side="right") - np.searchsorted(hi_sorted, x, side="left")

    def accepted(c):
        return c / T > alpha

    # the whole line is accepted when a single shift (the identity) already gives p > alpha
    if accepted(1):
        return [(-math.inf, math.inf)], lo, hi
    ends = np.unique(np.concatenate([lo, hi]))
    mids = 0.5 * (ends[:-1] + ends[1:])
    pt_acc = accepted(count(ends))
    gap_acc = accepted(count(mids))
    # the pieces of the line in order: e_0, (e_0, e_1), e_1, ..., e_last; the two unbounded gaps
    # outside have count 1 and are rejected (handled above)
    pieces = []
    for i in range(ends.size):
        pieces.append((ends[i], ends[i], pt_acc[i]))
        if i < ends.size - 1:
            pieces.append((ends[i], ends[i + 1], gap_acc[i]))
    comps = []
    start = None
    for i, (left, right, ok) in enumerate(pieces):
        if ok and start is None:
            start = left
        last = i == len(pieces) - 1
        if ok and (last or not pieces[i + 1][2]):
            comps.append((float(start), float(right)))  # an open end is reported as its closure
            start = None
    return comps, lo, hi


def block_permutation_test(g, T0, alpha=0.1):
    """Moving-block permutation test (Chernozhukov, Wuthrich & Zhu) of no effect, and its interval.

    ``g`` (length ``T``) is the contrast series; its first ``T0`` entries are the pre-period and the
    remaining ``L = T - T0 >= 1`` the post-period.  ``T0 >= 1``: the test needs no variance
    estimate, only shifts, so it does not share the ``T0 >= 3`` requirement of the MDE functions.

    Test.  Cyclic shift ``s`` (``s = 0, ..., T-1``) is ``g^(s)_t = g_{(t+s) mod T}``; its block mean
    is the mean of its last ``L`` entries,

        m_s = (1/L) sum_{j=0}^{L-1} g_{(T0 + s + j) mod T}        (m_0 = the post-period mean),

    the estimate is ``m_0`` and the statistic ``|m_0|``.  The two-sided p-value is

        p = #{ s : |m_s| >= |m_0| - tol } / T,      tol = 1e-10 * max_t |g_t|,

    so ties count against rejection and ``p >= 1/T`` (the shift 0 always counts).  H0 is rejected
    at level ``alpha`` when ``p <= alpha``; that is impossible when ``alpha < 1/T``
    (``rejection_possible`` False).

    Interval.  Inverting the test over constant effects ``tau0`` (post entries replaced by
    ``g_t - tau0``): ``CI = {tau0 : p(tau0) > alpha}``.  Each block mean is linear in ``tau0``,
    ``m_s(tau0) = m_s - (k_s/L) tau0`` with ``k_s`` the number of post-period entries in block ``s``
    (``k_0 = L``), and shift ``s`` counts on a closed interval of ``tau0`` whose ends are solved in
    closed form (see ``_acceptance_set``).  The ends of the accepted set are therefore exact, not
    the edges of a grid.  At ``tau0 = m_0`` the observed statistic is 0 and ``p = 1``, so the
    estimate always lies in its interval.

    * If ``alpha < 1/T`` every ``tau0`` is accepted: ``ci_lower = -inf``, ``ci_upper = +inf``,
      ``ci_flags['unbounded']`` True and a :class:`~synthcontrol.SynthWarning`.
    * If the accepted set were not one interval (the algebra above rules it out, but the set is
      computed without assuming it), the interval reported is its hull, ``ci_flags['non_interval']``
      is True, the pieces are in ``ci_flags['components']`` and a SynthWarning says so.

    Returns a dict:

    ``estimate`` (``m_0``), ``statistic`` (``|m_0|``), ``p_value``, ``ci_lower``, ``ci_upper``,
    ``alpha``, ``n_shifts`` (``T``), ``n_pre`` (``T0``), ``n_post`` (``L``),
    ``null_block_means`` (the ``T`` values ``m_s`` in shift order; index 0 is the observed one),
    ``post_counts`` (``k_s``), ``min_p_value`` (``1/T``), ``rejection_possible`` (``1/T <= alpha``),
    ``tol``, and ``ci_flags``: a dict with ``unbounded``, ``non_interval``,
    ``rejection_impossible`` (bools), ``components`` (list of ``(lo, hi)``) and ``notes`` (list of
    str).
    """
    g, T0, alpha = _check_test_inputs(g, T0, alpha)
    T = g.size
    L = T - T0
    tol = TIE_RTOL * float(np.max(np.abs(g)))
    m, k = _block_means(g, T0)
    m0 = float(m[0])
    p = float(np.sum(np.abs(m) >= abs(m0) - tol)) / T

    comps, _, _ = _acceptance_set(m, k, L, alpha, tol)
    min_p = 1.0 / T
    rejection_possible = min_p <= alpha
    notes = []
    flags = {"unbounded": False, "non_interval": False, "rejection_impossible": not rejection_possible,
             "components": comps, "notes": notes}
    if not rejection_possible:
        flags["unbounded"] = True
        lo_ci, hi_ci = -math.inf, math.inf
        msg = (f"block permutation test: with T = {T} shifts the smallest attainable p-value is "
               f"1/T = {min_p:.4g} > alpha = {alpha:g}, so no effect can be rejected and the "
               f"{100 * (1 - alpha):g}% interval is the whole real line (-inf, inf)")
        notes.append(msg)
        warnings.warn(msg, SynthWarning, stacklevel=2)
    else:
        lo_ci, hi_ci = comps[0][0], comps[-1][1]
        if len(comps) > 1:
            flags["non_interval"] = True
            msg = (f"block permutation test: the set {{tau0 : p(tau0) > {alpha:g}}} is not an interval "
                   f"({len(comps)} pieces); reporting its hull [{lo_ci:.6g}, {hi_ci:.6g}]")
            notes.append(msg)
            warnings.warn(msg, SynthWarning, stacklevel=2)
        if not (lo_ci <= m0 <= hi_ci):  # p(m0) = 1 makes this impossible; guard against rounding
            lo_ci, hi_ci = min(lo_ci, m0), max(hi_ci, m0)
            notes.append("the interval was widened to contain the estimate (rounding)")
    return {
        "estimate": m0,
        "statistic": abs(m0),
        "p_value": p,
        "ci_lower": float(lo_ci),
        "ci_upper": float(hi_ci),
        "alpha": alpha,
        "n_shifts": T,
        "n_pre": T0,
        "n_post": L,
        "null_block_means": m,
        "post_counts": k,
        "min_p_value": min_p,
        "rejection_possible": rejection_possible,
        "tol": tol,
        "ci_flags": flags,
    }


# --------------------------------------------------------------------------------------------------
# 3. long-run variance
# --------------------------------------------------------------------------------------------------

def newey_west_bandwidth(T0):
    """The automatic Bartlett bandwidth ``L = floor(4 (T0/100)^(2/9))``, capped at ``T0 - 1``."""
    T0 = check_count("T0", T0, 3)
    return int(min(math.floor(4.0 * (T0 / 100.0) ** (2.0 / 9.0)), T0 - 1))


def _newey_west_variance(x, L):
    """Raw (unclipped) Bartlett long-run variance of ``x`` with bandwidth ``L`` (see
    :func:`long_run_variance`)."""
    T0 = x.size
    d = x - x.mean()
    gamma = np.array([d[k:] @ d[:T0 - k] / T0 for k in range(L + 1)])
    w = 1.0 - np.arange(1, L + 1) / (L + 1.0)
    return float(gamma[0] + 2.0 * np.sum(w * gamma[1:]))


def long_run_variance(g_pre):
    """Newey-West (Bartlett kernel) long-run standard deviation of the pre-period contrast.

    With ``T0 = len(g_pre) >= 3`` and ``gbar`` its mean,

        gamma_k    = (1/T0) sum_{t=k+1}^{T0} (g_t - gbar)(g_{t-k} - gbar),
        L          = floor(4 (T0/100)^(2/9))      (capped at T0 - 1; never binds for T0 >= 3),
        sigma_LR^2 = gamma_0 + 2 sum_{k=1}^{L} (1 - k/(L+1)) gamma_k.

    The Bartlett weights make ``sigma_LR^2 >= 0`` for every series (it is a Fejer-weighted average
    of the periodogram); a rounding-level negative value is clipped to 0.  For serially
    uncorrelated ``g``, ``sigma_LR`` estimates the same quantity as ``sigma_perm``.

    Returns ``(sigma_LR, L, sigma_perm)`` with ``sigma_perm`` the ``ddof=1`` sample SD of ``g_pre``.
    """
    x = _pre_series(g_pre)
    L = newey_west_bandwidth(x.size)
    s2 = _newey_west_variance(x, L)
    return math.sqrt(max(s2, 0.0)), L, float(np.std(x, ddof=1))


# --------------------------------------------------------------------------------------------------
# 4-5. MDE curve and power
# --------------------------------------------------------------------------------------------------

def _horizon(name, h):
    return check_count(name, h, 1)


def _check_power(power):
    return check_alpha("power", power)


def _percent_denominator(baseline):
    """``|baseline|`` as a float, or ``None`` (MDE% NaN) with a SynthWarning when it is zero or not
    finite.  ``None`` in, ``None`` out (no baseline asked for: no warning)."""
    if baseline is None:
        return None
    if isinstance(baseline, (bool, np.bool_)) or not isinstance(baseline, numbers.Real):
        raise SpecificationError(f"baseline must be a number or None, got {baseline!r}")
    b = float(baseline)
    if not math.isfinite(b) or b == 0.0:
        warnings.warn(f"baseline = {b!r} is zero or not finite: the MDE in percent is NaN",
                      SynthWarning, stacklevel=3)
        return None
    return abs(b)


def mde_curve(g_pre, horizons=range(1, 13), alpha=0.05, power=0.8, baseline=None):
    """The minimum detectable effect of a design per post-period horizon ``h``.

    From the pre-period contrast (``T0 = len(g_pre) >= 3``), with ``sigma_LR`` and ``sigma_perm``
    from :func:`long_run_variance`,

        SE(h)  = sigma_LR / sqrt(h),
        MDE(h) = (z_{1-alpha/2} + z_power) * SE(h),
        MDE%(h) = 100 * MDE(h) / |baseline|       (NaN when no baseline is given).

    ``MDE(h)`` is the effect that a two-sided level-``alpha`` z-test on the mean of ``h`` post
    periods detects with probability ``power``, neglecting the opposite tail (the exact power there
    is ``power + Phi(-MDE/SE - z_{1-alpha/2})``, a hair above target; see :func:`power_at`).

    Short pre-periods (the fallback rule).  The formula is used unchanged at every horizon: one
    design has one MDE.  It is reliable when the pre-period holds at least 4 non-overlapping blocks
    of length ``h`` (``T0 >= 4h``); for ``h > T0/4`` the long-run variance is extrapolated to a
    block length the pre-period barely observes, so the row keeps the same formula but has
    ``hac_reliable = False`` and a ``note``, and a single :class:`~synthcontrol.SynthWarning`
    lists those horizons.  There is no silent switch to another SE.

    ``baseline``: ``None`` or a number (see :func:`baseline_value`); a zero or non-finite number
    gives ``mde_percent`` NaN with a SynthWarning.  A negative baseline is used by magnitude.

    Returns a DataFrame, one row per horizon, columns ``horizon``, ``se``, ``mde_absolute``,
    ``mde_percent``, ``long_run_sigma``, ``sigma_perm``, ``bandwidth``, ``hac_reliable``,
    ``min_p_value`` (``1/(T0 + h)``: the smallest p-value the block permutation test can reach with
    ``T0`` pre and ``h`` post periods), ``permutation_can_reject`` (``min_p_value <= alpha``; when
    False the permutation test cannot reject at that horizon whatever the effect) and ``note``.
    ``attrs`` holds ``alpha``, ``power``, ``multiplier`` (``z_{1-alpha/2} + z_power``), ``baseline``,
    ``n_pre`` and ``rule`` (the fallback rule in words).
    """
    alpha = check_alpha("alpha", alpha)
    power = _check_power(power)
    x = _pre_series(g_pre)
    T0 = x.size
    if isinstance(horizons, (str, bytes)) or np.ndim(horizons) > 1:
        raise SpecificationError(f"horizons must be a sequence of whole numbers >= 1, got {horizons!r}")
    hs = [horizons] if np.ndim(horizons) == 0 else list(horizons)
    if not hs:
        raise SpecificationError("horizons must contain at least one horizon")
    hs = [_horizon("each horizon", h) for h in hs]
    denom = _percent_denominator(baseline)
    sigma_lr, bw, sigma_perm = long_run_variance(x)
    if sigma_lr == 0.0:
        warnings.warn("the pre-period contrast has zero long-run variance: every MDE is 0, which "
                      "says the pre-period cannot measure the noise, not that any effect is detectable",
                      SynthWarning, stacklevel=2)
    za, zp = _z(alpha, power)
    mult = za + zp
    h = np.asarray(hs, dtype=float)
    se = sigma_lr / np.sqrt(h)
    mde = mult * se
    reliable = np.array([T0 >= HAC_BLOCKS * hh for hh in hs])
    min_p = 1.0 / (T0 + h)
    note = [
        "" if ok else (f"T0 = {T0} < {HAC_BLOCKS}h = {HAC_BLOCKS * hh}: the long-run SE is extrapolated "
                       f"to a block length the pre-period barely observes; same formula, lower trust")
        for ok, hh in zip(reliable, hs)]
    df = pd.DataFrame({
        "horizon": np.asarray(hs, dtype=int),
        "se": se,
        "mde_absolute": mde,
        "mde_percent": (100.0 * mde / denom) if denom is not None else np.full(h.size, np.nan),
        "long_run_sigma": sigma_lr,
        "sigma_perm": sigma_perm,
        "bandwidth": bw,
        "hac_reliable": reliable,
        "min_p_value": min_p,
        "permutation_can_reject": min_p <= alpha,
        "note": note,
    })
    rule = (f"MDE(h) = (z_(1-alpha/2) + z_power) sigma_LR / sqrt(h) at every horizon; rows with "
            f"T0 < {HAC_BLOCKS}h are flagged hac_reliable = False")
    df.attrs.update({"alpha": alpha, "power": power, "multiplier": mult, "baseline": baseline,
                     "n_pre": T0, "rule": rule})
    if not reliable.all():
        bad = [hh for ok, hh in zip(reliable, hs) if not ok]
        warnings.warn(f"MDE curve: T0 = {T0} pre-periods hold fewer than {HAC_BLOCKS} blocks of length h "
                      f"for h = {bad}; those rows use the same long-run SE but are flagged "
                      f"hac_reliable = False", SynthWarning, stacklevel=2)
    return df


def power_at(tau, h, sigma_LR, alpha=0.05):
    """Power of the two-sided level-``alpha`` test to detect a true effect ``tau`` at horizon ``h``.

        SE(h)      = sigma_LR / sqrt(h),
        pi(tau, h) = Phi(|tau|/SE(h) - z_{1-alpha/2}) + Phi(-|tau|/SE(h) - z_{1-alpha/2}).

    ``pi(0, h) = alpha``.  At ``tau = MDE(h)`` of :func:`mde_curve` (same ``alpha``, target power
    ``beta'``) the first term is exactly ``beta'``; the second, ``Phi(-2 z_{1-alpha/2} - z_beta')``,
    is the opposite tail the MDE formula neglects (about 1e-6 at ``alpha = 0.05``, power 0.8).
    ``sigma_LR = 0`` gives power 1 for ``tau != 0`` (and ``alpha`` at ``tau = 0``).

    ``tau`` may be an array (the result then is an array of the same shape); ``h`` is a whole number
    ``>= 1``; ``sigma_LR`` a finite number ``>= 0``.
    """
    alpha = check_alpha("alpha", alpha)
    h = _horizon("h", h)
    if isinstance(sigma_LR, (bool, np.bool_)) or not isinstance(sigma_LR, numbers.Real) \
            or not math.isfinite(float(sigma_LR)) or float(sigma_LR) < 0:
        raise SpecificationError(f"sigma_LR must be a finite number >= 0, got {sigma_LR!r}")
    t = np.abs(np.asarray(tau, dtype=float))
    if not np.all(np.isfinite(t)):
        raise SpecificationError("tau must be finite")
    za = float(stats.norm.ppf(1.0 - alpha / 2.0))
    se = float(sigma_LR) / math.sqrt(h)
    if se == 0.0:
        out = np.where(t > 0, 1.0, alpha)
    else:
        r = t / se
        out = stats.norm.cdf(r - za) + stats.norm.cdf(-r - za)
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------------------------------
# 6. the AR(1) variance-inflation surface (a second, named quantity)
# --------------------------------------------------------------------------------------------------

def ar1_vif(T, rho):
    """Variance-inflation factor of the mean of ``T`` AR(1) values relative to one value:

        VIF(T, rho) = (1/T) (1 + 2 sum_{k=1}^{T-1} (1 - k/T) rho^k),

    so ``Var(mean) = sigma^2 VIF(T, rho)``; ``VIF(T, 0) = 1/T`` exactly.  ``T`` whole ``>= 1``,
    ``|rho| < 1``.
    """
    T = check_count("T", T, 1)
    if isinstance(rho, (bool, np.bool_)) or not isinstance(rho, numbers.Real) or not abs(float(rho)) < 1:
        raise SpecificationError(f"rho must be a number in (-1, 1), got {rho!r}")
    rho = float(rho)
    k = np.arange(1, T)
    return float((1.0 + 2.0 * np.sum((1.0 - k / T) * rho ** k)) / T)


def ar1_mde(g_pre, T_post, alpha=0.05, power=0.8):
    """The AR(1)-model minimum detectable effect ``mde_ar1`` over ``T_post`` post periods.

    A second, separately named quantity: it models the pre-period contrast as an AR(1) instead of
    estimating its long-run variance nonparametrically.  It is not an alternative value of the
    design's MDE (that is :func:`mde_curve`).  With ``T0 = len(g_pre) >= 3``, ``gbar`` its mean,

        sigma   = sqrt( sum_t (g_t - gbar)^2 / (T0 - 1) )                       (ddof = 1),
        rho_raw = sum_{t=2}^{T0} (g_t - gbar)(g_{t-1} - gbar) / sum_t (g_t - gbar)^2
                  (the lag-1 sample autocorrelation; 0 when the series is constant),
        rho     = clip(rho_raw, -0.99, 0.99),
        VIF     = ar1_vif(T_post, rho),
        se_ar1  = sigma sqrt(VIF),
        mde_ar1 = (z_{1-alpha/2} + z_power) se_ar1.

    Returns a dict with ``mde_ar1``, ``se_ar1``, ``rho``, ``rho_raw``, ``rho_clipped`` (bool),
    ``sigma``, ``vif``, ``T_post``, ``alpha``, ``power``, ``multiplier`` and ``quantity``
    (``"ar1_variance_inflation_mde"``).
    """
    alpha = check_alpha("alpha", alpha)
    power = _check_power(power)
    T_post = _horizon("T_post", T_post)
    x = _pre_series(g_pre)
    d = x - x.mean()
    ss = float(d @ d)
    sigma = math.sqrt(ss / (x.size - 1))
    rho_raw = float(d[1:] @ d[:-1]) / ss if ss > 0 else 0.0
    rho = min(max(rho_raw, -RHO_CLIP), RHO_CLIP)
    if ss == 0:
        warnings.warn("the pre-period contrast is constant: sigma = 0 and mde_ar1 = 0, which says the "
                      "pre-period cannot measure the noise", SynthWarning, stacklevel=2)
    vif = ar1_vif(T_post, rho)
    za, zp = _z(alpha, power)
    se = sigma * math.sqrt(vif)
    return {"mde_ar1": (za + zp) * se, "se_ar1": se, "rho": rho, "rho_raw": rho_raw,
            "rho_clipped": rho != rho_raw, "sigma": sigma, "vif": vif, "T_post": T_post,
            "alpha": alpha, "power": power, "multiplier": za + zp,
            "quantity": "ar1_variance_inflation_mde"}


# --------------------------------------------------------------------------------------------------
# 7. baseline
# --------------------------------------------------------------------------------------------------

def baseline_value(Y_pre, treated_mask, kind="treated"):
    """The level an MDE in percent is relative to.

    ``Y_pre`` is the ``T0 x N`` pre-period outcome matrix, ``treated_mask`` a boolean vector of
    length ``N`` (the design's treated units).  ``kind``:

    * ``"treated"`` (default): mean of ``Y_pre[t, j]`` over pre periods ``t`` and treated units ``j``;
    * ``"control"``: the same over the untreated units;
    * ``"overall"``: the same over all units;
    * a number: that number.

    Returns a float.  It is not checked here for being usable: :func:`mde_curve` turns a zero or
    non-finite baseline into ``mde_percent`` NaN with a :class:`~synthcontrol.SynthWarning`.
    """
    if isinstance(kind, numbers.Real) and not isinstance(kind, (bool, np.bool_)):
        return float(kind)
    kind = check_choice("kind", kind, ("treated", "overall", "control"),
                        what="'treated', 'overall', 'control' or a number")
    Yv = np.asarray(Y_pre.to_numpy() if isinstance(Y_pre, pd.DataFrame) else Y_pre, dtype=float)
    if Yv.ndim != 2:
        raise SpecificationError(f"Y_pre must be a T0 x N matrix, got an array of shape {Yv.shape}")
    mask = np.asarray(treated_mask)
    if mask.dtype != bool:
        if mask.ndim == 1 and np.isin(mask, (0, 1)).all() and mask.size:
            mask = mask.astype(bool)
        else:
            raise SpecificationError("treated_mask must be a boolean vector (or 0/1) with one entry per unit")
    if mask.ndim != 1 or mask.size != Yv.shape[1]:
        raise SpecificationError(
            f"treated_mask must have one entry per unit (N = {Yv.shape[1]}), got shape {mask.shape}")
    cols = {"treated": mask, "control": ~mask, "overall": np.ones_like(mask)}[kind]
    if not cols.any():
        raise SpecificationError(f"baseline kind {kind!r}: there are no {kind} units")
    return float(np.mean(Yv[:, cols]))


# --------------------------------------------------------------------------------------------------
# 8. covariate balance
# --------------------------------------------------------------------------------------------------

def standardized_mean_differences(X, treated_weights, control_weights):
    """Standardized mean differences of unit covariates between the two sides of a design.

    ``X`` is ``N x p`` (units in rows; a DataFrame gives a Series indexed by its columns, an array
    gives an array), the weights are non-negative vectors of length ``N`` with a positive sum
    (each side is normalised by its own sum).  For covariate ``x``:

        mean_T = sum_j q_j x_j / sum_j q_j,      mean_C = sum_j w_j x_j / sum_j w_j,
        SD     = sqrt( sum_j (x_j - xbar)^2 / (N - 1) )        (over all N units),
        SMD    = (mean_T - mean_C) / SD,                         NaN where SD = 0.
    """
    names = X.columns if isinstance(X, pd.DataFrame) else None
    Xv = np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X, dtype=float)
    if Xv.ndim == 1:
        Xv = Xv[:, None]
    if Xv.ndim != 2 or Xv.shape[0] < 2:
        raise SpecificationError(f"X must be an N x p matrix with N >= 2 units, got shape {Xv.shape}")
    if not np.all(np.isfinite(Xv)):
        raise DataError(f"X has {int(np.sum(~np.isfinite(Xv)))} non-finite value(s)")
    N = Xv.shape[0]
    sides = []
    for name, w in (("treated_weights", treated_weights), ("control_weights", control_weights)):
        wv = np.asarray(w, dtype=float)
        if wv.ndim != 1 or wv.size != N:
            raise SpecificationError(f"{name} must have one entry per unit (N = {N}), got shape {wv.shape}")
        if not np.all(np.isfinite(wv)) or np.any(wv < 0) or not wv.sum() > 0:
            raise SpecificationError(f"{name} must be finite, non-negative and sum to a positive number")
        sides.append(wv / wv.sum())
    diff = sides[0] @ Xv - sides[1] @ Xv
    sd = np.std(Xv, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.nan)
    return pd.Series(smd, index=names, name="smd") if names is not None else smd
