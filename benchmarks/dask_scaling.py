"""Dask backend measurements for benchmarks/README.md (## Dask).

1. Strategy: a separable Gaussian on a volume as ONE overlap with the full halo (what sepconv
   does: one task per chunk reads chunk + halo, runs every pass, writes) against AXIS BY AXIS
   (per axis: rechunk so that axis is whole, one 1-D pass per block, no halo) and against
   dask's own ``map_overlap`` graph (overlap -> map_blocks -> trim).
2. Halo overhead and time for a few chunk sizes.
3. Scaling from 1 to 2 local workers (threads; LocalCluster processes).
4. Out of core (``--rss``): peak RSS growth of each strategy on a 512^3 float32 volume
   (512 MiB) read from a ``.npy`` memory map, each in a fresh subprocess.

Every variant writes its result to a ``.npy`` on disk and is checked against scipy.

    .venv/bin/python benchmarks/dask_scaling.py            # 256^3 float32 (64 MiB)
    .venv/bin/python benchmarks/dask_scaling.py --size 128 # quicker
    .venv/bin/python benchmarks/dask_scaling.py --rss      # peak memory, 512 MiB volume
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import scipy.ndimage as ndi

from sepconv_cli.engine import ApplyOptions, cast_output, plan
from sepconv_cli.engine.dask_backend import PlanFilter, apply_lazy, dask_runner, run_to_target
from sepconv_cli.engine.dask_overlap import filter_dask
from sepconv_cli.engine.dask_store import ChunkTarget
from sepconv_cli.image import Image

SIGMA = 2.0
RADIUS = int(4 * SIGMA + 0.5)


def _gaussian_1d() -> np.ndarray:
    x = np.arange(-RADIUS, RADIUS + 1)
    w = np.exp(-0.5 * (x / SIGMA) ** 2)
    return w / w.sum()


def _axis_by_axis(x: da.Array, chunk: int) -> da.Array:
    weights = _gaussian_1d()
    for axis in range(x.ndim):
        shape = [chunk] * x.ndim
        shape[axis] = -1
        x = x.rechunk(tuple(shape)).map_blocks(
            functools.partial(ndi.correlate1d, weights=weights, axis=axis, mode="reflect")
        )
    return x


def _store(y: da.Array, path: Path, workers: int) -> float:
    out = np.lib.format.open_memmap(path, "w+", np.float32, y.shape)
    start = time.perf_counter()
    da.store(y, out, lock=False, scheduler="threads", num_workers=workers)
    out.flush()
    return time.perf_counter() - start


def _check(path: Path, reference: np.ndarray) -> float:
    return float(np.abs(np.load(path) - reference).max())


def _sepconv(image: Image, out: Path, **options: object) -> dict:
    opts = ApplyOptions(kernels=(f"gaussian:sigma={SIGMA}",), backend="dask", **options)
    p = plan(image, None, opts)
    return apply_lazy(image, p, out, p.options)


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _rss_child(strategy: str, source: Path, out: Path) -> None:
    """Run one strategy after a small warm-up; print the seconds and the peak RSS growth."""
    image = Image(np.load(source, mmap_mode="r"), "zyx")
    warm = Image(np.ones((32, 32, 32), np.float32), "zyx")
    _sepconv(warm, out.with_name("warm.npy"), chunks="16")
    _store(_axis_by_axis(da.from_array(warm.data, chunks=16), 16), out.with_name("w2.npy"), 2)
    Path("/proc/self/clear_refs").write_text("5")
    base = _status("VmRSS")
    start = time.perf_counter()
    if strategy == "sepconv":
        stats = _sepconv(image, out, memory_limit=128 * 2**20)
        label = "x".join(map(str, stats["chunks"]))
    else:
        chunk = 64
        y = _axis_by_axis(da.from_array(image.data, chunks=chunk), chunk)
        _store(y, out, os.cpu_count() or 1)
        label = f"{chunk} (pencils {chunk}x{chunk}xN)"
    seconds = time.perf_counter() - start
    print(f"{label};{seconds:.1f};{(_status('VmHWM') - base) / 2**20:.0f}")


def _rss_table(folder: Path) -> None:
    n = 512
    source = folder / "big.npy"
    data = np.lib.format.open_memmap(source, "w+", np.float32, (n, n, n))
    for z in range(0, n, 64):
        data[z : z + 64] = np.random.default_rng(z).random((64, n, n), np.float32)
    data.flush()
    del data
    print(f"## out of core: {n}^3 float32 (512 MiB) .npy memory map, gaussian sigma={SIGMA}\n")
    print("| strategy | chunks | seconds | peak RSS growth (MiB) |")
    print("| --- | --- | --- | --- |")
    names = {"sepconv": "sepconv, --memory-limit 128MiB", "axes": "axis by axis + rechunk"}
    for strategy in ("sepconv", "axes"):
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child", strategy, str(source), str(folder / "o.npy")],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        chunks, seconds, grown = out.split(";")
        print(f"| {names[strategy]} | {chunks} | {seconds} | {grown} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="edge of the cube (voxels)")
    parser.add_argument("--repeat", type=int, default=3, help="median of N runs (default 3)")
    parser.add_argument("--rss", action="store_true", help="out-of-core peak memory table")
    parser.add_argument("--scaling", action="store_true", help="only the 1 -> 2 workers table")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _rss_child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="sepconv-dask-bench-") as folder:
        if args.rss:
            _rss_table(Path(folder))
        else:
            _timings(args, Path(folder))


def _timings(args: argparse.Namespace, folder: Path) -> None:
    n = args.size
    rng = np.random.default_rng(0)
    x = rng.random((n, n, n), dtype=np.float32)
    reference = ndi.gaussian_filter(x, SIGMA, mode="reflect")
    np.save(folder / "in.npy", x)
    source = np.load(folder / "in.npy", mmap_mode="r")
    image = Image(source, "zyx")
    cpus = os.cpu_count()
    print(
        f"## {n}^3 float32 ({x.nbytes / 2**20:.0f} MiB), gaussian sigma={SIGMA} "
        f"(radius {RADIUS}), mode reflect; {platform.processor() or platform.machine()}, "
        f"{cpus} CPUs, dask {dask.__version__}\n"
    )

    _sepconv(Image(x[:32, :32, :32].copy(), "zyx"), folder / "warm.npy")  # Numba compiles
    if not args.scaling:
        _strategies_and_chunks(args, folder, image, source, reference)
    _scaling(args, folder, image, source, reference)


def _strategies_and_chunks(
    args: argparse.Namespace, folder: Path, image: Image, source: np.ndarray, reference: np.ndarray
) -> None:
    cpus = os.cpu_count()
    chunk = 64
    fn = functools.partial(ndi.gaussian_filter, sigma=SIGMA, mode="reflect")
    lazy = filter_dask(
        da.from_array(source, chunks=chunk), fn, (RADIUS,) * 3, "reflect", chunks=chunk
    )
    axes = _axis_by_axis(da.from_array(source, chunks=chunk), chunk)
    strategies = {
        "sepconv: one task per chunk, full halo": (
            lambda: _sepconv(image, folder / "a.npy", chunks=str(chunk))["seconds"],
            folder / "a.npy",
        ),
        "dask map_overlap graph, full halo": (
            lambda: _store(lazy, folder / "b.npy", cpus),
            folder / "b.npy",
        ),
        "axis by axis with rechunking": (
            lambda: _store(axes, folder / "c.npy", cpus),
            folder / "c.npy",
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in strategies}
    for _ in range(args.repeat):  # round-robin, so that load from other jobs hits all alike
        for name, (run, _) in strategies.items():
            times[name].append(run())
    first = statistics.median(times[next(iter(times))])
    print("| strategy (chunks 64^3, threads) | median seconds | ÷ sepconv | max abs error |")
    print("| --- | --- | --- | --- |")
    for name, (_, out) in strategies.items():
        t = statistics.median(times[name])
        print(f"| {name} | {t:.2f} | {t / first:.2f} | {_check(out, reference):.1e} |")

    print("\n| chunks | n chunks | halo overhead (extra voxels read) | median seconds |")
    print("| --- | --- | --- | --- |")
    for size in (16, 32, 64, 128, None):
        label = "default" if size is None else str(size)
        opts = {} if size is None else {"chunks": str(size)}
        runs = [_sepconv(image, folder / "d.npy", **opts) for _ in range(args.repeat)]
        stats = runs[0]
        shape = "x".join(map(str, stats["chunks"]))
        seconds = statistics.median(r["seconds"] for r in runs)
        print(
            f"| {label} ({shape}) | {stats['n_chunks']} | {stats['halo_overhead']:.0%} | "
            f"{seconds:.2f} |"
        )


def _scaling(
    args: argparse.Namespace, folder: Path, image: Image, source: np.ndarray, reference: np.ndarray
) -> None:
    print(
        "\n| scheduler (warm, chunks 64^3) | workers | median seconds | speed-up | "
        "voxels/s per worker (busy time) |"
    )
    print("| --- | --- | --- | --- | --- |")
    p = plan(image, None, ApplyOptions(kernels=(f"gaussian:sigma={SIGMA}",), backend="dask"))
    single = None
    for kind, workers in (("threads", 1), ("threads", 2), ("LocalCluster", 1), ("LocalCluster", 2)):
        threads = kind == "threads"
        config = dask.config.set(num_workers=workers) if threads else contextlib.nullcontext()
        with config, dask_runner(workers=None if threads else workers) as runner:
            runs = []
            for i in range(args.repeat + 1):  # the first run warms the workers up (Numba)
                target = ChunkTarget(folder / "e.npy", "npy", image.shape, np.float32, (64,) * 3)
                stats = run_to_target(
                    source,
                    PlanFilter(p, threads=1),  # one core per worker: scaling of the workers
                    p.halo,
                    p.mode,
                    p.cval,
                    target,
                    chunks=(64,) * 3,
                    runner=runner,
                    dtype=np.float32,
                    finish=functools.partial(cast_output, plan=p),
                )
                if i:
                    runs.append(stats)
        seconds = statistics.median(r["seconds"] for r in runs)
        single = single or seconds
        last = runs[-1]["per_worker"]
        per = ", ".join(f"{w['voxels_per_second'] / 1e6:.0f} M" for w in last)
        print(f"| {kind} | {workers} | {seconds:.2f} | {single / seconds:.2f}x | {per} |")
    assert _check(folder / "e.npy", reference) <= 1e-5


if __name__ == "__main__":
    main()
