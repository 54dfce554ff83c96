"""Kernel builders (one module per family) behind one registry and one spec language.

Examples
--------
>>> k = build_kernel("gaussian:sigma=1")
>>> k.shape, k.smoothing, len(k.factors)
((9, 9), True, 2)
>>> build_kernel("sobel:axis=x").weights[0]
array([ 1.,  0., -1.])
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from sepconv_cli.errors import SpecError
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.kernels.builder import (
    DEFAULT_MAX_SIZE,
    KERNELS,
    BuildContext,
    KernelBuilder,
    Param,
)
from sepconv_cli.spec import KernelSpec, parse, parse_per_axis

#: Builder modules, imported in the order ``sepconv kernel --list`` shows them.
FAMILIES = ("gaussian", "derivative", "smoothing", "savgol", "custom")
for _family in FAMILIES:
    importlib.import_module(f"sepconv_cli.kernels.{_family}")

__all__ = [
    "DEFAULT_MAX_SIZE",
    "KERNELS",
    "Kernel",
    "KernelBuilder",
    "Param",
    "build_kernel",
    "infer_ndim",
]


def _infer_ndim(builder: KernelBuilder, params: dict[str, str]) -> int:
    lengths = []
    for key, text in params.items():
        if key in ("file", "weights", "normalize", "axis"):
            continue
        try:
            lengths.append(len(parse_per_axis(text, key)))
        except SpecError:
            continue
    longest = max(lengths, default=1)
    return longest if longest > 1 else builder.default_ndim


def infer_ndim(spec: str | KernelSpec) -> int | None:
    """Number of axes a spec builds without an image: per-axis lists, else the kernel's default.

    None for custom kernels (their file or inline weights decide).

    Examples
    --------
    >>> infer_ndim("gaussian:sigma=2x2x1"), infer_ndim("box"), infer_ndim("savgol")
    (3, 2, 1)
    """
    parsed = parse(spec) if isinstance(spec, str) else spec
    builder = KERNELS.get(parsed.name)
    if builder.name == "custom":
        return None
    return _infer_ndim(builder, parsed.params)


def build_kernel(
    spec: str | KernelSpec,
    *,
    ndim: int | None = None,
    spacing: Sequence[float | None] | None = None,
    units: Sequence[str | None] | None = None,
    axes: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> Kernel:
    """Build a kernel from a spec for ``ndim`` axes with the given spacing and units.

    Parameters
    ----------
    spec
        Spec text (``"gaussian:fwhm=6mm"``, ``"@k.csv"``, ``"[[1,2,1]]"``) or a parsed
        :class:`~sepconv_cli.spec.KernelSpec`.
    ndim
        Number of axes the kernel spans (the image's spatial axes, or 1 for a spectral
        kernel). Default: from ``spacing``/``axes``, a per-axis list in the spec, the file
        (custom), else the kernel's default (2; savgol 1).
    spacing, units
        Per-axis spacing and its unit (array order) to resolve ``mm``/``um``/``nm`` values.
    axes
        Axis letters in array order (``"zyx"``, ``"xyz"`` for NIfTI) for ``axis=x``;
        default ``"x"``, ``"yx"``, ``"zyx"`` for 1, 2, 3 axes.
    max_size
        Largest kernel size per axis.

    Returns
    -------
    Kernel
        Weights for convolution (the engine flips them), with exact factors or terms when known.

    Examples
    --------
    >>> k = build_kernel("gaussian:fwhm=6mm", ndim=3, spacing=(2, 2, 3), units=("mm",) * 3)
    >>> [round(s, 3) for s in k.params["sigma_vox"]]
    [1.274, 1.274, 0.849]
    """
    parsed = parse(spec) if isinstance(spec, str) else spec
    builder = KERNELS.get(parsed.name)
    values = builder.values(parsed.params)
    if ndim is None:
        if spacing is not None:
            ndim = len(spacing)
        elif units is not None:
            ndim = len(units)
        elif axes is not None:
            ndim = len(axes)
        elif builder.name != "custom":
            ndim = _infer_ndim(builder, parsed.params)
    if ndim is not None and ndim < 1:
        raise SpecError(f"{builder.name}: the kernel needs at least 1 axis, got ndim={ndim}")
    if builder.fixed_ndim is not None and ndim != builder.fixed_ndim:
        raise SpecError(
            f"{builder.name} is a {builder.fixed_ndim}-D kernel (for spectral or time axes) "
            f"but {ndim} axes were asked for"
        )
    for name, seq in (("spacing", spacing), ("units", units), ("axes", axes)):
        if seq is not None and ndim is not None and len(seq) != ndim:
            raise SpecError(f"{builder.name}: {name} has {len(seq)} entries for {ndim} axes")
    if axes is not None:
        axes = axes.lower()
    if max_size < 1:
        raise SpecError(f"--max-size must be >= 1, got {max_size}")
    ctx = BuildContext(
        ndim=ndim or 0,
        spacing=spacing,
        units=units,
        axes=axes,
        max_size=max_size,
        name=builder.name,
    )
    kernel = builder.build(ctx, values)
    kernel.spec = parsed.text or ":".join(
        [parsed.name, ",".join(f"{k}={v}" for k, v in parsed.params.items())]
    ).rstrip(":")
    for component in kernel.components:
        component.spec = kernel.spec
    return kernel
