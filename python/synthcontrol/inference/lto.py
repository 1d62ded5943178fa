"""The leave-two-out refined placebo test (Lei & Sudijono 2025).

The ordinary placebo test gives each of the ``N`` units one turn as the treated unit, so its p-value
lives on the grid ``1/N, 2/N, ...`` and it cannot reject at all when ``alpha < 1/N``.  The
leave-two-out test plays a tournament instead: for every pair ``{i, j}`` of controls, leave ``i``,
``j`` and the treated unit ``I`` out of the donor pool, fit a synthetic control for each of the
three from the remaining ``N - 3`` units, and score each by its post/pre RMSPE ratio.  ``I`` wins
the match when its score is strictly the largest.  The naive p-value is the share of matches ``I``
does not win,

    p = #{pairs: R_I <= max(R_i, R_j)} / C(N - 1, 2).

Under uniform assignment and the sharp null, ``P(p <= alpha) <= floor(N f(N, alpha)) / N``
(Theorem 2.2), the ``type_i_bound``.  The powered p-value ``p - c(N, alpha) + delta`` shifts ``p``
by the largest amount that leaves that bound unchanged (Theorem 2.3); it is a decision rule at
this one ``alpha`` (reject when it is <= alpha), not a p-value to report at other levels.

A ratio over a pre-RMSPE of at most 1e-10 x the outcome's scale is undefined (an exact pre-fit:
see :mod:`._undefined`); a match with an undefined ratio counts as not won by the treated unit
(conservative: ``p`` can only grow, the bound still holds), and when no match can be scored the test
cannot decide and ``p`` is NaN.  Both are said with a :class:`~synthcontrol.SynthWarning`.

Every fit is the estimator's own (see :mod:`.refit`): the outcome-only fits are exact and reuse
each other when the units left out carry no weight; covariate fits rerun the V search and ridge
fits keep the fitted penalty.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from .._validate import check_alpha, check_count, check_seed
from ..errors import SpecificationError
from .._numerics import rms
from ._undefined import RTOL, fit_scale, report_uncertified, say
from .base import Inference, register
from .refit import UnitRefitter

__all__ = ["lto_test", "lto_f", "lto_type_i_bound", "lto_powered_offset"]


_DELTA = 1e-10  # the "arbitrarily small" delta of the powered p-value


def _check_n_alpha(N, alpha):
    """``N`` (units, the treated one included) and ``alpha``, checked; returns ``(int, float)``."""
    return check_count("N", N, 4), check_alpha("alpha", alpha)


def lto_f(N, alpha):
    """Lei & Sudijono's Type-I error function ``f(N, alpha)``::

        f = (3 - 3/N - sqrt(9 (1 - 1/N)^2 - 12 (1/N - 4/(3 N^2) + alpha (1 - 1/N)(1 - 2/N)))) / 2

    (``N`` counts every unit, the treated one included).  Increasing in ``alpha``."""
    N, alpha = _check_n_alpha(N, alpha)
    n = float(N)
    disc = 9 * (1 - 1 / n) ** 2 - 12 * (1 / n - 4 / (3 * n * n) + alpha * (1 - 1 / n) * (1 - 2 / n))
    return 0.5 * (3 - 3 / n - math.sqrt(max(disc, 0.0)))


def _alpha_for_f(N, y):
    """The ``alpha`` with ``f(N, alpha) = y`` (``f`` inverted in closed form)."""
    n = float(N)
    s = 3 - 3 / n - 2 * y
    return (9 * (1 - 1 / n) ** 2 - s * s - 12 * (1 / n - 4 / (3 * n * n))) / (12 * (1 - 1 / n) * (1 - 2 / n))


def lto_type_i_bound(N, alpha):
    """``floor(N f(N, alpha)) / N``: the test's finite-sample bound on ``P(p_naive <= alpha)``
    under uniform assignment and the sharp null (Theorem 2.2)."""
    return math.floor(N * lto_f(N, alpha) + 1e-12) / N


def lto_powered_offset(N, alpha):
    """``c(N, alpha)``: the largest shift of ``alpha`` that leaves the Type-I bound unchanged
    (Theorem 2.3), i.e. the ``c`` with ``f(N, alpha + c) = (floor(N f(N, alpha)) + 1) / N``.
    ``f`` is a root of a quadratic in ``alpha``, so the equation is solved exactly (the tests check
    it against bisection).  ``c(39, 0.05) = 0.00216`` and ``c(17, 0.05) = 0.0125``, the paper's
    constants."""
    N, alpha = _check_n_alpha(N, alpha)
    m = math.floor(N * lto_f(N, alpha) + 1e-12)
    target = (m + 1) / N
    top = lto_f(N, 1.0 - 1e-15)
    if target > top:  # the bound cannot step up any more before alpha reaches 1
        return 1.0 - alpha
    return max(0.0, min(_alpha_for_f(N, target), 1.0) - alpha)


class _PairScores:
    """Picklable ``[(i, j), ...] -> (R, ledger)``: the three ratios of each match, and the refits
    made for them.  Here, the refitter's cache is shared by every block; in a worker, by the
    blocks that worker runs.  Each ratio depends only on its match (the refitter's reuse of a fit
    follows a chain fixed by the match), so the blocks' split does not change it."""

    def __init__(self, refitter, pre, floor):
        self.refitter, self.pre, self.floor = refitter, pre, floor
        self._seen = {}

    def __getstate__(self):
        return {**self.__dict__, "_seen": {}}

    def __call__(self, block):
        rf, seen = self.refitter, self._seen

        def score(k, S):
            g = rf.gap(k, S)
            hit = seen.get(id(g))
            if hit is None:  # keep g alive with its ratio, so its id is never reused
                hit = seen[id(g)] = (_ratio(g, self.pre, self.floor), g)
            return hit[0]
        R = np.empty((len(block), 3))
        for m, (i, j) in enumerate(block):
            R[m, 0] = score(0, frozenset((i, j)))
            R[m, 1] = score(i, frozenset((0, j)))
            R[m, 2] = score(j, frozenset((0, i)))
        return R, rf.ledger()


def _score_pairs(refitter, pairs, pre, floor, n_jobs):
    """``(len(pairs), 3)`` ratios of the matches, in blocks run by :func:`synthcontrol.parallel.pmap`
    (about four blocks per worker; 50 here, for the progress bar); the refits' ledgers are merged."""
    from ..parallel import plan, pmap
    workers = plan(n_jobs).workers
    n_blocks = max(1, min(len(pairs), 50 if workers == 1 else 4 * workers))
    size = -(-len(pairs) // n_blocks)
    blocks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    outs = pmap(_PairScores(refitter, pre, floor), blocks, n_jobs=n_jobs, chunk_size=1,
                desc="leave-two-out blocks")
    for _, ledger in outs:
        refitter.merge(ledger)
    return np.vstack([R for R, _ in outs]) if outs else np.empty((0, 3))


def _ratio(gap, pre, floor):
    """Post/pre RMSPE ratio; NaN (undefined) when the pre-RMSPE is at most ``floor`` (``RTOL`` x the
    outcome scale: an exact pre-fit, whose ratio would be rounding noise)."""
    pre_rmspe = rms(gap[pre])  # overflow-safe: finite for outcomes of 1e300
    if not pre_rmspe > floor:
        return math.nan
    return rms(gap[~pre]) / pre_rmspe


def _lto_cli(args):
    out = {k: v for k, v in (("alpha", args.alpha), ("seed", args.seed)) if v is not None}
    if getattr(args, "max_pairs", None) is not None:
        out["max_pairs"] = args.max_pairs
    return out


@register("lto", title="Leave-two-out placebo test (Lei & Sudijono 2025)", cli=_lto_cli)
def lto_test(res, alpha=0.05, max_pairs=None, seed=0) -> Inference:
    """Leave-two-out refined placebo test (Lei & Sudijono 2025).

        For every pair of donors, the pair and the treated unit are left out of the pool and all
        three are fitted from the rest; the treated unit wins the match when its post/pre RMSPE
        ratio is strictly the largest.  ``p_value`` is the naive p-value, the share of matches it
        does not win (a grid of ``1 / C(J, 2)`` instead of the placebo test's ``1 / N``).
        ``details``: ``p_powered`` (reject when it is <= ``alpha``; valid at this ``alpha`` only),
        ``powered_offset_c``, ``type_i_bound`` (``floor(N f(N, alpha)) / N``), ``n_pairs``,
        ``treated_losses``, ``treated_wins``, and a ``table`` of every match.

        ``max_pairs`` evaluates a seeded random subset of the pairs (``seed``).  Every fit is the
        estimator's own: outcome-only fits are exact (and reuse each other when the units left out
        have no weight), covariate fits rerun the V search, ridge fits keep the fitted penalty.
        """
    alpha = check_alpha("alpha", alpha)
    max_pairs = check_count("max_pairs", max_pairs, 1, allow_none=True)
    seed = check_seed("seed", seed)
    p = res.panel
    J = len(p.donors)
    if J < 3:
        raise SpecificationError(f"the leave-two-out test needs at least 3 donors (a pair left out "
                                 f"and one donor to fit from); this panel has {J}")
    pairs = [(i, j) for i in range(1, J + 1) for j in range(i + 1, J + 1)]
    n_all = len(pairs)
    subsampled = False
    if max_pairs is not None:
        if max_pairs < n_all:
            rng = np.random.default_rng(seed)
            pick = np.sort(rng.choice(n_all, size=int(max_pairs), replace=False))
            pairs = [pairs[k] for k in pick]
            subsampled = True
    pre = ~np.asarray(p.post)
    floor = RTOL * fit_scale(p, res.fit_mask)  # the rule of ._undefined: the fitting periods' scale
    refitter = UnitRefitter(res)
    R = _score_pairs(refitter, pairs, pre, floor, res.model.n_jobs)
    # the treated unit wins only when its ratio is strictly the largest (ties within RTOL relative
    # count against it).  A match with an undefined ratio (an exact pre-fit: see ._undefined) cannot
    # be scored; it counts as not won, the conservative side, which keeps the Type-I bound valid.
    undefined = np.isnan(R).any(axis=1)
    not_won = ~(R[:, 0] * (1.0 - RTOL) > np.maximum(R[:, 1], R[:, 2]))
    not_won |= undefined
    n_not_won = int(not_won.sum())
    n_pairs = len(pairs)
    n_undefined = int(undefined.sum())
    N = J + 1
    c = lto_powered_offset(N, alpha)
    bound = lto_type_i_bound(N, alpha)
    warn = []
    if n_undefined == n_pairs:
        p_naive = p_powered = math.nan
        warn.append(f"leave-two-out: every one of the {n_pairs} matches has an undefined post/pre RMSPE ratio "
                    f"(an exact pre-period fit: pre-RMSPE <= {RTOL:g} x the outcome scale), so no match can be "
                    f"scored and the test cannot decide: p = NaN")
    else:
        p_naive = n_not_won / n_pairs
        p_powered = p_naive - c + _DELTA
        if n_undefined:
            warn.append(f"leave-two-out: {n_undefined} of {n_pairs} matches have an undefined post/pre RMSPE ratio "
                        f"(an exact pre-period fit: pre-RMSPE <= {RTOL:g} x the outcome scale); they count as "
                        f"not won by the treated unit (conservative), details['n_undefined_matches']")
    labels = list(p.donors)
    table = pd.DataFrame({
        "unit_i": [labels[i - 1] for i, _ in pairs], "unit_j": [labels[j - 1] for _, j in pairs],
        "ratio_treated": R[:, 0], "ratio_i": R[:, 1], "ratio_j": R[:, 2], "treated_wins": ~not_won})
    details = {
        "p_naive": p_naive,
        "p_powered": p_powered,
        "reject_at_alpha": bool(p_powered <= alpha),  # False when p is NaN
        "powered_offset_c": c,
        "type_i_bound": bound,
        "f_N_alpha": lto_f(N, alpha),
        "placebo_type_i_bound": (math.floor(N * alpha) + 1) / N,
        "N": N,
        "n_pairs": n_pairs,
        "n_pairs_total": n_all,
        "treated_losses": n_not_won,
        "treated_wins": n_pairs - n_not_won,
        "n_undefined_ratios": int(np.isnan(R).sum()),
        "n_undefined_matches": n_undefined,
        "undefined_tolerance": floor,
        "subsampled": subsampled,
        "observed_rmspe_ratio": float(res.diagnostics.get("rmspe_ratio", math.nan)),
        "n_fits": refitter.n_fits,
        "n_fits_naive": 3 * n_pairs,
        "fit_kind": refitter.kind,
        "table": table,
    }
    if res.model.reuses_support:  # exact simplex refits: their KKT certificates
        details["max_kkt_violation"] = refitter.max_kkt
    elif res.model.certificate == "covariate":  # V searches: their proven bound gaps
        details["max_bound_gap"] = refitter.max_bound_gap
    for msg in warn:
        say(msg, details)
    # the refits whose certificate did not hold (simplex fits, or covariate V searches)
    report_uncertified(refitter.n_uncertified, refitter.n_fits, "leave-two-out", details,
                       covariate=res.model.certificate == "covariate")
    return Inference(method="leave-two-out placebo (Lei & Sudijono 2025)", p_value=p_naive, alpha=alpha,
                     details=details)
