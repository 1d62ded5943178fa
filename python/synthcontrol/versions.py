"""What is installed, and which optional parts are working: :func:`show_versions` (also
``synthcontrol --version``), and the one-time notice when a slow fallback runs in place of a
missing part (:func:`first_time`)."""
from __future__ import annotations

import importlib
import platform
import sys

__all__ = ["show_versions", "versions", "optional_parts", "first_time"]

_LIBRARIES = ("numpy", "scipy", "pandas", "cvxpy", "clarabel", "pyscipopt", "matplotlib", "joblib", "tqdm",
              "dask", "distributed", "pyarrow", "rpy2")
_NOTICED: set[str] = set()


def _version_of(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # not installed (or no metadata)
        try:
            return getattr(importlib.import_module(name), "__version__", "installed")
        except Exception:
            return None


def optional_parts() -> dict:
    """``{part: (working, what it means)}`` for the parts a user may lack: the compiled SCPI kernel,
    SCIP (proven bounds), Dask (the engine beyond one machine), tqdm (progress bars)."""
    from .solvers.ballsimplex import available as kernel
    from .solvers.mip import scip_available
    out = {}
    ok = kernel()
    out["C extension (SCPI kernel)"] = (ok, "built: SCPI's simulated programmes use the exact active-set kernel" if ok
                                        else "not built (no C compiler at install): SCPI falls back to Clarabel, "
                                             "the same answers about 20x slower; reinstall with a C compiler")
    ok = scip_available()
    out["SCIP (pyscipopt)"] = (ok, "proven global bounds for covariate (V) fits and exact designs" if ok else
                               "missing: covariate fits are not certified beyond the outcome-only bound; "
                               "pip install pyscipopt")
    ok = _version_of("distributed") is not None
    out["Dask distributed"] = (ok, "sc.parallel_backend('dask') and Dask event logs" if ok else
                               "missing (optional): pip install 'synthcontrol[dask]' for clusters")
    ok = _version_of("tqdm") is not None
    out["tqdm"] = (ok, "progress bars in terminals and notebooks" if ok else
                   "missing: progress is printed as lines instead")
    return out


def versions() -> dict:
    """The facts :func:`show_versions` prints, as a dict."""
    from ._version import __version__
    return {"synthcontrol": __version__, "python": sys.version.split()[0],
            "platform": platform.platform(),
            "libraries": {name: _version_of(name) for name in _LIBRARIES},
            "optional": {k: {"working": ok, "note": note} for k, (ok, note) in optional_parts().items()}}


def show_versions(file=None) -> dict:
    """Print synthcontrol's version, Python's, the libraries' and the state of each optional part
    (the compiled SCPI kernel, SCIP, Dask, tqdm); return the same as a dict.

    Put its output in a bug report: most "slow" or "not certified" reports come from a missing part.
    """
    file = file or sys.stdout
    v = versions()
    print(f"synthcontrol {v['synthcontrol']} (Python {v['python']}, {v['platform']})", file=file)
    print("libraries:", file=file)
    for name, ver in v["libraries"].items():
        print(f"  {name:<12} {ver or '-- not installed'}", file=file)
    print("optional parts:", file=file)
    for part, d in v["optional"].items():
        print(f"  [{'ok' if d['working'] else '--'}] {part}: {d['note']}", file=file)
    return v


def first_time(key: str) -> bool:
    """True the first time ``key`` is asked about in this process, False afterwards: a notice (a slow
    fallback in use, say) is given once, not on every call."""
    if key in _NOTICED:
        return False
    _NOTICED.add(key)
    return True
