"""Batched exact solver for ``min c'l  s.t.  l >= 0, sum(l) = m, ||M l - a|| <= R``.

These are the conic programmes of SCPI's in-sample simulation (two per draw and post period).
The compiled kernel ``_ballsimplex.c`` runs a primal active-set method with closed-form steps on
each support (see the C file) and checks the KKT conditions of every answer; a programme it cannot
certify (status != 0, or a relative KKT residual above ``kkt_tol``) is reported so the caller can
re-solve it with the generic conic solver.  The kernel is compiled when the package is installed
(``setup.py``; a C compiler is needed) and loaded with ctypes; without it :func:`available` is False
and SCPI uses Clarabel for every programme.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

import ctypes
import importlib.util

import numpy as np

__all__ = ["available", "solve_batch"]

_LIB = None
_TRIED = False


_ABI = 2  # must equal ballsimplex_abi() in _ballsimplex.c


def _candidates():
    """Where the compiled kernel may be: next to this module (an editable or in-place build), or in
    the installed distribution (when the tests import the source tree, which holds no build)."""
    spec = importlib.util.find_spec("synthcontrol.solvers._ballsimplex")
    if spec is not None and spec.origin:
        yield spec.origin
    try:
        from importlib.metadata import distributions
        dists = list(distributions(name="synthcontrol"))  # a build's egg-info may shadow the install
    except Exception:  # no metadata: nothing more to try
        return
    for dist in dists:
        for f in dist.files or ():
            if f.name.startswith("_ballsimplex") and f.suffix in (".so", ".pyd", ".dylib"):
                yield str(dist.locate_file(f))


def _load():
    global _LIB, _TRIED
    if _TRIED:
        return _LIB
    _TRIED = True
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            if lib.ballsimplex_abi() != _ABI:
                continue
            f = lib.ballsimplex_batch
        except (OSError, AttributeError):
            continue
        dp = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
        ip = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
        f.argtypes = [ctypes.c_int, ctypes.c_int, dp, ctypes.c_int, dp, dp, ctypes.c_double, dp, ctypes.c_int,
                      dp, ctypes.c_int, dp, ip, dp]
        f.restype = ctypes.c_int
        _LIB = lib
        return lib
    return None


def available() -> bool:
    """Whether the compiled kernel is installed."""
    return _load() is not None


def solve_batch(Mt, A, R, m, lam0, C, maxit=None):
    """Every programme ``(draw d, objective o)``: ``min C[o]'l`` over
    ``{l >= 0, sum(l) = m, ||M l - A[d]|| <= R[d]}``, from the feasible start ``lam0``.

    ``Mt``: (J, r), the transpose of ``M``.  Returns ``(value, status, kkt)``, each (n_draws, n_obj);
    ``status`` 0 means solved with relative KKT residual ``kkt``.
    """
    lib = _load()
    if lib is None:
        raise RuntimeError("the compiled ball-simplex kernel is not installed")
    Mt = np.ascontiguousarray(Mt, dtype=np.float64)
    J, r = Mt.shape
    A = np.ascontiguousarray(A, dtype=np.float64)
    R = np.ascontiguousarray(R, dtype=np.float64)
    lam0 = np.ascontiguousarray(lam0, dtype=np.float64)
    C = np.ascontiguousarray(C, dtype=np.float64)
    nd, no = A.shape[0], C.shape[0]
    value = np.empty((nd, no))
    status = np.empty((nd, no), dtype=np.int32)
    kkt = np.empty((nd, no))
    rc = lib.ballsimplex_batch(J, r, Mt, nd, A, R, float(m), lam0, no, C, int(maxit or 10 * J + 50),
                               value, status, kkt)
    if rc != 0:
        raise MemoryError("ball-simplex kernel: out of memory")
    return value, status, kkt
