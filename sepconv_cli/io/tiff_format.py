"""TIFF via tifffile: pages, stacks, RGB, BigTIFF, deflate/LZW, ImageJ hyperstacks and OME-TIFF.

Axes and physical pixel sizes come from ImageJ or OME metadata (or the resolution tags of a
plain TIFF); writes keep them as an ImageJ hyperstack when ImageJ can hold the data (uint8,
uint16, float32) and as OME-TIFF otherwise.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image, normalize_unit
from sepconv_cli.io.common import captured_log, default_axes, spacing_in, transpose_to
from sepconv_cli.io.formats import FileFormat, register_format

_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

#: tifffile axis letter -> sepconv role letter (I: a plain sequence of pages, read as z).
_ROLE_OF = {"T": "t", "Z": "z", "C": "c", "S": "c", "Y": "y", "X": "x", "I": "z", "Q": "z"}

_COMPRESSIONS = {"ADOBE_DEFLATE": "zlib", "DEFLATE": "zlib", "LZW": "lzw", "ZSTD": "zstd"}

_SCREEN_INCH = (1 / 72, 1 / 96)
_IMAGEJ_DTYPES = ("uint8", "uint16", "float32")
_TIFF_DTYPES = _IMAGEJ_DTYPES + ("uint32", "uint64", "int8", "int16", "int32", "int64", "float64")
_OME_UNITS = {"um": "µm", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m"}
_IMAGEJ_UNITS = {"um": "micron"}


def _unit(text: Any) -> str | None:
    if text is None:
        return None
    return normalize_unit(str(text).replace("\\u00B5", "µ").replace("\\u00b5", "µ"))


def _roles(tiff_axes: str, stored: str | None, ndim: int, path: Path) -> tuple[str, list[str]]:
    if stored and len(stored) == ndim and len(set(stored)) == ndim:
        return stored.lower(), []
    roles = "".join(_ROLE_OF.get(letter, "?") for letter in tiff_axes)
    if "?" not in roles and len(set(roles)) == len(roles):
        return roles, []
    fallback = default_axes(ndim, str(path))
    return fallback, [
        f"{path}: TIFF axes {tiff_axes!r} have no sepconv roles; assuming {fallback!r} "
        "(give --axes to set them)"
    ]


def _resolution(page: Any, tag: str) -> float | None:
    value = page.tags.get(tag)
    if value is None:
        return None
    num, den = value.value
    if not num or not den:
        return None
    return den / num


def _ome_pixels(xml: str) -> dict[str, Any]:
    root = ET.fromstring(xml)
    for element in root.iter():
        if element.tag.endswith("}Pixels") or element.tag == "Pixels":
            return dict(element.attrib)
    return {}


def _stored_axes(tf: Any) -> str | None:
    """The roles sepconv wrote (``sepconv_axes``) in ImageJ metadata or the OME description."""
    if tf.is_imagej and tf.imagej_metadata:
        return tf.imagej_metadata.get("sepconv_axes")
    if tf.is_ome and tf.ome_metadata:
        for element in ET.fromstring(tf.ome_metadata).iter():
            if element.tag.endswith("}Description") and element.text:
                match = re.search(r"sepconv_axes=([a-z]+)", element.text)
                if match:
                    return match.group(1)
    return None


def _spacing(tf: Any, roles: str, page: Any) -> tuple[list[float | None], list[str | None], str]:
    spacing: list[float | None] = [None] * len(roles)
    units: list[str | None] = [None] * len(roles)

    def put(letter: str, value: Any, unit: str | None) -> None:
        if letter in roles and value not in (None, "", 0):
            spacing[roles.index(letter)] = float(value)
            units[roles.index(letter)] = unit

    if tf.is_ome and tf.ome_metadata:
        pixels = _ome_pixels(tf.ome_metadata)
        for letter in "xyz":
            key = f"PhysicalSize{letter.upper()}"
            put(letter, pixels.get(key), _unit(pixels.get(key + "Unit", "µm")))
        put("t", pixels.get("TimeIncrement"), _unit(pixels.get("TimeIncrementUnit", "s")))
        return spacing, units, "ome"
    rx, ry = _resolution(page, "XResolution"), _resolution(page, "YResolution")
    if tf.is_imagej and tf.imagej_metadata is not None:
        meta = tf.imagej_metadata
        unit = _unit(meta.get("unit"))
        if unit is not None:
            put("x", rx, unit)
            put("y", ry, unit)
            put("z", meta.get("spacing"), unit)
        put("t", meta.get("finterval"), _unit(meta.get("tunit", "s")))
        return spacing, units, "imagej"
    res_unit = page.tags.get("ResolutionUnit")
    to_mm = {2: 25.4, 3: 10.0}.get(int(res_unit.value) if res_unit is not None else 2)
    # 72 and 96 dpi are the screen defaults software writes when it knows no physical size.
    if to_mm is not None and not (to_mm == 25.4 and rx in _SCREEN_INCH and ry in _SCREEN_INCH):
        put("x", None if rx is None else rx * to_mm, "mm")  # rx is inches (or cm) per pixel
        put("y", None if ry is None else ry * to_mm, "mm")
    return spacing, units, "plain"


def _check_strips(series: Any, size: int) -> None:
    """Raise when a strip or tile of ``series`` lies beyond the end of the file (truncated)."""
    for page in series.pages:
        if page is None:
            continue
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        for offset, count in zip(offsets, counts, strict=False):
            if offset + count > size:
                raise FormatError(
                    f"truncated TIFF: image data ends at byte {offset + count} "
                    f"but the file has {size} bytes"
                )


def _read(path: Path, *, lazy: bool = False) -> Image:
    with captured_log("tifffile") as problems:
        image = _read_tiff(path, lazy)
    if problems:  # tifffile's messages start with the file's repr: "<tifffile.TiffFile 'x'> "
        problem = re.sub(r"^<tifffile[^>]*>\s*", "", problems[0])
        raise FormatError(f"damaged TIFF: {problem}")
    return image


def _read_tiff(path: Path, lazy: bool) -> Image:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        _check_strips(series, path.stat().st_size)
        page = series.pages[0] if series.pages else tf.pages[0]
        stored = _stored_axes(tf)
        roles, warnings = _roles(series.axes, stored, len(series.shape), path)
        spacing, units, flavor = _spacing(tf, roles, page)
        compression = getattr(page.compression, "name", str(page.compression))
        highlights = {
            "flavor": flavor,
            "tiff_axes": series.axes,
            "pages": len(tf.pages),
            "series": len(tf.series),
            "compression": compression,
            "bigtiff": tf.is_bigtiff,
            "photometric": getattr(page.photometric, "name", str(page.photometric)),
        }
        data = None if lazy else series.asarray()
    if lazy:
        data = _lazy(path)
    if len(roles) != data.ndim:
        raise ValueError(f"series shape {data.shape} does not match its axes {series.axes!r}")
    image = Image(data, roles, spacing=tuple(spacing), units=tuple(units))
    image.meta["warnings"] = warnings
    image.meta["highlights"] = highlights
    image.meta["tiff"] = {"flavor": flavor, "compression": _COMPRESSIONS.get(compression)}
    return image


def _lazy(path: Path) -> Any:
    """Series 0 as a Dask array over tifffile's Zarr view, else a memory map, else loaded."""
    import tifffile

    try:
        import dask.array as da
        import zarr  # noqa: F401 - tifffile's aszarr store needs it
    except ImportError:
        try:
            return tifffile.memmap(path, mode="r")
        except ValueError:  # compressed or not contiguous
            return tifffile.imread(path)
    return da.from_zarr(tifffile.imread(path, aszarr=True))


def _spatial_unit(image: Image) -> str | None:
    units = [image.units[i] for i in image.spatial_axes if image.spacing[i] is not None]
    return units[0] if units else None


def tiff_layout(image: Image, *, compression: Any = "input") -> tuple[str, dict[str, Any]]:
    """How sepconv writes ``image`` as TIFF: the stored axis order and ``tifffile`` arguments.

    RGB(A) ``yxc`` uint8/uint16 images are stored as RGB; plain ``yx``/``zyx`` images without
    spacing as plain TIFF; otherwise an ImageJ hyperstack (axes ``tzcbyx``; uint8, uint16,
    float32) or OME-TIFF with the spacing, units and sepconv's axis roles. Only the image's
    axes, spacing, units, dtype, size and TIFF metadata are used, so the same layout serves
    whole-array writes and chunk-by-chunk writes into ``tifffile.memmap`` (which pass
    ``compression=None``; by default the input's compression is kept).

    Examples
    --------
    >>> import numpy as np
    >>> axes, kwargs = tiff_layout(Image(np.zeros((2, 4, 5), np.uint8), "yxc"))
    >>> axes, kwargs["photometric"], kwargs["metadata"]["axes"], kwargs["imagej"]
    ('cyx', 'minisblack', 'CYX', True)
    >>> tiff_layout(Image(np.zeros((4, 5, 3), np.uint8), "yxc"))[1]["photometric"]
    'rgb'
    """
    import numpy as np

    if image.dtype.name not in _TIFF_DTYPES:
        raise FormatError(f"TIFF cannot hold {image.dtype} data")
    if "b" in image.axes and "c" in image.axes:
        raise FormatError(f"TIFF holds one channel axis; axes {image.axes!r} have both c and b")
    tiff_meta = image.meta.get("tiff", {})
    nbytes = int(np.prod(image.shape, dtype=np.int64)) * image.dtype.itemsize
    options: dict[str, Any] = {
        "compression": tiff_meta.get("compression") if compression == "input" else compression,
        "bigtiff": nbytes > 2**32 - 2**25,
    }
    rgb = (
        image.axes.endswith("yxc")
        and image.shape[-1] in (3, 4)
        and image.dtype.name in ("uint8", "uint16")
    )
    has_spacing = any(s is not None for s in image.spacing)
    flavor = tiff_meta.get("flavor")
    plain = (
        not has_spacing
        and flavor in (None, "plain")
        and (image.axes in ("yx", "zyx") or (rgb and image.axes == "yxc"))
    )
    imagej = (
        not plain
        and flavor != "ome"
        and image.dtype.name in _IMAGEJ_DTYPES
        and not (rgb and image.dtype.name != "uint8")
    )
    order = "tzcbyx" if not rgb else "tzyxc"
    axes = "".join(letter for letter in order if letter in image.axes)
    if len(axes) != image.ndim:
        missing = next(a for a in image.axes if a not in order)
        raise FormatError(f"axes {image.axes!r}: cannot place axis {missing!r}")
    placed = image.replace(
        data=np.broadcast_to(
            np.zeros((), image.dtype), tuple(image.shape[image.axes.index(a)] for a in axes)
        ),
        axes=axes,
        spacing=tuple(image.spacing[image.axes.index(a)] for a in axes),
        units=tuple(image.units[image.axes.index(a)] for a in axes),
    )
    tiff_axes = "".join({"b": "C"}.get(a, a.upper()) for a in axes)
    if rgb:
        tiff_axes = tiff_axes[:-1] + "S"
        options["photometric"] = "rgb"
    else:
        options["photometric"] = "minisblack"
    unit = _spatial_unit(placed)
    sx, sy, sz = (spacing_in(placed, a, unit) for a in "xyz")
    t_index = placed.axis("t")
    dt = placed.spacing[t_index] if t_index is not None else None
    if imagej:
        metadata: dict[str, Any] = {"axes": tiff_axes, "sepconv_axes": axes}
        if unit is not None:
            metadata["unit"] = _IMAGEJ_UNITS.get(unit, unit)
        if sz is not None:
            metadata["spacing"] = sz
        if dt is not None:
            metadata["finterval"] = dt
            if placed.units[t_index] not in (None, "s"):
                metadata["tunit"] = placed.units[t_index]
        if sx is not None and sy is not None:
            options["resolution"] = (1.0 / sx, 1.0 / sy)
        return axes, {**options, "imagej": True, "metadata": metadata}
    if plain:
        return axes, {**options, "metadata": None}
    metadata = {"axes": tiff_axes, "Description": f"sepconv_axes={axes}"}
    for letter, value in zip("XYZ", (sx, sy, sz), strict=True):
        if value is not None:
            metadata[f"PhysicalSize{letter}"] = value
            metadata[f"PhysicalSize{letter}Unit"] = _OME_UNITS.get(unit or "um", "µm")
    if dt is not None:
        metadata["TimeIncrement"] = dt
        metadata["TimeIncrementUnit"] = placed.units[t_index] or "s"
    return axes, {**options, "ome": True, "metadata": metadata}


def _write(image: Image, paths: tuple[Path, ...]) -> None:
    import numpy as np
    import tifffile

    (path,) = paths
    axes, kwargs = tiff_layout(image)
    data, _ = transpose_to(image, axes)
    tifffile.imwrite(path, np.asarray(data), **kwargs)


register_format(
    FileFormat(
        name="tiff",
        description="TIFF/BigTIFF: stacks, RGB, deflate/LZW, ImageJ and OME axes and pixel sizes",
        suffixes=(".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8"),
        sniff=lambda head, path: head[:4] in _MAGICS,
        read=_read,
        write=_write,
        supports_lazy=True,
        aliases=("tif", "ome-tiff", "bigtiff"),
    )
)
