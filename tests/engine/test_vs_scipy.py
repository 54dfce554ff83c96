"""Named kernels against scipy.ndimage, and physical units on a real oblique NIfTI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from sepconv_cli.engine import ApplyOptions, apply
from sepconv_cli.image import Image

from .conftest import MODES

METHODS = ("direct", "separable", "fft")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_gaussian_equals_gaussian_filter(mode, method, backend):
    rng = np.random.default_rng(0)
    data = rng.random((30, 26)).astype(np.float32)
    image, _ = apply(
        Image(data, "yx"),
        ["gaussian:sigma=2"],
        ApplyOptions(method=method, mode=mode, cval=0.25, backend=backend),
    )
    ref = ndimage.gaussian_filter(data.astype(np.float64), 2.0, mode=mode, cval=0.25)
    np.testing.assert_allclose(image.data, ref, atol=1e-6)


def test_anisotropic_3d_gaussian_with_zero_sigma_axis():
    rng = np.random.default_rng(1)
    data = rng.random((9, 20, 22)).astype(np.float32)
    image, _ = apply(Image(data, "zyx"), ["gaussian:sigma=0x1.5x3"], ApplyOptions())
    ref = ndimage.gaussian_filter(data.astype(np.float64), (0, 1.5, 3))
    np.testing.assert_allclose(image.data, ref, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2])
def test_gaussian_derivative_equals_scipy(order):
    rng = np.random.default_rng(2)
    data = rng.random((25, 25))
    image, _ = apply(Image(data, "yx"), [f"gaussian:sigma=2,order=0x{order}"], ApplyOptions())
    ref = ndimage.gaussian_filter(data, 2.0, order=(0, order))
    np.testing.assert_allclose(image.data, ref, atol=1e-10)


@pytest.mark.parametrize("axis", [("y", 0), ("x", 1)])
@pytest.mark.parametrize("method", METHODS)
def test_sobel_equals_scipy_sobel(axis, method):
    rng = np.random.default_rng(3)
    data = rng.random((16, 19)) * 100
    letter, index = axis
    image, _ = apply(Image(data, "yx"), [f"sobel:axis={letter}"], ApplyOptions(method=method))
    np.testing.assert_allclose(image.data, ndimage.sobel(data, axis=index), atol=1e-9)


def test_sobel_without_axis_is_the_gradient_magnitude():
    rng = np.random.default_rng(4)
    data = (rng.random((20, 21)) * 255).astype(np.uint8)
    image, report = apply(Image(data, "yx"), ["sobel"], ApplyOptions())
    f = data.astype(np.float64)
    ref = np.hypot(ndimage.sobel(f, 0), ndimage.sobel(f, 1))
    assert image.dtype == np.float32
    np.testing.assert_allclose(image.data, ref, atol=1e-5 * ref.max())
    doc = report.to_dict()
    assert doc["kernels"][0]["combine"] == "magnitude"
    assert doc["ops"]["separable"]["macs"] == 2 * 6


def test_colour_channels_are_not_mixed():
    rng = np.random.default_rng(5)
    data = (rng.random((12, 14, 3)) * 255).astype(np.uint8)
    image, _ = apply(Image(data, "yxc"), ["gaussian:sigma=1"], ApplyOptions(method="fft"))
    for c in range(3):
        ref = ndimage.gaussian_filter(data[..., c].astype(np.float64), 1.0)
        assert np.abs(image.data[..., c].astype(np.float64) - ref).max() <= 0.5 + 1e-3


def _nibabel_file(name: str) -> Path:
    nibabel = pytest.importorskip("nibabel")
    path = Path(nibabel.__file__).parent / "tests" / "data" / name
    if not path.exists():
        pytest.skip(f"nibabel's bundled {name} is not installed")
    return path


def test_fwhm_in_mm_on_oblique_example4d():
    import nibabel as nib

    from sepconv_cli.io import read

    path = _nibabel_file("example4d.nii.gz")
    image = read(path)
    affine = nib.load(path).affine
    voxel = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))  # column norms (oblique-safe)
    assert not np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3])))
    out, report = apply(image, ["gaussian:fwhm=6mm"], ApplyOptions(verify=True))
    sigma = 6.0 / (math.sqrt(8 * math.log(2)) * voxel)
    kernel = report.to_dict()["kernels"][0]
    np.testing.assert_allclose(kernel["sigma_vox"], sigma, rtol=1e-6)
    assert image.axes == "xyzt" and out.shape == image.shape
    data = np.asarray(image.data, dtype=np.float64)
    for t in range(data.shape[3]):
        ref = ndimage.gaussian_filter(data[..., t], sigma)
        got = np.asarray(out.data[..., t], dtype=np.float64)
        assert np.abs(got - ref).max() <= 0.5 + 1e-5 * np.abs(data).max()
    assert report.verify["max_abs_error"] <= 1e-5 * np.abs(data).max()
