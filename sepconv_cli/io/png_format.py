"""PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette) and JPEG, via Pillow/imageio and pypng.

Pillow cannot hold 16-bit colour, so 16-bit PNGs with more than one channel go through
``pypng``; everything else goes through imageio's Pillow plugin. PNG writes keep the bit depth.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image
from sepconv_cli.io.common import materialize, require_dtype, transpose_to
from sepconv_cli.io.formats import FileFormat, register_format

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
    axes = "yx" if data.ndim == 2 else "yxc"
    image = Image(np.ascontiguousarray(data), axes)
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


def _write_png(image: Image, paths: tuple[Path, ...]) -> None:
    import numpy as np

    (path,) = paths
    require_dtype(image, ("uint8", "uint16"), "PNG", "cast with --dtype uint8 or uint16")
    data = np.ascontiguousarray(_plane(image, "PNG", (1, 2, 3, 4)))
    if data.dtype == np.uint16 and data.ndim == 3:
        import png

        height, width, planes = data.shape
        writer = png.Writer(
            width, height, greyscale=planes < 3, alpha=planes in (2, 4), bitdepth=16
        )
        with open(path, "wb") as handle:
            writer.write(handle, data.reshape(height, width * planes))
        return
    import imageio.v3 as iio

    iio.imwrite(path, data, extension=".png")


def _write_jpeg(image: Image, paths: tuple[Path, ...]) -> None:
    import imageio.v3 as iio

    (path,) = paths
    require_dtype(image, ("uint8",), "JPEG", "cast with --dtype uint8")
    iio.imwrite(path, _plane(image, "JPEG", (1, 3)), extension=".jpg", quality=95)


register_format(
    FileFormat(
        name="png",
        description="PNG: 8/16-bit gray, gray+alpha, RGB, RGBA (bit depth kept)",
        suffixes=(".png",),
        sniff=lambda head, path: head.startswith(PNG_MAGIC),
        read=_read_png,
        write=_write_png,
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
        aliases=("jpg",),
    )
)
