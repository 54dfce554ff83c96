"""Averaging kernels: box (uniform), binomial, disk/ball."""

from __future__ import annotations

import math

import numpy as np

from sepconv_cli.errors import SpecError
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


def _sizes(ctx: BuildContext, key: str, text: str) -> list[int]:
    sizes = ctx.ints(key, text)
    if any(s < 1 for s in sizes):
        raise SpecError(f"{ctx.name}: {key} must be >= 1 on every axis, got {text}")
    ctx.check_size(sizes)
    ctx.note_even_sizes(sizes)
    return sizes


def _build_box(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Uniform (moving-average) kernel: scipy.ndimage.uniform_filter for odd sizes; an even
    window sits one sample later than uniform_filter's (``origin=-1`` there)."""
    sizes = _sizes(ctx, "size", values["size"])
    factors = [np.full(s, 1.0) for s in sizes]
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    return finish(ctx, outer(factors), normalize, factors=factors, params={"size": sizes})


def binomial1d(taps: int) -> np.ndarray:
    """Binomial coefficients C(taps-1, k) (unnormalised).

    Examples
    --------
    >>> binomial1d(5)
    array([1., 4., 6., 4., 1.])
    """
    return np.array([math.comb(taps - 1, k) for k in range(taps)], dtype=np.float64)


def _build_binomial(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Binomial smoothing (the discrete Gaussian approximation [1 4 6 4 1]/16 ...)."""
    taps = _sizes(ctx, "n", values["n"])
    if any(t > 1030 for t in taps):
        raise SpecError(f"{ctx.name}: n is limited to 1030 taps (float64 overflows beyond)")
    factors = [binomial1d(t) for t in taps]
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    params = {"n": taps, "sigma_vox": [math.sqrt(t - 1) / 2 for t in taps]}
    return finish(ctx, outer(factors), normalize, factors=factors, params=params)


def _build_disk(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Flat disk (2-D) / ball (3-D) / ellipsoid with physical radii: 1 inside, 0 outside."""
    radii = ctx.lengths("radius", values["radius"])
    if any(not r > 0 for r in radii):
        raise SpecError(f"{ctx.name}: radius must be > 0 on every axis, got {values['radius']}")
    half = [int(math.floor(r + 1e-9)) for r in radii]
    ctx.check_size([2 * h + 1 for h in half])
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    distance = sum((g / r) ** 2 for g, r in zip(grids, radii, strict=True))
    weights = (distance <= 1.0 + 1e-9).astype(np.float64)
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    params = {"radius_vox": radii, "radius": half, "count": int(weights.sum())}
    return finish(ctx, weights, normalize, params=params)


register(
    KernelBuilder(
        "box",
        "uniform moving average (as scipy.ndimage.uniform_filter for odd sizes; even "
        "sizes allowed, one sample later: uniform_filter's origin=-1)",
        (Param("size", "3", "width in voxels per axis (5, 5x5x3)"), normalize_param("sum")),
        _build_box,
        aliases=("uniform", "mean"),
    )
)
register(
    KernelBuilder(
        "binomial",
        "binomial smoothing, n taps per axis (n=5: [1 4 6 4 1]/16)",
        (Param("n", "5", "number of taps per axis"), normalize_param("sum")),
        _build_binomial,
    )
)
register(
    KernelBuilder(
        "disk",
        "flat disk / ball / ellipsoid (not separable: see sepconv check)",
        (
            Param("radius", "2", "radius per axis (voxels or units: 3, 1.5mm, 3x3x1.5)"),
            normalize_param("sum"),
        ),
        _build_disk,
        aliases=("ball", "sphere"),
    )
)
