"""`sepconv ops scale` through Typer's CliRunner: the scaled EfficientNets' real counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepconv_cli.cli.app import app

B0 = str(Path(__file__).resolve().parents[2] / "sample_data" / "efficientnet_b0.toml")


def _scale(runner, *args):
    result = runner.invoke(app, ["ops", "scale", B0, *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "torchvision"), [("b1", 7_794_184), ("b3", 12_233_232), ("b7", 66_347_960)]
)
def test_presets_give_torchvision_params(runner, name, torchvision):
    doc = _scale(runner, "--preset", name)
    assert doc["base"]["params"] == 5_288_548  # torchvision efficientnet_b0
    assert doc["scaled"]["params"] == torchvision
    assert doc["ratio"]["params"] == pytest.approx(torchvision / 5_288_548)


def test_by_hand_equals_the_b3_preset(runner):
    by_hand = _scale(runner, "--width", "1.2", "--depth", "1.4", "--resolution", "300")
    assert by_hand["scaled"] == _scale(runner, "--preset", "b3")["scaled"]
    assert by_hand["scaled"]["input_shape"] == [300, 300, 3]
    assert by_hand["scaled"]["macs"] / 1e9 == pytest.approx(1.8, rel=0.02)  # paper, Table 2


def test_phi_uses_the_compound_rule_and_prints_the_budget(runner):
    doc = _scale(runner, "--phi", "2")
    assert doc["scaling"] == {
        "width": 1.21,
        "depth": 1.44,
        "resolution": 296,
        "divisor": 8,
        "phi": 2.0,
    }
    assert doc["scaled"]["input_shape"] == [296, 296, 3]
    assert doc["budget"]["alpha_beta2_gamma2"] == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    assert doc["budget"]["predicted_macs_ratio"] == pytest.approx((1.2 * 1.1**2 * 1.15**2) ** 2)
    # the table is the command's result: on stdout
    result = runner.invoke(app, ["ops", "scale", B0, "--phi", "2"])
    assert result.exit_code == 0, result.stderr
    assert f"{doc['scaled']['macs']:,}" in result.stdout
    assert "alpha * beta^2 * gamma^2 = 1.2 * 1.1^2 * 1.15^2 = 1.92" in result.stdout


def test_mobilenet_width_multiplier_with_divisor_1(runner):
    mobilenet = str(Path(B0).with_name("mobilenet_v1.toml"))
    result = runner.invoke(
        app,
        [
            "ops",
            "scale",
            mobilenet,
            "--width",
            "0.5",
            "--resolution",
            "160",
            "--divisor",
            "1",
            "--json",
        ],
    )
    doc = json.loads(result.stdout)
    # Howard et al. 2017, Table 6/7: 0.5 MobileNet-160: 76 M MACs, 1.32 M params
    assert doc["scaled"]["macs"] / 1e6 == pytest.approx(76, rel=0.01)
    assert doc["scaled"]["params"] / 1e6 == pytest.approx(1.32, rel=0.01)


@pytest.mark.parametrize(
    "args",
    [[], ["--phi", "1", "--preset", "b1"], ["--phi", "-1"], ["--width", "0"], ["--preset", "b9"]],
)
def test_bad_options_are_one_line_errors(runner, args):
    result = runner.invoke(app, ["ops", "scale", B0, *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("sepconv: error: ") and result.stderr.count("\n") == 1
