"""NIfTI-1/2 (``.nii``, ``.nii.gz``) via nibabel.

Array order is nibabel's (i, j, k[, t[, component]]) -> axes ``xyz``/``xyzt``/``xyztc``. Spacing is
the column norms of the affine's 3x3 part (correct for oblique affines, as SPM/FSL/nilearn do),
time comes from pixdim[4] and units from ``xyzt_units`` (unknown spatial units are taken as mm,
the neuroimaging convention). ``scl_slope``/``scl_inter`` are applied on read (in float32 for
<= 16-bit integers, float64 otherwise); unscaled integers stay integers. Writes keep the header,
affine, qform/sform codes and units, and set the on-disk data type to the data written.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image
from sepconv_cli.io.common import (
    captured_log,
    materialize,
    spacing_in,
    transpose_to,
)
from sepconv_cli.io.formats import DtypeRule, FileFormat, register_format

_GZIP_MAGIC = b"\x1f\x8b"
_XFORM_CODES = {0: "unknown", 1: "scanner", 2: "aligned", 3: "talairach", 4: "mni", 5: "template"}
_SPACE_UNITS = {"mm": "mm", "micron": "um", "meter": "m"}
_TIME_UNITS = {"sec": "s", "msec": "ms", "usec": "us"}
_AXES_BY_NDIM = {2: "xy", 3: "xyz", 4: "xyzt", 5: "xyztc"}
_DTYPES = (
    "uint8",
    "int8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
)


def _nifti_version(header: bytes) -> int | None:
    """1 or 2 when ``header`` starts like a single-file NIfTI header, else None."""
    if len(header) >= 348 and header[344:348] == b"n+1\x00":
        return 1
    if len(header) >= 540 and header[4:8] == b"n+2\x00":
        return 2
    return None


def _sniff(head: bytes, path: Path) -> bool:
    if head.startswith(_GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(544)
        except (OSError, EOFError):
            return path.name.lower().endswith(".nii.gz")
    return _nifti_version(head) is not None


def _load(path: Path, lazy: bool) -> Any:
    import nibabel as nib

    with open(path, "rb") as handle:
        compressed = handle.read(2) == _GZIP_MAGIC
    if compressed and not path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            blob = handle.read()
        cls = nib.Nifti2Image if _nifti_version(blob[:544]) == 2 else nib.Nifti1Image
        return cls.from_bytes(blob)
    img = nib.load(str(path), mmap="r" if lazy and not compressed else False)
    if not isinstance(img, nib.Nifti1Image):  # Nifti2Image subclasses Nifti1Image
        raise ValueError(f"not a NIfTI image ({type(img).__name__})")
    return img


def _data(img: Any, lazy: bool) -> tuple[Any, bool]:
    import numpy as np

    proxy = img.dataobj
    raw = proxy.get_unscaled()
    slope, inter = float(proxy.slope), float(proxy.inter)
    scaled = not (slope == 1.0 and inter == 0.0)
    if not scaled:
        if lazy:
            return raw, False
        return np.asarray(raw).astype(raw.dtype.newbyteorder("="), copy=False), False
    small = raw.dtype.kind in "iub" and raw.dtype.itemsize <= 2 or raw.dtype == np.float32
    work = np.dtype(np.float32 if small else np.float64)
    if lazy:
        try:
            import dask.array as da
        except ImportError:
            pass
        else:
            return da.from_array(raw, chunks="auto").astype(work) * work.type(slope) + work.type(
                inter
            ), True
    data = np.asarray(raw).astype(work)
    data *= work.type(slope)
    data += work.type(inter)
    return data, True


def _read(path: Path, *, lazy: bool = False) -> Image:
    import nibabel as nib
    import numpy as np

    with captured_log("nibabel.global") as repairs:  # nibabel prints header fixes to stderr
        img = _load(path, lazy)
    header = img.header
    shape = img.shape
    if len(shape) not in _AXES_BY_NDIM:
        raise FormatError(f"{path}: {len(shape)}-D NIfTI is not supported (2 to 5 dimensions)")
    axes = _AXES_BY_NDIM[len(shape)]
    data, scaled = _data(img, lazy)
    space_code, time_code = header.get_xyzt_units()
    space_unit = _SPACE_UNITS.get(space_code, "mm")
    time_unit = _TIME_UNITS.get(time_code)
    norms = np.sqrt((np.asarray(img.affine)[:3, :3] ** 2).sum(axis=0))
    zooms = header.get_zooms()
    # the header holds float32: 7 significant digits, without float64 noise from the norms
    spacing: list[float | None] = [float(f"{norms[i]:.7g}") for i in range(min(3, len(shape)))]
    units: list[str | None] = [space_unit] * len(spacing)
    if len(shape) >= 4:
        spacing.append(float(zooms[3]) if zooms[3] else None)
        units.append(time_unit if zooms[3] else None)
    while len(spacing) < len(shape):
        spacing.append(None)
        units.append(None)
    image = Image(data, axes, spacing=tuple(spacing), units=tuple(units))
    qform_code, sform_code = int(header["qform_code"]), int(header["sform_code"])
    version = 2 if isinstance(img, nib.Nifti2Image) else 1
    image.meta["nifti"] = {
        "header": header.copy(),
        "affine": np.array(img.affine, dtype=np.float64),
        "version": version,
    }
    image.meta["highlights"] = {
        "nifti_version": version,
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "qform_code": _XFORM_CODES.get(qform_code, str(qform_code)),
        "sform_code": _XFORM_CODES.get(sform_code, str(sform_code)),
        "xyzt_units": [space_code, time_code],
        "on_disk_dtype": str(header.get_data_dtype()),
        "scaled": (
            {"slope": float(img.dataobj.slope), "inter": float(img.dataobj.inter)}
            if scaled
            else None
        ),
        "description": _text(header["descrip"].item()),
    }
    image.meta["warnings"] = [
        f"{path.name}: damaged NIfTI header, read anyway: {m}" for m in repairs
    ]
    if space_code not in _SPACE_UNITS:
        image.meta["highlights"]["units_assumed"] = "mm (header says unknown)"
    return image


def _text(value: Any) -> str:
    """A header string field as text (NUL bytes dropped)."""
    raw = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return raw.replace("\x00", "").strip()


def _unit_code(unit: str | None, table: dict[str, str]) -> str:
    reverse = {ours: theirs for theirs, ours in table.items()}
    return reverse.get(unit or "", "unknown")


def _nifti_shape(axes: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape with size-1 slots so that x, y, z are dims 1-3, t/b dim 4 and c dim 5.

    Examples
    --------
    >>> _nifti_shape("xyc", (4, 5, 3)), _nifti_shape("xyb", (4, 5, 7)), _nifti_shape("xy", (4, 5))
    ((4, 5, 1, 1, 3), (4, 5, 1, 7), (4, 5))
    """
    slots = "xyz" + ("".join(a for a in "tb" if a in axes) or "-") + "c"
    sizes = dict(zip(axes, shape, strict=True))
    last = max(slots.index(a) for a in axes)
    return tuple(sizes.get(letter, 1) for letter in slots[: last + 1])


def _write(image: Image, paths: tuple[Path, ...]) -> None:
    import nibabel as nib
    import numpy as np

    (path,) = paths
    data, axes = transpose_to(image, "xyztbc")
    if len(axes) > 7:
        raise FormatError(f"NIfTI holds up to 7 axes; got {len(axes)}")
    data = materialize(data)
    data = data.astype(data.dtype.newbyteorder("="), copy=False)
    spatial = [a for a in axes if a in "xyz"]
    data = data.reshape(_nifti_shape(axes, data.shape))
    source = image.meta.get("nifti")
    cls = nib.Nifti2Image if source and source.get("version") == 2 else nib.Nifti1Image
    keep_header = source is not None and image.axes.startswith("xyz"[: min(3, image.ndim)])
    if keep_header:
        header = source["header"].copy()
        out = cls(data, source["affine"], header=header, dtype=data.dtype)
        out.set_qform(header.get_qform(), code=int(header["qform_code"]))
        out.set_sform(header.get_sform(), code=int(header["sform_code"]))
    else:
        unit = next(
            (image.units[image.axes.index(a)] for a in spatial if image.units[image.axes.index(a)]),
            None,
        )
        if unit not in ("mm", "um", "m"):
            unit = "mm"
        steps = [spacing_in(image, letter, unit) or 1.0 for letter in "xyz"]
        out = cls(data, np.diag(steps + [1.0]), dtype=data.dtype)
        out.set_qform(out.affine, code=1)
        out.set_sform(out.affine, code=1)
        zooms = list(out.header.get_zooms())
        t_index = image.axis("t")
        time_unit = None
        if t_index is not None and image.spacing[t_index] and len(zooms) >= 4:
            zooms[3] = image.spacing[t_index]
            time_unit = image.units[t_index]
        out.header.set_zooms(zooms)
        out.header.set_xyzt_units(
            xyz=_unit_code(unit, _SPACE_UNITS), t=_unit_code(time_unit, _TIME_UNITS)
        )
    out.set_data_dtype(data.dtype)
    out.header.set_slope_inter(1.0, 0.0)
    nib.save(out, str(path))


register_format(
    FileFormat(
        name="nifti",
        description="NIfTI-1/2 (.nii, .nii.gz): 3-D/4-D, affine, qform/sform, units, scaling",
        suffixes=(".nii", ".nii.gz"),
        sniff=_sniff,
        read=_read,
        write=_write,
        supports_lazy=True,
        holds=DtypeRule("NIfTI", _DTYPES),
        aliases=("nii", "nifti1", "nifti2"),
    )
)
