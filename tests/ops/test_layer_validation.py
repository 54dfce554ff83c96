"""conv, dw and pw share one validation: the same bad input gives the same message from each,
checked in the same order (size, channels, kernel, stride, padding)."""

from __future__ import annotations

import pytest

from sepconv_cli.costs import layers as L
from sepconv_cli.errors import UsageError


def _calls(size, c_in, second, kernel=3, stride=1, padding="same"):
    """conv, dw (``second`` = depth multiplier) and pw (``second`` = out; kernel 1, 'same')."""
    return {
        "conv": lambda: L.conv_cost(size, c_in, second, kernel, stride, padding),
        "dw": lambda: L.depthwise_cost(size, c_in, kernel, stride, padding, multiplier=second),
        "pw": lambda: L.pointwise_cost(size, c_in, second, stride),
    }


@pytest.mark.parametrize(
    ("args", "message", "layers"),
    [
        # the size is checked first, even when everything else is wrong too
        (((), 0, 0, 0, 0, "full"), "size must have 1, 2 or 3 spatial axes, got []", "conv dw pw"),
        (((8, 0), 0, 0), "size must be positive integers, got [8, 0]", "conv dw pw"),
        (((8, True), 3, 2), "size must be positive integers, got [8, True]", "conv dw pw"),
        # then the input channels, then the second count (named per layer)
        (((8, 8), 0, 0, 0), "input channels must be a positive integer, got 0", "conv dw pw"),
        (((8, 8), 2.0, 4), "input channels must be a positive integer, got 2.0", "conv dw pw"),
        (((8, 8), 3, 0, 0), "out must be a positive integer, got 0", "conv pw"),
        (((8, 8), 3, 0, 0), "depth multiplier must be a positive integer, got 0", "dw"),
        # then the kernel, the stride and the padding
        (((8, 8), 3, 2, (3, 3, 3), 0, "full"), "kernel has 3 values", "conv dw"),
        (((8, 8), 3, 2, 3, 0, "full"), "stride must be positive", "conv dw pw"),
        (((8, 8), 3, 2, 3, 1, "full"), "padding must be one of same, valid, got 'full'", "conv dw"),
    ],
)
def test_same_message_in_the_same_order(args, message, layers):
    calls = _calls(*args)
    for layer in layers.split():
        with pytest.raises(UsageError) as info:
            calls[layer]()
        assert message in str(info.value), (layer, str(info.value))


def test_pw_is_a_1x1_conv_and_dw_a_conv_per_channel():
    conv, pw = (
        L.conv_cost((9, 7), 6, 10, 1, 2, bias=True),
        L.pointwise_cost((9, 7), 6, 10, 2, bias=True),
    )
    assert (pw.type, conv.type) == ("pw", "conv")
    assert pw.as_dict() | {"type": "conv"} == conv.as_dict()
    dw = L.depthwise_cost((9, 7), 6, 3, 2, multiplier=4, batchnorm=True)
    one = L.conv_cost((9, 7), 1, 4, 3, 2, batchnorm=True)  # one input channel, 4 filters
    assert dw.output_shape == (5, 4, 24) and dw.input_shape == (9, 7, 6)
    assert dw.macs == 6 * one.macs and dw.params == 6 * one.params
