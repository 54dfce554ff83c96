"""Scaling a network's width, depth and input resolution: EfficientNet's compound rule and
MobileNet's multipliers.

- width w multiplies every layer's output channels (``out``, and a bottleneck's ``width``),
  rounded as EfficientNet's reference code does (:func:`round_filters`: to the nearest multiple
  of ``divisor``, never below it nor below 90 % of w·C); fc layers keep theirs (the classes);
- depth d multiplies the repeats of block templates (a stage of ``mbconv``, ``bottleneck`` ...),
  rounded up (:func:`round_repeats`); single layers are not repeated more;
- resolution r replaces the input's spatial size.

Compound scaling (Tan & Le 2019, eq. 3): d = alpha^phi, w = beta^phi, r = 224 · gamma^phi with
alpha = 1.2, beta = 1.1, gamma = 1.15, chosen so that alpha · beta² · gamma² ~ 2: every step of
phi about doubles the FLOPs. The published B1-B7 do not follow it exactly: their (w, d, r) are
hand-picked (:data:`EFFICIENTNET`, from the reference implementation's ``efficientnet_params``).

Examples
--------
>>> round_filters(32, 1.1), round_filters(40, 1.4), round_repeats(3, 1.2)
(32, 56, 4)
>>> round(ALPHA * BETA**2 * GAMMA**2, 3)
1.92
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sepconv_cli.costs.layertypes import LAYER_TYPES
from sepconv_cli.costs.models import LayerSpec, ModelSpec
from sepconv_cli.errors import UsageError

#: EfficientNet's compound-scaling constants: depth, width, resolution (Tan & Le 2019, sec. 3.3).
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15

#: The published EfficientNets: name -> (width, depth, resolution) (dropout omitted).
EFFICIENTNET: dict[str, tuple[float, float, int]] = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380),
    "b5": (1.6, 2.2, 456),
    "b6": (1.8, 2.6, 528),
    "b7": (2.0, 3.1, 600),
}

#: Output-channel keys that width scaling multiplies.
WIDTH_KEYS = ("out", "width")


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's ``round_filters``: w·C to the nearest multiple of ``divisor``.

    Never below ``divisor``; one more step when rounding lost over 10 %. With ``divisor`` 1
    this is int(w·C + 0.5) (MobileNet v1's multiplier).

    Examples
    --------
    >>> round_filters(320, 1.8), round_filters(1280, 2.0), round_filters(24, 0.35)
    (576, 2560, 8)
    """
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """EfficientNet's ``round_repeats``: ceil(d · repeats).

    Examples
    --------
    >>> [round_repeats(n, 3.1) for n in (1, 2, 3, 4)]
    [4, 7, 10, 13]
    """
    return int(math.ceil(depth * repeats))


@dataclass(frozen=True)
class Scaling:
    """Width and depth multipliers and a resolution (None: keep the spec's input size).

    Examples
    --------
    >>> compound(2)
    Scaling(width=1.21, depth=1.44, resolution=296, divisor=8, phi=2.0)
    """

    width: float = 1.0
    depth: float = 1.0
    resolution: int | tuple[int, ...] | None = None
    divisor: int = 8
    phi: float | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        res = self.resolution
        return {
            "width": self.width,
            "depth": self.depth,
            "resolution": list(res) if isinstance(res, tuple) else res,
            "divisor": self.divisor,
            "phi": self.phi,
        }


def compound(phi: float, base_resolution: int = 224, divisor: int = 8) -> Scaling:
    """The compound-scaled multipliers of EfficientNet for coefficient ``phi``.

    Examples
    --------
    >>> compound(1).resolution
    258
    """
    if not phi >= 0:
        raise UsageError(f"--phi must be >= 0, got {phi}")
    return Scaling(
        round(BETA**phi, 6),
        round(ALPHA**phi, 6),
        int(round(base_resolution * GAMMA**phi)),
        divisor,
        float(phi),
    )


def preset(name: str) -> Scaling:
    """The published EfficientNet ``b0`` ... ``b7`` (applied to the B0 spec).

    Examples
    --------
    >>> preset("B4")
    Scaling(width=1.4, depth=1.8, resolution=380, divisor=8, phi=None)
    """
    key = name.lower()
    if key not in EFFICIENTNET:
        raise UsageError(f"--preset must be one of {', '.join(EFFICIENTNET)}, got {name!r}")
    width, depth, resolution = EFFICIENTNET[key]
    return Scaling(width, depth, resolution)


def _scale_layer(layer: LayerSpec, scaling: Scaling) -> LayerSpec:
    layer_type = LAYER_TYPES.get(layer.type)
    options = dict(layer.options)
    if layer.type != "fc" and scaling.width != 1.0:
        for key in WIDTH_KEYS:
            if key in options:
                options[key] = round_filters(options[key], scaling.width, scaling.divisor)
    repeat = layer.repeat
    if layer_type.is_block:
        repeat = round_repeats(repeat, scaling.depth)
    return replace(layer, options=options, repeat=repeat)


def scale_spec(spec: ModelSpec, scaling: Scaling) -> ModelSpec:
    """``spec`` with its widths, block repeats and input size scaled.

    Examples
    --------
    >>> from sepconv_cli.costs.models import parse_model_spec
    >>> spec = parse_model_spec(
    ...     'input = [224, 224, 3]\\n[[layer]]\\ntype = "mbconv"\\nout = 40\\nrepeat = 2'
    ... )
    >>> big = scale_spec(spec, preset("b4"))
    >>> big.input_shape, big.layers[0].options["out"], big.layers[0].repeat
    ((380, 380, 3), 56, 4)
    """
    for value, name in ((scaling.width, "width"), (scaling.depth, "depth")):
        if not value > 0:
            raise UsageError(f"--{name} must be > 0, got {value}")
    if scaling.divisor < 1:
        raise UsageError(f"--divisor must be a positive integer, got {scaling.divisor}")
    shape = spec.input_shape
    if scaling.resolution is not None:
        res = scaling.resolution
        size = (res,) * spec.ndim if isinstance(res, int) else tuple(res)
        if len(size) != spec.ndim or any(v < 1 for v in size):
            raise UsageError(
                f"--resolution needs one size or {spec.ndim} (one per spatial axis of the "
                f"input {list(shape)}), got {res!r}"
            )
        shape = (*size, shape[-1])
    layers = tuple(_scale_layer(layer, scaling) for layer in spec.layers)
    return replace(spec, input_shape=shape, layers=layers)
