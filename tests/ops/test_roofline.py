"""Memory traffic, peak activation memory and the roofline model, checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepconv_cli.costs.devices import Device, bundled_devices, load_device, roofline
from sepconv_cli.costs.models import load_model_spec, model_costs, parse_model_spec
from sepconv_cli.costs.traffic import layer_traffic, peak_activation_memory
from sepconv_cli.errors import UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def test_traffic_by_hand_for_a_batch():
    net = model_costs(
        parse_model_spec('input = [10, 3]\n[[layer]]\ntype = "conv"\nout = 5\nkernel = 3')
    )
    (t,) = layer_traffic(net, "float16", batch=4)
    assert t.macs == 4 * 10 * 9 * 5
    assert (t.weight_bytes, t.input_bytes, t.output_bytes) == (2 * 45, 2 * 4 * 30, 2 * 4 * 50)
    assert t.intensity == pytest.approx(t.macs / (90 + 240 + 400))


def test_peak_memory_keeps_skips_alive():
    unet = model_costs(load_model_spec(SAMPLES / "unet_2d.toml"))
    peak = peak_activation_memory(unet, "float32")
    assert "down1.2" in peak.tensors  # the first skip lives until the last concat
    assert peak.bytes >= 4 * 256 * 256 * (64 + 128)


def test_roofline_bounds_and_energy():
    device = Device("toy", {"float32": 1e9}, 1e9, j_per_mac={"float32": 1e-12}, j_per_byte=1e-11)
    net = model_costs(
        parse_model_spec('input = [64, 64, 64]\n[[layer]]\ntype = "conv"\nout = 64\nkernel = 3')
    )
    (t,) = roofline(net, device)
    assert t.bound == "compute" and t.time_s == pytest.approx(t.traffic.macs / 1e9)
    assert t.energy_j == pytest.approx(t.traffic.macs * 1e-12 + t.dram_bytes * 1e-11)


def test_bundled_devices_load():
    assert bundled_devices() == ["datacenter_gpu", "desktop_gpu", "phone_cpu", "phone_npu"]
    for name in bundled_devices():
        assert load_device(name).bandwidth > 0
    with pytest.raises(UsageError, match="unknown device 'phone_cpx'; did you mean"):
        load_device("phone_cpx")
