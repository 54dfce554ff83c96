"""Real files shipped inside nibabel and scikit-image, compared with those libraries' readers."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv_cli.io import describe, read


def test_example4d_oblique_4d(nib_data):
    import nibabel as nib

    ref = nib.load(nib_data / "example4d.nii.gz")
    image = read(nib_data / "example4d.nii.gz")
    assert image.format == "nifti" and image.axes == "xyzt"
    assert image.dtype == np.int16  # unscaled integers stay integers
    np.testing.assert_array_equal(image.data, np.asanyarray(ref.dataobj))
    # oblique: the affine's column norms are the voxel sizes nibabel stores in pixdim
    assert image.spacing[:3] == pytest.approx(ref.header.get_zooms()[:3], rel=1e-5)
    assert image.spacing[3] == pytest.approx(float(ref.header.get_zooms()[3]))
    assert image.units == ("mm", "mm", "mm", "s")
    assert image.meta["highlights"]["orientation"] == "".join(nib.aff2axcodes(ref.affine))
    off_diagonal = ref.affine[:3, :3] - np.diag(np.diag(ref.affine[:3, :3]))
    assert np.abs(off_diagonal).max() > 1e-3  # really oblique


def test_functional_scaled_int16(nib_data):
    import nibabel as nib

    ref = nib.load(nib_data / "functional.nii")
    image = read(nib_data / "functional.nii")
    assert ref.get_data_dtype() == np.int16
    assert image.dtype == np.float32  # slope/inter applied in float32 for 16-bit data
    np.testing.assert_allclose(image.data, ref.get_fdata(), rtol=1e-6, atol=1e-3)
    assert image.meta["highlights"]["scaled"]["slope"] == pytest.approx(float(ref.dataobj.slope))


def test_anatomical_big_endian(nib_data):
    import nibabel as nib

    ref = nib.load(nib_data / "anatomical.nii")
    assert ref.get_data_dtype().byteorder == ">"
    image = read(nib_data / "anatomical.nii")
    assert image.dtype == np.dtype("int16") and image.dtype.isnative
    np.testing.assert_array_equal(image.data, np.asanyarray(ref.dataobj))
    info = describe(image)
    assert (info["min"], info["max"]) == (int(ref.get_fdata().min()), int(ref.get_fdata().max()))


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "chelsea.png", "logo.png"])
def test_skimage_photos(sk_data, name):
    from PIL import Image as PILImage

    image = read(sk_data / name)
    ref = np.asarray(PILImage.open(sk_data / name))
    np.testing.assert_array_equal(image.data, ref)
    assert image.axes == ("yx" if ref.ndim == 2 else "yxc")


def test_skimage_jpeg(sk_data):
    from PIL import Image as PILImage

    image = read(sk_data / "hubble_deep_field.jpg")
    assert image.format == "jpeg" and image.axes == "yxc"
    np.testing.assert_array_equal(
        image.data, np.asarray(PILImage.open(sk_data / "hubble_deep_field.jpg"))
    )


def test_skimage_multipage_tiff(sk_data):
    import tifffile

    image = read(sk_data / "multipage.tif")
    assert image.axes == "zyx"
    np.testing.assert_array_equal(image.data, tifffile.imread(sk_data / "multipage.tif"))
    assert image.spacing == (None, None, None)  # 72-dpi screen default is not a physical size


def test_skimage_multipage_rgb_tiff(sk_data):
    import tifffile

    image = read(sk_data / "multipage_rgb.tif")
    assert "c" in image.axes and "y" in image.axes and "x" in image.axes
    np.testing.assert_array_equal(image.data, tifffile.imread(sk_data / "multipage_rgb.tif"))


def test_sample_data_is_readable():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "sample_data"
    expected = {
        "chelsea.png": ("png", "yxc"),
        "stack_uint16.tif": ("tiff", "zyx"),
        "example4d.nii.gz": ("nifti", "xyzt"),
        "cube.hdr": ("envi", "yxb"),
    }
    for name, (fmt, axes) in expected.items():
        image = read(root / name)
        assert (image.format, image.axes) == (fmt, axes), name
    stack = read(root / "stack_uint16.tif")
    assert stack.dtype == np.uint16 and stack.units == ("um",) * 3
    cube = read(root / "cube.hdr")
    wavelengths = cube.meta["envi"]["wavelength"]
    assert wavelengths[0] == pytest.approx(400.0) and wavelengths[-1] == pytest.approx(2500.0)
