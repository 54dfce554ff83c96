"""Atomic writes: a failure or Ctrl-C leaves neither a partial output nor a temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from sepconv_cli.errors import FormatError, UsageError
from sepconv_cli.image import Image
from sepconv_cli.io import FORMATS, atomic_file, read, write
from sepconv_cli.io.atomic import atomic_paths, refuse_inputs, temporary_name


@pytest.fixture
def failing_tiff(monkeypatch):
    """Make the TIFF writer write half a file and then raise ``exc``."""
    import dataclasses

    from sepconv_cli.io import formats

    def install(exc: BaseException) -> None:
        def half_then_fail(image, paths):
            paths[0].write_bytes(b"II*\x00 partial")
            raise exc

        fmt = dataclasses.replace(FORMATS.get("tiff"), write=half_then_fail)
        monkeypatch.setitem(formats.FORMATS._entries, "tiff", fmt)

    return install


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_leaves_nothing(tmp_path, failing_tiff, exc):
    failing_tiff(exc)
    image = Image(np.zeros((3, 4), np.uint8), "yx")
    expected = FormatError if isinstance(exc, Exception) else KeyboardInterrupt
    with pytest.raises(expected):
        write(image, tmp_path / "out.tif")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(tmp_path, failing_tiff):
    (tmp_path / "out.tif").write_bytes(b"previous")
    failing_tiff(RuntimeError("boom"))
    with pytest.raises(FormatError, match="out.tif"):
        write(Image(np.zeros((3, 4), np.uint8), "yx"), tmp_path / "out.tif")
    assert (tmp_path / "out.tif").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_ctrl_c_in_the_cli_exits_130_without_output(cli, tmp_path, failing_tiff, sk_data):
    failing_tiff(KeyboardInterrupt())
    result = cli("convert", sk_data / "camera.png", tmp_path / "out.tif")
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_permissions_follow_the_umask(tmp_path):
    write(Image(np.zeros((3, 4), np.uint8), "yx"), tmp_path / "p.png")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "p.png").stat().st_mode) == 0o666 & ~mask


def test_envi_writes_both_files_or_none(tmp_path, monkeypatch):
    from sepconv_cli.io import envi_format

    def broken_header(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(envi_format, "header_text", broken_header)
    with pytest.raises(FormatError, match="No space left"):
        write(Image(np.zeros((3, 4, 2), np.int16), "yxb"), tmp_path / "c.hdr")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_for_other_writers(tmp_path):
    with atomic_file(tmp_path / "r.json", "w") as handle:
        handle.write("{}")
    assert (tmp_path / "r.json").read_text() == "{}"
    with pytest.raises(ValueError), atomic_file(tmp_path / "s.json", "w") as handle:
        handle.write("partial")
        raise ValueError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_temporary_names_keep_compound_suffixes():
    name = temporary_name(Path("/x/brain.nii.gz")).name
    assert name.startswith(".brain.nii.gz.") and name.endswith(".part.nii.gz")
    assert temporary_name(Path("cube")).name.endswith(".part")


def test_refuse_inputs_same_path_and_hard_link(tmp_path):
    source = tmp_path / "in.npy"
    source.write_bytes(b"x")
    with pytest.raises(UsageError):
        refuse_inputs([tmp_path / "sub" / ".." / "in.npy"], [source])
    os.link(source, tmp_path / "link.npy")
    with pytest.raises(UsageError):
        refuse_inputs([tmp_path / "link.npy"], [source])
    refuse_inputs([tmp_path / "other.npy"], [source, "-"])


def test_written_image_refuses_its_own_source(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 3)))
    image = read(tmp_path / "a.npy")
    with pytest.raises(UsageError, match="refusing"):
        write(image, tmp_path / "a.npy")


def test_atomic_paths_check_folder_first(tmp_path):
    with pytest.raises(FormatError, match="does not exist"), atomic_paths([tmp_path / "x" / "y"]):
        pass


def test_non_regular_target_is_refused_and_kept(tmp_path):
    """A FIFO given as an output is refused in one line and left in place (issue 14)."""
    fifo = tmp_path / "out.npy"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"), atomic_paths([fifo]) as (temp,):
        temp.write_bytes(b"x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]
