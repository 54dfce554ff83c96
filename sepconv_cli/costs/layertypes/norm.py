"""``bn`` (batch normalisation as a layer of its own), ``act`` (an activation), ``se``
(squeeze-and-excitation).

Batch norm folds into the preceding convolution at inference: 0 MACs, 2 trainable parameters
per channel (scale and shift; its running statistics are not trained), 2 element-wise
operations per value when it is not folded. Squeeze-and-excitation (Hu et al. 2018): global
average pool, fc C -> S with ``act`` (default relu), fc S -> C with the ``gate`` (default
sigmoid), channel-wise multiply; both fc layers have biases, as in the reference
implementations (torchvision, Keras); S = ``squeeze`` or max(1, int(C · ``ratio``)).

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> se = LAYER_TYPES.get("se").cost({"ratio": 0.25}, ((7, 7, 64),), Context())
>>> se.macs, se.params
(2048, 2128)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepconv_cli.costs.layers import LayerCost
from sepconv_cli.costs.layertypes.base import (
    ACTIVATION_OPS,
    Context,
    LayerType,
    Shape,
    activation,
    choice,
    elements,
    fail,
    positive_int,
    positive_number,
    register,
    with_activation,
)


def _bn(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> LayerCost:
    shape = shapes[0]
    return LayerCost("bn", shape, shape, 0, 2 * shape[-1], elementwise=2 * elements(shape))


def _act(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> LayerCost:
    return with_activation(LayerCost("act", shapes[0], shapes[0], 0, 0), options["fn"])


def _se(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> LayerCost:
    shape = shapes[0]
    channels = shape[-1]
    squeeze = options.get("squeeze") or max(1, int(channels * options.get("ratio", 0.25)))
    n = elements(shape)
    act = ACTIVATION_OPS[options.get("act", "relu")] * squeeze
    gate = ACTIVATION_OPS[options.get("gate", "sigmoid")] * channels
    return LayerCost(
        "se",
        shape,
        shape,
        2 * channels * squeeze,
        2 * channels * squeeze + squeeze + channels,
        elementwise=n + act + gate + n,  # the pool's sum, activations, the channel-wise multiply
    )


def _check_se(options: Mapping[str, Any], where: str) -> None:
    if "squeeze" in options and "ratio" in options:
        raise fail(where, "give ratio or squeeze, not both")
    if options.get("ratio", 0.25) > 1:
        raise fail(where, f"ratio must be at most 1, got {options['ratio']!r}")


register(
    LayerType(
        "bn",
        {},
        (),
        "batch normalisation: 2 params per channel, folded (0 MACs)",
        cost=_bn,
        aliases=("batchnorm",),
    )
)
register(
    LayerType(
        "act",
        {"fn": activation},
        ("fn",),
        f"an activation ({', '.join(ACTIVATION_OPS)}): 0 MACs, element-wise ops",
        cost=_act,
        aliases=("activation",),
    )
)
register(
    LayerType(
        "se",
        {
            "ratio": positive_number,
            "squeeze": positive_int,
            "act": activation,
            "gate": choice("sigmoid", "hsigmoid"),
        },
        (),
        "squeeze-and-excitation: pool, fc C->S, fc S->C, gate (ratio: S/C, default 0.25)",
        cost=_se,
        check=_check_se,
    )
)
