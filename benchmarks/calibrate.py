"""Measure the cost-model constants of sepconv's planner on this machine.

The planner predicts ``time = overhead + MACs / rate(method, backend) + bytes / bandwidth``
(see ``sepconv_cli/engine/costmodel.py``). This script measures

- ``bandwidth_gbs``: ``np.copyto`` of a 64 MiB float32 array (bytes read + written / time);
- per backend, ``direct_gmacs`` (full 2-D kernel), ``separable_gmacs`` (1-D passes) and
  ``fft_gflops`` (the engine's blocked FFT), each from the fastest of several runs on a
  512x512 float32 image after subtracting the memory term;
- ``overhead_s``: the time of a 3x3 separable filter on an 8x8 image;
- ``numba_min_voxels``: the smallest square image from which the numba backend's separable
  Gaussian (sigma 2) beats scipy's (at that size and at 3 in 4 of the larger sizes tried);
- ``numba_startup_s``: what a fresh process pays to import the numba backend and load its
  cached compiled kernels (the planner adds it to numba's prediction until numba is loaded).

Usage::

    .venv/bin/python benchmarks/calibrate.py            # print the table
    .venv/bin/python benchmarks/calibrate.py --write    # also update the planner's constants

``--write`` stores ``sepconv_cli/engine/calibration.json`` (the default shipped with the
package); ``--output PATH`` writes elsewhere (point ``SEPCONV_CALIBRATION`` at it, or use
``~/.cache/sepconv/calibration.json`` for a per-user override).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sepconv_cli.costs.filters import fft_counts
from sepconv_cli.engine.backends import backend_available, load_backend
from sepconv_cli.engine.costmodel import DEFAULT_PATH
from sepconv_cli.engine.methods import Part, run_fft, run_separable


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Fastest wall time of ``fn`` over ``repeat`` runs (after one warm-up run).

    The minimum, not the median: on a shared machine the other processes only ever add time,
    so the fastest run is the best estimate of what the work itself costs.
    """
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_bandwidth(repeat: int) -> float:
    """GB/s of a large float32 copy (read + write)."""
    src = np.ones(16 * 2**20, np.float32)
    dst = np.empty_like(src)
    t = best_time(lambda: np.copyto(dst, src), repeat)
    return 2 * src.nbytes / t / 1e9


def measure_backend(name: str, size: int, repeat: int, bandwidth: float) -> dict[str, float]:
    """direct/separable GMAC/s and FFT GFLOP/s of one backend on a size x size float32 image."""
    backend = load_backend(name)
    rng = np.random.default_rng(0)
    data = rng.random((size, size), dtype=np.float32)
    n = data.size
    mem = 2 * n * 4 / (bandwidth * 1e9)

    k2 = rng.random((9, 9))
    t = best_time(lambda: backend.correlate(data, k2, "reflect", 0.0, (0, 0), None), repeat)
    direct = 81 * n / max(t - mem, t / 10) / 1e9

    k1 = rng.random(17)
    t = best_time(
        lambda: run_separable(data, [k1, k1], (0, 1), (0, 0), backend, "reflect", 0.0), repeat
    )
    separable = 34 * n / max(t - 2 * mem, t / 10) / 1e9

    part = Part(rng.random((31, 31)), (0, 0), (0, 1))
    t = best_time(lambda: run_fft(data, part, "reflect", 0.0), repeat)
    c = fft_counts(data.shape, (31, 31), (0, 1))
    fft = (c["mults"] + c["adds"]) / t / 1e9
    return {
        "direct_gmacs": round(direct, 3),
        "separable_gmacs": round(separable, 3),
        "fft_gflops": round(fft, 3),
    }


def measure_overhead(repeat: int) -> float:
    """Seconds of a tiny separable filter (call overhead)."""
    backend = load_backend("numpy")
    data = np.ones((8, 8), np.float32)
    k = np.ones(3)
    return best_time(
        lambda: run_separable(data, [k, k], (0, 1), (0, 0), backend, "reflect", 0.0), repeat
    )


def numba_threshold(repeat: int) -> tuple[int, list[dict[str, float]]]:
    """Smallest voxel count from which numba's separable Gaussian wins at every larger size."""
    from sepconv_cli.kernels.gaussian import gaussian_kernel1d

    backends = {name: load_backend(name) for name in ("numpy", "numba")}
    k = gaussian_kernel1d(2.0)
    rows = []
    for side in (32, 64, 128, 256, 512, 1024, 2048):
        data = np.random.default_rng(1).random((side, side), dtype=np.float32)
        row = {"voxels": side * side}
        for name, backend in backends.items():
            row[name] = best_time(
                lambda b=backend, d=data: run_separable(
                    d, [k, k], (0, 1), (0, 0), b, "reflect", 0.0
                ),
                repeat,
            )
        rows.append(row)
    threshold = rows[-1]["voxels"] * 4
    for i, row in enumerate(rows):
        wins = [r["numba"] < r["numpy"] for r in rows[i:]]
        if wins[0] and sum(wins) >= 0.75 * len(wins):
            threshold = row["voxels"]
            break
    return threshold, rows


def numba_startup(repeat: int) -> float:
    """Seconds a fresh process spends importing the numba backend and loading its kernels."""
    code = (
        "import time, numpy as np; t = time.perf_counter(); "
        "from sepconv_cli.engine.backends import load_backend; b = load_backend('numba'); "
        "x = np.ones((64, 64), np.float32); k = np.ones(5); "
        "b.correlate1d(x, k, 0, 'reflect', 0.0, 0, None); "
        "b.correlate(x, np.ones((3, 3)), 'reflect', 0.0, (0, 0), None); "
        "print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(max(3, repeat // 2)):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Measure, print a Markdown table, optionally write the JSON constants."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the shipped constants")
    parser.add_argument("--output", type=Path, help="write the constants to this JSON file")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument("--size", type=int, default=512, help="image side for the rates")
    args = parser.parse_args(argv)

    bandwidth = measure_bandwidth(args.repeat)
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "bandwidth_gbs": round(bandwidth, 2),
        "overhead_s": float(f"{measure_overhead(args.repeat * 4):.3g}"),
        "backends": {},
    }
    names = [n for n in ("numpy", "numba") if backend_available(n)]
    for name in names:
        result["backends"][name] = measure_backend(name, args.size, args.repeat, bandwidth)
    if "numba" in names:
        threshold, rows = numba_threshold(args.repeat)
        result["numba_min_voxels"] = threshold
        result["numba_startup_s"] = round(numba_startup(args.repeat), 3)
        result["numba_vs_numpy"] = [
            {
                "voxels": r["voxels"],
                "numpy_s": float(f"{r['numpy']:.3g}"),
                "numba_s": float(f"{r['numba']:.3g}"),
            }
            for r in rows
        ]
    print("| constant | value |\n| --- | --- |")
    print(f"| memory bandwidth | {result['bandwidth_gbs']} GB/s |")
    print(f"| call overhead | {result['overhead_s'] * 1e6:.0f} us |")
    for name, rates in result["backends"].items():
        for key, value in rates.items():
            print(f"| {name} {key.replace('_', ' ')} | {value} |")
    if "numba_min_voxels" in result:
        print(f"| numba wins per call from | {result['numba_min_voxels']} voxels |")
        print(f"| numba start-up (import + cached kernels) | {result['numba_startup_s']} s |")
    text = json.dumps(result, indent=2) + "\n"
    targets = ([DEFAULT_PATH] if args.write else []) + ([args.output] if args.output else [])
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
        print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
