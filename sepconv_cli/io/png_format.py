"""PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette) and JPEG, via Pillow/imageio and pypng.

Pillow cannot hold 16-bit colour, so 16-bit PNGs with more than one channel go through
``pypng``; everything else goes through imageio's Pillow plugin. PNG writes keep the bit depth:
1/2/4-bit gray (masks) reads as 0..255 and is written back at its depth while the values fit.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import LENGTH_UNITS_MM, Image, convert_length
from sepconv_cli.io.common import materialize, transpose_to
from sepconv_cli.io.formats import DtypeRule, FileFormat, register_format

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

_COLOR_TYPES = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}


def _ihdr(path: Path) -> tuple[int, int, int, int, int]:
    """Width, height, bit depth, colour type and interlace method from the IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise ValueError("truncated or missing IHDR chunk")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return width, height, depth, color, interlace


#: Pixels per metre of the 72 and 96 dpi screen defaults: not a physical pixel size.
_SCREEN_PPM = (2834, 2835, 3779, 3780)


def _pixels_per_metre(path: Path) -> tuple[int, int] | None:
    """(x, y) pixels per metre from the pHYs chunk (in metres, not a 72/96 dpi default)."""
    with open(path, "rb") as handle:
        handle.seek(len(PNG_MAGIC))
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"pHYs" and length == 9:
                ppx, ppy, unit = struct.unpack(">IIB", handle.read(9))
                if unit != 1 or not ppx or not ppy or {ppx, ppy} <= set(_SCREEN_PPM):
                    return None
                return ppx, ppy
            if kind in (b"IDAT", b"IEND"):  # pHYs must come before the image data
                return None
            handle.seek(length + 4, 1)


def _target_ppm(image: Image) -> tuple[int, int] | None:
    """(x, y) pixels per metre for the pHYs chunk from the image's x/y spacing, if known."""
    values = []
    for letter in "xy":
        index = image.axis(letter)
        step = None if index is None else image.spacing[index]
        unit = None if index is None else image.units[index]
        if step is None or unit not in LENGTH_UNITS_MM or step <= 0:
            return None
        values.append(max(1, round(1.0 / (convert_length(step, unit, "m")))))
    return values[0], values[1]


def _read_png(path: Path, *, lazy: bool = False) -> Image:
    import numpy as np

    width, height, depth, color, interlace = _ihdr(path)
    if depth == 16 and color in (2, 4, 6):
        import png

        _, _, rows, info = png.Reader(filename=str(path)).asDirect()
        planes = info["planes"]
        data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
        data = data.reshape(height, width, planes)
    else:
        import imageio.v3 as iio

        data = iio.imread(path, extension=".png")
        if data.dtype == bool:  # 1-bit gray: full range like Pillow's 2- and 4-bit (0..255)
            data = data.astype(np.uint8) * np.uint8(255)
    axes = "yx" if data.ndim == 2 else "yxc"
    spacing: tuple[float | None, ...] = ()
    units: tuple[str | None, ...] = ()
    ppm = _pixels_per_metre(path)
    if ppm is not None:
        # whole pixels per metre: 6 significant digits is all the chunk holds at µm scale
        spacing = (float(f"{1e6 / ppm[1]:.6g}"), float(f"{1e6 / ppm[0]:.6g}"))
        spacing += (None,) * (data.ndim - 2)
        units = ("um", "um") + (None,) * (data.ndim - 2)
    image = Image(np.ascontiguousarray(data), axes, spacing=spacing, units=units)
    image.meta["highlights"] = {
        "bit_depth": depth,
        "color_type": _COLOR_TYPES.get(color, str(color)),
        "interlaced": bool(interlace),
    }
    return image


def _read_jpeg(path: Path, *, lazy: bool = False) -> Image:
    import imageio.v3 as iio

    data = iio.imread(path, extension=".jpg")
    image = Image(data, "yx" if data.ndim == 2 else "yxc")
    image.meta["highlights"] = {"lossy": True}
    return image


def _plane(image: Image, fmt: str, channels: tuple[int, ...]) -> Any:
    """The image as a 2-D ``yx`` or 3-D ``yxc`` NumPy array, dropping size-1 extra axes."""
    extra = [i for i, letter in enumerate(image.axes) if letter not in "yxc"]
    if any(image.shape[i] != 1 for i in extra) or "y" not in image.axes or "x" not in image.axes:
        raise FormatError(
            f"{fmt} holds one 2-D image (axes yx or yxc); got axes {image.axes!r} with shape "
            f"{image.shape} (write TIFF, NIfTI or npy instead)"
        )
    if extra:
        index = tuple(0 if i in extra else slice(None) for i in range(image.ndim))
        image = image.replace(
            data=image.data[index],
            axes="".join(image.axes[i] for i in range(image.ndim) if i not in extra),
            spacing=(),
            units=(),
        )
    data, axes = transpose_to(image, "yxc")
    data = materialize(data)
    if axes == "yxc":
        if data.shape[2] not in channels:
            raise FormatError(
                f"{fmt} holds {', '.join(map(str, channels))} channels; got {data.shape[2]}"
            )
        if data.shape[2] == 1:
            data = data[:, :, 0]
    return data


def _low_depth(image: Image, data: Any) -> int | None:
    """The source's 1/2/4-bit gray depth when ``data`` still fits it exactly, else None.

    Low-depth gray samples are read scaled to 0..255, so they fit when every value is a
    multiple of ``255 / (2**depth - 1)``.
    """
    import numpy as np

    depth = image.meta.get("highlights", {}).get("bit_depth")
    if depth not in (1, 2, 4) or data.ndim != 2 or data.dtype != np.uint8:
        return None
    return depth if not np.any(data % (255 // (2**depth - 1))) else None


def _write_png(image: Image, paths: tuple[Path, ...]) -> None:
    import numpy as np

    (path,) = paths
    ppm = _target_ppm(image)
    data = np.ascontiguousarray(_plane(image, "PNG", (1, 2, 3, 4)))
    depth = _low_depth(image, data)
    if depth is not None or (data.dtype == np.uint16 and data.ndim == 3):
        import png

        height, width = data.shape[:2]
        planes = 1 if data.ndim == 2 else data.shape[2]
        physical = (
            {"x_pixels_per_unit": ppm[0], "y_pixels_per_unit": ppm[1], "unit_is_meter": True}
            if ppm
            else {}
        )
        if depth is not None:  # keep a 1/2/4-bit gray PNG (a mask) at its bit depth
            data = data // np.uint8(255 // (2**depth - 1))
        writer = png.Writer(
            width,
            height,
            greyscale=planes < 3,
            alpha=planes in (2, 4),
            bitdepth=depth or 16,
            **physical,
        )
        with open(path, "wb") as handle:
            writer.write(handle, data.reshape(height, width * planes))
        return
    import imageio.v3 as iio

    options = {"dpi": (ppm[0] * 0.0254, ppm[1] * 0.0254)} if ppm else {}
    iio.imwrite(path, data, extension=".png", **options)


def _write_jpeg(image: Image, paths: tuple[Path, ...]) -> None:
    import imageio.v3 as iio

    (path,) = paths
    iio.imwrite(path, _plane(image, "JPEG", (1, 3)), extension=".jpg", quality=95)


register_format(
    FileFormat(
        name="png",
        description="PNG: 8/16-bit gray, gray+alpha, RGB, RGBA (bit depth kept)",
        suffixes=(".png",),
        sniff=lambda head, path: head.startswith(PNG_MAGIC),
        read=_read_png,
        write=_write_png,
        holds=DtypeRule("PNG", ("uint8", "uint16"), "cast with --dtype uint8 or uint16"),
    )
)
register_format(
    FileFormat(
        name="jpeg",
        description="JPEG: 8-bit gray or RGB (lossy; written at quality 95)",
        suffixes=(".jpg", ".jpeg", ".jpe"),
        sniff=lambda head, path: head.startswith(JPEG_MAGIC),
        read=_read_jpeg,
        write=_write_jpeg,
        holds=DtypeRule("JPEG", ("uint8",), "cast with --dtype uint8"),
        aliases=("jpg",),
    )
)
