"""`sepconv apply` for one input: outputs, report, JSON, dry run and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from sepconv_cli.cli.app import app


@pytest.fixture
def volume(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.random((12, 14, 16)).astype(np.float32)
    path = tmp_path / "vol.npy"
    np.save(path, data)
    return path, data


def test_apply_writes_the_filtered_volume_and_reports(runner, volume, tmp_path):
    path, data = volume
    out = tmp_path / "out.npy"
    result = runner.invoke(app, ["apply", str(path), "-k", "gaussian:sigma=1.5", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(
        np.load(out), ndimage.gaussian_filter(data.astype(np.float64), 1.5), atol=1e-6
    )
    for text in ("separable *", "direct", "fft", "MACs/vox", "GMAC/s", "sigma 1.5x1.5x1.5 vox"):
        assert text in result.stderr
    assert result.stdout == ""


def test_json_report_on_stdout_and_report_file(runner, volume, tmp_path):
    path, _ = volume
    report = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "apply",
            str(path),
            "-k",
            "log:sigma=1",
            "-o",
            str(tmp_path / "o.npy"),
            "--json",
            "--report",
            str(report),
            "--verify",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == json.loads(report.read_text())
    assert doc["method"] == "lowrank" and doc["kernels"][0]["rank"] == 3
    assert set(doc["ops"]) == {"direct", "lowrank", "fft"}
    assert doc["time_s"] > 0 and doc["total_s"] >= doc["time_s"]
    assert doc["verify"]["max_abs_error"] < 1e-5
    assert result.stderr == ""


def test_dry_run_writes_nothing(runner, volume, tmp_path):
    path, _ = volume
    out = tmp_path / "never.npy"
    result = runner.invoke(
        app, ["apply", str(path), "-k", "disk:radius=2", "-o", str(out), "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert not out.exists()
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True and doc["time_s"] is None
    assert "dry run" in result.stderr


def test_chain_spectral_and_options(runner, tmp_path):
    rng = np.random.default_rng(1)
    cube = rng.random((10, 11, 20)).astype(np.float32)
    path = tmp_path / "cube.npy"
    np.save(path, cube)
    out = tmp_path / "c.npy"
    result = runner.invoke(
        app,
        [
            "apply",
            str(path),
            "--axes",
            "yxb",
            "-k",
            "box:size=3",
            "--spectral",
            "box:size=5",
            "--mode",
            "replicate",
            "--method",
            "fft",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.stderr
    expected = ndimage.uniform_filter(cube.astype(np.float64), (3, 3, 5), mode="nearest")
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "fastest"], "unknown method 'fastest'"),
        (["--mode", "bounce"], "unknown boundary mode 'bounce'"),
        (["--spectral", "box:size=3"], "--spectral needs a band axis"),
        (["-k", "[[[1,2],[3,4]],[[1,2],[3,4]]]"], "3 axes"),
        (["--nan", "skip"], "unknown NaN policy"),
        (["--backend", "gpu"], "(choices: auto, numpy, numba, dask)"),
        (["--mode", "constant", "--cval", "nan"], "--cval must be a finite number"),
    ],
)
def test_bad_input_is_one_line_exit_2(runner, tmp_path, args, message):
    path = tmp_path / "img.npy"
    np.save(path, np.zeros((8, 9), np.float32))
    base = ["apply", str(path), "-o", str(tmp_path / "o.npy")]
    if "-k" not in args:
        base += ["-k", "box:size=3"]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sepconv: error:")
    assert message in lines[0]
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_mask_of_another_shape_exit_2(runner, tmp_path, extra):
    path, mask = tmp_path / "img.npy", tmp_path / "mask.npy"
    np.save(path, np.zeros((8, 9), np.float32))
    np.save(mask, np.ones((8, 8), np.uint8))
    result = runner.invoke(
        app,
        [
            "apply",
            str(path),
            "-k",
            "box:size=3",
            "--mask",
            str(mask),
            "-o",
            str(tmp_path / "o.npy"),
            *extra,
        ],
    )
    assert result.exit_code == 2
    assert "--mask shape 8x8" in result.stderr


def test_subprocess_exit_code_and_plain_report(tmp_path):
    path = tmp_path / "img.npy"
    np.save(path, np.arange(64, dtype=np.uint16).reshape(8, 8))
    base = [sys.executable, "-m", "sepconv_cli", "apply", str(path), "-o", str(tmp_path / "o.npy")]
    bad = subprocess.run(
        [*base, "-k", "box:size=3", "--method", "nope"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    ok = subprocess.run(
        [*base, "-k", "gaussian:sigma=1"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "\x1b[" not in ok.stderr and "separable *" in ok.stderr
    assert np.load(tmp_path / "o.npy").dtype == np.uint16


def test_dask_backend_from_the_cli(runner, volume, tmp_path):
    pytest.importorskip("dask")
    path, data = volume
    out = tmp_path / "d.npy"
    result = runner.invoke(
        app,
        [
            "apply",
            str(path),
            "-k",
            "gaussian:sigma=1",
            "-o",
            str(out),
            "--backend",
            "dask",
            "--chunks",
            "8",
            "--json",
            "--verify",
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["backend"] == "dask" and doc["dask"]["n_chunks"] > 1
    assert doc["verify"]["max_abs_error"] < 1e-6
    assert "halo overhead" in result.stderr
    np.testing.assert_allclose(
        np.load(out), ndimage.gaussian_filter(data.astype(np.float64), 1.0), atol=1e-6
    )


def test_spacing_option_resolves_physical_units(runner, tmp_path):
    path = tmp_path / "img.npy"
    data = np.random.default_rng(3).random((30, 31)).astype(np.float32)
    np.save(path, data)
    out = tmp_path / "o.npy"
    args = ["apply", str(path), "-k", "gaussian:sigma=2mm", "-o", str(out), "--json", "-q"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2 and "spacing" in missing.stderr
    result = runner.invoke(app, [*args, "--spacing", "0.5x1mm"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["kernels"][0]["sigma_vox"] == [4.0, 2.0]
    expected = ndimage.gaussian_filter(data.astype(np.float64), (4.0, 2.0))
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_stdin_to_stdout_pipe(tmp_path):
    import io

    imageio = pytest.importorskip("imageio.v3")
    rng = np.random.default_rng(4)
    data = (rng.random((20, 22, 3)) * 255).astype(np.uint8)
    png = imageio.imwrite("<bytes>", data, extension=".png")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sepconv_cli",
            "apply",
            "-",
            "-k",
            "box:size=3",
            "-o",
            "-",
            "--format",
            "png",
            "--mode",
            "nearest",
        ],
        input=png,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    out = imageio.imread(io.BytesIO(done.stdout), extension=".png")
    expected = ndimage.uniform_filter(data.astype(np.float64), (3, 3, 1), mode="nearest")
    assert out.dtype == np.uint8
    assert np.abs(out - expected).max() <= 0.5 + 1e-3
    assert b"separable" in done.stderr


def test_rich_table_on_a_terminal(monkeypatch):
    from rich.console import Console

    from sepconv_cli.cli import report as report_module
    from sepconv_cli.engine import ApplyOptions, apply
    from sepconv_cli.image import Image

    console = Console(record=True, width=140, force_terminal=True)
    monkeypatch.setattr(report_module, "stderr_is_interactive", lambda: True)
    monkeypatch.setattr(report_module, "err_console", lambda: console)
    _, report = apply(
        Image(np.ones((16, 16), np.float32), "yx"),
        ["gaussian:sigma=1", "sobel"],
        ApplyOptions(verify=True),
    )
    report_module.render(report.to_dict())
    text = console.export_text()
    for expected in ("predicted cost per method", "1: separable *", "2: fft", "verify", "GMAC/s"):
        assert expected in text


@pytest.mark.parametrize(
    "args", [["--rank", "0"], ["--rank", "two"], ["--workers", "0"], ["--no-such-option"], ["-k"]]
)
def test_option_parsing_errors_are_usage_errors(runner, tmp_path, args):
    path = tmp_path / "img.npy"
    np.save(path, np.zeros((8, 9), np.float32))
    out = tmp_path / "o.npy"
    result = runner.invoke(app, ["apply", str(path), "-o", str(out), "-k", "box:size=3", *args])
    assert result.exit_code == 2, result.stderr
    assert "internal error" not in result.stderr
    assert not out.exists()


def test_rich_report_prints_brackets_literally_and_costlier_methods(monkeypatch):
    """File names, kernel roles and warnings with [...] are text, not Rich markup."""
    from rich.console import Console

    from sepconv_cli.cli import report as report_module
    from sepconv_cli.engine import ApplyOptions, apply
    from sepconv_cli.image import Image

    console = Console(record=True, width=200, force_terminal=True)
    monkeypatch.setattr(report_module, "stderr_is_interactive", lambda: True)
    monkeypatch.setattr(report_module, "err_console", lambda: console)
    _, report = apply(
        Image(np.ones((16, 16), np.float32), "yx"), ["box:size=3"], ApplyOptions(method="fft")
    )
    doc = report.to_dict()
    doc["input"] = "/data/[red]/scan[1].npy"
    doc["warnings"].append("pip install 'sepconv-cli[numba]'")
    report_module.render(doc)
    text = console.export_text()
    for expected in ("/data/[red]/scan[1].npy", "[spatial yx]", "sepconv-cli[numba]"):
        assert expected in text
    assert "x more FLOPs than direct" in text and "0.0x" not in text


@pytest.mark.parametrize(
    ("report", "code", "message"),
    [
        ("missing/report.json", 1, "does not exist"),
        (".", 2, "is a directory"),
        ("vol.npy", 2, "refusing to overwrite the input"),
        ("out.npy", 2, "is the output file"),
    ],
)
def test_bad_report_path_is_refused_before_any_work(
    runner, volume, tmp_path, monkeypatch, report, code, message
):
    path, data = volume
    monkeypatch.chdir(tmp_path)
    args = ["apply", str(path), "-k", "box:size=3", "-o", "out.npy", "--report", report]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.stderr
    assert f"--report {report}" in result.stderr and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vol.npy"]  # no output written
    np.testing.assert_array_equal(np.load(path), data)


def test_report_dash_is_one_json_document_on_stdout(runner, volume, tmp_path, monkeypatch):
    path, _ = volume
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "o.npy"
    args = ["apply", str(path), "-k", "box:size=3", "-o", str(out), "--report", "-", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one document
    assert doc["output"] == str(out) and doc["method"] == "separable"
    assert not (tmp_path / "-").exists() and out.exists()


@pytest.mark.parametrize("extra", [["--json", "-o", "o.npy"], ["-o", "-", "--format", "npy"]])
def test_report_dash_with_another_stdout_user_is_a_usage_error(
    runner, volume, tmp_path, monkeypatch, extra
):
    path, _ = volume
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["apply", str(path), "-k", "box:size=3", "--report", "-", *extra])
    assert result.exit_code == 2, result.stderr
    assert "--report -" in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vol.npy"]


def test_report_file_is_written_atomically(runner, volume, tmp_path):
    path, _ = volume
    report = tmp_path / "report.json"
    report.write_text("old")
    args = ["apply", str(path), "-k", "box:size=3", "-o", str(tmp_path / "o.npy")]
    result = runner.invoke(app, [*args, "--report", str(report), "-q"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(report.read_text())["method"] == "separable"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.npy", "report.json", "vol.npy"]


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_chunk_progress_bar_only_for_chunked_runs(volume, tmp_path, monkeypatch, backend):
    import io

    from rich.console import Console

    from sepconv_cli.cli import console as console_module
    from sepconv_cli.cli.apply import chunk_progress
    from sepconv_cli.engine.options import ApplyOptions
    from sepconv_cli.pipeline import apply_file

    path, _ = volume
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    monkeypatch.setattr(console_module, "stderr_is_interactive", lambda: True)
    monkeypatch.setattr(console_module, "err_console", lambda: console)
    chunks = "4" if backend == "dask" else None
    options = ApplyOptions(kernels=("box:size=3",), backend=backend, chunks=chunks)
    with chunk_progress(enabled=True) as progress:
        doc = apply_file(path, tmp_path / "o.npy", options, progress=progress)
    assert doc["backend"] == backend
    if backend == "dask":
        n = doc["dask"]["n_chunks"]
        assert "chunks" in stream.getvalue() and f"{n}/{n}" in stream.getvalue()
        assert "0/?" not in stream.getvalue()
    else:
        assert stream.getvalue() == ""  # no "chunks 0/?" bar for an in-memory run


def apply_help(runner) -> str:
    result = runner.invoke(app, ["apply", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return " ".join(result.stdout.split())


def test_help_memory_limit_takes_a_share_and_dask_options_select_dask(runner):
    text = apply_help(runner)
    assert "share of RAM (50%)" in text and "RAM/4" not in text
    assert text.count("selects the dask backend") == 2  # --scheduler and --workers


def test_help_documents_report_dash(runner):
    assert "--report FILE" in apply_help(runner) and "'-': stdout" in apply_help(runner)
