"""Round trips: every writable format x every dtype it holds, data and metadata."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv_cli.image import Image
from sepconv_cli.io import read, write

INT_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32")
FLOAT_DTYPES = ("float32", "float64")


def _random(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("channels", [None, 2, 3, 4])
def test_png_keeps_bit_depth_and_channels(tmp_path, rng, dtype, channels):
    import png

    shape = (13, 17) if channels is None else (13, 17, channels)
    data = _random(rng, shape, dtype)
    path = tmp_path / "a.png"
    write(Image(data, "yx" if channels is None else "yxc"), path)
    back = read(path)
    assert back.dtype == data.dtype
    assert back.axes == ("yx" if channels is None else "yxc")
    np.testing.assert_array_equal(back.data, data)
    assert back.meta["highlights"]["bit_depth"] == np.dtype(dtype).itemsize * 8
    # an independent decoder sees the same bit depth and samples
    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    assert info["bitdepth"] == np.dtype(dtype).itemsize * 8
    planes = np.vstack([np.asarray(r) for r in rows]).reshape(height, width, -1)
    np.testing.assert_array_equal(planes.reshape(data.shape), data)


def test_png_one_channel_and_transposed_axes(tmp_path, rng):
    data = _random(rng, (9, 5), "uint8")
    write(Image(data, "xy"), tmp_path / "t.png")
    np.testing.assert_array_equal(read(tmp_path / "t.png").data, data.T)
    write(Image(data[:, :, None], "yxc"), tmp_path / "c.png")
    assert read(tmp_path / "c.png").axes == "yx"


def test_jpeg_round_trip_is_close(tmp_path, sk_data):
    original = read(sk_data / "chelsea.png")
    write(original, tmp_path / "c.jpg")
    back = read(tmp_path / "c.jpg")
    assert back.shape == original.shape and back.dtype == np.uint8
    error = np.abs(back.data.astype(float) - original.data).mean()
    assert error < 3.0  # quality 95


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES + ("int8",))
@pytest.mark.parametrize("spacing", [None, (2.0, 0.5, 0.25)])
def test_tiff_stack_round_trip(tmp_path, rng, dtype, spacing):
    import tifffile

    data = _random(rng, (3, 11, 7), dtype)
    image = Image(data, "zyx", spacing=spacing or (), units=("um",) * 3 if spacing else ())
    path = tmp_path / "s.tif"
    write(image, path)
    back = read(path)
    assert back.axes == "zyx" and back.dtype == data.dtype
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(tifffile.imread(path), data)
    if spacing:
        assert back.spacing == pytest.approx(spacing)
        assert back.units == ("um", "um", "um")
    else:
        assert back.spacing == (None, None, None)


def test_tiff_imagej_metadata_seen_by_tifffile(tmp_path, rng):
    import tifffile

    data = _random(rng, (4, 3, 8, 9), "uint16")
    image = Image(data, "tzyx", spacing=(1.5, 2.0, 0.3, 0.3), units=("s", "um", "um", "um"))
    write(image, tmp_path / "h.tif")
    with tifffile.TiffFile(tmp_path / "h.tif") as tf:
        assert tf.is_imagej
        meta = tf.imagej_metadata
        assert meta["spacing"] == pytest.approx(2.0)
        assert meta["finterval"] == pytest.approx(1.5)
        assert meta["unit"] in ("micron", "um", "µm")
        num, den = tf.pages[0].tags["XResolution"].value
        assert den / num == pytest.approx(0.3)
        assert tf.series[0].axes == "TZYX"
    back = read(tmp_path / "h.tif")
    assert back.axes == "tzyx"
    assert back.spacing == pytest.approx((1.5, 2.0, 0.3, 0.3))


def test_tiff_ome_physical_sizes_seen_by_tifffile(tmp_path, rng):
    import tifffile

    data = _random(rng, (2, 5, 6), "float64")  # float64: ImageJ cannot hold it -> OME
    image = Image(data, "zyx", spacing=(1.0, 0.1, 0.2), units=("um", "um", "um"))
    write(image, tmp_path / "o.ome.tif")
    with tifffile.TiffFile(tmp_path / "o.ome.tif") as tf:
        assert tf.is_ome
        xml = tf.ome_metadata
    assert 'PhysicalSizeX="0.2"' in xml and 'PhysicalSizeZ="1.0"' in xml
    back = read(tmp_path / "o.ome.tif")
    assert back.spacing == pytest.approx((1.0, 0.1, 0.2))
    assert back.meta["highlights"]["flavor"] == "ome"


def test_tiff_reads_ome_written_by_tifffile(tmp_path, rng):
    import tifffile

    data = _random(rng, (2, 3, 5, 6), "uint16")
    tifffile.imwrite(
        tmp_path / "x.ome.tif",
        data,
        ome=True,
        metadata={
            "axes": "TCYX",
            "PhysicalSizeX": 0.65,
            "PhysicalSizeY": 0.65,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeYUnit": "µm",
            "TimeIncrement": 30.0,
            "TimeIncrementUnit": "s",
        },
    )
    image = read(tmp_path / "x.ome.tif")
    assert image.axes == "tcyx"
    assert image.spacing[0] == pytest.approx(30.0) and image.spacing[1] is None
    assert image.spacing[2:] == pytest.approx((0.65, 0.65))
    assert image.units == ("s", None, "um", "um")
    np.testing.assert_array_equal(image.data, data)


@pytest.mark.parametrize("compression", ["zlib", "lzw"])
def test_tiff_compressed_and_bigtiff(tmp_path, rng, compression):
    import tifffile

    data = _random(rng, (3, 20, 30), "uint16")
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, data, compression=compression, bigtiff=True, photometric="minisblack")
    image = read(path)
    np.testing.assert_array_equal(image.data, data)
    assert image.meta["highlights"]["bigtiff"] is True
    write(image, tmp_path / "again.tif")  # keeps the compression
    with tifffile.TiffFile(tmp_path / "again.tif") as tf:
        assert tf.pages[0].compression.name in ("ADOBE_DEFLATE", "DEFLATE", "LZW")
    np.testing.assert_array_equal(read(tmp_path / "again.tif").data, data)


def test_tiff_rgb_and_cube_roles(tmp_path, rng):
    rgb = _random(rng, (8, 9, 3), "uint8")
    write(Image(rgb, "yxc"), tmp_path / "rgb.tif")
    back = read(tmp_path / "rgb.tif")
    assert back.axes == "yxc"
    np.testing.assert_array_equal(back.data, rgb)
    cube = _random(rng, (8, 9, 5), "float32")
    write(Image(cube, "yxb"), tmp_path / "cube.tif")
    back = read(tmp_path / "cube.tif")
    assert sorted(back.axes) == sorted("yxb")  # ImageJ keeps the band role (as C)
    np.testing.assert_array_equal(back.data, np.moveaxis(cube, 2, back.axes.index("b")))
    write(Image(cube.astype(np.int16), "yxb"), tmp_path / "cube16.tif")  # int16: OME-TIFF
    back = read(tmp_path / "cube16.tif")
    assert back.meta["highlights"]["flavor"] == "ome" and back.axes == "byx"


@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64"]
)
def test_nifti_round_trip_from_scratch(tmp_path, rng, dtype):
    import nibabel as nib

    data = _random(rng, (5, 6, 7), dtype)
    image = Image(data, "xyz", spacing=(1.5, 2.0, 3.0), units=("mm",) * 3)
    write(image, tmp_path / "v.nii.gz")
    ref = nib.load(tmp_path / "v.nii.gz")
    assert ref.get_data_dtype() == np.dtype(dtype)
    np.testing.assert_array_equal(np.asanyarray(ref.dataobj), data)
    assert ref.header.get_zooms() == pytest.approx((1.5, 2.0, 3.0))
    back = read(tmp_path / "v.nii.gz")
    assert back.axes == "xyz" and back.dtype == data.dtype
    np.testing.assert_array_equal(back.data, data)


def test_nifti_from_microscopy_stack_converts_axes_and_units(tmp_path, rng):
    data = _random(rng, (4, 5, 6), "uint16")
    image = Image(data, "zyx", spacing=(2.0, 0.5, 0.25), units=("um",) * 3)
    write(image, tmp_path / "s.nii")
    back = read(tmp_path / "s.nii")
    assert back.axes == "xyz"
    np.testing.assert_array_equal(back.data, data.transpose(2, 1, 0))
    assert back.spacing == pytest.approx((0.25, 0.5, 2.0))
    assert back.units == ("um", "um", "um")


def test_nifti_keeps_oblique_affine_codes_and_units(tmp_path, nib_data):
    import nibabel as nib

    original = read(nib_data / "example4d.nii.gz")
    write(original, tmp_path / "e.nii.gz")
    ref, new = nib.load(nib_data / "example4d.nii.gz"), nib.load(tmp_path / "e.nii.gz")
    np.testing.assert_allclose(new.affine, ref.affine, atol=1e-5)
    assert int(new.header["qform_code"]) == int(ref.header["qform_code"])
    assert int(new.header["sform_code"]) == int(ref.header["sform_code"])
    assert new.header.get_xyzt_units() == ref.header.get_xyzt_units()
    assert new.header.get_zooms() == pytest.approx(ref.header.get_zooms())
    np.testing.assert_array_equal(np.asanyarray(new.dataobj), np.asanyarray(ref.dataobj))


def test_nifti_scaled_int16_is_not_requantised(tmp_path, nib_data):
    import nibabel as nib

    scaled = read(nib_data / "functional.nii")  # int16 on disk with scl_slope/inter
    assert scaled.dtype == np.float32
    write(scaled, tmp_path / "f.nii")
    out = nib.load(tmp_path / "f.nii")
    assert out.get_data_dtype() == np.float32  # the data written, not the int16 on disk
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), scaled.data)
    assert float(out.dataobj.slope) == 1.0 and float(out.dataobj.inter) == 0.0


def test_nifti2_round_trip(tmp_path, nib_data):
    import nibabel as nib

    image = read(nib_data / "example_nifti2.nii.gz")
    assert image.meta["highlights"]["nifti_version"] == 2
    write(image, tmp_path / "two.nii")
    assert isinstance(nib.load(tmp_path / "two.nii"), nib.Nifti2Image)
    np.testing.assert_array_equal(read(tmp_path / "two.nii").data, image.data)


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES + ("int8", "int64", "uint64"))
def test_npy_round_trip(tmp_path, rng, dtype):
    data = _random(rng, (3, 4, 5), dtype)
    write(Image(data, "zyx"), tmp_path / "a.npy")
    back = read(tmp_path / "a.npy")
    assert back.axes == "zyx"
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)


def test_npy_writes_lazy_dask_data_block_by_block(tmp_path, rng):
    da = pytest.importorskip("dask.array")
    data = _random(rng, (6, 7, 8), "float32")
    write(Image(da.from_array(data, chunks=(2, 7, 8)), "zyx"), tmp_path / "d.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), data)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize(
    "dtype",
    ["uint8", "int16", "int32", "float32", "float64", "uint16", "uint32", "int64", "uint64"],
)
def test_envi_round_trip_keeps_wavelengths(tmp_path, rng, interleave, dtype):
    data = _random(rng, (6, 7, 5), dtype)
    image = Image(data, "yxb")
    wavelengths = [400.5, 512.25, 650.0, 1200.125, 2450.0]
    image.meta["envi"] = {
        "interleave": interleave,
        "wavelength": wavelengths,
        "fwhm": [10.0, 11.0, 12.0, 13.0, 14.0],
        "band names": ["blue", "green", "red", "nir", "swir"],
        "wavelength units": "Nanometers",
        "description": "round trip",
    }
    write(image, tmp_path / "cube.hdr")
    assert (tmp_path / "cube.img").is_file()
    back = read(tmp_path / "cube.hdr")
    assert back.axes == "yxb" and back.dtype == data.dtype
    np.testing.assert_array_equal(back.data, data)
    envi = back.meta["envi"]
    assert envi["wavelength"] == wavelengths
    assert envi["band names"] == ["blue", "green", "red", "nir", "swir"]
    assert envi["wavelength units"] == "Nanometers"
    assert envi["interleave"] == interleave
    assert back.meta["highlights"]["wavelength_range"] == [400.5, 2450.0, "Nanometers"]


def test_envi_two_dimensional_and_other_axes(tmp_path, rng):
    data = _random(rng, (4, 5), "float32")
    write(Image(data, "yx"), tmp_path / "flat.dat", format="envi")
    back = read(tmp_path / "flat.dat")
    assert back.shape == (4, 5, 1)
    np.testing.assert_array_equal(back.data[:, :, 0], data)
    cube = _random(rng, (5, 4, 6), "int16")
    write(Image(cube, "bxy"), tmp_path / "c", format="envi")  # bands first, no suffix
    assert (tmp_path / "c.hdr").is_file()
    np.testing.assert_array_equal(read(tmp_path / "c").data, cube.transpose(2, 1, 0))
    write(Image(cube, "bxy"), tmp_path / "c2.bil")  # interleave from the suffix
    back = read(tmp_path / "c2.bil")
    assert back.meta["envi"]["interleave"] == "bil"
    np.testing.assert_array_equal(back.data, cube.transpose(2, 1, 0))


def test_tiff_reads_imagej_hyperstack_written_by_tifffile(tmp_path, rng):
    import tifffile

    data = rng.integers(0, 4000, (3, 4, 2, 10, 12), dtype=np.uint16)  # T Z C Y X
    tifffile.imwrite(
        tmp_path / "hyper.tif",
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "\\u00B5m", "finterval": 10.0},
    )
    image = read(tmp_path / "hyper.tif")
    assert image.axes == "tzcyx"
    np.testing.assert_array_equal(image.data, data)
    assert image.spacing[:2] == pytest.approx((10.0, 1.5)) and image.spacing[2] is None
    assert image.spacing[3:] == pytest.approx((0.2, 0.2))
    assert image.units == ("s", "um", None, "um", "um")
    assert image.meta["highlights"]["flavor"] == "imagej"


@pytest.mark.parametrize(("dtype", "channels"), [("uint8", None), ("uint16", 3)])
def test_png_keeps_pixel_size_in_phys(tmp_path, dtype, channels):
    from PIL import Image as PILImage

    shape = (4, 5) if channels is None else (4, 5, channels)
    extra = () if channels is None else (None,)
    image = Image(
        np.zeros(shape, dtype),
        "yx" if channels is None else "yxc",
        spacing=(0.65, 0.5) + extra,
        units=("um", "um") + extra,
    )
    write(image, tmp_path / "p.png")
    back = read(tmp_path / "p.png")
    assert back.spacing[:2] == pytest.approx((0.65, 0.5)) and back.units[:2] == ("um", "um")
    dpi = PILImage.open(tmp_path / "p.png").info["dpi"]  # an independent reader of pHYs
    assert dpi == pytest.approx((25400 / 0.5, 25400 / 0.65), rel=1e-5)


def test_png_screen_dpi_is_not_a_pixel_size(tmp_path):
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((3, 4), np.uint8)).save(tmp_path / "s.png", dpi=(72, 72))
    assert read(tmp_path / "s.png").spacing == (None, None)
    PILImage.fromarray(np.zeros((3, 4), np.uint8)).save(tmp_path / "m.png", dpi=(2540, 2540))
    assert read(tmp_path / "m.png").spacing == pytest.approx((10.0, 10.0))  # 10 µm pixels


def test_tiff_time_units_survive(tmp_path):
    image = Image(
        np.zeros((3, 4, 5), np.uint16), "tyx", spacing=(250.0, 1.0, 1.0), units=("ms", "um", "um")
    )
    write(image, tmp_path / "t.tif")
    back = read(tmp_path / "t.tif")
    assert back.spacing == (250.0, 1.0, 1.0) and back.units == ("ms", "um", "um")


@pytest.mark.parametrize("target", ["cube.bil", "cube.bip", "cube.bsq"])
def test_envi_target_suffix_sets_interleave_over_the_source(tmp_path, rng, target):
    """``convert cube.hdr cube.bil`` writes BIL, even when the source cube was BSQ."""
    cube = _random(rng, (5, 4, 6), "int16")
    image = Image(cube, "yxb")
    image.meta["envi"] = {"interleave": "bsq", "wavelength": [float(w) for w in range(6)]}
    write(image, tmp_path / target)
    header = (tmp_path / "cube.hdr").read_text()
    assert f"interleave = {target[-3:]}" in header
    back = read(tmp_path / target)
    assert back.meta["envi"]["interleave"] == target[-3:]
    np.testing.assert_array_equal(back.data, cube)
    write(back, tmp_path / "again.hdr")  # no interleave suffix: the source's is kept
    assert read(tmp_path / "again.hdr").meta["envi"]["interleave"] == target[-3:]


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_low_bit_depth_gray_png_reads_full_range_and_keeps_its_depth(tmp_path, depth):
    """1/2/4-bit gray PNGs (masks) written by pypng read as 0..255 and are written back as is."""
    import png

    samples = (np.arange(48).reshape(6, 8) % 2**depth).astype(np.uint8)
    with open(tmp_path / "low.png", "wb") as handle:
        png.Writer(8, 6, greyscale=True, bitdepth=depth).write(handle, samples)
    image = read(tmp_path / "low.png")
    np.testing.assert_array_equal(image.data, samples * (255 // (2**depth - 1)))
    write(image, tmp_path / "again.png")
    _, _, rows, info = png.Reader(filename=str(tmp_path / "again.png")).asDirect()
    assert info["bitdepth"] == depth
    np.testing.assert_array_equal(np.vstack(list(rows)), samples)
    write(image.replace(data=image.data // 3), tmp_path / "changed.png")  # no longer fits
    assert read(tmp_path / "changed.png").meta["highlights"]["bit_depth"] == 8


def test_mixed_units_become_one_unit_in_nifti_and_ome_tiff(tmp_path, rng):
    """Per-axis spacings in different units (one unitless) are converted to one unit; what
    nibabel and tifffile read matches the spacings converted by hand."""
    import xml.etree.ElementTree as ET

    import nibabel as nib
    import tifffile

    image = Image(
        rng.random((3, 4, 5)).astype(np.float32),
        "zyx",
        spacing=(0.002, 0.5, 0.25),
        units=("mm", "um", None),
    )
    write(image, tmp_path / "v.nii")
    header = nib.load(tmp_path / "v.nii").header
    assert header.get_xyzt_units()[0] == "micron"
    np.testing.assert_allclose(header.get_zooms(), (0.25, 0.5, 2.0))
    write(image.replace(meta={"tiff": {"flavor": "ome"}}), tmp_path / "v.ome.tif")
    with tifffile.TiffFile(tmp_path / "v.ome.tif") as tf:
        xml = tf.ome_metadata
    pixels = next(e for e in ET.fromstring(xml).iter() if e.tag.endswith("Pixels")).attrib
    # TIFF takes the unit of the first spaced axis in its order (z: mm)
    for name, value in (("X", 0.25), ("Y", 0.0005), ("Z", 0.002)):
        assert float(pixels[f"PhysicalSize{name}"]) == pytest.approx(value, rel=1e-12)
        assert pixels[f"PhysicalSize{name}Unit"] == "mm"
