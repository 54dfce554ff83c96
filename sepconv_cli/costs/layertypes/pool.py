"""``pool`` (average or max; ``global = true`` reduces every spatial axis to 1) and ``upsample``.

Neither has weights or MACs. Bilinear (linear per axis) upsampling costs element-wise
operations: 3 per linear interpolation, 2^d - 1 interpolations per output value in d axes.

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
>>> up = LAYER_TYPES.get("upsample").cost
>>> c = up({"scale": 2, "mode": "bilinear"}, ((8, 8, 4),), Context())
>>> c.output_shape, c.macs, c.elementwise
((16, 16, 4), 0, 9216)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sepconv_cli.costs import layers as L
from sepconv_cli.costs.layertypes.base import (
    Context,
    LayerType,
    Shape,
    boolean,
    choice,
    elements,
    fail,
    int_or_list,
    register,
    spatial,
)


def _pool(options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context) -> L.LayerCost:
    size, channels = spatial(shapes[0], "pool")
    return L.pool_cost(
        size,
        channels,
        options.get("kernel"),
        options.get("stride"),
        options.get("padding", "same"),
        global_pool=options.get("global", False),
    )


def _check_pool(options: Mapping[str, Any], where: str) -> None:
    if not options.get("global") and "kernel" not in options:
        raise fail(where, "missing key 'kernel' (or global = true)")
    if options.get("global") and ("kernel" in options or "stride" in options):
        raise fail(where, "a global pool takes no kernel or stride")


def _upsample(
    options: Mapping[str, Any], shapes: tuple[Shape, ...], context: Context
) -> L.LayerCost:
    size, channels = spatial(shapes[0], "upsample")
    scale = L.per_axis(options.get("scale", 2), len(size), "scale")
    out = (*(n * s for n, s in zip(size, scale, strict=True)), channels)
    per_value = 3 * (2 ** len(size) - 1) if options.get("mode", "nearest") == "bilinear" else 0
    return L.LayerCost(
        "upsample", shapes[0], out, 0, 0, scale, scale, elementwise=per_value * elements(out)
    )


register(
    LayerType(
        "pool",
        {
            "kernel": int_or_list,
            "stride": int_or_list,
            "padding": choice(*L.PADDINGS),
            "global": boolean,
            "op": choice(*L.POOL_OPS),
        },
        (),
        "average or max pooling (global = true: to 1 per axis); 0 MACs",
        cost=_pool,
        check=_check_pool,
    )
)
register(
    LayerType(
        "upsample",
        {"scale": int_or_list, "mode": choice("nearest", "bilinear")},
        (),
        "nearest or bilinear upsampling by an integer scale (default 2); 0 MACs",
        cost=_upsample,
    )
)
