"""`ApplyOptions`: every choice of one filtering run, as a plain picklable dataclass."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from sepconv_cli.boundary import canonical_mode
from sepconv_cli.errors import UsageError
from sepconv_cli.registry import Registry, did_you_mean

#: Filtering methods (``auto`` lets the planner choose).
METHODS: Registry[str] = Registry("method")
METHODS.register("auto", "pick the cheapest by the calibrated cost model")
METHODS.register("direct", "the full N-D kernel", aliases=("full",))
METHODS.register("separable", "one 1-D pass per axis (rank-1 kernels)", aliases=("sep",))
METHODS.register("lowrank", "a sum of r separable passes", aliases=("low-rank", "svd"))
METHODS.register("fft", "FFT with mode-exact padding, blocked", aliases=("fourier",))

#: What to do with NaN/Inf input values.
NAN_POLICIES: Registry[str] = Registry("NaN policy")
NAN_POLICIES.register("propagate", "outputs whose kernel footprint meets a NaN/Inf become NaN")
NAN_POLICIES.register(
    "ignore", "normalised convolution over the finite neighbours; NaN voxels stay NaN"
)
NAN_POLICIES.register("zero", "NaN/Inf are replaced by 0 before filtering")

PRECISIONS = ("float32", "float64")


def physical_memory() -> int:
    """The machine's physical memory in bytes (8 GiB when the system does not say).

    Examples
    --------
    >>> physical_memory() > 0
    True
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def default_memory_limit() -> int:
    """A quarter of the physical memory, in bytes (above it the planner picks dask).

    Examples
    --------
    >>> default_memory_limit() == physical_memory() // 4
    True
    """
    return physical_memory() // 4


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def format_size(nbytes: float) -> str:
    """A byte count as text in binary units, the inverse of :func:`parse_size`.

    Examples
    --------
    >>> format_size(66 * 2**10), format_size(512 * 2**20), format_size(100)
    ('66 KiB', '512 MiB', '100 B')
    """
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} TiB"


def parse_size(text: str | int | float) -> int:
    """A byte count from ``"512MiB"``, ``"4GB"``, ``"2e9"``, ``"50%"`` (of the physical
    memory) or a number.

    Examples
    --------
    >>> parse_size("512MiB"), parse_size("4GB"), parse_size("2e9"), parse_size(100)
    (536870912, 4000000000, 2000000000, 100)
    >>> parse_size("50%") == physical_memory() // 2
    True
    """
    if isinstance(text, (int, float)):
        if text <= 0:
            raise UsageError(f"--memory-limit {text!r} must be positive")
        return int(text)
    value = text.strip().lower().replace(" ", "")
    if value.endswith("%"):
        try:
            share = float(value[:-1])
        except ValueError:
            share = -1.0
        if not 0 < share <= 100:
            raise UsageError(f"--memory-limit {text!r}: give a share of RAM in (0, 100]%")
        return int(physical_memory() * share / 100)
    number = value.rstrip("kmgtib")
    unit = value[len(number) :]
    try:
        size = int(float(number) * _SIZE_UNITS[unit])
    except (ValueError, KeyError, OverflowError):
        raise UsageError(
            f"--memory-limit {text!r}: give a size such as 512MiB, 4GB, 2e9 or 50%"
        ) from None
    if size <= 0:
        raise UsageError(f"--memory-limit {text!r} must be positive")
    return size


@dataclass
class ApplyOptions:
    """Everything a run of ``sepconv apply`` can be told; validated by :meth:`normalized`.

    Parameters
    ----------
    kernels
        Kernel specs applied in order over the spatial axes (``"gaussian:sigma=2mm"``).
    method
        ``auto`` | ``direct`` | ``separable`` | ``lowrank`` | ``fft``.
    backend
        ``auto`` | ``numpy`` | ``numba`` | ``dask``.
    rank, tol, max_rank
        Low-rank terms: ``rank`` fixes r; otherwise the smallest r <= ``max_rank`` whose relative
        error is <= ``tol``.
    mode, cval
        Boundary mode (scipy names or aliases) and the constant for ``constant``.
    correlate
        Correlate instead of convolve (no kernel flip).
    precision
        Compute dtype ``float32`` | ``float64``; None = float32, float64 for float64 (and
        32/64-bit integer) input.
    dtype
        Output dtype; None = the input's for smoothing kernels, float32 (float64 when
        computing in float64) otherwise.
    nan
        ``propagate`` | ``ignore`` | ``zero``.
    mask
        A mask file path or array: normalised convolution inside it, outside unchanged.
    spectral
        A 1-D kernel spec for the band axis (spatial ⊗ spectral).
    axes
        Axis roles overriding the file's (``"yxb"``).
    spacing
        Spacing of the spatial axes for physical kernel units (``"2x2x1mm"``, ``"0.5um"``),
        overriding the file's; the output keeps the file's metadata.
    memory_limit
        Bytes; inputs larger than this go to the dask backend (default a quarter of RAM).
    chunks, scheduler, workers
        Dask settings (chunk shape text, scheduler address, local worker processes).
    verify
        Also run a float64 direct reference (on a crop if large) and report the error.
    dry_run
        Plan and report without computing or writing.
    format
        Output format name (default from the output suffix).
    max_size
        Largest kernel size per axis accepted from a spec.

    Examples
    --------
    >>> ApplyOptions(kernels=("box:size=3",), mode="replicate").normalized().mode
    'nearest'
    """

    kernels: tuple[str, ...] = ()
    method: str = "auto"
    backend: str = "auto"
    rank: int | None = None
    tol: float = 1e-6
    max_rank: int = 8
    mode: str = "reflect"
    cval: float = 0.0
    correlate: bool = False
    precision: str | None = None
    dtype: str | None = None
    nan: str = "propagate"
    mask: Any = None
    spectral: str | None = None
    axes: str | None = None
    spacing: str | None = None
    memory_limit: int | str | None = None
    chunks: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    verify: bool = False
    dry_run: bool = False
    format: str | None = None
    max_size: int = 1025

    def normalized(self) -> ApplyOptions:
        """A copy with canonical names, checked values and defaults filled in."""
        import dataclasses

        from sepconv_cli.engine.backends import BACKENDS

        backend = self.backend.strip().lower()
        if backend not in ("auto", "dask"):
            if backend not in BACKENDS:
                choices = ["auto", *BACKENDS.names(), "dask"]
                raise UsageError(
                    f"unknown backend {self.backend!r}{did_you_mean(backend, choices)} "
                    f"(choices: {', '.join(choices)})"
                )
            backend = BACKENDS.canonical(backend)
        # Options that only the dask backend uses: they select it under auto (a cluster was
        # asked for) and contradict an in-memory backend instead of being silently ignored.
        dask_only = [
            name
            for name, value in (
                ("--scheduler", self.scheduler),
                ("--workers", self.workers),
                ("--chunks", self.chunks),
            )
            if value not in (None, "")
        ]
        if dask_only and backend not in ("auto", "dask"):
            raise UsageError(
                f"{', '.join(dask_only)} only apply to --backend dask, not --backend {backend}"
            )
        if backend == "auto" and (self.scheduler or self.workers):
            backend = "dask"
        if self.rank is not None and self.rank < 1:
            raise UsageError(f"--rank must be >= 1, got {self.rank}")
        if not math.isfinite(float(self.cval)):
            raise UsageError(f"--cval must be a finite number, got {self.cval}")
        if not self.tol > 0:
            raise UsageError(f"--tol must be > 0, got {self.tol}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise UsageError(
                f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.dtype is not None:
            import numpy as np

            try:
                dtype = np.dtype(self.dtype)
            except TypeError as exc:
                raise UsageError(f"--dtype {self.dtype!r} is not a NumPy dtype") from exc
            if dtype.kind not in "uif" or dtype.itemsize > 8:
                raise UsageError(
                    f"--dtype {self.dtype!r}: use an integer or float dtype (uint8, int16, "
                    "float32, ...)"
                )
        memory_limit = None if self.memory_limit is None else parse_size(self.memory_limit)
        if memory_limit is not None and memory_limit <= 0:
            raise UsageError(f"--memory-limit must be > 0, got {self.memory_limit}")
        if not self.kernels and not self.spectral:
            raise UsageError("no kernel given: use -k SPEC (e.g. -k gaussian:sigma=2)")
        return dataclasses.replace(
            self,
            kernels=tuple(self.kernels),
            method=METHODS.canonical(self.method),
            backend=backend,
            mode=canonical_mode(self.mode),
            nan=NAN_POLICIES.canonical(self.nan),
            cval=float(self.cval),
            memory_limit=memory_limit or default_memory_limit(),
        )
