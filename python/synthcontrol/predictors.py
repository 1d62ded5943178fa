"""Synth-style predictor matrices from long (unit x period) data.

This module is pure: it reads a long ``pandas.DataFrame`` and returns the
predictor matrices ``X1`` (treated) and ``X0`` (donors) that R's
``Synth::dataprep`` builds, without touching the caller's frame and without
any optimisation.  The predictor-weight (V) problem lives elsewhere.

Predictor kinds and their row labels
------------------------------------
Rows appear in this order: ``covariates``, then ``special``, then
``outcome_lags`` (each in the order given), which is Synth's order
(``predictors`` first, then ``special.predictors``).

* **Covariate over the common window** (``covariates=["lnincome", ...]``):
  the column's mean over ``predictor_window`` (default ``pre_periods``).
  Label: the bare column name, ``"lnincome"`` (as Synth).
* **Covariate over its own window** (``covariates={"beer": (1984, 1988)}``,
  Abadie's special predictors) and **Synth special predictors**
  (``special=[("beer", range(1984, 1989), "mean")]``).
  Label: ``"special.<column>.<first>.<last>"`` for several periods and
  ``"special.<column>.<period>"`` for one period, where first/last are the
  earliest and latest requested periods — exactly Synth's rownames
  (``"special.beer.1984.1988"``, ``"special.cigsale.1975"``,
  ``"special.sec.energy.1961.1969"`` for ``seq(1961, 1969, 2)``).
* **Outcome lags** (``outcome_lags=[1975, 1980]``): the outcome at one
  period, labelled like the equivalent Synth special predictor,
  ``"special.cigsale.1975"``, so a Synth specification and its native
  translation give identical labels.  ``outcome_lags={"early": (1970, 1974)}``
  gives a window mean labelled with the key you chose (``"early"``).

Two predictors with the same label are a :class:`SpecificationError`.

Missing values
--------------
As Synth (``mean(..., na.rm = TRUE)``) a predictor is the mean over the
periods of its window where the unit's cell is observed; a missing
(unit, period) row counts as a missing cell.  A unit with no observed value
in a window is a :class:`DataError` naming the column, the unit and the
window.  Periods that do not occur in the data at all are a
:class:`SpecificationError` naming them.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ._validate import _py, window_order_error
from .errors import DataError, SpecificationError

__all__ = ["Predictors", "build_predictors"]


@dataclass(frozen=True)
class Predictors:
    """Predictor matrices in Synth's layout.

    Attributes
    ----------
    X1 : pandas.Series
        Predictor label -> value for the treated unit (the mean over the
        treated units if several were given).
    X0 : pandas.DataFrame
        Predictors (rows, in ``names`` order) x donors (columns, in the order
        given to :func:`build_predictors`).
    names : list of str
        Row labels; see the module docstring for the convention.
    windows : dict
        Label -> tuple of the periods the predictor averages over (as
        requested, in time order; missing cells are skipped per unit).
    treated_values : pandas.DataFrame or None
        Predictors x treated units, one column per treated unit (``X1`` is its
        row mean).  Used by :meth:`scaled` so that the standard deviation runs
        over every unit.  ``None`` means "``X1`` is the only treated column".
    """

    X1: pd.Series
    X0: pd.DataFrame
    names: list[str]
    windows: dict
    treated_values: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    columns: dict | None = field(default=None, repr=False, compare=False)
    origins: dict | None = field(default=None, repr=False, compare=False)

    def table(self) -> pd.DataFrame:
        """Predictors x units: the treated unit(s), then the donors (raw, unscaled values)."""
        treated = self.treated_values if self.treated_values is not None else self.X1.to_frame()
        return pd.concat([treated, self.X0], axis=1)

    def scaled(self) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
        """Divide every predictor by its standard deviation across all units.

        This is Synth's normalisation in ``Synth::synth``:
        ``divisor <- sqrt(apply(cbind(X0, X1), 1, var))``, i.e. the sample
        standard deviation (``ddof=1``) of each row over the donors and the
        treated unit(s).  With several treated units each treated unit counts
        as one unit (Synth supports only one).

        Returns
        -------
        X1s : pandas.Series
            ``X1 / divisor``.
        X0s : pandas.DataFrame
            ``X0`` with each row divided by its divisor.
        divisor : pandas.Series
            Predictor label -> standard deviation used.

        Raises
        ------
        SpecificationError
            If a predictor has zero (or undefined) spread across units, since
            it cannot be scaled; the message names the predictor(s).
        """
        treated = self.treated_values
        if treated is None:
            treated = self.X1.to_frame()
        allunits = pd.concat([self.X0, treated.set_axis(
            [f"__treated_{i}" for i in range(treated.shape[1])], axis=1)], axis=1)
        divisor = allunits.std(axis=1, ddof=1)
        bad = [str(n) for n in divisor.index
               if not np.isfinite(divisor[n]) or divisor[n] == 0.0]
        if bad:
            raise SpecificationError(
                "cannot scale predictor(s) with zero standard deviation across units: "
                + ", ".join(repr(b) for b in bad))
        divisor = divisor.rename("sd")
        return self.X1 / divisor, self.X0.div(divisor, axis=0), divisor


# ---------------------------------------------------------------------------
# helpers


def _fmt_period(p: Any) -> str:
    if isinstance(p, (float, np.floating)) and float(p).is_integer():
        return str(int(p))
    if isinstance(p, pd.Timestamp):
        return p.strftime("%Y-%m-%d")
    return str(p)


def _special_label(column: str, periods: Sequence) -> str:
    if len(periods) == 1:
        return f"special.{column}.{_fmt_period(periods[0])}"
    return f"special.{column}.{_fmt_period(min(periods))}.{_fmt_period(max(periods))}"


def _is_scalar_period(x: Any) -> bool:
    return not isinstance(x, (Iterable, Mapping)) or isinstance(x, (str, bytes, pd.Timestamp))


def _as_list(x: Any) -> list:
    """A unit id or a collection of unit ids, as a list."""
    if x is None:
        return []
    if _is_scalar_period(x):
        return [x]
    return list(x)


class _Panel:
    """Read-only view of the long data used to evaluate windows."""

    def __init__(self, data: pd.DataFrame, unit: str, time: str):
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        for col, role in ((unit, "unit"), (time, "time")):
            if col not in data.columns:
                raise DataError(f"{role} column {col!r} not found in data")
        keys = data[[unit, time]]
        if keys.isna().any().any():
            col = unit if keys[unit].isna().any() else time
            raise DataError(f"column {col!r} has missing values")
        dup = keys.duplicated()
        if dup.any():
            u, t = (_py(v) for v in keys[dup].iloc[0])
            raise DataError(
                f"duplicate rows for unit {u!r} at period {t!r} (columns {unit!r}, {time!r})")
        self.data = data
        self.unit = unit
        self.time = time
        self.periods = pd.Index(pd.unique(keys[time])).sort_values()
        self._period_set = set(self.periods.tolist())
        # position of each period in the data's period order: windows compare periods by it, so
        # labels ordered by a Panel's time_order (an ordered categorical) compare by that order
        self._pos = {p: i for i, p in enumerate(self.periods.tolist())}
        self.units = set(pd.unique(keys[unit]).tolist())
        self._wide: dict[str, pd.DataFrame] = {}

    def wide(self, column: str) -> pd.DataFrame:
        """units x periods table of ``column`` (a copy; the caller's frame is untouched)."""
        if column not in self._wide:
            if column not in self.data.columns:
                raise DataError(f"column {column!r} not found in data")
            if column in (self.unit, self.time):
                raise SpecificationError(
                    f"column {column!r} is the unit or time column and cannot be a predictor")
            values = self.data[column]
            if is_bool_dtype(values):
                raise DataError(
                    f"column {column!r} is not numeric (dtype {values.dtype}); "
                    "predictors must be numeric")
            if is_numeric_dtype(values):
                v = values.to_numpy(dtype=float, na_value=np.nan)
            else:  # an object column of numbers is fine; anything else is named
                from .panel import numeric_values
                v = numeric_values(values, f"column {column!r}",
                                   "is not numeric (dtype {dtype}); predictors must be numeric")
            frame = pd.DataFrame({"u": self.data[self.unit].to_numpy(),
                                  "t": self.data[self.time].to_numpy(),
                                  "v": v})
            self._wide[column] = frame.pivot(index="u", columns="t", values="v")
        return self._wide[column]

    def window(self, spec: Any, what: str, *, tuple_is_range: bool = True) -> tuple:
        """Resolve a window specification into a tuple of periods present in the data.

        ``(start, end)`` (when ``tuple_is_range``): every period of the data
        between the two, inclusive; with integer periods every integer in
        between must occur in the data.  A list / range / other iterable:
        exactly those periods.  A scalar: that single period.
        """
        if isinstance(spec, tuple) and tuple_is_range:
            if len(spec) != 2:
                raise SpecificationError(
                    f"window for {what} must be an inclusive (start, end) pair, a list of "
                    f"periods or a single period; got the tuple {spec!r}")
            start, end = spec
            integer = (isinstance(start, numbers.Integral) and isinstance(end, numbers.Integral)
                       and pd.api.types.is_integer_dtype(self.periods))
            if integer:
                if start > end:
                    raise window_order_error(f"window for {what}", spec, start, end)
                wanted = list(range(int(start), int(end) + 1))
            else:
                wanted = [start, end]  # endpoints must exist; interior = data's periods
            self._check_present(wanted, what)
            i, j = self._pos[start], self._pos[end]
            if i > j:
                raise window_order_error(f"window for {what}", spec, start, end)
            periods = list(self.periods[i:j + 1])
        elif _is_scalar_period(spec):
            periods = [spec]
            self._check_present(periods, what)
        else:
            periods = list(spec)
            if not periods:
                raise SpecificationError(f"window for {what} is empty")
            self._check_present(periods, what)
            if len(set(periods)) != len(periods):
                raise SpecificationError(f"window for {what} lists a period twice: {periods!r}")
            periods = sorted(periods, key=self._pos.__getitem__)
        return tuple(_py(p) for p in periods)

    def _check_present(self, periods: list, what: str) -> None:
        try:
            absent = [p for p in periods if p not in self._period_set]
        except TypeError as exc:  # unhashable period
            raise SpecificationError(f"window for {what} has invalid periods: {exc}") from None
        if absent:
            raise SpecificationError(
                f"window for {what} includes period(s) not in the data "
                f"(column {self.time!r}): {', '.join(map(repr, absent))}")

    def mean(self, column: str, periods: tuple, units: list, label: str) -> pd.Series:
        """Per-unit mean of ``column`` over ``periods`` ignoring missing cells."""
        table = self.wide(column).reindex(index=units, columns=list(periods))
        values = table.mean(axis=1, skipna=True)
        empty = [_py(u) for u in values.index[values.isna()]]
        if len(empty):
            raise DataError(
                f"column {column!r} has no observed value for unit {empty[0]!r} in the window "
                f"{_fmt_window(periods)} of predictor {label!r}"
                + (f" (also units {', '.join(map(repr, empty[1:]))})" if len(empty) > 1 else ""))
        return values


def _fmt_window(periods: tuple) -> str:
    if len(periods) == 1:
        return _fmt_period(periods[0])
    return "[" + ", ".join(_fmt_period(p) for p in periods) + "]"


# ---------------------------------------------------------------------------
# public entry point


def build_predictors(
    data: pd.DataFrame,
    unit: str,
    time: str,
    treated: Any,
    donors: Sequence,
    *,
    covariates: Sequence[str] | Mapping[str, Any] | None = None,
    predictor_window: Any = None,
    special: Sequence[tuple] | None = None,
    outcome: str | None = None,
    outcome_lags: Sequence | Mapping[str, Any] | None = None,
    pre_periods: Any = None,
) -> Predictors:
    """Build Synth-style predictor matrices ``X1`` / ``X0`` from long data.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per (unit, period).  Never modified.
    unit, time : str
        Names of the unit and period columns.
    treated : unit id or list of unit ids
        Treated unit(s).  With several, ``X1`` is the mean of their values.
    donors : sequence of unit ids
        Donor pool; ``X0`` has one column per donor in this order.
    covariates : list of str or dict, optional
        A list: each column averaged over ``predictor_window`` (label: the
        column name).  A dict ``{column: window}``: each column over its own
        window, where ``window`` is an inclusive ``(start, end)`` pair, a list
        (or range) of periods, or a single period (label
        ``"special.<column>.<first>[.<last>]"``).
    predictor_window : (start, end) or list of periods, optional
        Window of the list-form ``covariates``; defaults to ``pre_periods``
        (Synth's ``time.predictors.prior``).
    special : list of (column, periods, op) triples, optional
        Synth's ``special.predictors`` verbatim: ``periods`` is a list, a
        ``range`` or a single period (a tuple is refused as ambiguous: in R
        ``c(1984, 1988)`` means two periods, here ``(a, b)`` means a range
        elsewhere); ``op`` must be ``"mean"``.
    outcome : str, optional
        Outcome column, required by ``outcome_lags``.
    outcome_lags : list of periods or dict, optional
        A list: one predictor per period, the outcome at that period (label
        ``"special.<outcome>.<period>"``).  A dict ``{name: window}``: the
        mean of the outcome over the window, labelled ``name``.
    pre_periods : (start, end) or list of periods, optional
        Pre-treatment periods; the default ``predictor_window``.

    Returns
    -------
    Predictors

    Raises
    ------
    DataError
        Missing or non-numeric column, duplicate (unit, period) rows, or a
        unit with no observed value in a window (names column, unit, window).
    SpecificationError
        Unknown or overlapping treated/donor units, window periods absent from
        the data, malformed specifications, no predictors, duplicate labels.
    """
    panel = _Panel(data, unit, time)

    treated_units = _as_list(treated)
    donor_units = _as_list(donors)
    if not treated_units:
        raise SpecificationError("no treated unit given")
    if not donor_units:
        raise SpecificationError("no donor units given")
    for role, units in (("treated", treated_units), ("donor", donor_units)):
        if len(set(units)) != len(units):
            raise SpecificationError(f"a {role} unit is listed twice: {units!r}")
        unknown = [u for u in units if u not in panel.units]
        if unknown:
            raise SpecificationError(
                f"{role} unit(s) not in column {unit!r}: {', '.join(map(repr, unknown))}")
    both = [u for u in donor_units if u in set(treated_units)]
    if both:
        raise SpecificationError(
            f"unit(s) both treated and donor: {', '.join(map(repr, both))}")

    # (label, column, periods) in Synth's row order; origins: label -> the entry of the
    # specification that made it (a covariate's name, an outcome lag's period or key)
    specs: list[tuple[str, str, tuple]] = []
    origins: dict = {}

    if covariates is not None:
        if isinstance(covariates, str):
            raise SpecificationError(
                f"covariates must be a list or a dict of column names, got the string {covariates!r}")
        if isinstance(covariates, Mapping):
            for col, win in covariates.items():
                periods = panel.window(win, f"covariate {col!r}")
                specs.append((_special_label(col, periods), col, periods))
                origins[specs[-1][0]] = col
        else:
            cov_list = list(covariates)
            if cov_list:
                win = predictor_window if predictor_window is not None else pre_periods
                if win is None:
                    raise SpecificationError(
                        "covariates given as a list need predictor_window or pre_periods")
                periods = panel.window(win, "predictor_window")
                for col in cov_list:
                    if not isinstance(col, str):
                        raise SpecificationError(f"covariate names must be strings, got {col!r}")
                    specs.append((col, col, periods))
                    origins[col] = col

    for item in special or []:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise SpecificationError(
                f"each special predictor must be a (column, periods, 'mean') triple, got {item!r}")
        col, win, op = item
        if op != "mean":
            raise SpecificationError(
                f"special predictor {col!r}: only the 'mean' operation is supported, got {op!r}")
        if isinstance(win, tuple):
            raise SpecificationError(
                f"special predictor {col!r}: give the periods as a list or range, not the tuple "
                f"{win!r} (ambiguous: (start, end) range or two periods?)")
        periods = panel.window(win, f"special predictor {col!r}", tuple_is_range=False)
        specs.append((_special_label(col, periods), col, periods))
        origins[specs[-1][0]] = col

    if outcome_lags is not None:
        if outcome is None:
            raise SpecificationError("outcome_lags needs outcome (the outcome column)")
        if isinstance(outcome_lags, Mapping):
            for name, win in outcome_lags.items():
                periods = panel.window(win, f"outcome lag {name!r}")
                specs.append((str(name), outcome, periods))
                origins[str(name)] = name
        else:
            lags = [outcome_lags] if _is_scalar_period(outcome_lags) else list(outcome_lags)
            for p in lags:
                periods = panel.window(p, f"outcome lag {_fmt_period(p)}")
                specs.append((_special_label(outcome, periods), outcome, periods))
                origins[specs[-1][0]] = p

    if not specs:
        raise SpecificationError(
            "no predictors: give covariates, special and/or outcome_lags")
    names = [s[0] for s in specs]
    seen: set[str] = set()
    dups = [n for n in names if n in seen or seen.add(n)]
    if dups:
        raise SpecificationError(f"duplicate predictor label(s): {', '.join(map(repr, dups))}")

    all_units = treated_units + donor_units
    rows = {}
    for label, col, periods in specs:
        rows[label] = panel.mean(col, periods, all_units, label)
    table = pd.DataFrame(rows).T  # predictors x units
    table = table.reindex(index=names)

    treated_values = table[treated_units].copy()
    treated_values.columns = pd.Index(treated_units, name=unit)
    x1 = treated_values.mean(axis=1)
    x1.name = treated_units[0] if len(treated_units) == 1 else "treated"
    x1.index.name = "predictor"
    x0 = table[donor_units].copy()
    x0.columns = pd.Index(donor_units, name=unit)
    x0.index.name = "predictor"
    treated_values.index.name = "predictor"
    windows = {label: periods for label, _, periods in specs}
    return Predictors(X1=x1, X0=x0, names=names, windows=windows,
                      treated_values=treated_values, columns={label: col for label, col, _ in specs},
                      origins=origins)
