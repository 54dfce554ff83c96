"""Filtering an in-memory array by a plan: NaN policies, masks, gradient magnitude, dtypes.

:func:`filter_array` is exact for the plan's boundary mode, so a block padded by ``plan.halo``
on every side, filtered and cropped, equals the same region of the whole array filtered at
once (the dask backend relies on this). :func:`cast_output` applies the output dtype policy;
:func:`filter_to_output` does both, sending 8/16-bit images under a smoothing kernel straight
from the input's dtype to the output's (no float copies).

NaN policies (the same result for every method):

- ``propagate``: an output is NaN when a non-finite input lies under a non-zero weight of the
  kernel; the rest is computed with those inputs taken as 0 (so FFT stays exact elsewhere).
- ``zero``: non-finite inputs are replaced by 0.
- ``ignore``: normalised convolution: ``corr(x * v, w) * sum|w| / corr(v, |w|)`` with ``v``
  the finite indicator; for a smoothing kernel this is the weighted mean over the finite
  neighbours. Non-finite voxels keep their value.

A mask restricts the normalised convolution to the voxels inside it (``v`` = mask); voxels
outside keep their input value.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from sepconv_cli.engine.backends import load_backend
from sepconv_cli.engine.methods import Part, run_method, run_separable
from sepconv_cli.engine.planner import Plan, Step
from sepconv_cli.errors import UsageError


def prepare_mask(mask: np.ndarray | None, plan: Plan) -> np.ndarray | None:
    """A boolean mask of the image's shape (a mask of the spatial shape is broadcast).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> p = make_plan(Image(np.zeros((4, 5, 3)), "yxc"), [Kernel(np.ones((1, 1)))])
    >>> prepare_mask(np.ones((4, 5)), p).shape
    (4, 5, 3)
    """
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise UsageError("--mask has NaN/Inf values; use 0 (outside) and non-zero (inside)")
    array = array != 0
    if array.shape == plan.shape:
        return array
    spatial = tuple(i for i, a in enumerate(plan.axes) if a in "xyz")
    spatial_shape = tuple(plan.shape[i] for i in spatial)
    if array.shape == spatial_shape:
        shape = [plan.shape[i] if i in spatial else 1 for i in range(len(plan.shape))]
        return np.broadcast_to(array.reshape(shape), plan.shape)
    raise UsageError(
        f"--mask shape {'x'.join(map(str, array.shape))} does not match the image shape "
        f"{'x'.join(map(str, plan.shape))} (or its spatial shape "
        f"{'x'.join(map(str, spatial_shape))})"
    )


def all_finite(data: np.ndarray) -> bool:
    """True when ``data`` has no NaN/Inf, without a boolean array of its size in the common case.

    A sum is finite exactly when every value is finite, unless finite values overflow it (only
    for values near the type's limit); then the element-wise check decides. The sum runs in
    the data's own float type (float32 data is not widened: a quarter of the time of a
    float64 sum).

    Examples
    --------
    >>> all_finite(np.array([1.0, 2.0])), all_finite(np.array([1.0, np.nan]))
    (True, False)
    >>> all_finite(np.array([3e38, 3e38], np.float32)), all_finite(np.arange(3))
    (True, True)
    """
    if data.dtype.kind not in "fc":
        return True
    accumulate = None if data.dtype.itemsize >= 4 else np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(data, axis=None, dtype=accumulate)):
            return True
    return bool(np.isfinite(data).all())


def _combine(responses: list[np.ndarray], combine: str | None) -> np.ndarray:
    if combine is None:
        return responses[0]
    total = responses[0] * responses[0]
    for r in responses[1:]:
        total += r * r
    return np.sqrt(total, out=total)


def _touched(bad: np.ndarray, step: Step, backend: ModuleType, mode: str) -> np.ndarray:
    """Where a True of ``bad`` lies under a non-zero weight of any part of the step."""
    indicator = bad.astype(np.float32)
    hits = np.zeros(bad.shape, dtype=bool)
    for part in step.parts:
        footprint = part.weights != 0
        if footprint.all():
            ones = [np.ones(n) for n in footprint.shape]
            count = run_separable(indicator, ones, part.axes, part.origin, backend, mode, 0.0)
        else:
            fp = Part(footprint.astype(np.float64), part.origin, part.axes)
            count = run_method(indicator, fp, _footprint_method(fp), backend, mode, 0.0)
        hits |= count > 0.5
    return hits


def _footprint_method(part: Part) -> str:
    """Direct for small kernels, FFT beyond 7x7x7 taps (counts only need to be > 0.5)."""
    return "direct" if part.weights.size <= 343 else "fft"


def _denominator_method(part: Part, method: str) -> str:
    if method == "lowrank" and not part.terms:
        return _footprint_method(part)
    if method == "separable" and part.factors is None:
        return "direct"
    return method


def _normalised(
    x0: np.ndarray,
    valid: np.ndarray,
    step: Step,
    backend: ModuleType,
    mode: str,
    cval: float,
    outside_valid: float,
) -> np.ndarray:
    """``corr(x0 * v, w) * sum|w| / corr(v, |w|)`` per part, combined; NaN where no support."""
    dtype = x0.dtype
    weight = valid.astype(dtype)
    numerator_input = x0 * weight
    eps = 16 * np.finfo(dtype).eps
    responses = []
    for part in step.parts:
        num = run_method(numerator_input, part, step.method, backend, mode, cval * outside_valid)
        absolute = part.absolute()
        den = run_method(
            weight,
            absolute,
            _denominator_method(absolute, step.method),
            backend,
            mode,
            outside_valid,
        )
        total = float(np.abs(part.weights).sum())
        ok = den > eps * total
        out = np.full_like(num, np.nan)
        np.divide(num * dtype.type(total), den, out=out, where=ok)
        responses.append(out)
    return _combine(responses, step.combine)


def filter_step(
    x: np.ndarray,
    step: Step,
    backend: ModuleType,
    mode: str,
    cval: float,
    nan: str,
    mask: np.ndarray | None = None,
    *,
    finite: bool | None = None,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Apply one planned step to ``x`` (compute dtype) with the NaN policy and mask.

    ``finite`` says whether ``x`` is known to be free of NaN/Inf (None: check it here), so a
    caller that has already scanned the input does not pay for a second scan. The result is
    a new array, or ``output`` (``x``'s shape and dtype, not overlapping it) where the step
    can write there directly: one kernel, finite input, no mask, direct or separable.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> x = np.array([1.0, np.nan, 3.0, 4.0])
    >>> k = Kernel(np.ones(3) / 3, smoothing=True)
    >>> p = make_plan(Image(x, "x"), [k])
    >>> filter_step(x, p.steps[0], load_backend("numpy"), "nearest", 0.0, "ignore").round(3)
    array([1.   ,   nan, 3.5  , 3.667])
    """
    if finite is None:
        finite = all_finite(x)
    bad = None if finite else ~np.isfinite(x)
    if bad is None and mask is None:
        if len(step.parts) == 1 and step.combine is None:
            return run_method(x, step.parts[0], step.method, backend, mode, cval, output)
        responses = [run_method(x, p, step.method, backend, mode, cval) for p in step.parts]
        return _combine(responses, step.combine)
    x0 = x if bad is None else np.where(bad, x.dtype.type(0), x)
    if mask is None and nan != "ignore":
        responses = [run_method(x0, p, step.method, backend, mode, cval) for p in step.parts]
        out = _combine(responses, step.combine)
        if nan == "propagate":
            out[_touched(bad, step, backend, mode)] = np.nan
        return out
    valid = np.ones(x.shape, dtype=bool) if mask is None else np.array(mask, dtype=bool)
    if bad is not None and nan == "ignore":
        valid &= ~bad
    out = _normalised(x0, valid, step, backend, mode, cval, 0.0 if mask is not None else 1.0)
    if bad is not None and nan == "propagate":
        inside = bad if mask is None else bad & mask
        out[_touched(inside, step, backend, mode)] = np.nan
    if bad is not None and nan == "ignore":
        out[bad] = x[bad]
    if mask is not None:
        out[~mask] = x[~mask]
    return out


def prepare(plan: Plan, notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Import and warm up what the plan needs, so none of it lands in the timed filtering.

    Loads the backend (for numba: its compiled kernels, compiling them on a first run, which
    ``notify`` is told about first) and scipy.fft when a step uses FFT. Returns numba's
    compile status (empty for other backends).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> prepare(make_plan(Image(np.zeros(4), "x"), [Kernel(np.ones(3))]))
    {}
    """
    backend = load_backend(plan.inner_backend)
    if any(step.method == "fft" for step in plan.steps):
        import scipy.fft  # noqa: F401
    if plan.inner_backend != "numba":
        return {}
    if notify is not None and not backend.cache_ready():
        notify("compiling numba kernels (first run on this machine; cached afterwards)")
    status = backend.warm_up(plan.compute_dtype)
    return {key: status[key] for key in ("cache_dir", "loaded", "compiled")}


def filter_array(
    data: np.ndarray,
    plan: Plan,
    mask: np.ndarray | None = None,
    *,
    finite: bool | None = None,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Filter an in-memory array (or block) by ``plan``; the result is in the compute dtype.

    Parameters
    ----------
    data
        The image's samples (any real dtype; never modified).
    plan
        From :func:`sepconv_cli.engine.plan`; its steps' axes index ``data``'s axes.
    mask
        Optional mask of ``data``'s shape or its spatial shape (non-zero = inside).
    finite
        Whether ``data`` is known to have no NaN/Inf (None: the first step checks it).
    output
        Optional array (``data``'s shape, the compute dtype, not overlapping ``data``) the
        last step writes into where it can; check ``result is output``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> data = np.array([[0, 0, 9, 0, 0]], np.uint8)
    >>> p = make_plan(Image(data, "yx"), [Kernel(np.array([[1.0, 1.0, 1.0]]) / 3)])
    >>> filter_array(data, p)
    array([[0., 3., 3., 3., 0.]], dtype=float32)
    """
    backend = load_backend(plan.inner_backend)
    compute = np.dtype(plan.compute_dtype)
    x = np.asarray(data)
    if x.dtype.kind == "f" and x.dtype.itemsize > compute.itemsize:
        finite = None  # narrowing may overflow finite values to Inf
    x = x.astype(compute, copy=x.dtype != compute)
    full_mask = None if mask is None else prepare_mask(mask, _with_shape(plan, x.shape))
    for i, step in enumerate(plan.steps):
        last = i == len(plan.steps) - 1
        x = filter_step(
            x,
            step,
            backend,
            plan.mode,
            plan.cval,
            plan.nan,
            full_mask,
            finite=finite,
            output=output if last else None,
        )
        finite = None  # a step's output is checked again by the next step
    return x


def _with_shape(plan: Plan, shape: tuple[int, ...]) -> Plan:
    if tuple(shape) == plan.shape:
        return plan
    import dataclasses

    return dataclasses.replace(plan, shape=tuple(shape))


def cast_output(
    block: np.ndarray, plan: Plan, *, overwrite: bool = False
) -> tuple[np.ndarray, int]:
    """Convert a filtered block to the plan's output dtype; return it and the clipped count.

    Integer outputs are rounded half to even and clipped to the dtype's range (non-finite
    values become 0); both count as clipped. Float outputs count values beyond the dtype's
    range. ``overwrite=True`` lets the rounding reuse ``block``'s memory (the caller owns it);
    element-wise masks are only built when some value is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> p = make_plan(Image(np.zeros(3, np.uint8), "x"), [Kernel(np.ones(1), smoothing=True)])
    >>> cast_output(np.array([-3.2, 7.5, 300.0], np.float32), p)
    (array([  0,   8, 255], dtype=uint8), 2)
    """
    dtype = np.dtype(plan.output_dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        rounded = np.rint(block, out=block if overwrite else None)
        if rounded.size == 0:
            return rounded.astype(dtype), 0
        with np.errstate(invalid="ignore"):
            inside = rounded.min() >= info.min and rounded.max() <= info.max  # False for NaN
        if inside:
            return rounded.astype(dtype), 0
        nonfinite = ~np.isfinite(rounded)
        outside = (rounded < info.min) | (rounded > info.max) | nonfinite
        clipped = int(np.count_nonzero(outside))
        rounded[nonfinite] = 0
        np.clip(rounded, info.min, info.max, out=rounded)
        return rounded.astype(dtype), clipped
    if dtype.itemsize < block.dtype.itemsize:
        limit = np.finfo(dtype).max
        with np.errstate(invalid="ignore"):
            clipped = int(np.count_nonzero(np.abs(block) > limit))
        return block.astype(dtype), clipped
    return block.astype(dtype, copy=block.dtype != dtype), 0


#: A smoothing kernel's factors may sum to 1 within this (relative) and still never clip.
SUM_ONE_TOLERANCE = 1e-6


def direct_integer_step(plan: Plan, mask: np.ndarray | None = None) -> Step | None:
    """The step an integer image is filtered by straight into its own dtype, or None.

    That is one separable smoothing step (non-negative factors whose product sums to 1) on
    8- or 16-bit integers computed in float32, with no mask and no constant other than 0
    outside: the backend then reads the integers directly and writes them rounded half to
    even — exactly what filtering in float32 and :func:`cast_output` give, without the float
    copies. Its outputs lie within the input's range (a convex combination of its values, up
    to float32 rounding far below 0.5), so nothing is ever clipped.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> box = np.ones(3) / 3
    >>> k = Kernel(np.outer(box, box), factors=[box, box], smoothing=True)
    >>> direct_integer_step(make_plan(Image(np.zeros((8, 8), np.uint8), "yx"), [k])).method
    'separable'
    >>> direct_integer_step(make_plan(Image(np.zeros((8, 8), np.float32), "yx"), [k])) is None
    True
    """
    dtype, out = np.dtype(plan.dtype), np.dtype(plan.output_dtype)
    if out != dtype or out.kind not in "iu" or out.itemsize > 2 or mask is not None:
        return None
    if plan.compute_dtype != "float32" or len(plan.steps) != 1:
        return None
    if plan.mode == "constant" and plan.cval != 0.0:
        return None
    step = plan.steps[0]
    if step.method != "separable" or step.combine is not None or len(step.parts) != 1:
        return None
    factors = step.parts[0].factors
    if factors is None or any(np.any(f < 0) for f in factors):
        return None
    total = float(np.prod([f.sum() for f in factors]))
    return step if abs(total - 1.0) <= SUM_ONE_TOLERANCE else None


def filter_to_output(
    data: np.ndarray,
    plan: Plan,
    mask: np.ndarray | None = None,
    *,
    finite: bool | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Filter ``data`` by ``plan`` into the plan's output dtype; return it and the clipped count.

    Equal to ``cast_output(filter_array(data, plan, mask), plan)``. When
    :func:`direct_integer_step` allows it, integer images go straight from the input to an
    output array of their own dtype (no float copy of the input, no float result, no
    rounding pass); otherwise the float result is rounded in place. ``out`` (``data``'s
    shape, the plan's output dtype, not overlapping ``data``) receives the result instead of
    a new array: reusing it across calls saves touching fresh memory, which costs as much as
    a fast filter on large arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> k = Kernel(np.ones((1, 3)) / 3, factors=[np.ones(1), np.ones(3) / 3], smoothing=True)
    >>> data = np.array([[0, 0, 9, 0, 0]], np.uint8)
    >>> filter_to_output(data, make_plan(Image(data, "yx"), [k]))
    (array([[0, 3, 3, 3, 0]], dtype=uint8), 0)
    """
    x = np.asarray(data)
    if out is not None:
        check_out(out, x, plan)
    step = direct_integer_step(plan, mask)
    if step is not None:
        part = step.parts[0]
        target = np.empty(x.shape, plan.output_dtype) if out is None else out
        backend = load_backend(plan.inner_backend)
        run_separable(
            x, part.factors, part.axes, part.origin, backend, plan.mode, plan.cval, target
        )
        return target, 0
    direct = out is not None and out.dtype == np.dtype(plan.compute_dtype)
    filtered = filter_array(x, plan, mask, finite=finite, output=out if direct else None)
    owned = not np.may_share_memory(filtered, x)  # never round the caller's input in place
    result, clipped = cast_output(filtered, plan, overwrite=owned)
    if out is None or result is out:
        return result, clipped
    np.copyto(out, result)
    return out, clipped


def check_out(out: Any, data: np.ndarray, plan: Plan) -> None:
    """Raise a UsageError unless ``out`` can receive ``data`` filtered by ``plan``.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan as make_plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> data = np.zeros((2, 3), np.float32)
    >>> p = make_plan(Image(data, "yx"), [Kernel(np.ones((1, 1)))])
    >>> try:
    ...     check_out(np.zeros((3, 2), np.float32), data, p)
    ... except UsageError as exc:
    ...     print(exc)
    out: expected a writeable float32 array of shape 2x3, got float32 3x2
    """
    dtype = np.dtype(plan.output_dtype)
    if (
        not isinstance(out, np.ndarray)
        or out.shape != data.shape
        or out.dtype != dtype
        or not out.flags.writeable
    ):
        got = (
            f"{out.dtype} {'x'.join(map(str, out.shape))}"
            + ("" if out.flags.writeable else " (read-only)")
            if isinstance(out, np.ndarray)
            else type(out).__name__
        )
        raise UsageError(
            f"out: expected a writeable {dtype} array of shape "
            f"{'x'.join(map(str, data.shape))}, got {got}"
        )
    if np.may_share_memory(out, data):
        raise UsageError("out: must not overlap the input (filtering is not in place)")
