"""Zarr and OME-Zarr: round trips (data, axes, spacing, units), lazy reads, atomic writes."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import zarr

from sepconv_cli import io
from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image
from sepconv_cli.io import zarr_format


def test_plain_zarr_round_trip_keeps_axes_spacing_units(tmp_path, rng):
    data = rng.integers(0, 4000, (6, 10, 12), dtype=np.uint16)
    image = Image(data, "zyx", spacing=(2.0, 0.5, 0.25), units=("um", "um", "um"))
    path = tmp_path / "stack.zarr"
    io.write(image, path)
    back = io.read(path)
    assert back.format == "zarr"
    np.testing.assert_array_equal(back.data, data)
    assert back.axes == "zyx" and back.spacing == (2.0, 0.5, 0.25)
    assert back.units == ("um",) * 3
    attrs = json.loads((path / ".zattrs").read_text())
    assert attrs["sepconv"]["axes"] == "zyx"


def test_ome_zarr_round_trip_in_ngff_order(tmp_path, rng):
    """A y x c image is stored as c y x (NGFF order) with NGFF 0.4 metadata and read back."""
    data = rng.random((9, 11, 3)).astype(np.float32)
    image = Image(data, "yxc", spacing=(0.5, 0.25, None), units=("mm", "mm", None))
    path = tmp_path / "rgb.ome.zarr"
    io.write(image, path)
    attrs = json.loads((path / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert ms["axes"] == [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "millimeter"},
        {"name": "x", "type": "space", "unit": "millimeter"},
    ]
    assert ms["datasets"][0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 0.5, 0.25]}
    ]
    back = io.read(path, lazy=True)
    assert isinstance(back.data, da.Array)
    assert back.axes == "cyx" and back.spacing == (1.0, 0.5, 0.25)
    assert back.units == (None, "mm", "mm")
    np.testing.assert_array_equal(back.data.compute(), np.moveaxis(data, 2, 0))


def test_reads_multiscale_ome_zarr_level0_with_global_scale(tmp_path, rng):
    """An OME-Zarr written by zarr-python directly: two levels, a global scale, time axis."""
    path = tmp_path / "multi.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    level0 = rng.random((2, 8, 8)).astype(np.float32)
    group.create_array("s0", shape=level0.shape, dtype="f4", chunks=(1, 4, 4))[...] = level0
    group.create_array("s1", shape=(2, 4, 4), dtype="f4", chunks=(1, 4, 4))[...] = 0
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [
                {"name": "t", "type": "time", "unit": "second"},
                {"name": "y", "type": "space", "unit": "micrometer"},
                {"name": "x", "type": "space", "unit": "micrometer"},
            ],
            "datasets": [
                {
                    "path": "s0",
                    "coordinateTransformations": [{"type": "scale", "scale": [1, 2, 2]}],
                },
                {
                    "path": "s1",
                    "coordinateTransformations": [{"type": "scale", "scale": [1, 4, 4]}],
                },
            ],
            "coordinateTransformations": [{"type": "scale", "scale": [0.5, 0.1, 0.1]}],
        }
    ]
    image = io.read(path)
    assert image.axes == "tyx"
    assert image.spacing == pytest.approx((0.5, 0.2, 0.2))
    assert image.units == ("s", "um", "um")
    assert image.meta["ome_levels"] == 2
    np.testing.assert_array_equal(image.data, level0)


def test_reads_zarr_v3_and_xarray_dimension_names(tmp_path, rng):
    data = rng.random((5, 7)).astype(np.float64)
    v3 = zarr.create_array(
        store=str(tmp_path / "v3.zarr"), shape=data.shape, dtype="f8", chunks=(5, 7), zarr_format=3
    )
    v3[...] = data
    image = io.read(tmp_path / "v3.zarr", lazy=True)
    assert image.axes == "yx" and image.data.chunks == ((5,), (7,))
    np.testing.assert_array_equal(image.data.compute(), data)
    xr = zarr.create_array(
        store=str(tmp_path / "xr.zarr"),
        shape=(3, 5, 7),
        dtype="f8",
        chunks=(3, 5, 7),
        zarr_format=2,
    )
    xr.attrs["_ARRAY_DIMENSIONS"] = ["y", "x", "b"]
    assert io.read(tmp_path / "xr.zarr").axes == "yxb"


def test_dask_data_written_chunk_by_chunk_and_overwrite(tmp_path, rng):
    data = rng.random((20, 30)).astype(np.float32)
    path = tmp_path / "lazy.zarr"
    zarr_format.write(Image(np.zeros((3, 3), np.uint8), "yx"), path)
    (path / "stale-file").write_text("left from the old store")
    zarr_format.write(Image(da.from_array(data, chunks=(7, 30)), "yx"), path)
    assert not (path / "stale-file").exists()
    back = zarr_format.read(path, lazy=True)
    assert back.data.chunksize == (7, 30)
    np.testing.assert_array_equal(back.data.compute(), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lazy.zarr"]


def test_failed_write_leaves_nothing(tmp_path):
    """An error in the middle of a chunked write leaves no store and no temporary."""

    def explode(block):
        if block.sum() > 0:
            raise RuntimeError("disk on fire")
        return block

    data = da.concatenate([da.zeros((4, 8), chunks=4), da.ones((4, 8), chunks=4)])
    with pytest.raises(RuntimeError, match="disk on fire"):
        zarr_format.write(Image(data.map_blocks(explode), "yx"), tmp_path / "bad.zarr")
    assert list(tmp_path.iterdir()) == []


def test_errors_name_the_store(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    (tmp_path / "empty.zarr" / "notes.txt").write_text("precious")
    with pytest.raises(FormatError, match="not a Zarr store; refusing"):
        io.write(Image(np.zeros((2, 2)), "yx"), tmp_path / "empty.zarr")
    assert (tmp_path / "empty.zarr" / "notes.txt").read_text() == "precious"
    for reader in (io.read, zarr_format.read):
        with pytest.raises(FormatError, match=r"empty.zarr: is a directory but not a Zarr store"):
            reader(tmp_path / "empty.zarr")
    group = zarr.open_group(str(tmp_path / "two.zarr"), mode="w", zarr_format=2)
    group.create_array("a", shape=(2,), dtype="u1")
    group.create_array("b", shape=(2,), dtype="u1")
    with pytest.raises(FormatError, match="holds 2 arrays"):
        io.read(tmp_path / "two.zarr")
