"""User-level event logs: the panel they make, and the rows kept so the bootstrap can resample users.

:func:`panel_from_events` aggregates a log (one row per event, with its user) into a unit x period
:class:`~synthcontrol.Panel`, keeping an :class:`EventSource`: the cell, outcome and user code of
every row, from which a resample of users is rebuilt as per-cell sums in one pass (a resample is
the users' counts, applied to the rows as weights: the log is never copied).

A log kept on a Dask cluster (a Dask DataFrame, e.g. ``dask.dataframe.read_parquet``) never comes
to this process.  Each partition is read on a worker and turned, once, into the same three arrays,
which stay on that worker; what comes back is small: the units, periods and users seen (for the
codes), and per-cell sums.  The cluster bootstrap then runs where the rows are: for a block of
resamples, each partition's task redraws the resamples' users from the one seeded stream (it
receives the stream's state at the start of each resample, a few bytes) and returns its per-cell
sums; the partitions' sums are added here, in partition order, so the answer does not depend on
which worker ran what (:class:`DaskEventSource`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._validate import _py, check_choice, check_window
from .errors import DataError
from .panel import (Panel, _check_options, _check_roles, _fmt_list, _interpolate_columns, _normalize_time,
                    _numeric_outcome, _require_columns, _sorted_periods, _treatment_from_labels, coerce_period,
                    numeric_values, period_key)

__all__ = ["panel_from_events", "EventSource", "DaskEventSource", "is_dask_frame"]


class EventSource:
    """User-level rows kept with an event panel so it can be rebuilt from a resample.

    Holds, for every row of the original event log, the cell it falls in
    (``-1`` outside the window) and its outcome, plus the cluster (user) each row
    belongs to.  :meth:`rebuild` turns a multiset of clusters into a fresh
    ``(T, N)`` matrix in a few milliseconds.
    """

    def __init__(self, cell, value, cluster_codes, n_clusters, T, N, fill):
        self.cell = cell
        self.value = value
        self.n_clusters = n_clusters
        self.T, self.N = T, N
        self.fill = fill
        order = np.argsort(cluster_codes, kind="stable")
        self._rows_by_cluster = order
        counts = np.bincount(cluster_codes, minlength=n_clusters)
        self._starts = np.concatenate(([0], np.cumsum(counts)))
        self._one_row_each = bool((counts == 1).all())
        self._cluster_codes = cluster_codes

    def rows_for(self, clusters: np.ndarray) -> np.ndarray:
        """Row indices of the given cluster draws (with repetition)."""
        if self._one_row_each:
            return self._rows_by_cluster[clusters]
        starts = self._starts[clusters]
        lens = self._starts[clusters + 1] - starts
        rep = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
        return self._rows_by_cluster[np.arange(lens.sum()) + rep]

    def matrix(self, rows=None) -> tuple[np.ndarray, int]:
        """Mean outcome per cell over ``rows`` (all rows if None); returns (M, n_empty)."""
        cell = self.cell if rows is None else self.cell[rows]
        val = self.value if rows is None else self.value[rows]
        keep = cell >= 0
        cell, val = cell[keep], val[keep]
        size = self.T * self.N
        s = np.bincount(cell, weights=val, minlength=size)
        n = np.bincount(cell, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            M = (s / n).reshape(self.T, self.N)
        n_empty = int((n == 0).sum())
        if n_empty and self.fill == "interpolate":
            M = _interpolate_columns(M)
        return M, n_empty

    def counts(self) -> np.ndarray:
        """Rows per cell, ``(T, N)`` (the events each cell's mean is taken over)."""
        keep = self.cell >= 0
        return np.bincount(self.cell[keep], minlength=self.T * self.N).reshape(self.T, self.N)

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """Cluster bootstrap: draw clusters with replacement, return the rebuilt matrix."""
        draws = rng.integers(0, self.n_clusters, size=self.n_clusters)
        M, _ = self.matrix(self.rows_for(draws))
        return M

    # -- a resample as counts: the rows are weighted by their cluster's count, never copied ------
    def _kept(self):
        k = getattr(self, "_kept_rows", None)
        if k is None:
            keep = self.cell >= 0
            k = self._kept_rows = (self.cell[keep], self.value[keep], self._cluster_codes[keep])
        return k

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_kept_rows"}

    def sums(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell ``(sum of outcomes, number of rows)`` of the resample in which cluster ``c``
        appears ``counts[c]`` times (flat, ``T * N``): the same cells as :meth:`matrix` of
        ``rows_for(draws)``, in one pass over the log and without a copy of it."""
        cell, val, code = self._kept()
        c = counts[code].astype(float)
        size = self.T * self.N
        return (np.bincount(cell, weights=val * c, minlength=size),
                np.bincount(cell, weights=c, minlength=size))

    def matrix_from_sums(self, s, n) -> np.ndarray:
        """The ``(T, N)`` matrix of per-cell means from :meth:`sums` (empty cells filled as the
        panel was)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            M = (s / n).reshape(self.T, self.N)
        if self.fill == "interpolate" and (n == 0).any():
            M = _interpolate_columns(M)
        return M


def panel_from_events(events, unit, time, outcome, cluster=None, treated=None,
                      treatment_time=None, window=None, agg="mean", fill="interpolate",
                      donors=None, treat_aggregate="mean", time_order=None) -> Panel:
    """Aggregate user-level event logs into a unit x period :class:`Panel`.

    Each cell is the mean ``outcome`` of the rows of that unit and period inside
    ``window`` (a half-open ``[start, end)`` range of ``time``); empty cells are
    filled by linear interpolation along the period order with the edges carried (``fill=
    "interpolate"``).  The rows and their ``cluster`` (user id) are kept so
    that :meth:`SCResult.bootstrap` can resample users and rebuild the panel.

    The resampling draws clusters in order of first appearance in ``events``;
    with one row per user this is the same as drawing rows, so a seeded
    bootstrap reproduces a plain ``df.iloc[rng.integers(0, n, n)]`` loop.

    Periods are ordered by their meaning as in :class:`Panel` (text periods that read as numbers
    or ISO dates are converted, other text needs ``time_order``); ``window`` and
    ``treatment_time`` are converted the same way.

    ``events`` may be a Dask DataFrame (``dask.dataframe.read_parquet(...)``) on the current
    ``dask.distributed`` client: the log is then read where it lies, partition by partition, and
    stays there (as arrays); only the unit x period means and the list of users come back, and
    :meth:`SCResult.bootstrap` resamples on the cluster (see docs/parallel.md).
    """
    _check_roles({"unit": unit, "time": time, "outcome": outcome, "cluster": cluster})
    cols = [unit, time, outcome] + ([cluster] if cluster is not None else [])
    if is_dask_frame(events):  # a log kept on a Dask cluster: read there, partition by partition
        check_choice("agg", agg, ("mean",), what="'mean'")
        _check_options(fill, treat_aggregate)
        return panel_from_dask_events(events, unit, time, outcome, cluster, treated, treatment_time, window,
                                      fill, donors, treat_aggregate, time_order)
    _require_columns(events, cols, what="events")
    check_choice("agg", agg, ("mean",), what="'mean'")
    _check_options(fill, treat_aggregate)
    ev = events.loc[:, cols].copy()
    yv = _numeric_outcome(ev, outcome)
    if np.isinf(yv).any():
        i = int(np.flatnonzero(np.isinf(yv))[0])
        raise DataError(
            f"outcome column {outcome!r} has {int(np.isinf(yv).sum())} infinite value(s), first at "
            f"unit {_py(ev[unit].iloc[i])!r}, period {_py(ev[time].iloc[i])!r} (row {_py(ev.index[i])!r})")
    for c in (unit, time):
        if ev[c].isna().any():
            raise DataError(f"column {c!r} has missing values (first at row {_py(ev.index[ev[c].isna()][0])!r})")
    tv, notes = _normalize_time(ev[time], time, time_order)
    ev[time] = tv
    if window is not None:
        tidx = pd.Index(tv.iloc[:1])
        lo, hi = check_window("window", window, allow_open=True, closed="half-open: start <= t < end",
                              coerce=lambda b, what: coerce_period(b, tidx, what, time),
                              key=period_key(tidx))
        inwin = np.ones(len(ev), dtype=bool)
        if lo is not None:
            inwin &= (tv >= lo).to_numpy()
        if hi is not None:
            inwin &= (tv < hi).to_numpy()
    else:
        inwin = np.ones(len(ev), dtype=bool)
    inwin &= ~np.isnan(yv)  # a row without an outcome contributes to no cell
    if not inwin.any():
        raise DataError(f"no event rows with an outcome fall inside window {window!r} of column {time!r}")
    units = pd.Index(pd.unique(ev.loc[inwin, unit]))
    try:
        units = units.sort_values()
    except TypeError:
        pass
    times = _sorted_periods(tv[inwin], time)
    ui = units.get_indexer(ev[unit])
    ti = times.get_indexer(tv)
    cell = np.where(inwin & (ui >= 0) & (ti >= 0), ti * len(units) + ui, -1).astype(np.int64)
    if cluster is not None:
        if ev[cluster].isna().any():
            raise DataError(f"cluster column {cluster!r} has missing values")
        codes, uniq = pd.factorize(ev[cluster], sort=False)
    else:
        codes, uniq = np.arange(len(ev)), np.arange(len(ev))
    src = EventSource(cell, np.nan_to_num(yv), np.asarray(codes, dtype=np.int64), len(uniq),
                      len(times), len(units), fill)
    return _events_panel(src, units, times, unit, time, outcome, treated, treatment_time, donors,
                         treat_aggregate, fill, notes)


def _events_panel(src, units, times, unit, time, outcome, treated, treatment_time, donors,
                  treat_aggregate, fill, notes) -> Panel:
    """The :class:`Panel` of an event source (here, or on a Dask cluster): its cells' means."""
    M, n_empty = src.matrix()
    if n_empty and fill is None:
        t, n = np.argwhere(np.isnan(M))[0]
        raise DataError(
            f"{n_empty} unit-period cell(s) have no events, first: unit {_py(units[n])!r}, "
            f"period {_py(times[t])!r}; pass fill='interpolate'")
    empty = np.isnan(M).all(axis=0)
    if empty.any():
        raise DataError(f"unit(s) {_fmt_list(units[empty])} have no events in the window")

    tr = _treatment_from_labels(treated, treatment_time, units, unit, where=" (inside the window)", alt="")
    C = src.counts()
    notes = tuple(notes) + (_cell_count_note(C, units, unit, time, tr.units, n_empty, fill),)
    _warn_thin_cells(C, unit, time, n_empty)
    p = Panel.__new__(Panel)
    p._init_arrays(unit, time, outcome, units, times, M, tr, donors, treat_aggregate, n_empty, notes=notes)
    p.events = src
    p.cell_counts = pd.DataFrame(C, index=times, columns=units).rename_axis(index=time, columns=unit)
    p._sealed = True
    return p


def _cell_count_note(C, units, unit, time, treated, n_empty, fill) -> str:
    """The validation report's line on how many events each cell averages (the seed tutorial's
    "users per workspace-week"): thin cells make a unit's series noisy, and a treated group's average
    pools many of them, which is why it is smoother than any single donor."""
    per_cell = C.mean()
    tr = units.isin(list(treated)) if treated else np.zeros(len(units), dtype=bool)
    text = (f"events per {unit}-{time} cell: {per_cell:.1f} on average (median {np.median(C):g}, "
            f"min {C.min()}, max {C.max()})")
    if tr.any():
        text += (f"; the treated series averages {int(tr.sum())} {unit}(s), about "
                 f"{C[:, tr].sum(axis=1).mean():.0f} events per {time}")
    if n_empty:
        text += (f"; {n_empty} empty cell(s) " + ("filled by interpolation" if fill == "interpolate" else "left empty"))
    return text + " (the counts: panel.cell_counts)"


THIN_MEDIAN = 3  # events per cell in the median: below it each unit's series is mostly sampling noise
THIN_EMPTY = 0.10  # share of empty (interpolated) cells above which the panel is largely made up


def _warn_thin_cells(C, unit, time, n_empty):
    """A SynthWarning when the cells are thin: few events each, or many cells with none."""
    med, share = float(np.median(C)), n_empty / C.size
    if med >= THIN_MEDIAN and share <= THIN_EMPTY:
        return
    import warnings
    from .errors import SynthWarning
    warnings.warn(
        f"thin cells: the median {unit}-{time} cell holds {med:g} event(s) and {n_empty} of {C.size} cells "
        f"({100 * share:.0f}%) hold none (filled as the panel's fill says): each single {unit}'s series is "
        f"mostly sampling noise, so fits, placebos and their p-values are noisy; aggregate to longer periods "
        f"or larger units (panel.cell_counts holds the counts)", SynthWarning, stacklevel=4)


# ----------------------------------------------------------------------------------------------
# logs on a Dask cluster
# ----------------------------------------------------------------------------------------------
def is_dask_frame(x) -> bool:
    """A Dask DataFrame (without importing dask when it is not one)."""
    return type(x).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(x, "npartitions") \
        and hasattr(x, "columns")


# -- the tasks (run on the workers; plain functions of pandas partitions and arrays) -------------
def _facts(df, unit, time, outcome, cluster):
    """What one partition holds: its units, periods and users (in order of appearance), and the
    first problems in it."""
    y = numeric_values(df[outcome], f"outcome column {outcome!r}")
    bad = {}
    if np.isinf(y).any():
        i = int(np.flatnonzero(np.isinf(y))[0])
        bad["inf"] = (int(np.isinf(y).sum()), _py(df[unit].iloc[i]), _py(df[time].iloc[i]))
    for c in (unit, time) + ((cluster,) if cluster is not None else ()):
        if df[c].isna().any():
            bad.setdefault("missing", c)
    ok = ~np.isnan(y)
    return {"n": len(df), "times": pd.unique(df[time]), "clusters": pd.unique(df[cluster]) if cluster else None,
            "unit_time": df.loc[ok, [unit, time]].drop_duplicates(), "bad": bad}


def _piece(df, unit, time, outcome, cluster, units, time_pos, time_raw, cluster_index, offset):
    """The partition as ``(cell, value, code)`` arrays, ``cell = -1`` outside the window."""
    y = numeric_values(df[outcome], f"outcome column {outcome!r}")
    ui = units.get_indexer(df[unit])
    ri = time_raw.get_indexer(df[time])
    ti = np.where(ri >= 0, time_pos[np.maximum(ri, 0)], -1)
    ok = (ui >= 0) & (ti >= 0) & ~np.isnan(y)
    cell = np.where(ok, ti * len(units) + ui, -1).astype(np.int64)
    if cluster is None:
        code = offset + np.arange(len(df), dtype=np.int64)
    else:
        code = cluster_index.get_indexer(df[cluster]).astype(np.int64)
    return cell, np.nan_to_num(y), code


def _concat(arrays):
    """One array of the partitions' values: their own dtype when they share it (numbers stay
    numbers: hashing 5,000,000 user ids as Python objects takes seconds), else objects."""
    arrays = [np.asarray(a) for a in arrays]
    if len({a.dtype for a in arrays}) == 1 and arrays[0].dtype != object:
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def _merge_pieces(pieces):
    """Consecutive pieces as one: ``(cell, value, code)`` concatenated in order."""
    return tuple(np.concatenate([p[k] for p in pieces]) for k in range(3))


def _sums(piece, size, states, n_clusters):
    """Per-cell ``(sums, rows)`` of the piece: of the whole log (``states`` None), or of each
    resample whose stream state is in ``states`` (stacked, ``(len(states), 2, size)``)."""
    cell, val, code = piece
    keep = cell >= 0
    cell, val, code = cell[keep], val[keep], code[keep]
    if states is None:
        return np.stack([np.bincount(cell, weights=val, minlength=size),
                         np.bincount(cell, minlength=size).astype(float)])
    out = np.empty((len(states), 2, size))
    for r, state in enumerate(states):
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state
        counts = np.bincount(rng.integers(0, n_clusters, size=n_clusters), minlength=n_clusters)
        c = counts[code].astype(float)
        out[r, 0] = np.bincount(cell, weights=val * c, minlength=size)
        out[r, 1] = np.bincount(cell, weights=c, minlength=size)
    return out


# -- the source ----------------------------------------------------------------------------------
class DaskEventSource:
    """An event log's arrays, one piece per partition, on the workers of a Dask client (see the
    module's text).  Same role as :class:`EventSource`."""

    def __init__(self, client, pieces, n_clusters, T, N, fill):
        self.client, self.pieces = client, pieces
        self.n_clusters, self.T, self.N, self.fill = n_clusters, T, N, fill

    def _total(self, states=None):
        futs = [self.client.submit(_sums, p, self.T * self.N, states, self.n_clusters, pure=False)
                for p in self.pieces]
        parts = self.client.gather(futs)
        total = parts[0].copy()
        for part in parts[1:]:  # in partition order: the same sums whatever ran them
            total += part
        return total

    def matrix(self):
        s, n = self._total()
        self._n = n
        return EventSource.matrix_from_sums(self, s, n), int((n == 0).sum())

    def counts(self) -> np.ndarray:
        """Rows per cell, ``(T, N)``, from the last :meth:`matrix` (no second pass over the log)."""
        n = getattr(self, "_n", None)
        if n is None:
            n = self._total()[1]
        return np.asarray(n).reshape(self.T, self.N)

    def matrix_from_sums(self, s, n):
        return EventSource.matrix_from_sums(self, s, n)

    def bootstrap(self, job, rng, n_boot, progress):
        """``[(att, certified), ...]`` of ``n_boot`` resamples drawn from ``rng`` in order; each
        partition's sums computed where it lies, in blocks of resamples."""
        from distributed import as_completed
        from .parallel import progress_bar
        n_workers = max(1, sum(self.client.nthreads().values()))
        size = max(1, min(25, -(-n_boot // (2 * n_workers))))
        n_blocks = -(-n_boot // size)
        bar = progress_bar(progress, n_boot, "cluster bootstrap (Dask)")
        out = [None] * n_blocks
        futs, lens = {}, {}
        done = as_completed()
        try:
            # the stream is walked here, block by block, and each block is sent as soon as its
            # states are known: the workers start while the next block is drawn
            for b in range(n_blocks):
                block = []
                for _ in range(min(size, n_boot - b * size)):
                    block.append(rng.bit_generator.state)
                    rng.integers(0, self.n_clusters, size=self.n_clusters)
                lens[b] = len(block)
                for k, p in enumerate(self.pieces):
                    f = self.client.submit(_sums, p, self.T * self.N, block, self.n_clusters, pure=False)
                    futs[f.key] = (b, k)
                    done.add(f)
            got = {}
            for fut in done:
                b, k = futs[fut.key]
                got.setdefault(b, {})[k] = fut.result()
                if len(got[b]) == len(self.pieces):
                    parts = got.pop(b)
                    total = parts[0].copy()
                    for k2 in range(1, len(self.pieces)):  # in piece order
                        total += parts[k2]
                    out[b] = [job.from_sums(t[0], t[1]) for t in total]
                    bar(lens[b])
        finally:
            bar(None)
        return [r for block in out for r in block]


def panel_from_dask_events(events, unit, time, outcome, cluster, treated, treatment_time, window, fill,
                           donors, treat_aggregate, time_order, client=None):
    """:func:`synthcontrol.panel_from_events` for a Dask DataFrame (see the module's text)."""
    from .parallel import _dask_client
    client = _dask_client(client)
    cols = [unit, time, outcome] + ([cluster] if cluster is not None else [])
    missing = [c for c in cols if c not in events.columns]
    if missing:
        raise DataError(f"column(s) {_fmt_list(missing)} not found in events; available columns: "
                        f"{_fmt_list(events.columns, limit=20)}")
    parts = client.compute(events[cols].to_delayed())  # each partition read on a worker, kept there
    facts = client.gather(client.map(_facts, parts, unit=unit, time=time, outcome=outcome, cluster=cluster,
                                     pure=False))
    if sum(f["n"] for f in facts) == 0:
        raise DataError("events has no rows")
    for f in facts:
        if "missing" in f["bad"]:
            c = f["bad"]["missing"]
            raise DataError(f"{'cluster ' if c == cluster else ''}column {c!r} has missing values")
        if "inf" in f["bad"]:
            n, u, t = f["bad"]["inf"]
            raise DataError(f"outcome column {outcome!r} has infinite value(s) (at least {n}), e.g. at unit "
                            f"{u!r}, period {t!r}")
    raw = pd.Index(pd.unique(_concat([f["times"] for f in facts])))
    tv, notes = _normalize_time(pd.Series(list(raw)), time, time_order)
    inwin = np.ones(len(raw), dtype=bool)
    if window is not None:
        tidx = pd.Index(tv.iloc[:1])
        lo, hi = check_window("window", window, allow_open=True, closed="half-open: start <= t < end",
                              coerce=lambda b, what: coerce_period(b, tidx, what, time), key=period_key(tidx))
        if lo is not None:
            inwin &= (tv >= lo).to_numpy()
        if hi is not None:
            inwin &= (tv < hi).to_numpy()
    ut = pd.concat([f["unit_time"] for f in facts], ignore_index=True)
    ut = ut[ut[time].isin(raw[inwin])]
    if len(ut) == 0:
        raise DataError(f"no event rows with an outcome fall inside window {window!r} of column {time!r}")
    units = pd.Index(pd.unique(ut[unit]))
    try:
        units = units.sort_values()
    except TypeError:
        pass
    seen_norm = tv[pd.Index(raw).isin(pd.unique(ut[time]))]
    times = _sorted_periods(seen_norm.reset_index(drop=True), time)
    time_pos = np.where(inwin, times.get_indexer(tv), -1)
    if cluster is not None:
        cl = pd.Index(pd.unique(_concat([f["clusters"] for f in facts])))
        n_clusters = len(cl)
        cl_remote = client.scatter(cl, broadcast=True)
        offsets = [0] * len(parts)
    else:
        cl_remote, n_clusters = None, sum(f["n"] for f in facts)
        offsets = list(np.cumsum([0] + [f["n"] for f in facts])[:-1])
    pieces = [client.submit(_piece, part, unit, time, outcome, cluster, units, time_pos, raw, cl_remote, int(off),
                            pure=False) for part, off in zip(parts, offsets)]
    from distributed import wait
    wait(pieces)
    del parts  # the pandas partitions are released; the arrays stay on the workers
    # one piece per worker, of consecutive partitions: a resample's users are drawn once per piece
    # (the draws cover every user), so fewer pieces mean fewer draws; the grouping depends only on
    # the number of workers, so the sums are added in the same order on every run of that cluster
    workers = sorted(client.scheduler_info()["workers"])
    if workers and len(pieces) > len(workers):
        groups = [g for g in np.array_split(np.arange(len(pieces)), len(workers)) if len(g)]
        merged = [client.submit(_merge_pieces, [pieces[i] for i in g], workers=[w], pure=False)
                  for g, w in zip(groups, workers)]
        wait(merged)
        pieces = merged
    src = DaskEventSource(client, pieces, n_clusters, len(times), len(units), fill)
    return _events_panel(src, units, times, unit, time, outcome, treated, treatment_time, donors,
                         treat_aggregate, fill, notes)
