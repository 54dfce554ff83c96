"""``convert``: read one file, optionally cast it, and write it in another format."""

from __future__ import annotations

import os
from typing import Any

from sepconv_cli.image import Image
from sepconv_cli.io.common import DEFAULT_AXES


def conversion_losses(image: Image, target_format: str) -> list[str]:
    """What ``target_format`` cannot keep of ``image`` (one sentence each).

    Examples
    --------
    >>> import numpy as np
    >>> conversion_losses(Image(np.zeros((2, 2)), "yx", spacing=(1, 1), units=("um", "um")), "npy")
    ['npy stores no spacing or units; they are dropped']
    """
    lost = []
    spaced = {a for a, s in zip(image.axes, image.spacing, strict=True) if s is not None}
    if spaced and target_format in ("jpeg", "npy"):
        lost.append(f"{target_format} stores no spacing or units; they are dropped")
    if target_format == "npy" and image.axes != DEFAULT_AXES.get(image.ndim):
        lost.append(
            f"npy stores no axis roles: the file reads back as axes "
            f"{DEFAULT_AXES.get(image.ndim)!r} (read it with --axes {image.axes})"
        )
    if target_format == "tiff" and spaced & set("bc"):
        lost.append("TIFF keeps no spacing for band or channel axes; it is dropped")
    if target_format == "envi":
        other = [a for a in image.axes if a not in "yx"]
        if other and other[0] != "b":
            lost.append(f"ENVI has bands, not axis {other[0]!r}: it is written as the band axis")
        if spaced & set("yx") and "map info" not in image.meta.get("envi", {}):
            lost.append("ENVI keeps pixel sizes only in a map info; the y/x spacing is dropped")
        if other and other[0] in spaced and "wavelength" not in image.meta.get("envi", {}):
            lost.append("ENVI keeps band positions only as wavelengths; band spacing is dropped")
    if image.meta.get("nifti") and target_format != "nifti":
        lost.append(f"the NIfTI affine and header are not kept in {target_format}")
    if image.meta.get("envi", {}).get("wavelength") and target_format != "envi":
        lost.append(f"the ENVI wavelengths and band metadata are not kept in {target_format}")
    if target_format == "jpeg":
        lost.append("JPEG is lossy: sample values change")
    return lost


def convert(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    to: str | None = None,
    from_format: str | None = None,
    axes: str | None = None,
    dtype: str | None = None,
) -> dict[str, Any]:
    """Convert ``source`` to ``target`` (``"-"``: stdin/stdout) and describe what happened.

    Returns a summary with ``input``, ``output``, ``input_format``, ``format``, ``shape``,
    ``dtype``, ``axes``, ``clipped`` (samples clipped by ``dtype``) and ``warnings``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "v.npy", np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    >>> summary = convert(folder / "v.npy", folder / "v.nii.gz", dtype="int16")
    >>> summary["format"], summary["dtype"], summary["shape"]
    ('nifti', 'int16', [2, 3, 4])
    """
    from sepconv_cli.io import from_suffix, lookup, read, write
    from sepconv_cli.io.cast import cast

    if to is not None:
        fmt_name: str | None = lookup(to).name
    else:
        found = None if str(target) == "-" else from_suffix(target)
        fmt_name = found.name if found is not None else None
    image = read(source, format=from_format, axes=axes, lazy=str(source) != "-")
    warnings = list(image.meta.get("warnings", []))
    clipped = 0
    if dtype is not None:
        image, clipped = cast(image, dtype)
        if clipped:
            warnings.append(
                f"--dtype {dtype}: {clipped} sample(s) were out of range or NaN and were clipped"
            )
    if fmt_name is not None:
        warnings += conversion_losses(image, fmt_name)
    write(image, target, format=to, inputs=[source])
    return {
        "input": str(source),
        "output": str(target),
        "input_format": image.format,
        "format": fmt_name,
        "shape": list(image.shape),
        "dtype": image.dtype.name,  # "int16" for big-endian data too
        "axes": image.axes,
        "clipped": clipped,
        "warnings": warnings,
    }
