"""The one mini-language for kernels: ``NAME[:key=value[,key=value...]]``, ``@file``, ``[[...]]``.

Values may carry a unit suffix (``vox`` is the default; ``mm``, ``um``/``µm``, ``nm``, ``cm``,
``m``) and per-axis lists joined by ``x`` (``2x2x1mm``: the trailing unit applies to every entry
that has none). Physical units are resolved to voxels against an image's spacing by
:func:`to_voxels`.

Grammar::

    spec     := NAME [":" params] | "@" PATH [":" params] | "[" nested numbers "]" [":" params]
    params   := key "=" value ("," key "=" value)*
    value    := item ("x" item)* [unit]
    item     := number [unit]
    unit     := vox | px | mm | um | µm | nm | cm | m
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sepconv_cli.errors import SpecError, UsageError
from sepconv_cli.image import LENGTH_UNITS_MM, convert_length, normalize_unit

#: Unit suffixes meaning "voxels".
VOXEL_UNITS = ("voxels", "voxel", "vox", "pixels", "pixel", "px")

_UNIT_WORDS = sorted(
    {*VOXEL_UNITS, *LENGTH_UNITS_MM, "µm", "\u03bcm", "micron", "microns"},
    key=len,
    reverse=True,
)
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan)"
_ITEM = re.compile(rf"\s*({_NUMBER})\s*({'|'.join(map(re.escape, _UNIT_WORDS))})?\s*", re.I)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class KernelSpec:
    """A parsed kernel spec: the kernel name and its raw ``key -> value`` texts.

    Custom kernels have the name ``"custom"`` and the key ``file`` (``@path``) or ``weights``
    (inline ``[[...]]`` text).

    Examples
    --------
    >>> parse("gaussian:sigma=2x2x1mm,order=0x0x1")
    KernelSpec(name='gaussian', params={'sigma': '2x2x1mm', 'order': '0x0x1'}, text='gaussian:sigma=2x2x1mm,order=0x0x1')
    """  # noqa: E501

    name: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Quantity:
    """A number with a unit (``None`` means voxels).

    Examples
    --------
    >>> parse_quantity("2mm", "sigma")
    Quantity(value=2.0, unit='mm')
    """

    value: float
    unit: str | None = None

    def __str__(self) -> str:
        number = f"{self.value:g}"
        return number if self.unit is None else f"{number}{self.unit}"


def _split_params(text: str, where: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if not text.strip():
        raise SpecError(f"{where}: empty parameter list after ':'")
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise SpecError(f"{where}: expected key=value, got {item.strip()!r}")
        if not _KEY.match(key):
            raise SpecError(f"{where}: bad parameter name {key!r}")
        if not value:
            raise SpecError(f"{where}: parameter {key!r} has no value")
        if key in params:
            raise SpecError(f"{where}: parameter {key!r} given twice")
        params[key] = value
    return params


def _looks_like_params(text: str) -> bool:
    return all(
        _KEY.match(item.partition("=")[0].strip()) and "=" in item for item in text.split(",")
    )


def parse(text: str) -> KernelSpec:
    """Parse a kernel spec into its name and raw parameter texts.

    Parameters
    ----------
    text
        ``NAME[:key=value,...]``, ``@PATH[:key=value,...]`` or an inline nested list
        ``[[1,2,1],[2,4,2],[1,2,1]][:key=value,...]``.

    Returns
    -------
    KernelSpec
        Names are lower-cased; values are kept as text (see :func:`parse_quantity` and friends).

    Examples
    --------
    >>> parse("sobel:axis=x").params
    {'axis': 'x'}
    >>> parse("@kernel.csv:normalize=none").params
    {'file': 'kernel.csv', 'normalize': 'none'}
    >>> parse("[[1,2,1]]").params
    {'weights': '[[1,2,1]]'}
    """
    if not isinstance(text, str):
        raise SpecError(f"kernel spec must be text, got {type(text).__name__}")
    spec = text.strip()
    if not spec:
        raise SpecError("empty kernel spec")
    if spec.startswith("@"):
        body = spec[1:]
        path, params = body, {}
        head, sep, tail = body.rpartition(":")
        if sep and head and _looks_like_params(tail):
            path, params = head, _split_params(tail, f"kernel file {head!r}")
        if not path.strip():
            raise SpecError("kernel spec '@' needs a file name (e.g. @kernel.csv)")
        return KernelSpec("custom", {"file": path.strip(), **params}, spec)
    if spec.startswith("["):
        end = spec.rfind("]")
        inline, rest = spec[: end + 1], spec[end + 1 :].strip()
        params: dict[str, str] = {}
        if rest:
            if not rest.startswith(":"):
                raise SpecError(f"inline kernel: unexpected text {rest!r} after the weights")
            params = _split_params(rest[1:], "inline kernel")
        return KernelSpec("custom", {"weights": inline, **params}, spec)
    name, sep, rest = spec.partition(":")
    name = name.strip().lower()
    if not _NAME.match(name):
        raise SpecError(
            f"bad kernel name {name!r} in spec {spec!r} (expected NAME[:key=value,...], "
            "@FILE or [[...]])"
        )
    params = _split_params(rest, name) if sep else {}
    return KernelSpec(name, params, spec)


def _parse_items(text: str, key: str) -> list[Quantity]:
    raw = text.strip()
    items: list[tuple[float, str | None]] = []
    pos = 0
    while True:
        match = _ITEM.match(raw, pos)
        if not match or match.end() == pos:
            raise SpecError(
                f"{key}={text!r}: expected a number with an optional unit "
                "(e.g. 2, 2mm, 0.5um, 3vox) or a per-axis list like 2x2x1mm"
            )
        value = float(match.group(1))
        if not math.isfinite(value):
            raise SpecError(f"{key}={text!r}: value must be finite")
        unit = match.group(2)
        items.append((value, None if unit is None else unit.lower()))
        pos = match.end()
        if pos == len(raw):
            break
        if raw[pos] not in "xX":
            raise SpecError(f"{key}={text!r}: unexpected {raw[pos:]!r} (per-axis lists use 'x')")
        pos += 1
    units = [u for _, u in items]
    if all(u is None for u in units[:-1]):
        units = [units[-1]] * len(units)
    return [
        Quantity(v, _canonical_unit(u, key, text)) for (v, _), u in zip(items, units, strict=True)
    ]


def _canonical_unit(unit: str | None, key: str, text: str) -> str | None:
    if unit is None or unit in VOXEL_UNITS:
        return None
    canonical = normalize_unit(unit)
    if canonical not in LENGTH_UNITS_MM:
        raise SpecError(f"{key}={text!r}: unknown unit {unit!r}")
    return canonical


def parse_quantity(text: str, key: str) -> Quantity:
    """Parse one number with an optional unit suffix.

    Examples
    --------
    >>> parse_quantity("0.5µm", "sigma"), parse_quantity("3vox", "radius")
    (Quantity(value=0.5, unit='um'), Quantity(value=3.0, unit=None))
    """
    items = _parse_items(text, key)
    if len(items) != 1:
        raise SpecError(f"{key}={text!r}: expected one value, got {len(items)}")
    return items[0]


def parse_per_axis(text: str, key: str) -> list[Quantity]:
    """Parse a per-axis list ``AxBxC[unit]`` (one value means "the same on every axis").

    Examples
    --------
    >>> [str(q) for q in parse_per_axis("2x2x1mm", "sigma")]
    ['2mm', '2mm', '1mm']
    >>> [str(q) for q in parse_per_axis("0x0x1", "order")]
    ['0', '0', '1']
    """
    return _parse_items(text, key)


def parse_float(text: str, key: str) -> float:
    """Parse a plain (unitless) finite number.

    Examples
    --------
    >>> parse_float("4", "truncate")
    4.0
    """
    quantity = parse_quantity(text, key)
    if quantity.unit is not None:
        raise SpecError(f"{key}={text!r} takes no unit")
    return quantity.value


def parse_int(text: str, key: str) -> int:
    """Parse a plain integer.

    Examples
    --------
    >>> parse_int("5", "size")
    5
    """
    value = parse_float(text, key)
    if value != int(value):
        raise SpecError(f"{key}={text!r}: expected a whole number")
    return int(value)


def parse_int_per_axis(text: str, key: str) -> list[int]:
    """Parse a per-axis list of plain integers (``0x0x1``).

    Examples
    --------
    >>> parse_int_per_axis("0x0x1", "order")
    [0, 0, 1]
    """
    values = []
    for quantity in parse_per_axis(text, key):
        if quantity.unit is not None or quantity.value != int(quantity.value):
            raise SpecError(f"{key}={text!r}: expected whole numbers without units")
        values.append(int(quantity.value))
    return values


def broadcast(values: Sequence[object], ndim: int, key: str) -> list:
    """Repeat a single value ``ndim`` times, or check that a per-axis list has ``ndim`` entries.

    Examples
    --------
    >>> broadcast([2.0], 3, "sigma")
    [2.0, 2.0, 2.0]
    """
    if len(values) == 1:
        return list(values) * ndim
    if len(values) != ndim:
        raise SpecError(
            f"{key} has {len(values)} values but the kernel has {ndim} "
            f"{'axis' if ndim == 1 else 'axes'}"
        )
    return list(values)


def to_voxels(
    quantities: Sequence[Quantity],
    key: str,
    spacing: Sequence[float | None] | None = None,
    units: Sequence[str | None] | None = None,
    names: str | None = None,
) -> list[float]:
    """Resolve per-axis quantities to voxels using each axis' spacing and unit.

    ``names`` (axis letters in array order, e.g. ``"zyx"``) only improves error messages.

    Voxel values pass through. A physical value needs the axis' spacing and its unit; units of
    different size (sigma in mm, spacing in µm) are converted.

    Examples
    --------
    >>> to_voxels(parse_per_axis("2x2x1mm", "sigma"), "sigma", (2.0, 0.5, 1.0), ("mm",) * 3)
    [1.0, 4.0, 1.0]
    >>> to_voxels([Quantity(3.0)], "radius")
    [3.0]
    """
    ndim = len(quantities)
    spacing = list(spacing) if spacing is not None else [None] * ndim
    units = list(units) if units is not None else [None] * ndim
    if len(spacing) != ndim or len(units) != ndim:
        raise SpecError(f"{key}: {ndim} values but spacing/units are given for {len(spacing)} axes")
    out = []
    for index, (quantity, step, unit) in enumerate(zip(quantities, spacing, units, strict=True)):
        axis = names[index] if names is not None and len(names) == ndim else index
        if quantity.unit is None:
            out.append(quantity.value)
            continue
        if step is None or not math.isfinite(step) or step <= 0:
            raise SpecError(
                f"{key}={quantity}: a physical unit needs the voxel spacing, which is unknown "
                f"on axis {axis} (give the value in voxels, or the spacing, e.g. --spacing 1x1mm)"
            )
        axis_unit = normalize_unit(unit)
        if axis_unit is None:
            raise SpecError(
                f"{key}={quantity}: the spacing on axis {axis} ({step:g}) has no unit, so "
                f"{quantity.unit} cannot be converted to voxels (give the spacing with a unit)"
            )
        try:
            length = convert_length(quantity.value, quantity.unit, axis_unit)
        except UsageError as exc:
            raise SpecError(
                f"{key}={quantity}: axis {axis} is measured in {axis_unit}, not a length"
            ) from exc
        out.append(length / step)
    return out


def parse_spacing(text: str) -> tuple[list[float], list[str | None]]:
    """Parse a ``--spacing`` value such as ``2x2x1mm`` or ``0.5um`` into spacing and units.

    Examples
    --------
    >>> parse_spacing("2x2x1mm")
    ([2.0, 2.0, 1.0], ['mm', 'mm', 'mm'])
    """
    quantities = parse_per_axis(text, "--spacing")
    for quantity in quantities:
        if not quantity.value > 0:
            raise SpecError(f"--spacing {text!r}: spacing must be > 0")
    return [q.value for q in quantities], [q.unit for q in quantities]
