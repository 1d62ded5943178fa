"""The settings contract every estimator shares (scikit-learn's): ``__init__`` stores the settings
listed in ``_PARAMS``; ``get_params`` / ``set_params`` / ``clone``; a repr of what differs from the
defaults."""
from __future__ import annotations

import copy

from ..errors import SpecificationError

__all__ = ["Settings"]


class Settings:
    _PARAMS: tuple = ()

    def get_params(self, deep=True) -> dict:
        """The settings, as scikit-learn's ``get_params`` (``deep`` is accepted and changes nothing:
        no setting is itself an estimator)."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params):
        """Change settings in place (scikit-learn's contract); returns the estimator.  A result
        already fitted is not affected: it copied the settings at fit time."""
        bad = [k for k in params if k not in self._PARAMS]
        if bad:
            raise SpecificationError(f"unknown setting(s) {bad}; the settings are {list(self._PARAMS)}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def clone(self):
        """A new, unfitted estimator with deep copies of these settings (``sklearn.base.clone``)."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self):
        default = type(self)().get_params()

        def same(v, d):
            if v is d:
                return True
            try:
                return bool(v == d)
            except (TypeError, ValueError):  # arrays and frames: changed unless they are the default object
                return False
        changed = {k: v for k, v in self.get_params().items() if not same(v, default[k])}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"
