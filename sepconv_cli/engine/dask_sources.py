"""What chunk tasks read from, and reading a chunk with its exact halo: :func:`read_padded`.

Sources are picklable array-likes (``shape``, ``dtype``, ``__getitem__`` with slices), so
distributed workers open the files themselves: whole-file memory maps (``.npy``, NIfTI, ENVI)
are re-mapped per read, TIFF stacks go through tifffile's Zarr store, Zarr arrays are used as
they are, and any other Dask array is computed region by region inside the task.
"""

from __future__ import annotations

import itertools
import mmap
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sepconv_cli.boundary import NP_PAD_MODE, canonical_mode


@dataclass(frozen=True)
class MemmapSource:
    """A file-backed array (a memory map, or a strided view of one) that maps the file only
    while a chunk is read, then unmaps it.

    A long-lived memory map of the whole input makes every page read count in the process's
    RSS (and Dask's worker memory monitor acts on RSS); mapping per read keeps RSS at what the
    chunks in flight need. Views (ENVI's interleaves, NIfTI's Fortran order, transposes) keep
    their byte offset and strides. Picklable, so distributed workers open the file themselves.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> src = MemmapSource.from_memmap(np.load(path, mmap_mode="r"))
    >>> src[1:, 2]
    array([ 6., 10.])
    >>> MemmapSource.from_memmap(np.load(path, mmap_mode="r").T[::2])[1]
    array([ 2.,  6., 10.])
    """

    filename: str
    offset: int
    nbytes: int
    start: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @classmethod
    def from_memmap(cls, data: np.ndarray) -> MemmapSource | None:
        """The source behind a memory map or a view of one; None for anything else."""
        root = data
        while isinstance(root, np.ndarray) and not isinstance(root.base, mmap.mmap):
            root = root.base
        if not isinstance(root, np.memmap) or not root.filename:
            return None
        start = data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        return cls(
            str(root.filename),
            int(root.offset),
            int(root.nbytes),
            int(start),
            tuple(data.shape),
            tuple(data.strides),
            np.dtype(data.dtype),
        )

    def __getitem__(self, key: Any) -> np.ndarray:
        if not self.nbytes or 0 in self.shape:
            return np.empty(self.shape, self.dtype)[key]
        mm = np.memmap(self.filename, np.uint8, "r", offset=self.offset, shape=(self.nbytes,))
        try:
            view = np.ndarray(
                self.shape, self.dtype, buffer=mm, offset=self.start, strides=self.strides
            )
            return np.array(view[key])
        finally:
            del mm


class DaskSource:
    """A Dask array read region by region inside a task (synchronously: only its chunks).

    A plain class, not a dataclass, so that ``dask.delayed`` passes it to tasks as it is
    instead of computing the array it holds.
    """

    def __init__(self, array: Any) -> None:
        self.array = array

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self.array.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.array[key].compute(scheduler="synchronous"))


#: Open stores by path: (the file version they were opened for, the Zarr array).
_TIFF_ARRAYS: dict[str, tuple[Any, Any]] = {}
_TIFF_LOCK = threading.Lock()


@dataclass(frozen=True)
class TiffSource:
    """Series 0, level 0 of a TIFF file read region by region through tifffile's Zarr store.

    Picklable (only the path travels), so distributed workers open the file themselves; each
    process keeps one open store per file, as parsing a long stack's pages once is enough,
    and opens it again when the file has changed (a new file at the same path).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "s.tif"
    >>> tifffile.imwrite(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    >>> TiffSource(str(path), (2, 3, 4), np.dtype("uint8"))[1, :, 3]
    array([15, 19, 23], dtype=uint8)
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype

    def _array(self) -> Any:
        info = os.stat(self.path)
        version = (info.st_ino, info.st_size, info.st_mtime_ns)
        with _TIFF_LOCK:
            opened, array = _TIFF_ARRAYS.get(self.path, (None, None))
            if opened != version:
                import tifffile
                import zarr

                node = zarr.open(tifffile.imread(self.path, aszarr=True), mode="r")
                array = node if hasattr(node, "shape") else node["0"]
                _TIFF_ARRAYS[self.path] = (version, array)
        return array

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._array()[key])


def source_for(image: Any) -> Any:
    """The source chunk tasks read ``image`` from: for a lazily read TIFF file, a picklable
    :class:`TiffSource` (a Dask array over tifffile's store cannot be sent to workers); for a
    Zarr store, the Zarr array itself; otherwise :func:`as_source` of its data.

    Examples
    --------
    >>> from sepconv_cli.image import Image
    >>> type(source_for(Image(np.zeros((2, 2)), "yx"))).__name__
    'ndarray'
    """
    data = image.data
    path = getattr(image, "path", None)
    if hasattr(data, "dask") and image.format == "tiff" and path and os.path.isfile(path):
        tiff = TiffSource(os.path.abspath(path), tuple(data.shape), np.dtype(data.dtype))
        stored = tiff._array()
        if tuple(stored.shape) == tiff.shape and np.dtype(stored.dtype) == tiff.dtype:
            return tiff
    if hasattr(data, "dask") and image.format == "zarr" and path and os.path.isdir(path):
        from sepconv_cli.io.zarr_format import open_array

        array = open_array(image)
        if tuple(array.shape) == tuple(data.shape):
            return array
    return as_source(data)


def as_source(data: Any) -> Any:
    """What chunk tasks read from: whole-file memory maps become :class:`MemmapSource`, Dask
    arrays :class:`DaskSource`; other array-likes (NumPy, Zarr) are sliced directly.

    Examples
    --------
    >>> type(as_source(np.zeros(3))).__name__
    'ndarray'
    """
    if hasattr(data, "dask"):
        return DaskSource(data)
    if isinstance(data, (MemmapSource, TiffSource, DaskSource)):
        return data
    if isinstance(data, np.ndarray):
        return MemmapSource.from_memmap(data) or data
    return data


def padded_indices(start: int, stop: int, n: int, h: int, mode: str) -> np.ndarray:
    """Source indices of samples ``start - h .. stop + h - 1`` of an axis of length ``n``.

    Outside the axis they follow scipy.ndimage's ``mode`` (``-1`` marks ``constant``'s cval).

    Examples
    --------
    >>> padded_indices(0, 3, 5, 2, "mirror"), padded_indices(3, 5, 5, 2, "wrap")
    (array([2, 1, 0, 1, 2, 3, 4]), array([1, 2, 3, 4, 0, 1]))
    """
    positions = np.arange(start - h, stop + h)
    if mode == "constant":
        return np.where((positions >= 0) & (positions < n), positions, -1)
    if h == 0:
        return positions
    return np.pad(np.arange(n), h, mode=NP_PAD_MODE[mode])[positions + h]


def _runs(sorted_unique: np.ndarray) -> list[tuple[int, int, int]]:
    """(offset in the compact array, first index, end index) of each run of consecutive indices."""
    breaks = np.flatnonzero(np.diff(sorted_unique) != 1) + 1
    out, offset = [], 0
    for run in np.split(sorted_unique, breaks):
        out.append((offset, int(run[0]), int(run[-1]) + 1))
        offset += len(run)
    return out


def read_padded(
    source: Any,
    region: Sequence[slice],
    halo: Sequence[int],
    mode: str,
    cval: float = 0.0,
    dtype: Any = None,
) -> np.ndarray:
    """Read ``region`` of ``source`` plus ``halo`` per axis, extended exactly as ``mode`` says.

    Only the samples needed are read (one slice per run of consecutive source indices, at most
    a few per axis), converted to ``dtype`` (default the source's) and arranged in place.

    Examples
    --------
    >>> x = np.arange(6.0)
    >>> read_padded(x, (slice(0, 2),), (3,), "reflect")
    array([2., 1., 0., 0., 1., 2., 3., 4.])
    >>> read_padded(x, (slice(4, 6),), (2,), "constant", cval=-1)
    array([ 2.,  3.,  4.,  5., -1., -1.])
    """
    mode = canonical_mode(mode)
    dtype = np.dtype(dtype if dtype is not None else source.dtype)
    index = [
        padded_indices(r.start, r.stop, n, int(h), mode)
        for r, n, h in zip(region, source.shape, halo, strict=True)
    ]
    unique = [np.unique(i[i >= 0]) for i in index]
    compact = np.empty(tuple(len(u) for u in unique), dtype)
    for combo in itertools.product(*[_runs(u) for u in unique]):
        dest = tuple(slice(off, off + end - first) for off, first, end in combo)
        compact[dest] = source[tuple(slice(first, end) for _, first, end in combo)]
    positions = [np.searchsorted(u, np.maximum(i, 0)) for u, i in zip(unique, index, strict=True)]
    if all(
        len(p) == len(u) and np.array_equal(p, np.arange(len(u)))
        for p, u in zip(positions, unique, strict=True)
    ):
        block = compact
    else:
        block = compact[np.ix_(*positions)]
    if mode == "constant":
        for axis, i in enumerate(index):
            outside = i < 0
            if outside.any():
                block[(slice(None),) * axis + (outside,)] = cval
    return block
