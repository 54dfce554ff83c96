"""Bad input: one ``sepconv: error:`` line, the right exit code, and no output file."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sepconv_cli.image import Image
from sepconv_cli.io import write


def _one_error_line(result, *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sepconv: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def _convert_fails(cli, tmp_path: Path, source: Path, code: int, *words: str) -> None:
    before = set(tmp_path.iterdir())
    target = tmp_path / "out.tif"
    result = cli("convert", source, target)
    assert result.exit_code == code, result.stderr
    _one_error_line(result, *words)
    assert set(tmp_path.iterdir()) == before  # no output, no temporary file


@pytest.fixture
def png_file(tmp_path, rng) -> Path:
    path = tmp_path / "ok.png"
    write(Image(rng.integers(0, 255, (40, 50), dtype=np.uint8), "yx"), path)
    return path


def test_zero_byte_file(cli, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    _convert_fails(cli, tmp_path, tmp_path / "empty.png", 1, "empty.png", "empty file")


def test_truncated_png(cli, tmp_path, png_file):
    data = png_file.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    _convert_fails(cli, tmp_path, tmp_path / "cut.png", 1, "cut.png", "png")


def test_truncated_tiff(cli, tmp_path, rng):
    write(Image(rng.random((3, 30, 40)).astype(np.float32), "zyx"), tmp_path / "s.tif")
    data = (tmp_path / "s.tif").read_bytes()
    (tmp_path / "s.tif").unlink()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 3])
    _convert_fails(cli, tmp_path, tmp_path / "cut.tif", 1, "cut.tif", "tiff")


def test_truncated_gzip_nifti(cli, tmp_path, nib_data):
    data = (nib_data / "example4d.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    _convert_fails(cli, tmp_path, tmp_path / "cut.nii.gz", 1, "cut.nii.gz", "nifti")


def test_corrupt_nifti_header(cli, tmp_path, nib_data):
    raw = bytearray((nib_data / "anatomical.nii").read_bytes())
    raw[40:56] = b"\xff" * 16  # dim[0..7] garbage, magic intact
    (tmp_path / "bad.nii").write_bytes(bytes(raw))
    _convert_fails(cli, tmp_path, tmp_path / "bad.nii", 1, "bad.nii", "nifti")


def test_unknown_format(cli, tmp_path):
    (tmp_path / "notes.xyz").write_text("just some text\n")
    _convert_fails(cli, tmp_path, tmp_path / "notes.xyz", 1, "notes.xyz", "unknown format")


def test_suffix_that_lies_is_a_warning_and_sniffing_wins(cli, tmp_path, png_file):
    liar = tmp_path / "photo.tif"
    shutil.copy(png_file, liar)
    result = cli("info", "--json", liar)
    assert result.exit_code == 0
    assert '"format": "png"' in result.stdout
    assert "sepconv: warning:" in result.stderr and "content is png" in result.stderr


def test_content_that_does_not_match_its_suffix(cli, tmp_path):
    (tmp_path / "fake.png").write_bytes(b"hello, this is not an image at all" * 4)
    _convert_fails(cli, tmp_path, tmp_path / "fake.png", 1, "fake.png", "not a valid png")


def test_envi_size_mismatch(cli, tmp_path):
    (tmp_path / "c.img").write_bytes(np.zeros(2 * 3 * 4 - 1, np.int16).tobytes())
    (tmp_path / "c.hdr").write_text(
        "ENVI\nsamples = 4\nlines = 3\nbands = 2\ndata type = 2\ninterleave = bsq\nbyte order = 0\n"
    )
    _convert_fails(cli, tmp_path, tmp_path / "c.hdr", 1, "c.hdr", "48 bytes", "46 bytes")


def test_envi_binary_missing(cli, tmp_path):
    (tmp_path / "c.hdr").write_text(
        "ENVI\nsamples = 4\nlines = 3\nbands = 2\ndata type = 2\ninterleave = bsq\nbyte order = 0\n"
    )
    _convert_fails(cli, tmp_path, tmp_path / "c.hdr", 1, "c.hdr", "binary file not found")


def test_envi_complex_data_type(cli, tmp_path):
    (tmp_path / "z.img").write_bytes(np.zeros((1, 2, 2), np.complex64).tobytes())
    (tmp_path / "z.hdr").write_text(
        "ENVI\nsamples = 2\nlines = 2\nbands = 1\ndata type = 6\ninterleave = bsq\nbyte order = 0\n"
    )
    _convert_fails(cli, tmp_path, tmp_path / "z.hdr", 1, "z.hdr", "complex")


@pytest.mark.parametrize(
    ("array", "word"),
    [
        (np.zeros((3, 3), np.complex128), "complex"),
        (np.array([[None, 1]], dtype=object), "npy"),
    ],
)
def test_unsupported_dtypes(cli, tmp_path, array, word):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    _convert_fails(cli, tmp_path, tmp_path / "bad.npy", 1, "bad.npy", word)


def test_missing_file(cli, tmp_path):
    _convert_fails(cli, tmp_path, tmp_path / "nope.png", 1, "nope.png", "no such file")


MARKERS = (".zarray", ".zgroup", "zarr.json")


@pytest.mark.parametrize("name", ["folder", "empty.zarr", "cube.ome.zarr"])
def test_directory_without_zarr_markers(cli, tmp_path, name):
    """A directory can only be a Zarr store: one without markers is refused naming them."""
    (tmp_path / name).mkdir()
    (tmp_path / name / "notes.txt").write_text("not zarr")
    words = (name, "is a directory but not a Zarr store", *MARKERS)
    _convert_fails(cli, tmp_path, tmp_path / name, 1, *words)
    result = cli("info", tmp_path / name)
    assert result.exit_code == 1
    _one_error_line(result, *words)


def test_directory_without_zarr_markers_in_apply_both_backends(cli, tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    for backend in ("numpy", "dask"):
        result = cli(
            "apply",
            tmp_path / "empty.zarr",
            "-k",
            "box:size=3",
            "-o",
            tmp_path / "o.npy",
            "--backend",
            backend,
        )
        assert result.exit_code == 1, result.stderr
        _one_error_line(result, "empty.zarr", "not a Zarr store", *MARKERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.zarr"]


def test_file_read_as_zarr_is_not_a_store(cli, tmp_path, png_file):
    result = cli("info", png_file, "--format", "zarr")
    assert result.exit_code == 1
    _one_error_line(result, "ok.png", "not a Zarr store (a directory holding", *MARKERS)


def test_output_folder_missing(cli, tmp_path, png_file):
    result = cli("convert", png_file, tmp_path / "no" / "such" / "out.png")
    assert result.exit_code == 1
    _one_error_line(result, "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_folder_not_writable(cli, tmp_path, png_file, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:  # a real read-only folder where permissions apply
        locked.chmod(0o500)
    else:  # root ignores permission bits: make the access check say "no"
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, m: False if Path(p) == locked else real_access(p, m)
        )
    try:
        result = cli("convert", png_file, locked / "out.png")
        assert result.exit_code == 1
        _one_error_line(result, "not writable")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_writing_onto_the_input_is_refused(cli, tmp_path, png_file):
    before = png_file.read_bytes()
    result = cli("convert", png_file, png_file)
    assert result.exit_code == 2
    _one_error_line(result, "refusing to overwrite the input")
    assert png_file.read_bytes() == before
    alias = tmp_path / "alias.png"
    os.link(png_file, alias)  # the same file under another name
    result = cli("convert", png_file, alias)
    assert result.exit_code == 2
    assert png_file.read_bytes() == before


def test_writing_onto_an_envi_inputs_binary_is_refused(cli, tmp_path, rng):
    image = Image(rng.integers(0, 9, (3, 4, 2), dtype=np.int16), "yxb")
    write(image, tmp_path / "c.hdr")
    before = (tmp_path / "c.img").read_bytes()
    result = cli("convert", tmp_path / "c.hdr", tmp_path / "c.img", "--to", "envi")
    assert result.exit_code == 2
    assert (tmp_path / "c.img").read_bytes() == before


def test_data_the_target_cannot_hold(cli, tmp_path, nib_data):
    result = cli("convert", nib_data / "functional.nii", tmp_path / "f.png")
    assert result.exit_code == 1
    _one_error_line(result, "f.png", "PNG", "float32", "--dtype")
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_format_and_stdout_without_format(cli, tmp_path, png_file):
    result = cli("convert", png_file, tmp_path / "out.weird")
    assert result.exit_code == 2
    _one_error_line(result, "--format")
    result = cli("convert", png_file, "-")
    assert result.exit_code == 2
    _one_error_line(result, "--format")
    result = cli("convert", png_file, tmp_path / "x.tif", "--to", "tiffy")
    assert result.exit_code == 2
    _one_error_line(result, "unknown format 'tiffy'")


def test_bad_axes(cli, png_file):
    result = cli("info", png_file, "--axes", "zyx")
    assert result.exit_code == 2
    _one_error_line(result, "--axes")


def test_truncated_gzip_is_caught_by_read(tmp_path):
    from sepconv_cli.errors import FormatError
    from sepconv_cli.io import read

    blob = gzip.compress(b"\x5c\x01" + b"\0" * 600)
    (tmp_path / "x.nii.gz").write_bytes(blob[:20])
    with pytest.raises(FormatError, match="x.nii.gz"):
        read(tmp_path / "x.nii.gz")


def _nifti_with(nib_data: Path, tmp_path: Path, name: str, offset: int, patch: bytes) -> Path:
    raw = bytearray((nib_data / "anatomical.nii").read_bytes())
    raw[offset : offset + len(patch)] = patch
    (tmp_path / name).write_bytes(bytes(raw))
    return tmp_path / name


def test_nibabel_header_messages_do_not_leak_to_stderr(tmp_path, nib_data):
    """nibabel prints header repairs through its own handler; a real process shows one line."""
    import subprocess
    import sys

    bad = _nifti_with(nib_data, tmp_path, "bad.nii", 0, b"\x00\x00\x00\x00")  # sizeof_hdr 0
    done = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "info", "--json", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sepconv: warning: bad.nii"), done.stderr
    assert "sizeof_hdr" in lines[0]
    assert "sizeof_hdr" in " ".join(json.loads(done.stdout)["warnings"])


def test_truncated_imagej_stack_names_the_file_once(cli, tmp_path):
    stack = tmp_path / "s.tif"
    write(Image(np.arange(25 * 41 * 33, dtype=np.uint16).reshape(25, 41, 33), "zyx"), stack)
    data = stack.read_bytes()
    stack.unlink()
    (tmp_path / "cut.tif").write_bytes(data[:20000])
    result = cli("info", tmp_path / "cut.tif")
    assert result.exit_code == 1
    _one_error_line(result, "cut.tif: ")
    assert "<tifffile" not in result.stderr


@pytest.mark.parametrize(
    ("target", "fmt", "words"),
    [
        ("-", None, ("writing to stdout ('-') needs --format (choices:", "nifti", "zarr")),
        ("out.unknown", None, ("out.unknown: cannot tell the format", "give --format (choices:")),
        ("-", "ngff", ("-o -: zarr cannot be written to stdout",)),
        ("out.tif", "nope", ("--format: unknown format 'nope'",)),
    ],
)
def test_write_without_a_usable_format(tmp_path, monkeypatch, target, fmt, words):
    from sepconv_cli.errors import UsageError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        write(Image(np.zeros((2, 2), np.uint8), "yx"), target, format=fmt)
    for word in words:
        assert word in str(caught.value)
    assert list(tmp_path.iterdir()) == []
