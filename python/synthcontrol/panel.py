"""Long data -> a validated unit x period panel.

This is the only module that knows about DataFrame layout.  Everything
downstream works on the arrays held by :class:`Panel`:

* ``Y``: ``(T, N)`` float array, one column per unit (``units``), one row per
  period (``times``);
* ``y_treated``: the treated unit's series, or the mean of a treated group;
* ``X_donors``: ``(T, J)`` donors' series (columns follow ``donors``);
* ``T0``: number of pre-treatment periods (periods before ``treatment_time``).

The caller's DataFrame is never modified: every operation works on copies of
the columns it needs.
"""
from __future__ import annotations

import datetime as _dt
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validate import _py, check_choice
from .errors import DataError, SpecificationError

__all__ = ["Panel"]  # user-level logs: synthcontrol.events

_FILL_POLICIES = (None, "interpolate")
_AGGREGATES = ("mean",)


def _fmt_list(items, limit=5):
    items = list(items)
    shown = ", ".join(repr(_py(x)) for x in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return shown


# pandas >= 3 (or copy-on-write switched on): a shallow copy of a frame is already a snapshot --
# a later edit of either frame copies the data it changes
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(pd.options.mode.copy_on_write is True)


def _has_missing(col: pd.Series) -> bool:
    """Whether a column has a missing value (float columns: a NaN test on the array)."""
    dt = col.dtype
    if isinstance(dt, np.dtype):  # numpy dtypes (nullable extension dtypes take the general path)
        if dt.kind == "f":
            return bool(np.isnan(col.to_numpy()).any())
        if dt.kind in "iub":
            return False
    return bool(col.isna().any())


def _require_columns(df, cols, what="data"):
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"column(s) {_fmt_list(missing)} not found in {what}; "
            f"available columns: {_fmt_list(df.columns, limit=20)}"
        )
    for c in (() if df.columns.is_unique else dict.fromkeys(cols)):
        n = int((df.columns == c).sum())
        if n > 1:
            raise DataError(f"column {c!r} appears {n} times in {what}; column names must be unique")
    if len(df) == 0:
        raise DataError(f"{what} has no rows")


def _check_roles(roles: dict):
    """``roles``: role -> column name (None: not used).  A column may play one role only."""
    seen = {}
    for role, col in roles.items():
        if col is None:
            continue
        try:
            hash(col)
        except TypeError:
            raise SpecificationError(f"{role} must be a column name, got {col!r}") from None
        if col in seen:
            raise SpecificationError(
                f"column {col!r} is used for two roles ({seen[col]} and {role}); each role needs its "
                f"own column")
        seen[col] = role


# ISO 8601 dates and date-times without a zone: 2020-01, 2020-01-31, 2020-01-31 12:00[:00[.000]]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?$")
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_AFFIX_INT = re.compile(r"^(\D*)(\d+)(\D*)$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _parse_number(text: str):
    """'20' -> 20, '2.5' -> 2.5, '1e3' -> 1000.0; anything else (words, 'nan', 'inf') -> None."""
    t = text.strip()
    if _INT_TEXT.match(t):
        return int(t)
    if _FLOAT_TEXT.match(t):
        v = float(t)
        return v if np.isfinite(v) else None
    return None


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and v != v)


def _time_order_list(time_order) -> list:
    if isinstance(time_order, (str, bytes, dict, set, frozenset)) or not isinstance(time_order, Iterable):
        raise SpecificationError(
            f"time_order must be a list of the period labels in period order, got {time_order!r}")
    order = [_py(x) for x in time_order]
    if not order:
        raise SpecificationError("time_order is empty; list the period labels in period order")
    try:
        seen = set()
        dups = [x for x in order if x in seen or seen.add(x)]
    except TypeError:
        raise SpecificationError(f"time_order must list period labels (text, numbers or dates), got "
                                 f"{time_order!r}") from None
    if dups:
        raise SpecificationError(f"time_order lists {_fmt_list(dict.fromkeys(dups))} more than once")
    return order


def _normalize_time(s: pd.Series, column, time_order=None) -> tuple[pd.Series, list]:
    """The time column with periods that sort in the order of their meaning.  Returns the
    (converted) column and the notes for the panel's validation report.

    * ``time_order`` given: the labels, ordered as listed (an ordered categorical);
    * numbers and dates (``datetime64``, with or without time zone) are kept;
    * an ordered categorical column keeps its categories' order;
    * text that reads as numbers (``"1"``, ``"20"``, ``"2.5"``) becomes numbers, ISO 8601 text
      (``"2020-01-31"``) becomes dates, an object column of numbers or dates becomes numbers or dates;
    * text with one prefix / suffix around numbers of one width (``"P01"`` .. ``"P12"``) keeps its
      labels, ordered by their numbers (an ordered categorical: its text order is that order);
    * anything else (``"1q"``, ``"Jan"``, mixed types) cannot be ordered by its meaning: a
      :class:`DataError` that asks for ``time_order``.
    """
    notes = []
    if time_order is not None:
        order = _time_order_list(time_order)
        listed_labels = set(order)  # built once: the checks below are linear in rows + labels

        def is_listed(v):
            try:
                return v in listed_labels
            except TypeError:  # an unhashable cell is not a label
                return False

        try:
            listed = s.isin(order)
        except TypeError:
            listed = s.map(is_listed).astype(bool)
        if not listed.all():
            try:
                missing = pd.unique(s[~listed])
            except TypeError:  # unhashable cells: shown as they come
                missing = s[~listed].tolist()
            raise DataError(
                f"time column {column!r} has value(s) {_fmt_list(missing)} that time_order does not list; "
                f"time_order must list every period label of the column, in period order")
        present = set(pd.unique(s).tolist())
        absent = [x for x in order if x not in present]
        out = pd.Series(pd.Categorical(s, categories=order, ordered=True), index=s.index, name=s.name)
        notes.append(f"time column {column!r}: periods ordered as listed in time_order"
                     + (f" ({len(absent)} listed label(s) have no rows: {_fmt_list(absent)})" if absent else ""))
        return out, notes
    dt = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dt) or isinstance(dt, (pd.PeriodDtype,)) \
            or pd.api.types.is_timedelta64_dtype(dt):
        return s, notes
    if isinstance(dt, pd.CategoricalDtype):
        if dt.ordered:
            notes.append(f"time column {column!r}: periods ordered by the column's (ordered) categories")
            return s, notes
        s = s.astype(object)
        dt = s.dtype
    if pd.api.types.is_numeric_dtype(dt):
        return s, notes
    values = pd.unique(s)
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        out = pd.to_numeric(s)
        notes.append(f"time column {column!r}: numbers stored as objects, read as numbers")
        return out, notes
    if all(isinstance(v, str) for v in values):
        nums = [_parse_number(v) for v in values]
        if all(n is not None for n in nums):
            by_number = {}
            for v, n in zip(values, nums):
                by_number.setdefault(n, []).append(v)
            clash = next((labels for labels in by_number.values() if len(labels) > 1), None)
            if clash is not None:
                raise DataError(
                    f"time column {column!r}: the labels {_fmt_list(clash)} are different text for the same "
                    f"number {_parse_number(clash[0])!r}; make each period's label unique")
            whole = all(isinstance(n, int) or float(n).is_integer() for n in nums)
            mapping = {v: (int(n) if whole else float(n)) for v, n in zip(values, nums)}
            out = s.map(mapping).astype("int64" if whole else "float64")
            ex = ", ".join(f"{v!r} -> {mapping[v]!r}" for v in values[:2])
            notes.append(f"time column {column!r}: text labels read as numbers ({ex}, ...) and ordered "
                         f"numerically, not alphabetically")
            return out, notes
        if all(_ISO_DATE.match(v.strip()) for v in values):
            try:
                out = pd.to_datetime(s.str.strip(), format="ISO8601")
            except (ValueError, TypeError) as e:
                raise DataError(f"time column {column!r} holds text that looks like dates but is not: "
                                f"{e}") from None
            notes.append(f"time column {column!r}: ISO 8601 text (e.g. {values[0]!r}) read as dates and "
                         f"ordered in time")
            return out, notes
        affix = [_AFFIX_INT.match(v) for v in values]
        if all(affix) and len({(m.group(1), m.group(3)) for m in affix}) == 1 \
                and len({len(m.group(2)) for m in affix}) == 1:
            # 'P01' .. 'P12', 'week07': one prefix / suffix around numbers of one width, so the text
            # order is the numeric order; an ordered categorical makes every later comparison (and
            # treatment_time, windows: labels of the column) follow it
            order = sorted(values)
            out = pd.Series(pd.Categorical(s, categories=order, ordered=True), index=s.index, name=s.name)
            notes.append(f"time column {column!r}: labels {order[0]!r} .. {order[-1]!r} (one prefix/suffix "
                         f"around fixed-width numbers) ordered by their numbers; pass time_order= to order "
                         f"them otherwise")
            return out, notes
        shown = _fmt_list(sorted(values)[:4], limit=4)
        raise DataError(
            f"time column {column!r} holds text labels ({shown}, ...) that are neither numbers nor ISO dates "
            f"(nor fixed-width numbers with one prefix/suffix), so their order cannot be read from them "
            f"(as text, '10' sorts before '9'). Pass "
            f"time_order=[...] listing every label in period order (command line: --time-order), or "
            f"convert the column to numbers or dates")
    if all(isinstance(v, (_dt.date, np.datetime64)) for v in values):
        try:
            out = pd.to_datetime(s)
        except (ValueError, TypeError) as e:
            raise DataError(f"time column {column!r} holds dates that cannot be read: {e}") from None
        notes.append(f"time column {column!r}: date objects read as dates")
        return out, notes
    kinds = sorted({type(v).__name__ for v in values})
    raise DataError(
        f"time column {column!r} mixes values of types {', '.join(kinds)} (e.g. {_fmt_list(values[:3], 3)}), "
        f"which have no common order; make the column all numbers, all dates, or pass time_order=[...]")


def _sorted_labels(s: pd.Series):
    """``(the distinct labels, sorted when they can be; each row's position, -1 where missing)``
    by one hash pass (pd.factorize) and a sort of the distinct labels only."""
    codes, uniq = pd.factorize(s)
    uniq = pd.Index(uniq)
    try:
        order = uniq.argsort()
    except TypeError:  # labels of types without a common order keep their first-seen order
        return uniq, codes
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    # Index.take, not uniq[order]: for Arrow-backed strings __getitem__ is ~10x slower
    return uniq.take(order), np.where(codes < 0, -1, rank[np.maximum(codes, 0)])


def _positions(times: pd.Index, tcol: pd.Series) -> np.ndarray:
    """Each row's period position in ``times`` (which holds every value of ``tcol``, sorted): a
    binary search for plain numeric periods, the Index's hash lookup otherwise."""
    if times.dtype.kind in "iuf" and not isinstance(times, pd.CategoricalIndex) and times.is_monotonic_increasing:
        return np.searchsorted(times.to_numpy(), tcol.to_numpy()).astype(np.intp, copy=False)
    return times.get_indexer(tcol)


def _sorted_periods(s: pd.Series, column) -> pd.Index:
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu":  # plain integers (years, weeks): sort directly
        return pd.Index(np.unique(s.to_numpy()))
    try:
        return pd.Index(pd.unique(s)).sort_values()
    except TypeError as e:
        raise DataError(f"time column {column!r} has values that cannot be ordered: {e}") from None


def numeric_values(s: pd.Series, what: str, phrase: str = "must be numeric, got dtype {dtype}") -> np.ndarray:
    """A column of numbers -> float array (NaN where missing).

    Numeric and boolean dtypes, and object columns holding only numbers (and None / NaN) are
    accepted; anything else raises :class:`DataError` naming the first value that is not a number
    and its row.  Text is not read as numbers here: a number stored as text in a value column
    usually means a column that did not parse."""
    dt = s.dtype
    if isinstance(dt, np.dtype) and dt.kind in "fiu":  # numpy numbers: NaN already marks the missing
        return np.array(s.to_numpy(), dtype=float)  # a copy: never a view of the caller's column
    if pd.api.types.is_bool_dtype(dt) or (pd.api.types.is_numeric_dtype(dt)
                                          and not pd.api.types.is_complex_dtype(dt)):
        return s.to_numpy(dtype=float, na_value=np.nan)
    vals = s.to_numpy(dtype=object)
    for i, v in enumerate(vals):
        if _is_missing(v) or (isinstance(v, numbers.Real)):
            continue
        raise DataError(f"{what} {phrase.format(dtype=dt)}; first non-numeric value: {_py(v)!r} "
                        f"(row {_py(s.index[i])!r})")
    return np.array([np.nan if _is_missing(v) else float(v) for v in vals], dtype=float)


def period_key(times: pd.Index):
    """A function mapping a period label (converted by :func:`coerce_period`) to a key that sorts in
    the panel's period order: the label itself, or its rank for labels ordered by ``time_order``."""
    if isinstance(times.dtype, pd.CategoricalDtype):
        return times.dtype.categories.get_loc
    return lambda v: v


def _n_before(times: pd.Index, value) -> int:
    """How many periods of ``times`` come strictly before ``value`` (in the panel's order)."""
    if times.dtype.kind in "iuf" and isinstance(value, numbers.Real):
        return int(np.count_nonzero(times.to_numpy() < value))
    return int(np.count_nonzero(np.asarray(times < value)))


def _as_label_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        return [x]
    return list(x)


def _check_outcome_values(values: np.ndarray, units, times, outcome: str):
    """values: (T, N) float array possibly containing NaN (missing cells)."""
    bad = np.isinf(values)
    if bad.any():
        t, n = np.argwhere(bad)[0]
        raise DataError(
            f"outcome column {outcome!r} has {int(bad.sum())} infinite value(s), "
            f"first at unit {_py(units[n])!r}, period {_py(times[t])!r}"
        )


def _interpolate_columns(M: np.ndarray) -> np.ndarray:
    """Linear interpolation by position down each column, constant at the edges.

    Equivalent to pandas' ``interpolate(method="linear").ffill().bfill()`` on a
    period x unit table.  Columns with no observed value stay NaN.
    """
    out = M.copy()
    pos = np.arange(M.shape[0], dtype=float)
    for j in np.flatnonzero(np.isnan(M).any(axis=0)):
        col = M[:, j]
        ok = ~np.isnan(col)
        if ok.any():
            out[:, j] = np.interp(pos, pos[ok], col[ok])
    return out


@dataclass(frozen=True)
class _Treatment:
    units: tuple
    time: object  # first treated period label, or None (no treatment / design)


class Panel:
    """A validated balanced panel: units x periods, with the treatment assignment.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period.  Never modified.
    unit, time, outcome : str
        Column names, one role each.  Periods are ordered by their meaning, never as text:
        numbers and dates (``datetime64``, with or without time zone) are used as they are; text
        that reads as numbers (``"1"`` .. ``"31"``) becomes numbers and ISO 8601 text
        (``"2020-01-31"``) becomes dates, each conversion noted in :attr:`validation`; an ordered
        categorical column keeps its categories' order.  Other text (``"1q"``, ``"Jan"``) has no
        order of its own: give ``time_order``, or a :class:`DataError` says so.
    treat : str, optional
        Name of a 0/1 column: 1 from the first treated period on.  All treated
        units must start at the same period and stay treated.
    treated : label or list of labels, optional
        Alternative to ``treat``: the treated unit(s) ...
    treatment_time : period label, optional
        ... and the first treated period.  Without it (and without ``treat``)
        the panel has no post-period: allowed for design, an error for
        estimation.  Converted like the periods: ``"1989"`` or ``1989`` for
        integer years, a date or date text for dates (a date without a time
        zone is read in the column's zone), one of the ``time_order`` labels.
    donors : list of labels, optional
        The donor pool (default: every unit that is never treated).
    aggregate : {"mean"}
        How a treated group is turned into one series.
    fill : {None, "interpolate"}
        Missing cells (absent rows or NaN outcomes) are an error by default;
        ``"interpolate"`` fills them within each unit by linear interpolation
        between neighbouring observed periods (by position in the period order,
        as pandas' ``interpolate(method="linear")``; equal spacing assumed) and
        carries the first/last observed value to the edges.
    time_order : list of labels, optional
        The periods in order, for labels whose order cannot be read from them
        (``["Q1 2020", "Q2 2020", ...]``, ``["1q", "2q", ..., "31q"]``).  Every
        label of the column must be listed; windows and ``treatment_time`` are
        then labels of this list, compared by their position in it.

    Attributes
    ----------
    units, times : pandas.Index
    Y : (T, N) ndarray
    treated_units : tuple
    treatment_time : label or None
    T0 : int
    donors : pandas.Index
    y_treated : (T,) ndarray
    X_donors : (T, J) ndarray
    n_filled : int, cells filled by the fill policy
    validation : tuple of str
        The validation report: what was converted on the way in (text
        periods read as numbers or dates, the order used); filled cells are
        counted in ``n_filled``.  A panel built from user-level logs
        (:func:`synthcontrol.panel_from_events`) also says how many events each
        cell averages.
    cell_counts : pandas.DataFrame or None
        For a panel built from user-level logs: the events per cell (periods x
        units), e.g. users per workspace-week; None otherwise.
    """

    def __init__(self, data, unit, time, outcome, treat=None, treated=None,
                 treatment_time=None, donors=None, aggregate="mean", fill=None, time_order=None):
        _check_roles({"unit": unit, "time": time, "outcome": outcome, "treat": treat})
        _require_columns(data, [unit, time, outcome] + ([treat] if treat is not None else []))
        _check_options(fill, aggregate)
        if treat is not None and (treated is not None or treatment_time is not None):
            raise SpecificationError(
                "give the treatment either as a 0/1 column (treat=...) or as "
                "treated=... with treatment_time=..., not both")
        # columns are read, never written: the caller's frame is untouched (and copied below for
        # covariates); the cells are built from integer codes, not from a copied frame
        y = _numeric_outcome(data, outcome)
        ucol = data[unit]
        tser = data[time]  # each column read once (a column access builds a Series)
        units, ui = _sorted_labels(ucol)  # ui < 0: a missing unit
        for c, col in ((unit, None), (time, tser)):
            missing = (ui < 0) if col is None else (col.isna().to_numpy() if _has_missing(col) else None)
            if missing is not None and missing.any():
                i = data.index[missing][0]
                raise DataError(f"column {c!r} has missing values (first at row {_py(i)!r})")
        tcol, notes = _normalize_time(tser, time, time_order)

        times = _sorted_periods(tcol, time)
        ti = _positions(times, tcol)
        T, N = len(times), len(units)
        cell = ti.astype(np.int64) * N + ui
        if np.bincount(cell, minlength=T * N).max(initial=0) > 1:
            dup = pd.Series(cell).duplicated(keep=False).to_numpy()
            pairs = pd.DataFrame({unit: ucol.to_numpy()[dup], time: tcol.to_numpy()[dup]}).drop_duplicates().head(5)
            shown = "; ".join(f"{unit}={_py(u)!r}, {time}={_py(t)!r}" for u, t in pairs.itertuples(index=False))
            raise DataError(
                f"{int(dup.sum())} rows share a ({unit}, {time}) pair; each unit-period must appear "
                f"once. Duplicated: {shown}. Aggregate them first (e.g. groupby().mean()).")
        vals = np.full((T, N), np.nan)
        vals[ti, ui] = y
        present = np.zeros((T, N), dtype=bool)
        present[ti, ui] = True
        _check_outcome_values(vals, units, times, outcome)

        absent = ~present
        if absent.any() and fill is None:
            t, n = np.argwhere(absent)[0]
            raise DataError(
                f"unbalanced panel: {int(absent.sum())} unit-period row(s) are absent, first: "
                f"unit {_py(units[n])!r} has no row for period {_py(times[t])!r}. "
                f"Add the rows, drop the unit, or pass fill='interpolate'.")
        nan_cells = np.isnan(vals) & present
        if nan_cells.any() and fill is None:
            t, n = np.argwhere(nan_cells)[0]
            raise DataError(
                f"outcome {outcome!r} is missing in {int(nan_cells.sum())} cell(s), first: unit "
                f"{_py(units[n])!r}, period {_py(times[t])!r}. Pass fill='interpolate' to fill "
                f"them by linear interpolation between the neighbouring periods, or drop the unit.")
        n_filled = int(np.isnan(vals).sum())
        if n_filled:
            vals = _interpolate_columns(vals)
            empty = np.isnan(vals).all(axis=0)
            if empty.any():
                raise DataError(
                    f"unit(s) {_fmt_list(units[empty])} have no observed outcome at all; drop them")

        # --- treatment ---------------------------------------------------------------
        if treat is not None:
            tr = _treatment_from_column(data, unit, time, treat, units, times, ui, ti)
        else:
            tr = _treatment_from_labels(treated, treatment_time, units, unit)

        self._init_arrays(unit, time, outcome, units, times, vals, tr, donors, aggregate, n_filled,
                          notes=notes)
        # the caller's frame, copied: covariate predictors are built from it at fit time, and a
        # later edit of the caller's frame must not change a refit.  Its time column is the
        # panel's (periods converted as above), so that predictor windows mean the same periods.
        src = data.copy(deep=not _COPY_ON_WRITE)  # with copy-on-write a shallow copy is a snapshot
        if tcol is not tser:  # the periods were converted
            src[time] = tcol.array
        self.source = src
        self._sealed = True

    def __setattr__(self, name, value):
        if self.__dict__.get("_sealed"):
            raise AttributeError(f"a Panel is immutable (cannot set {name!r}): build a new one with "
                                 f"sc.Panel(...) for other data or settings")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError(f"a Panel is immutable (cannot delete {name!r})")

    # ------------------------------------------------------------------------------
    def _init_arrays(self, unit, time, outcome, units, times, vals, tr, donors, aggregate, n_filled,
                     notes=()):
        self.unit, self.time, self.outcome = unit, time, outcome
        self.validation = tuple(notes)
        self.units, self.times = units, times
        self.aggregate = aggregate
        self.n_filled = n_filled
        self.treated_units = tr.units
        self.treatment_time = tr.time
        if tr.units and tr.time is not None:
            tt = coerce_period(tr.time, times, "treatment_time", time)
            tr = _Treatment(tr.units, tt)
            self.treatment_time = tt
            T0 = _n_before(times, tt)
            if T0 < 2:
                raise DataError(
                    f"fewer than 2 pre-treatment periods: treatment starts at {time}={_py(tr.time)!r} "
                    f"and the data have {T0} period(s) before it (first period {_py(times[0])!r})")
        else:
            T0 = len(times)
        self.T0 = T0

        treated_set = set(tr.units)
        pos = dict(zip(units.tolist(), range(len(units))))
        if donors is None:
            is_treated = np.zeros(len(units), dtype=bool)
            is_treated[[pos[u] for u in tr.units]] = True
            donor_cols = np.flatnonzero(~is_treated)
            donor_labels = units[~is_treated]  # a boolean mask: the cheapest selection of an Index
        else:
            donor_labels = _as_label_list(donors)
            unknown = [u for u in donor_labels if u not in units]
            if unknown:
                raise DataError(f"donor unit(s) {_fmt_list(unknown)} not found in column {unit!r}")
            both = [u for u in donor_labels if u in treated_set]
            if both:
                raise SpecificationError(f"unit(s) {_fmt_list(both)} are both treated and donors")
            if len(set(donor_labels)) != len(donor_labels):
                raise SpecificationError("donors lists a unit twice")
        if tr.units and len(donor_labels) < 2:
            raise DataError(
                f"fewer than 2 donors: the donor pool has {len(donor_labels)} unit(s) "
                f"({_fmt_list(donor_labels)}); a synthetic control needs at least 2")
        if donors is not None:
            donor_cols = np.fromiter((pos[u] for u in donor_labels), dtype=np.intp, count=len(donor_labels))
        # an Index of the labels themselves (as pd.Index(list) would build it: never categorical)
        self.donors = (donor_labels if isinstance(donor_labels, pd.Index)
                       and not isinstance(donor_labels, pd.CategoricalIndex) else pd.Index(list(donor_labels)))
        Y = np.ascontiguousarray(vals, dtype=float)
        Y.setflags(write=False)
        self.Y = Y
        if tr.units:
            cols = [pos[u] for u in tr.units]
            yt = Y[:, cols].mean(axis=1) if len(cols) > 1 else Y[:, cols[0]].copy()
        else:
            yt = None
        if yt is not None:
            yt.setflags(write=False)
        self.y_treated = yt
        Xd = np.ascontiguousarray(Y[:, donor_cols])
        Xd.setflags(write=False)
        self.X_donors = Xd
        self.events = None  # EventSource for panels built from user-level logs
        self.cell_counts = None  # events per cell (periods x units) for panels built from user-level logs
        self.source = None  # the long data with covariate columns (set by Panel.__init__)

    # ------------------------------------------------------------------------------
    @property
    def has_post(self) -> bool:
        return bool(self.treated_units) and self.T0 < len(self.times)

    @property
    def post(self) -> np.ndarray:
        """Boolean mask of the post-treatment periods (read-only)."""
        m = self.__dict__.get("_post")
        if m is None:
            m = np.zeros(len(self.times), dtype=bool)
            m[self.T0:] = True
            m.setflags(write=False)
            object.__setattr__(self, "_post", m)  # a pure value of T0, cached
        return m

    @property
    def treated_label(self) -> str:
        if len(self.treated_units) == 1:
            return str(self.treated_units[0])
        return f"mean of {len(self.treated_units)} treated units"

    @property
    def wide(self) -> pd.DataFrame:
        """Period x unit table of the (filled) outcomes."""
        return pd.DataFrame(np.array(self.Y), index=self.times, columns=self.units)

    def require_estimable(self):
        """Raise unless the panel has treated unit(s), >= 2 pre-periods and a post-period."""
        if not self.treated_units:
            raise SpecificationError(
                "the panel has no treated unit; give treat=... or treated=... with treatment_time=...")
        if not self.has_post:
            raise SpecificationError(
                f"no post-treatment period: treatment_time {_py(self.treatment_time)!r} is after the "
                f"last period {_py(self.times[-1])!r}. A panel without post data can be used for "
                f"design, not for estimating an effect.")

    def __repr__(self):
        tr = self.treated_label if self.treated_units else "none"
        return (f"Panel({len(self.units)} units x {len(self.times)} periods, outcome={self.outcome!r}, "
                f"treated={tr}, treatment_time={_py(self.treatment_time)!r}, T0={self.T0}, "
                f"donors={len(self.donors)}, filled cells={self.n_filled}"
                + (f"; {len(self.validation)} note(s) in .validation" if self.validation else "") + ")")


def coerce_period(value, times: pd.Index, what: str, column: str):
    """``value`` as a period of ``times``' type, so that it compares by meaning.

    Text that reads exactly as a number is that number on a numeric column (``"1989"`` ->
    ``1989``); a date or date text is a ``Timestamp`` on a date column (read in the column's time
    zone when it has none); on a ``time_order`` column the value must be one of the labels.
    Raises :class:`SpecificationError` naming ``what`` (e.g. "treatment_time").
    """
    if isinstance(value, (list, tuple, set, dict, np.ndarray, pd.Series, pd.Index)):
        raise SpecificationError(f"{what} {value!r}: must be a single period of column {column!r}")
    value = _py(value)
    dt = times.dtype
    if isinstance(dt, pd.CategoricalDtype):  # labels ordered by time_order
        try:
            ok = value in dt.categories
        except TypeError:
            ok = False
        if not ok:
            raise SpecificationError(
                f"{what} {value!r} is not one of the period labels of column {column!r} (in period "
                f"order: {_fmt_list(dt.categories)})")
        return value
    if pd.api.types.is_datetime64_any_dtype(dt):
        if isinstance(value, (bool, int, float, np.number)):
            raise SpecificationError(
                f"{what} {value!r} cannot be compared with column {column!r}, whose periods are "
                f"dates; pass a date such as {str(times[0].date())!r}")
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            ts = pd.NaT
        if pd.isna(ts):
            raise SpecificationError(
                f"{what} {value!r} cannot be compared with the dates in column {column!r}")
        tz = getattr(dt, "tz", None)
        if tz is not None:  # a date without a zone is read in the column's zone
            try:
                return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
            except Exception as e:  # noqa: BLE001 -- a local time that does not exist / is ambiguous
                raise SpecificationError(
                    f"{what} {value!r} cannot be read in the time zone {tz} of column {column!r}: {e}; "
                    f"pass a Timestamp with its zone") from None
        if ts.tzinfo is not None:
            raise SpecificationError(
                f"{what} {value!r} has a time zone, but the dates in column {column!r} have none; "
                f"pass it without a time zone")
        return ts
    if pd.api.types.is_numeric_dtype(dt):
        if isinstance(value, str):  # "1989" for integer years, as the R wrapper and the CLI accept
            num = _parse_number(value)
            if num is None:
                raise SpecificationError(
                    f"{what} {value!r} cannot be compared with column {column!r}, whose periods are "
                    f"numbers (e.g. {_py(times[0])!r}); pass a number")
            return num
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise SpecificationError(
                f"{what} {value!r} cannot be compared with column {column!r}, whose periods are "
                f"numbers (e.g. {_py(times[0])!r}); pass a number")
        return value
    try:
        np.searchsorted(times.to_numpy(), value)
        times.to_numpy() < value  # noqa: B015 (comparability check)
    except TypeError:
        raise SpecificationError(f"{what} {value!r} cannot be compared with column {column!r}") from None
    return value


def _numeric_outcome(df, outcome) -> np.ndarray:
    """The outcome column as floats (NaN where missing); see :func:`numeric_values`."""
    return numeric_values(df[outcome], f"outcome column {outcome!r}")


def _treatment_from_labels(treated, treatment_time, units, unit, where="", alt=" (or use a 0/1 treat column)") -> _Treatment:
    tr_units = _as_label_list(treated)
    known = set(units.tolist()) if len(tr_units) else ()  # a hash set: cheaper than Index.__contains__
    unknown = [u for u in tr_units if u not in known and u not in units]
    if unknown:
        raise DataError(
            f"treated unit(s) {_fmt_list(unknown)} not found in column {unit!r}{where}; "
            f"units are: {_fmt_list(units, limit=10)}")
    if len(set(tr_units)) != len(tr_units):
        raise SpecificationError(f"treated lists a unit twice: {_fmt_list(tr_units)}")
    if treatment_time is not None and not tr_units:
        raise SpecificationError("treatment_time given without treated unit(s)")
    if tr_units and treatment_time is None:
        raise SpecificationError(
            f"treated={_fmt_list(tr_units)} given without treatment_time; pass the first "
            f"treated period{alt}")
    return _Treatment(tuple(tr_units), treatment_time)


def _check_options(fill, aggregate):
    check_choice("fill", fill, _FILL_POLICIES)
    check_choice("aggregate", aggregate, _AGGREGATES)


def _treatment_from_column(df, unit, time, treat, units, times, ui, ti) -> _Treatment:
    d = df[treat]
    if d.isna().any():
        i = d.index[d.isna()][0]
        raise DataError(f"treatment column {treat!r} has missing values (first at row {_py(i)!r})")
    ok = d.isin([0, 1, True, False])
    if not ok.all():
        raise DataError(f"treatment column {treat!r} must be 0/1; found value {_py(d[~ok].iloc[0])!r}")
    D = np.full((len(times), len(units)), -1, dtype=np.int8)  # -1: no row (unknown)
    D[ti, ui] = d.to_numpy().astype(np.int8)
    ever = (D == 1).any(axis=0)
    if not ever.any():
        raise DataError(f"treatment column {treat!r} is 0 everywhere: no treated unit")
    starts = {}
    for n in np.flatnonzero(ever):
        col = D[:, n]
        first = int(np.argmax(col == 1))
        if (col[first:] == 0).any():
            off = first + int(np.argmax(col[first:] == 0))
            raise DataError(
                f"treatment switches off: unit {_py(units[n])!r} is treated at {time}="
                f"{_py(times[first])!r} but not at {time}={_py(times[off])!r}; "
                f"synthetic control needs an absorbing treatment")
        starts[units[n]] = first
    firsts = set(starts.values())
    if len(firsts) > 1:
        desc = "; ".join(f"{_py(u)!r} at {_py(times[f])!r}" for u, f in list(starts.items())[:5])
        raise SpecificationError(
            f"treated units start at different periods ({desc}); staggered adoption is not "
            f"supported: analyse each adoption cohort separately")
    return _Treatment(tuple(starts), times[firsts.pop()])
