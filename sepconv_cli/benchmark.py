"""The library side of ``sepconv bench``: time every method and backend on a Gaussian sweep.

For each kernel size ``K`` of the sweep a Gaussian of radius ``(K - 1) / 2`` (sigma
``(K - 1) / 8`` voxels with scipy's truncate of 4) is planned and run through the engine — the
same :func:`sepconv_cli.engine.plan` and :func:`~sepconv_cli.engine.run.execute` that
``sepconv apply`` runs — once per method (direct, separable, lowrank, fft) and in-memory backend
(numpy, numba), and once with ``method=auto, backend=auto`` to check the planner's choice.
Each case is run once untimed (imports, Numba cache load or compile, page faults), then
``repeat`` times; rows hold the median and the spread. Cases the calibrated cost model
predicts to take longer than ``max_seconds`` are skipped and say so.

No printing here: :mod:`sepconv_cli.cli.bench` renders the result.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sepconv_cli.errors import UsageError
from sepconv_cli.image import Image

#: Methods in the order they are reported.
BENCH_METHODS = ("direct", "separable", "lowrank", "fft")
#: Default kernel sizes of the sweep.
DEFAULT_SIZES = (3, 7, 15, 31, 63)
#: Default synthetic image shape.
DEFAULT_SHAPE = (2048, 2048)


@dataclass
class BenchRow:
    """One timed case: a kernel size run by one method on one backend (or ``auto``).

    ``time_s`` is the median filtering time (``Report.time_s``: no planning or casting),
    ``total_s`` the median of the whole in-memory run (planning excluded, casting included).
    ``status`` is ``ok`` or ``skipped`` (with the reason in ``note``).
    """

    size: int
    sigma: float
    method: str
    backend: str
    status: str = "ok"
    time_s: float | None = None
    total_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    predicted_s: float | None = None
    gmacs: float | None = None
    note: str = ""


@dataclass
class BenchResult:
    """Every row of a sweep plus what it concludes.

    ``fastest`` maps each kernel size to the fastest ``(method, backend, time_s)``;
    ``crossovers`` lists the sizes where the fastest method changes; ``auto`` maps each size to
    the planner's choice, its time, its ratio to the fastest and whether it chose the fastest
    case (``chose_fastest``: then the ratio only measures the machine's noise).
    """

    shape: tuple[int, ...]
    axes: str
    dtype: str
    source: str
    repeat: int
    sizes: tuple[int, ...]
    rows: list[BenchRow] = field(default_factory=list)
    fastest: dict[int, dict[str, Any]] = field(default_factory=dict)
    crossovers: list[dict[str, Any]] = field(default_factory=list)
    auto: dict[int, dict[str, Any]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    numba: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``sepconv bench --json`` prints).

        Examples
        --------
        >>> BenchResult((4, 4), "yx", "float32", "synthetic", 1, (3,)).to_dict()["shape"]
        [4, 4]
        """
        doc = dataclasses.asdict(self)
        doc["shape"] = list(self.shape)
        doc["sizes"] = list(self.sizes)
        for key in ("fastest", "auto"):
            doc[key] = {str(size): value for size, value in getattr(self, key).items()}
        return doc


def parse_shape(text: str) -> tuple[int, ...]:
    """``"2048x2048"`` -> ``(2048, 2048)``.

    Examples
    --------
    >>> parse_shape("512x512x3"), parse_shape("64")
    ((512, 512, 3), (64,))
    """
    try:
        shape = tuple(int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape) or len(shape) > 5:
        raise UsageError(f"--shape {text!r}: give 1 to 5 positive sizes like 2048x2048")
    return shape


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"3,7,15"`` -> ``(3, 7, 15)``: odd Gaussian kernel sizes ``2 * radius + 1``.

    Examples
    --------
    >>> parse_sizes("3, 7,15")
    (3, 7, 15)
    """
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    bad = [s for s in sizes if s < 3 or s % 2 == 0]
    if not sizes or bad:
        raise UsageError(
            f"--kernels {text!r}: give odd Gaussian sizes >= 3 separated by commas "
            f"(e.g. 3,7,15,31,63){'; bad: ' + ', '.join(map(str, bad)) if bad else ''}"
        )
    return tuple(sorted(set(sizes)))


def sigma_for_size(size: int) -> float:
    """Gaussian sigma (voxels) whose radius ``int(4 * sigma + 0.5)`` gives ``size`` taps.

    Examples
    --------
    >>> sigma_for_size(3), sigma_for_size(17)
    (0.25, 2.0)
    """
    return (size - 1) / 8.0


def default_axes(shape: Sequence[int]) -> str:
    """Axis letters for a synthetic image: ``x``, ``yx``, ``zyx`` or ``yxc`` (last axis <= 4).

    Examples
    --------
    >>> default_axes((64, 64)), default_axes((32, 32, 32)), default_axes((64, 64, 3))
    ('yx', 'zyx', 'yxc')
    """
    ndim = len(shape)
    if ndim >= 3 and shape[-1] <= 4:
        return {3: "yxc", 4: "zyxc", 5: "tzyxc"}[ndim]
    return {1: "x", 2: "yx", 3: "zyx", 4: "tzyx", 5: "tzyxc"}[ndim]


def synthetic_image(
    shape: Sequence[int], dtype: str = "float32", axes: str | None = None, seed: int = 0
) -> Image:
    """Uniform random data of ``shape`` and ``dtype`` (integers span the type's range).

    Examples
    --------
    >>> image = synthetic_image((4, 5), "uint8")
    >>> image.shape, image.dtype, image.axes
    ((4, 5), dtype('uint8'), 'yx')
    """
    try:
        kind = np.dtype(dtype)
    except TypeError as exc:
        raise UsageError(f"--dtype {dtype!r} is not a NumPy dtype") from exc
    if kind.kind not in "uif":
        raise UsageError(f"--dtype {dtype!r}: use an integer or float dtype")
    rng = np.random.default_rng(seed)
    if kind.kind == "f":
        data = rng.random(tuple(shape), dtype=np.float64).astype(kind)
    else:
        info = np.iinfo(kind)
        data = rng.integers(info.min, info.max, tuple(shape), dtype=kind, endpoint=True)
    return Image(data, axes or default_axes(shape))


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python and library versions of this run.

    Examples
    --------
    >>> machine_info()["cores"] >= 1
    True
    """
    info: dict[str, Any] = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count() or 1,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover - scipy is a dependency
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _available_backends(backends: Sequence[str] | None) -> list[str]:
    from sepconv_cli.engine.backends import BACKENDS, backend_available

    if backends is None:
        return [name for name in ("numpy", "numba") if backend_available(name)]
    chosen = []
    for name in backends:
        canonical = BACKENDS.canonical(name)
        if not backend_available(canonical):
            raise UsageError(f"--backends: backend {canonical!r} is not installed")
        chosen.append(canonical)
    return list(dict.fromkeys(chosen))


def _time_case(image: Image, plan: Any, repeat: int) -> tuple[list[float], list[float]]:
    from sepconv_cli.engine.run import execute

    execute(image, plan)  # warm-up: imports, numba cache, first touch of buffers
    filtering, total = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        _, report = execute(image, plan)
        total.append(time.perf_counter() - start)
        filtering.append(float(report.time_s))
    return filtering, total


def _macs(plan: Any) -> float:
    step = plan.steps[0]
    cost = step.ops.get(step.method, {})
    return float(cost.get("total_macs", 0.0)) * len(step.parts)


def _row(size: int, image: Image, options: Any, repeat: int, max_seconds: float) -> BenchRow:
    from sepconv_cli.engine import plan as make_plan

    p = make_plan(image, None, options)
    step = p.steps[0]
    label_method = options.method if options.method != "auto" else "auto"
    label_backend = options.backend if options.backend != "auto" else "auto"
    row = BenchRow(size, sigma_for_size(size), label_method, label_backend)
    row.predicted_s = float(sum(s.predicted_s.get(s.method, 0.0) for s in p.steps))
    if options.method == "lowrank" and step.method == "separable":
        row.status, row.note = "skipped", "rank 1: lowrank runs the separable method"
        return row
    if options.method == "auto":
        row.note = f"{step.method}/{p.inner_backend}"
    if row.predicted_s > max_seconds:
        row.status = "skipped"
        row.note = f"predicted {row.predicted_s:.3g} s > --max-seconds {max_seconds:g}"
        return row
    filtering, total = _time_case(image, p, repeat)
    row.time_s = statistics.median(filtering)
    row.total_s = statistics.median(total)
    row.min_s, row.max_s = min(filtering), max(filtering)
    macs = _macs(p)
    row.gmacs = macs / row.time_s / 1e9 if row.time_s > 0 and macs else None
    return row


def _conclude(result: BenchResult) -> None:
    previous = None
    for size in result.sizes:
        timed = [
            r
            for r in result.rows
            if r.size == size and r.status == "ok" and r.method != "auto" and r.time_s
        ]
        if timed:
            best = min(timed, key=lambda r: r.time_s or 0.0)
            result.fastest[size] = {
                "method": best.method,
                "backend": best.backend,
                "time_s": best.time_s,
            }
            if previous is not None and previous != best.method:
                result.crossovers.append({"size": size, "from": previous, "to": best.method})
            previous = best.method
        for r in result.rows:
            if r.size == size and r.method == "auto" and r.status == "ok" and r.time_s:
                method, _, backend = r.note.partition("/")
                best = result.fastest.get(size, {})
                best_time = best.get("time_s")
                result.auto[size] = {
                    "method": method,
                    "backend": backend,
                    "time_s": r.time_s,
                    "ratio_to_fastest": r.time_s / best_time if best_time else None,
                    # the same case timed twice differs by the machine's noise only
                    "chose_fastest": (method, backend) == (best.get("method"), best.get("backend")),
                }


def run_bench(
    image: Image | None = None,
    *,
    shape: Sequence[int] = DEFAULT_SHAPE,
    dtype: str = "float32",
    sizes: Sequence[int] = DEFAULT_SIZES,
    methods: Sequence[str] = BENCH_METHODS,
    backends: Sequence[str] | None = None,
    repeat: int = 3,
    max_seconds: float = 2.0,
    mode: str = "reflect",
    include_auto: bool = True,
    source: str = "synthetic",
) -> BenchResult:
    """Time every method x backend on Gaussians of each size in ``sizes``.

    Parameters
    ----------
    image
        The image to filter (e.g. read from a file); None builds random data of ``shape``
        and ``dtype``.
    shape, dtype
        The synthetic image when ``image`` is None.
    sizes
        Odd kernel sizes (taps per axis) of the sweep.
    methods
        Methods to time (a subset of :data:`BENCH_METHODS`).
    backends
        In-memory backends (default: numpy and numba when installed).
    repeat
        Timed runs per case (the median is reported); one more untimed warm-up run.
    max_seconds
        Skip a case whose predicted time exceeds this.
    mode
        Boundary mode.
    include_auto
        Also time ``method=auto, backend=auto`` and compare it with the fastest case.
    source
        Label of the data (a file path) for the report.

    Returns
    -------
    BenchResult

    Examples
    --------
    >>> result = run_bench(shape=(32, 32), sizes=(3,), methods=("separable",),
    ...                    backends=("numpy",), repeat=1, include_auto=False)
    >>> [(r.method, r.backend, r.status) for r in result.rows]
    [('separable', 'numpy', 'ok')]
    """
    from sepconv_cli.engine import ApplyOptions

    if repeat < 1:
        raise UsageError(f"--repeat must be >= 1, got {repeat}")
    if not max_seconds > 0:
        raise UsageError(f"--max-seconds must be > 0, got {max_seconds}")
    unknown = [m for m in methods if m not in BENCH_METHODS]
    if unknown or not methods:
        raise UsageError(
            f"--methods: unknown {', '.join(unknown) or '(none)'} "
            f"(choices: {', '.join(BENCH_METHODS)})"
        )
    if image is None:
        image = synthetic_image(shape, dtype)
    chosen_backends = _available_backends(backends)
    result = BenchResult(
        shape=tuple(image.shape),
        axes=image.axes,
        dtype=str(np.dtype(image.dtype)),
        source=source,
        repeat=repeat,
        sizes=tuple(sizes),
        machine=machine_info(),
    )
    for size in result.sizes:
        spec = f"gaussian:sigma={sigma_for_size(size):g}vox"
        base = ApplyOptions(kernels=(spec,), mode=mode, memory_limit=2**62)
        for method in methods:
            for backend in chosen_backends:
                options = dataclasses.replace(base, method=method, backend=backend)
                result.rows.append(_row(size, image, options, repeat, max_seconds))
        if include_auto:
            result.rows.append(_row(size, image, base, repeat, max_seconds))
    if "numba" in chosen_backends:
        from sepconv_cli.engine import numba_backend

        result.numba = numba_backend.compile_status()
    _conclude(result)
    return result


def plot_bench(result: BenchResult, path: str | os.PathLike[str]) -> Path:
    """Draw time vs kernel size per method and backend (log-log) into a picture file.

    Needs matplotlib (``pip install 'sepconv-cli[plot]'``); written atomically.

    Examples
    --------
    >>> result = run_bench(shape=(16, 16), sizes=(3, 5), methods=("separable",),
    ...                    backends=("numpy",), repeat=1, include_auto=False)
    >>> plot_bench(result, "bench.png").name  # doctest: +SKIP
    'bench.png'
    """
    from sepconv_cli.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in result.rows:
        if r.status == "ok" and r.time_s and r.method != "auto":
            series.setdefault((r.method, r.backend), []).append((r.size, r.time_s))
    styles = {"numpy": "--", "numba": "-"}
    colours = {m: f"C{i}" for i, m in enumerate(BENCH_METHODS)}
    for (method, backend), points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(
            xs,
            ys,
            styles.get(backend, ":"),
            color=colours[method],
            marker="o",
            label=f"{method} ({backend})",
        )
    autos = sorted((size, a["time_s"]) for size, a in result.auto.items())
    if autos:
        xs, ys = zip(*autos, strict=True)
        ax.plot(xs, ys, "k", linestyle="none", marker="x", markersize=9, label="auto")
    for cross in result.crossovers:
        ax.axvline(cross["size"], color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(result.sizes), [str(s) for s in result.sizes])
    ax.set_xlabel("Gaussian kernel size (taps per axis)")
    ax.set_ylabel("median time (s)")
    shape = "x".join(map(str, result.shape))
    ax.set_title(f"sepconv bench: {shape} {result.dtype} ({result.source})")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
