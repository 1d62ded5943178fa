"""One ordered parallel map for every refit loop: serial, local processes, or a Dask cluster.

``pmap(func, items, n_jobs=...)`` returns ``[func(x) for x in items]`` in order, whatever ran
them.  What runs them is chosen, from the most to the least specific:

1. ``engine=`` given to :func:`pmap` (the library's own code uses it only in tests);
2. the innermost :func:`parallel_backend` block::

       with sc.parallel_backend("dask", client=client):      # or "processes", "serial"
           res.placebo()

3. the estimator's ``n_jobs`` (joblib's convention): ``None`` or ``1`` runs in this process;
   ``k > 1`` uses ``k`` worker processes; ``-1`` every core, ``-2`` all but one, and so on.

Engines:

``"serial"``
    in this process, in order.
``"processes"``
    joblib's process pool on this machine (``n_jobs`` workers; every core when the block does
    not say).
``"dask"``
    the workers of a ``dask.distributed`` client: the block's ``client=``, else the current one
    (``Client(...)`` made beforehand; a ``LocalCluster`` or a scheduler's address).  The work is
    shipped as arrays: every task's function is scattered once to each worker.

Items are sent in chunks (about four per worker) so a task's overhead is small against its work.

Seed policy: the workers are pure functions of their inputs.  Randomness is either drawn in the
calling process and handed over as data, or derived per task from one seed by
:func:`task_seeds` (``SeedSequence.spawn``, by task index, never by worker).  A seeded answer
therefore does not depend on ``n_jobs``, the engine, the chunking, or the order in which workers
finish (``tests/test_parallel_backends.py`` checks serial = processes = Dask).

Progress: ``progress=True`` shows a bar (tqdm) in a terminal or a notebook and one line per step
(every tenth of the work, or 10 s) on other streams; ``False`` shows nothing; ``None`` (the
default) shows it only once the call has run for 2 s, so short calls stay quiet.  A
:func:`parallel_backend` block's ``progress=`` and the environment variable
``SYNTHCONTROL_PROGRESS`` (``0``/``1``) set the default for the calls inside them.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import os
import sys
import time
import uuid
from dataclasses import dataclass

import numpy as np

from .errors import SpecificationError

__all__ = ["pmap", "parallel_backend", "current_backend", "plan", "resolve_n_jobs", "task_seeds",
           "progress_scope", "progress_bar", "ENGINES"]

ENGINES = ("serial", "processes", "dask")

_AUTO_DELAY = 2.0  # seconds: progress=None shows a bar only for calls that run longer


@dataclass(frozen=True)
class Backend:
    """The settings of one :func:`parallel_backend` block."""

    engine: str
    n_jobs: int | None = None
    client: object = None
    progress: object = None


_BACKEND = contextvars.ContextVar("synthcontrol_parallel_backend", default=None)
_PROGRESS = contextvars.ContextVar("synthcontrol_progress", default=None)


def resolve_n_jobs(n_jobs) -> int:
    """Workers for ``n_jobs`` (joblib's convention): ``None``/``1`` -> 1, ``-1`` -> every core,
    ``-2`` -> all but one, ...; never less than 1."""
    if n_jobs is None:
        return 1
    n = int(n_jobs)
    if n == 0:
        raise SpecificationError("n_jobs must be a whole number >= 1, or -1 for every core (-2 all but one, ...); got 0")
    if n < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n)
    return n


def task_seeds(seed, n):
    """``n`` independent child seeds of ``seed`` (numpy ``SeedSequence.spawn``), by task index."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def _check_progress(progress, name="progress"):
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress
    if isinstance(progress, (int, np.integer)) and progress in (0, 1):
        return bool(progress)
    raise SpecificationError(f"{name} must be True, False, None (show after 2 s) or a callable "
                             f"progress(n_done); got {progress!r}")


@contextlib.contextmanager
def parallel_backend(engine="processes", n_jobs=None, *, client=None, progress=None):
    """Run the refit loops inside the block on ``engine`` (as joblib's ``parallel_config``).

    Parameters
    ----------
    engine : {"serial", "processes", "dask"}
        Where :func:`pmap` runs its tasks (see the module's text).
    n_jobs : int, optional
        Worker processes for ``"processes"`` (joblib's convention; default every core).  An error
        with ``"dask"`` (the cluster decides) or ``"serial"``.
    client : distributed.Client, optional
        ``"dask"`` only: the client to submit to (default: the current client).
    progress : bool or None
        The default ``progress`` of the calls in the block (see the module's text).

    Notes
    -----
    Results are the same for every choice; only the time differs.  Blocks nest; the innermost wins.
    """
    if engine not in ENGINES:
        raise SpecificationError(f"engine must be one of {ENGINES}, got {engine!r}")
    if n_jobs is not None:
        resolve_n_jobs(n_jobs)
        if engine != "processes":  # an argument the engine would ignore is said, not dropped
            raise SpecificationError(f"n_jobs is for engine='processes'; engine={engine!r} "
                                     + ("runs in this process" if engine == "serial" else
                                        "uses the cluster's workers (size the cluster instead)"))
    progress = _check_progress(progress)
    if engine == "dask":
        client = _dask_client(client)
    elif client is not None:
        raise SpecificationError(f"client= is for engine='dask', not {engine!r}")
    token = _BACKEND.set(Backend(engine, n_jobs, client, progress))
    try:
        yield _BACKEND.get()
    finally:
        _BACKEND.reset(token)


def current_backend() -> Backend | None:
    """The innermost :func:`parallel_backend` block's settings, or None outside any block."""
    return _BACKEND.get()


@dataclass(frozen=True)
class Plan:
    engine: str
    workers: int
    client: object = None


def plan(n_jobs=1, engine=None) -> Plan:
    """Where a loop with the estimator's ``n_jobs`` runs now: the engine and its worker count."""
    b = _BACKEND.get()
    if engine is None and b is not None:
        engine = b.engine
        if engine == "serial":
            return Plan("serial", 1)
        if engine == "processes":
            n = resolve_n_jobs(b.n_jobs if b.n_jobs is not None else -1)
            return Plan("processes", n)
        client = b.client
        return Plan("dask", _dask_workers(client), client)
    if engine is None:
        n = resolve_n_jobs(n_jobs)
        return Plan("serial" if n == 1 else "processes", n)
    if engine not in ENGINES:
        raise SpecificationError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "serial":
        return Plan("serial", 1)
    if engine == "processes":
        return Plan("processes", resolve_n_jobs(n_jobs))
    client = b.client if b is not None and b.engine == "dask" else _dask_client(None)
    return Plan("dask", _dask_workers(client), client)


@contextlib.contextmanager
def progress_scope(progress):
    """Set the default ``progress`` of the loops run inside (``SCResult.infer(..., progress=)``)."""
    progress = _check_progress(progress)
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _default_progress():
    p = _PROGRESS.get()
    if p is not None:
        return p
    b = _BACKEND.get()
    if b is not None and b.progress is not None:
        return b.progress
    env = os.environ.get("SYNTHCONTROL_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return None


class _Chunk:
    """``items -> [func(x) for x in items]``: one task of a chunked map."""

    def __init__(self, func):
        self.func = func

    def __call__(self, items):
        return [self.func(x) for x in items]


def _call_chunk(func, items):  # the Dask task: func arrives scattered, once per worker
    return [func(x) for x in items]


def pmap(func, items, *, n_jobs=1, engine=None, progress=None, desc=None, chunk_size=None, total=None,
         count=None):
    """``[func(x) for x in items]``, in order, run serially, in local processes or on Dask.

    ``progress``: True, False, None (after 2 s) or a callable ``progress(n_done)`` called as items
    complete (see the module's text).  ``chunk_size``: items per task (default: about four tasks
    per worker).  Exceptions in a worker are raised here, as they would be in the loop.

    ``items`` may be a generator when ``total`` (its length) is given: local processes then start on
    the first chunks while the later items are still being made (the bootstrap's draws).
    ``count(item)``: the item's steps on the progress bar (a block of targets counts its targets).
    """
    lazy = total is not None and not isinstance(items, (list, tuple, range, np.ndarray))
    if not lazy:
        items = list(items)
    steps = (lambda x: 1) if count is None else count
    if not lazy:
        total = sum(steps(x) for x in items) if count is not None else len(items)
    if engine is not None and engine not in ENGINES:
        raise SpecificationError(f"engine must be one of {ENGINES}, got {engine!r}")
    pl = plan(n_jobs, engine)
    if (total <= 1 or not lazy and len(items) <= 1) and pl.engine == "processes":
        pl = Plan("serial", 1)
    bar = progress_bar(progress, total, desc)
    try:
        if pl.engine == "serial" or pl.workers == 1 and pl.engine == "processes":
            out = []
            for x in items:
                out.append(func(x))
                bar(steps(x))
            return out
        if chunk_size is None:
            n_items = total if lazy else len(items)
            chunk_size = max(1, -(-n_items // (4 * pl.workers)))
        out = []
        if pl.engine == "processes":
            from joblib import Parallel, delayed
            n_chunks = -(-(total if lazy else len(items)) // chunk_size)
            par = Parallel(n_jobs=min(pl.workers, n_chunks), batch_size=1, return_as="generator",
                           pre_dispatch="2*n_jobs")
            task = _Chunk(func)
            sent = []  # the chunks' steps, in order (joblib returns them in order)

            def chunks():
                for c in _lazy_chunks(items, chunk_size):
                    sent.append(sum(steps(x) for x in c))
                    yield delayed(task)(c)
            for k, part in enumerate(par(chunks())):
                out.extend(part)
                bar(sent[k])
            return out
        return _dask_map(pl.client, func, list(_lazy_chunks(items, chunk_size)), bar, steps)
    finally:
        bar(None)


def _lazy_chunks(items, size):
    it = iter(items)
    while True:
        part = list(itertools.islice(it, size))
        if not part:
            return
        yield part


# ------------------------------------------------------------------------------------------------
# Dask
# ------------------------------------------------------------------------------------------------
def _dask_client(client):
    try:
        import distributed
    except ImportError:
        raise SpecificationError("engine='dask' needs dask.distributed: pip install 'synthcontrol[dask]' "
                                 "(or 'dask[distributed]')") from None
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise SpecificationError(f"client must be a distributed.Client, got {type(client).__name__}")
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise SpecificationError("engine='dask' runs on a dask.distributed Client; start one first "
                                 "(from distributed import Client; client = Client() for a LocalCluster, "
                                 "or Client('tcp://scheduler:8786')) or pass client=") from None


def _dask_workers(client) -> int:
    try:
        n = sum(client.nthreads().values())
    except Exception:  # a client without workers yet
        n = 0
    return max(1, int(n))


def _dask_map(client, func, chunks, bar, steps=lambda x: 1):
    from distributed import as_completed
    client = _dask_client(client)
    remote = client.scatter(func, broadcast=True, hash=False)  # the arrays travel once per worker
    key = f"synthcontrol-{uuid.uuid4().hex[:8]}"
    futures = client.map(_call_chunk, [remote] * len(chunks), chunks, pure=False,
                         key=[f"{key}-{i}" for i in range(len(chunks))])
    sizes = {f.key: sum(steps(x) for x in c) for f, c in zip(futures, chunks)}
    try:
        for fut in as_completed(futures):
            if fut.status == "error":
                fut.result()  # raises the worker's exception here
            bar(sizes[fut.key])
        parts = client.gather(futures)
    finally:
        client.cancel(futures + [remote])
    return [r for part in parts for r in part]


# ------------------------------------------------------------------------------------------------
# progress
# ------------------------------------------------------------------------------------------------
def _interactive(stream) -> bool:
    if "ipykernel" in sys.modules:  # a notebook: tqdm.auto draws a widget or text there
        return True
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def progress_bar(progress, total, desc=None):
    """A function ``update(n)`` (``update(None)`` closes) for the ``progress`` option."""
    progress = _check_progress(progress)
    if progress is None:
        progress = _default_progress()
    if callable(progress) and not isinstance(progress, bool):
        done = [0]

        def update_callable(n):
            if n is not None:
                done[0] += n
                progress(done[0])
        return update_callable
    if progress is False or total <= 0:
        return lambda n: None
    delay = _AUTO_DELAY if progress is None else 0.0
    desc = desc or "synthcontrol"
    if _interactive(sys.stderr):
        from tqdm.auto import tqdm
        t = tqdm(total=total, desc=desc, leave=False, delay=delay, file=sys.stderr)

        def update_bar(n):
            if n is None:
                t.close()
            else:
                t.update(n)
        return update_bar
    return _LineProgress(total, desc, delay)


class _LineProgress:
    """The fallback off a terminal (logs, R's console through reticulate, CI): one line on stderr
    per tenth of the work or every 10 s, after ``delay`` seconds."""

    def __init__(self, total, desc, delay):
        self.total, self.desc, self.delay = total, desc, delay
        self.done = 0
        self.t0 = time.perf_counter()
        self.last_frac = -1.0
        self.last_t = self.t0
        self.shown = False

    def __call__(self, n):
        now = time.perf_counter()
        if n is None:
            if self.shown and self.done < self.total:
                self._line(now)
            return
        self.done += n
        if now - self.t0 < self.delay:
            return
        frac = self.done / self.total
        if frac - self.last_frac >= 0.1 or now - self.last_t >= 10.0 or self.done == self.total:
            self._line(now)

    def _line(self, now):
        el = now - self.t0
        frac = self.done / self.total
        left = f", ~{el / frac - el:.0f} s left" if 0 < frac < 1 else ""
        print(f"{self.desc}: {self.done}/{self.total} ({100 * frac:.0f}%), {el:.1f} s{left}",
              file=sys.stderr, flush=True)
        self.shown = True
        self.last_frac, self.last_t = frac, now
