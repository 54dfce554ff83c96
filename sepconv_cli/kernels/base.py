"""The Kernel data model shared by the kernel builders, the separability analysis and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Kernel:
    """A convolution kernel over ``weights.ndim`` axes.

    Parameters
    ----------
    weights
        float64 weights, one array axis per filtered image axis (in the image's array order).
    name
        The kernel family (``"gaussian"``, ``"sobel"``, ``"custom"``...).
    spec
        The spec text it was built from, for reports.
    origin
        Per-axis shift of the kernel centre, as scipy.ndimage's ``origin`` (0 = centred;
        even-sized kernels are centred at ``size // 2``).
    factors
        Exact 1-D factors when known (``weights == outer(*factors)``), one per axis, else None.
    smoothing
        True for non-negative kernels whose weights sum to 1: outputs keep the input's dtype.
    params
        Resolved parameters for reports (sigma in voxels per axis, radius, tail mass...).
    components
        For composite operations (gradient magnitude): the kernels whose responses are combined;
        ``weights`` is then the first component's weights and ``combine`` says how.
    combine
        ``None`` for a plain kernel, ``"magnitude"`` for sqrt(sum of squared responses).
    terms
        Exact separable terms when the kernel is known to be a short sum of them (LoG, DoG,
        Laplace): ``weights == sum(outer(*t) for t in terms)``; None otherwise.

    Examples
    --------
    >>> k = Kernel(np.outer([1, 2, 1], [-1, 0, 1]) / 4.0, name="custom")
    >>> k.shape, k.radius
    ((3, 3), (1, 1))
    """

    weights: np.ndarray
    name: str = "custom"
    spec: str = ""
    origin: tuple[int, ...] = ()
    factors: list[np.ndarray] | None = None
    smoothing: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    components: tuple[Kernel, ...] = ()
    combine: str | None = None
    terms: list[list[np.ndarray]] | None = None

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        if not self.origin:
            self.origin = (0,) * self.weights.ndim
        if self.factors is not None:
            self.factors = [np.asarray(f, dtype=np.float64).ravel() for f in self.factors]
        if self.terms is not None:
            self.terms = [
                [np.asarray(f, dtype=np.float64).ravel() for f in term] for term in self.terms
            ]

    @property
    def ndim(self) -> int:
        """Number of axes the kernel spans."""
        return self.weights.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        """Kernel size per axis."""
        return tuple(self.weights.shape)

    @property
    def parts(self) -> tuple[tuple[str, Kernel], ...]:
        """What is applied, each with a name: the kernel itself, or every component.

        Examples
        --------
        >>> from sepconv_cli.kernels import build_kernel
        >>> [name for name, _ in build_kernel("sobel").parts]
        ['component 1 of 2 (derivative along axis 0)', 'component 2 of 2 (derivative along axis 1)']
        >>> [name for name, _ in build_kernel("box:size=3").parts]
        ['box:size=3']
        """
        if not self.components:
            return ((self.spec or self.name, self),)
        count = len(self.components)
        named = []
        for index, part in enumerate(self.components):
            name = f"component {index + 1} of {count}"
            if "axis" in part.params:
                name += f" (derivative along axis {part.params['axis']})"
            named.append((name, part))
        return tuple(named)

    @property
    def radius(self) -> tuple[int, ...]:
        """Largest reach from the centre per axis (the halo a chunked run needs)."""
        return tuple(
            max(size // 2 + abs(o), size - 1 - size // 2 + abs(o))
            for size, o in zip(self.shape, self.origin, strict=True)
        )
