"""The ``"mscmt"`` backend against mlsynth's at the same differential-evolution budget.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv-bench/bin/python benchmarks/bench_mscmt.py [--repeats 5]
    # the same on another checkout of synthcontrol (e.g. the code before a change), for before/after:
    git worktree add /tmp/before <commit>
    OPENBLAS_NUM_THREADS=1 .venv-bench/bin/python benchmarks/bench_mscmt.py --ours-from /tmp/before/python

For Prop 99, Basque and Germany (the Synth specifications of the replication pages, built once,
outside the timers) and each budget (generations x population per predictor: 60 x 10, our
default; 300 x 15, mlsynth's), it times in one process, after one warm-up each, median of repeats:

* ours ``sc.synth(dp, backend="mscmt", mscmt_maxiter=, mscmt_popsize=)``: the search, its local
  polish, and the certificate (the LP bound and SCIP's global bound) -- the whole call;
* ours with ``certify=False``: the search and polish alone (what mlsynth does);
* mlsynth's engine ``BilevelSCM("mscmt", maxiter=, popsize=).fit(Z1, Z0, X1=, X0=)`` on exactly our
  scaled matrices (its default ``prune_shady=True``).

Each row also shows the outcome loss ``loss_v`` of the weights returned, recomputed here from the
same Z, and the proven lower bound (no V does better), so speed is read beside quality.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_blas, quiet  # noqa: E402

pin_blas()

SPEC_SRC = Path(__file__).resolve().parent.parent / "docs" / "make_replications.py"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ours-from", help="import synthcontrol from this folder (another checkout's python/)")
    args = ap.parse_args(argv)
    if args.ours_from:
        sys.path.insert(0, args.ours_from)
    import numpy as np
    import synthcontrol as sc
    from synthcontrol.synth_compat import _scale
    try:
        with quiet():
            from mlsynth.utils.bilevel import BilevelSCM
    except Exception as exc:  # noqa: BLE001
        BilevelSCM = None
        print(f"mlsynth: not available ({type(exc).__name__}: {exc})")
    # the replication pages' Synth specifications (one source of truth: docs/make_replications.py)
    src = SPEC_SRC.read_text()
    ns = {"sc": sc}
    exec(src[src.index("sm, basque, de = (sc.datasets.load"):src.index("names = dict(zip(basque.regionno")], ns)
    import warnings
    warnings.simplefilter("ignore")

    def timed(fn):
        fn()
        ts, out = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts), out

    print(f"synthcontrol from {Path(sc.__file__).parent}; median of {args.repeats} after a warm-up")
    print(f"{'case':9s} {'budget':8s} {'contender':34s} {'seconds':>8s} {'loss_v':>12s} {'lower bound':>12s}")
    for study, (dp, _) in ns["specs"].items():
        x1, x0, _ = _scale(dp.X1.to_numpy(float), dp.X0.to_numpy(float))
        x1 = np.ravel(x1)
        z1 = dp.Z1.to_numpy(float).ravel()
        z0 = dp.Z0.to_numpy(float)

        def lv(w):
            r = z1 - z0 @ np.asarray(w, float)
            return float(r @ r) / len(r)

        for mi, ps in ((60, 10), (300, 15)):
            t, o = timed(lambda: sc.synth(dp, backend="mscmt", mscmt_maxiter=mi, mscmt_popsize=ps))
            lb = o.lower_bound
            print(f"{study:9s} {mi}x{ps:<5d} {'ours (search + certificate)':34s} {t:8.3f} "
                  f"{lv(o.solution_w.to_numpy()):12.6g} {lb:12.6g}")
            t, o = timed(lambda: sc.synth(dp, backend="mscmt", mscmt_maxiter=mi, mscmt_popsize=ps, certify=False))
            print(f"{study:9s} {mi}x{ps:<5d} {'ours certify=False (search only)':34s} {t:8.3f} "
                  f"{lv(o.solution_w.to_numpy()):12.6g}")
            if BilevelSCM is not None:
                eng = BilevelSCM("mscmt", maxiter=mi, popsize=ps)
                with quiet():
                    t, r = timed(lambda: eng.fit(z1, z0, X1=x1, X0=x0))
                print(f"{study:9s} {mi}x{ps:<5d} {'mlsynth BilevelSCM(mscmt)':34s} {t:8.3f} {lv(r.W):12.6g}")


if __name__ == "__main__":
    main()
