"""NaN policies and masks: defined results, identical for every method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sepconv_cli.engine import ApplyOptions, apply
from sepconv_cli.errors import UsageError
from sepconv_cli.image import Image
from sepconv_cli.kernels import build_kernel

from .conftest import MODES, brute_force

ALL_METHODS = ("direct", "separable", "lowrank", "fft")


def _with_nans(seed: int, shape=(17, 19)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal(shape) * 50).astype(np.float32)
    data[rng.random(shape) < 0.08] = np.nan
    data[3, 4] = np.inf
    data[10, 0] = -np.inf
    return data


def _run(data, kernel, method, **kw):
    image, report = apply(Image(data, "yx"), [kernel], ApplyOptions(method=method, **kw))
    return image.data, report.to_dict()


def _methods_for(kernel) -> list[str]:
    return (
        ["direct", "separable", "fft"]
        if kernel.factors is not None
        else [
            "direct",
            "lowrank",
            "fft",
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_ignore_is_normalised_convolution(mode, backend):
    data = _with_nans(1)
    kernel = build_kernel("gaussian:sigma=1.2", ndim=2)
    finite = np.isfinite(data)
    x0 = np.where(finite, data, 0).astype(np.float64)
    num = brute_force(x0, kernel.weights, (0, 1), mode, 0.0)
    den = brute_force(finite.astype(np.float64), kernel.weights, (0, 1), mode, 1.0)
    expected = num / den
    expected[~finite] = data[~finite]
    for method in _methods_for(kernel):
        out, report = _run(data, kernel, method, nan="ignore", mode=mode, backend=backend)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
        ok = np.isfinite(expected)
        np.testing.assert_allclose(out[ok], expected[ok], atol=1e-5 * np.nanmax(np.abs(x0)))
        np.testing.assert_array_equal(out[np.isinf(data)], data[np.isinf(data)])
        assert report["nonfinite"] == int((~finite).sum())


@pytest.mark.parametrize(
    ("spec", "methods"),
    [
        ("log:sigma=1", ("direct", "lowrank", "fft")),
        ("disk:radius=10", ("direct", "fft")),  # 21x21 taps with zero corners
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_propagate_marks_the_kernel_footprint(mode, spec, methods):
    data = _with_nans(2)
    kernel = build_kernel(spec, ndim=2)
    bad = ~np.isfinite(data)
    x0 = np.where(bad, 0, data).astype(np.float64)
    expected = brute_force(x0, kernel.weights, (0, 1), mode, 0.0)
    footprint = (kernel.weights != 0).astype(np.float64)
    touched = ndimage.convolve(bad.astype(np.float64), footprint, mode=mode, cval=0.0) > 0.5
    expected[touched] = np.nan
    for method in methods:
        out, _ = _run(data, kernel, method, mode=mode)
        np.testing.assert_array_equal(np.isnan(out), touched)
        np.testing.assert_allclose(out[~touched], expected[~touched], atol=1e-3)


def test_propagate_equals_scipy_for_nan_only_inputs():
    data = _with_nans(3)
    data[np.isinf(data)] = np.nan
    kernel = build_kernel("gaussian:sigma=1", ndim=2)
    ref = ndimage.gaussian_filter(data.astype(np.float64), 1.0, mode="reflect")
    for method in ALL_METHODS[:3] + ("fft",):
        if method == "lowrank":
            continue
        out, _ = _run(data, kernel, method)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(out[ok], ref[ok], atol=1e-3)


@pytest.mark.parametrize("mode", ("reflect", "constant", "wrap"))
def test_zero_replaces_non_finite(mode):
    data = _with_nans(4)
    kernel = build_kernel("sobel:axis=y", ndim=2)
    expected = brute_force(
        np.nan_to_num(data, nan=0, posinf=0, neginf=0), kernel.weights, (0, 1), mode, 2.0
    )
    for method in ("direct", "separable", "fft"):
        out, _ = _run(data, kernel, method, nan="zero", mode=mode, cval=2.0)
        np.testing.assert_allclose(out, expected, atol=1e-5 * 50 * 8)


@pytest.mark.parametrize("nan", ("propagate", "ignore", "zero"))
@pytest.mark.parametrize("mode", MODES)
def test_mask_smooths_inside_only(nan, mode):
    rng = np.random.default_rng(5)
    data = _with_nans(5, shape=(12, 13, 3))
    mask = rng.random((12, 13)) < 0.6
    kernel = build_kernel("box:size=3", ndim=2)
    results = []
    for method in ("direct", "separable", "fft"):
        image, report = apply(
            Image(data, "yxc"),
            [kernel],
            ApplyOptions(method=method, nan=nan, mode=mode, mask=mask.astype(np.uint8)),
        )
        out = image.data
        np.testing.assert_array_equal(out[~mask], data[~mask])
        results.append(out)
    for other in results[1:]:
        np.testing.assert_array_equal(np.isnan(results[0]), np.isnan(other))
        ok = np.isfinite(results[0])
        np.testing.assert_allclose(results[0][ok], other[ok], atol=1e-5 * 50)
    if nan == "ignore":
        # inside the mask: weighted mean over finite mask voxels (no NaN input in a channel)
        valid = (mask[..., None] & np.isfinite(data)).astype(np.float64)
        x0 = np.where(valid > 0, data, 0).astype(np.float64)
        num = brute_force(x0, kernel.weights, (0, 1), mode, 0.0)
        den = brute_force(valid, kernel.weights, (0, 1), mode, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = num / den
        inside = mask[..., None] & np.isfinite(data) & (den > 1e-9)
        np.testing.assert_allclose(results[0][inside], expected[inside], atol=1e-5 * 50)


def test_mask_of_another_shape_is_a_usage_error():
    data = np.zeros((8, 9), np.float32)
    kernel = build_kernel("box:size=3", ndim=2)
    with pytest.raises(UsageError, match="--mask shape 8x8"):
        apply(Image(data, "yx"), [kernel], ApplyOptions(mask=np.ones((8, 8))))


def test_integer_input_with_mask_keeps_dtype_and_outside_values():
    rng = np.random.default_rng(6)
    data = rng.integers(0, 65535, (10, 11)).astype(np.uint16)
    mask = np.zeros((10, 11), bool)
    mask[2:8, 3:9] = True
    image, report = apply(Image(data, "yx"), ["gaussian:sigma=1"], ApplyOptions(mask=mask))
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image.data[~mask], data[~mask])
    assert report.clipped == 0


@pytest.mark.parametrize("mode", ("reflect", "constant"))
def test_ignore_with_a_signed_kernel_rescales_by_absolute_weights(mode):
    data = _with_nans(6)
    kernel = build_kernel("log:sigma=1", ndim=2)
    finite = np.isfinite(data)
    x0 = np.where(finite, data, 0).astype(np.float64)
    absw = np.abs(kernel.weights)
    num = brute_force(x0, kernel.weights, (0, 1), mode, 0.0)
    den = brute_force(finite.astype(np.float64), absw, (0, 1), mode, 1.0)
    expected = num * absw.sum() / den
    expected[~finite] = data[~finite]
    results = [
        _run(data, kernel, method, nan="ignore", mode=mode)[0]
        for method in ("direct", "lowrank", "fft")
    ]
    for out in results:
        ok = np.isfinite(expected)
        np.testing.assert_array_equal(np.isfinite(out), ok)
        np.testing.assert_allclose(out[ok], expected[ok], atol=1e-5 * 50 * absw.sum())
    # without non-finite values it is the plain filter
    clean = np.nan_to_num(data, nan=1.0, posinf=1.0, neginf=1.0)
    plain = brute_force(clean, kernel.weights, (0, 1), mode, 0.0)
    out, _ = _run(clean, kernel, "fft", nan="ignore", mode=mode)
    np.testing.assert_allclose(out, plain, atol=1e-5 * 50 * absw.sum())
