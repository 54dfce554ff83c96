"""NumPy ``.npy`` files: any real dtype and shape, memory-mapped when read lazily or large."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepconv_cli.image import Image
from sepconv_cli.io.common import default_axes
from sepconv_cli.io.formats import FileFormat, register_format

MAGIC = b"\x93NUMPY"

#: Bytes per block when streaming lazy data into a .npy file.
_BLOCK_BYTES = 64 * 2**20
#: Eager reads of files larger than this are memory-mapped (copy-on-write) instead of loaded.
LARGE_BYTES = 1 * 2**30


def _sniff(head: bytes, path: Path) -> bool:
    return head.startswith(MAGIC)


def _read(path: Path, *, lazy: bool = False) -> Image:
    import numpy as np

    if lazy:
        mode: str | None = "r"
    elif path.stat().st_size > LARGE_BYTES:
        mode = "c"  # large: mapped copy-on-write, so it reads like an in-memory array
    else:
        mode = None
    data = np.load(path, mmap_mode=mode, allow_pickle=False)
    if data.dtype.hasobject:
        raise ValueError("object arrays are not supported")
    fortran = bool(data.flags.f_contiguous and not data.flags.c_contiguous)
    image = Image(data, default_axes(data.ndim, str(path)))
    image.meta["highlights"] = {"memory_mapped": mode is not None, "fortran_order": fortran}
    return image


def _write(image: Image, paths: tuple[Path, ...]) -> None:
    import numpy as np

    (path,) = paths
    data: Any = image.data
    if isinstance(data, np.ndarray):
        np.save(path, data, allow_pickle=False)
        return
    # Lazy (Dask) or memory-mapped data: stream it into a memory-mapped .npy block by block.
    out = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=tuple(data.shape))
    step = max(1, _BLOCK_BYTES // max(1, out[:1].nbytes)) if out.ndim else 1
    for start in range(0, out.shape[0] if out.ndim else 1, step):
        out[start : start + step] = np.asarray(data[start : start + step])
    out.flush()
    del out


register_format(
    FileFormat(
        name="npy",
        description="NumPy array (.npy): any shape; axes default to yx, zyx, tzyx by dimension",
        suffixes=(".npy",),
        sniff=_sniff,
        read=_read,
        write=_write,
        supports_lazy=True,
    )
)
