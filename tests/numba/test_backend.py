"""The Numba backend equals scipy.ndimage (float64 reference) for every mode, dtype and axis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

pytest.importorskip("numba")

from sepconv_cli.engine import numba_backend as nb  # noqa: E402
from sepconv_cli.errors import UsageError  # noqa: E402

MODES = ["reflect", "mirror", "nearest", "constant", "wrap"]
RNG = np.random.default_rng(1234)


def reference_1d(data, weights, axis, mode, cval=0.0, origin=0):
    """scipy.ndimage in float64 (its own accumulation precision)."""
    return ndimage.correlate1d(
        np.asarray(data, np.float64),
        np.asarray(weights, np.float64),
        axis,
        mode=mode,
        cval=cval,
        origin=origin,
    )


def reference_separable(data, factors, axes, mode, cval=0.0, origins=None):
    """Sequential 1-D passes in ascending axis order, as scipy's separable filters run."""
    result = np.asarray(data, np.float64)
    origins = origins or [0] * len(axes)
    for axis, weights, origin in sorted(zip(axes, factors, origins, strict=True)):
        result = reference_1d(result, weights, axis, mode, cval, origin)
    return result


def tolerance(dtype, reference):
    scale = max(1.0, float(np.abs(reference).max(initial=0.0)))
    return (1e-5 if np.dtype(dtype) == np.float32 else 1e-12) * scale


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_correlate1d_every_mode_axis_dtype(mode, dtype, axis):
    data = RNG.standard_normal((6, 9, 40)).astype(dtype)
    for taps in (1, 2, 3, 4, 7, 12):
        weights = RNG.standard_normal(taps)
        for origin in sorted({-(taps // 2), 0, (taps - 1) // 2}):
            expected = reference_1d(data, weights, axis, mode, 1.25, origin)
            result = nb.correlate1d(data, weights, axis, mode, 1.25, origin)
            assert result.dtype == data.dtype
            np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(dtype, expected))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_kernel_longer_than_axis_reflects_reflections(mode, length):
    data = RNG.standard_normal((length, 3 * length + 1, 33)).astype(np.float64)
    weights = RNG.standard_normal(4 * length + 5)
    for axis in (0, 2):
        expected = reference_1d(data, weights, axis, mode, -0.5)
        result = nb.correlate1d(data, weights, axis, mode, -0.5)
        np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance("float64", expected))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "int32", "bool"])
def test_integer_inputs_convert_to_float32(dtype):
    info = np.iinfo(dtype) if dtype != "bool" else np.iinfo(np.uint8)
    high = min(int(info.max), 1000) if dtype != "bool" else 2
    data = RNG.integers(max(int(info.min), -1000) if dtype != "bool" else 0, high, (5, 7, 36))
    data = data.astype(dtype)
    weights = RNG.random(5)
    for axis in (1, 2):
        expected = reference_1d(data, weights, axis, "mirror")
        result = nb.correlate1d(data, weights, axis, "mirror")
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_integer_output_is_rounded_and_clipped(mode):
    data = RNG.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    weights = np.array([0.5, 1.0, 0.5])  # gain 2: clips at 255
    output = np.empty_like(data)
    result = nb.correlate_separable(data, [weights, weights], (0, 1), mode, 7.0, 0, output)
    expected = reference_separable(data, [weights, weights], (0, 1), mode, 7.0)
    assert result is output
    np.testing.assert_array_equal(result, np.clip(np.rint(expected), 0, 255))


def test_out_of_place_does_not_modify_input_and_in_place_works():
    data = RNG.standard_normal((8, 40, 6)).astype(np.float32)
    keep = data.copy()
    weights = [0.25, 0.5, 0.25]
    expected = reference_1d(data, weights, 1, "reflect")
    out = nb.correlate1d(data, weights, 1, "reflect")
    np.testing.assert_array_equal(data, keep)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    for axis in (0, 1, 2):
        inplace = keep.copy()
        expected = reference_1d(keep, weights, axis, "wrap")
        assert nb.correlate1d(inplace, weights, axis, "wrap", output=inplace) is inplace
        np.testing.assert_allclose(inplace, expected, atol=1e-6)


def test_non_contiguous_input_and_output():
    base = RNG.standard_normal((20, 30)).astype(np.float32)
    data = base[::2, ::3]
    out = np.zeros((10, 20), np.float32)[:, ::2]
    expected = reference_1d(data, [1.0, -2.0, 1.0], 0, "nearest")
    result = nb.correlate1d(data, [1.0, -2.0, 1.0], 0, "nearest", output=out)
    assert result is out
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_float64_output_of_float32_data_computes_in_float64():
    data = RNG.standard_normal((10, 10)).astype(np.float32)
    out = np.empty((10, 10), np.float64)
    nb.correlate1d(data, [1 / 3] * 3, 0, "reflect", output=out)
    expected = reference_1d(data, [1 / 3] * 3, 0, "reflect")
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-14)


SEPARABLE_CASES = [
    ((13, 9), (0, 1)),
    ((6, 7, 3), (0, 1)),
    ((6, 7, 5), (0, 1, 2)),
    ((30, 20, 40), (0, 1, 2)),
    ((3, 5, 4, 6, 2), (1, 2, 3)),
    ((5, 4, 6, 3), (0, 2)),
    ((40, 3, 50), (2, 0)),
    ((4, 5, 6, 7), (0, 1, 2, 3)),
    ((1, 1, 40), (0, 1, 2)),
    ((17,), (0,)),
]


@pytest.mark.parametrize(("shape", "axes"), SEPARABLE_CASES)
@pytest.mark.parametrize("mode", MODES)
def test_correlate_separable_equals_sequential_passes(shape, axes, mode):
    data = RNG.standard_normal(shape).astype(np.float32)
    for taps in (2, 5, 17):
        factors = [RNG.standard_normal(taps) for _ in axes]
        origins = [(taps - 1) // 2 if i % 2 else -(taps // 2) for i in range(len(axes))]
        expected = reference_separable(data, factors, axes, mode, 0.75, origins)
        result = nb.correlate_separable(data, factors, axes, mode, 0.75, origins)
        np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance("float32", expected))
        inplace = data.astype(np.float64)
        nb.correlate_separable(inplace, factors, axes, mode, 0.75, origins, output=inplace)
        np.testing.assert_allclose(inplace, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_per_axis_modes():
    data = RNG.standard_normal((12, 14, 9)).astype(np.float64)
    factors = [RNG.random(3), RNG.random(4), RNG.random(5)]
    modes = ["wrap", "constant", "mirror"]
    expected = np.asarray(data)
    for axis, (weights, mode) in enumerate(zip(factors, modes, strict=True)):
        expected = reference_1d(expected, weights, axis, mode, 2.0)
    result = nb.correlate_separable(data, factors, (0, 1, 2), modes, 2.0)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_correlate_matches_scipy_for_full_kernels():
    data = RNG.standard_normal((9, 10, 11)).astype(np.float32)
    weights = RNG.standard_normal((3, 4, 2))
    for mode in MODES:
        expected = ndimage.correlate(data.astype(np.float64), weights, mode=mode, cval=1.0)
        result = nb.correlate(data, weights, mode, 1.0)
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, expected, atol=1e-5 * np.abs(expected).max())


@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    taps=st.integers(1, 12),
    mode=st.sampled_from(MODES),
    data=st.data(),
)
def test_property_any_shape_axis_origin(shape, taps, mode, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    origin = data.draw(st.integers(-(taps // 2), (taps - 1) // 2))
    inner = data.draw(st.sampled_from([1, 2, 40]))
    array = np.random.default_rng(taps).standard_normal((*shape, inner))
    weights = np.random.default_rng(len(shape)).standard_normal(taps)
    expected = reference_1d(array, weights, axis, mode, 0.5, origin)
    result = nb.correlate1d(array, weights, axis, mode, 0.5, origin)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance("float64", expected))
    factors = [weights, weights[::-1]]
    axes = (axis, len(shape))
    expected = reference_separable(array, factors, axes, mode, 0.5)
    result = nb.correlate_separable(array, factors, axes, mode, 0.5)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance("float64", expected))


def test_empty_arrays_and_mode_aliases():
    empty = np.zeros((0, 4), np.float32)
    assert nb.correlate1d(empty, [1, 2, 1], 1).shape == (0, 4)
    data = RNG.standard_normal((5, 6))
    np.testing.assert_allclose(
        nb.correlate1d(data, [1, 2, 3], 1, "reflect101"), reference_1d(data, [1, 2, 3], 1, "mirror")
    )


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: nb.correlate1d(np.ones(5), [1, 1, 1], 0, origin=2), "origin 2"),
        (lambda: nb.correlate1d(np.ones(5), [], 0), "weights"),
        (lambda: nb.correlate1d(np.ones(5), [1], 3), "axis 3"),
        (lambda: nb.correlate1d(np.ones(5), [1], 0, mode="bogus"), "bogus"),
        (lambda: nb.correlate1d(np.ones(5), [1], 0, output=np.ones(4)), "shape"),
        (lambda: nb.correlate1d(np.ones(5, complex), [1], 0), "complex"),
        (lambda: nb.correlate_separable(np.ones((3, 3)), [[1], [1]], (0, 0)), "once"),
        (lambda: nb.correlate_separable(np.ones((3, 3)), [[1]], (0, 1)), "factors"),
    ],
)
def test_bad_arguments_raise_usage_errors(call, fragment):
    with pytest.raises(UsageError, match=fragment):
        call()


@pytest.mark.parametrize("mode", MODES)
def test_blocking_into_many_tiles_and_chunks(monkeypatch, mode):
    """Tiny cache budgets force every kernel to split its work into many tiles and chunks."""
    monkeypatch.setattr(nb, "TILE_BYTES", 64)
    monkeypatch.setattr(nb, "WINDOW_ROW_BYTES", 64)
    monkeypatch.setattr(nb, "WINDOW_PLANE_BYTES", 64)
    monkeypatch.setattr(nb, "FUSED_BLOCK_ROWS", 3)
    image = RNG.integers(0, 256, (29, 17, 3)).astype(np.uint8)
    factors2 = [RNG.random(6), RNG.random(5)]
    expected = reference_separable(image, factors2, (0, 1), mode, 0.5, [2, -1])
    result = nb.correlate_separable(image, factors2, (0, 1), mode, 0.5, [2, -1])
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    volume = RNG.standard_normal((11, 19, 23)).astype(np.float64)
    factors = [RNG.random(5), RNG.random(4), RNG.random(7)]
    expected = reference_separable(volume, factors, (0, 1, 2), mode, 0.5)
    result = nb.correlate_separable(volume, factors, (0, 1, 2), mode, 0.5)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    wide = RNG.standard_normal((3, 13, 600)).astype(np.float64)
    for inplace in (False, True):
        expected = reference_1d(wide, factors[2], 1, mode, 0.5, 1)
        out = wide.copy() if inplace else None
        src = out if inplace else wide
        result = nb.correlate1d(src, factors[2], 1, mode, 0.5, 1, output=out)
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("taps", [3, 4, 6, 9, 17])
def test_symmetric_weights_take_the_paired_path_exactly(mode, taps):
    """Palindromic weights (Gaussians) are summed in pairs: same result as scipy."""
    half = RNG.random((taps + 1) // 2)
    weights = np.concatenate([half, half[::-1][taps % 2 :]])
    assert np.array_equal(weights, weights[::-1])
    cases = [((14, 23), (0, 1)), ((9, 11, 13), (0, 1, 2)), ((5, 7, 300), (1,)), ((6, 5, 4), (2,))]
    for shape, axes in cases:
        data = RNG.standard_normal(shape)
        factors = [weights] * len(axes)
        origins = [(taps - 1) // 2] + [0] * (len(axes) - 1)
        expected = reference_separable(data, factors, axes, mode, 1.5, origins)
        result = nb.correlate_separable(data, factors, axes, mode, 1.5, origins)
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(
    ("dtype", "shape", "axes"),
    [
        ("uint16", (4, 5, 6, 7), (0, 1, 2, 3)),  # fused 3-D sweep, then a pass into uint16
        ("int16", (6, 7, 8), (0, 2)),  # two separate passes
        ("uint8", (9, 10), (0, 1)),
        ("int32", (9, 10), (0, 1)),  # not written directly: rounded on the copy back
    ],
)
def test_integer_outputs_of_several_sweeps_and_in_place(dtype, shape, axes):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(sum(shape))  # its own stream: independent of test order
    data = rng.integers(max(info.min, -3000), min(info.max, 3000), shape).astype(dtype)
    # gain > 1: values clip at the ends; dyadic weights keep float32 sums exact, so ties at .5
    # round the same way (half to even) as in the float64 reference
    factors = [np.array([0.25, 0.875, 0.25])] * len(axes)
    expected = reference_separable(data, factors, axes, "nearest")
    expected = np.clip(np.rint(expected), info.min, info.max)
    out = np.empty(shape, dtype)
    nb.correlate_separable(data, factors, axes, "nearest", output=out)
    inplace = data.copy()
    nb.correlate_separable(inplace, factors, axes, "nearest", output=inplace)
    for result in (out, inplace):
        np.testing.assert_array_equal(result, expected)


def test_separable_on_views_and_from_concurrent_threads():
    """Transposed/strided inputs are handled, and calls from several threads do not interfere."""
    from concurrent.futures import ThreadPoolExecutor

    base = RNG.standard_normal((40, 30, 20)).astype(np.float32)
    views = [base.transpose(2, 0, 1), base[::2, ::-1, 1:], base[..., 0]]
    jobs = []
    for view in views:
        axes = tuple(range(view.ndim))
        factors = [np.array([0.25, 0.5, 0.25])] * len(axes)
        jobs.append((view, factors, axes, reference_separable(view, factors, axes, "wrap")))

    def run(job):
        view, factors, axes, _ = job
        return nb.correlate_separable(view, factors, axes, "wrap")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, jobs * 4))
    for result, (_, _, _, expected) in zip(results, jobs * 4, strict=True):
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16"])
def test_integer_rows_read_directly_give_the_float_input_result(mode, dtype):
    """Smoothing 8/16-bit images reads the integer rows directly: bit for bit the same result
    as filtering the image converted to floats first, and within float rounding of scipy."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(len(mode) + info.bits)
    wide = rng.integers(info.min, int(info.max) + 1, (31, 23, 3)).astype(dtype)
    narrow = rng.integers(info.min, int(info.max) + 1, (60, 4, 3)).astype(dtype)  # rows of 12
    cases = [(wide, taps) for taps in (2, 3, 4, 5, 8, 25)]  # 25 taps: longer than both axes
    for image, taps in [*cases, (narrow, 17)]:
        half = rng.random((taps + 1) // 2)
        weights = np.concatenate([half, half[::-1][taps % 2 :]])
        origins = [(taps - 1) // 2, 0]
        for out_dtype, rtol in ((np.float32, 1e-6), (np.float64, 1e-13)):
            got = nb.correlate_separable(
                image,
                [weights, weights],
                (0, 1),
                mode,
                0,
                origins,
                np.empty(image.shape, out_dtype),
            )
            floats = image.astype(out_dtype)
            want = nb.correlate_separable(floats, [weights, weights], (0, 1), mode, 0, origins)
            np.testing.assert_array_equal(got, want)
            expected = reference_separable(image, [weights, weights], (0, 1), mode, 0, origins)
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * 8 * scale)
