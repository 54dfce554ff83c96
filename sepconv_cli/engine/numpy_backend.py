"""The reference in-memory backend: scipy.ndimage's compiled correlation routines.

Correlation semantics, canonical mode names (``sepconv_cli.boundary``), float32 and float64
data; ``output`` may be None or a preallocated array of data's shape and dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def correlate1d(
    data: np.ndarray,
    weights: np.ndarray,
    axis: int,
    mode: str,
    cval: float,
    origin: int,
    output: np.ndarray | None,
) -> np.ndarray:
    """Correlate ``data`` with 1-D ``weights`` along ``axis`` (scipy.ndimage.correlate1d).

    Examples
    --------
    >>> correlate1d(np.arange(5.0), np.array([1.0, 0.0, -1.0]), 0, "nearest", 0.0, 0, None)
    array([-1., -2., -2., -2., -1.])
    """
    out = np.empty_like(data) if output is None else output
    ndimage.correlate1d(data, np.asarray(weights, dtype=np.float64), axis, out, mode, cval, origin)
    return out


def correlate(
    data: np.ndarray,
    weights: np.ndarray,
    mode: str,
    cval: float,
    origin: Sequence[int],
    output: np.ndarray | None,
) -> np.ndarray:
    """Correlate ``data`` with an N-D ``weights`` array of the same ndim (scipy.ndimage.correlate).

    Examples
    --------
    >>> correlate(np.eye(3), np.ones((3, 3)), "constant", 0.0, (0, 0), None)
    array([[2., 2., 1.],
           [2., 3., 2.],
           [1., 2., 2.]])
    """
    out = np.empty_like(data) if output is None else output
    ndimage.correlate(data, np.asarray(weights, dtype=np.float64), out, mode, cval, tuple(origin))
    return out
