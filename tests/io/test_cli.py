"""`sepconv info` and `sepconv convert` through CliRunner and a real subprocess pipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sepconv_cli.image import Image
from sepconv_cli.io import read, write

REQUIRED_KEYS = {"path", "format", "shape", "dtype", "axes", "spacing", "units", "min", "max"}


def test_info_json_one_object_per_file(cli, tmp_path, nib_data, sk_data):
    cube = Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), "yxb")
    cube.meta["envi"] = {
        "wavelength": [450.0, 550.0, 650.0, 750.0],
        "wavelength units": "Nanometers",
    }
    write(cube, tmp_path / "c.hdr")
    result = cli(
        "info", "--json", nib_data / "example4d.nii.gz", sk_data / "camera.png", tmp_path / "c.hdr"
    )
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(docs) == 3 and all(set(d) >= REQUIRED_KEYS for d in docs)
    nifti, png, envi = docs
    assert nifti["axes"] == "xyzt" and nifti["units"] == ["mm", "mm", "mm", "s"]
    assert nifti["highlights"]["orientation"] == "LAS"
    assert png["format"] == "png" and png["shape"] == [512, 512] and png["spacing"] == [None, None]
    camera = read(sk_data / "camera.png").data
    assert (png["min"], png["max"]) == (int(camera.min()), int(camera.max()))
    assert png["mean"] == pytest.approx(float(camera.mean()))
    assert envi["highlights"]["wavelength_range"][:2] == [450.0, 750.0]
    assert envi["spacing"][2] == pytest.approx(100.0) and envi["units"][2] == "nm"


def test_info_counts_nan_and_inf(cli, tmp_path):
    data = np.array([[1.0, np.nan, np.inf], [-np.inf, 5.0, np.nan]], np.float32)
    np.save(tmp_path / "n.npy", data)
    doc = json.loads(cli("info", "--json", tmp_path / "n.npy").stdout)
    assert (doc["nan_count"], doc["inf_count"], doc["min"], doc["max"]) == (2, 2, 1.0, 5.0)
    assert doc["mean"] == pytest.approx(3.0)


def test_info_table_goes_to_stderr(cli, sk_data):
    result = cli("info", sk_data / "chelsea.png")
    assert result.exit_code == 0
    assert result.stdout == ""
    for word in ("png", "300 x 451 x 3", "uint8", "yxc", "bit_depth"):
        assert word in result.stderr


def test_info_axes_override_and_formats_list(cli, tmp_path, rng):
    np.save(tmp_path / "cube.npy", rng.random((4, 5, 6)).astype(np.float32))
    doc = json.loads(cli("info", "--json", "--axes", "yxb", tmp_path / "cube.npy").stdout)
    assert doc["axes"] == "yxb" and doc["roles"] == ["space", "space", "band"]
    listed = [
        json.loads(line)["name"]
        for line in cli("info", "--formats", "--json").stdout.split("\n")
        if line
    ]
    assert {"png", "jpeg", "tiff", "nifti", "envi", "npy"} <= set(listed)


def test_info_partial_failure_reports_each_file(cli, tmp_path, sk_data):
    result = cli("info", "--json", sk_data / "camera.png", tmp_path / "missing.png")
    assert result.exit_code == 3  # some files failed
    assert len(result.stdout.splitlines()) == 1
    assert "missing.png: no such file" in result.stderr


def test_convert_nifti_to_tiff_keeps_spacing(cli, tmp_path, nib_data):
    result = cli("convert", nib_data / "anatomical.nii", tmp_path / "a.tif")
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr and "affine" in result.stderr  # what TIFF cannot keep
    back, ref = read(tmp_path / "a.tif"), read(nib_data / "anatomical.nii")
    assert back.axes == "zyx"  # TIFF stores z, y, x planes; the roles travel with the data
    np.testing.assert_array_equal(back.data, ref.data.transpose(2, 1, 0))
    assert back.spacing == pytest.approx(ref.spacing[::-1])
    assert back.units == ("mm", "mm", "mm")
    again = cli("convert", nib_data / "anatomical.nii", tmp_path / "a.nii", "--json")
    assert json.loads(again.stdout)["dtype"] == "int16"  # a big-endian source is still int16


def test_convert_dtype_cast_with_clip_warning(cli, tmp_path, nib_data):
    result = cli(
        "convert", nib_data / "functional.nii", tmp_path / "f.nii.gz", "--dtype", "uint8", "--json"
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["dtype"] == "uint8" and summary["clipped"] > 0
    assert "clipped" in result.stderr
    assert read(tmp_path / "f.nii.gz").data.max() == 255


def test_convert_cube_envi_to_npy_and_back(cli, tmp_path):
    cube = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    np.save(tmp_path / "c.npy", cube)
    result = cli("convert", tmp_path / "c.npy", tmp_path / "c.hdr", "--axes", "yxb")
    assert result.exit_code == 0, result.stderr
    back = read(tmp_path / "c.hdr")
    assert back.axes == "yxb"
    np.testing.assert_array_equal(back.data, cube)


def test_convert_stdin_to_stdout(cli, sk_data):
    import io

    import tifffile

    result = cli("convert", "-", "-", "--to", "tiff", stdin=(sk_data / "camera.png").read_bytes())
    assert result.exit_code == 0, result.stderr
    data = tifffile.imread(io.BytesIO(result.stdout_bytes))
    np.testing.assert_array_equal(data, read(sk_data / "camera.png").data)


def test_info_reads_a_real_pipe(sk_data):
    png = (sk_data / "camera.png").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "info", "--json", "-"],
        input=png,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["path"] == "-" and doc["format"] == "png" and doc["shape"] == [512, 512]


def test_pipe_convert_then_info(tmp_path, nib_data):
    """``sepconv convert x.nii - --to nifti | sepconv info -`` as real processes."""
    convert = subprocess.Popen(
        [sys.executable, "-m", "sepconv_cli", "convert", str(nib_data / "anatomical.nii"), "-",
         "--to", "nifti"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    info = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "info", "--json", "-"],
        stdin=convert.stdout,
        capture_output=True,
        check=False,
    )
    convert.stdout.close()
    assert convert.wait() == 0
    assert info.returncode == 0, info.stderr
    doc = json.loads(info.stdout)
    assert doc["format"] == "nifti" and doc["shape"] == [33, 41, 25]


def test_bad_file_in_a_real_process_exit_code_and_one_line(tmp_path):
    (tmp_path / "empty.tif").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "info", str(tmp_path / "empty.tif")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"sepconv: error: {tmp_path / 'empty.tif'}: empty file (0 bytes)"
    ]


def test_stdin_errors_name_stdin(cli):
    result = cli("info", "-", stdin=b"plain text, not an image")
    assert result.exit_code == 1
    assert result.stderr.startswith("sepconv: error: stdin: unknown format")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "/tmp" not in result.stderr
    result = cli("info", "-", stdin=b"")
    assert result.exit_code == 1 and "stdin: empty input" in result.stderr


def test_convert_warns_about_what_the_target_cannot_hold(cli, tmp_path, nib_data):
    """npy loses axis roles, ENVI a z axis and y/x spacing, TIFF a band axis's spacing."""
    from sepconv_cli.io.convert import conversion_losses

    stack = tmp_path / "s.tif"
    write(Image(np.zeros((3, 4, 5), np.uint16), "zyx", spacing=(2, 1, 1), units=("um",) * 3), stack)
    envi = cli("convert", stack, tmp_path / "s.hdr")
    assert envi.exit_code == 0, envi.stderr
    assert "not axis 'z'" in envi.stderr and "y/x spacing is dropped" in envi.stderr
    npy = cli("convert", nib_data / "anatomical.nii", tmp_path / "a.npy")
    assert "reads back as axes 'zyx' (read it with --axes xyz)" in npy.stderr
    assert read(tmp_path / "a.npy", axes="xyz").shape == (33, 41, 25)
    cube = Image(np.zeros((4, 5, 6), np.int16), "yxb", spacing=(None, None, 10.0))
    cube = cube.replace(units=(None, None, "nm"))
    assert any("band spacing is dropped" in w for w in conversion_losses(cube, "envi"))
    write(cube, tmp_path / "c.hdr")
    tiff = cli("convert", tmp_path / "c.hdr", tmp_path / "c2.tif")
    assert "no spacing for band" not in tiff.stderr  # the ENVI file had none to lose
    sample_cube = Path(__file__).resolve().parents[2] / "sample_data" / "cube.hdr"
    tiff = cli("convert", sample_cube, tmp_path / "c3.tif")
    assert tiff.exit_code == 0, tiff.stderr
    assert "TIFF keeps no spacing for band or channel axes" in tiff.stderr
    plain = cli("convert", stack, tmp_path / "again.npy")
    assert "axis roles" not in plain.stderr  # zyx is what a 3-D .npy reads as
