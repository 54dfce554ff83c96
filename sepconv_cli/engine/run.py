"""Running a plan on an in-memory image, with timing and an optional float64 verification."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sepconv_cli.engine.filtering import (
    all_finite,
    cast_output,
    check_out,
    filter_array,
    filter_to_output,
    prepare,
    prepare_mask,
)
from sepconv_cli.engine.options import ApplyOptions
from sepconv_cli.engine.planner import Plan, plan
from sepconv_cli.engine.report import Report
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel

#: ``--verify`` compares on a central crop of at most this many voxels.
VERIFY_MAX_VOXELS = 2**18


def load_mask(mask: Any) -> np.ndarray | None:
    """A mask given as an array, an Image or a file path -> ndarray (None stays None).

    Examples
    --------
    >>> load_mask([[0, 1]]).dtype
    dtype('int64')
    """
    if mask is None:
        return None
    if isinstance(mask, Image):
        return np.asarray(mask.data)
    if isinstance(mask, (str, bytes)) or hasattr(mask, "__fspath__"):
        from sepconv_cli.io import read

        return np.asarray(read(mask).data)
    return np.asarray(mask)


def count_nonfinite(data: np.ndarray) -> int:
    """Number of NaN/Inf values (0 for integer data).

    Examples
    --------
    >>> count_nonfinite(np.array([1.0, np.nan, np.inf]))
    2
    """
    if all_finite(data):
        return 0
    return int(data.size - np.count_nonzero(np.isfinite(data)))


def add_count_warnings(report: Report, p: Plan) -> None:
    """Warn about the clipped output values and non-finite inputs a run counted (any backend).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(clipped=3, nonfinite=0, warnings=[])
    >>> add_count_warnings(r, SimpleNamespace(output_dtype="uint8", nan="propagate"))
    >>> r.warnings
    ['3 value(s) rounded/clipped into the uint8 range']
    """
    if report.clipped:
        report.warnings.append(
            f"{report.clipped} value(s) rounded/clipped into the {p.output_dtype} range"
        )
    if report.nonfinite:
        report.warnings.append(f"{report.nonfinite} non-finite input value(s) (--nan {p.nan})")


def _crop_window(shape: tuple[int, ...], limit: int) -> list[tuple[int, int]]:
    sizes = list(shape)
    while int(np.prod(sizes)) > limit:
        axis = int(np.argmax(sizes))
        sizes[axis] = max(1, sizes[axis] // 2)
    return [((n - s) // 2, (n - s) // 2 + s) for n, s in zip(shape, sizes, strict=True)]


def reference_plan(p: Plan) -> Plan:
    """The same plan run as a float64 direct correlation on the numpy backend.

    Examples
    --------
    >>> from sepconv_cli.kernels.base import Kernel
    >>> p = plan(Image(np.zeros((9, 9), np.float32), "yx"), [Kernel(np.ones((3, 3)) / 9)])
    >>> r = reference_plan(p)
    >>> r.compute_dtype, r.inner_backend, r.steps[0].method
    ('float64', 'numpy', 'direct')
    """
    steps = [dataclasses.replace(s, method="direct") for s in p.steps]
    return dataclasses.replace(
        p, steps=steps, compute_dtype="float64", backend="numpy", inner_backend="numpy"
    )


def verify_result(
    data: np.ndarray,
    result: np.ndarray,
    p: Plan,
    mask: np.ndarray | None = None,
    *,
    max_voxels: int = VERIFY_MAX_VOXELS,
) -> dict[str, Any]:
    """Compare ``result`` (compute dtype) with a float64 direct reference, on a crop if large.

    The reference filters the crop plus ``p.halo`` of real context on each side (less where
    the image ends, where the boundary mode applies), so it is exact on the crop.

    Examples
    --------
    >>> from sepconv_cli.kernels.base import Kernel
    >>> x = np.random.default_rng(0).random((20, 20)).astype(np.float32)
    >>> k = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3] * 2, smoothing=True)
    >>> p = plan(Image(x, "yx"), [k])
    >>> verify_result(x, filter_array(x, p), p)["max_abs_error"] < 1e-6
    True
    """
    window = _crop_window(tuple(data.shape), max_voxels)
    context = [
        (max(0, a - h), min(n, b + h))
        for (a, b), h, n in zip(window, p.halo, data.shape, strict=True)
    ]
    region = tuple(slice(a, b) for a, b in context)
    inner = tuple(slice(a - ca, b - ca) for (a, b), (ca, _) in zip(window, context, strict=True))
    full_mask = None if mask is None else prepare_mask(mask, p)
    ref_plan = reference_plan(p)
    ref = filter_array(
        np.asarray(data[region]), ref_plan, None if full_mask is None else full_mask[region]
    )[inner]
    got = np.asarray(result[tuple(slice(a, b) for a, b in window)], dtype=np.float64)
    both = np.isfinite(ref) & np.isfinite(got)
    diff = np.abs(got[both] - ref[both])
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref[both]).max()) if diff.size else 0.0
    return {
        "reference": "float64 direct",
        "crop": [[a, b] for a, b in window],
        "voxels": int(got.size),
        "max_abs_error": max_abs,
        "rel_error": max_abs / scale if scale else 0.0,
        "nonfinite_mismatch": int(np.count_nonzero(np.isfinite(ref) != np.isfinite(got))),
    }


def apply(
    image: Image,
    kernels: Sequence[Kernel | str] | None = None,
    options: ApplyOptions | None = None,
    *,
    out: np.ndarray | None = None,
) -> tuple[Image, Report]:
    """Filter an image with kernels (in order) by the cheapest correct method.

    Parameters
    ----------
    image
        The image; only its spatial axes (and the band axis for ``options.spectral``) are
        filtered.
    kernels
        Kernel objects or specs; None uses ``options.kernels``.
    options
        Method, backend, mode, NaN policy, mask, dtype... (:class:`ApplyOptions`).
    out
        Optional array of the image's shape and the output dtype (``report.plan.output_dtype``),
        not overlapping the input, that receives the result: reusing one across calls (a
        batch, a stream of frames) saves touching fresh memory, which on large arrays costs
        as much as the filtering itself.

    Returns
    -------
    (Image, Report)
        The filtered image (same axes, spacing and metadata) and the run report. For a dry
        run the image is the input, unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.kernels.base import Kernel
    >>> img = Image(np.arange(9, dtype=np.uint8).reshape(3, 3), "yx")
    >>> k = Kernel(np.ones((1, 3)) / 3, factors=[np.ones(1), np.ones(3) / 3], smoothing=True)
    >>> out, report = apply(img, [k], ApplyOptions(mode="nearest", method="separable"))
    >>> out.data[0], out.dtype, report.to_dict()["method"]
    (array([0, 1, 2], dtype=uint8), dtype('uint8'), 'separable')
    """
    start = time.perf_counter()
    p = plan(image, kernels, options or ApplyOptions())
    image, report = execute(image, p, out=out)
    report.total_s = time.perf_counter() - start
    return image, report


def execute(
    image: Image,
    p: Plan,
    *,
    notify: Callable[[str], None] | None = None,
    out: np.ndarray | None = None,
) -> tuple[Image, Report]:
    """Run an existing plan on an in-memory image (what :func:`apply` does after planning).

    ``notify(text)`` hears about slow one-off work before it starts (a first numba compile);
    ``out`` receives the result as in :func:`apply`.

    Examples
    --------
    >>> from sepconv_cli.kernels.base import Kernel
    >>> img = Image(np.ones((4, 4), np.float32), "yx")
    >>> out, report = execute(img, plan(img, [Kernel(np.ones((3, 3)) / 9)]))
    >>> float(out.data.sum()), report.plan.steps[0].method
    (16.0, 'separable')
    """
    start = time.perf_counter()
    if p.axes != image.axes:
        image = image.with_axes(p.axes)
    report = Report(p)
    for step in p.steps:
        if step.rank_error > p.options.tol:
            report.warnings.append(
                f"{step.kernel.spec or step.kernel.name}: {step.method} with {step.rank} "
                f"separable term(s) approximates the kernel (relative error "
                f"{step.rank_error:.2g} > --tol {p.options.tol:g})"
            )
    if p.backend == "dask" and not p.options.dry_run:
        report.warnings.append(
            f"the dask backend streams files (sepconv_cli.pipeline.apply_file); this in-memory "
            f"call ran on {p.inner_backend}"
        )
    mask = load_mask(p.options.mask)
    if mask is not None:
        mask = prepare_mask(mask, p)  # a dry run checks the mask's shape too
    if p.options.dry_run:
        report.total_s = time.perf_counter() - start
        return image, report
    data = np.asarray(image.data)
    if out is not None:
        check_out(out, data, p)
    report.nonfinite = count_nonfinite(data)  # the one NaN/Inf scan of the input
    finite = report.nonfinite == 0
    numba_status = prepare(p, notify)
    if numba_status:
        report.extra["numba"] = numba_status
    t0 = time.perf_counter()
    if p.options.verify:  # the float result is compared before it is rounded
        filtered = filter_array(data, p, mask, finite=finite)
        report.time_s = time.perf_counter() - t0
        report.verify = verify_result(data, filtered, p, mask)
        result, report.clipped = cast_output(filtered, p, overwrite=True)
        if out is not None:
            np.copyto(out, result)
            result = out
    else:
        result, report.clipped = filter_to_output(data, p, mask, finite=finite, out=out)
        report.time_s = time.perf_counter() - t0
    add_count_warnings(report, p)
    report.total_s = time.perf_counter() - start
    return image.replace(data=result), report
