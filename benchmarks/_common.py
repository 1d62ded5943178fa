"""Pieces shared by the benchmark scripts: BLAS pinning, peer imports, the timer, formatting.

Import this module BEFORE numpy: :func:`pin_blas` must run first to take effect.
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
import warnings

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas() -> dict:
    """One BLAS thread unless the environment says otherwise (tiny problems: one thread is
    fastest and keeps a shared 2-core box from oversubscribing).  Returns the preset values."""
    preset = {k: os.environ[k] for k in BLAS_ENV if k in os.environ}
    for k in BLAS_ENV:
        os.environ.setdefault(k, "1")
    return preset


def try_import(notes: dict, name):
    """Import a peer package; record its version and import time (or why it is missing) in
    ``notes[name]``.  Returns the module or None."""
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = __import__(name)
    except Exception as exc:  # ImportError, or a broken install
        notes[name] = f"not installed ({type(exc).__name__}: {exc})"
        return None
    dt = time.perf_counter() - t
    ver = getattr(mod, "__version__", None)
    if ver is None:
        try:
            from importlib.metadata import version
            ver = version(name)
        except Exception:
            ver = "?"
    notes[name] = f"{ver} (import {dt:.3f} s, after numpy/scipy/pandas)"
    return mod


class Timing:
    """Timed calls of one item.  ``recorded``: taken from a reference file (another process);
    ``estimated``: derived from another row; ``first``: the warm-up call's time; ``result``:
    the warm-up call's return value."""

    def __init__(self, times, *, recorded=False, estimated=False, first=None, result=None):
        self.times = list(times)
        self.recorded = recorded
        self.estimated = estimated
        self.first = first
        self.result = result

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def n(self):
        return len(self.times)


def bench(fn, repeats, *, budget, min_n=1, warmup=None) -> Timing:
    """Median-of-repeats timer: one warm-up call (``warmup`` or ``fn``), then up to ``repeats``
    timed calls, stopping early (never before ``min_n``) once they would overrun ``budget`` s.

    Items of a few milliseconds get more repeats -- as many as fit in about 0.5 s, at most 200 --
    so that their median is not set by a handful of calls on a noisy machine (the same rule for
    every contender; slow items keep ``repeats``)."""
    t = time.perf_counter()
    res = (warmup or fn)()
    first = time.perf_counter() - t
    times = []
    n = max(repeats, min(200, int(0.5 / max(first, 1e-6)))) if repeats > 1 else repeats
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= min_n and sum(times) + times[-1] > budget:
            break
    return Timing(times, first=first, result=res)


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            yield


def fmt_t(s, ms_digits=2):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.{ms_digits}f} ms"
    return f"{s:.2f} s"


def fmt_x(r):
    if r is None:
        return "-"
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def data_dirs(args, repo):
    """(data dir, reference dir) from --data / --reference, $SYNTHCONTROL_DATA, or ../shared."""
    from pathlib import Path
    data = Path(args.data or os.environ.get("SYNTHCONTROL_DATA") or (repo.parent / "shared" / "data"))
    ref_dir = Path(args.reference) if args.reference else data.parent / "reference"
    if not ref_dir.is_dir():
        ref_dir = repo.parent / "shared" / "reference"
    return data, ref_dir


def machine_info(import_notes: dict, blas_preset: dict) -> dict:
    """Versions, cores, BLAS (threadpoolctl if present) and load: the header of every run."""
    import platform

    import numpy as np
    import pandas as pd
    import scipy

    import synthcontrol as sc
    ncpu = os.cpu_count()
    try:
        ncpu_aff = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu_aff = ncpu
    blas = "?"
    try:
        from threadpoolctl import threadpool_info
        blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '')} "
                         f"threads={i.get('num_threads')}" for i in threadpool_info()
                         if i.get("user_api") == "blas")
    except Exception:
        pass
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "pandas": pd.__version__, "synthcontrol": sc.__version__, "cpu_count": ncpu,
            "cpu_affinity": ncpu_aff, "blas": blas, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "blas_thread_env": {k: os.environ.get(k) for k in BLAS_ENV}, "blas_env_preset": blas_preset,
            "peers": dict(import_notes)}


def print_header(title: str, date_utc: str, mach: dict):
    """The first lines of every run: what was run, where, and how loaded the machine was."""
    print("=" * 118)
    print(f"{title}  ({date_utc})")
    print(f"  python {mach['python']}  numpy {mach['numpy']}  scipy {mach['scipy']}  pandas {mach['pandas']}"
          f"  synthcontrol {mach['synthcontrol']}")
    print(f"  cores: {mach['cpu_count']} (usable {mach['cpu_affinity']})   BLAS: {mach['blas']}   "
          f"{mach['platform']}")
    load = mach["loadavg_at_start"]
    if load:
        print(f"  load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  (shared machine: numbers move)")


def finish(out: dict, json_path, t_start: float) -> int:
    """Total wall time, and every number as JSON when asked."""
    import json
    from pathlib import Path
    total = time.perf_counter() - t_start
    out["total_wall_s"] = total
    print(f"\nTotal wall time {total:.1f} s (imports included).")
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2, default=float))
        print(f"wrote {json_path}")
    return 0


def fmt_g(v, d=7):
    """A number to ``d`` significant digits, ``-`` for None or non-finite."""
    import math
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{d}g}"


def source_state(repo):
    """HEAD of the repo and how many files under python/ have uncommitted changes (the code being
    timed is the working tree)."""
    import subprocess
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "python"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head or "?", (len(dirty.splitlines()) if dirty else 0)
    except Exception:
        return "?", None


def print_rows(title, rows, ours, cols, width=70):
    """One block of contenders.  ``rows``: objects with ``rid``, ``label``, ``timing`` (a Timing or
    None), ``ratio(ours)``, ``ref`` and ``note``; ``cols``: extra columns ``[(header, width,
    fn(row) -> str)]``."""
    print("\n" + title)
    hdr = (f"    {'id':<3} {'contender':<{width}} {'median':>9} {'min':>9} {'n':>3} {'vs ours':>12}  "
           + " ".join(f"{h:>{w}}" for h, w, _ in cols))
    print(hdr)
    print("    " + "-" * (len(hdr) - 4))
    for r in rows:
        if r.timing is None:
            print(f"    {r.rid:<3} {r.label:<{width}} {'':>9}  {r.note}")
            continue
        t = r.timing.median
        tmin = "(rec.)" if r.timing.recorded else fmt_t(min(r.timing.times), ms_digits=1)
        x = r.ratio(ours)
        vs = "-" if x is None else f"{fmt_x(x)} {r.ref}"
        n = f"{r.timing.n}{'*' if getattr(r.timing, 'cold', False) else ''}"
        print(f"    {r.rid:<3} {r.label:<{width}} {fmt_t(t, ms_digits=1):>9} {tmin:>9} {n:>3} {vs:>12}  "
              + " ".join(f"{fn(r):>{w}}" for _, w, fn in cols))
        if r.note:
            print(f"    {'':<8}{r.note}")


def write_outputs(md, df, markdown_path=None, csv_path=None):
    """A replication script's optional products: its markdown table and its per-replication rows."""
    if markdown_path:
        with open(markdown_path, "w") as fh:
            fh.write(md + "\n")
    if csv_path:
        df.to_csv(csv_path, index=False)
