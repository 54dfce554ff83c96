"""Convolutions: ``conv`` (with ``groups``), ``dw``, ``pw``, ``dwsep`` and ``deconv`` (transposed).

Formulas in :mod:`sepconv_cli.costs.layers`. Every one takes ``act`` (an activation on its
output, 0 MACs, counted as element-wise operations) and ``bias`` / ``batchnorm`` (parameters).
``--standard`` replaces ``dw`` and ``dwsep`` by a standard convolution with the same kernel,
stride and output channels (Howard et al. 2017, Table 2).

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> cost = LAYER_TYPES.get("conv").cost
>>> cost({"out": 8, "kernel": 3, "groups": 2, "act": "relu"}, ((4, 4, 4),), Context()).params
144
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
    choice,
    int_or_list,
    positive_int,
    register,
    spatial,
    with_activation,
)

_WINDOW = {
    "out": positive_int,
    "kernel": int_or_list,
    "stride": int_or_list,
    "padding": choice(*L.PADDINGS),
    "bias": boolean,
    "batchnorm": boolean,
    "act": activation,
}


def _extra(options: Mapping[str, Any], context: Context) -> dict[str, bool]:
    return {
        "bias": options.get("bias", context.bias),
        "batchnorm": options.get("batchnorm", context.batchnorm),
    }


def _convolution(kind: str) -> Any:
    def cost(
        options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context
    ) -> L.LayerCost:
        size, channels = spatial(shapes[0], kind)
        kernel = 1 if kind == "pw" else options["kernel"]
        stride = options.get("stride", 1)
        padding = options.get("padding", "same")
        extra = _extra(options, context)
        result = L.convolution_cost(
            kind,
            size,
            channels,
            options.get("out"),
            kernel,
            stride,
            padding,
            groups=options.get("groups", 1),
            **extra,
        )
        if context.standard and kind in ("dw", "dwsep"):
            out = result.output_shape[-1]
            result = L.conv_cost(size, channels, out, kernel, stride, padding, **extra)
        return with_activation(result, options.get("act"))

    return cost


def _deconv(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> L.LayerCost:
    size, channels = spatial(shapes[0], "deconv")
    result = L.conv_transpose_cost(
        size,
        channels,
        options["out"],
        options["kernel"],
        options.get("stride", 1),
        options.get("padding", "same"),
        groups=options.get("groups", 1),
        **_extra(options, context),
    )
    return with_activation(result, options.get("act"))


register(
    LayerType(
        "conv",
        {**_WINDOW, "groups": positive_int},
        ("out", "kernel"),
        "standard convolution (groups: grouped, as in ResNeXt)",
        cost=_convolution("conv"),
        family="convolution",
    )
)
register(
    LayerType(
        "dw",
        _WINDOW,
        ("kernel",),
        "depthwise convolution (out: a multiple of the input channels)",
        cost=_convolution("dw"),
        family="convolution",
        standard_differs=True,
    )
)
register(
    LayerType(
        "pw",
        {k: v for k, v in _WINDOW.items() if k not in ("kernel", "padding")}
        | {"groups": positive_int},
        ("out",),
        "pointwise 1x1 convolution",
        cost=_convolution("pw"),
        family="convolution",
    )
)
register(
    LayerType(
        "dwsep",
        _WINDOW,
        ("out", "kernel"),
        "depthwise then pointwise convolution",
        cost=_convolution("dwsep"),
        family="convolution",
        standard_differs=True,
    )
)
register(
    LayerType(
        "deconv",
        {**_WINDOW, "groups": positive_int},
        ("out", "kernel"),
        "transposed convolution (same: output = input x stride)",
        cost=_deconv,
        aliases=("conv_transpose", "transposed"),
    )
)
