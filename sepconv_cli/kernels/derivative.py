"""Finite-difference kernels: sobel, scharr, prewitt (N-D, per axis or gradient magnitude), laplace.

Signs follow convolution: intensity increasing along the axis gives a positive response when the
kernel is convolved (scipy.ndimage.sobel correlates with ``[-1, 0, 1]``, i.e. convolves with
``[1, 0, -1]``).

Examples
--------
>>> from sepconv_cli.kernels import build_kernel
>>> build_kernel("sobel:axis=y").weights
array([[ 1.,  2.,  1.],
       [ 0.,  0.,  0.],
       [-1., -2., -1.]])
>>> build_kernel("laplace").weights
array([[ 0.,  1.,  0.],
       [ 1., -4.,  1.],
       [ 0.,  1.,  0.]])
"""

from __future__ import annotations

import numpy as np

from sepconv_cli.kernels.base import Kernel
from sepconv_cli.kernels.builder import (
    NORMALIZE_CHOICES,
    BuildContext,
    KernelBuilder,
    Param,
    finish,
    normalize_param,
    outer,
    register,
)

#: Convolution weights of the central difference (positive response to a rising ramp).
DIFFERENCE = np.array([1.0, 0.0, -1.0])

#: Cross-axis smoothing of each operator.
SMOOTHING = {
    "sobel": np.array([1.0, 2.0, 1.0]),
    "scharr": np.array([3.0, 10.0, 3.0]),
    "prewitt": np.array([1.0, 1.0, 1.0]),
}


def _one_axis(ctx: BuildContext, family: str, axis: int, normalize: str) -> Kernel:
    factors = [DIFFERENCE if i == axis else SMOOTHING[family] for i in range(ctx.ndim)]
    return finish(
        ctx,
        outer(factors),
        normalize,
        factors=factors,
        params={"axis": axis, "operator": family},
    )


def _builder(family: str):
    def build(ctx: BuildContext, values: dict[str, str]) -> Kernel:
        normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
        if "axis" in values:
            return _one_axis(ctx, family, ctx.axis_index(values["axis"]), normalize)
        components = tuple(_one_axis(ctx, family, a, normalize) for a in range(ctx.ndim))
        first = components[0]
        params = {
            "operator": family,
            "normalize": normalize,
            "notes": [
                f"gradient magnitude: sqrt of the sum of the squared responses of "
                f"{ctx.ndim} {family} kernels (one per axis), not a single convolution"
            ],
        }
        return Kernel(
            first.weights,
            name=ctx.name,
            factors=first.factors,
            params=params,
            components=components,
            combine="magnitude",
        )

    build.__doc__ = f"{family.capitalize()} derivative along ``axis``, or the gradient magnitude."
    return build


def _build_laplace(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """The 3-point discrete Laplacian (as scipy.ndimage.laplace): a sum of ndim 1-D terms."""
    second = np.array([1.0, -2.0, 1.0])
    delta = np.array([0.0, 1.0, 0.0])
    terms = [[second if i == axis else delta for i in range(ctx.ndim)] for axis in range(ctx.ndim)]
    weights = sum(outer(t) for t in terms)
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    return finish(ctx, weights, normalize, terms=terms, params={"points": 3})


_SMOOTH_HELP = {"sobel": "[1 2 1]", "scharr": "[3 10 3]", "prewitt": "[1 1 1]"}
for _family in ("sobel", "scharr", "prewitt"):
    register(
        KernelBuilder(
            _family,
            f"{_family.capitalize()} derivative ([1 0 -1] along axis, {_SMOOTH_HELP[_family]} "
            "across); no axis: gradient magnitude",
            (
                Param("axis", None, "x, y, z or an array index; omit for the gradient magnitude"),
                normalize_param("none"),
            ),
            _builder(_family),
        )
    )

register(
    KernelBuilder(
        "laplace",
        "3-point discrete Laplacian, N-D (as scipy.ndimage.laplace)",
        (normalize_param("none"),),
        _build_laplace,
        aliases=("laplacian",),
    )
)
