"""apply_lazy equals the in-memory engine for every method, mode and chunking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sepconv_cli.engine import ApplyOptions, apply, plan
from sepconv_cli.engine.dask_backend import apply_lazy
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")
METHODS = ("direct", "separable", "lowrank", "fft")


def _rank2_kernel() -> Kernel:
    """A 5x3 kernel of rank 2 (sum of two separable terms), off-centre."""
    a = np.outer([1.0, 2.0, 3.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    b = np.outer([0.0, 1.0, 0.0, -1.0, 0.5], [1.0, 2.0, 1.0])
    return Kernel(a + 0.5 * b, name="custom", origin=(1, 0))


def _run_both(tmp_path: Path, image: Image, kernels, chunks: str, **opts):
    options = ApplyOptions(kernels=tuple(str(k) for k in kernels), **opts)
    expected, _ = apply(image, kernels, options)
    lazy_options = ApplyOptions(kernels=options.kernels, backend="dask", chunks=chunks, **opts)
    p = plan(image, kernels, lazy_options)
    assert p.backend == "dask"
    out = tmp_path / f"out-{chunks}.npy"
    stats = apply_lazy(image, p, out, p.options)
    # The output's scale: max|x| times the product of the kernels' L1 norms.
    stats["scale"] = float(np.abs(image.data[np.isfinite(image.data)]).max()) * float(
        np.prod([sum(np.abs(part.weights).sum() for part in s.parts) for s in p.steps])
    )
    return expected.data, np.load(out), stats


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_every_method_and_mode(tmp_path, rng, method, mode):
    """float32 image, rank-2 kernel, chunks smaller than the halo: equal within
    1e-6 × max|x| × sum|w| (sum|w| bounds the output's scale; it is 1 for smoothing kernels)."""
    x = rng.standard_normal((21, 26)).astype(np.float32) * 100
    image = Image(x, "yx")
    kernel = _rank2_kernel() if method != "separable" else "gaussian:sigma=1.5"
    for chunks in ("2x3", "9"):
        expected, got, stats = _run_both(
            tmp_path, image, [kernel], chunks, method=method, mode=mode, cval=3.0
        )
        assert got.dtype == expected.dtype == np.float32
        assert np.abs(got - expected).max() <= 1e-6 * stats["scale"], chunks
    assert stats["n_chunks"] == 9  # ceil(21/9) x ceil(26/9)


@pytest.mark.parametrize("mode", MODES)
def test_chain_of_kernels_3d(tmp_path, rng, mode):
    """Two kernels in a row (derivative after smoothing) on a volume: every step extends its
    own input, which chunked runs reproduce by rebuilding block edges between steps."""
    x = (rng.random((14, 17, 19)) * 1000).astype(np.float32)
    image = Image(x, "zyx", spacing=(2.0, 1.0, 1.0), units=("um",) * 3)
    kernels = ["gaussian:sigma=1", "sobel:axis=x"]
    for chunks in ("5", "4x8x19", "64"):
        expected, got, stats = _run_both(tmp_path, image, kernels, chunks, mode=mode, cval=-2.0)
        assert np.abs(got - expected).max() <= 1e-6 * stats["scale"], chunks


def test_integer_output_and_clipping_count(tmp_path, rng):
    """uint8 in, uint8 out (smoothing keeps the dtype); clipped values are counted."""
    x = rng.integers(0, 256, (30, 31), dtype=np.uint8)
    image = Image(x, "yx")
    expected, got, stats = _run_both(
        tmp_path, image, ["box:size=5"], "7", mode="constant", cval=400.0
    )
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    assert stats["clipped"] > 0


def test_nan_policies_and_mask(tmp_path, rng):
    """NaN propagate/ignore and a spatial mask give the in-memory result."""
    x = rng.random((24, 20, 3)).astype(np.float32)
    x[5, 7, 1] = np.nan
    x[0, 0, 0] = np.inf
    image = Image(x, "yxc")
    mask = rng.random((24, 20)) > 0.3
    for nan in ("propagate", "ignore", "zero"):
        expected, got, _ = _run_both(
            tmp_path, image, ["gaussian:sigma=1.2"], "6", mode="mirror", nan=nan
        )
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        finite = np.isfinite(expected)
        assert np.abs(got[finite] - expected[finite]).max() <= 1e-6
    expected, got, _ = _run_both(
        tmp_path, image, ["gaussian:sigma=1.2"], "5", mode="reflect", mask=mask, nan="ignore"
    )
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(finite, np.isfinite(got))
    assert np.abs(got[finite] - expected[finite]).max() <= 1e-6


def test_report_extras(tmp_path, rng):
    """Chunks, number of chunks, halo overhead and per-worker throughput are reported."""
    x = rng.random((40, 40)).astype(np.float32)
    image = Image(x, "yx")
    _, _, stats = _run_both(tmp_path, image, ["box:size=5"], "10", mode="wrap")
    assert stats["chunks"] == [10, 10] and stats["n_chunks"] == 16
    assert stats["halo"] == [2, 2]
    assert stats["halo_overhead"] == pytest.approx((14 * 14 * 16 - 1600) / 1600)
    assert sum(w["voxels"] for w in stats["per_worker"]) == 1600
    assert all(w["voxels_per_second"] > 0 for w in stats["per_worker"])
