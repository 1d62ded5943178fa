"""Read-only containers for results: a dict that refuses changes (and stays picklable)."""
from __future__ import annotations

import copy

__all__ = ["ReadOnlyDict", "freeze"]


class ReadOnlyDict(dict):
    """A ``dict`` whose contents cannot be changed after it is built.

    Results hand out their diagnostics and settings as ``ReadOnlyDict``: reading works as for any
    dict (and ``dict(d)`` gives an editable copy), but ``d[k] = v``, ``del d[k]``, ``update`` and
    the other mutators raise ``TypeError``, so a result cannot be changed after the fact by a caller
    or by a later inference call.  Nested dicts are frozen too.
    """

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("this mapping is read-only (a result's diagnostics and settings cannot be "
                        "changed after the fit); copy it with dict(...) to edit a copy")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __reduce__(self):  # pickle (joblib, dask) as a plain dict, rebuilt read-only
        return (ReadOnlyDict, (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return ReadOnlyDict({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def __repr__(self):
        return f"ReadOnlyDict({dict.__repr__(self)})"


def freeze(d):
    """``d`` (a mapping) as a :class:`ReadOnlyDict`, nested dicts included."""
    if isinstance(d, ReadOnlyDict):
        return d
    return ReadOnlyDict({k: freeze(v) if isinstance(v, dict) else v for k, v in d.items()})
