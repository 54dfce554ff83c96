"""Kernel builder dataclasses, the kernel registry and the per-build context they share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepconv_cli.errors import SpecError
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.registry import Registry, did_you_mean
from sepconv_cli.spec import (
    broadcast,
    parse_float,
    parse_int_per_axis,
    parse_per_axis,
    to_voxels,
)

#: Default largest kernel size per axis (``--max-size``).
DEFAULT_MAX_SIZE = 1025
#: Largest number of weights a dense kernel may have (64 Mi float64 = 512 MiB).
MAX_ELEMENTS = 1 << 26

NORMALIZE_CHOICES = ("sum", "l1", "none")
_DEFAULT_AXES = {1: "x", 2: "yx", 3: "zyx"}


@dataclass(frozen=True)
class Param:
    """One key a kernel accepts: its default (``None`` = unset) and a one-line help.

    Examples
    --------
    >>> Param("size", "3", "width in voxels").default
    '3'
    """

    key: str
    default: str | None
    help: str


@dataclass(frozen=True)
class KernelBuilder:
    """A registered kernel family.

    Parameters
    ----------
    name
        The name used in specs.
    summary
        One line for ``sepconv kernel --list`` and help texts.
    params
        The keys it accepts, with defaults and help.
    build
        ``build(ctx, values) -> Kernel`` with ``values`` = raw texts of the given keys merged over
        the defaults.
    default_ndim
        Number of axes when neither the image nor a per-axis list says (1 for savgol).
    fixed_ndim
        Set for kernels that only exist in one dimensionality (savgol: 1).
    aliases
        Other names accepted in specs.

    Examples
    --------
    >>> box = KERNELS.get("box")
    >>> box.keys, box.values({"size": "5"})
    (['size', 'normalize'], {'size': '5', 'normalize': 'sum'})
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[[BuildContext, dict[str, str]], Kernel]
    default_ndim: int = 2
    fixed_ndim: int | None = None
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        """The accepted keys, in documentation order."""
        return [p.key for p in self.params]

    def values(self, given: dict[str, str]) -> dict[str, str]:
        """Check ``given`` keys (did-you-mean on typos) and merge them over the defaults."""
        for key in given:
            if key not in self.keys:
                raise SpecError(
                    f"{self.name}: unknown key {key!r}{did_you_mean(key, self.keys)} "
                    f"(keys: {', '.join(self.keys)})"
                )
        merged = {p.key: p.default for p in self.params if p.default is not None}
        merged.update(given)
        return merged


#: Every kernel family, by name.
KERNELS: Registry[KernelBuilder] = Registry("kernel")


def register(builder: KernelBuilder) -> KernelBuilder:
    """Add a builder to :data:`KERNELS` (under its name and aliases) and return it.

    Examples
    --------
    >>> KERNELS.get("gauss") is KERNELS.get("gaussian")
    True
    """
    return KERNELS.register(builder.name, builder, aliases=builder.aliases)


def normalize_param(default: str | None, when: str = "") -> Param:
    """The ``normalize`` key shared by every kernel (``default`` None: chosen by the kernel).

    Examples
    --------
    >>> normalize_param("sum").default
    'sum'
    """
    extra = f" (default: {when})" if when else ""
    return Param(
        "normalize", default, f"scale the weights: sum (to 1), l1 (abs sum 1) or none{extra}"
    )


@dataclass
class BuildContext:
    """What a builder needs to know about the axes the kernel will span.

    Examples
    --------
    >>> ctx = BuildContext(ndim=2, spacing=[0.5, 0.5], units=["mm", "mm"])
    >>> ctx.lengths("sigma", "1mm")
    [2.0, 2.0]
    >>> ctx.axis_index("x")
    1
    """

    ndim: int
    spacing: Sequence[float | None] | None = None
    units: Sequence[str | None] | None = None
    axes: str | None = None
    max_size: int = DEFAULT_MAX_SIZE
    name: str = "kernel"
    notes: list[str] = field(default_factory=list)

    def lengths(self, key: str, text: str) -> list[float]:
        """Per-axis lengths in voxels (units resolved against the spacing)."""
        quantities = broadcast(parse_per_axis(text, key), self.ndim, f"{self.name}: {key}")
        return to_voxels(
            quantities, f"{self.name}: {key}", self.spacing, self.units, names=self.axes
        )

    def ints(self, key: str, text: str) -> list[int]:
        """Per-axis whole numbers (no units)."""
        return broadcast(parse_int_per_axis(text, key), self.ndim, f"{self.name}: {key}")

    def number(self, key: str, text: str) -> float:
        """One unitless number."""
        return parse_float(text, f"{self.name}: {key}")

    def choice(self, key: str, text: str, choices: Sequence[str]) -> str:
        """One of ``choices`` (did-you-mean on typos)."""
        value = text.strip().lower()
        if value not in choices:
            raise SpecError(
                f"{self.name}: {key}={text!r} is not one of {', '.join(choices)}"
                f"{did_you_mean(value, list(choices))}"
            )
        return value

    def axis_index(self, text: str) -> int:
        """Array index for ``axis=`` given as a letter (x, y, z...) or an index."""
        value = text.strip().lower()
        letters = (self.axes or _DEFAULT_AXES.get(self.ndim, "")).lower()
        if value.lstrip("-").isdigit():
            index = int(value)
            if not -self.ndim <= index < self.ndim:
                raise SpecError(f"{self.name}: axis={text!r} is out of range for {self.ndim} axes")
            return index % self.ndim
        if len(value) == 1 and value in letters:
            return letters.index(value)
        named = f" ({', '.join(letters)} or 0..{self.ndim - 1})" if letters else ""
        raise SpecError(
            f"{self.name}: axis={text!r} is not one of the kernel's {self.ndim} axes{named}"
        )

    def note_even_sizes(self, shape: Sequence[int]) -> None:
        """State the origin of every even-sized axis in the kernel's notes."""
        for axis, size in enumerate(shape):
            if size % 2 == 0:
                self.notes.append(
                    f"even size {size} on axis {axis}: the origin is index {size // 2} "
                    "(one sample after the middle), as scipy.ndimage.convolve"
                )

    def check_size(self, shape: Sequence[int]) -> None:
        """Refuse kernels larger than ``max_size`` per axis or :data:`MAX_ELEMENTS` in all."""
        for axis, size in enumerate(shape):
            if size > self.max_size:
                raise SpecError(
                    f"{self.name}: kernel size {size} on axis {axis} exceeds the limit "
                    f"{self.max_size} (--max-size); use a smaller sigma/size"
                )
        total = math.prod(shape)
        if total > MAX_ELEMENTS:
            raise SpecError(
                f"{self.name}: kernel {'x'.join(map(str, shape))} has {total} weights, more "
                f"than the {MAX_ELEMENTS} sepconv holds in memory; a separable kernel can be "
                "applied one axis at a time (repeat -k with sigma 0 on the other axes, e.g. "
                "gaussian:sigma=100x0x0 then 0x100x0 then 0x0x100)"
            )


def outer(factors: Sequence[np.ndarray]) -> np.ndarray:
    """The N-D outer product of 1-D factors.

    Examples
    --------
    >>> outer([np.array([1., 2.]), np.array([1., 0., -1.])]).shape
    (2, 3)
    """
    product = np.asarray(factors[0], dtype=np.float64)
    for factor in factors[1:]:
        product = np.multiply.outer(product, np.asarray(factor, dtype=np.float64))
    return product


def pad_to(weights: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Zero-pad a centred odd-sized kernel to a larger odd ``shape``, keeping it centred.

    Examples
    --------
    >>> pad_to(np.array([1.0, 2.0, 1.0]), [5])
    array([0., 1., 2., 1., 0.])
    """
    pads = [((s - w) // 2, (s - w) // 2) for s, w in zip(shape, weights.shape, strict=True)]
    return np.pad(weights, pads)


def is_smoothing(weights: np.ndarray) -> bool:
    """True for non-negative weights that sum to 1 (to rounding).

    Examples
    --------
    >>> is_smoothing(np.array([0.25, 0.5, 0.25])), is_smoothing(np.array([1.0, 0.0, -1.0]))
    (True, False)
    """
    return bool(np.all(weights >= 0) and abs(float(weights.sum()) - 1.0) <= 1e-9)


def finish(
    ctx: BuildContext,
    weights: np.ndarray,
    normalize: str,
    *,
    factors: Sequence[np.ndarray] | None = None,
    terms: Sequence[Sequence[np.ndarray]] | None = None,
    params: dict[str, Any] | None = None,
    origin: Sequence[int] = (),
    spec: str = "",
) -> Kernel:
    """Normalise the weights (and any known factors/terms) and wrap them in a :class:`Kernel`.

    ``sum`` divides by the sum (an error for a zero-sum kernel), ``l1`` by the sum of absolute
    values, ``none`` leaves the weights alone. Known factors are scaled so that the weights stay
    exactly their outer product.

    Examples
    --------
    >>> ctx = BuildContext(ndim=2, name="box")
    >>> k = finish(ctx, np.ones((3, 3)), "sum", factors=[np.ones(3), np.ones(3)])
    >>> k.smoothing, k.factors[0]
    (True, array([0.33333333, 0.33333333, 0.33333333]))
    """
    weights = np.asarray(weights, dtype=np.float64)
    if not weights.any():
        raise SpecError(
            f"{ctx.name}: every weight is zero (is sigma or the size too small for this kernel?)"
        )
    scale = 1.0
    if normalize == "sum":
        total = float(weights.sum())
        magnitude = float(np.abs(weights).sum())
        if magnitude == 0 or abs(total) <= 1e-12 * magnitude:
            raise SpecError(
                f"{ctx.name}: normalize=sum is impossible: the weights sum to zero "
                f"(a derivative or band-pass kernel); use normalize=l1 or normalize=none"
            )
        scale = total
    elif normalize == "l1":
        magnitude = float(np.abs(weights).sum())
        if magnitude == 0:
            raise SpecError(f"{ctx.name}: every weight is zero")
        scale = magnitude
    if factors is not None:
        factors = [np.asarray(f, dtype=np.float64) for f in factors]
        if scale != 1.0:
            per_axis = [f.sum() if normalize == "sum" else np.abs(f).sum() for f in factors]
            if all(abs(s) > 0 for s in per_axis):
                factors = [f / s for f, s in zip(factors, per_axis, strict=True)]
            else:
                factors = [factors[0] / scale, *factors[1:]]
        weights = outer(factors)
    else:
        weights = weights / scale
    if terms is not None:
        terms = [[np.asarray(terms_f, dtype=np.float64) for terms_f in term] for term in terms]
        if scale != 1.0:
            terms = [[term[0] / scale, *term[1:]] for term in terms]
    info = dict(params or {})
    info.setdefault("normalize", normalize)
    for note in ctx.notes:
        info.setdefault("notes", []).append(note)
    return Kernel(
        weights,
        name=ctx.name,
        spec=spec,
        origin=tuple(origin),
        factors=factors,
        smoothing=is_smoothing(weights),
        params=info,
        terms=None if terms is None else [list(t) for t in terms],
    )
