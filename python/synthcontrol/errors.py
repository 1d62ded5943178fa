"""Typed errors.  Every error the package raises on purpose is a ``SynthError``.

The subclasses also inherit from the matching builtin (``ValueError``,
``RuntimeError``) so that generic ``except ValueError`` code keeps working.
"""
from __future__ import annotations

__all__ = ["SynthError", "DataError", "SpecificationError", "SolverError", "InfeasibleDesignError"]


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
