"""Every method x mode x dtype x dimensionality against the float64 brute-force reference."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from scipy import ndimage

from sepconv_cli.engine import ApplyOptions, apply
from sepconv_cli.engine.methods import Part, run_fft
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel

from .conftest import MODES, brute_force, random_data

#: (name, axes, shape, kernel shape, kernel origin): odd shapes, 1-pixel-wide axes,
#: kernels larger than the image, even sizes with origins.
CASES = [
    ("1d", "x", (13,), (5,), (0,)),
    ("1d-long-kernel", "x", (3,), (9,), (1,)),
    ("2d", "yx", (9, 7), (3, 4), (0, -1)),
    ("2d-one-pixel", "yx", (1, 8), (5, 3), (0, 0)),
    ("2d-colour", "yxc", (6, 5, 3), (7, 3), (1, 0)),
    ("3d", "zyx", (4, 5, 6), (3, 3, 2), (0, 0, 0)),
    ("4d-time", "xyzt", (5, 4, 3, 2), (3, 3, 3), (0, 1, -1)),
    ("cube", "yxb", (5, 6, 4), (3, 5), (0, 0)),
]
METHODS = ("direct", "separable", "lowrank", "fft")
DTYPES = ("uint8", "uint16", "float32", "float64")


def _kernel(rng: np.random.Generator, shape, origin, method: str, smoothing: bool) -> Kernel:
    """Rank 1 with known factors for separable, an exact rank-2 sum otherwise."""
    if smoothing:
        factors = [rng.random(n) + 0.1 for n in shape]
        factors = [f / f.sum() for f in factors]
    else:
        factors = [rng.standard_normal(n) for n in shape]
    weights = factors[0]
    for f in factors[1:]:
        weights = np.multiply.outer(weights, f)
    if method == "separable" or len(shape) == 1:
        return Kernel(weights, origin=origin, factors=factors, smoothing=smoothing)
    second = [rng.standard_normal(n) for n in shape]
    extra = second[0]
    for f in second[1:]:
        extra = np.multiply.outer(extra, f)
    weights = weights + 0.5 * extra
    return Kernel(weights / np.abs(weights).sum(), origin=origin)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_method_matches_brute_force(case, method, mode, backend):
    name, axes, shape, kshape, origin = case
    rng = np.random.default_rng(zlib.crc32(f"{name}{method}{mode}".encode()))
    image_axes = tuple(i for i, a in enumerate(axes) if a in "xyz")
    for dtype in DTYPES:
        smoothing = dtype.startswith("uint") and method == "separable"
        kernel = _kernel(rng, kshape, origin, method, smoothing)
        data = random_data(rng, shape, dtype)
        cval = 7.0
        options = ApplyOptions(method=method, mode=mode, cval=cval, backend=backend)
        image, report = apply(Image(data, axes), [kernel], options)
        out = image.data
        ref = brute_force(data, kernel.weights, image_axes, mode, cval, kernel.origin)
        scale = float(np.abs(data.astype(np.float64)).max()) or 1.0
        assert report.to_dict()["method"] in (method, "separable")
        if smoothing:
            assert out.dtype == data.dtype
            assert np.abs(out.astype(np.float64) - ref).max() <= 0.5 + 1e-5 * scale
        else:
            expected = np.float64 if dtype == "float64" else np.float32
            assert out.dtype == expected
            tol = 1e-10 if dtype == "float64" else 1e-5
            assert np.abs(out.astype(np.float64) - ref).max() <= tol * scale, (dtype, name)


@pytest.mark.parametrize("mode", MODES)
def test_correlate_flag_does_not_flip(mode):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((8, 9)).astype(np.float32)
    kernel = Kernel(rng.standard_normal((3, 4)), origin=(1, 0))
    for method in ("direct", "fft", "lowrank"):
        out = apply(
            Image(data, "yx"), [kernel], ApplyOptions(method=method, mode=mode, correlate=True)
        )[0].data
        ref = ndimage.correlate(data.astype(np.float64), kernel.weights, mode=mode, origin=(1, 0))
        np.testing.assert_allclose(out, ref, atol=1e-5 * np.abs(data).max())


@pytest.mark.parametrize("mode", MODES)
def test_convolution_equals_scipy_convolve(mode):
    rng = np.random.default_rng(4)
    data = rng.standard_normal((7, 10))
    kernel = Kernel(rng.standard_normal((4, 3)), origin=(-1, 1))
    ref = ndimage.convolve(data, kernel.weights, mode=mode, cval=2.0, origin=(-1, 1))
    for method in ("direct", "fft", "lowrank"):
        options = ApplyOptions(method=method, mode=mode, cval=2)
        out = apply(Image(data, "yx"), [kernel], options)[0].data
        np.testing.assert_allclose(out, ref, atol=1e-10)


def test_reference_matches_scipy():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((6, 7))
    weights = rng.standard_normal((5, 4))
    for mode in MODES:
        for correlate in (False, True):
            fn = ndimage.correlate if correlate else ndimage.convolve
            ref = fn(data, weights, mode=mode, cval=1.5, origin=(1, -1))
            got = brute_force(data, weights, (0, 1), mode, 1.5, (1, -1), correlate=correlate)
            np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_fft_blocks_join_exactly(mode):
    """Tiny blocks (one row each) reproduce the single-block result, wrap included."""
    rng = np.random.default_rng(6)
    data = rng.standard_normal((12, 5))
    weights = rng.standard_normal((5, 3))
    part = Part(weights, (0, 0), (0, 1))
    whole = run_fft(data, part, mode, 0.5)
    blocked = run_fft(data, part, mode, 0.5, block_bytes=1)
    ref = brute_force(data, weights, (0, 1), mode, 0.5, correlate=True)
    np.testing.assert_allclose(whole, ref, atol=1e-10)
    np.testing.assert_allclose(blocked, ref, atol=1e-10)


@pytest.mark.parametrize(("np_mode", "mode"), [("symmetric", "reflect"), ("reflect", "mirror")])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_np_pad_longer_than_axis_matches_scipy(np_mode, mode, n):
    """np.pad extends a short axis by reflections of reflections exactly as scipy does."""
    x = np.arange(1.0, n + 1)
    size = 11
    padded = np.pad(x, (size // 2, size // 2), mode=np_mode)
    for i in range(n):
        window = padded[i : i + size]
        onehot = np.zeros(size)
        for k in range(size):
            onehot[:] = 0
            onehot[k] = 1
            got = ndimage.correlate1d(x, onehot, mode=mode)[i]
            assert got == window[k]


def test_input_is_not_modified():
    rng = np.random.default_rng(7)
    data = rng.standard_normal((6, 6)).astype(np.float32)
    data[2, 2] = np.nan
    before = data.copy()
    kernel = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3] * 2, smoothing=True)
    for method in METHODS:
        for nan in ("propagate", "ignore", "zero"):
            apply(Image(data, "yx"), [kernel], ApplyOptions(method=method, nan=nan, cval=1))
    np.testing.assert_array_equal(data, before)


def test_fft_blocks_bound_the_working_memory():
    import tracemalloc

    rng = np.random.default_rng(8)
    data = rng.standard_normal((2048, 128)).astype(np.float32)
    part = Part(rng.standard_normal((9, 9)), (0, 0), (0, 1))

    run_fft(data[:16], part, "reflect", 0.0)  # imports outside the traced region

    def peak(block_bytes: int) -> int:
        tracemalloc.start()
        result = run_fft(data, part, "reflect", 0.0, block_bytes=block_bytes)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del result
        return size

    whole, blocked = peak(2**40), peak(2**18)
    assert blocked < data.nbytes + 2**20 < whole


def test_fft_transforms_the_kernel_once_for_all_channels_and_blocks():
    rng = np.random.default_rng(9)
    data = rng.standard_normal((40, 9, 3))
    weights = rng.standard_normal((5, 3))
    part = Part(weights, (0, 0), (0, 1))
    spectra: dict = {}
    # 8 slabs of 5 rows per channel, 3 channels: one kernel spectrum per transform shape
    out = run_fft(data, part, "wrap", 0.0, block_bytes=9 * 352, spectra=spectra)
    assert len(spectra) == 1
    ref = brute_force(data, weights, (0, 1), "wrap", correlate=True)
    np.testing.assert_allclose(out, ref, atol=1e-10)
