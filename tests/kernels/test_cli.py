"""`sepconv kernel` and `sepconv check` driven through Typer's CliRunner and a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sepconv_cli.cli.app import app
from sepconv_cli.kernels import build_kernel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_kernel_json(runner):
    doc = _json(runner.invoke(app, ["kernel", "gaussian:sigma=1.5x1", "--json"]))
    assert doc["shape"] == [13, 9]
    weights = np.array(doc["weights"])
    np.testing.assert_allclose(weights, build_kernel("gaussian:sigma=1.5x1").weights)
    np.testing.assert_allclose(np.outer(*doc["factors"]), weights, atol=1e-15)
    assert doc["sum"] == pytest.approx(1.0)
    assert doc["smoothing"] is True
    assert doc["params"]["sigma_vox"] == [1.5, 1.0]
    custom = _json(runner.invoke(app, ["kernel", "[[1,2],[3,5]]", "--json"]))
    assert custom["factors"] is None


def test_kernel_human_output_on_stderr(runner):
    result = runner.invoke(app, ["kernel", "sobel:axis=x"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "exact factors" in result.stderr
    assert "axis 0: [1, 2, 1]" in result.stderr
    assert "axis 1: [1, 0, -1]" in result.stderr
    gauss = runner.invoke(app, ["kernel", "gaussian:fwhm=6mm", "--spacing", "2x2x3mm"])
    assert gauss.exit_code == 0
    assert "truncated tail mass" in gauss.stderr
    assert "shape 11×11×7" in gauss.stderr


def test_kernel_gradient_magnitude_is_explained(runner):
    result = runner.invoke(app, ["kernel", "scharr", "--ndim", "3"])
    assert result.exit_code == 0
    assert "gradient magnitude of 3 kernels" in result.stderr
    doc = _json(runner.invoke(app, ["kernel", "scharr", "--json"]))
    assert doc["combine"] == "magnitude" and len(doc["components"]) == 2
    bad = runner.invoke(app, ["kernel", "sobel", "-o", "k.npy"])
    assert bad.exit_code == 2
    assert "add axis=" in bad.stderr


@pytest.mark.parametrize("name", ["k.npy", "k.csv", "k.txt"])
def test_kernel_output_files_round_trip(runner, tmp_path, name):
    target = tmp_path / name
    result = runner.invoke(app, ["kernel", "log:sigma=1", "--ndim", "3", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    back = build_kernel(f"@{target}", ndim=3)
    np.testing.assert_allclose(back.weights, build_kernel("log:sigma=1", ndim=3).weights, rtol=0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_kernel_list(runner):
    result = runner.invoke(app, ["kernel", "--list"])
    assert result.exit_code == 0
    for name in ("gaussian", "sobel", "savgol", "disk", "custom", "truncate=4"):
        assert name in result.stderr
    doc = _json(runner.invoke(app, ["kernel", "--list", "--json"]))
    names = [entry["name"] for entry in doc["kernels"]]
    assert names[0] == "gaussian" and "dog" in names
    gaussian = doc["kernels"][0]
    assert {"key": "truncate", "default": "4"}.items() <= gaussian["keys"][4].items()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["kernel", "gausian:sigma=2"], 2, "did you mean 'gaussian'"),
        (["kernel", "gaussian:sigam=2"], 2, "unknown key 'sigam'; did you mean 'sigma'"),
        (["kernel", "gaussian:sigma=2mm"], 2, "spacing, which is unknown"),
        (["kernel", "gaussian:sigma=-2"], 2, "sigma must be >= 0"),
        (["kernel", "@missing.csv"], 1, "no such file"),
        (["kernel"], 2, "give a kernel SPEC"),
        (["kernel", "box", "-o", "k.bmp"], 2, "unknown kernel file type"),
        (["kernel", "box", "--plot", "k.xyz"], 2, "unknown picture type"),
        (["check", "box", "--tol", "-1"], 2, "--tol must be >= 0"),
        (["check", "box", "--image-shape", "5x5x5"], 2, "give 2 positive sizes"),
        (["check", "[[1,2],[3]]"], 2, "ragged rows"),
    ],
)
def test_errors_are_one_line(runner, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sepconv: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_check_sobel_json(runner):
    doc = _json(runner.invoke(app, ["check", "sobel:axis=x", "--json"]))
    assert doc["shape"] == [3, 3]
    assert doc["rank"] == 1 and doc["separable"] is True
    assert doc["integer_factors"]["factors"] == [[1, 2, 1], [1, 0, -1]]
    assert doc["integer_factors"]["scale"] == "1"
    s = doc["singular_values"]
    assert len(s) == 3 and s[0] == pytest.approx(np.sqrt(12)) and abs(s[1]) < 1e-12
    np.testing.assert_allclose(np.outer(*doc["factors"]), build_kernel("sobel:axis=x").weights)
    assert doc["terms"][0] == {
        "rank": 1,
        "rel_error": 0.0,
        "max_abs_error": 0.0,
        "mults_per_voxel": 6,
        "cancellation": pytest.approx(1.0),
        "meets_tol": True,
    }
    costs = doc["costs"]
    assert costs["direct"]["mults"] == 9 and costs["direct"]["adds"] == 8
    assert costs["separable"]["mults"] == 6 and costs["separable"]["flops"] == 10
    assert costs["separable"]["saving_vs_direct"] == pytest.approx(1.7)
    assert "fft" in costs


def test_check_disk_json_and_table(runner):
    doc = _json(runner.invoke(app, ["check", "disk:radius=5", "--json", "--max-rank", "4"]))
    assert doc["separable"] is False and doc["factors"] is None
    errors = [t["rel_error"] for t in doc["terms"]]
    assert [t["rank"] for t in doc["terms"]] == [1, 2, 3, 4]
    assert errors[0] > errors[-1]
    assert [t["mults_per_voxel"] for t in doc["terms"]] == [22, 44, 66, 88]
    human = runner.invoke(app, ["check", "disk:radius=5", "--max-rank", "4"])
    assert human.exit_code == 0
    assert "singular values" in human.stderr
    assert "best sum of r separable terms" in human.stderr
    assert "saving (mults)" in human.stderr and "saving (FLOPs)" in human.stderr


def test_check_nd_partial_split(runner, tmp_path):
    rng = np.random.default_rng(5)
    cube = np.multiply.outer(rng.uniform(0.1, 1, (5, 5)), np.array([1.0, 2.0, 1.0]))
    np.save(tmp_path / "cube.npy", cube)
    doc = _json(runner.invoke(app, ["check", str(tmp_path / "cube.npy"), "--json"]))
    assert doc["ndim"] == 3 and doc["singular_values"] is None
    assert doc["unfolding_ranks"] == [5, 5, 1]
    assert {"groups": [[0, 1], [2]], "rank": 1} in doc["splits"]
    human = runner.invoke(app, ["check", str(tmp_path / "cube.npy")])
    assert "2-D ⊗ 1-D kernel" in human.stderr


def test_check_gradient_magnitude_components(runner):
    doc = _json(runner.invoke(app, ["check", "prewitt", "--ndim", "3", "--json"]))
    assert doc["combine"] == "magnitude"
    assert len(doc["components"]) == 3
    assert doc["separable"] is True
    assert doc["components"][2]["integer_factors"]["factors"] == [[1, 1, 1], [1, 1, 1], [1, 0, -1]]


def test_check_file_argument_without_at(runner, tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("1,2,1\n2,4,2\n1,2,1\n")
    doc = _json(runner.invoke(app, ["check", str(path), "--json"]))
    assert doc["rank"] == 1
    assert doc["integer_factors"]["scale"] == "1/16"


def test_require_separable_exit_codes_in_a_subprocess():
    base = [sys.executable, "-m", "sepconv_cli", "check"]
    failed = subprocess.run(
        [*base, "laplace", "--require-separable"], capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 4
    assert "not separable" in failed.stderr
    assert "rank 2" in failed.stderr
    passed = subprocess.run(
        [*base, "gaussian:sigma=2", "--require-separable", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert passed.returncode == 0
    assert json.loads(passed.stdout)["separable"] is True


def test_plots_are_written(runner, tmp_path):
    for args in (
        ["kernel", "savgol:window=9", "--plot"],
        ["kernel", "sobel:axis=y", "--plot"],
        ["kernel", "disk:radius=3", "--plot"],
        ["kernel", "gaussian:sigma=1", "--ndim", "3", "--plot"],
        ["check", "disk:radius=3", "--plot"],
        ["check", "log:sigma=1", "--ndim", "3", "--max-rank", "3", "--plot"],
    ):
        target = tmp_path / f"{len(list(tmp_path.iterdir()))}.png"
        result = runner.invoke(app, [*args, str(target)])
        assert result.exit_code == 0, result.stderr
        assert target.read_bytes()[:8] == PNG_MAGIC


def test_plot_without_matplotlib_says_how_to_install(runner, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = runner.invoke(app, ["kernel", "box", "--plot", str(tmp_path / "k.png")])
    assert result.exit_code == 1
    assert "pip install 'sepconv-cli[plot]'" in result.stderr
    assert not (tmp_path / "k.png").exists()


@pytest.mark.parametrize(
    "spec",
    [
        "gaussian:sigma=1",
        "log:sigma=1",
        "dog:sigma1=1,sigma2=2",
        "sobel",
        "scharr:axis=y",
        "prewitt:axis=0",
        "laplace",
        "box:size=4",
        "binomial:n=3",
        "disk:radius=2",
        "savgol:window=5",
        "[[1,2,1],[2,4,2],[1,2,1]]",
        "[1,-1]",
    ],
)
def test_every_kernel_family_shows_and_checks(runner, spec):
    shown = runner.invoke(app, ["kernel", spec])
    assert shown.exit_code == 0, shown.stderr
    assert "shape" in shown.stderr
    checked = runner.invoke(app, ["check", spec, "--max-rank", "3", "--json"])
    doc = _json(checked)
    assert doc["rank"] >= 0 and len(doc["terms"]) >= 1


def test_single_spacing_applies_to_every_axis(runner):
    doc = _json(
        runner.invoke(app, ["kernel", "gaussian:sigma=1mm", "--spacing", "0.5mm", "--json"])
    )
    assert doc["ndim"] == 2 and doc["params"]["sigma_vox"] == [2.0, 2.0]
    doc = _json(
        runner.invoke(
            app, ["kernel", "gaussian:sigma=1mm", "--spacing", "500um", "--ndim", "3", "--json"]
        )
    )
    assert doc["params"]["sigma_vox"] == [2.0, 2.0, 2.0]
    shown = runner.invoke(app, ["kernel", "laplace", "--ndim", "3"])
    assert "slice axis 0 = 0:" in shown.stderr
    assert "exactly a sum of 3 separable terms" in shown.stderr


def test_require_separable_on_a_gradient_magnitude(runner):
    ok = runner.invoke(app, ["check", "sobel", "--require-separable"])
    assert ok.exit_code == 0
    assert "gradient magnitude of 2 kernels" in ok.stderr
    assert "not a single convolution" in ok.stderr
    even = _json(runner.invoke(app, ["check", "box:size=4", "--json"]))
    assert any("origin is index 2" in note for note in even["notes"])
    failed = runner.invoke(app, ["check", "disk:radius=3", "--require-separable", "--json"])
    assert failed.exit_code == 4
    assert json.loads(failed.stdout)["separable"] is False
    assert failed.stderr.strip().splitlines()[-1].startswith("sepconv: error: disk:radius=3")


def test_help_names_every_kernel_of_the_registry():
    # the help text is static so that `sepconv --help` needs no NumPy; keep it in step
    from sepconv_cli.cli.kernel import _SPEC_HELP
    from sepconv_cli.kernels import KERNELS

    listed = _SPEC_HELP.split("Kernels: ")[1].split(" (")[0].split()
    assert listed == [name for name in KERNELS.names() if name != "custom"]


def test_axes_letters_follow_the_image_order(runner, tmp_path):
    # NIfTI arrays are x, y, z: axis=x is the first array axis
    doc = _json(runner.invoke(app, ["kernel", "sobel:axis=x", "--axes", "xyz", "--json"]))
    assert doc["factors"] == [[1.0, 0.0, -1.0], [1.0, 2.0, 1.0], [1.0, 2.0, 1.0]]
    target = tmp_path / "sg.csv"
    result = runner.invoke(app, ["kernel", "savgol:window=7,deriv=1", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    back = build_kernel(f"@{target}", ndim=1)
    np.testing.assert_allclose(back.weights, build_kernel("savgol:window=7,deriv=1").weights)


@pytest.mark.parametrize("spec", ["gaussian:sigma=1", "gaussian:sigma=1.5", "disk:radius=7"])
def test_kernel_table_never_cuts_numbers(runner, spec):
    """A table whose numbers would be cut (``9.7555…`` for 9.7555e-05) becomes a summary."""
    result = runner.invoke(app, ["kernel", spec])
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stderr.split("exact factors")[-1].split("axis 1:")[-1]
    weights = build_kernel(spec).weights
    lines = result.stderr.splitlines()
    if any("wider than" in line for line in lines):
        assert f"max {float(weights.max()):.6g}" in result.stderr
    else:  # the full table: every row, every weight readable to 3+ digits
        rows = [line.split() for line in lines if line.split() and line.split()[0] == "0"]
        centre = [float(v) for v in rows[-1][1:]]
        np.testing.assert_allclose(centre, weights[weights.shape[0] // 2], rtol=1e-3)


def test_check_plain_file_name_errors_name_the_file(runner, tmp_path):
    """``check k.csv`` reads a file without ``@``: a missing or bad one is a file error."""
    missing = runner.invoke(app, ["check", str(tmp_path / "missing.csv")])
    assert missing.exit_code == 1
    assert "kernel file" in missing.stderr and "no such file" in missing.stderr
    (tmp_path / "bad.csv").write_text("1,2,1\n2,4\n")
    bad = runner.invoke(app, ["check", str(tmp_path / "bad.csv") + ":normalize=none"])
    assert bad.exit_code == 2
    assert "ragged rows" in bad.stderr


def test_check_table_stops_at_the_rank(runner):
    """Rows past the rank only fit noise: the table stops there, --json keeps every row."""
    result = runner.invoke(app, ["check", "sobel:axis=x"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("best sum of r separable terms") + 2
    assert lines[start].split()[0] == "1"
    assert "r > 1 not listed" in lines[start + 1]
    doc = _json(runner.invoke(app, ["check", "sobel:axis=x", "--json"]))
    assert [row["rank"] for row in doc["terms"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("spec", "d", "direct", "separable", "saving", "form"),
    [
        ("box:size=7", 2, 49, 14, 3.5, "K^(d-1)/d = 7^1/2 = 3.5"),
        ("box:size=7 --ndim 3", 3, 343, 21, 343 / 21, "K^(d-1)/d = 7^2/3 = 16.3"),
    ],
)
def test_check_states_the_saving_in_multiplies(runner, spec, d, direct, separable, saving, form):
    """The seed's claim: K^d multiplies direct against d·K separable, saving K^(d-1)/d."""
    args = ["check", *spec.split()]
    costs = _json(runner.invoke(app, [*args, "--json"]))["costs"]
    assert costs["direct"]["mults"] == direct and costs["separable"]["mults"] == separable
    assert costs["separable"]["mults_saving_vs_direct"] == pytest.approx(saving)
    # FLOPs add the adds: K^d - 1 direct, d·(K - 1) separable
    assert costs["separable"]["saving_vs_direct"] == pytest.approx(
        (2 * direct - 1) / (2 * separable - d)
    )
    assert costs["separable"]["closed_form"]["saving"] == form
    human = runner.invoke(app, args)
    assert human.exit_code == 0, human.output
    assert f"saving {form}×" in human.stderr


def test_closed_forms_of_the_multiplies():
    """Closed forms agree with the counts of method_costs for cubic and non-cubic kernels."""
    from sepconv_cli.costs.filters import closed_form, method_costs, mults_saving

    costs = method_costs((64, 64), (5, 3), rank=2)
    assert costs["lowrank"]["mults"] == 16 and mults_saving(costs, "lowrank") == 15 / 16
    assert closed_form((5, 3), "lowrank", 2) == {
        "mults": "r·ΣK = 2·(5+3) = 16",
        "saving": "∏K/(r·ΣK) = 15/16 = 0.938",
    }
    assert closed_form((7, 7), "lowrank", 3)["mults"] == "r·d·K = 3·2·7 = 42"
    assert closed_form((9, 9, 9), "direct")["mults"] == "K^d = 9^3 = 729"
    assert closed_form((9, 9), "fft") is None


def _fft_flops_by_hand(side: int, k: int) -> float:
    """FFT FLOPs per voxel of a k x k kernel on a side x side image, from the documented model."""
    from sepconv_cli.costs.filters import next_fast_len

    n = next_fast_len(side + k - 1)
    m, h = n * n, n * (n // 2 + 1)
    return (3 * 2.5 * m * np.log2(m) + 6 * h) / (side * side)


def test_fft_crossover_matches_the_model_by_hand():
    """256 x 256: FFT beats direct (2K^2 - 1 FLOPs) from K = 9 and separable (4K - 2) from 44."""
    from sepconv_cli.costs.filters import fft_crossover

    assert fft_crossover((256, 256)) == {"direct": 9, "separable": 44, "max_size": 512}
    assert _fft_flops_by_hand(256, 8) > 2 * 8**2 - 1
    assert _fft_flops_by_hand(256, 9) < 2 * 9**2 - 1
    assert all(_fft_flops_by_hand(256, k) > 4 * k - 2 for k in range(1, 44))
    assert _fft_flops_by_hand(256, 44) < 4 * 44 - 2
    # a 1-D kernel: separable is direct, so both cross at the same size; a 1 x 1 image never
    one = fft_crossover((64,))
    assert one["direct"] == one["separable"]
    assert fft_crossover((1, 1)) == {"direct": None, "separable": None, "max_size": 2}


def test_check_prints_the_fft_crossover(runner):
    doc = _json(runner.invoke(app, ["check", "box:size=7", "--image-shape", "256", "--json"]))
    assert doc["fft_crossover"] == {"direct": 9, "separable": 44, "max_size": 512}
    human = runner.invoke(app, ["check", "box:size=7"])
    assert "FFT has fewer FLOPs than direct from K = 9, than separable from K = 44" in (
        human.stderr
    )
    wide = _json(runner.invoke(app, ["check", "box:size=7", "--shape", "4096x4096", "--json"]))
    assert wide["image_shape"] == [4096, 4096]
    assert wide["fft_crossover"] == {"direct": 11, "separable": 52, "max_size": 8192}
