"""`sepconv apply` with the Dask options, in process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi

from sepconv_cli import io
from sepconv_cli.cli.app import app
from sepconv_cli.engine.dask_chunks import parse_memory
from sepconv_cli.errors import UsageError


def test_apply_to_ome_zarr_reports_the_chunks(tmp_path, runner, rng):
    x = rng.random((20, 30, 24)).astype(np.float32)
    np.save(tmp_path / "vol.npy", x)
    out = tmp_path / "vol.ome.zarr"
    result = runner.invoke(
        app,
        [
            "apply",
            str(tmp_path / "vol.npy"),
            "-k",
            "gaussian:sigma=1",
            "--backend",
            "dask",
            "--chunks",
            "8x16x24",
            "--workers",
            "2",
            "--memory-limit",
            "32MiB",
            "-o",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["backend"] == "dask"
    assert doc["dask"]["chunks"] == [8, 16, 24] and doc["dask"]["n_chunks"] == 3 * 2
    # A small limit still leaves each worker process room for itself.
    assert doc["dask"]["scheduler"] == "local-cluster" and doc["dask"]["workers"] == 2
    assert doc["dask"]["memory_limit_per_worker"] == 16 * 2**20
    assert doc["dask"]["halo_overhead"] > 0 and doc["dask"]["per_worker"]
    image = io.read(out)
    reference = ndi.gaussian_filter(x.astype(np.float64), 1.0, mode="reflect")
    assert image.axes == "zyx"
    assert np.abs(np.asarray(image.data) - reference).max() <= 1e-6


def test_usage_errors_exit_2_with_one_line(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((8, 8), np.float32))
    base = [
        sys.executable,
        "-m",
        "sepconv_cli",
        "apply",
        str(tmp_path / "a.npy"),
        "-k",
        "box:size=3",
        "--backend",
        "dask",
        "-o",
        str(tmp_path / "b.npy"),
    ]
    for extra, text in (
        (["--chunks", "4x4x4"], "--chunks '4x4x4' gives 3 sizes for 2 axes"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["--scheduler", "no-port"], "--scheduler 'no-port': not a scheduler address"),
    ):
        proc = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sepconv: error: ")
        assert text in proc.stderr
    assert not (tmp_path / "b.npy").exists()


def test_parse_memory():
    assert parse_memory("128MiB") == 128 * 2**20 and parse_memory("2GB") == 2 * 10**9
    for bad in ("lots", "-5MB", "0%", "150%", "half%"):
        with pytest.raises(UsageError, match="--memory-limit"):
            parse_memory(bad)
    from sepconv_cli.engine.options import physical_memory

    assert parse_memory("25%") == physical_memory() // 4


def test_zarr_store_above_the_limit_is_read_lazily(tmp_path, runner, rng, monkeypatch):
    """A Zarr store's size is in its chunk files: the planner's switch to dask must not be
    preceded by loading the whole store."""
    from sepconv_cli.image import Image
    from sepconv_cli.io import zarr_format

    x = rng.random((16, 64, 64)).astype(np.float32)
    io.write(Image(x, "zyx"), tmp_path / "in.zarr")
    reads = []
    original = zarr_format.read

    def spy(path, *, axes=None, lazy=False):
        reads.append(lazy)
        return original(path, axes=axes, lazy=lazy)

    monkeypatch.setattr(zarr_format, "read", spy)
    result = runner.invoke(
        app,
        [
            "apply",
            str(tmp_path / "in.zarr"),
            "-k",
            "box:size=3",
            "--memory-limit",
            "64KiB",
            "-o",
            str(tmp_path / "out.zarr"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "dask"
    assert reads == [True]
    got = np.asarray(io.read(tmp_path / "out.zarr").data)
    assert np.abs(got - ndi.uniform_filter(x.astype(np.float64), 3, mode="reflect")).max() <= 1e-6


def test_dask_options_select_dask_or_contradict_an_in_memory_backend(tmp_path, runner):
    """--workers/--scheduler under --backend auto mean dask; with --backend numpy or numba
    they (and --chunks) are a usage error instead of being ignored."""
    np.save(tmp_path / "a.npy", np.zeros((40, 30), np.float32))
    base = ["apply", str(tmp_path / "a.npy"), "-k", "box:size=5", "-o", str(tmp_path / "b.npy")]
    result = runner.invoke(app, [*base, "--backend", "numpy", "--chunks", "8", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers, --chunks only apply to --backend dask" in result.stderr
    assert not (tmp_path / "b.npy").exists()
    result = runner.invoke(app, [*base, "--workers", "3", "--chunks", "20", "--dry-run", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["backend"] == "dask" and "--workers 3" in doc["backend_why"]
    # The dry run plans the chunks (without starting a cluster) and runs nothing.
    dask = doc["dask"]
    assert dask["planned"] and dask["scheduler"] == "local-cluster" and dask["workers"] == 3
    assert dask["chunks"] == [20, 20] and dask["n_chunks"] == 4
    assert dask["halo_overhead"] == pytest.approx((48 * 38 - 1200) / 1200)
    assert not any("streams files" in w for w in doc["warnings"])
    assert not (tmp_path / "b.npy").exists()
    # Above --memory-limit the planner picks dask and says why, in readable sizes.
    result = runner.invoke(app, [*base, "--memory-limit", "1KiB", "--dry-run", "--json"])
    doc = json.loads(result.stdout)
    assert doc["backend"] == "dask"
    assert doc["backend_why"] == "input 4.69 KiB exceeds the memory limit 1 KiB"


def test_counts_and_warnings_match_the_in_memory_run(tmp_path, runner, rng):
    """Non-finite inputs and clipped outputs are counted over the chunks (each voxel once,
    halos excluded) and warned about as the in-memory run does."""
    x = rng.random((30, 40)).astype(np.float32) * 200
    x[3, 4], x[29, 39], x[15, 0] = np.nan, np.inf, -np.inf
    np.save(tmp_path / "a.npy", x)
    docs = []
    for extra in ([], ["--backend", "dask", "--chunks", "4x7"]):
        args = ["apply", str(tmp_path / "a.npy"), "-k", "box:size=3", "--dtype", "uint8"]
        out = tmp_path / f"out{len(docs)}.npy"
        result = runner.invoke(app, [*args, *extra, "--mode", "wrap", "-o", str(out), "--json"])
        assert result.exit_code == 0, result.stderr
        docs.append(json.loads(result.stdout))
    memory, chunked = docs
    assert chunked["backend"] == "dask" and chunked["dask"]["n_chunks"] == 8 * 6
    assert chunked["nonfinite"] == memory["nonfinite"] == 3
    assert chunked["clipped"] == memory["clipped"] > 0
    assert chunked["warnings"] == memory["warnings"]
    np.testing.assert_array_equal(np.load(tmp_path / "out1.npy"), np.load(tmp_path / "out0.npy"))


def test_chunks_above_the_memory_limit_are_warned_about(tmp_path, runner):
    """An explicit --chunks whose tasks need more than --memory-limit runs, with a warning."""
    np.save(tmp_path / "a.npy", np.ones((64, 64, 64), np.float32))
    args = ["apply", str(tmp_path / "a.npy"), "-k", "gaussian:sigma=2", "--backend", "dask"]
    out = ["-o", str(tmp_path / "b.npy"), "--json", "--memory-limit", "4MiB"]
    doc = json.loads(runner.invoke(app, [*args, *out, "--chunks", "64"]).stdout)
    # (64 + 2 x 8)^3 float32 samples x 6 working copies = 11.7 MiB for the one task.
    assert doc["warnings"] == [
        "chunks 64x64x64 need about 11.7 MiB per task, 1 at once: more than --memory-limit "
        "4 MiB; give smaller --chunks or fewer workers"
    ]
    doc = json.loads(runner.invoke(app, [*args, *out]).stdout)
    assert doc["warnings"] == [] and doc["dask"]["n_chunks"] > 1


def test_compressed_tiff_above_the_limit_is_read_lazily(tmp_path, monkeypatch):
    """A deflate-compressed stack holds far more than its file size: its pixel bytes, not
    the file's, decide that it is read lazily (page by page) rather than loaded whole."""
    import tifffile

    import sepconv_cli.io
    from sepconv_cli.engine import ApplyOptions
    from sepconv_cli.pipeline import apply_file

    x = np.zeros((64, 128, 128), np.uint16)  # 2 MiB of pixels
    x[:, ::7, ::5] = 1000
    tifffile.imwrite(tmp_path / "in.tif", x, compression="zlib")
    assert (tmp_path / "in.tif").stat().st_size < 2**20 < x.nbytes
    reads = []
    original = sepconv_cli.io.read

    def spy(path, *args, lazy=False, **kwargs):
        reads.append(lazy)
        return original(path, *args, lazy=lazy, **kwargs)

    monkeypatch.setattr(sepconv_cli.io, "read", spy)
    options = ApplyOptions(kernels=("gaussian:sigma=1",), memory_limit="1MiB")
    doc = apply_file(tmp_path / "in.tif", tmp_path / "out.npy", options)
    assert reads == [True] and doc["backend"] == "dask"
    expected = ndi.gaussian_filter(x.astype(np.float64), 1.0, mode="reflect")
    assert np.abs(np.load(tmp_path / "out.npy") - expected).max() <= 1.0
