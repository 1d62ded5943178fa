"""One ordered parallel map for every refit loop: serial, local processes, or a Dask cluster.

``pmap(func, items, n_jobs=..., engine=...)`` returns ``[func(x) for x in items]`` in order,
whatever ran them.  One ``n_jobs`` convention everywhere (joblib's): ``None`` or ``1`` runs in this
process; ``k > 1`` uses ``k`` worker processes; ``-1`` every core, ``-2`` all but one, and so on.

``engine``:

``"serial"``
    in this process, in order (the default when ``n_jobs`` is ``None`` or ``1``).
``"processes"``
    joblib's process pool on this machine (the default when ``n_jobs > 1``).
``"dask"``
    the Dask cluster of the current ``dask.distributed`` client (``Client(...)`` made beforehand);
    ``n_jobs`` is then ignored: the cluster decides.

Seed policy: randomness is drawn in the calling process, in order, from the one seeded stream,
and handed to the workers as data (the cluster bootstrap draws every resample's clusters before
dispatching them); the workers are pure functions of their inputs.  A seeded answer therefore does
not depend on ``n_jobs``, the engine, or the order in which workers finish.  When independent
streams are needed per task, :func:`task_seeds` spawns them from one seed, by task index.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import SpecificationError

__all__ = ["pmap", "resolve_n_jobs", "task_seeds", "ENGINES"]

ENGINES = ("serial", "processes", "dask")


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


def pmap(func, items, *, n_jobs=1, engine=None, progress=False, desc=None, batch_size="auto"):
    """``[func(x) for x in items]``, in order, run serially, in local processes or on Dask.

    ``progress``: a tqdm bar over the items (or a callable ``progress(n_done)`` called as items
    complete).  Exceptions in a worker are raised here, as they would be in the loop.
    """
    items = list(items)
    if engine is None:
        engine = "serial" if resolve_n_jobs(n_jobs) == 1 or len(items) <= 1 else "processes"
    if engine not in ENGINES:
        raise SpecificationError(f"engine must be one of {ENGINES}, got {engine!r}")
    bar = _bar(progress, len(items), desc)
    try:
        if engine == "serial":
            out = []
            for x in items:
                out.append(func(x))
                bar(1)
            return out
        if engine == "processes":
            from joblib import Parallel, delayed
            n = min(resolve_n_jobs(n_jobs), max(1, len(items)))
            if n == 1:
                return pmap(func, items, engine="serial", progress=progress, desc=desc)
            out = []
            par = Parallel(n_jobs=n, batch_size=batch_size, return_as="generator")
            for r in par(delayed(func)(x) for x in items):
                out.append(r)
                bar(1)
            return out
        return _dask_map(func, items, bar)
    finally:
        bar(None)


def _dask_map(func, items, bar):
    try:
        from distributed import as_completed, get_client
    except ImportError:
        raise SpecificationError("engine='dask' needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        client = get_client()
    except ValueError:
        raise SpecificationError("engine='dask' runs on the current dask.distributed Client; start one first "
                                 "(from distributed import Client; client = Client(...))") from None
    futures = client.map(func, items, pure=False)
    for _ in as_completed(futures):
        bar(1)
    return client.gather(futures)


def _bar(progress, total, desc):
    """A function ``update(n)`` (``None`` closes) for the progress option."""
    if callable(progress) and not isinstance(progress, bool):
        done = [0]

        def update(n):
            if n is not None:
                done[0] += n
                progress(done[0])
        return update
    if not progress:
        return lambda n: None
    from tqdm.auto import tqdm
    t = tqdm(total=total, desc=desc, leave=False)

    def update(n):
        if n is None:
            t.close()
        else:
            t.update(n)
    return update
