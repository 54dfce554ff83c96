"""sepconv side by side with scipy.ndimage, OpenCV, libvips, SimpleITK and dask-image.

All contenders run in this one process on the same data, round-robin (one run of each per
round, so a noisy neighbour hurts everyone alike); the table reports medians, the ratio of
each peer to sepconv, sepconv's ratio to the memory floor (filtered axes x ``np.copyto`` of the
data, i.e. one streaming read + write per separable pass) and the peak memory each contender
adds over its input (Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs``).

Cases (``--cases``; ``--quick`` runs smaller versions of each):

    2d-s2   2-D 4096x4096 float32, Gaussian sigma=2 (17 taps)
    2d-s8   2-D 4096x4096 float32, sigma=8 (65 taps)
    rgb-s3  2-D 4096x4096x3 uint8 RGB, sigma=3 on the spatial axes (output uint8)
    3d-512  3-D 512^3 float32, sigma=2
    3d-256  3-D 256^3 float32, sigma=2

sepconv appears twice: ``sepconv`` is the public API (``sepconv_cli.engine.apply``: planning,
backend choice, dtype policy, a fresh output) and ``sepconv kernel`` is the Numba backend's
fused separable pass into a preallocated output (what the floor is compared with). Peers that
are not installed are listed as such (``pip install 'sepconv-cli[bench]'``; pyvips also needs
the libvips library, e.g. ``apt-get install libvips42``).

Run: ``make bench`` or ``python benchmarks/run_peers.py [--quick] [--cases 2d-s2,3d-256]
[--repeat 5] [--threads 1] [--json results.json] [--markdown table.md]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The benchmark times library code: keep BLAS tuning variables of the host out of it.
for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CORES = os.cpu_count() or 1
#: Threads every contender may use (``--threads``; default: every core).
THREADS = {"n": CORES}


@dataclass
class Case:
    """One benchmark case: data shape, dtype, sigma and which axes are filtered."""

    name: str
    title: str
    shape: tuple[int, ...]
    dtype: str
    sigma: float
    axes: str  # sepconv axis letters, e.g. "yxc"

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.axes) if a in "xyz")

    @property
    def taps(self) -> int:
        return 2 * int(4 * self.sigma + 0.5) + 1


CASES = {
    "2d-s2": Case("2d-s2", "2-D 4096² float32 σ=2", (4096, 4096), "float32", 2.0, "yx"),
    "2d-s8": Case("2d-s8", "2-D 4096² float32 σ=8", (4096, 4096), "float32", 8.0, "yx"),
    "rgb-s3": Case("rgb-s3", "2-D 4096²×3 uint8 σ=3", (4096, 4096, 3), "uint8", 3.0, "yxc"),
    "3d-512": Case("3d-512", "3-D 512³ float32 σ=2", (512, 512, 512), "float32", 2.0, "zyx"),
    "3d-256": Case("3d-256", "3-D 256³ float32 σ=2", (256, 256, 256), "float32", 2.0, "zyx"),
}
QUICK = {
    "2d-s2": (1024, 1024),
    "2d-s8": (1024, 1024),
    "rgb-s3": (1024, 1024, 3),
    "3d-512": (128, 128, 128),
    "3d-256": (96, 96, 96),
}


@dataclass
class Result:
    """Timings of one contender on one case."""

    name: str
    times: list[float] = field(default_factory=list)
    peak_mib: float | None = None
    max_abs_diff: float | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def gaussian_weights(sigma: float) -> np.ndarray:
    """scipy.ndimage's Gaussian: radius int(4 sigma + 0.5), normalised to sum 1."""
    radius = int(4 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def make_data(case: Case, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if case.dtype == "uint8":
        return rng.integers(0, 256, case.shape, dtype=np.uint8)
    return rng.random(case.shape, dtype=np.float32)


# --- contenders: each returns (setup note, callable returning the filtered array) -----------


def _numba_threads() -> None:
    import numba

    numba.set_num_threads(min(THREADS["n"], numba.config.NUMBA_NUM_THREADS))


def _apply_runner(case: Case, data: np.ndarray, reuse: bool) -> Callable[[], np.ndarray]:
    from sepconv_cli.engine import ApplyOptions, apply

    _numba_threads()
    from sepconv_cli.image import Image

    image = Image(data, case.axes)
    options = ApplyOptions(
        kernels=(f"gaussian:sigma={case.sigma:g}vox",), mode="reflect", memory_limit=2**62
    )
    out = np.empty_like(data) if reuse else None  # uint8 in, uint8 out: the input's dtype

    def run() -> np.ndarray:
        result, _report = apply(image, None, options, out=out)
        return np.asarray(result.data)

    return run


def sepconv_apply(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    """The public API into a reused output array, as scipy, OpenCV and the floor are run."""
    return _apply_runner(case, data, reuse=True)


def sepconv_apply_fresh(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    """The public API returning a new array each call (what the CLI does before writing)."""
    return _apply_runner(case, data, reuse=False)


def sepconv_kernel(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    from sepconv_cli.engine import numba_backend

    _numba_threads()
    w = gaussian_weights(case.sigma)
    out = np.empty_like(data)
    axes = case.spatial

    def run() -> np.ndarray:
        return numba_backend.correlate_separable(
            data, [w] * len(axes), axes, "reflect", 0.0, 0, out
        )

    return run


def scipy_ndimage(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    from scipy import ndimage

    sigma = [case.sigma if a in "xyz" else 0.0 for a in case.axes]
    out = np.empty_like(data)

    def run() -> np.ndarray:
        return ndimage.gaussian_filter(data, sigma, mode="reflect", output=out)

    return run


def opencv(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    import cv2

    cv2.setNumThreads(THREADS["n"])
    k = case.taps
    out = np.empty_like(data)
    border = cv2.BORDER_REFLECT  # d c b a | a b c d: scipy's "reflect"
    if len(case.spatial) == 2:

        def run() -> np.ndarray:
            return cv2.GaussianBlur(data, (k, k), case.sigma, dst=out, borderType=border)

        return run
    g = gaussian_weights(case.sigma).astype(np.float32)
    one = np.ones(1, np.float32)

    def run3() -> np.ndarray:  # slice-by-slice 2-D blur, then the z pass as one 2-D filter
        for z in range(data.shape[0]):
            cv2.GaussianBlur(data[z], (k, k), case.sigma, dst=out[z], borderType=border)
        flat = out.reshape(data.shape[0], -1)
        cv2.sepFilter2D(flat, -1, one, g, dst=flat, borderType=border)
        return out

    return run3


def libvips(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    import pyvips

    pyvips.vips_lib.vips_concurrency_set(THREADS["n"])
    if len(case.spatial) != 2:
        raise NotImplementedError("libvips filters 2-D images only")
    height, width = data.shape[:2]
    bands = data.shape[2] if data.ndim == 3 else 1
    fmt = "uchar" if data.dtype == np.uint8 else "float"
    precision = "integer" if data.dtype == np.uint8 else "float"
    # vips cuts its mask where it falls below min_ampl of the peak; its smallest allowed value,
    # 0.001, keeps 3.7 sigma (scipy and sepconv keep 4 sigma: exp(-8) = 0.00034).
    min_ampl = 0.001

    def run() -> np.ndarray:
        image = pyvips.Image.new_from_memory(data, width, height, bands, fmt)
        blurred = image.gaussblur(case.sigma, min_ampl=min_ampl, precision=precision)
        if blurred.format != fmt:
            blurred = blurred.cast(fmt)
        return np.ndarray(data.shape, dtype=data.dtype, buffer=blurred.write_to_memory())

    return run


def simpleitk(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(THREADS["n"])
    vector = len(case.spatial) != data.ndim
    image = sitk.GetImageFromArray(data, isVector=vector)
    smoother = sitk.SmoothingRecursiveGaussianImageFilter()
    smoother.SetSigma(case.sigma)

    alive: list[Any] = []  # the array view is only valid while its image lives

    def run() -> np.ndarray:
        result = smoother.Execute(image)
        if vector or data.dtype != np.float32:
            result = sitk.Cast(result, image.GetPixelID())
        alive[:] = [result]
        return sitk.GetArrayViewFromImage(result)

    return run


def dask_image(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    import dask
    import dask.array as da
    from dask_image import ndfilters

    sigma = [case.sigma if a in "xyz" else 0.0 for a in case.axes]
    array = da.from_array(data, chunks="auto")

    def run() -> np.ndarray:
        with dask.config.set(scheduler="threads", num_workers=THREADS["n"]):
            return ndfilters.gaussian_filter(array, sigma, mode="reflect").compute()

    return run


def floor(case: Case, data: np.ndarray) -> Callable[[], np.ndarray]:
    out = np.empty_like(data)
    passes = len(case.spatial)

    def run() -> np.ndarray:
        for _ in range(passes):
            np.copyto(out, data)
        return out

    return run


CONTENDERS: dict[str, Callable[[Case, np.ndarray], Callable[[], np.ndarray]]] = {
    "sepconv": sepconv_apply,
    "sepconv new array": sepconv_apply_fresh,
    "sepconv kernel": sepconv_kernel,
    "scipy.ndimage": scipy_ndimage,
    "OpenCV": opencv,
    "libvips": libvips,
    "SimpleITK": simpleitk,
    "dask-image": dask_image,
    "floor": floor,
}
PEERS = ("scipy.ndimage", "OpenCV", "libvips", "SimpleITK", "dask-image")


# --- measurement ----------------------------------------------------------------------------


def _status_kib(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_extra_mib(run: Callable[[], np.ndarray]) -> float | None:
    """Peak resident memory one run adds (MiB), or None where Linux's counters are missing."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _status_kib("VmRSS")
    result = run()
    peak = _status_kib("VmHWM")
    del result
    if before is None or peak is None:
        return None
    return max(0.0, (peak - before) / 1024)


def run_case(case: Case, names: list[str], repeat: int, budget_s: float) -> list[Result]:
    data = make_data(case)
    reference = None
    runners: dict[str, Callable[[], np.ndarray]] = {}
    results: dict[str, Result] = {}
    for name in names:
        result = results[name] = Result(name)
        try:
            runners[name] = CONTENDERS[name](case, data)
        except ImportError as exc:
            result.note = f"not installed ({exc.name or exc})"
        except NotImplementedError as exc:
            result.note = str(exc)
    # scipy first: its output is the reference the others are compared with.
    order = sorted(runners, key=lambda name: name != "scipy.ndimage")
    for name in order:
        run = runners[name]
        try:
            start = time.perf_counter()
            out = run()  # warm-up: imports, numba cache, first touch
            first = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - a broken peer is reported, not fatal
            results[name].note = f"failed: {type(exc).__name__}: {exc}"[:120]
            del runners[name]
            continue
        if name == "scipy.ndimage":
            reference = np.array(out, dtype=np.float64)
        elif reference is not None and name != "floor":
            results[name].max_abs_diff = float(
                np.abs(np.asarray(out, np.float64) - reference).max()
            )
        results[name].peak_mib = peak_extra_mib(run)
        if first * repeat > budget_s:
            results[name].note = f"{max(1, int(budget_s // max(first, 1e-9)))} runs (slow)"
        del out
    rounds = {name: repeat for name in runners}
    for name in runners:
        note = results[name].note
        if note.endswith("(slow)"):
            rounds[name] = int(note.split()[0])
    for i in range(repeat):
        for name, run in runners.items():
            if i >= rounds[name]:
                continue
            start = time.perf_counter()
            run()
            results[name].times.append(time.perf_counter() - start)
    return [results[name] for name in names]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": CORES,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(meminfo[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    from importlib import metadata

    for dist in ("scipy", "numba", "opencv-python-headless", "pyvips", "SimpleITK", "dask-image"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        import pyvips

        info["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    except Exception:  # noqa: BLE001 - pyvips without its library: not listed
        pass
    return info


def _fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1e3:,.1f}"


def markdown(case: Case, results: list[Result]) -> str:
    by = {r.name: r for r in results}
    ours = by.get("sepconv")
    kernel = by.get("sepconv kernel")
    fl = by.get("floor")
    lines = [
        f"### {case.title} ({'×'.join(map(str, case.shape))}, {case.taps} taps)",
        "",
        "| contender | median ms | peer / sepconv | peer / sepconv kernel | vs floor | "
        "peak extra MiB | max abs diff vs scipy | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        med = r.median
        ratio = f"{med / ours.median:.2f}" if med and ours and ours.median and r is not ours else ""
        ratio_k = (
            f"{med / kernel.median:.2f}"
            if med and kernel and kernel.median and r is not kernel
            else ""
        )
        vs_floor = f"{med / fl.median:.2f}×" if med and fl and fl.median and r is not fl else ""
        peak = "" if r.peak_mib is None else f"{r.peak_mib:,.0f}"
        diff = "" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e}"
        lines.append(
            f"| {r.name} | {_fmt_ms(med)} | {ratio} | {ratio_k} | {vs_floor} | {peak} | "
            f"{diff} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--quick", action="store_true", help="smaller data for a quick look")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median)")
    parser.add_argument(
        "--budget", type=float, default=25.0, help="seconds per contender and case (slow peers)"
    )
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help="comma-separated contender names"
    )
    parser.add_argument(
        "--threads", type=int, default=CORES, help="threads per contender (default: all cores)"
    )
    parser.add_argument("--json", type=Path, help="write all timings to this JSON file")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown += [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    THREADS["n"] = max(1, args.threads)
    info = machine()
    info["threads"] = THREADS["n"]
    print(f"machine: {json.dumps(info)}", file=sys.stderr)
    document: dict[str, Any] = {"machine": info, "repeat": args.repeat, "cases": {}}
    tables = []
    for key in cases:
        case = CASES[key]
        if args.quick:
            case = Case(
                case.name, f"{case.title} [quick]", QUICK[key], case.dtype, case.sigma, case.axes
            )
        print(f"running {case.title} ...", file=sys.stderr, flush=True)
        results = run_case(case, names, args.repeat, args.budget)
        table = markdown(case, results)
        print(table, flush=True)
        tables.append(table)
        document["cases"][key] = {
            "shape": list(case.shape),
            "dtype": case.dtype,
            "sigma": case.sigma,
            "results": {
                r.name: {
                    "times_s": r.times,
                    "median_s": r.median,
                    "peak_extra_mib": r.peak_mib,
                    "max_abs_diff_vs_scipy": r.max_abs_diff,
                    "note": r.note,
                }
                for r in results
            },
        }
    if args.json:
        args.json.write_text(json.dumps(document, indent=1))
    if args.markdown:
        args.markdown.write_text("\n".join(tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
