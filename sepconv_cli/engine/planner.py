"""The planner: kernels for an image -> a :class:`Plan` (method, backend, why, op counts).

For every kernel step the planner analyses separability, counts the ops of every method
(:func:`sepconv_cli.costs.filters.method_costs`), predicts each one's time with the calibrated
cost model (:mod:`sepconv_cli.engine.costmodel`) and picks the fastest, unless ``--method``
says otherwise. The backend is dask when the input exceeds the memory limit, numba for arrays
above the calibrated size threshold, numpy/scipy otherwise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepconv_cli.costs.filters import METHODS as COST_METHODS
from sepconv_cli.costs.filters import method_costs
from sepconv_cli.engine.costmodel import load_calibration, predict_seconds, startup_seconds
from sepconv_cli.engine.methods import Part, correlation_origin
from sepconv_cli.engine.options import ApplyOptions, format_size
from sepconv_cli.errors import SpecError, UsageError
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel


@dataclass
class Step:
    """One kernel of the chain, planned.

    Parameters
    ----------
    kernel
        The kernel as built (convolution weights, spec, params for reports).
    axes
        Array axes it spans, ascending.
    role
        ``"spatial"`` or ``"spectral"``.
    parts
        The kernel(s) in correlation form: one, or one per component of a gradient magnitude.
    combine
        None, or ``"magnitude"`` (sqrt of the sum of the parts' squared responses).
    rank
        Separable rank at the tolerance (1 separable, r >= 2 low-rank, 0 neither).
    rank_error
        Relative Frobenius error of the low-rank terms the step uses (0 when exact).
    method
        The method that runs.
    why
        Why that method.
    ops
        :func:`method_costs` for every method available for this kernel.
    predicted_s
        Predicted seconds per method.

    Examples
    --------
    >>> k = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3, np.ones(3) / 3], smoothing=True)
    >>> step = plan_step(k, (4, 4), (0, 1), ApplyOptions(kernels=("x",)).normalized(), "numpy")
    >>> step.method, step.rank, sorted(step.ops)
    ('separable', 1, ['direct', 'fft', 'separable'])
    """

    kernel: Kernel
    axes: tuple[int, ...]
    role: str
    parts: list[Part]
    combine: str | None
    rank: int
    rank_error: float
    method: str
    why: str
    ops: dict[str, dict[str, Any]]
    predicted_s: dict[str, float]

    @property
    def smoothing(self) -> bool:
        """True when the kernel keeps the input's dtype (non-negative, sum 1)."""
        return bool(self.kernel.smoothing) and self.combine is None

    @property
    def reach(self) -> tuple[tuple[int, int], ...]:
        """(before, after) reach per kernel axis, over all parts."""
        spans = []
        for k in range(len(self.axes)):
            before = after = 0
            for part in self.parts:
                size = part.weights.shape[k]
                b = size // 2 + part.origin[k]
                before, after = max(before, b), max(after, size - 1 - b)
            spans.append((before, after))
        return tuple(spans)


@dataclass
class Plan:
    """What a run will do; what ``--dry-run`` prints.

    Parameters
    ----------
    shape, axes
        The image's array shape and axis roles.
    dtype, compute_dtype, output_dtype
        Input, computation and output dtypes (names).
    steps
        The kernel chain, in order.
    backend
        ``numpy`` | ``numba`` | ``dask``; ``inner_backend`` runs each in-memory block.
    backend_why
        Why that backend.
    mode, cval, nan, correlate
        Boundary mode, its constant, NaN policy, correlation instead of convolution.
    halo
        Total kernel reach per array axis over the chain (the overlap chunked runs need).
    options
        The normalised options.

    Examples
    --------
    >>> img = Image(np.zeros((16, 16), np.uint8), "yx")
    >>> k = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3, np.ones(3) / 3], smoothing=True)
    >>> p = plan(img, [k], ApplyOptions(kernels=("box",)))
    >>> p.halo, p.output_dtype, p.compute_dtype
    ((1, 1), 'uint8', 'float32')
    """

    shape: tuple[int, ...]
    axes: str
    dtype: str
    compute_dtype: str
    output_dtype: str
    steps: list[Step]
    backend: str
    inner_backend: str
    backend_why: str
    mode: str
    cval: float
    nan: str
    correlate: bool
    halo: tuple[int, ...]
    options: ApplyOptions = field(repr=False, default_factory=ApplyOptions)

    @property
    def ops_total(self) -> dict[str, float]:
        """MACs and FLOPs of the chosen methods over the whole chain."""
        macs = sum(s.ops[s.method]["total_macs"] * len(s.parts) for s in self.steps)
        flops = sum(s.ops[s.method]["total_flops"] * len(s.parts) for s in self.steps)
        direct = sum(s.ops["direct"]["total_flops"] * len(s.parts) for s in self.steps)
        return {"macs": macs, "flops": flops, "direct_flops": direct}


def compute_dtype_for(dtype: np.dtype, precision: str | None) -> np.dtype:
    """float32 unless asked for float64 or the input needs it (float64, 32/64-bit integers).

    Examples
    --------
    >>> compute_dtype_for(np.dtype("uint16"), None), compute_dtype_for(np.dtype("int32"), None)
    (dtype('float32'), dtype('float64'))
    """
    if precision is not None:
        return np.dtype(precision)
    if dtype.kind == "f" and dtype.itemsize > 4:
        return np.dtype(np.float64)
    if dtype.kind in "iu" and dtype.itemsize >= 4:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def output_dtype_for(
    dtype: np.dtype, compute: np.dtype, smoothing: bool, requested: str | None
) -> np.dtype:
    """The output dtype policy (see DESIGN.md): smoothing keeps the input's dtype.

    Examples
    --------
    >>> output_dtype_for(np.dtype("uint16"), np.dtype("float32"), True, None)
    dtype('uint16')
    >>> output_dtype_for(np.dtype("uint8"), np.dtype("float32"), False, None)
    dtype('float32')
    """
    if requested is not None:
        return np.dtype(requested)
    if smoothing:
        return np.dtype(np.uint8) if dtype.kind == "b" else np.dtype(dtype)
    return np.dtype(np.float64) if compute.itemsize == 8 else np.dtype(np.float32)


def _to_part(
    weights: np.ndarray,
    origin: Sequence[int],
    axes: tuple[int, ...],
    flip: bool,
    factors: Sequence[np.ndarray] | None,
    terms: Sequence[Sequence[np.ndarray]],
) -> Part:
    """Convolution kernel -> correlation form (flip every axis unless correlating)."""
    corr_origin = tuple(
        correlation_origin(size, o, flipped=flip)
        for size, o in zip(weights.shape, origin, strict=True)
    )

    def f(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a[::-1]) if flip else np.asarray(a)

    w = weights[(slice(None, None, -1),) * weights.ndim] if flip else weights
    return Part(
        np.ascontiguousarray(w, dtype=np.float64),
        corr_origin,
        axes,
        None if factors is None else [f(x) for x in factors],
        [[f(x) for x in term] for term in terms],
    )


def _decompose(kernel: Kernel, options: ApplyOptions) -> tuple[int, float, list[list[np.ndarray]]]:
    """(rank at the tolerance, error of the terms used, the terms) for one plain kernel."""
    from sepconv_cli.separability import analyse, best_terms

    if kernel.ndim == 1:
        return 1, 0.0, [[kernel.weights.copy()]]
    if kernel.factors is not None and options.rank in (None, 1):
        return 1, 0.0, [list(kernel.factors)]
    if options.rank is not None:
        terms = best_terms(kernel.weights, options.rank)
        approx = np.zeros(kernel.shape)
        for term in terms:
            product = term[0]
            for factor in term[1:]:
                product = np.multiply.outer(product, factor)
            approx += product
        norm = float(np.linalg.norm(kernel.weights)) or 1.0
        error = float(np.linalg.norm(approx - kernel.weights)) / norm
        return options.rank, error, [list(t) for t in terms]
    decomposition = analyse(kernel, tol=options.tol, max_rank=options.max_rank)
    return (
        decomposition.rank,
        float(decomposition.rel_error),
        [list(t) for t in decomposition.terms],
    )


def _available(rank: int) -> list[str]:
    methods = ["direct", "fft"]
    if rank == 1:
        methods.insert(1, "separable")
    elif rank >= 2:
        methods.insert(1, "lowrank")
    return methods


def _choose(
    kernel: Kernel,
    rank: int,
    options: ApplyOptions,
    predicted: dict[str, float],
) -> tuple[str, str]:
    label = kernel.spec or kernel.name
    forced = options.method
    if forced == "separable" and rank != 1 and options.rank is not None:
        raise UsageError(
            f"--method separable uses one separable term but --rank {options.rank} was given; "
            "drop --rank or use --method lowrank"
        )
    if forced == "separable" and rank != 1:
        raise UsageError(
            f"--method separable: kernel {label!r} is not separable (rank "
            f"{rank or '> ' + str(options.max_rank)} at --tol {options.tol:g}); "
            "use --method lowrank, direct or fft"
        )
    if forced == "lowrank" and rank == 0:
        raise UsageError(
            f"--method lowrank: kernel {label!r} needs more than {options.max_rank} separable "
            f"terms at --tol {options.tol:g}; give --rank R (approximate) or a larger --tol"
        )
    if forced == "lowrank" and rank == 1:
        return "separable", "--method lowrank: the kernel is rank 1, so one separable term"
    if forced != "auto":
        return forced, f"--method {forced}"
    best = min(predicted, key=lambda m: (predicted[m], COST_METHODS.index(m)))
    others = ", ".join(f"{m} {format_seconds(predicted[m])}" for m in predicted if m != best)
    shape = f"rank {rank}" if rank else f"not low-rank at tol {options.tol:g}"
    return best, (
        f"{shape}; cheapest predicted: {best} {format_seconds(predicted[best])} (vs {others})"
    )


def format_seconds(seconds: float) -> str:
    """Seconds in a readable unit (us, ms or s), as reports and ``why`` texts show them.

    Examples
    --------
    >>> format_seconds(2.5e-5), format_seconds(0.0123), format_seconds(2.5)
    ('25 us', '12.3 ms', '2.50 s')
    """
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _folded(factor: np.ndarray, backend: str) -> bool:
    """True when the backend's 1-D pass sums this kernel's taps in mirrored pairs.

    scipy's correlate1d (numpy backend) folds odd-sized symmetric or antisymmetric kernels
    (to 1 ulp); the numba backend folds exactly palindromic kernels of 3 taps or more.
    """
    mirrored = factor[::-1]
    if backend == "numba":
        return factor.size >= 3 and bool(np.array_equal(factor, mirrored))
    if backend != "numpy" or factor.size % 2 == 0:
        return False
    eps = np.finfo(np.float64).eps
    return bool(
        np.all(np.abs(factor - mirrored) <= eps) or np.all(np.abs(factor + mirrored) <= eps)
    )


def executed_share(part: Part, method: str, backend: str) -> float:
    """The share of the counted MACs a backend really executes for one part.

    The op counts follow the textbook definitions (``prod(K)`` per voxel for direct, ``sum(K)``
    per separable term), but scipy does less: ``scipy.ndimage.correlate`` (the direct method on
    every backend) multiplies only the non-zero weights, and the 1-D passes sum mirrored taps in
    pairs, ``(K + 1) // 2`` multiplies (scipy's correlate1d for odd symmetric or antisymmetric
    kernels, the numba backend for palindromic ones). The calibration measured dense,
    asymmetric kernels, so the time prediction scales their MACs by this share.

    Examples
    --------
    >>> gauss = np.array([1.0, 2.0, 1.0]) / 4
    >>> sep = Part(np.outer(gauss, gauss), (0, 0), (0, 1), factors=[gauss, gauss])
    >>> executed_share(sep, "separable", "numpy"), executed_share(sep, "separable", "numba")
    (0.6666666666666666, 0.6666666666666666)
    >>> deriv = np.array([-1.0, 0.0, 1.0])
    >>> d = Part(np.outer(gauss, deriv), (0, 0), (0, 1), factors=[gauss, deriv])
    >>> executed_share(d, "separable", "numpy"), executed_share(d, "separable", "numba")
    (0.6666666666666666, 0.8333333333333334)
    >>> cross = Part(np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]), (0, 0), (0, 1))
    >>> executed_share(cross, "direct", "numba")
    0.5555555555555556
    """
    if method == "direct":
        nonzero = int(np.count_nonzero(np.abs(part.weights) > np.finfo(np.float64).eps))
        return max(1, nonzero) / part.weights.size
    if method not in ("separable", "lowrank"):
        return 1.0
    terms = part.terms if method == "lowrank" else [part.factors or []]
    taps = executed = 0
    for term in terms:
        for factor in term:
            if factor.size > 1:
                taps += factor.size
                executed += (factor.size + 1) // 2 if _folded(factor, backend) else factor.size
    return executed / taps if taps else 1.0


def executed_cost(cost: dict[str, Any], part: Part, method: str, backend: str) -> dict[str, Any]:
    """``cost`` with ``total_macs`` scaled by :func:`executed_share` (for the time prediction).

    Examples
    --------
    >>> box = Part(np.ones(3) / 3, (0,), (0,), factors=[np.ones(3) / 3])
    >>> executed_cost({"total_macs": 300}, box, "separable", "numpy")
    {'total_macs': 200.0}
    """
    share = executed_share(part, method, backend)
    return cost if share == 1.0 else dict(cost, total_macs=cost["total_macs"] * share)


def plan_step(
    kernel: Kernel,
    shape: tuple[int, ...],
    axes: tuple[int, ...],
    options: ApplyOptions,
    backend: str,
    *,
    role: str = "spatial",
    itemsize: int = 4,
    cache: dict[int, tuple[int, float, list[list[np.ndarray]]]] | None = None,
) -> Step:
    """Plan one kernel over ``axes`` of an array of ``shape`` (options already normalised).

    Examples
    --------
    >>> k = Kernel(np.array([1.0, 2.0, 1.0]) / 4, smoothing=True)
    >>> plan_step(k, (10, 7), (1,), ApplyOptions(kernels=("x",)).normalized(), "numpy").rank
    1
    """
    flip = not options.correlate
    components = list(kernel.components) if kernel.combine == "magnitude" else [kernel]
    cache = {} if cache is None else cache
    for c in components:
        if id(c) not in cache:
            cache[id(c)] = _decompose(c, options)
    decompositions = [cache[id(c)] for c in components]
    ranks = [d[0] for d in decompositions]
    rank = 0 if 0 in ranks else max(ranks)
    parts = []
    for component, (r, _error, terms) in zip(components, decompositions, strict=True):
        factors = terms[0] if r == 1 else None
        parts.append(
            _to_part(component.weights, component.origin, axes, flip, factors, terms if r else [])
        )
    costs = method_costs(shape, kernel.shape, rank=rank, itemsize=itemsize, filtered_axes=axes)
    inner = "numpy" if backend == "dask" else backend
    predicted = {
        m: sum(predict_seconds(m, inner, executed_cost(costs[m], p, m, inner)) for p in parts)
        for m in _available(rank)
    }
    method, why = _choose(kernel, rank, options, predicted)
    if kernel.combine == "magnitude":
        why += f"; gradient magnitude of {len(parts)} responses"
    uses_terms = method in ("lowrank", "separable")
    error = max((d[1] for d in decompositions), default=0.0) if uses_terms else 0.0
    return Step(
        kernel, axes, role, parts, kernel.combine, rank, error, method, why, costs, predicted
    )


def _build(spec: Any, ndim: int, image: Image, axes: tuple[int, ...], options: ApplyOptions):
    if isinstance(spec, Kernel):
        kernel = spec
    else:
        from sepconv_cli.kernels import build_kernel

        kernel = build_kernel(
            spec,
            ndim=ndim,
            spacing=[image.spacing[a] for a in axes],
            units=[image.units[a] for a in axes],
            axes="".join(image.axes[a] for a in axes),
            max_size=options.max_size,
        )
    if kernel.ndim != ndim:
        label = kernel.spec or kernel.name
        what = "spatial axes" if ndim != 1 or len(axes) != 1 else "axes to filter"
        raise SpecError(
            f"kernel {label!r} has {kernel.ndim} axes but the image "
            f"({image.axes}, shape {'x'.join(map(str, image.shape))}) has {ndim} {what}"
        )
    return kernel


def _numba_installed() -> bool:
    return (
        importlib.util.find_spec("numba") is not None
        and importlib.util.find_spec("sepconv_cli.engine.numba_backend") is not None
    )


def _fixed_backend(image: Image, options: ApplyOptions) -> tuple[str, str, str] | None:
    """(backend, inner backend, why) when the options or the input size decide it."""
    from sepconv_cli.engine.backends import backend_available, load_backend

    def inner_best() -> str:
        return "numba" if _numba_installed() and backend_available("numba") else "numpy"

    if options.backend == "dask":
        if importlib.util.find_spec("dask") is None:
            from sepconv_cli.errors import BackendUnavailableError

            raise BackendUnavailableError(
                "backend 'dask' is not available (pip install 'sepconv-cli[dask]')"
            )
        if options.scheduler:
            return "dask", inner_best(), f"--scheduler {options.scheduler}"
        if options.workers:
            return "dask", inner_best(), f"--workers {options.workers}"
        return "dask", inner_best(), "--backend dask"
    if options.backend != "auto":
        load_backend(options.backend)
        return options.backend, options.backend, f"--backend {options.backend}"
    nbytes = int(np.prod(image.shape)) * np.dtype(image.dtype).itemsize
    limit = options.memory_limit or 0
    if nbytes > limit and importlib.util.find_spec("dask") is not None:
        why = f"input {format_size(nbytes)} exceeds the memory limit {format_size(limit)}"
        return "dask", inner_best(), why
    return None


def _plan_steps(
    image: Image,
    specs: Sequence[Kernel | str],
    options: ApplyOptions,
    backend: str,
    itemsize: int,
    kernels: dict[int, Kernel],
    cache: dict[int, tuple[int, float, list[list[np.ndarray]]]],
) -> list[Step]:
    spatial = image.spatial_axes
    steps = []
    for i, spec in enumerate(specs):
        if not spatial:
            raise UsageError(
                f"image axes {image.axes!r} have no spatial axis (x, y, z) to filter; "
                "use --axes to name them"
            )
        if i not in kernels:
            kernels[i] = _build(spec, len(spatial), image, spatial, options)
        steps.append(
            plan_step(
                kernels[i], image.shape, spatial, options, backend, itemsize=itemsize, cache=cache
            )
        )
    if options.spectral is not None:
        band = image.axes_with_role("band")
        if not band:
            raise UsageError(
                f"--spectral needs a band axis (b) but the image axes are {image.axes!r}; "
                "use --axes to name one (e.g. --axes yxb)"
            )
        key = len(specs)
        if key not in kernels:
            kernels[key] = _build(options.spectral, 1, image, band, options)
        steps.append(
            plan_step(
                kernels[key],
                image.shape,
                band,
                options,
                backend,
                role="spectral",
                itemsize=itemsize,
                cache=cache,
            )
        )
    return steps


def _predicted(steps: list[Step], backend: str) -> float:
    return sum(s.predicted_s[s.method] for s in steps) + startup_seconds(backend)


def plan(
    image: Image, kernels: Sequence[Kernel | str] | None = None, options: ApplyOptions | None = None
) -> Plan:
    """Plan filtering ``image`` with ``kernels`` (in order) and ``options.spectral``.

    Parameters
    ----------
    image
        The image (only its shape, dtype, axes, spacing and units are used).
    kernels
        Kernel objects (weights over the spatial axes in array order) or spec strings; None
        uses ``options.kernels``.
    options
        Run options (normalised here).

    Returns
    -------
    Plan

    Examples
    --------
    >>> img = Image(np.zeros((8, 8, 3), np.float32), "yxc")
    >>> k = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3, np.ones(3) / 3], smoothing=True)
    >>> p = plan(img, [k], ApplyOptions(kernels=("box",), method="fft"))
    >>> p.steps[0].method, p.steps[0].axes, p.halo
    ('fft', (0, 1), (1, 1, 0))
    """
    options = options or ApplyOptions()
    if kernels is not None:
        options = _with_kernels(options, kernels)
    options = options.normalized()
    if options.axes:
        image = image.with_axes(options.axes)
    if options.spacing:
        image = with_spacing(image, options.spacing)
    specs: list[Kernel | str] = list(options.kernels if kernels is None else kernels)
    in_dtype = np.dtype(image.dtype)
    compute = compute_dtype_for(in_dtype, options.precision)
    voxels = int(np.prod(image.shape))
    if voxels == 0:
        from sepconv_cli.errors import FormatError

        raise FormatError(
            f"the image ({image.axes}, shape {'x'.join(map(str, image.shape))}) has no voxels; "
            "nothing to filter"
        )
    built: dict[int, Kernel] = {}
    cache: dict[int, tuple[int, float, list[list[np.ndarray]]]] = {}
    fixed = _fixed_backend(image, options)
    if fixed is not None:
        backend, inner, backend_why = fixed
        steps = _plan_steps(image, specs, options, inner, compute.itemsize, built, cache)
    else:
        steps = _plan_steps(image, specs, options, "numpy", compute.itemsize, built, cache)
        backend = inner = "numpy"
        threshold = int(load_calibration()["numba_min_voxels"])
        if voxels < threshold:
            backend_why = f"{voxels} voxels < {threshold}, where numba starts to win per call"
        elif not _numba_installed():
            backend_why = "numba is not installed (pip install 'sepconv-cli[numba]')"
        else:
            numba_steps = _plan_steps(
                image, specs, options, "numba", compute.itemsize, built, cache
            )
            t_numpy, t_numba = _predicted(steps, "numpy"), _predicted(numba_steps, "numba")
            startup = startup_seconds("numba")
            extra = f" incl. {format_seconds(startup)} numba start-up" if startup else ""
            if t_numba < t_numpy:
                steps, backend, inner = numba_steps, "numba", "numba"
                backend_why = (
                    f"predicted {format_seconds(t_numba)}{extra} vs numpy {format_seconds(t_numpy)}"
                )
            else:
                backend_why = (
                    f"predicted {format_seconds(t_numpy)} vs numba {format_seconds(t_numba)}{extra}"
                )
    smoothing = all(step.smoothing for step in steps)
    out_dtype = output_dtype_for(in_dtype, compute, smoothing, options.dtype)
    halo = [0] * image.ndim
    for step in steps:
        for axis, (before, after) in zip(step.axes, step.reach, strict=True):
            halo[axis] += max(before, after)
    return Plan(
        shape=tuple(image.shape),
        axes=image.axes,
        dtype=str(in_dtype),
        compute_dtype=str(compute),
        output_dtype=str(out_dtype),
        steps=steps,
        backend=backend,
        inner_backend=inner,
        backend_why=backend_why,
        mode=options.mode,
        cval=options.cval,
        nan=options.nan,
        correlate=options.correlate,
        halo=tuple(halo),
        options=options,
    )


def with_spacing(image: Image, text: str) -> Image:
    """The image with the spatial axes' spacing and units replaced (``--spacing 2x2x1mm``).

    Examples
    --------
    >>> img = with_spacing(Image(np.zeros((2, 3, 4)), "zyx"), "2x1x1um")
    >>> img.spacing, img.units
    ((2.0, 1.0, 1.0), ('um', 'um', 'um'))
    """
    from sepconv_cli.spec import broadcast, parse_spacing

    values, units = parse_spacing(text)
    spatial = image.spatial_axes
    values = broadcast(values, len(spatial), "--spacing")
    units = broadcast(units, len(spatial), "--spacing")
    spacing, unit_list = list(image.spacing), list(image.units)
    for axis, value, unit in zip(spatial, values, units, strict=True):
        spacing[axis], unit_list[axis] = value, unit
    return image.replace(spacing=tuple(spacing), units=tuple(unit_list))


def _with_kernels(options: ApplyOptions, kernels: Sequence[Kernel | str]) -> ApplyOptions:
    import dataclasses

    labels = tuple(k if isinstance(k, str) else (k.spec or k.name) for k in kernels)
    return dataclasses.replace(options, kernels=labels)
