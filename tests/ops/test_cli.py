"""`sepconv ops` through Typer's CliRunner and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sepconv_cli.cli.app import app
from sepconv_cli.costs.layertypes import LAYER_TYPES

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_layer_table_shows_comparison_and_closed_form(runner):
    result = runner.invoke(
        app,
        [
            "ops",
            "layer",
            "--type",
            "dwsep",
            "--in",
            "32",
            "--out",
            "64",
            "-k",
            "3",
            "--size",
            "112x112",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    err = result.stderr
    assert "29,302,784" in err  # dwsep: 112*112*(9*32 + 32*64)
    assert "231,211,008" in err  # standard: 112*112*9*32*64
    assert "1/64 + 1/9" in err
    assert f"{1 / 64 + 1 / 9:.6g}" in err
    assert "without bias" in err


def test_layer_json_3d_strided(runner):
    doc = _json(
        runner.invoke(
            app,
            [
                "ops",
                "layer",
                "--type",
                "conv",
                "--in",
                "8",
                "--out",
                "16",
                "--kernel",
                "3x3x3",
                "--size",
                "16x64x64",
                "--stride",
                "2",
                "--json",
            ],
        )
    )
    layer = doc["layer"]
    assert layer["output_shape"] == [8, 32, 32, 16]
    assert layer["macs"] == 8 * 32 * 32 * 27 * 8 * 16
    assert layer["params"] == 27 * 8 * 16
    cmp = doc["comparison"]
    assert cmp["standard"]["macs"] == layer["macs"]
    assert cmp["dwsep"]["macs"] == 8 * 32 * 32 * (27 * 8 + 8 * 16)
    assert cmp["ratio"] == pytest.approx(1 / 16 + 1 / 27)
    assert cmp["closed_form"] == pytest.approx(1 / 16 + 1 / 27)
    assert "bias" in doc["conventions"]


def test_layer_dw_1d_bias_and_pw(runner):
    dw = _json(
        runner.invoke(
            app,
            ["ops", "layer", "-t", "dw", "--in", "4", "-k", "5", "-s", "100", "--bias", "--json"],
        )
    )["layer"]
    assert (dw["output_shape"], dw["macs"], dw["params"]) == ([100, 4], 100 * 5 * 4, 20 + 4)
    pw = _json(
        runner.invoke(
            app,
            [
                "ops",
                "layer",
                "-t",
                "pw",
                "--in",
                "4",
                "--out",
                "8",
                "-s",
                "10x10",
                "--stride",
                "3",
                "--json",
            ],
        )
    )["layer"]
    assert (pw["output_shape"], pw["macs"]) == ([4, 4, 8], 16 * 32)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["-t", "dwsp", "--in", "3", "--out", "4", "-s", "8"], "did you mean 'dwsep'"),
        (["-t", "conv", "--in", "3", "-s", "8"], "--out is required"),
        (["-t", "conv", "--in", "3", "--out", "4", "-s", "8x"], "--size must be integers"),
        (["-t", "conv", "--in", "3", "--out", "4", "-s", "8", "-k", "3x3"], "--kernel has 2"),
        (["-t", "conv", "--in", "0", "--out", "4", "-s", "8"], "--in must be a positive"),
        (["-t", "pw", "--in", "3", "--out", "4", "-s", "8", "-k", "3"], "pw layer is 1x1"),
        (
            ["-t", "dw", "--in", "3", "--out", "4", "-s", "8"],
            "must be a multiple of the input channels (3)",
        ),
        (["-t", "conv", "--in", "3", "--out", "4", "-s", "1x2x3x4"], "1, 2 or 3 axes"),
        (["-t", "conv", "--in", "3", "--out", "4", "-s", "8", "--padding", "x"], "--padding"),
    ],
)
def test_layer_errors_are_one_line_exit_2(runner, args, match):
    result = runner.invoke(app, ["ops", "layer", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("sepconv: error: ")
    assert match in result.stderr
    assert result.stderr.count("\n") == 1


def test_attention_json_and_text(runner):
    doc = _json(
        runner.invoke(
            app, ["ops", "attention", "--tokens", "14x14", "--channels", "768", "-k", "7", "--json"]
        )
    )
    n, c = 196, 768
    assert doc["tokens"] == n and doc["kernel"] == [7, 7]
    assert doc["attention"]["macs"] == 2 * n * n * c + 4 * n * c * c
    assert doc["dwsep"]["macs"] == n * c * 49 + n * c * c
    assert doc["ratio"] == pytest.approx(doc["attention"]["macs"] / doc["dwsep"]["macs"])
    assert doc["crossover_tokens"] is None
    text = runner.invoke(app, ["ops", "attention", "-n", "4096", "-c", "16", "-k", "255"])
    assert text.exit_code == 0
    assert "(K^d - 3·C) / 2 = 103.5" in text.stderr
    dims = _json(
        runner.invoke(app, ["ops", "attention", "-n", "196", "-c", "8", "-d", "2", "--json"])
    )
    assert dims["dwsep"]["macs"] == 196 * 8 * 9 + 196 * 64
    bad = runner.invoke(app, ["ops", "attention", "-n", "14x14", "-c", "8", "-d", "3"])
    assert bad.exit_code == 2 and "disagree" in bad.stderr


def test_model_json_mobilenet_standard(runner):
    doc = _json(
        runner.invoke(
            app, ["ops", "model", str(SAMPLES / "mobilenet_v1.toml"), "--standard", "--json"]
        )
    )
    assert doc["total"]["macs"] == 568_740_352
    assert doc["total"]["params"] == 4_210_088
    assert sum(layer["macs"] for layer in doc["layers"]) == doc["total"]["macs"]
    assert len(doc["layers"]) == len(doc["standard"]["layers"]) == 16
    assert round(doc["standard"]["total"]["params"] / 1e5) / 10 == 29.3
    assert doc["ratio"]["macs"] == pytest.approx(
        doc["total"]["macs"] / doc["standard"]["total"]["macs"]
    )
    assert doc["layers"][1]["parts"][0]["type"] == "dw"
    bn = _json(
        runner.invoke(
            app, ["ops", "model", str(SAMPLES / "mobilenet_v1.toml"), "--batchnorm", "--json"]
        )
    )
    assert bn["total"]["params"] == 4_231_976


def test_model_table(runner):
    result = runner.invoke(
        app, ["ops", "model", str(SAMPLES / "txn_classifier_1d.toml"), "--standard"]
    )
    assert result.exit_code == 0, result.stderr
    assert "1,024,256" in result.stderr and "17,954" in result.stderr
    assert "3,604,736" in result.stderr
    assert "global" in result.stderr


def test_model_stdin(runner):
    spec = 'input = [4, 4, 2]\n[[layer]]\ntype = "pw"\nout = 3\n'
    doc = _json(runner.invoke(app, ["ops", "model", "-", "--json"], input=spec))
    assert doc["total"] == {
        "macs": 16 * 6,
        "flops": 2 * 16 * 6,
        "params": 6,
        "elementwise_ops": 0,
    }


def test_model_bad_spec_exit_2(runner, tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text('input = [8, 8, 3]\n[[layer]]\ntype = "conv"\nkernel = 3\n')
    result = runner.invoke(app, ["ops", "model", str(spec)])
    assert result.exit_code == 2
    assert result.stderr == f"sepconv: error: {spec}: layer 1 (conv): missing key 'out'\n"


def test_model_missing_file_exit_1(runner, tmp_path):
    result = runner.invoke(app, ["ops", "model", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert result.stderr.startswith("sepconv: error: cannot read model spec")


def test_subprocess_json_pipe_and_exit_codes(tmp_path):
    cmd = [sys.executable, "-m", "sepconv_cli", "ops", "model"]
    ok = subprocess.run(
        [*cmd, str(SAMPLES / "txn_classifier_1d.toml"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["total"] == {
        "macs": 1_024_256,
        "flops": 2_048_512,
        "params": 17_954,
        "elementwise_ops": 0,
    }
    bad = tmp_path / "bad.toml"
    bad.write_text('input = [8, 3]\n[[layer]]\ntype = "dwsp"\nout = 4\n')
    err = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, timeout=120)
    assert err.returncode == 2
    assert err.stdout == ""
    assert err.stderr.strip().splitlines() == [
        f"sepconv: error: {bad}: layer 1: unknown layer type 'dwsp'; did you mean 'dwsep'? "
        f"(choices: {', '.join(LAYER_TYPES.names())})"
    ]


def test_tables_in_a_pipe_are_plain_text(runner):
    """CliRunner's stderr is not a terminal: aligned columns, no box-drawing characters."""
    result = runner.invoke(
        app, ["ops", "layer", "--type", "dwsep", "--in", "32", "--out", "64", "--size", "56x56"]
    )
    assert result.exit_code == 0, result.stderr
    assert "standard conv" in result.stderr
    assert not set("┃┏━│└─") & set(result.stderr)


def test_names_with_brackets_are_printed_literally(runner, tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text(
        'name = "net [v2]"\ninput = [8, 8, 3]\n'
        '[[layer]]\nname = "conv[red]"\ntype = "conv"\nout = 4\nkernel = 3\n'
    )
    result = runner.invoke(app, ["ops", "model", str(spec)])
    assert result.exit_code == 0, result.stderr
    assert "net [v2]" in result.stderr and "conv[red]" in result.stderr
