"""The Dask backend: chunked, out-of-core and distributed filtering with exact edges.

How ``sepconv apply`` filters a volume with it (:func:`apply_lazy`)
    1. The output is cut into chunks (``--chunks`` or
       :func:`~sepconv_cli.engine.dask_chunks.choose_chunks`); along every filtered axis a chunk
       is at least the halo, the total kernel reach of the plan's chain of kernels.
    2. One task per chunk reads the chunk plus its halo from the lazy input
       (:func:`~sepconv_cli.engine.dask_sources.read_padded`); outside the array the samples
       follow the boundary mode exactly (wrap included, halos longer than the axis included).
    3. It runs the plan's kernels on that block with the engine's ``filter_array`` (on the
       plan's inner backend: Numba when installed), rebuilding the outside part of the block
       between two kernels (:func:`reextend`, as each kernel extends its own input), cuts the
       halo, casts to the output dtype and writes its region of the output
       (:mod:`~sepconv_cli.engine.dask_store`). Tasks share nothing: a worker holds only the
       chunks it works on, and a lost task is simply rerun (writes are idempotent).

Separable chains run as ONE read with the full halo, not axis by axis with rechunking: the
measurements are in ``benchmarks/dask_scaling.py`` and ``benchmarks/README.md``.

Schedulers (:func:`dask_runner`): ``scheduler`` (an address: ``distributed.Client(address)``),
``workers`` (a ``LocalCluster`` of N single-threaded worker processes started and closed here)
or, by default, Dask's threaded scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sepconv_cli.boundary import canonical_mode
from sepconv_cli.engine.dask_chunks import axis_chunks, choose_chunks, parse_memory, working_bytes
from sepconv_cli.engine.dask_overlap import trim_halo
from sepconv_cli.engine.dask_sources import as_source, padded_indices, read_padded, source_for
from sepconv_cli.engine.dask_store import ChunkTarget, chunked_format
from sepconv_cli.errors import BackendUnavailableError, SepconvError, UsageError

#: ``progress(done, total)``: called as output chunks complete.
ProgressFn = Callable[[int, int], None]

#: Memory a LocalCluster worker process needs besides its chunks (Python, NumPy, SciPy, Numba,
#: Dask): added to each worker's share of ``--memory-limit`` to form its Dask memory limit.
WORKER_BASELINE = 512 * 2**20


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
        ``memory_limit / workers`` for data plus :data:`WORKER_BASELINE` for the process itself
        (Dask's nanny restarts a worker above its limit).
    memory_limit
        Total bytes of data for a LocalCluster's workers.

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
        except (ValueError, TypeError) as exc:  # no port, unknown protocol...
            raise UsageError(
                f"--scheduler {scheduler!r}: not a scheduler address ({exc}); "
                "give e.g. tcp://host:8786"
            ) from exc
        try:
            _check_workers(client, scheduler)
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
        memory_limit=per_worker + WORKER_BASELINE if per_worker else "auto",
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,  # task errors reach us through the futures
    )
    client = Client(cluster)
    try:
        yield Runner("local-cluster", workers, client, cluster.scheduler_address, per_worker)
    finally:
        client.close()
        cluster.close()


def _check_workers(client: Any, scheduler: str) -> None:
    """Refuse a cluster whose workers cannot import this sepconv-cli (or run another
    version of it): their tasks would fail one by one with an unpickling error."""
    from importlib.metadata import PackageNotFoundError, version

    def probe() -> str:  # a local function: shipped by value, runs without sepconv_cli
        try:
            import importlib.metadata

            import sepconv_cli  # noqa: F401

            return importlib.metadata.version("sepconv-cli")
        except Exception as exc:  # noqa: BLE001 - reported below
            return f"cannot import sepconv_cli ({type(exc).__name__}: {exc})"

    try:
        ours = version("sepconv-cli")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return
    found = client.run(probe)
    bad = {address: got for address, got in sorted(found.items()) if got != ours}
    if bad:
        address, got = next(iter(bad.items()))
        what = got if got.startswith("cannot") else f"runs sepconv-cli {got}"
        raise SepconvError(
            f"--scheduler {scheduler!r}: worker {address} {what}, this is sepconv-cli "
            f"{ours} ({len(bad)} of {len(found)} workers differ); install the same "
            "sepconv-cli on the workers"
        )


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
    from sepconv_cli.engine.run import count_nonfinite

    start = time.perf_counter()
    block = read_padded(source, region, halo, mode, cval, dtype)
    nonfinite = count_nonfinite(trim_halo(block, halo))  # this chunk's own input values
    if getattr(block_fn, "takes_region", False):
        filtered = block_fn(block, region)
    else:
        filtered = block_fn(block)
    out, clipped = finish(trim_halo(filtered, halo))
    target.write(region, out)
    return {
        "worker": _worker_name(),
        "seconds": time.perf_counter() - start,
        "voxels": int(out.size),
        "read": int(block.size),
        "clipped": int(clipped),
        "nonfinite": nonfinite,
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
    except BaseException as exc:
        client.cancel(futures)
        if type(exc).__name__ == "KilledWorker":
            raise SepconvError(
                f"dask workers kept dying while filtering a chunk ({exc}); out of memory? "
                "give a larger --memory-limit or smaller --chunks"
            ) from exc
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
    out_chunks = tuple(axis_chunks(n, c) for n, c in zip(x.shape, chunks, strict=True))
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
        "memory_limit_per_worker": runner.memory_limit_per_worker,
        "chunks": list(chunks),
        "n_chunks": len(results),
        "halo": list(halo),
        "halo_overhead": (read - voxels) / voxels if voxels else 0.0,
        "voxels": voxels,
        "clipped": sum(r["clipped"] for r in results),
        "nonfinite": sum(r["nonfinite"] for r in results),
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

    ``threads`` caps the Numba threads one task uses (Numba's setting is per calling thread):
    Dask already runs one task per worker thread, and Numba's own parallel loops on top of
    that would oversubscribe the cores.
    """

    plan: Any
    mask: Any = None
    threads: int | None = None
    takes_region = True

    def __call__(self, block: np.ndarray, region: Sequence[slice]) -> np.ndarray:
        import dataclasses

        from sepconv_cli.engine.filtering import filter_array

        plan = self.plan
        if self.threads and plan.inner_backend == "numba":
            import numba

            numba.set_num_threads(max(1, min(self.threads, numba.config.NUMBA_NUM_THREADS)))
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
    out_dtype = np.dtype(plan.output_dtype)
    if str(path) != "-":
        sources = [image.path] if image.path and image.path != "-" else []
        refuse_inputs([path], sources + list(image.meta.get("source_files", [])))
    with dask_runner(
        getattr(options, "scheduler", None), getattr(options, "workers", None), memory_limit
    ) as runner:
        # Cores per task on this machine; a remote cluster's workers keep their own setting.
        local = runner.kind != "distributed"
        threads = max(1, (os.cpu_count() or 1) // runner.workers) if local else None
        block_fn = PlanFilter(plan, _full_mask(options, plan), threads)
        chunks = _chunks_for(image, plan, options, runner.workers)
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
            stats = _run_plan(image, plan, block_fn, target, chunks, runner, progress)
        else:
            stats = _via_npy(image, plan, path, fmt_name, block_fn, chunks, runner, progress)
    stats.update(output=str(path), output_format=fmt or fmt_name or "by suffix")
    stats["memory_limit"] = memory_limit
    at_once = min(runner.workers, stats["n_chunks"])
    stats["warnings"] = _memory_warnings(chunks, plan, at_once, memory_limit)
    return stats


def _memory_warnings(
    chunks: Sequence[int], plan: Any, at_once: int, memory_limit: int | None
) -> list[str]:
    """A warning when the chunks in flight need more than ``--memory-limit`` (e.g. a large
    ``--chunks``): the tasks running at once each hold a few padded copies of their chunk."""
    from sepconv_cli.engine.options import format_size

    if not memory_limit:
        return []
    itemsize = np.dtype(plan.compute_dtype).itemsize
    per_task = working_bytes(chunks, plan.halo, itemsize)
    if per_task * at_once <= memory_limit:
        return []
    shape = "x".join(map(str, chunks))
    return [
        f"chunks {shape} need about {format_size(per_task)} per task, {at_once} at once: "
        f"more than --memory-limit {format_size(memory_limit)}; give smaller --chunks or "
        "fewer workers"
    ]


def _run_plan(
    image: Any,
    plan: Any,
    block_fn: PlanFilter,
    target: ChunkTarget,
    chunks: tuple[int, ...],
    runner: Runner,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    """:func:`run_to_target` for an engine plan: its halo, mode, compute and output dtypes."""
    return run_to_target(
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


def _chunks_for(image: Any, plan: Any, options: Any, workers: int) -> tuple[int, ...]:
    """The chunk shape for ``image``: ``--chunks`` or the largest fitting ``--memory-limit``."""
    return choose_chunks(
        image.shape,
        np.dtype(plan.compute_dtype).itemsize,
        plan.halo,
        chunks=getattr(options, "chunks", None),
        memory_limit=parse_memory(getattr(options, "memory_limit", None)),
        workers=workers,
        stored=image.meta.get("zarr_chunks"),
    )


def planned_chunks(image: Any, plan: Any, options: Any) -> dict[str, Any]:
    """What a chunked run of ``plan`` would do, without starting a scheduler (``--dry-run``).

    The chunk shape is chosen as :func:`apply_lazy` chooses it for ``--workers N`` or Dask's
    threads; for ``--scheduler`` the cluster's size is not known without connecting, so the
    chunks are sized for one worker (a real run sizes them for the cluster's workers).

    Examples
    --------
    >>> from sepconv_cli.engine import ApplyOptions, plan
    >>> from sepconv_cli.image import Image
    >>> img = Image(np.zeros((40, 30), np.float32), "yx")
    >>> p = plan(img, None, ApplyOptions(kernels=("box:size=5",), backend="dask", chunks="20"))
    >>> d = planned_chunks(img, p, p.options)
    >>> d["chunks"], d["n_chunks"], round(d["halo_overhead"], 3)
    ([20, 20], 4, 0.52)
    """
    import dask

    scheduler = getattr(options, "scheduler", None)
    workers = getattr(options, "workers", None)
    if scheduler:
        kind, count = "distributed", None
    elif workers:
        kind, count = "local-cluster", int(workers)
    else:
        kind = "threads"
        count = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    halo = tuple(int(h) for h in plan.halo)
    chunks = _chunks_for(image, plan, options, count or 1)
    per_axis = [axis_chunks(n, c) for n, c in zip(image.shape, chunks, strict=True)]
    voxels = int(np.prod(image.shape, dtype=np.int64))
    read = int(
        np.prod(
            [n + 2 * h * len(c) for n, h, c in zip(image.shape, halo, per_axis, strict=True)],
            dtype=np.int64,
        )
    )
    return {
        "backend": "dask",
        "planned": True,
        "scheduler": kind,
        "scheduler_address": scheduler or None,
        "workers": count,
        "chunks": list(chunks),
        "n_chunks": int(np.prod([len(c) for c in per_axis], dtype=np.int64)),
        "halo": list(halo),
        "halo_overhead": (read - voxels) / voxels if voxels else 0.0,
        "voxels": voxels,
    }


def _is_ome(path: Path, fmt_name: str | None) -> bool:
    from sepconv_cli.io.zarr_format import is_ome_name, is_ome_path

    return is_ome_name(fmt_name or "") or is_ome_path(path)


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

    folder = path.parent if str(path) != "-" else Path(tempfile.gettempdir())
    scratch = folder / f".{path.name}.sepconv-scratch-{os.getpid()}.npy"
    target = ChunkTarget(scratch, "npy", image.shape, np.dtype(plan.output_dtype), chunks)
    try:
        stats = _run_plan(image, plan, block_fn, target, chunks, runner, progress)
        data = np.load(scratch, mmap_mode="r")
        io.write(image.replace(data=data), path, format=fmt_name)
        del data
    finally:
        scratch.unlink(missing_ok=True)
    stats["written_via"] = "temporary .npy memory map"
    return stats
