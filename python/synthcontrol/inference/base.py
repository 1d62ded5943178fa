"""The inference registry and the outcome of one inference method.

Every inference method is one module that registers one function::

    from synthcontrol.inference.base import Inference, register

    @register("my_test", supports=("outcome", "ridge"), title="My test (Author 2026)")
    def my_test(res, alpha=0.1, seed=0) -> Inference:
        ...
        return Inference(method="my test", p_value=p, alpha=alpha, details={...})

Registration is all it takes: ``res.infer("my_test", alpha=0.05)`` runs it (after checking that the
result's fit kind is supported and that the arguments are the function's own), the command line
offers ``--inference my_test`` (passing ``--alpha``/``--seed`` when given and the function takes
them), and the R package's ``summary(fit, inf_type = "my_test")`` and ``infer(fit, "my_test")``
reach it, printing its :meth:`Inference.to_dict` generically.  The function's signature holds the
method's defaults: there is no other copy of them.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._frozen import freeze
from ..errors import SpecificationError

__all__ = ["Inference", "InferenceMethod", "register", "get_method", "methods", "names", "infer",
           "cli_names"]


def _fmt(v):
    """Numbers for reports: 4 decimals, or 3 significant digits when that would show 0.0000."""
    if isinstance(v, (float, np.floating)):
        if v != 0 and abs(v) < 5e-5:
            return f"{v:.3g}"
        return f"{v:.4f}"
    return str(v)


@dataclass(frozen=True)
class Inference:
    """The outcome of one inference method.

    Attributes
    ----------
    method : str
        What was computed, in words.
    p_value : float or None
    ci_lower, ci_upper : float or None
        Interval for the ATT (None when the method gives none).
    alpha : float or None
        The level: intervals cover ``1 - alpha``; a test rejects at ``alpha``.
    details : ReadOnlyDict
        Method-specific numbers (statistics per unit, draws, tables, ...).
    name : str or None
        The registry name of the method (set by :meth:`SCResult.infer`).
    call : dict
        The arguments the method ran with, defaults included (set by :meth:`SCResult.infer`).
    fit_kind : str or None
        The kind of the fit it ran on.
    """

    method: str
    p_value: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    alpha: float | None = None
    details: dict = field(default_factory=dict, repr=False)
    name: str | None = None
    call: dict = field(default_factory=dict, repr=False)
    fit_kind: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "details", freeze(dict(self.details)))
        object.__setattr__(self, "call", freeze(dict(self.call)))

    @property
    def level(self) -> str | None:
        """``"90%"`` for ``alpha = 0.1``; None without a level."""
        from ..schema import level
        return level(self.alpha)

    def summary(self) -> str:
        lines = [f"Inference: {self.method}"]
        if self.p_value is not None:
            lines.append(f"  {'p-value':<22s} {_fmt(self.p_value)}")
        if self.ci_lower is not None:
            lines.append(f"  {self.level or '':>4} interval        [{self.ci_lower:+.4f}, {self.ci_upper:+.4f}]")
        elif self.alpha is not None:
            lines.append(f"  {'level (alpha)':<22s} {self.alpha:g}")
        for k, v in self.details.items():
            if isinstance(v, (int, float, np.floating, np.integer, str)) and not isinstance(v, bool):
                lines.append(f"  {k:<22s} {_fmt(v)}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()

    def to_dict(self) -> dict:
        """Builtins only (see :mod:`synthcontrol.schema`): the command line's JSON, the R
        package and reports read this."""
        from ..schema import inference_to_dict
        return inference_to_dict(self)


@dataclass(frozen=True)
class InferenceMethod:
    """One registered inference method.

    ``func(res, **kwargs)`` computes it; its signature's defaults are the method's defaults.
    ``supports``: the fit kinds (:data:`synthcontrol.models.KINDS`) it applies to.  ``cli_name``:
    its name on the command line (default: ``name``).  ``cli``: optional ``args -> kwargs`` for
    the command line's flags (default: ``--alpha`` and ``--seed`` when given and accepted).
    ``cli_table``: the columns of ``details["table"]`` the command line prints (``"all"``, a list,
    or None for none).  ``why_not``: for a fit kind it does not support, why (said in the refusal and
    in the docs' backend x inference matrix).
    """

    name: str
    func: Callable
    supports: tuple
    title: str = ""
    aliases: tuple = ()
    cli_name: str | None = None
    cli: Callable | None = None
    cli_table: Any = None
    why_not: Any = None  # fit kind -> the reason it is not defined / not implemented for it

    @property
    def parameters(self) -> dict:
        """Argument name -> default (``inspect.Parameter.empty`` when required)."""
        sig = inspect.signature(self.func)
        return {k: p.default for k, p in list(sig.parameters.items())[1:]
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    @property
    def defaults(self) -> dict:
        return {k: v for k, v in self.parameters.items() if v is not inspect.Parameter.empty}

    def cli_kwargs(self, args) -> dict:
        """Keyword arguments from the command line's parsed ``args``."""
        if self.cli is not None:
            return self.cli(args)
        params = self.parameters
        return {k: getattr(args, k) for k in ("alpha", "seed")
                if k in params and getattr(args, k, None) is not None}

    def __call__(self, res, **kwargs):
        return infer(res, self.name, **kwargs)


_REGISTRY: dict[str, InferenceMethod] = {}
_ALIASES: dict[str, str] = {}


def register(name, *, supports=("outcome", "predictors", "ridge"), title="", aliases=(), cli_name=None,
             cli=None, cli_table=None, replace=False, why_not=None):
    """Decorator: register ``func(res, **kwargs)`` as the inference method ``name``."""
    from ..models import KINDS
    bad = [k for k in supports if k not in KINDS]
    if bad:
        raise SpecificationError(f"register({name!r}): unknown fit kind(s) {bad}; the kinds are {KINDS}")

    def deco(func):
        if not replace and (name in _REGISTRY or name in _ALIASES):
            raise SpecificationError(f"an inference method named {name!r} is already registered")
        m = InferenceMethod(name, func, tuple(supports), title or (func.__doc__ or name).strip().splitlines()[0],
                            tuple(aliases), cli_name, cli, cli_table, dict(why_not or {}))
        _REGISTRY[name] = m
        for a in (*aliases, cli_name):
            if a and a != name:
                _ALIASES[a] = name
        return func
    return deco


def unregister(name):
    """Remove a registered method (tests, plug-ins being reloaded)."""
    m = _REGISTRY.pop(name, None)
    for a in [a for a, n in _ALIASES.items() if n == name]:
        del _ALIASES[a]
    return m


def methods() -> list:
    """The registered methods, in registration order."""
    _load_builtins()
    return list(_REGISTRY.values())


def names() -> list:
    return [m.name for m in methods()]


def cli_names() -> list:
    return [m.cli_name or m.name for m in methods()]


def get_method(name) -> InferenceMethod:
    _load_builtins()
    key = _ALIASES.get(name, name)
    m = _REGISTRY.get(key)
    if m is None:
        raise SpecificationError(f"unknown inference method {name!r}; available: "
                                 + ", ".join(repr(n) for n in _REGISTRY))
    return m


def infer(res, name, **kwargs):
    """Run the registered method ``name`` on the result ``res`` (see :meth:`SCResult.infer`)."""
    m = get_method(name)
    kind = res.model.kind
    if kind not in m.supports:
        from ..models import KINDS
        what = {"outcome": "outcome-only fits", "predictors": "covariate (V-weighted) fits",
                "ridge": "ridge-augmented fits"}
        why = (m.why_not or {}).get(kind)
        raise SpecificationError(
            f"{m.name} is not available for {res.model.description}"
            + (f": {why}" if why else "") + "; it supports "
            + ", ".join(what[k] for k in KINDS if k in m.supports))
    params = m.parameters
    # progress: an option of every method's loops, not of the method (see synthcontrol.parallel)
    progress = kwargs.pop("progress", None) if "progress" not in params else None
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise SpecificationError(f"{m.name}() got unexpected argument(s) {', '.join(map(repr, unknown))}; "
                                 f"it takes {', '.join(params) or 'no arguments'}")
    from ..parallel import progress_scope
    with progress_scope(progress):
        out = m.func(res, **kwargs)
    if isinstance(out, Inference):
        call = {**m.defaults, **kwargs}
        out = dataclasses.replace(out, name=m.name, call=call, fit_kind=kind)
    return out


_LOADED = [False]


def _load_builtins():
    """Import every method module of this package once (each registers itself): a new module in
    ``synthcontrol/inference/`` is found without being listed anywhere.  Modules whose name starts
    with ``_``, and ``base`` and ``refit`` (the machinery), are not methods."""
    if not _LOADED[0]:
        _LOADED[0] = True
        import importlib
        import pkgutil
        from pathlib import Path
        for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
            if not info.name.startswith("_") and info.name not in ("base", "refit"):
                importlib.import_module(f"synthcontrol.inference.{info.name}")
