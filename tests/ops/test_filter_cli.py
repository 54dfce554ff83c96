"""`sepconv ops filter`: per-method costs without data, checked against hand-computed counts."""

from __future__ import annotations

import json

import pytest

from sepconv_cli.cli.app import app


def _doc(runner, *args):
    result = runner.invoke(app, ["ops", "filter", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_gaussian_2d_direct_vs_separable(runner):
    # sigma 2 -> radius int(4 * 2 + 0.5) = 8 -> a 17x17 kernel, rank 1.
    doc = _doc(runner, "--shape", "512x300", "-k", "gaussian:sigma=2")
    ops = doc["ops"]
    voxels = 512 * 300
    assert doc["kernel"]["shape"] == [17, 17]
    assert doc["components"][0]["rank"] == 1
    assert (ops["direct"]["mults"], ops["direct"]["adds"]) == (289, 288)
    assert ops["direct"]["total_macs"] == 289 * voxels
    assert (ops["separable"]["mults"], ops["separable"]["adds"]) == (34, 32)
    assert ops["separable"]["total_flops"] == 66 * voxels
    assert ops["separable"]["saving_vs_direct"] == pytest.approx(577 / 66)
    assert "lowrank" not in ops and "fft" in ops
    assert ops["direct"]["bytes"] == 4 * 2 * voxels  # float32 read + write
    assert doc["cheapest"] == "separable"
    # the engine's planner (what `sepconv apply --method auto` runs) picks separable too
    assert doc["auto"]["method"] == "separable"
    assert set(doc["auto"]["predicted_s"]) == set(ops)
    assert (
        _doc(runner, "--shape", "512x300", "-k", "gaussian:sigma=2", "--itemsize", "8")["ops"][
            "direct"
        ]["bytes"]
        == 8 * 2 * voxels
    )


def test_log_3d_is_three_separable_terms(runner):
    # The 3-D Laplacian of Gaussian is exactly a sum of 3 separable terms (one per axis).
    doc = _doc(runner, "--shape", "64x64x64", "-k", "log:sigma=1")
    k = 9  # radius int(4 * 1 + 0.5) = 4
    assert doc["kernel"]["shape"] == [k, k, k]
    assert doc["ops"]["direct"]["macs"] == k**3
    assert doc["ops"]["lowrank"]["terms"] == 3
    assert doc["ops"]["lowrank"]["macs"] == 3 * 3 * k
    assert doc["auto"]["method"] in doc["ops"]


def test_band_axis_and_physical_spacing(runner):
    doc = _doc(
        runner,
        "--shape",
        "100x80x30",
        "--axes",
        "yxb",
        "--spacing",
        "0.5x0.5um",
        "-k",
        "gaussian:sigma=1um",
    )
    assert doc["filtered_axes"] == [0, 1]
    assert doc["kernel"]["sigma_vox"] == [2.0, 2.0]
    assert doc["ops"]["separable"]["total_macs"] == 34 * 100 * 80 * 30


def test_gradient_magnitude_sums_its_kernels(runner):
    doc = _doc(runner, "--shape", "64x64", "-k", "sobel")
    assert len(doc["components"]) == 2
    assert doc["ops"]["direct"]["macs"] == 2 * 9
    assert doc["ops"]["separable"]["macs"] == 2 * 6


def test_table_on_stderr(runner):
    result = runner.invoke(app, ["ops", "filter", "--shape", "4096x4096", "-k", "gaussian:sigma=3"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    for word in ("direct", "separable", "fft", "MAC/vox", "bytes", "sigma in voxels", "auto"):
        assert word in result.stderr


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--shape", "64x64", "-k", "gausian:sigma=2"], "did you mean 'gaussian'"),
        (["--shape", "64xx", "-k", "box:size=3"], "--shape must be integers"),
        (["--shape", "64x64", "--axes", "yxq", "-k", "box:size=3"], "--axes must give"),
        (["--shape", "64x64", "--axes", "yy", "-k", "box:size=3"], "twice"),
        (["--shape", "64x3", "--axes", "xc", "--spacing", "1x1", "-k", "box:size=3"], "--spacing"),
        (["--shape", "64x3", "--axes", "tc", "-k", "box:size=3"], "no spatial axis"),
        (["--shape", "64x64", "--itemsize", "0", "-k", "box:size=3"], "--itemsize"),
    ],
)
def test_errors_exit_2(runner, args, match):
    result = runner.invoke(app, ["ops", "filter", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("sepconv: error: ")
    assert match in result.stderr
    assert result.stderr.count("\n") == 1


def test_fft_crossover_agrees_with_the_cheapest_method(runner):
    """Below the crossover separable has the fewest FLOPs; at it FFT does (band axis batched)."""
    args = ["--shape", "512x512x200", "--axes", "yxb"]
    below = _doc(runner, *args, "-k", "box:size=26")
    crossover = below["fft_crossover"]
    assert crossover == {"direct": 8, "separable": 27, "max_size": 1024}
    assert below["cheapest"] == "separable"
    at = _doc(runner, *args, "-k", "box:size=27")
    assert at["cheapest"] == "fft" and at["fft_crossover"] == crossover
    human = runner.invoke(app, ["ops", "filter", *args, "-k", "box:size=26"])
    assert "FFT has fewer FLOPs than direct from K = 8, than separable from K = 27" in (
        human.stderr
    )
