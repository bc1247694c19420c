"""Quick start for one-shot commands: xarray's duck-array checks without importing dask and pint.

xarray asks of every array it wraps whether it is a dask array or a pint quantity, and to ask it imports
``dask.array`` and ``pint`` when they are installed (both are, for the park and the accounting): about a
second of a ``tanjian kpi`` that uses neither (dask.array pulls in scipy; pint pulls in dask.array and
babel). No object can be an instance of a class whose module was never imported, so until ``dask.array``
(``pint``) is in :data:`sys.modules` the answer is "no" without the import; once something imports it,
xarray's own check is used. :func:`lazy_duck_arrays` installs that, for the process, before the store is
opened; nothing a command computes changes.

It reaches into two private names of ``xarray.namedarray`` (the pinned xarray 2026.9); when they are not
there it does nothing.
"""

from __future__ import annotations

import sys
from typing import Any

#: xarray's duck-array module name -> the module whose presence in sys.modules makes its check worth doing
_PROBES = {"dask": "dask.array", "pint": "pint"}


def lazy_duck_arrays() -> bool:
    """Make xarray's dask and pint checks lazy (see the module docstring); True when installed."""
    try:
        from xarray.namedarray import pycompat, utils
    except ImportError:  # pragma: no cover - xarray is a dependency
        return False
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    real_check = getattr(utils, "is_dask_collection", None)
    if not isinstance(cache, dict) or not hasattr(pycompat, "DuckArrayModule") or real_check is None:
        return False
    for mod, probe in _PROBES.items():
        if mod not in cache and probe not in sys.modules:
            cache[mod] = _LazyDuckArrayModule(pycompat.DuckArrayModule, mod, probe)
    if not getattr(real_check, "lazy", False):
        def is_dask_collection(x: object) -> bool:
            return "dask" in sys.modules and real_check(x)

        is_dask_collection.lazy = True
        utils.is_dask_collection = is_dask_collection
    return True


class _LazyDuckArrayModule:
    """Stands for xarray's ``DuckArrayModule(mod)``: ``type`` is ``()`` while ``probe`` is not imported;
    anything else (and ``type`` afterwards) comes from the real one, made on first use."""

    def __init__(self, real_class: type, mod: str, probe: str):
        self._real_class, self._mod, self._probe = real_class, mod, probe
        self._real = None

    def _get(self) -> Any:
        if self._real is None:
            self._real = self._real_class(self._mod)
        return self._real

    @property
    def type(self) -> tuple[type, ...]:
        return self._get().type if self._probe in sys.modules else ()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)
