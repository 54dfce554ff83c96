"""``read(..., lazy=True)`` gives the same values as an eager read, without loading."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv_cli.image import Image
from sepconv_cli.io import describe, read, write


def _same(lazy, eager) -> None:
    assert lazy.shape == eager.shape and lazy.axes == eager.axes
    assert lazy.spacing == eager.spacing and lazy.units == eager.units
    np.testing.assert_array_equal(np.asarray(lazy.data), eager.data)


def test_npy_is_memory_mapped(tmp_path, rng):
    np.save(tmp_path / "a.npy", rng.random((5, 6, 7)))
    lazy = read(tmp_path / "a.npy", lazy=True)
    assert isinstance(lazy.data, np.memmap)
    _same(lazy, read(tmp_path / "a.npy"))


@pytest.mark.parametrize("name", ["anatomical.nii", "functional.nii", "example4d.nii.gz"])
def test_nifti_lazy(nib_data, name):
    lazy, eager = read(nib_data / name, lazy=True), read(nib_data / name)
    assert lazy.dtype.newbyteorder("=") == eager.dtype  # a memory map keeps the file's order
    _same(lazy, eager)


def test_uncompressed_unscaled_nifti_is_a_memmap(nib_data):
    assert isinstance(read(nib_data / "anatomical.nii", lazy=True).data, np.memmap)


def test_scaled_nifti_is_scaled_lazily(nib_data):
    pytest.importorskip("dask")
    lazy = read(nib_data / "functional.nii", lazy=True)
    assert hasattr(lazy.data, "dask")  # slope/inter applied chunk by chunk


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_lazy_is_a_memmap(tmp_path, rng, interleave):
    image = Image(rng.integers(0, 999, (6, 7, 4), dtype=np.int16), "yxb")
    image.meta["envi"] = {"interleave": interleave}
    write(image, tmp_path / "c.hdr")
    lazy = read(tmp_path / "c.hdr", lazy=True)
    assert isinstance(lazy.data, np.memmap)
    _same(lazy, read(tmp_path / "c.hdr"))


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_lazy(tmp_path, rng, compression):
    pytest.importorskip("dask")
    image = Image(
        rng.integers(0, 60000, (4, 16, 12), dtype=np.uint16),
        "zyx",
        spacing=(3.0, 0.5, 0.5),
        units=("um",) * 3,
    )
    image.meta["tiff"] = {"compression": compression}
    write(image, tmp_path / "s.tif")
    lazy = read(tmp_path / "s.tif", lazy=True)
    assert hasattr(lazy.data, "dask")
    _same(lazy, read(tmp_path / "s.tif"))


def test_describe_is_the_same_lazy_or_not(nib_data):
    lazy = describe(read(nib_data / "functional.nii", lazy=True))
    eager = describe(read(nib_data / "functional.nii"))
    for key in ("min", "max", "nan_count", "shape", "dtype", "spacing"):
        assert lazy[key] == eager[key]
    assert lazy["mean"] == pytest.approx(eager["mean"])


def test_formats_without_lazy_support_load(sk_data):
    image = read(sk_data / "camera.png", lazy=True)
    assert type(image.data) is np.ndarray


def test_large_npy_is_mapped_copy_on_write(tmp_path, rng, monkeypatch):
    from sepconv_cli.io import npy_format

    data = rng.random((4, 5))
    np.save(tmp_path / "big.npy", data)
    monkeypatch.setattr(npy_format, "LARGE_BYTES", 10)
    image = read(tmp_path / "big.npy")
    assert isinstance(image.data, np.memmap)
    image.data[0, 0] = -1.0  # writable in memory ...
    np.testing.assert_array_equal(np.load(tmp_path / "big.npy"), data)  # ... file untouched


@pytest.mark.parametrize("interleave", ["bsq", "bip"])
def test_eager_envi_is_in_memory_and_writable(tmp_path, rng, interleave):
    image = Image(rng.integers(0, 999, (3, 4, 2), dtype=np.int16), "yxb")
    image.meta["envi"] = {"interleave": interleave}
    write(image, tmp_path / "c.hdr")
    eager = read(tmp_path / "c.hdr")
    assert type(eager.data) is np.ndarray and eager.data.flags.writeable
