"""Block templates: ``inverted_residual`` (MobileNetV2), ``mbconv`` (EfficientNet), ``bottleneck``
and ``basic`` (ResNet), each expanding into the layers it is made of.

A block's ``stride`` applies to its first repetition only (``repeat = n`` is a stage, as in the
papers' tables); a residual ``add`` joins the block's input when the shapes allow (stride 1 and
as many output as input channels), otherwise ResNet blocks project the shortcut with a strided
1x1 convolution ("option B", torchvision's ResNet v1.5 with the stride on the 3x3).

- ``inverted_residual``: [pw C -> t·C, act] (omitted when ``expand`` t = 1), dw K x K with the
  stride and act, [se], pw -> out (linear), add. Defaults: expand 6, kernel 3, act relu6, no se.
- ``mbconv``: the same with act swish and ``se = 0.25``; the squeeze width is
  max(1, int(C_in · se)) of the block's *input* channels (the reference implementation's rule).
- ``bottleneck``: pw -> width, act; conv K x K (``groups``: ResNeXt) with the stride, act;
  pw -> out; shortcut; add, act. ``width`` defaults to out / 4.
- ``basic``: conv K x K -> out with the stride, act; conv K x K -> out; shortcut; add, act.

With ``--standard`` an inverted residual becomes the Fused-MBConv of EfficientNetV2 (Tan & Le
2021): the expansion and the depthwise convolution are replaced by one standard K x K
convolution C -> t·C (or C -> out when t = 1, which also drops the projection).

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> ir = LAYER_TYPES.get("inverted_residual").expand
>>> [t["type"] for t in ir({"out": 24, "stride": 1}, (56, 56, 24), Context())]
['pw', 'dw', 'pw', 'add']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepconv_cli.costs.layertypes.base import (
    Context,
    LayerType,
    Shape,
    activation,
    fail,
    int_or_list,
    positive_int,
    positive_number,
    register,
)


def _fraction(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise fail(where, f"{key} must be a number from 0 to 1 (0: none), got {value!r}")
    return float(value)


def _unit_stride(stride: Any) -> bool:
    return all(s == 1 for s in (stride if isinstance(stride, tuple) else (stride,)))


def _inverted(act: str, se: float) -> Any:
    def expand(options: Mapping[str, Any], shape: Shape, context: Context) -> list[dict]:
        c_in, out = shape[-1], options["out"]
        t = options.get("expand", 6)
        kernel, stride = options.get("kernel", 3), options.get("stride", 1)
        fn = options.get("act", act)
        hidden = round(c_in * t)
        ratio = options.get("se", se)
        layers: list[dict[str, Any]] = []
        if context.standard:  # Fused-MBConv
            if t == 1:
                layers.append(
                    {"name": "fused", "type": "conv", "out": out, "kernel": kernel, "act": fn}
                )
            else:
                layers.append(
                    {"name": "fused", "type": "conv", "out": hidden, "kernel": kernel, "act": fn}
                )
            layers[-1]["stride"] = stride
        else:
            if t != 1:
                layers.append({"name": "expand", "type": "pw", "out": hidden, "act": fn})
            layers.append(
                {"name": "dw", "type": "dw", "kernel": kernel, "stride": stride, "act": fn}
            )
        if ratio:
            layers.append(
                {"name": "se", "type": "se", "squeeze": max(1, int(c_in * ratio)), "act": fn}
            )
        if not (context.standard and t == 1):
            layers.append({"name": "project", "type": "pw", "out": out})
        if _unit_stride(stride) and c_in == out:
            layers.append({"name": "add", "type": "add", "skip": "input"})
        return layers

    return expand


def _shortcut(c_in: int, out: int, stride: Any) -> list[dict[str, Any]]:
    if _unit_stride(stride) and c_in == out:
        return [{"name": "add", "type": "add", "skip": "input"}]
    return [
        {"name": "shortcut", "type": "pw", "out": out, "stride": stride, "from": "input"},
        {"name": "add", "type": "add", "from": ["project", "shortcut"]},
    ]


def _bottleneck(options: Mapping[str, Any], shape: Shape, context: Context) -> list[dict]:
    out = options["out"]
    width = options.get("width", max(1, out // 4))
    stride, act = options.get("stride", 1), options.get("act", "relu")
    layers = [
        {"name": "reduce", "type": "pw", "out": width, "act": act},
        {
            "name": "conv",
            "type": "conv",
            "out": width,
            "kernel": options.get("kernel", 3),
            "stride": stride,
            "groups": options.get("groups", 1),
            "act": act,
        },
        {"name": "project", "type": "pw", "out": out},
        *_shortcut(shape[-1], out, stride),
    ]
    layers[-1]["act"] = act
    return layers


def _basic(options: Mapping[str, Any], shape: Shape, context: Context) -> list[dict]:
    out, kernel = options["out"], options.get("kernel", 3)
    stride, act = options.get("stride", 1), options.get("act", "relu")
    layers = [
        {
            "name": "conv1",
            "type": "conv",
            "out": out,
            "kernel": kernel,
            "stride": stride,
            "act": act,
        },
        {"name": "project", "type": "conv", "out": out, "kernel": kernel},
        *_shortcut(shape[-1], out, stride),
    ]
    layers[-1]["act"] = act
    return layers


_IR_KEYS = {
    "out": positive_int,
    "expand": positive_number,
    "kernel": int_or_list,
    "stride": int_or_list,
    "act": activation,
    "se": _fraction,
}
_RES_KEYS = {
    "out": positive_int,
    "kernel": int_or_list,
    "stride": int_or_list,
    "act": activation,
}

register(
    LayerType(
        "inverted_residual",
        _IR_KEYS,
        ("out",),
        "MobileNetV2 block: pw expand, dw, pw project, residual add",
        expand=_inverted("relu6", 0.0),
        standard_differs=True,
    )
)
register(
    LayerType(
        "mbconv",
        _IR_KEYS,
        ("out",),
        "EfficientNet block: inverted residual with squeeze-and-excitation and swish",
        expand=_inverted("swish", 0.25),
        standard_differs=True,
    )
)
register(
    LayerType(
        "bottleneck",
        {**_RES_KEYS, "width": positive_int, "groups": positive_int},
        ("out",),
        "ResNet bottleneck: pw reduce, KxK conv (groups), pw expand, residual add",
        expand=_bottleneck,
    )
)
register(
    LayerType(
        "basic",
        _RES_KEYS,
        ("out",),
        "ResNet basic block: two KxK convs, residual add",
        expand=_basic,
    )
)
