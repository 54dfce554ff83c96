"""Gaussian kernels and their relatives: gaussian (orders 0-2), log (Laplacian of Gaussian), dog."""

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
    pad_to,
    register,
)

#: sigma = FWHM / FWHM_PER_SIGMA
FWHM_PER_SIGMA = math.sqrt(8.0 * math.log(2.0))


def gaussian_kernel1d(sigma: float, order: int = 0, radius: int | None = None, truncate=4.0):
    """Sampled 1-D Gaussian (or derivative) convolution weights, as scipy.ndimage computes them.

    The weights are those of ``scipy.ndimage._filters._gaussian_kernel1d``, so that
    ``convolve1d(x, gaussian_kernel1d(s, o))`` equals ``gaussian_filter1d(x, s, order=o)``.
    ``radius`` defaults to ``int(truncate * sigma + 0.5)``; sigma 0 gives the identity ``[1.]``.

    Examples
    --------
    >>> gaussian_kernel1d(1.0, radius=1).round(4)
    array([0.2741, 0.4519, 0.2741])
    """
    if not sigma >= 0 or not math.isfinite(sigma):
        raise SpecError(f"gaussian: sigma must be a finite number >= 0, got {sigma}")
    if order not in (0, 1, 2):
        raise SpecError(f"gaussian: order must be 0, 1 or 2, got {order}")
    if sigma <= 1e-15:
        if order:
            raise SpecError("gaussian: a derivative (order > 0) needs sigma > 0 on that axis")
        return np.ones(1)
    if radius is None:
        radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    sigma2 = sigma * sigma
    phi = np.exp(-0.5 / sigma2 * x**2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    exponents = np.arange(order + 1)
    q = np.zeros(order + 1)
    q[0] = 1
    derivative = np.diag(exponents[1:], 1) + np.diag(np.ones(order) / -sigma2, -1)
    for _ in range(order):
        q = derivative.dot(q)
    return (x[:, None] ** exponents).dot(q) * phi


def tail_mass(sigma: float, radius: int) -> float:
    """Mass of the continuous Gaussian beyond ``±radius`` (what truncation drops).

    Examples
    --------
    >>> round(tail_mass(1.0, 4), 7)
    6.33e-05
    """
    if sigma <= 1e-15:
        return 0.0
    return math.erfc(radius / (sigma * math.sqrt(2.0)))


def _sigmas(ctx: BuildContext, values: dict[str, str]) -> list[float]:
    if "sigma" in values and "fwhm" in values:
        raise SpecError(f"{ctx.name}: give sigma or fwhm, not both")
    if "fwhm" in values:
        sigmas = [f / FWHM_PER_SIGMA for f in ctx.lengths("fwhm", values["fwhm"])]
    elif "sigma" in values:
        sigmas = ctx.lengths("sigma", values["sigma"])
    else:
        raise SpecError(f"{ctx.name}: needs sigma or fwhm (e.g. {ctx.name}:sigma=2)")
    for sigma in sigmas:
        if not sigma >= 0:
            raise SpecError(f"{ctx.name}: sigma must be >= 0, got {sigma:g}")
    return sigmas


def _radii(ctx: BuildContext, values: dict[str, str], sigmas: list[float]) -> list[int]:
    truncate = ctx.number("truncate", values["truncate"])
    if not truncate > 0:
        raise SpecError(f"{ctx.name}: truncate must be > 0, got {truncate:g}")
    if "radius" in values:
        radii = ctx.ints("radius", values["radius"])
        if any(r < 0 for r in radii):
            raise SpecError(f"{ctx.name}: radius must be >= 0, got {values['radius']}")
    else:
        radii = [int(truncate * s + 0.5) for s in sigmas]
    radii = [0 if s <= 1e-15 else r for s, r in zip(sigmas, radii, strict=True)]
    ctx.check_size([2 * r + 1 for r in radii])
    return radii


def _report(sigmas: list[float], radii: list[int], truncate: str) -> dict:
    masses = [tail_mass(s, r) for s, r in zip(sigmas, radii, strict=True)]
    kept = math.prod(1.0 - m for m in masses)
    return {
        "sigma_vox": sigmas,
        "fwhm_vox": [s * FWHM_PER_SIGMA for s in sigmas],
        "radius": radii,
        "truncate": float(truncate),
        "tail_mass": 1.0 - kept,
        "tail_mass_per_axis": masses,
    }


def _build_gaussian(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Gaussian (orders 0, 1, 2 per axis) as an outer product of scipy's 1-D kernels."""
    sigmas = _sigmas(ctx, values)
    orders = ctx.ints("order", values["order"])
    if "axis" in values:
        if len(set(orders)) != 1:
            raise SpecError(f"{ctx.name}: axis= takes one order, not a per-axis list")
        along = ctx.axis_index(values["axis"])
        orders = [orders[0] if i == along else 0 for i in range(ctx.ndim)]
    radii = _radii(ctx, values, sigmas)
    factors = [gaussian_kernel1d(s, o, r) for s, o, r in zip(sigmas, orders, radii, strict=True)]
    default = "sum" if not any(orders) else "none"
    normalize = ctx.choice("normalize", values.get("normalize", default), NORMALIZE_CHOICES)
    params = _report(sigmas, radii, values["truncate"])
    params["order"] = orders
    return finish(ctx, outer(factors), normalize, factors=factors, params=params)


def _build_log(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Laplacian of Gaussian: sum over axes of the second derivative along that axis."""
    sigmas = _sigmas(ctx, values)
    if any(s <= 1e-15 for s in sigmas):
        raise SpecError(f"{ctx.name}: sigma must be > 0 on every axis")
    radii = _radii(ctx, values, sigmas)
    terms = []
    for axis in range(ctx.ndim):
        terms.append(
            [
                gaussian_kernel1d(s, 2 if i == axis else 0, r)
                for i, (s, r) in enumerate(zip(sigmas, radii, strict=True))
            ]
        )
    weights = sum(outer(t) for t in terms)
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    return finish(
        ctx, weights, normalize, terms=terms, params=_report(sigmas, radii, values["truncate"])
    )


def _build_dog(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Difference of Gaussians G(sigma1) - G(sigma2), each with its own scipy radius."""
    for key in ("sigma1", "sigma2"):
        if key not in values:
            raise SpecError(f"{ctx.name}: needs sigma1 and sigma2 (e.g. dog:sigma1=1,sigma2=1.6)")
    truncate = ctx.number("truncate", values["truncate"])
    if not truncate > 0:
        raise SpecError(f"{ctx.name}: truncate must be > 0, got {truncate:g}")
    parts = []
    for key in ("sigma1", "sigma2"):
        sigmas = ctx.lengths(key, values[key])
        if any(not s >= 0 for s in sigmas):
            raise SpecError(f"{ctx.name}: {key} must be >= 0, got {values[key]}")
        radii = [0 if s <= 1e-15 else int(truncate * s + 0.5) for s in sigmas]
        ctx.check_size([2 * r + 1 for r in radii])
        parts.append((sigmas, radii))
    if parts[0][0] == parts[1][0]:
        raise SpecError(f"{ctx.name}: sigma1 and sigma2 are equal, so the kernel is zero")
    shape = [2 * max(r1, r2) + 1 for r1, r2 in zip(parts[0][1], parts[1][1], strict=True)]
    terms = []
    for sign, (sigmas, radii) in zip((1.0, -1.0), parts, strict=True):
        factors = [
            pad_to(gaussian_kernel1d(s, 0, r), [n])
            for s, r, n in zip(sigmas, radii, shape, strict=True)
        ]
        factors[0] = sign * factors[0]
        terms.append(factors)
    weights = outer(terms[0]) + outer(terms[1])
    normalize = ctx.choice("normalize", values["normalize"], NORMALIZE_CHOICES)
    params = {
        "sigma1_vox": parts[0][0],
        "sigma2_vox": parts[1][0],
        "radius": [(n - 1) // 2 for n in shape],
        "truncate": truncate,
    }
    return finish(ctx, weights, normalize, terms=terms, params=params)


_SIZE = (
    Param("sigma", None, "standard deviation per axis (2, 2mm, 2x2x1mm); or fwhm"),
    Param("fwhm", None, "full width at half maximum instead of sigma (sigma = fwhm/2.3548)"),
)
_TRUNC = (
    Param("truncate", "4", "radius = int(truncate*sigma + 0.5) voxels, as scipy"),
    Param("radius", None, "radius in voxels per axis (overrides truncate)"),
)

register(
    KernelBuilder(
        "gaussian",
        "Gaussian smoothing or derivative (identical to scipy.ndimage.gaussian_filter)",
        (
            *_SIZE,
            Param("order", "0", "derivative order 0, 1 or 2 per axis (0x0x1)"),
            Param("axis", None, "with a single order: differentiate along this axis only"),
            *_TRUNC,
            normalize_param(None, "sum for order 0, none for derivatives"),
        ),
        _build_gaussian,
        aliases=("gauss",),
    )
)
register(
    KernelBuilder(
        "log",
        "Laplacian of Gaussian (as scipy.ndimage.gaussian_laplace)",
        (*_SIZE, *_TRUNC, normalize_param("none")),
        _build_log,
        aliases=("laplacian_of_gaussian",),
    )
)
register(
    KernelBuilder(
        "dog",
        "difference of Gaussians G(sigma1) - G(sigma2)",
        (
            Param("sigma1", None, "sigma of the positive Gaussian (per axis, units allowed)"),
            Param("sigma2", None, "sigma of the subtracted Gaussian"),
            Param("truncate", "4", "each Gaussian's radius = int(truncate*sigma + 0.5)"),
            normalize_param("none"),
        ),
        _build_dog,
    )
)
