"""Chunk-by-chunk output targets for the Dask backend, written atomically.

A target is created empty at a hidden temporary sibling of the output path; every chunk task
opens it, writes its region and closes it again (so a task holds one chunk in memory, on any
worker that sees the same filesystem); :meth:`ChunkTarget.commit` renames the temporary into place
at the end and :meth:`ChunkTarget.abort` removes it. An interrupted run therefore never leaves a
file under the output name, and what it leaves behind is named ``.NAME.sepconv-tmp-*``.

Formats written this way: ``.npy`` (a memory map per task), uncompressed TIFF/BigTIFF
(``tifffile.memmap``) and Zarr / OME-Zarr directories (one chunk-aligned region per task).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sepconv_cli.errors import FormatError

#: Output formats that can be written chunk by chunk, by the suffixes that select them.
CHUNKED_SUFFIXES: dict[str, str] = {
    ".npy": "npy",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".btf": "tiff",
    ".zarr": "zarr",
}


def chunked_format(path: str | os.PathLike[str], format: str | None = None) -> str | None:
    """Name of the chunk-writable format for ``path`` (``npy``, ``tiff``, ``zarr``) or None.

    Examples
    --------
    >>> chunked_format("out/brain.ome.zarr"), chunked_format("x.TIF"), chunked_format("x.nii.gz")
    ('zarr', 'tiff', None)
    """
    if format is not None:
        from sepconv_cli.io.zarr_format import is_ome_name

        if is_ome_name(format):
            return "zarr"
        name = format.lower().replace("-", "").replace("_", "")
        aliases = {"tif": "tiff", "bigtiff": "tiff"}
        name = aliases.get(name, name)
        return name if name in set(CHUNKED_SUFFIXES.values()) else None
    suffix = Path(path).suffix.lower()
    return CHUNKED_SUFFIXES.get(suffix)


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique name next to ``path`` that keeps its suffix.

    Examples
    --------
    >>> name = temporary_sibling(Path("out/a.npy")).name
    >>> name.startswith(".a.npy.sepconv-tmp-") and name.endswith(".npy")
    True
    """
    return path.with_name(f".{path.name}.sepconv-tmp-{uuid.uuid4().hex[:12]}{path.suffix}")


def _remove(path: Path) -> None:
    """Remove a temporary output; retried briefly, as a cancelled remote task may still be
    writing a chunk into a directory store while it is being deleted."""
    for attempt in range(5):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink(missing_ok=True)
        if not (path.exists() or path.is_symlink()):
            return
        time.sleep(0.1 * (attempt + 1))


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing directory is moved aside first, then removed."""
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(f".{final.name}.sepconv-old-{uuid.uuid4().hex[:12]}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


@dataclass
class ChunkTarget:
    """An output written region by region, then renamed into place.

    Parameters
    ----------
    path
        The final output path.
    format
        ``npy``, ``tiff`` or ``zarr``.
    shape, dtype
        Of the whole output array.
    chunks
        The regular chunk shape the regions follow (Zarr's chunk shape).
    axes, spacing, units
        Written into TIFF (ImageJ metadata, resolution) and Zarr/OME-Zarr metadata.
    ome
        For Zarr: write OME-Zarr (NGFF 0.4) rather than a plain Zarr array.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "o.npy"
    >>> t = ChunkTarget(out, "npy", (4, 4), np.dtype("float32"), (2, 4)).create()
    >>> t.write((slice(0, 2), slice(0, 4)), np.ones((2, 4), np.float32))
    >>> t.write((slice(2, 4), slice(0, 4)), np.zeros((2, 4), np.float32))
    >>> t.commit()
    >>> np.load(out).sum()
    np.float32(8.0)
    """

    path: Path
    format: str
    shape: tuple[int, ...]
    dtype: Any
    chunks: tuple[int, ...]
    axes: str = ""
    spacing: tuple[float | None, ...] = ()
    units: tuple[str | None, ...] = ()
    ome: bool = False
    tmp: Path = field(default=Path())
    array_path: str = ""
    order: tuple[int, ...] = ()

    def create(self) -> ChunkTarget:
        """Create the empty output at a temporary sibling path; return self.

        The path is made absolute: tasks on a cluster's workers write into it from their own
        working directory.
        """
        self.path = Path(self.path).absolute()
        self.dtype = np.dtype(self.dtype)
        if not self.path.parent.is_dir():
            raise FormatError(f"output directory {str(self.path.parent)!r} does not exist")
        if self.path.is_dir() and not self.path.is_symlink():
            markers = {".zarray", ".zgroup", "zarr.json"} & {p.name for p in self.path.iterdir()}
            if self.format != "zarr" or not markers:
                raise FormatError(
                    f"{self.path}: is a directory that is not a Zarr store; refusing to replace it"
                )
        self.tmp = temporary_sibling(self.path)
        try:
            if self.format == "npy":
                mm = np.lib.format.open_memmap(self.tmp, "w+", self.dtype, self.shape)
                del mm
            elif self.format == "tiff":
                self._create_tiff()
            elif self.format == "zarr":
                self._create_zarr()
            else:
                raise FormatError(f"format {self.format!r} cannot be written chunk by chunk")
        except BaseException:
            _remove(self.tmp)
            raise
        return self

    def _create_zarr(self) -> None:
        from sepconv_cli.io.zarr_format import create_zarr, ngff_order

        ndim = len(self.shape)
        self.order = ngff_order(self.axes) if self.ome and self.axes else tuple(range(ndim))
        permute = self._permute
        self.array_path = create_zarr(
            self.tmp,
            permute(self.shape),
            self.dtype,
            permute(self.chunks),
            axes="".join(permute(tuple(self.axes))),
            spacing=permute(tuple(self.spacing)),
            units=permute(tuple(self.units)),
            ome=self.ome,
            name=self.path.name.removesuffix(".zarr").removesuffix(".ome"),
        )

    def _permute(self, values: tuple) -> tuple:
        return tuple(values[i] for i in self.order) if values else values

    def _create_tiff(self) -> None:
        """An uncompressed (Big)TIFF laid out exactly as sepconv's TIFF writer lays out the
        same image (:func:`~sepconv_cli.io.tiff_format.tiff_layout`: RGB, plain, ImageJ
        hyperstack or OME-TIFF, with spacing and units), then memory-mapped chunk by chunk."""
        import tifffile

        from sepconv_cli.image import Image
        from sepconv_cli.io.tiff_format import tiff_layout

        axes = self.axes or "zyx"[-len(self.shape) :]
        image = Image(
            np.broadcast_to(np.zeros((), self.dtype), self.shape),
            axes,
            spacing=tuple(self.spacing),
            units=tuple(self.units),
        )
        placed, kwargs = tiff_layout(image, compression=None)
        self.order = tuple(axes.index(a) for a in placed)
        with warnings.catch_warnings():
            # ImageJ metadata in a BigTIFF (as sepconv's TIFF writer also does above 4 GiB).
            warnings.filterwarnings("ignore", message=".*nonconformant BigTIFF ImageJ")
            mm = tifffile.memmap(
                self.tmp, shape=self._permute(self.shape), dtype=self.dtype, **kwargs
            )
        del mm

    def write(self, region: tuple[slice, ...], block: np.ndarray) -> None:
        """Write ``block`` at ``region`` of the temporary output (opened and closed here)."""
        if self.format == "npy":
            mm = np.load(self.tmp, mmap_mode="r+")
            mm[region] = block
            del mm  # no msync per chunk: the file is fsynced once, in commit()
        elif self.format == "tiff":
            import tifffile

            mm = tifffile.memmap(self.tmp, mode="r+")
            region, block = self._placed(region, block)
            mm[region] = block
            del mm
        else:
            import zarr

            array = zarr.open_array(str(self.tmp / self.array_path), mode="r+")
            region, block = self._placed(region, block)
            array[region] = block

    def _placed(
        self, region: tuple[slice, ...], block: np.ndarray
    ) -> tuple[tuple[slice, ...], np.ndarray]:
        """Region and block in the stored axis order."""
        if not self.order or self.order == tuple(range(len(self.order))):
            return region, block
        return self._permute(tuple(region)), np.transpose(block, self.order)

    def __setitem__(self, region: tuple[slice, ...], block: np.ndarray) -> None:
        """``target[region] = block``, so a target can be given to ``dask.array.store``."""
        self.write(region, block)

    def commit(self) -> None:
        """Flush the finished temporary output to disk and rename it to the final path."""
        if self.tmp.is_file():
            with open(self.tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        _move_into_place(self.tmp, self.path)

    def abort(self) -> None:
        """Remove the temporary output."""
        _remove(self.tmp)
