"""One set of checks for the arguments every public method shares.

Every public entry point (the estimator at fit time, the inference methods, ``Panel``,
``panel_from_events``, ``datasets.make_rollout_logs`` and the command line) checks its shared
arguments here, so that they all accept the same values and say the same thing when they do not.
A bad value raises :class:`~synthcontrol.SpecificationError` whose message names the argument and
shows the value as the user gave it; nothing is truncated or coerced silently.

The conventions
---------------
* **Whole numbers** (counts, seeds, ``n_jobs``): a Python ``int`` or a numpy integer.  ``bool`` is
  not a number here (``n_boot=True`` is an error) and neither is a float, even a whole one
  (``n_boot=2.7`` would otherwise run 2 draws; ``500.0`` is refused for the same reason, as
  scikit-learn does).  The R wrapper's bridge turns R's whole doubles (``500``, ``3e9``) into
  Python integers of exactly that value, so these checks see and report what the R user typed.
* **seed**: a whole number ``>= 0`` (numpy's ``default_rng`` seeds), or ``None`` for fresh entropy
  (not reproducible).  ``datasets.make_rollout_logs`` also takes a ``numpy.random.Generator``.
* **n_jobs**: the number of worker processes, joblib's convention: a positive whole number, or a
  negative one counted back from the number of cores (``-1`` every core, ``-2`` all but one).  ``0``
  is an error.  ``None`` means the default where a method documents one (``bootstrap``: the
  estimator's ``n_jobs``).  Results never depend on it.
* **real numbers** (``alpha``, ``q``, ``rho``, thresholds): an ``int``, ``float`` or numpy number
  (not a bool), finite, in the argument's range.  ``alpha`` (and ``u_alpha``, ``e_alpha``) lies
  strictly between 0 and an upper limit (1, or 0.5 for methods that split it in two tails).
* **choices** (``kind``, ``e_method``, ``statistic``, ...): one of the listed values;
  **flags** (``refine``, ``progress``): ``True`` or ``False`` (numpy bools too; not 0 / 1).
* **windows**: a ``(start, end)`` pair of periods, inclusive, ``start <= end`` in the panel's period
  order; each bound is converted to the time column's type as ``treatment_time`` is.  A start after
  the end is one message everywhere: ``<name> (start, end): start S is after end E``.
* **grids**: a non-empty one-dimensional sequence of finite real numbers.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from .errors import SpecificationError

__all__ = ["check_alpha", "check_seed", "check_n_jobs", "check_count", "check_number", "check_window",
           "check_grid", "check_bool", "check_choice", "is_whole", "is_real", "window_order_error"]


def _py(x):
    """A numpy scalar as the plain Python value, for messages and labels handed back to users (the
    one helper for this; every module imports it from here).  numpy dates and durations become
    pandas ``Timestamp`` / ``Timedelta`` (``.item()`` of a nanosecond ``datetime64`` is an int)."""
    if isinstance(x, np.datetime64):
        return pd.Timestamp(x)
    if isinstance(x, np.timedelta64):
        return pd.Timedelta(x)
    return x.item() if isinstance(x, np.generic) else x


def _shown(value, shown=None) -> str:
    """The value as the user gave it: ``shown`` (e.g. the text typed on the command line) or repr."""
    if shown is not None:
        return str(shown)
    v = _py(value)
    text = repr(v)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


def is_whole(x) -> bool:
    """An integer that is not a bool: ``int`` or a numpy integer."""
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def is_real(x) -> bool:
    """A real number that is not a bool (``int``, ``float``, numpy numbers)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False,
                 allow_none=False, shown=None):
    """A finite real number in ``[low, high]`` (open ends with ``low_open`` / ``high_open``).
    Returns it as ``float`` (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if low is not None and high is not None:
        what = f"a number in {lo}{low:g}, {high:g}{hi}"
    elif low is not None:
        what = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        what = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        what = "a finite number"
    if allow_none:
        what += " or None"
    ok = is_real(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            ok = False
        if high is not None and (v > high or (high_open and v == high)):
            ok = False
    if not ok:
        raise SpecificationError(f"{name} must be {what}, got {_shown(value, shown)}")
    return float(value)


def check_alpha(name, value, *, high=1.0, allow_none=False, shown=None):
    """A level strictly between 0 and ``high`` (1, or 0.5 where it is split in two tails)."""
    if value is None and allow_none:
        return None
    if not (is_real(value) and math.isfinite(float(value)) and 0 < float(value) < high):
        raise SpecificationError(
            f"{name} must be in (0, {high:g}){' or None' if allow_none else ''}, got {_shown(value, shown)}")
    return float(value)


def check_count(name, value, minimum=1, *, maximum=None, allow_none=False, also=(), shown=None):
    """A whole number ``>= minimum`` (and ``<= maximum``).  Floats, even whole ones, and bools are
    refused rather than truncated.  ``also``: other values (strings, e.g. ``"auto"``) accepted as
    they are and named in the message."""
    if value is None and allow_none:
        return None
    if isinstance(value, str) and value in also:
        return value
    rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    alts = "".join(f" or {a!r}" for a in also) + (" or None" if allow_none else "")
    if not is_whole(value):
        raise SpecificationError(
            f"{name} must be a whole number {rng}{alts}, got {_shown(value, shown)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise SpecificationError(f"{name} must be {rng if maximum is not None else f'at least {minimum}'}, got "
                                 f"{_shown(value, shown)}")
    return int(value)


def check_seed(name, value, *, allow_none=True, allow_generator=False, shown=None):
    """A seed for ``numpy.random.default_rng``: a whole number >= 0 (or None: fresh entropy; or a
    ``numpy.random.Generator`` where ``allow_generator``)."""
    if value is None and allow_none:
        return None
    if allow_generator and isinstance(value, np.random.Generator):
        return value
    if not is_whole(value) or value < 0:
        alts = (" or None" if allow_none else "") + (" or a numpy Generator" if allow_generator else "")
        raise SpecificationError(f"{name} must be a whole number >= 0{alts}, got {_shown(value, shown)}")
    return int(value)


def check_n_jobs(name, value, *, allow_none=False, shown=None):
    """Worker processes, joblib's convention: ``k >= 1`` workers, or ``-1`` every core, ``-2`` all
    but one, ...; ``0`` is an error.  Returns the value as ``int`` (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if not is_whole(value) or value == 0:
        raise SpecificationError(
            f"{name} must be a whole number of worker processes >= 1, or negative to count back from "
            f"the number of cores (-1: every core){' or None' if allow_none else ''}; got "
            f"{_shown(value, shown)}")
    return int(value)


def check_bool(name, value, *, shown=None):
    """``True`` or ``False`` (numpy bools too); ``0`` / ``1``, ``"yes"`` and ``None`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise SpecificationError(f"{name} must be True or False, got {_shown(value, shown)}")
    return bool(value)


def _same_choice(value, choice) -> bool:
    if isinstance(value, (bool, np.bool_)) != isinstance(choice, (bool, np.bool_)):
        return False  # True is not 1
    if isinstance(value, (np.ndarray, pd.Series, pd.Index, list, tuple, dict, set)):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):
        return False


def check_choice(name, value, choices, *, what=None, shown=None):
    """One of ``choices``; returns the matching choice itself (so ``numpy.str_("iid")`` is
    ``"iid"``).  ``what`` replaces ``one of (...)`` in the message (e.g. ``"'iid' or 'block'"``)."""
    for c in choices:
        if _same_choice(value, c):
            return c
    raise SpecificationError(
        f"{name} must be {what if what is not None else f'one of {tuple(choices)}'}, got "
        f"{_shown(value, shown)}")


def check_grid(name, value, *, minimum_size=1, allow_none=True):
    """A one-dimensional sequence of finite real numbers (a search grid); returns a float array."""
    if value is None and allow_none:
        return None
    bad = isinstance(value, (str, bytes, dict, set)) or np.ndim(value) != 1
    arr = None
    if not bad:
        items = list(value)
        bad = not all(is_real(v) for v in items)
        if not bad:
            arr = np.asarray(items, dtype=float)
            bad = not np.isfinite(arr).all() or arr.size < minimum_size
    if bad:
        raise SpecificationError(
            f"{name} must be a one-dimensional sequence of at least {minimum_size} finite number(s), got "
            f"{_shown(value)}")
    return arr


def check_window(name, value, *, coerce=None, key=None, allow_open=False, check_order=True,
                 closed="inclusive"):
    """A ``(start, end)`` pair of periods, inclusive.

    ``coerce(bound, what)`` converts each bound to the time column's type (raising a
    :class:`SpecificationError` that names ``what``); ``key`` maps a converted bound to its position
    in the panel's period order (default: the value itself).  ``allow_open``: ``None`` stands for an
    open end.  ``check_order``: refuse a start after the end.  ``closed`` describes the window in
    messages.  Returns the converted ``(start, end)``.
    """
    if isinstance(value, (str, bytes, dict, set)) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise SpecificationError(
            f"{name} must be a (start, end) pair of periods ({closed}"
            f"{'; None for an open end' if allow_open else ''}), got {_shown(value)}")
    out = []
    for bound, part in zip(value, ("start", "end")):
        if bound is None:
            if not allow_open:
                raise SpecificationError(f"{name} {part} is None; give a period")
            out.append(None)
            continue
        out.append(coerce(bound, f"{name} {part}") if coerce is not None else bound)
    lo, hi = out
    if check_order and lo is not None and hi is not None:
        k = key or (lambda v: v)
        try:
            backwards = k(lo) > k(hi)
        except TypeError:
            raise SpecificationError(f"{name} {_shown(value)}: start and end cannot be compared") from None
        if backwards:
            raise window_order_error(name, value, value[0], value[1])
    return tuple(out)


def window_order_error(name, value, start, end) -> SpecificationError:
    """The one message for a window whose start comes after its end (``check_window``, the
    predictor windows)."""
    return SpecificationError(f"{name} {_shown(value)}: start {_shown(start)} is after end {_shown(end)}")
