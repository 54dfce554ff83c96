"""``add`` (residual sum) and ``concat`` (along channels): layers of two or more inputs.

Both take ``from = ["a", "b"]`` (earlier layers by name; ``"input"`` is the network's or the
block's input) or ``skip = "a"`` (the previous layer and ``a``). 0 MACs; an add costs one
element-wise operation per output value and input beyond the first.

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> LAYER_TYPES.get("concat").cost({}, ((8, 8, 4), (8, 8, 6)), Context()).output_shape
(8, 8, 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepconv_cli.costs.layers import LayerCost
from sepconv_cli.costs.layertypes.base import (
    Context,
    LayerType,
    Shape,
    activation,
    elements,
    register,
    with_activation,
)
from sepconv_cli.errors import SpecError


def _show(shape: Shape) -> str:
    return "x".join(map(str, shape))


def _add(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> LayerCost:
    if any(shape != shapes[0] for shape in shapes):
        raise SpecError(
            f"cannot add tensors of shapes {', '.join(_show(s) for s in shapes)} "
            "(an add needs equal shapes; give the shortcut a projection)"
        )
    cost = LayerCost(
        "add", shapes[0], shapes[0], 0, 0, elementwise=(len(shapes) - 1) * elements(shapes[0])
    )
    return with_activation(cost, options.get("act"))


def _concat(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> LayerCost:
    if any(shape[:-1] != shapes[0][:-1] or len(shape) < 2 for shape in shapes):
        raise SpecError(
            f"cannot concatenate tensors of shapes {', '.join(_show(s) for s in shapes)} "
            "(every axis but the channels must agree)"
        )
    out = (*shapes[0][:-1], sum(shape[-1] for shape in shapes))
    return LayerCost("concat", shapes[0], out, 0, 0)


register(
    LayerType(
        "add",
        {"act": activation},
        (),
        "element-wise sum of two or more equal-shaped tensors (residual connection)",
        cost=_add,
        inputs=0,
    )
)
register(
    LayerType(
        "concat",
        {},
        (),
        "concatenation along the channels (U-Net skips, DenseNet)",
        cost=_concat,
        inputs=0,
    )
)
