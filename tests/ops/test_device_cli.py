"""`sepconv ops model --dtype/--batch/--device` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepconv_cli.cli.app import app
from sepconv_cli.costs.devices import bundled_devices, load_device, roofline
from sepconv_cli.costs.models import load_model_spec, model_costs

TXN = Path(__file__).resolve().parents[2] / "sample_data" / "txn_classifier_1d.toml"


def _model(runner, *args):
    result = runner.invoke(app, ["ops", "model", str(TXN), *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("device", ["phone_cpu", "phone_npu"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_device_totals_are_the_roofline_sums(runner, device, dtype):
    doc = _model(runner, "--device", device, "--dtype", dtype, "--batch", "2")["device"]
    times = roofline(model_costs(load_model_spec(TXN)), load_device(device), dtype, 2)
    total = doc["total"]
    assert total["time_s"] == pytest.approx(sum(t.time_s for t in times))
    assert total["energy_j"] == pytest.approx(sum(t.energy_j for t in times))
    assert total["dram_bytes"] == sum(t.dram_bytes for t in times)
    assert total["macs"] == 2 * 1_024_256  # the file's hand-checked MACs, per input
    assert [row["bound"] for row in doc["layers"]] == [t.bound for t in times]
    assert doc["estimate"].endswith("not measurements")


def test_int8_batch_bytes_by_hand(runner):
    conv1 = _model(runner, "--dtype", "int8", "--batch", "4")["device"]["layers"][0]
    # 2,560 weights + 4 x 128 x 16 inputs + 4 x 128 x 32 outputs, one byte each
    assert conv1["bytes"] == 2_560 + 4 * 128 * 16 + 4 * 128 * 32
    assert conv1["intensity"] == pytest.approx(4 * 327_680 / conv1["bytes"])


def test_standard_on_the_phone_is_slower_and_costs_more(runner):
    doc = _model(runner, "--standard", "--device", "phone_cpu")
    sep, std = doc["device"]["total"], doc["standard"]["device"]["total"]
    assert std["macs"] == doc["standard"]["total"]["macs"] == 3_604_736
    assert sep["time_s"] < std["time_s"] and sep["energy_j"] < std["energy_j"]
    table = runner.invoke(app, ["ops", "model", str(TXN), "--standard", "--device", "phone_cpu"])
    assert table.exit_code == 0, table.stderr
    assert "model estimates, not measurements" in table.stderr
    assert f"{sep['dram_bytes']:,}" in table.stderr


def test_unknown_device_is_one_line_listing_the_bundled(runner):
    result = runner.invoke(app, ["ops", "model", str(TXN), "--device", "phone"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sepconv: error: ")
    assert all(name in result.stderr for name in bundled_devices())
