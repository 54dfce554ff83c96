"""Registry of in-memory backends, imported lazily so optional ones cost nothing until used.

A backend module exposes::

    correlate1d(data, weights, axis, mode, cval, origin, output) -> ndarray
    correlate(data, weights, mode, cval, origin, output) -> ndarray

with scipy.ndimage semantics (correlation, canonical mode names from ``sepconv_cli.boundary``),
for float32 and float64 ``data``; ``output`` may be None or a preallocated array of data's shape.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sepconv_cli.errors import BackendUnavailableError
from sepconv_cli.registry import Registry

#: backend name -> (module path, pip extra that provides it or None)
BACKENDS: Registry[tuple[str, str | None]] = Registry("backend")
BACKENDS.register("numpy", ("sepconv_cli.engine.numpy_backend", None), aliases=("scipy",))
BACKENDS.register("numba", ("sepconv_cli.engine.numba_backend", "numba"))


def load_backend(name: str) -> ModuleType:
    """Import a backend module by name, with a clear error when its extra is not installed.

    Examples
    --------
    >>> load_backend("numpy").__name__
    'sepconv_cli.engine.numpy_backend'
    """
    module_path, extra = BACKENDS.get(name)
    try:
        return importlib.import_module(module_path)
    except ImportError as exc:
        hint = f" (pip install 'sepconv-cli[{extra}]')" if extra else ""
        raise BackendUnavailableError(f"backend {name!r} is not available: {exc}{hint}") from exc


def backend_available(name: str) -> bool:
    """True when the backend's module and dependencies import."""
    try:
        load_backend(name)
    except BackendUnavailableError:
        return False
    return True
