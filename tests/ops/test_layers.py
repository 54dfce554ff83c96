"""Layer MACs and parameters: hand-computed values and a brute-force loop that counts multiplies."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from sepconv_cli.costs import layers as L
from sepconv_cli.errors import UsageError

# --------------------------------------------------------------------------------------------
# A brute-force reference: convolution layers written as explicit loops over output positions,
# TensorFlow "same" padding (pad_total = max((out - 1) * s + k - n, 0), half before), counting
# every multiply actually performed (padded taps included, as every framework counts them).


def _same_pad(x, kernel, stride):
    pads, outs = [], []
    for n, k, s in zip(x.shape[:-1], kernel, stride, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
        outs.append(out)
    return np.pad(x, [*pads, (0, 0)]), outs


def brute_conv(x, w, stride):
    """x: (*spatial, C_in); w: (*kernel, C_in, C_out). Returns (y, multiplies)."""
    kernel = w.shape[:-2]
    xp, outs = _same_pad(x, kernel, stride)
    y = np.zeros((*outs, w.shape[-1]))
    mults = 0
    for pos in itertools.product(*(range(o) for o in outs)):
        window = xp[
            tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel, strict=True))
        ]
        for co in range(w.shape[-1]):
            y[pos + (co,)] = np.sum(window * w[..., co])
            mults += window.size
    return y, mults


def brute_depthwise(x, w, stride):
    """x: (*spatial, C); w: (*kernel, C). Returns (y, multiplies)."""
    kernel = w.shape[:-1]
    xp, outs = _same_pad(x, kernel, stride)
    y = np.zeros((*outs, x.shape[-1]))
    mults = 0
    for pos in itertools.product(*(range(o) for o in outs)):
        window = xp[
            tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel, strict=True))
        ]
        for c in range(x.shape[-1]):
            y[pos + (c,)] = np.sum(window[..., c] * w[..., c])
            mults += window[..., c].size
    return y, mults


def test_brute_force_reference_matches_scipy():
    # The reference itself: at stride 1 with an odd kernel it is scipy's zero-padded correlation.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7, 2))
    w = rng.standard_normal((3, 3, 2, 1))
    y, _ = brute_conv(x, w, (1, 1))
    expected = sum(
        ndimage.correlate(x[..., c], w[..., c, 0], mode="constant", cval=0.0) for c in range(2)
    )
    np.testing.assert_allclose(y[..., 0], expected, atol=1e-12)


@given(
    size=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
)
def test_conv_dw_pw_dwsep_match_brute_force(size, kernel, stride, c_in, c_out):
    rng = np.random.default_rng(1)
    d = len(size)
    ks, ss = (kernel,) * d, (stride,) * d
    x = rng.standard_normal((*size, c_in))

    y, mults = brute_conv(x, rng.standard_normal((*ks, c_in, c_out)), ss)
    cost = L.conv_cost(size, c_in, c_out, kernel, stride)
    assert cost.output_shape == y.shape
    assert cost.macs == mults

    y, mults = brute_depthwise(x, rng.standard_normal((*ks, c_in)), ss)
    cost = L.depthwise_cost(size, c_in, kernel, stride)
    assert (cost.output_shape, cost.macs) == (y.shape, mults)

    pw, pw_mults = brute_conv(y, rng.standard_normal((*(1,) * d, c_in, c_out)), (1,) * d)
    cost = L.dwsep_cost(size, c_in, c_out, kernel, stride)
    assert (cost.output_shape, cost.macs) == (pw.shape, mults + pw_mults)


# --------------------------------------------------------------------------------------------
# Hand-computed values.


def test_conv_2d_mobilenet_first_layer():
    # 224x224x3, 3x3x3x32, stride 2 -> 112x112x32: 112*112*27*32 MACs, 27*32 weights.
    cost = L.conv_cost((224, 224), 3, 32, 3, 2)
    assert cost.output_shape == (112, 112, 32)
    assert cost.macs == 112 * 112 * 27 * 32 == 10_838_016
    assert cost.params == 864
    assert cost.flops == 2 * 10_838_016
    assert L.conv_cost((224, 224), 3, 32, 3, 2, bias=True).params == 864 + 32


def test_conv_1d_and_3d():
    c1 = L.conv_cost((100,), 8, 16, 7, 3)  # ceil(100 / 3) = 34
    assert (c1.output_shape, c1.macs, c1.params) == ((34, 16), 34 * 7 * 8 * 16, 7 * 8 * 16)
    c3 = L.conv_cost((16, 64, 64), 4, 8, (3, 5, 5), (1, 2, 2))
    assert c3.output_shape == (16, 32, 32, 8)
    assert c3.macs == 16 * 32 * 32 * (3 * 5 * 5) * 4 * 8
    assert c3.params == 75 * 32
    assert c3.kernel == (3, 5, 5) and c3.stride == (1, 2, 2)


def test_depthwise_and_multiplier():
    dw = L.depthwise_cost((112, 112), 32, 3)
    assert (dw.output_shape, dw.macs, dw.params) == ((112, 112, 32), 112 * 112 * 9 * 32, 288)
    dw2 = L.depthwise_cost((10,), 4, 3, 2, multiplier=2, bias=True)
    assert dw2.output_shape == (5, 8)
    assert (dw2.macs, dw2.params) == (5 * 3 * 8, 3 * 8 + 8)
    dw3 = L.depthwise_cost((8, 8, 8), 2, 3)
    assert (dw3.macs, dw3.params) == (512 * 27 * 2, 27 * 2)


def test_pointwise_strided():
    pw = L.pointwise_cost((7, 7), 64, 10, 2)  # ceil(7/2) = 4
    assert (pw.output_shape, pw.macs, pw.params) == ((4, 4, 10), 16 * 640, 640)
    assert pw.kernel == (1, 1)


def test_dwsep_parts_and_batchnorm():
    cost = L.dwsep_cost((56, 56), 64, 128, 3, 2)  # dw at stride 2, pw at 28x28
    dw, pw = cost.parts
    assert dw.macs == 28 * 28 * 9 * 64
    assert pw.macs == 28 * 28 * 64 * 128
    assert cost.macs == dw.macs + pw.macs
    assert cost.params == 9 * 64 + 64 * 128
    bn = L.dwsep_cost((56, 56), 64, 128, 3, 2, batchnorm=True)
    assert bn.params == cost.params + 2 * 64 + 2 * 128
    assert bn.macs == cost.macs


def test_fc_flattens_and_pool():
    fc = L.fc_cost((4, 4, 8), 10)
    assert (fc.output_shape, fc.macs, fc.params) == ((10,), 128 * 10, 1280 + 10)
    assert L.fc_cost((8,), 3, bias=False).params == 24
    g = L.pool_cost((7, 7), 1024, global_pool=True)
    assert (g.output_shape, g.macs, g.params) == ((1, 1, 1024), 0, 0)
    p = L.pool_cost((9, 9, 9), 4, 2)  # stride defaults to the kernel; ceil(9 / 2) = 5
    assert p.output_shape == (5, 5, 5, 4)
    assert L.pool_cost((9,), 4, 3, 1, "valid").output_shape == (7, 4)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [
        ((224,), 3, 2, "same", (112,)),
        ((7,), 3, 2, "same", (4,)),
        ((1,), 5, 3, "same", (1,)),
        ((13, 8), 3, (2, 3), "same", (7, 3)),
        ((10,), 3, 1, "valid", (8,)),
        ((10,), 3, 2, "valid", (4,)),
        ((5, 5, 5), (5, 3, 1), 1, "valid", (1, 3, 5)),
    ],
)
def test_output_size_rounding(size, kernel, stride, padding, expected):
    assert L.output_size(size, kernel, stride, padding) == expected


@given(
    size=st.lists(st.integers(1, 300), min_size=1, max_size=3),
    c_in=st.integers(1, 2048),
    c_out=st.integers(1, 2048),
    kernel=st.integers(1, 11),
    stride=st.integers(1, 4),
)
def test_ratio_equals_closed_form(size, c_in, c_out, kernel, stride):
    cmp = L.compare_conv_dwsep(size, c_in, c_out, kernel, stride)
    d = len(size)
    assert cmp.closed_form == pytest.approx(1 / c_out + 1 / kernel**d, rel=1e-12)
    assert cmp.ratio == pytest.approx(cmp.closed_form, rel=1e-12)
    assert cmp.saving == pytest.approx(1 / cmp.ratio)
    # exactly, in integers: dwsep * (K^d * C_out) == standard * (K^d + C_out)
    assert cmp.separable.macs * kernel**d * c_out == cmp.standard.macs * (kernel**d + c_out)


def test_ratio_per_axis_kernel():
    cmp = L.compare_conv_dwsep((32, 32, 32), 16, 32, (3, 5, 7))
    assert cmp.closed_form == pytest.approx(1 / 32 + 1 / 105)
    assert cmp.ratio == pytest.approx(cmp.closed_form)


# --------------------------------------------------------------------------------------------
# Attention.


def test_attention_formula():
    n, c = 196, 768
    cost = L.attention_cost((14, 14), c)
    assert cost.macs == 2 * n * n * c + 4 * n * c * c == 521_428_992
    assert cost.params == 4 * c * c
    assert L.attention_cost((10,), 8, bias=True).params == 4 * 64 + 32


def test_attention_vs_dwsep_grid_count_and_dims():
    grid = L.compare_attention_dwsep((14, 14), 768, 7)
    assert grid.tokens == 196 and grid.kernel == (7, 7)
    assert grid.separable.macs == 196 * 768 * 49 + 196 * 768**2
    # the same as a dwsep layer on the token grid
    assert grid.separable.macs == L.dwsep_cost((14, 14), 768, 768, 7).macs
    assert grid.ratio == pytest.approx(grid.attention.macs / grid.separable.macs)
    count = L.compare_attention_dwsep(196, 768, 7, dims=2)
    assert count.separable.macs == grid.separable.macs
    assert L.compare_attention_dwsep(196, 768, (7, 7)).separable.macs == grid.separable.macs
    seq = L.compare_attention_dwsep(196, 768, 7)  # a count alone is a sequence: d = 1
    assert seq.separable.macs == 196 * 768 * 7 + 196 * 768**2
    with pytest.raises(UsageError, match="disagree"):
        L.compare_attention_dwsep((14, 14), 768, 7, dims=3)
    with pytest.raises(UsageError, match="disagree"):
        L.compare_attention_dwsep(196, 768, (3, 3), dims=1)


@pytest.mark.parametrize(("channels", "kernel"), [(4, 31), (16, 255), (1, 4)])
def test_attention_crossover_is_where_costs_are_equal(channels, kernel):
    cmp = L.compare_attention_dwsep(100, channels, kernel)
    n_star = cmp.crossover_tokens
    assert n_star == pytest.approx((kernel - 3 * channels) / 2)

    def costs(n):
        return (2 * n * n * channels + 4 * n * channels**2, n * channels * kernel + n * channels**2)

    att, conv = costs(n_star)
    assert att == pytest.approx(conv)
    below, above = costs(max(n_star / 2, 0.25)), costs(2 * n_star)
    assert below[0] < below[1] and above[0] > above[1]


def test_attention_no_crossover_when_projections_dominate():
    cmp = L.compare_attention_dwsep(4096, 64, 3)
    assert cmp.crossover_tokens is None
    for n in (1, 10, 10_000):
        assert L.compare_attention_dwsep(n, 64, 3).ratio > 1
    assert cmp.quadratic_tokens == 128
    n = cmp.quadratic_tokens
    assert 2 * n * n * 64 == 4 * n * 64 * 64


# --------------------------------------------------------------------------------------------
# Errors name the parameter and the value.


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: L.conv_cost((8, 8), 3, 4, (3, 3, 3)), "kernel has 3 values"),
        (lambda: L.conv_cost((8, 8), 3, 0, 3), "out must be a positive integer, got 0"),
        (lambda: L.conv_cost((8, 8), 3, 4, 3, 0), "stride must be positive"),
        (lambda: L.conv_cost((8, 8), 3, 4, 3, padding="full"), "padding must be one of"),
        (lambda: L.conv_cost((2, 2), 3, 4, 3, padding="valid"), "larger than the input"),
        (lambda: L.conv_cost((2, 2, 2, 2), 3, 4, 3), "1, 2 or 3 spatial axes"),
        (lambda: L.pool_cost((8,), 3), "needs a kernel"),
        (lambda: L.parse_dims("112xab", "--size"), "--size must be integers"),
        (lambda: L.parse_dims("0x4", "--size"), "positive"),
    ],
)
def test_errors(call, match):
    with pytest.raises(UsageError, match=match):
        call()


def test_parse_dims_and_per_axis():
    assert L.parse_dims("16x112X112", "--size") == (16, 112, 112)
    assert L.parse_dims("7", "--kernel") == (7,)
    assert L.per_axis(3, 3, "kernel") == (3, 3, 3)
    assert math.prod(L.per_axis((1, 2, 3), 3, "kernel")) == 6


def test_convolution_cost_dispatch():
    assert L.convolution_cost("conv", (8, 8), 4, 6, 3) == L.conv_cost((8, 8), 4, 6, 3)
    assert L.convolution_cost("dw", (8, 8), 4, None, 3).output_shape == (8, 8, 4)
    assert L.convolution_cost("pw", (8,), 4, 6).macs == 8 * 24
    assert L.convolution_cost("dwsep", (8,), 4, 6, 5).macs == 8 * (5 * 4 + 24)
    with pytest.raises(UsageError, match="pw layer is 1x1"):
        L.convolution_cost("pw", (8,), 4, 6, 3)
    with pytest.raises(UsageError, match="needs out"):
        L.convolution_cost("conv", (8,), 4, None, 3)
    with pytest.raises(UsageError, match="must be a multiple"):
        L.convolution_cost("dw", (8,), 4, 6, 3)
