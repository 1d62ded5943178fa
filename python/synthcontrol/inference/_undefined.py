"""When is a test statistic undefined, and how a permutation p-value counts.  One place for the rules
every inference module applies (issue #11, "never silently wrong").

Undefined ratios
    A ratio whose denominator is a fit error (a post/pre RMSPE ratio, a t-statistic) is *undefined*
    when that denominator is zero *relative to the outcome's scale*: ``den <= RTOL * scale`` with
    ``RTOL = 1e-10`` and ``scale`` the root mean square of the outcomes the fit uses: the treated
    and donor series over the *fitting periods* (:func:`fit_scale`; ``fit_window``, or the whole
    pre-period without one; for the in-time placebo, the fitting periods before the fake date; for
    the conformal refits, which fit on every period they see, those periods).  An exact fit leaves
    residuals of 0 or of 1e-14 depending on rounding, on the scale of the data it was fitted to, and
    a ratio over them is rounding noise, not a statistic.  The threshold is relative so that
    ``y -> a y`` changes nothing.  Every RMS here is the overflow-safe one of :mod:`.._numerics`.

Ties
    Comparisons of a statistic with its permutation / placebo values count values within
    ``RTOL * scale`` (or, for ratios, ``RTOL`` relative) as ties, and ties count against the
    treated unit (the conservative side).

Permutation p-values
    A permutation p-value counts the observed assignment itself: ``p = (1 + #{draws at least as
    extreme}) / (B + 1)`` with ``B`` random draws (so ``p >= 1 / (B + 1)``), and the share over the
    whole group (which contains the identity, so ``p >= 1 / |Pi|``) when it is enumerated.

Choices on the edge of a grid
    A tuning value chosen on a finite grid (the ridge penalty, the penalized backend's lambda,
    SCPI's ``rho`` under its cap) that lands on the grid's edge is not determined by the data: the
    criterion may keep improving beyond it.  :func:`flag_grid_edge` records the side in
    ``details["<key>_at_grid_edge"]`` and says it; an edge that is a natural boundary of the
    parameter (a penalty of 0) is not flagged.

Fits that fail their certificate
    A simplex fit whose certificate does not hold (``SimplexFit.converged`` False) is counted; a
    method reports ``details["n_uncertified_fits"]`` and says it once (:func:`report_uncertified`).

What is said is kept
    :func:`say` issues the :class:`~synthcontrol.SynthWarning` and appends its text to
    ``details["warnings"]`` of the object the method returns.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

from .._numerics import col_rms, rms
from ..errors import SynthWarning

__all__ = ["RTOL", "outcome_scale", "fit_scale", "rmspe_ratios", "mc_pvalue", "say", "flag_grid_edge",
           "report_uncertified", "report_refits"]

RTOL = 1e-10

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outcome_scale(*arrays) -> float:
    """Root mean square of the finite entries of the given outcome arrays (0.0 if there are none)."""
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    vals = vals[np.isfinite(vals)]
    return rms(vals) if vals.size else 0.0


def fit_scale(panel, mask) -> float:
    """:func:`outcome_scale` of the treated and donor outcomes over the periods in ``mask`` (the
    fitting periods): the scale of the rule for undefined ratios."""
    mask = np.asarray(mask, dtype=bool)
    return outcome_scale(np.asarray(panel.y_treated, dtype=float)[mask],
                         np.asarray(panel.X_donors, dtype=float)[mask])


def rmspe_ratios(G, pre, post, scale):
    """Post/pre RMSPE ratios of the gap columns of ``G`` (T, n).

    Returns ``(pre_rmspe, post_rmspe, ratio, defined)``: ``ratio`` is NaN where it is undefined
    (pre-RMSPE <= ``RTOL * scale``)."""
    G = np.asarray(G, dtype=float)
    pre_rmspe = col_rms(G[pre])
    post_rmspe = col_rms(G[post])
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


def flag_grid_edge(name, value, grid, details, *, who, key=None, natural=(), why=None, consequence=None,
                   advice=None, where="details", span="grid"):
    """Record, and say, a tuning value chosen on the edge of its grid.

    ``value`` was chosen among ``grid``; when it is the grid's smallest (``"lower"``) or largest
    (``"upper"``) value, and that edge is not listed in ``natural`` (a natural boundary of the
    parameter, such as a penalty of 0), ``details[f"{key}_at_grid_edge"]`` is set to the side and a
    :class:`~synthcontrol.SynthWarning` says so; otherwise it is set to None.  ``key`` defaults to
    ``name``.  ``why`` (a string, or a dict side -> string) says what put the choice there (the
    criterion's trigger on that edge), ``consequence`` and ``advice`` what it means and what to do.
    ``where``: how the message names ``details`` (``"diagnostics"`` for a fit's); ``span``: what the
    message calls ``grid`` (``"range"`` for a value capped to an interval).  Returns the side or None."""
    g = np.asarray(grid, dtype=float).ravel()
    g = g[np.isfinite(g)]
    side = None
    if g.size >= 2 and g.max() > g.min() and math.isfinite(value):
        lo, hi = float(g.min()), float(g.max())
        tol = 1e-12 * max(abs(lo), abs(hi))
        if value <= lo + tol:
            side = "lower"
        elif value >= hi - tol:
            side = "upper"
    if side in tuple(natural):
        side = None
    key = name if key is None else key
    details[f"{key}_at_grid_edge"] = side
    if side is None:
        return None
    reason = why.get(side) if isinstance(why, dict) else why
    text = (f"{who}: the chosen {name} {value:.4g} is the {'smallest' if side == 'lower' else 'largest'} value "
            f"of its {span} [{g.min():.3g}, {g.max():.3g}]")
    if reason:
        text += f" ({reason})"
    text += f": {consequence or f'the data do not determine {name}, the grid does'}"
    if advice:
        text += f". {advice}"
    say(f"{text} ({where}['{key}_at_grid_edge'])", details)
    return side


_SIMPLEX = ("simplex fits", "their duality gap, a proven bound on SSR(w) - SSR*, is large against the SSR")
_VSEARCH = ("covariate (V) refits", "their proven lower bound is more than 1e-6 of the loss below it: a better "
                                    "V may exist")


def report_uncertified(n_uncertified, n_fits, who, details, *, key="n_uncertified_fits", where="details",
                       covariate=False):
    """``details[key] = n_uncertified``, and when it is positive one :class:`~synthcontrol.SynthWarning`
    for the whole call (not one per fit): ``n_uncertified`` of ``n_fits`` fits failed their
    certificate -- simplex fits' duality gap, or (``covariate``) the V searches' bound gap."""
    n_uncertified = int(n_uncertified)
    details[key] = n_uncertified
    if n_uncertified:
        what, why = _VSEARCH if covariate else _SIMPLEX
        of = f" of {int(n_fits)}" if n_fits is not None else ""
        say(f"{who}: {n_uncertified}{of} {what} are not certified ({why}): the weights of those fits may not "
            f"be optimal, and the statistics built on them inherit that ({where}['{key}'])", details)
    return n_uncertified


def report_refits(diags, labels, who, details, *, where="details"):
    """What the refits of a method's loop could not vouch for, said once for the whole call.

    ``diags``: the diagnostics of each refit (``SCResult.refit``'s, which records its warnings in
    ``diagnostics["warnings"]`` without saying them), ``labels`` what names each refit (a fake
    date, a dropped donor).  Sets ``details["n_uncertified_fits"]`` (refits whose certificate did
    not hold) and, when any refit recorded warnings, ``details["refit_warnings"]``: a list of
    ``(label, message)``, every message kept.  One :class:`~synthcontrol.SynthWarning` says it."""
    diags = list(diags)
    n_unc = sum(not d.get("certified", True) for d in diags)
    notes = [(lab, m) for lab, d in zip(labels, diags) for m in d.get("warnings", ())]
    if not notes:
        return report_uncertified(n_unc, len(diags), who, details, where=where)
    details["n_uncertified_fits"] = int(n_unc)
    details["refit_warnings"] = notes
    n_flag = len({lab for lab, _ in notes})
    lab, first = notes[0]
    say(f"{who}: the fit flagged {n_flag} of {len(diags)} refits ({n_unc} not certified, "
        f"{where}['n_uncertified_fits']); the first, at {lab!r}: {first} (all in {where}['refit_warnings'])",
        details)
    return int(n_unc)
