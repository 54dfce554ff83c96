"""``fc`` (fully connected, over the flattened input) and ``attention`` (self-attention).

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> LAYER_TYPES.get("fc").cost({"out": 10}, ((1, 1, 64),), Context()).params
650
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepconv_cli.costs import layers as L
from sepconv_cli.costs.layertypes.base import (
    Context,
    LayerType,
    Shape,
    activation,
    boolean,
    positive_int,
    register,
    spatial,
    with_activation,
)
from sepconv_cli.errors import SpecError


def _fc(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> L.LayerCost:
    result = L.fc_cost(shapes[0], options["out"], bias=options.get("bias", True))
    return with_activation(result, options.get("act"))


def _attention(
    options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context
) -> L.LayerCost:
    size, channels = spatial(shapes[0], "attention")
    heads = options.get("heads", 1)
    if channels % heads:
        raise SpecError(f"heads ({heads}) must divide the channels ({channels})")
    return L.attention_cost(size, channels, bias=options.get("bias", context.bias))


register(
    LayerType(
        "fc",
        {"out": positive_int, "bias": boolean, "act": activation},
        ("out",),
        "fully connected over the flattened input (with a bias)",
        cost=_fc,
    )
)
register(
    LayerType(
        "attention",
        {"heads": positive_int, "bias": boolean},
        (),
        "self-attention over every position (Q, K, V, output projections)",
        cost=_attention,
    )
)
