"""The one data model: an array with axis roles, physical spacing and the source's metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sepconv_cli.errors import UsageError

#: Axis letter -> role. ``x y z`` are space, ``c`` colour channel, ``b`` spectral band, ``t`` time.
AXIS_ROLES: dict[str, str] = {
    "x": "space",
    "y": "space",
    "z": "space",
    "c": "channel",
    "b": "band",
    "t": "time",
}

#: Length units and their size in millimetres.
LENGTH_UNITS_MM: dict[str, float] = {
    "m": 1e3,
    "cm": 10.0,
    "mm": 1.0,
    "um": 1e-3,
    "nm": 1e-6,
}

_UNIT_ALIASES = {
    "µm": "um",
    "\u03bcm": "um",
    "micron": "um",
    "microns": "um",
    "micrometer": "um",
    "micrometre": "um",
    "millimeter": "mm",
    "millimetre": "mm",
    "nanometer": "nm",
    "nanometre": "nm",
    "meter": "m",
    "metre": "m",
    "centimeter": "cm",
    "centimetre": "cm",
    "sec": "s",
    "second": "s",
    "msec": "ms",
    "usec": "us",
}


def normalize_unit(unit: str | None) -> str | None:
    """Return the canonical spelling of a unit name (``µm`` -> ``um``), or None.

    Examples
    --------
    >>> normalize_unit("µm"), normalize_unit("Millimetre"), normalize_unit("")
    ('um', 'mm', None)
    """
    if unit is None:
        return None
    text = unit.strip()
    if not text or text.lower() in {"unknown", "pixel", "pixels", "vox", "voxel", "none"}:
        return None
    return _UNIT_ALIASES.get(text, _UNIT_ALIASES.get(text.lower(), text.lower()))


def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between units of :data:`LENGTH_UNITS_MM`.

    Examples
    --------
    >>> convert_length(2.0, "mm", "um")
    2000.0
    """
    src, dst = normalize_unit(from_unit), normalize_unit(to_unit)
    if src not in LENGTH_UNITS_MM or dst not in LENGTH_UNITS_MM:
        raise UsageError(f"cannot convert {value} {from_unit} to {to_unit}: not both lengths")
    return value * LENGTH_UNITS_MM[src] / LENGTH_UNITS_MM[dst]


def validate_axes(axes: str, ndim: int) -> str:
    """Check an axis string (e.g. ``"zyx"``) against an array's number of dimensions.

    Examples
    --------
    >>> validate_axes("YXC", 3)
    'yxc'
    """
    letters = axes.strip().lower()
    if len(letters) != ndim:
        raise UsageError(f"--axes {axes!r} names {len(letters)} axes but the data has {ndim}")
    unknown = sorted(set(letters) - set(AXIS_ROLES))
    if unknown:
        raise UsageError(
            f"--axes {axes!r}: unknown axis letter(s) {', '.join(unknown)} "
            f"(use {' '.join(AXIS_ROLES)})"
        )
    if len(set(letters)) != len(letters):
        raise UsageError(f"--axes {axes!r}: an axis letter appears twice")
    return letters


@dataclass
class Image:
    """An array plus what its axes mean.

    Parameters
    ----------
    data
        The samples: a NumPy array, a memory map, or a lazy (Dask) array.
    axes
        One role letter per array axis, in array order (``"zyx"``, ``"yxc"``, ``"xyzt"``...).
    spacing
        Physical distance between samples per axis, or None where unknown.
    units
        Unit of each spacing (``"mm"``, ``"um"``, ``"nm"``, ``"s"``...), or None where unknown.
    meta
        What the reader found and a writer of the same format needs to write the file back
        faithfully (NIfTI header/affine, TIFF/OME metadata, ENVI header fields...).
    format
        Name of the format the image was read from, if any.
    path
        Where it was read from, if anywhere (``"-"`` for stdin).

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((4, 5, 3), np.uint8), "yxc")
    >>> img.spatial_axes, img.spacing
    ((0, 1), (None, None, None))
    """

    data: Any
    axes: str
    spacing: tuple[float | None, ...] = ()
    units: tuple[str | None, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        ndim = len(self.data.shape)
        self.axes = validate_axes(self.axes, ndim)
        if not self.spacing:
            self.spacing = (None,) * ndim
        if not self.units:
            self.units = (None,) * ndim
        self.spacing = tuple(None if s is None else float(s) for s in self.spacing)
        self.units = tuple(normalize_unit(u) for u in self.units)
        if len(self.spacing) != ndim or len(self.units) != ndim:
            raise UsageError(
                f"spacing {self.spacing} / units {self.units} do not match {ndim} axes"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> Any:
        """The array's dtype."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of array axes."""
        return len(self.axes)

    def role(self, axis: int) -> str:
        """Role (``space``, ``channel``, ``band``, ``time``) of array axis ``axis``."""
        return AXIS_ROLES[self.axes[axis]]

    def axes_with_role(self, role: str) -> tuple[int, ...]:
        """Array indices of the axes with ``role``, in array order."""
        return tuple(i for i, letter in enumerate(self.axes) if AXIS_ROLES[letter] == role)

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        """Array indices of the ``x``/``y``/``z`` axes, in array order."""
        return self.axes_with_role("space")

    def axis(self, letter: str) -> int | None:
        """Array index of the axis named ``letter``, or None."""
        index = self.axes.find(letter.lower())
        return None if index < 0 else index

    def replace(self, **changes: Any) -> Image:
        """A copy with some fields changed (``meta`` is copied shallowly)."""
        changes.setdefault("meta", dict(self.meta))
        return dataclasses.replace(self, **changes)

    def with_axes(self, axes: str) -> Image:
        """The same data with other axis roles (``--axes``); spacing and units stay by position."""
        return self.replace(axes=validate_axes(axes, self.ndim))
