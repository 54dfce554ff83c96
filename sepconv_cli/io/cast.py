"""Casting an image to another data type for formats that hold only some (``convert --dtype``)."""

from __future__ import annotations

from sepconv_cli.errors import UsageError
from sepconv_cli.image import Image
from sepconv_cli.io.common import materialize

#: Data types ``--dtype`` accepts.
DTYPES = (
    "uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "float32", "float64",
)  # fmt: skip


def cast(image: Image, dtype: str) -> tuple[Image, int]:
    """``image`` as ``dtype``: integers are rounded to nearest and clipped to the type's range.

    NaN becomes 0 when cast to an integer type. Returns the new image and how many samples
    were clipped (or were NaN) so the caller can warn.

    Examples
    --------
    >>> import numpy as np
    >>> out, clipped = cast(Image(np.array([[-3.0, 2.5, 300.0]]), "yx"), "uint8")
    >>> out.data.tolist(), clipped
    ([[0, 2, 255]], 2)
    """
    import numpy as np

    if dtype not in DTYPES:
        raise UsageError(f"--dtype: unknown data type {dtype!r} (choices: {', '.join(DTYPES)})")
    target = np.dtype(dtype)
    data = materialize(image.data)
    if data.dtype == target:
        return image, 0
    clipped = 0
    if target.kind in "iu":
        info = np.iinfo(target)
        if data.dtype.kind == "f":
            nan = np.isnan(data)
            clipped += int(np.count_nonzero(nan))
            data = np.where(nan, 0, np.rint(data))
        low, high = data < info.min, data > info.max
        clipped += int(np.count_nonzero(low)) + int(np.count_nonzero(high))
        data = np.clip(data, info.min, info.max) if clipped else data
    out = data.astype(target)
    return image.replace(data=out), clipped
