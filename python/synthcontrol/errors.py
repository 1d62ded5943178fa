"""Typed errors.  Every error the package raises on purpose is a ``SynthError``.

The subclasses also inherit from the matching builtin (``ValueError``,
``RuntimeError``) so that generic ``except ValueError`` code keeps working.
"""
from __future__ import annotations

__all__ = ["SynthError", "DataError", "SpecificationError", "SolverError", "InfeasibleDesignError",
           "SynthWarning"]


class SynthError(Exception):
    """Base class of every error raised by synthcontrol on purpose."""


class DataError(SynthError, ValueError):
    """The data cannot be used as given (missing column, duplicate rows, gaps, ...)."""


class SpecificationError(SynthError, ValueError):
    """The requested analysis is inconsistent with the data or with itself."""


class SolverError(SynthError, RuntimeError):
    """A numerical solver failed; the message says which and what it reported."""


class InfeasibleDesignError(SynthError, ValueError):
    """An experimental design problem has no feasible solution under its restrictions."""


class SynthWarning(UserWarning):
    """A result was returned but cannot be fully trusted as it stands: a fit that could not be
    certified, a test statistic that is undefined, a hyper-parameter on the edge of its grid, an
    interval that reaches the edge of its search grid.  The message says what and why; the result
    carries the same information in its diagnostics or flags."""
