"""A result the output format cannot hold (float for PNG/JPEG) is refused before filtering.

The same one-line error and exit code as the write-time refusal in ``io.write`` (one rule:
``FileFormat.holds``), no output file, and the engine never runs.
"""

from __future__ import annotations

import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from sepconv_cli import io
from sepconv_cli.cli.app import app
from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image

PNG = "PNG cannot hold float32 data (it holds uint8, uint16); cast with --dtype uint8 or uint16"
JPEG = "JPEG cannot hold float32 data (it holds uint8); cast with --dtype uint8"


@pytest.fixture
def gray(tmp_path):
    """Two small 8-bit gray PNGs written by imageio."""
    rng = np.random.default_rng(7)
    paths = []
    for name in ("a.png", "b.png"):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        iio.imwrite(path, rng.integers(0, 256, (24, 31), dtype=np.uint8))
        paths.append(path)
    return paths


@pytest.fixture
def no_filtering(monkeypatch):
    """Fail the test if the in-memory or the chunked engine is asked to filter."""
    from sepconv_cli.engine import dask_backend, run

    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("filtering ran before the output dtype was checked")

    monkeypatch.setattr(run, "execute", refuse)
    monkeypatch.setattr(dask_backend, "apply_lazy", refuse)
    return calls


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("sepconv: error:")]


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("out.png", [], PNG),
        ("out.jpg", [], JPEG),
        ("out.data", ["--format", "jpeg"], JPEG),
        ("out.png", ["--backend", "dask"], PNG),
    ],
)
def test_single_file_refused_before_filtering(
    runner, gray, tmp_path, no_filtering, name, extra, message
):
    out = tmp_path / name
    result = runner.invoke(
        app, ["apply", str(gray[0]), "-k", "sobel:axis=x", "-o", str(out), *extra]
    )
    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip().splitlines() == [f"sepconv: error: {out}: {message}"]
    assert not no_filtering
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output, no temporary


def test_stdout_refused_before_filtering(runner, gray, no_filtering):
    result = runner.invoke(app, ["apply", str(gray[0]), "-k", "sobel", "-o", "-", "-f", "png"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"sepconv: error: -: {PNG}"]
    assert result.stdout_bytes == b""
    assert not no_filtering


def test_batch_refuses_each_file_before_filtering(runner, gray, tmp_path, no_filtering):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["apply", *map(str, gray), "-k", "sobel:axis=y", "-o", f"{out}/", "-j", "1"]
    )
    assert result.exit_code == 1, result.stderr  # nothing done
    assert _error_lines(result.stderr) == [  # the batch names the input, then io the output
        f"sepconv: error: {source}: {out / source.name}: {PNG}" for source in gray
    ]
    assert not no_filtering
    assert not out.exists() or not any(out.iterdir())


def test_what_the_format_holds_still_runs(runner, gray, tmp_path):
    """Smoothing keeps uint8; --dtype casts; a dry run writes nothing and is not refused."""
    for args in (["-k", "gaussian:sigma=1"], ["-k", "sobel:axis=x", "--dtype", "uint8"]):
        out = tmp_path / f"ok{len(args)}.png"
        result = runner.invoke(app, ["apply", str(gray[0]), *args, "-o", str(out)])
        assert result.exit_code == 0, result.stderr
        assert iio.imread(out).dtype == np.uint8
    dry = runner.invoke(
        app, ["apply", str(gray[0]), "-k", "sobel", "-o", str(tmp_path / "d.png"), "--dry-run"]
    )
    assert dry.exit_code == 0, dry.stderr
    assert not (tmp_path / "d.png").exists()


def test_one_rule_for_the_early_and_the_write_time_check(tmp_path):
    """io.write refuses with the very message the up-front check gives; NIfTI holds floats."""
    target = tmp_path / "x.png"
    with pytest.raises(FormatError) as early:
        io.check_output_dtype(np.float32, target)
    with pytest.raises(FormatError) as late:
        io.write(Image(np.zeros((4, 5), np.float32), "yx"), target)
    assert str(early.value) == str(late.value) == f"{target}: {PNG}"
    assert not target.exists()
    io.check_output_dtype("float64", tmp_path / "x.nii.gz")
    io.check_output_dtype("float32", tmp_path / "x.unknown")  # io.write names the formats


def test_subprocess_exit_code_and_one_line(gray, tmp_path):
    out = tmp_path / "edges.jpg"
    done = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "apply", str(gray[0]), "-k", "sobel", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"sepconv: error: {out}: {JPEG}"]
    assert not out.exists()
