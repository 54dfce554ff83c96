"""Zarr and OME-Zarr (NGFF 0.4): lazy read, chunked and atomic write.

Reading
    A Zarr array directory, a group holding one array, or an OME-Zarr image group (multiscale
    level 0 is read; ``multiscales`` axes give axis roles and units, the level's ``scale``
    transform times any global one gives the spacing). Zarr format 2 and 3 stores are read.
    ``lazy=True`` returns a Dask array over the store's own chunks.
Writing
    Zarr format 2 (what NGFF 0.4 requires and what zarr-python 2 and 3 both read). A ``.ome.zarr``
    path or ``--format ome-zarr``/``ngff`` (``ome=True``) writes a single-scale OME-Zarr image
    whose axes are put in NGFF order (t, c, z, y, x); otherwise (``.zarr``, ``--format zarr``)
    the array order is kept and axes, spacing and units go in the ``sepconv`` attribute. A store
    is a directory, so "atomic" means: written to a hidden temporary sibling directory, renamed
    at the end.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import AXIS_ROLES, Image, normalize_unit, validate_axes
from sepconv_cli.io.formats import FileFormat, not_a_store, register_format

NAME = "zarr"
SUFFIXES = (".zarr", ".ome.zarr")
#: Files that make a directory a Zarr store: format 2 array and group, format 3 node.
MARKERS = (".zarray", ".zgroup", "zarr.json")

#: our unit -> NGFF (UDUNITS-2) unit name.
NGFF_UNITS: dict[str, str] = {
    "m": "meter",
    "cm": "centimeter",
    "mm": "millimeter",
    "um": "micrometer",
    "nm": "nanometer",
    "s": "second",
    "ms": "millisecond",
    "us": "microsecond",
}
_FROM_NGFF_UNITS = {value: key for key, value in NGFF_UNITS.items()}

#: NGFF axis order: time, channel-like, then space as z y x.
_NGFF_RANK = {"t": 0, "c": 1, "b": 1, "z": 2, "y": 3, "x": 4}
_NGFF_TYPE = {"space": "space", "time": "time", "channel": "channel", "band": "channel"}
_DEFAULT_AXES = {1: "x", 2: "yx", 3: "zyx", 4: "czyx", 5: "tczyx"}


def _marker_files(path: Path) -> set[str]:
    return set(MARKERS) & {p.name for p in path.iterdir()}


def sniff(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a Zarr store directory (format 2 or 3).

    Examples
    --------
    >>> sniff("no/such/dir.zarr")
    False
    """
    p = Path(path)
    return p.is_dir() and bool(_marker_files(p))


def ngff_order(axes: str) -> tuple[int, ...]:
    """The permutation that puts ``axes`` in NGFF order (t, c/b, z, y, x), stable otherwise.

    Examples
    --------
    >>> ngff_order("yxc")
    (2, 0, 1)
    """
    return tuple(sorted(range(len(axes)), key=lambda i: _NGFF_RANK.get(axes[i], 1)))


def _ngff_axes(axes: str, units: tuple[str | None, ...]) -> list[dict[str, str]]:
    out = []
    for letter, unit in zip(axes, units, strict=True):
        entry = {"name": letter, "type": _NGFF_TYPE[AXIS_ROLES[letter]]}
        if unit is not None:
            entry["unit"] = NGFF_UNITS.get(unit, unit)
        out.append(entry)
    return out


def create_zarr(
    path: str | os.PathLike[str],
    shape: tuple[int, ...],
    dtype: Any,
    chunks: tuple[int, ...],
    *,
    axes: str = "",
    spacing: tuple[float | None, ...] = (),
    units: tuple[str | None, ...] = (),
    ome: bool = False,
    name: str = "",
) -> str:
    """Create an empty Zarr (format 2) array or single-scale OME-Zarr image at ``path``.

    The arrays' axes are taken as given: for OME-Zarr the caller passes them in NGFF order
    (see :func:`ngff_order`). Returns the array's path inside the store (``""`` or ``"0"``).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> create_zarr(root / "a.ome.zarr", (4, 8), "uint8", (4, 4), axes="yx", ome=True)
    '0'
    >>> read(root / "a.ome.zarr").axes
    'yx'
    """
    import zarr

    ndim = len(shape)
    axes = validate_axes(axes, ndim) if axes else ""
    spacing = tuple(spacing) or (None,) * ndim
    units = tuple(normalize_unit(u) for u in units) or (None,) * ndim
    chunks = tuple(max(1, min(int(c), int(s) or 1)) for c, s in zip(chunks, shape, strict=True))
    if not ome:
        array = zarr.create_array(
            store=str(path), shape=shape, dtype=dtype, chunks=chunks, zarr_format=2
        )
        array.attrs["sepconv"] = {"axes": axes, "spacing": list(spacing), "units": list(units)}
        return ""
    if not axes:
        raise FormatError(f"writing OME-Zarr {str(path)!r} needs axis names")
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    group.create_array("0", shape=shape, dtype=dtype, chunks=chunks)
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "name": name or Path(path).name.removesuffix(".zarr").removesuffix(".ome"),
            "axes": _ngff_axes(axes, units),
            "datasets": [
                {
                    "path": "0",
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [1.0 if s is None else s for s in spacing]}
                    ],
                }
            ],
            "metadata": {"written_by": "sepconv"},
        }
    ]
    return "0"


def _scale_of(transforms: list[dict[str, Any]] | None, ndim: int) -> list[float]:
    scale = [1.0] * ndim
    for transform in transforms or []:
        if transform.get("type") == "scale" and "scale" in transform:
            scale = [a * float(b) for a, b in zip(scale, transform["scale"], strict=True)]
    return scale


def _letter_for(axis: dict[str, Any] | str) -> str:
    if isinstance(axis, str):  # NGFF 0.3: axes are bare names
        axis = {"name": axis}
    name = str(axis.get("name", "")).lower()
    kind = str(axis.get("type", "")).lower()
    if name in AXIS_ROLES:
        return name
    if kind == "channel":
        return "b" if name in {"band", "lambda", "wavelength", "spectral"} else "c"
    if kind == "time":
        return "t"
    raise FormatError(f"OME-Zarr axis {axis!r} has no sepconv role (x y z c b t)")


def _read_ome(path: Path, group: Any) -> tuple[Any, str, tuple, tuple, dict[str, Any]]:
    attrs = dict(group.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    first = multiscales[0]
    datasets = first.get("datasets") or []
    if not datasets:
        raise FormatError(f"OME-Zarr {str(path)!r}: multiscales has no datasets")
    array = group[datasets[0]["path"]]
    ndim = array.ndim
    axes_meta = first.get("axes") or []
    if len(axes_meta) != ndim:
        raise FormatError(
            f"OME-Zarr {str(path)!r}: {len(axes_meta)} axes for a {ndim}-D level 0 array"
        )
    axes = "".join(_letter_for(a) for a in axes_meta)
    level = _scale_of(datasets[0].get("coordinateTransformations"), ndim)
    whole = _scale_of(first.get("coordinateTransformations"), ndim)
    scale = [a * b for a, b in zip(level, whole, strict=True)]
    units = tuple(
        _FROM_NGFF_UNITS.get(str(a.get("unit")), a.get("unit")) if isinstance(a, dict) else None
        for a in axes_meta
    )
    spacing = tuple(float(s) for s in scale)
    meta = {"ome_multiscales": multiscales, "ome_levels": len(datasets)}
    return array, axes, spacing, units, meta


def _open(path: Path) -> Any:
    import zarr

    if not sniff(path):
        raise not_a_store(path, ZARR)
    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises many kinds for a damaged store
        raise FormatError(f"cannot open Zarr store {str(path)!r}: {exc}") from exc


def read(path: str | os.PathLike[str], *, axes: str | None = None, lazy: bool = False) -> Image:
    """Read a Zarr array or OME-Zarr image (multiscale level 0) as an :class:`Image`.

    Parameters
    ----------
    path
        The store directory.
    axes
        Override the axis roles (``--axes``); otherwise OME axes, the ``sepconv`` attribute,
        xarray's ``_ARRAY_DIMENSIONS``, or a default by dimension (``yx``, ``zyx``, ``czyx``).
    lazy
        Return a Dask array over the store's chunks instead of reading everything.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "v.ome.zarr"
    >>> write(Image(np.ones((2, 3, 4), np.float32), "zyx", (2.0, 0.5, 0.5), ("um",) * 3), p)
    >>> img = read(p, lazy=True)
    >>> img.axes, img.spacing, img.units, type(img.data).__name__
    ('zyx', (2.0, 0.5, 0.5), ('um', 'um', 'um'), 'Array')
    """
    p = Path(path)
    node = _open(p)
    meta: dict[str, Any] = {}
    spacing: tuple = ()
    units: tuple = ()
    found_axes = ""
    if hasattr(node, "array_keys"):  # a group
        attrs = dict(node.attrs)
        if "multiscales" in attrs or "multiscales" in attrs.get("ome", {}):
            array, found_axes, spacing, units, meta = _read_ome(p, node)
        else:
            names = list(node.array_keys())
            if len(names) != 1:
                raise FormatError(
                    f"Zarr group {str(p)!r} holds {len(names)} arrays "
                    f"({', '.join(names) or 'none'}); give the path of one of them"
                )
            array = node[names[0]]
    else:
        array = node
    attrs = dict(array.attrs)
    own = attrs.get("sepconv") or {}
    if not found_axes and own.get("axes"):
        found_axes = own["axes"]
        spacing = tuple(own.get("spacing") or ())
        units = tuple(own.get("units") or ())
    dims = attrs.get("_ARRAY_DIMENSIONS")
    if not found_axes and dims and all(str(d).lower() in AXIS_ROLES for d in dims):
        found_axes = "".join(str(d).lower() for d in dims)
    if axes:
        found_axes, spacing, units = axes, spacing if found_axes else (), units
    elif not found_axes:
        if array.ndim not in _DEFAULT_AXES:
            raise FormatError(f"Zarr {str(p)!r} has {array.ndim} axes: give --axes")
        found_axes = _DEFAULT_AXES[array.ndim]
    meta.update(zarr_chunks=tuple(array.chunks), zarr_attrs=attrs, zarr_array=array.path)
    if lazy:
        import dask.array as da

        data: Any = da.from_zarr(array)
    else:
        data = array[...]
    return Image(data, found_axes, spacing, units, meta=meta, format=NAME, path=str(p))


def open_array(image: Image) -> Any:
    """The Zarr array a (lazily) read Zarr image came from, opened read-only by path.

    A zarr array pickles as its path, so distributed workers read their chunks themselves;
    the path is made absolute, as a worker's working directory is not ours.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "a.ome.zarr"
    >>> write(Image(np.ones((4, 5), np.uint8), "yx"), p)
    >>> open_array(read(p, lazy=True)).shape
    (4, 5)
    """
    import zarr

    if image.path is None or "zarr_array" not in image.meta:
        raise FormatError("not an image read from a Zarr store")
    return zarr.open_array(str(Path(image.path).absolute() / image.meta["zarr_array"]), mode="r")


#: ``--format`` names (after lower-casing and dropping ``-``/``_``) that ask for OME-Zarr.
OME_NAMES = frozenset({"omezarr", "ngff"})


def is_ome_path(path: str | os.PathLike[str]) -> bool:
    """True for a ``.ome.zarr`` path.

    Examples
    --------
    >>> is_ome_path("a/b.ome.zarr"), is_ome_path("b.zarr")
    (True, False)
    """
    return str(path).lower().rstrip("/").endswith(".ome.zarr")


def is_ome_name(format: str) -> bool:
    """True when ``--format format`` asks for OME-Zarr (``ome-zarr``, ``omezarr``, ``ngff``).

    Examples
    --------
    >>> is_ome_name("OME-Zarr"), is_ome_name("ngff"), is_ome_name("zarr")
    (True, True, False)
    """
    return format.lower().replace("-", "").replace("_", "") in OME_NAMES


def default_chunks(shape: tuple[int, ...], itemsize: int, target_bytes: int = 2**22) -> tuple:
    """A chunk shape of about ``target_bytes`` (4 MiB), trimming the leading axes first.

    Examples
    --------
    >>> default_chunks((512, 512, 512), 4)
    (4, 512, 512)
    """
    chunks = list(shape)
    for axis in range(len(chunks)):
        rest = math.prod(chunks[axis + 1 :]) * itemsize
        chunks[axis] = max(1, min(chunks[axis], target_bytes // max(rest, 1)))
        if math.prod(chunks) * itemsize <= target_bytes:
            break
    return tuple(max(1, c) for c in chunks)


def write(
    image: Image,
    path: str | os.PathLike[str],
    *,
    chunks: tuple[int, ...] | None = None,
    ome: bool | None = None,
) -> None:
    """Write ``image`` (NumPy or Dask data) as Zarr or OME-Zarr, atomically.

    Dask data are stored chunk by chunk (``da.store``), so they need not fit in memory.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "img.zarr"
    >>> write(Image(np.arange(12, dtype=np.uint16).reshape(3, 4), "yx"), p)
    >>> read(p).data.sum()
    np.uint64(66)
    """
    import numpy as np

    from sepconv_cli.engine.dask_store import ChunkTarget

    ome = is_ome_path(path) if ome is None else ome
    data = image.data
    if chunks is None:
        source_chunks = getattr(data, "chunksize", None)
        chunks = (
            tuple(source_chunks)
            if source_chunks
            else default_chunks(image.shape, np.dtype(image.dtype).itemsize)
        )
    target = ChunkTarget(
        Path(path),
        "zarr",
        image.shape,
        image.dtype,
        tuple(chunks),
        axes=image.axes,
        spacing=image.spacing,
        units=image.units,
        ome=ome,
    ).create()
    try:
        if hasattr(data, "dask"):
            import dask.array as da

            da.store(data.rechunk(chunks), target, lock=False)
        else:
            target.write(tuple(slice(None) for _ in image.shape), np.asarray(data))
        target.commit()
    except BaseException:
        target.abort()
        raise


def _sniff(head: bytes, path: Path) -> bool:
    return sniff(path)


def _read(path: Path, *, lazy: bool = False) -> Image:
    return read(path, lazy=lazy)


def _write(image: Image, paths: tuple[Path, ...], *, ome: bool | None = None) -> None:
    (path,) = paths
    write(image, path, ome=ome)


def _write_options(name: str) -> dict[str, Any]:
    """``--format ome-zarr``/``ngff`` asks for OME-Zarr whatever the suffix; ``zarr`` leaves
    it to the suffix (``.ome.zarr``)."""
    return {"ome": True} if is_ome_name(name) else {}


ZARR = register_format(
    FileFormat(
        name=NAME,
        description=(
            "Zarr store (directory; .ome.zarr = OME-Zarr NGFF 0.4 image, level 0 read): "
            "lazy, chunked, any size"
        ),
        suffixes=SUFFIXES,
        sniff=_sniff,
        read=_read,
        write=_write,
        write_options=_write_options,
        supports_lazy=True,
        streamable=False,
        directory=True,
        markers=MARKERS,
        aliases=("ome-zarr", "omezarr", "ngff"),
    )
)
