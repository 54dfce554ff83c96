"""The Dask backend: chunked, out-of-core and distributed filtering with exact edges.

How a volume is filtered
    1. The array is chunked (``--chunks`` or :func:`choose_chunks`); along every filtered axis a
       chunk is at least the halo (the total kernel reach of the plan's chain of passes).
    2. It is padded by the halo with exactly the extension the boundary mode defines — built
       from index maps (``np.pad(np.arange(n), h, mode)``, which matches scipy.ndimage for every
       mode, wrap included, and for halos longer than the axis) or ``cval`` for ``constant``.
    3. Each chunk gets its neighbours' halos (``dask.array.overlap`` with ``boundary="none"``),
       so every block carries exactly ``halo`` extra samples on both sides of each axis; the
       block is filtered in memory by the fastest in-memory backend and the halo is cut off.
       The result equals the in-memory filter whatever the chunking (see ``tests/dask``).
    4. Each output chunk is written to its region of the output (``.npy``, TIFF or Zarr) by
       the same task, so peak memory is a few chunks per worker, never the volume.

Separable chains run as ONE overlap with the full halo rather than axis by axis with
rechunking: measured in ``benchmarks/dask_scaling.py`` (see ``benchmarks/README.md``).

Schedulers: ``scheduler`` (an address: ``distributed.Client(address)``), ``workers`` (a
``LocalCluster`` of N single-threaded worker processes started and closed here) or, by
default, Dask's threaded scheduler. A lost worker costs only its running chunks: the
scheduler reruns them elsewhere, and chunk writes are idempotent.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sepconv_cli.boundary import NP_PAD_MODE, canonical_mode
from sepconv_cli.engine.dask_store import ChunkTarget, chunked_format
from sepconv_cli.errors import BackendUnavailableError, UsageError

#: ``progress(done, total)``: called as output chunks complete.
ProgressFn = Callable[[int, int], None]

#: Working copies of a chunk a filter task holds at once (padded input in compute dtype, the
#: pass output, one intermediate, the cast output), used to size chunks for a memory limit.
WORKING_COPIES = 6


def _dask() -> Any:
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is an optional extra
        raise BackendUnavailableError(
            f"backend 'dask' is not available: {exc} (pip install 'sepconv-cli[dask]')"
        ) from exc
    return da


# --------------------------------------------------------------------------- chunk shapes


def parse_chunks(chunks: str | int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    """Parse ``--chunks``: ``64`` (every axis) or ``64x128x128`` (one per axis), or None.

    Examples
    --------
    >>> parse_chunks("64", 3), parse_chunks("16x32x32", 3), parse_chunks(None, 2)
    ((64, 64, 64), (16, 32, 32), None)
    """
    if chunks is None or chunks == "" or chunks == "auto":
        return None
    if isinstance(chunks, str):
        parts = chunks.lower().replace(",", "x").split("x")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise UsageError(
                f"--chunks {chunks!r}: give one size or one per axis joined by 'x' "
                "(e.g. 64 or 64x128x128)"
            ) from None
    elif isinstance(chunks, int):
        values = [chunks]
    else:
        values = [int(c) for c in chunks]
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim:
        raise UsageError(f"--chunks {chunks!r} gives {len(values)} sizes for {ndim} axes")
    if any(v < 1 for v in values):
        raise UsageError(f"--chunks {chunks!r}: sizes must be >= 1")
    return tuple(values)


def parse_memory(limit: str | int | float | None) -> int | None:
    """Parse a memory size (``"128MiB"``, ``"2GB"``, bytes as a number) into bytes, or None.

    Examples
    --------
    >>> parse_memory("128MiB"), parse_memory(1000), parse_memory(None)
    (134217728, 1000, None)
    """
    if limit is None or limit == "":
        return None
    if isinstance(limit, (int, float)):
        value = int(limit)
    else:
        from dask.utils import parse_bytes

        try:
            value = int(parse_bytes(str(limit).strip()))
        except (ValueError, TypeError):
            raise UsageError(
                f"--memory-limit {limit!r}: give a size such as 512MiB, 4GB or 2e9"
            ) from None
    if value <= 0:
        raise UsageError(f"--memory-limit {limit!r} must be positive")
    return value


def default_memory_limit() -> int:
    """A quarter of the machine's physical memory, in bytes (the default ``--memory-limit``).

    Examples
    --------
    >>> default_memory_limit() > 0
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 8 * 2**30
    return int(total) // 4


def choose_chunks(
    shape: Sequence[int],
    itemsize: int,
    halo: Sequence[int],
    *,
    chunks: str | int | Sequence[int] | None = None,
    memory_limit: int | None = None,
    workers: int = 1,
) -> tuple[int, ...]:
    """The chunk shape to filter with: ``chunks`` if given, else the largest that fits.

    Without ``chunks``, the largest axis is halved (see the floors in the code) until
    ``WORKING_COPIES`` copies of a padded chunk (chunk + 2 × halo) per worker use at most half
    of ``memory_limit``, then further while there are fewer than two chunks per worker.
    Along filtered axes a chunk is never smaller than the halo (Dask's overlap takes a halo
    from the next chunk only, and :func:`reextend` mirrors within a block), so a smaller
    ``--chunks`` is raised to the halo.

    Examples
    --------
    >>> choose_chunks((100, 100), 4, (3, 3), chunks="2x50")
    (3, 50)
    >>> choose_chunks((512, 512, 512), 4, (8, 8, 8), memory_limit=128 * 2**20)
    (32, 64, 512)
    """
    ndim = len(shape)
    given = parse_chunks(chunks, ndim)
    if given is not None:
        out = list(given)
    else:
        budget = (memory_limit or default_memory_limit()) // 2 // max(1, workers)
        out = list(shape)

        def working(c: list[int]) -> int:
            padded = np.prod([ci + 2 * h for ci, h in zip(c, halo, strict=True)], dtype=float)
            return int(padded) * max(itemsize, 4) * WORKING_COPIES

        # Leading axes are not split below max(16, 2 x halo), the last (contiguous) axis not
        # below 1024 samples, while another axis can be: rows of whole pages keep reads and
        # writes of C-ordered files (npy, TIFF) from touching pages of neighbouring chunks.
        floor = [max(16, 2 * int(h)) for h in halo]
        if ndim:
            floor[-1] = max(floor[-1], 1024)
        while working(out) > budget and max(out) > 1:
            above = [i for i in range(ndim) if out[i] > floor[i]]
            axis = max(above or range(ndim), key=lambda i: (out[i], -i))
            out[axis] = (out[axis] + 1) // 2

        def count(c: list[int]) -> int:
            return int(np.prod([-(-n // max(ci, 1)) for n, ci in zip(shape, c, strict=True)]))

        # Then at least two chunks per worker, so that every worker has work, while some
        # axis is still above its floor.
        while count(out) < 2 * max(1, workers):
            above = [i for i in range(ndim) if out[i] // 2 >= floor[i]]
            if not above:
                break
            axis = max(above, key=lambda i: (out[i], -i))
            out[axis] = (out[axis] + 1) // 2
    return tuple(
        max(1, min(int(c), int(n)), int(h) if n > 0 else 1)
        for c, n, h in zip(out, shape, halo, strict=True)
    )


def _axis_chunks(n: int, c: int) -> tuple[int, ...]:
    full, rest = divmod(n, c)
    return (c,) * full + ((rest,) if rest else ())


# --------------------------------------------------------------------------- exact edges


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
    out_chunks = tuple(_axis_chunks(n, c) for n, c in zip(x.shape, chunks, strict=True))
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


def _trim(block: np.ndarray, halo: Sequence[int]) -> np.ndarray:
    return block[tuple(slice(h, block.shape[i] - h) for i, h in enumerate(halo))]


def _filter_block(
    block: np.ndarray, block_fn: Callable[[np.ndarray], np.ndarray], halo: tuple[int, ...]
) -> np.ndarray:
    return _trim(block_fn(block), halo)


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


# --------------------------------------------------------------------------- lazy sources


@dataclass(frozen=True)
class MemmapSource:
    """A file-backed array that maps only the chunk being read, then unmaps it.

    A long-lived memory map of the whole input makes every page read count in the process's
    RSS (and Dask's worker memory monitor acts on RSS); mapping per read keeps RSS at what the
    chunks in flight need. Picklable, so distributed workers open the file themselves.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> src = MemmapSource.from_memmap(np.load(path, mmap_mode="r"))
    >>> src[1:, 2]
    array([ 6., 10.])
    """

    filename: str
    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype
    order: str = "C"

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @classmethod
    def from_memmap(cls, data: np.memmap) -> MemmapSource | None:
        """The source behind a whole-file memory map, or None for views and other arrays."""
        if not isinstance(data, np.memmap) or not isinstance(data.base, mmap.mmap):
            return None
        if not data.filename or not (data.flags.c_contiguous or data.flags.f_contiguous):
            return None
        order = "C" if data.flags.c_contiguous else "F"
        return cls(str(data.filename), int(data.offset), tuple(data.shape), data.dtype, order)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not self.shape or 0 in self.shape:
            return np.empty(self.shape, self.dtype)[key]
        mm = np.memmap(
            self.filename, self.dtype, "r", offset=self.offset, shape=self.shape, order=self.order
        )
        try:
            return np.array(mm[key])
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


_TIFF_ARRAYS: dict[str, Any] = {}
_TIFF_LOCK = threading.Lock()


@dataclass(frozen=True)
class TiffSource:
    """Series 0, level 0 of a TIFF file read region by region through tifffile's Zarr store.

    Picklable (only the path travels), so distributed workers open the file themselves; each
    process keeps one open store per file, as parsing a long stack's pages once is enough.

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
        with _TIFF_LOCK:
            array = _TIFF_ARRAYS.get(self.path)
            if array is None:
                import tifffile
                import zarr

                node = zarr.open(tifffile.imread(self.path, aszarr=True), mode="r")
                array = node if hasattr(node, "shape") else node["0"]
                _TIFF_ARRAYS[self.path] = array
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
        return TiffSource(os.path.abspath(path), tuple(data.shape), np.dtype(data.dtype))
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
    if isinstance(data, np.memmap):
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


# --------------------------------------------------------------------------- schedulers


@dataclass
class Runner:
    """Where the chunk tasks run: Dask's threads, a LocalCluster we own, or a remote cluster."""

    kind: str
    workers: int
    client: Any = None
    address: str | None = None
    memory_limit_per_worker: int | None = None


@contextlib.contextmanager
def dask_runner(
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: int | None = None,
) -> Iterator[Runner]:
    """Open the scheduler for a run and close what was opened.

    Parameters
    ----------
    scheduler
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers
        Start a ``LocalCluster`` with this many single-threaded worker processes, each with
        ``memory_limit / workers`` of memory.
    memory_limit
        Total bytes for a LocalCluster's workers.

    Without either, Dask's threaded scheduler runs ``dask.config`` ``num_workers`` threads
    (default: one per CPU).

    Examples
    --------
    >>> with dask_runner() as runner:
    ...     runner.kind
    'threads'
    """
    if scheduler and workers:
        raise UsageError("give either --scheduler ADDRESS or --workers N, not both")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if not scheduler and not workers:
        import dask

        threads = dask.config.get("num_workers", None) or os.cpu_count() or 1
        yield Runner("threads", int(threads))
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is in the dask extra
        raise BackendUnavailableError(
            f"--scheduler/--workers need dask.distributed: {exc} (pip install 'sepconv-cli[dask]')"
        ) from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise UsageError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from exc
        try:
            n = len(client.scheduler_info().get("workers", {})) or 1
            yield Runner("distributed", n, client, scheduler)
        finally:
            client.close()
        return
    assert workers is not None
    per_worker = memory_limit // workers if memory_limit else None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=per_worker if per_worker else "auto",
        dashboard_address=":0",
    )
    client = Client(cluster)
    try:
        yield Runner("local-cluster", workers, client, cluster.scheduler_address, per_worker)
    finally:
        client.close()
        cluster.close()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{os.getpid()}/{threading.current_thread().name}"


# --------------------------------------------------------------------------- running


def _identity_finish(block: np.ndarray) -> tuple[np.ndarray, int]:
    return block, 0


def _chunk_task(
    source: Any,
    region: tuple[slice, ...],
    halo: tuple[int, ...],
    mode: str,
    cval: float,
    dtype: Any,
    block_fn: Callable[[np.ndarray], np.ndarray],
    finish: Callable[[np.ndarray], tuple[np.ndarray, int]],
    target: ChunkTarget,
) -> dict[str, Any]:
    """Read one chunk with its halo, filter, cut the halo, cast, write; return its stats."""
    start = time.perf_counter()
    block = read_padded(source, region, halo, mode, cval, dtype)
    if getattr(block_fn, "takes_region", False):
        filtered = block_fn(block, region)
    else:
        filtered = block_fn(block)
    out, clipped = finish(_trim(filtered, halo))
    target.write(region, out)
    return {
        "worker": _worker_name(),
        "seconds": time.perf_counter() - start,
        "voxels": int(out.size),
        "read": int(block.size),
        "clipped": int(clipped),
    }


def _regions(out_chunks: tuple[tuple[int, ...], ...]) -> Iterator[tuple[slice, ...]]:
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in out_chunks]
    for index in np.ndindex(*[len(c) for c in out_chunks]):
        yield tuple(
            slice(int(starts[a][i]), int(starts[a][i] + out_chunks[a][i]))
            for a, i in enumerate(index)
        )


def _run_threads(tasks: list[Any], prefix: str, runner: Runner, progress: ProgressFn | None):
    import dask
    from dask.callbacks import Callback

    total = len(tasks)
    done = [0]

    class _Progress(Callback):
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            name = key[0] if isinstance(key, tuple) else key
            if isinstance(name, str) and name.startswith(prefix):
                done[0] += 1
                if progress is not None:
                    progress(done[0], total)

    # Our own pool, so that after an error (or Ctrl-C) we wait for the chunks still being
    # written before the temporary output is removed.
    pool = ThreadPoolExecutor(max_workers=runner.workers)
    try:
        with _Progress():
            return list(dask.compute(*tasks, scheduler="threads", pool=pool))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_distributed(tasks: list[Any], runner: Runner, progress: ProgressFn | None):
    from distributed import as_completed

    client = runner.client
    futures = client.compute(tasks)
    total = len(futures)
    try:
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, total)
        return client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise


def run_to_target(
    x: Any,
    block_fn: Callable[[np.ndarray], np.ndarray],
    halo: Sequence[int],
    mode: str,
    cval: float,
    target: ChunkTarget,
    *,
    chunks: Sequence[int],
    runner: Runner,
    dtype: Any = None,
    finish: Callable[[np.ndarray], tuple[np.ndarray, int]] | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Filter ``x`` chunk by chunk into ``target`` (created, committed or aborted here).

    One task per output chunk reads the chunk plus its exact halo (:func:`read_padded`),
    filters it with ``block_fn`` (in ``dtype``), cuts the halo, casts it (``finish`` returns
    the cast block and its number of clipped values) and writes it. Tasks share nothing, so a
    worker holds only the chunks it is working on and a lost task is simply rerun.

    Returns the run's statistics: chunks, number of chunks, halo overhead (extra voxels read
    / voxels), clipped values, wall time and per-worker throughput.

    Examples
    --------
    >>> import tempfile, scipy.ndimage as ndi
    >>> from pathlib import Path
    >>> x = np.random.default_rng(1).random((30, 20)).astype(np.float32)
    >>> out = Path(tempfile.mkdtemp()) / "y.npy"
    >>> t = ChunkTarget(out, "npy", x.shape, np.float32, (8, 20))
    >>> fn = lambda b: ndi.gaussian_filter(b, 1.0, mode="mirror")
    >>> with dask_runner() as runner:
    ...     stats = run_to_target(x, fn, (4, 4), "mirror", 0.0, t, chunks=(8, 20), runner=runner)
    >>> stats["n_chunks"], bool(np.allclose(np.load(out), fn(x), atol=1e-6))
    (4, True)
    """
    import dask

    mode = canonical_mode(mode)
    halo = tuple(int(h) for h in halo)
    chunks = tuple(min(max(1, int(c)), max(1, n)) for c, n in zip(chunks, x.shape, strict=True))
    finish = finish or _identity_finish
    source = as_source(x)
    out_chunks = tuple(_axis_chunks(n, c) for n, c in zip(x.shape, chunks, strict=True))
    regions = list(_regions(out_chunks))
    prefix = f"sepconv-chunk-{dask.base.tokenize(str(target.path), halo, chunks, time.time())}"
    task = dask.delayed(_chunk_task, pure=False)
    # One graph key per shared object (sent once to distributed workers, never traversed).
    source, block_fn, finish, shared_target = (
        dask.delayed(obj, traverse=False) for obj in (source, block_fn, finish, target)
    )
    tasks = [
        task(
            source,
            region,
            halo,
            mode,
            cval,
            dtype,
            block_fn,
            finish,
            shared_target,
            dask_key_name=f"{prefix}-{i}",
        )
        for i, region in enumerate(regions)
    ]
    target.create()
    start = time.perf_counter()
    try:
        if runner.client is None:
            results = _run_threads(tasks, prefix, runner, progress)
        else:
            results = _run_distributed(tasks, runner, progress)
        target.commit()
    except BaseException:
        target.abort()
        raise
    wall = time.perf_counter() - start
    return _summarise(results, x.shape, chunks, halo, wall, runner)


def _summarise(
    results: list[dict[str, Any]],
    shape: Sequence[int],
    chunks: Sequence[int],
    halo: Sequence[int],
    wall: float,
    runner: Runner,
) -> dict[str, Any]:
    voxels = int(np.prod(shape, dtype=np.int64))
    read = sum(r["read"] for r in results)
    per_worker: dict[str, dict[str, Any]] = {}
    for r in results:
        w = per_worker.setdefault(r["worker"], {"chunks": 0, "voxels": 0, "seconds": 0.0})
        w["chunks"] += 1
        w["voxels"] += r["voxels"]
        w["seconds"] += r["seconds"]
    workers = [
        {
            "worker": name,
            "chunks": w["chunks"],
            "voxels": w["voxels"],
            "busy_seconds": round(w["seconds"], 6),
            "voxels_per_second": w["voxels"] / w["seconds"] if w["seconds"] > 0 else None,
        }
        for name, w in sorted(per_worker.items())
    ]
    return {
        "backend": "dask",
        "scheduler": runner.kind,
        "scheduler_address": runner.address,
        "workers": runner.workers,
        "chunks": list(chunks),
        "n_chunks": len(results),
        "halo": list(halo),
        "halo_overhead": (read - voxels) / voxels if voxels else 0.0,
        "voxels": voxels,
        "clipped": sum(r["clipped"] for r in results),
        "seconds": wall,
        "voxels_per_second": voxels / wall if wall > 0 else None,
        "per_worker": workers,
    }


# --------------------------------------------------------------------------- plans


def reextend(
    block: np.ndarray,
    region: Sequence[slice],
    shape: Sequence[int],
    halo: Sequence[int],
    mode: str,
    cval: float,
) -> None:
    """Overwrite, in place, the samples of a padded block that lie outside the array with the
    ``mode`` extension of the samples inside it.

    Kernels applied one after the other each extend *their own input* by the mode, so between
    two steps the outside part of a block must be rebuilt from the intermediate result (the
    block then equals the padded intermediate). Wrap needs nothing: filtering commutes with a
    periodic extension.

    Examples
    --------
    >>> b = np.array([9.0, 9.0, 1.0, 2.0, 3.0, 9.0, 9.0])
    >>> reextend(b, (slice(0, 3),), (3,), (2,), "mirror", 0.0); b
    array([3., 2., 1., 2., 3., 2., 1.])
    """
    if mode == "wrap":
        return
    for axis, (r, n, h) in enumerate(zip(region, shape, halo, strict=True)):
        if h == 0 or (r.start > 0 and r.stop < n):
            continue
        index = padded_indices(r.start, r.stop, n, int(h), mode)
        positions = np.arange(r.start - h, r.stop + h)
        outside = np.flatnonzero((positions < 0) | (positions >= n))
        lead = (slice(None),) * axis
        if mode == "constant":
            block[lead + (outside,)] = cval
        else:
            block[lead + (outside,)] = block[lead + (index[outside] - (r.start - h),)]


@dataclass
class PlanFilter:
    """Filters a padded block by an engine :class:`~sepconv_cli.engine.planner.Plan`.

    The plan's steps run one at a time with :func:`sepconv_cli.engine.filtering.filter_array`
    (on the plan's inner backend: Numba when installed), the outside of the block being
    rebuilt between steps (:func:`reextend`), so chains of kernels match the in-memory engine
    for every mode. A mask (full or spatial shape) is read with the same halo.
    """

    plan: Any
    mask: Any = None
    takes_region = True

    def __call__(self, block: np.ndarray, region: Sequence[slice]) -> np.ndarray:
        import dataclasses

        from sepconv_cli.engine.filtering import filter_array

        plan = self.plan
        mask = None
        if self.mask is not None:
            mask = read_padded(self.mask, region, plan.halo, plan.mode, 0.0, bool)
        x = block
        last = len(plan.steps) - 1
        for k, step in enumerate(plan.steps):
            x = filter_array(x, dataclasses.replace(plan, steps=[step], shape=x.shape), mask)
            if k < last:
                reextend(x, region, plan.shape, plan.halo, plan.mode, plan.cval)
        return x


def _cast_with(plan: Any) -> Callable[[np.ndarray], tuple[np.ndarray, int]]:
    import functools

    from sepconv_cli.engine.filtering import cast_output

    return functools.partial(cast_output, plan=plan)


def _full_mask(options: Any, plan: Any) -> Any:
    from sepconv_cli.engine.filtering import prepare_mask
    from sepconv_cli.engine.run import load_mask

    mask = load_mask(getattr(options, "mask", None))
    return None if mask is None else prepare_mask(mask, plan)


def apply_lazy(
    image: Any,
    plan: Any,
    output_path: str | os.PathLike[str],
    options: Any,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Filter ``image`` by ``plan`` chunk by chunk and write it to ``output_path``.

    Parameters
    ----------
    image
        The input :class:`~sepconv_cli.image.Image`; its data may be a memory map, a Dask array,
        a Zarr array or a NumPy array (read lazily with ``io.read(..., lazy=True)``).
    plan
        The engine's plan (``plan.backend == "dask"``); ``plan.halo``, ``mode``, ``cval``,
        ``compute_dtype`` and ``output_dtype`` are used, its steps run per block.
    output_path
        ``.npy``, ``.tif``/``.tiff``, ``.zarr`` or ``.ome.zarr`` are written chunk by chunk;
        other formats are written through a temporary ``.npy`` memory map and ``io.write``.
    options
        The engine's ``ApplyOptions``: ``chunks``, ``scheduler``, ``workers``,
        ``memory_limit``, ``format`` and ``mask`` are used.
    progress
        ``progress(done, total)`` as chunks finish.

    Returns
    -------
    dict
        The run statistics of :func:`run_to_target` plus ``output`` and ``output_format``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sepconv_cli.engine import ApplyOptions, plan
    >>> from sepconv_cli.image import Image
    >>> img = Image(np.random.default_rng(0).random((40, 30), np.float32), "yx")
    >>> opts = ApplyOptions(kernels=("gaussian:sigma=2",), backend="dask", chunks="16")
    >>> p = plan(img, None, opts)
    >>> out = Path(tempfile.mkdtemp()) / "smooth.npy"
    >>> stats = apply_lazy(img, p, out, p.options)
    >>> stats["n_chunks"], np.load(out).shape
    (6, (40, 30))
    """
    from sepconv_cli.io.atomic import refuse_inputs

    path = Path(output_path)
    fmt_name = getattr(options, "format", None)
    fmt = chunked_format(path, fmt_name) if str(path) != "-" else None
    memory_limit = parse_memory(getattr(options, "memory_limit", None))
    compute = np.dtype(plan.compute_dtype)
    out_dtype = np.dtype(plan.output_dtype)
    if str(path) != "-":
        sources = [image.path] if image.path and image.path != "-" else []
        refuse_inputs([path], sources + list(image.meta.get("source_files", [])))
    block_fn = PlanFilter(plan, _full_mask(options, plan))
    with dask_runner(
        getattr(options, "scheduler", None), getattr(options, "workers", None), memory_limit
    ) as runner:
        chunks = choose_chunks(
            image.shape,
            compute.itemsize,
            plan.halo,
            chunks=getattr(options, "chunks", None),
            memory_limit=memory_limit,
            workers=runner.workers,
        )
        if fmt is not None:
            target = ChunkTarget(
                path,
                fmt,
                image.shape,
                out_dtype,
                chunks,
                axes=image.axes,
                spacing=image.spacing,
                units=image.units,
                ome=fmt == "zarr" and _is_ome(path, fmt_name),
            )
            stats = run_to_target(
                source_for(image),
                block_fn,
                plan.halo,
                plan.mode,
                plan.cval,
                target,
                chunks=chunks,
                runner=runner,
                dtype=compute,
                finish=_cast_with(plan),
                progress=progress,
            )
        else:
            stats = _via_npy(image, plan, path, fmt_name, block_fn, chunks, runner, progress)
    stats.update(output=str(path), output_format=fmt or fmt_name or "by suffix")
    stats["memory_limit"] = memory_limit
    return stats


def _is_ome(path: Path, fmt_name: str | None) -> bool:
    from sepconv_cli.io.zarr_format import is_ome_path

    name = (fmt_name or "").lower().replace("-", "").replace("_", "")
    return name == "omezarr" or is_ome_path(path)


def _via_npy(
    image: Any,
    plan: Any,
    path: Path,
    fmt_name: str | None,
    block_fn: PlanFilter,
    chunks: tuple[int, ...],
    runner: Runner,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    """Formats without chunked writing: filter into a temporary ``.npy`` memory map next to the
    output, then hand it to ``io.write`` (which writes it atomically) and remove it."""
    from sepconv_cli import io

    folder = path.parent if str(path) != "-" else Path.cwd()
    scratch = folder / f".{path.name}.sepconv-scratch-{os.getpid()}.npy"
    target = ChunkTarget(scratch, "npy", image.shape, np.dtype(plan.output_dtype), chunks)
    try:
        stats = run_to_target(
            source_for(image),
            block_fn,
            plan.halo,
            plan.mode,
            plan.cval,
            target,
            chunks=chunks,
            runner=runner,
            dtype=np.dtype(plan.compute_dtype),
            finish=_cast_with(plan),
            progress=progress,
        )
        data = np.load(scratch, mmap_mode="r")
        io.write(image.replace(data=data), path, format=fmt_name)
        del data
    finally:
        scratch.unlink(missing_ok=True)
    stats["written_via"] = "temporary .npy memory map"
    return stats
