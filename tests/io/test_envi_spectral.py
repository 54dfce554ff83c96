"""ENVI against the independent ``spectral`` package, byte orders and header offsets."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv_cli.image import Image
from sepconv_cli.io import read, write
from sepconv_cli.io.envi_format import parse_header

envi = pytest.importorskip("spectral.io.envi")


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("byteorder", [0, 1])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32", "float64", "uint16"])
def test_reads_what_spectral_writes(tmp_path, rng, interleave, byteorder, dtype):
    cube = (rng.random((5, 6, 4)) * 200).astype(dtype)
    envi.save_image(
        str(tmp_path / "s.hdr"), cube, interleave=interleave, byteorder=byteorder,
        metadata={"wavelength": ["450", "550", "650", "850"], "wavelength units": "nm"},
    )  # fmt: skip
    image = read(tmp_path / "s.hdr")
    assert image.axes == "yxb"
    np.testing.assert_array_equal(image.data, cube)
    assert image.meta["envi"]["wavelength"] == [450.0, 550.0, 650.0, 850.0]
    assert image.spacing[2] is None  # uneven wavelengths: no band spacing
    lazy = read(tmp_path / "s.img", lazy=True)  # the binary finds its header
    assert isinstance(lazy.data, np.memmap)
    np.testing.assert_array_equal(np.asarray(lazy.data), cube)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_spectral_reads_what_we_write(tmp_path, rng, interleave):
    cube = (rng.random((7, 5, 3)) * 1000).astype(np.int16)
    image = Image(cube, "yxb")
    image.meta["envi"] = {"interleave": interleave, "wavelength": [500.0, 600.0, 700.0]}
    write(image, tmp_path / "ours.hdr")
    theirs = envi.open(str(tmp_path / "ours.hdr"), str(tmp_path / "ours.img"))
    np.testing.assert_array_equal(np.asarray(theirs.load()).astype(np.int16), cube)
    assert [float(w) for w in theirs.metadata["wavelength"]] == [500.0, 600.0, 700.0]
    assert theirs.metadata["interleave"] == interleave


def test_header_offset_and_big_endian_by_hand(tmp_path, rng):
    cube = rng.integers(0, 60000, size=(3, 4, 2), dtype=np.uint16)  # bands, lines, samples (bsq)
    (tmp_path / "h.raw").write_bytes(b"\0" * 128 + cube.astype(">u2").tobytes())
    (tmp_path / "h.hdr").write_text(
        "ENVI\nsamples = 2\nlines = 4\nbands = 3\nheader offset = 128\n"
        "data type = 12\ninterleave = bsq\nbyte order = 1\n"
        "wavelength = {1.0, 1.5,\n 2.0}\nwavelength units = Micrometers\n"
    )
    image = read(tmp_path / "h.hdr")
    np.testing.assert_array_equal(image.data, cube.transpose(1, 2, 0))
    assert image.spacing[2] == pytest.approx(0.5) and image.units[2] == "um"
    assert image.meta["highlights"]["byte_order"] == "big-endian"
    lazy = read(tmp_path / "h.hdr", lazy=True)
    np.testing.assert_array_equal(np.asarray(lazy.data), cube.transpose(1, 2, 0))


def test_parse_header_multiline_and_description():
    fields = parse_header(
        "ENVI\ndescription = {\n  a cube, with commas }\n; a comment\n"
        "band names = {a,\n b,\n c}\nMap Info = {UTM, 1, 1, 0, 0, 30, 30, 33, North}\n"
    )
    assert fields["description"] == "a cube, with commas"
    assert fields["band names"] == ["a", "b", "c"]
    assert fields["map info"][5] == "30"


def test_map_info_gives_pixel_spacing(tmp_path):
    (tmp_path / "m.img").write_bytes(np.zeros((2, 3, 4), np.uint8).tobytes())
    (tmp_path / "m.hdr").write_text(
        "ENVI\nsamples = 4\nlines = 3\nbands = 2\ndata type = 1\ninterleave = bsq\n"
        "byte order = 0\nmap info = {UTM, 1, 1, 500000, 4100000, 30, 20, 33, North, WGS-84, "
        "units=Meters}\n"
    )
    image = read(tmp_path / "m.hdr")
    assert image.spacing[:2] == (20.0, 30.0) and image.units[:2] == ("m", "m")
    out = tmp_path / "copy.hdr"
    write(image, out)
    assert "map info" in parse_header(out.read_text())


def test_header_picks_the_binary_whose_size_fits(tmp_path, rng):
    cube = rng.integers(0, 99, (3, 4, 2), dtype=np.int16)
    image = Image(cube, "yxb")
    write(image, tmp_path / "c.hdr")  # c.img
    (tmp_path / "c").write_bytes(b"an unrelated file without extension")
    np.testing.assert_array_equal(read(tmp_path / "c.hdr").data, cube)
