"""``describe``: what ``sepconv info`` reports about an image, computed block by block."""

from __future__ import annotations

import math
from typing import Any

from sepconv_cli.image import Image

#: Elements per block for the reductions (bounds the temporary float64 memory to ~64 MiB).
_BLOCK_ELEMENTS = 8 * 2**20


def _blocks(data: Any) -> Any:
    """Yield NumPy blocks of ``data`` (NumPy, memory map or Dask) along its first axis."""
    import numpy as np

    if data.ndim == 0:
        yield np.asarray(data).reshape(1)
        return
    per_row = max(1, math.prod(data.shape[1:]))
    step = max(1, _BLOCK_ELEMENTS // per_row)
    for start in range(0, data.shape[0], step):
        yield np.asarray(data[start : start + step])


def value_stats(data: Any) -> dict[str, Any]:
    """Min, max and mean of the finite values and the NaN/Inf counts, without a float64 copy.

    Examples
    --------
    >>> import numpy as np
    >>> value_stats(np.array([1.0, np.nan, 3.0, np.inf]))
    {'min': 1.0, 'max': 3.0, 'mean': 2.0, 'nan_count': 1, 'inf_count': 1, 'finite_count': 2}
    """
    import numpy as np

    lo, hi, total, count, nans, infs = math.inf, -math.inf, 0.0, 0, 0, 0
    floating = np.dtype(data.dtype).kind == "f"
    for block in _blocks(data):
        if floating:
            finite_mask = np.isfinite(block)
            n_nan = int(np.count_nonzero(np.isnan(block)))
            nans += n_nan
            infs += int(block.size - np.count_nonzero(finite_mask)) - n_nan
            block = block[finite_mask]
        if block.size == 0:
            continue
        lo = min(lo, block.min().item())
        hi = max(hi, block.max().item())
        total += float(np.add.reduce(block, axis=None, dtype=np.float64))
        count += int(block.size)
    kind = np.dtype(data.dtype).kind
    cast = int if kind in "iub" else float
    return {
        "min": cast(lo) if count else None,
        "max": cast(hi) if count else None,
        "mean": total / count if count else None,
        "nan_count": nans,
        "inf_count": infs,
        "finite_count": count,
    }


def describe(image: Image) -> dict[str, Any]:
    """The facts ``sepconv info`` prints: shape, dtype, axes, spacing, value range, highlights.

    Keys: ``path``, ``format``, ``shape``, ``dtype``, ``axes``, ``roles``, ``spacing`` (list,
    None where unknown), ``units``, ``min``, ``max``, ``mean``, ``nan_count``, ``inf_count``,
    ``nbytes``, ``lazy``, ``highlights`` (format-specific: NIfTI orientation code, ENVI
    wavelength range, TIFF flavour...) and ``warnings``.

    Examples
    --------
    >>> import numpy as np
    >>> info = describe(Image(np.arange(6, dtype=np.uint8).reshape(2, 3), "yx"))
    >>> info["shape"], info["dtype"], info["min"], info["max"], info["nbytes"]
    ([2, 3], 'uint8', 0, 5, 6)
    """
    import numpy as np

    from sepconv_cli.image import AXIS_ROLES

    dtype = np.dtype(image.dtype)
    info: dict[str, Any] = {
        "path": image.path,
        "format": image.format,
        "shape": list(image.shape),
        "dtype": dtype.newbyteorder("=").name if dtype.byteorder == ">" else dtype.name,
        "byte_order": "big-endian" if dtype.byteorder == ">" else "native",
        "axes": image.axes,
        "roles": [AXIS_ROLES[letter] for letter in image.axes],
        "spacing": list(image.spacing),
        "units": list(image.units),
        "nbytes": int(math.prod(image.shape) * dtype.itemsize),
        "lazy": not isinstance(image.data, np.ndarray) or isinstance(image.data, np.memmap),
    }
    info.update(value_stats(image.data))
    info["highlights"] = dict(image.meta.get("highlights", {}))
    info["warnings"] = list(image.meta.get("warnings", []))
    return info
