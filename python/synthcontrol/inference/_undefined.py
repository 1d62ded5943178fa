"""When is a test statistic undefined, and how a permutation p-value counts.  One place for the rules
every inference module applies (issue #11, "never silently wrong").

Undefined ratios
    A ratio whose denominator is a fit error (a post/pre RMSPE ratio, a t-statistic) is *undefined*
    when that denominator is zero *relative to the outcome's scale*: ``den <= RTOL * scale`` with
    ``RTOL = 1e-10`` and ``scale`` the root mean square of the outcomes the fit uses (treated and
    donor series over the fitting periods; :func:`outcome_scale`).  An exact pre-period fit leaves a
    pre-RMSPE of 0 or of 1e-14 depending on rounding, and a ratio over it is rounding noise, not a
    statistic.  The threshold is relative so that ``y -> a y`` changes nothing.

Ties
    Comparisons of a statistic with its permutation / placebo values count values within
    ``RTOL * scale`` (or, for ratios, ``RTOL`` relative) as ties, and ties count against the
    treated unit (the conservative side).

Permutation p-values
    A permutation p-value counts the observed assignment itself: ``p = (1 + #{draws at least as
    extreme}) / (B + 1)`` with ``B`` random draws (so ``p >= 1 / (B + 1)``), and the share over the
    whole group (which contains the identity, so ``p >= 1 / |Pi|``) when it is enumerated.
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .._numerics import rms
from ..errors import SynthWarning

__all__ = ["RTOL", "outcome_scale", "rmspe_ratios", "mc_pvalue", "say"]

RTOL = 1e-10

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outcome_scale(*arrays) -> float:
    """Root mean square of the finite entries of the given outcome arrays (0.0 if there are none)."""
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    vals = vals[np.isfinite(vals)]
    return rms(vals) if vals.size else 0.0


def _col_rms(A):
    """Column RMS, computed on columns divided by their largest entry (finite wherever it is)."""
    if A.shape[0] == 0:
        return np.zeros(A.shape[1])
    s = np.max(np.abs(A), axis=0)
    s = np.where((s > 0) & np.isfinite(s), s, 1.0)
    Z = A / s
    return s * np.sqrt(np.mean(Z * Z, axis=0))


def rmspe_ratios(G, pre, post, scale):
    """Post/pre RMSPE ratios of the gap columns of ``G`` (T, n).

    Returns ``(pre_rmspe, post_rmspe, ratio, defined)``: ``ratio`` is NaN where it is undefined
    (pre-RMSPE <= ``RTOL * scale``)."""
    G = np.asarray(G, dtype=float)
    pre_rmspe = _col_rms(G[pre])
    post_rmspe = _col_rms(G[post])
    defined = pre_rmspe > RTOL * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(defined, post_rmspe / np.where(defined, pre_rmspe, 1.0), np.nan)
    return pre_rmspe, post_rmspe, ratio, defined


def mc_pvalue(n_extreme, n_draws) -> float:
    """``(1 + n_extreme) / (1 + n_draws)``: a Monte Carlo permutation p-value that counts the
    observed assignment (never 0)."""
    return (1.0 + n_extreme) / (1.0 + n_draws)


def say(message, details=None):
    """Issue a :class:`~synthcontrol.SynthWarning` attributed to the user's call (the first frame
    outside the package), and record the message in ``details["warnings"]`` when given."""
    frame = sys._getframe(1)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(message, SynthWarning, stacklevel=level)
    if details is not None:
        details.setdefault("warnings", []).append(message)
