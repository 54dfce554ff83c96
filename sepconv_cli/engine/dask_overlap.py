"""Lazy chunked filtering of Dask arrays with exact edges: :func:`filter_dask`.

The array is padded by the halo with the boundary mode's own extension (index maps built with
``np.pad(np.arange(n), h, mode)``, which match scipy.ndimage for every mode, wrap included, and
for halos longer than the axis; ``cval`` for ``constant``), then each chunk gets its
neighbours' halos (``dask.array.overlap`` with ``boundary="none"``), so every block carries
exactly ``halo`` extra samples on both sides and is filtered in memory, then trimmed. This is
the lazy, composable form (a Dask array in, a Dask array out); ``sepconv apply`` runs the
streaming form in :mod:`sepconv_cli.engine.dask_backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sepconv_cli.boundary import NP_PAD_MODE, canonical_mode
from sepconv_cli.engine.dask_chunks import axis_chunks, choose_chunks
from sepconv_cli.errors import BackendUnavailableError, UsageError


def _dask() -> Any:
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is an optional extra
        raise BackendUnavailableError(
            f"backend 'dask' is not available: {exc} (pip install 'sepconv-cli[dask]')"
        ) from exc
    return da


def _extension_indices(n: int, h: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Source indices of the ``h`` samples before and after an axis of length ``n``."""
    index = np.pad(np.arange(n), h, mode=NP_PAD_MODE[mode])
    return index[:h], index[n + h :]


def pad_exact(x: Any, halo: Sequence[int], mode: str, cval: float = 0.0) -> Any:
    """Pad a Dask array by ``halo`` per axis the way scipy.ndimage's ``mode`` extends it.

    Examples
    --------
    >>> import dask.array as da
    >>> pad_exact(da.arange(4, chunks=2), (3,), "wrap").compute()
    array([1, 2, 3, 0, 1, 2, 3, 0, 1, 2])
    """
    da = _dask()
    mode = canonical_mode(mode)
    for axis, h in enumerate(halo):
        if h == 0:
            continue
        n = x.shape[axis]
        if mode == "constant":
            side = list(x.shape)
            side[axis] = h
            chunks = list(x.chunks)
            chunks[axis] = (h,)
            fill = da.full(tuple(side), cval, dtype=x.dtype, chunks=tuple(chunks))
            before = after = fill
        else:
            left, right = _extension_indices(n, h, mode)
            before = da.take(x, left, axis=axis)
            after = da.take(x, right, axis=axis)
        x = da.concatenate([before, x, after], axis=axis)
    return x


def overlapped(
    x: Any, halo: Sequence[int], mode: str, cval: float, chunks: Sequence[int]
) -> tuple[Any, tuple[tuple[int, ...], ...]]:
    """Blocks of ``x`` with exact halos: every block has ``halo`` extra samples on each side.

    Returns the overlapped Dask array and the chunks of the unpadded result (what trimming
    each block by the halo gives).

    Examples
    --------
    >>> import dask.array as da
    >>> ov, out = overlapped(da.arange(10, chunks=10), (2,), "reflect", 0.0, (4,))
    >>> ov.chunks, out
    (((8, 8, 6),), ((4, 4, 2),))
    """
    da = _dask()
    halo = tuple(int(h) for h in halo)
    out_chunks = tuple(axis_chunks(n, c) for n, c in zip(x.shape, chunks, strict=True))
    for n, c, h in zip(x.shape, chunks, halo, strict=True):
        if n > c and c < h:
            raise UsageError(f"chunk size {c} is smaller than the halo {h}; use choose_chunks")
    x = x.rechunk(out_chunks)
    padded = pad_exact(x, halo, mode, cval)
    padded_chunks = tuple(
        (c[0] + 2 * h,) if len(c) == 1 else (c[0] + h, *c[1:-1], c[-1] + h)
        for c, h in zip(out_chunks, halo, strict=True)
    )
    padded = padded.rechunk(padded_chunks)
    if not any(halo):
        return padded, out_chunks
    depth = dict(enumerate(halo))
    ov = da.overlap.overlap(padded, depth=depth, boundary="none")
    expected = tuple(
        tuple(c + 2 * h for c in axis_chunks)
        for axis_chunks, h in zip(out_chunks, halo, strict=True)
    )
    if ov.chunks != expected:  # pragma: no cover - guards the trimming arithmetic
        raise RuntimeError(f"unexpected overlapped chunks {ov.chunks}, expected {expected}")
    return ov, out_chunks


def trim_halo(block: np.ndarray, halo: Sequence[int]) -> np.ndarray:
    """``block`` without ``halo`` samples on both sides of each axis.

    Examples
    --------
    >>> trim_halo(np.arange(6), (2,))
    array([2, 3])
    """
    return block[tuple(slice(h, block.shape[i] - h) for i, h in enumerate(halo))]


def _filter_block(
    block: np.ndarray, block_fn: Callable[[np.ndarray], np.ndarray], halo: tuple[int, ...]
) -> np.ndarray:
    return trim_halo(block_fn(block), halo)


def filter_dask(
    x: Any,
    block_fn: Callable[[np.ndarray], np.ndarray],
    halo: Sequence[int],
    mode: str,
    cval: float = 0.0,
    chunks: str | int | Sequence[int] | None = None,
    dtype: Any = None,
) -> Any:
    """Filter a Dask (or NumPy) array lazily, chunk by chunk, with exact edges.

    Parameters
    ----------
    x
        The data; NumPy arrays and memory maps are wrapped without copying.
    block_fn
        Filters one in-memory block (any boundary handling: the halo it spoils is cut off).
        Its output must have the block's shape.
    halo
        Samples of context each output sample needs, per axis (0: the axis is not filtered).
    mode, cval
        Boundary mode (scipy's names and aliases) and its constant.
    chunks
        Chunk shape (``64``, ``"64x128x128"``, a tuple); default: :func:`choose_chunks`.
    dtype
        Cast the input to this dtype first (the compute dtype); default: ``block_fn``'s own.

    Examples
    --------
    >>> import dask.array as da, scipy.ndimage as ndi
    >>> x = np.random.default_rng(0).random((40, 30)).astype(np.float32)
    >>> fn = lambda b: ndi.uniform_filter(b, 5, mode="wrap")
    >>> y = filter_dask(da.from_array(x, chunks=8), fn, (2, 2), "wrap", chunks=7)
    >>> bool(np.allclose(y.compute(), fn(x), atol=1e-6))
    True
    """
    da = _dask()
    mode = canonical_mode(mode)
    halo = tuple(int(h) for h in halo)
    if not hasattr(x, "dask"):
        x = da.from_array(x, chunks=-1)
    if dtype is not None:
        x = x.astype(dtype)
    shape = choose_chunks(x.shape, x.dtype.itemsize, halo, chunks=chunks)
    ov, out_chunks = overlapped(x, halo, mode, cval, shape)
    meta_dtype = np.asarray(block_fn(np.zeros((1,) * x.ndim, x.dtype))).dtype
    return ov.map_blocks(
        _filter_block,
        block_fn,
        halo,
        dtype=meta_dtype,
        chunks=out_chunks,
        meta=np.empty(0, meta_dtype),
    )
