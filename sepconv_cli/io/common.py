"""Helpers shared by the format modules."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image, convert_length

#: Axis roles for arrays that carry none (``.npy``), by number of dimensions.
DEFAULT_AXES = {1: "x", 2: "yx", 3: "zyx", 4: "tzyx", 5: "tczyx"}


def default_axes(ndim: int, source: str) -> str:
    """Axis roles for an ``ndim``-dimensional array without metadata.

    Examples
    --------
    >>> default_axes(3, "a.npy")
    'zyx'
    """
    if ndim not in DEFAULT_AXES:
        raise FormatError(f"{source}: {ndim}-D data is not supported (1 to 5 dimensions)")
    return DEFAULT_AXES[ndim]


def materialize(data: Any) -> Any:
    """A NumPy array of ``data`` (computes Dask arrays, reads memory maps, keeps NumPy as is).

    Examples
    --------
    >>> import numpy as np
    >>> materialize(np.arange(3)).tolist()
    [0, 1, 2]
    """
    import numpy as np

    if hasattr(data, "compute") and not isinstance(data, np.ndarray):
        data = data.compute()
    return np.asarray(data)


def transpose_to(image: Image, order: str) -> tuple[Any, str]:
    """The data transposed so its axes follow ``order`` (letters absent from the image skipped).

    Returns the (lazy where possible) transposed data and its axis string.

    Examples
    --------
    >>> import numpy as np
    >>> data, axes = transpose_to(Image(np.zeros((2, 3, 4)), "yxz"), "xyz")
    >>> data.shape, axes
    ((3, 2, 4), 'xyz')
    """
    present = [letter for letter in order if letter in image.axes]
    missing = [letter for letter in image.axes if letter not in order]
    if missing:
        raise FormatError(f"axes {image.axes!r}: cannot place axis {missing[0]!r}")
    perm = [image.axes.index(letter) for letter in present]
    data = image.data if perm == sorted(perm) else image.data.transpose(perm)
    return data, "".join(present)


def spacing_in(image: Image, letter: str, unit: str | None) -> float | None:
    """The spacing of axis ``letter`` in ``unit``, or None (no such axis, no spacing, no unit).

    A spacing without a unit is taken to be in ``unit`` already.

    Examples
    --------
    >>> import numpy as np
    >>> image = Image(np.zeros((2, 3, 4)), "zyx", (2.0, 0.5, 0.5), ("um", "um", None))
    >>> spacing_in(image, "z", "mm"), spacing_in(image, "x", "mm"), spacing_in(image, "t", "mm")
    (0.002, 0.5, None)
    """
    index = image.axis(letter)
    if index is None or image.spacing[index] is None or unit is None:
        return None
    value = image.spacing[index]
    own = image.units[index]
    return value if own in (None, unit) else convert_length(value, own, unit)


class _Collect(logging.Handler):
    """Keeps the messages of log records instead of printing them."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_log(name: str, level: int = logging.WARNING) -> Iterator[list[str]]:
    """Route the logger ``name`` to a list instead of stderr while the block runs.

    Libraries log damaged or repaired structures instead of raising (tifffile) or print them
    through their own handler (nibabel's ``nibabel.global``); readers turn the collected
    messages into an error or into ``image.meta["warnings"]``.

    Examples
    --------
    >>> with captured_log("example.lib") as messages:
    ...     logging.getLogger("example.lib").warning("header repaired")
    >>> messages
    ['header repaired']
    """
    logger = logging.getLogger(name)
    handler = _Collect(level)
    saved = logger.handlers[:], logger.propagate
    logger.handlers = [handler]
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.handlers, logger.propagate = saved
