"""``-f ome-zarr`` / ``-f ngff`` write OME-Zarr on every path: ``io.write``, ``convert``, and
``apply`` with the in-memory and the Dask backend (a ``.ome.zarr`` suffix does by default)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.ndimage as ndi

from sepconv_cli import io
from sepconv_cli.cli.app import app
from sepconv_cli.image import Image


def _ngff(path) -> dict:
    """The NGFF 0.4 multiscale entry of a store, read as plain JSON (no sepconv reader)."""
    attrs = json.loads((path / ".zattrs").read_text())
    assert "multiscales" in attrs, f"{path} is a plain Zarr store: {sorted(attrs)}"
    (entry,) = attrs["multiscales"]
    return entry


def _check_ome(path, spacing) -> None:
    entry = _ngff(path)
    assert entry["version"] == "0.4"
    assert [a["name"] for a in entry["axes"]] == ["z", "y", "x"]
    assert all(a["type"] == "space" and a["unit"] == "micrometer" for a in entry["axes"])
    assert entry["datasets"] == [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": list(spacing)}]}
    ]
    assert json.loads((path / "0" / ".zarray").read_text())["zarr_format"] == 2


@pytest.fixture
def stack(tmp_path, rng):
    """A z y x uint16 TIFF stack with micrometre spacing, and its data."""
    data = rng.integers(0, 4000, (6, 12, 10), dtype=np.uint16)
    path = tmp_path / "cells.tif"
    io.write(Image(data, "zyx", spacing=(2.0, 0.5, 0.25), units=("um",) * 3), path)
    return path, data


@pytest.mark.parametrize("name", ["ome-zarr", "ngff", "OMEZARR"])
def test_io_write_format_alias_writes_ome(tmp_path, stack, name):
    path, data = stack
    out = tmp_path / "out.zarr"
    io.write(io.read(path), out, format=name)
    _check_ome(out, (2.0, 0.5, 0.25))
    np.testing.assert_array_equal(np.asarray(io.read(out).data), data)


@pytest.mark.parametrize(
    ("name", "suffix", "ome"),
    [
        (None, ".ome.zarr", True),
        ("zarr", ".ome.zarr", True),
        (None, ".zarr", False),
        ("zarr", ".zarr", False),
    ],
)
def test_suffix_decides_without_an_ome_name(tmp_path, stack, name, suffix, ome):
    out = tmp_path / f"out{suffix}"
    io.write(io.read(stack[0]), out, format=name)
    attrs = json.loads((out / ".zattrs").read_text()) if (out / ".zattrs").exists() else {}
    assert ("multiscales" in attrs) == ome
    assert io.read(out).spacing == (2.0, 0.5, 0.25)


@pytest.mark.parametrize("name", ["ome-zarr", "ngff"])
def test_convert_to_ome_zarr(tmp_path, runner, stack, name):
    path, data = stack
    out = tmp_path / "y.zarr"
    result = runner.invoke(app, ["convert", str(path), str(out), "--to", name])
    assert result.exit_code == 0, result.stderr
    _check_ome(out, (2.0, 0.5, 0.25))
    np.testing.assert_array_equal(np.asarray(io.read(out).data), data)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize("name", ["ome-zarr", "ngff"])
def test_apply_writes_ome_zarr_on_both_backends(tmp_path, runner, stack, backend, name):
    path, data = stack
    out = tmp_path / "y.zarr"
    args = ["apply", str(path), "-k", "box:size=3", "-o", str(out), "-f", name]
    result = runner.invoke(app, [*args, "--backend", backend, "--dtype", "float32"])
    assert result.exit_code == 0, result.stderr
    _check_ome(out, (2.0, 0.5, 0.25))
    reference = ndi.uniform_filter(data.astype(np.float64), 3, mode="reflect")
    np.testing.assert_allclose(np.asarray(io.read(out).data), reference, rtol=1e-6)
