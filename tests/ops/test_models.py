"""Whole networks: MobileNet v1 vs Howard et al. 2017, the 1-D classifier by hand, bad specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepconv_cli.costs.models import (
    load_model_spec,
    model_costs,
    model_report,
    parse_model_spec,
)
from sepconv_cli.errors import FormatError, SpecError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def mobilenet():
    return load_model_spec(SAMPLES / "mobilenet_v1.toml")


def test_mobilenet_v1_matches_the_paper(mobilenet):
    # Howard et al. 2017, Table 2: 1.0 MobileNet-224, 569 million mult-adds, 4.2 million params.
    cost = model_costs(mobilenet)
    assert len(cost.layers) == 1 + 13 + 2  # conv1, 13 dw+pw blocks, pool, fc
    assert cost.output_shape == (1000,)
    assert round(cost.macs / 1e6) == 569
    assert cost.macs == 568_740_352
    assert round(cost.params / 1e5) / 10 == 4.2
    # conv weights (no bias: batch norm follows) + fc 1024 x 1000 with bias
    assert cost.params == 4_210_088
    # with batch norm's trainable scale and shift: Keras' MobileNet "trainable params"
    assert model_costs(mobilenet, batchnorm=True).params == 4_231_976


def test_mobilenet_v1_shapes_follow_table_1(mobilenet):
    shapes = [layer.cost.output_shape for layer in model_costs(mobilenet).layers]
    assert shapes[0] == (112, 112, 32)
    assert shapes[1] == (112, 112, 64)
    assert shapes[2] == (56, 56, 128)
    assert shapes[4] == (28, 28, 256)
    assert shapes[6] == (14, 14, 512)
    assert shapes[11] == (14, 14, 512)
    assert shapes[12] == shapes[13] == (7, 7, 1024)
    assert shapes[14] == (1, 1, 1024)


def test_conv_mobilenet_matches_table_2(mobilenet):
    # Table 2, "Conv MobileNet": 4866 million mult-adds, 29.3 million parameters. We count
    # 4867.3 M: the paper's figure is 1.0 M lower, about the fc layer (1.024 M), i.e. within the
    # rounding and bookkeeping of the paper (0.03 %).
    std = model_costs(mobilenet, standard=True)
    assert all(layer.cost.type in ("conv", "pool", "fc") for layer in std.layers)
    assert abs(std.macs / 1e6 - 4866) < 2
    assert round(std.params / 1e5) / 10 == 29.3
    report = model_report(mobilenet, standard=True)
    assert report["ratio"]["macs"] == pytest.approx(568_740_352 / std.macs)
    assert report["saving"]["macs"] == pytest.approx(std.macs / 568_740_352)
    assert report["standard"]["total"] == {
        "macs": std.macs,
        "flops": 2 * std.macs,
        "params": std.params,
        "elementwise_ops": 0,
    }


def test_transaction_classifier_by_hand():
    spec = load_model_spec(SAMPLES / "txn_classifier_1d.toml")
    cost = model_costs(spec)
    conv1 = 128 * 5 * 16 * 32
    dwsep1 = 64 * (5 * 32 + 32 * 64)  # stride 2: ceil(128 / 2) = 64 steps
    dwsep2 = 64 * (5 * 64 + 64 * 64)
    dwsep3 = 32 * (5 * 64 + 64 * 128)
    fc = 128 * 2
    assert [layer.cost.macs for layer in cost.layers] == [conv1, dwsep1, dwsep2, dwsep3, 0, fc]
    assert cost.macs == 1_024_256
    params = (5 * 16 * 32) + (5 * 32 + 32 * 64) + (5 * 64 + 64 * 64) + (5 * 64 + 64 * 128)
    assert cost.params == params + 128 * 2 + 2 == 17_954
    assert cost.output_shape == (2,)
    std = model_costs(spec, standard=True)
    assert std.macs == conv1 + 64 * 5 * 32 * 64 + 64 * 5 * 64 * 64 + 32 * 5 * 64 * 128 + fc


def test_3d_network_repeat_names_and_attention():
    spec = parse_model_spec(
        """
        input = [8, 32, 32, 2]
        [[layer]]
        type = "conv"
        out = 8
        kernel = [3, 3, 3]
        stride = [1, 2, 2]
        [[layer]]
        name = "block"
        type = "dwsep"
        out = 8
        kernel = 3
        repeat = 2
        [[layer]]
        type = "dw"
        kernel = 3
        out = 16
        [[layer]]
        type = "attention"
        heads = 4
        [[layer]]
        type = "pool"
        kernel = [1, 2, 2]
        [[layer]]
        type = "fc"
        out = 3
        """
    )
    cost = model_costs(spec)
    names = [layer.name for layer in cost.layers]
    assert names == ["conv1", "block.1", "block.2", "dw3", "attention4", "pool5", "fc6"]
    n = 8 * 16 * 16
    macs = [layer.cost.macs for layer in cost.layers]
    assert macs[0] == n * 27 * 2 * 8
    assert macs[1] == macs[2] == n * (27 * 8 + 8 * 8)
    assert macs[3] == n * 27 * 16  # depth multiplier 2
    assert macs[4] == 2 * n * n * 16 + 4 * n * 16 * 16
    assert cost.layers[5].cost.output_shape == (8, 8, 8, 16)
    assert macs[6] == 8 * 8 * 8 * 16 * 3
    std = model_costs(spec, standard=True)
    assert std.layers[3].cost.macs == n * 27 * 8 * 16
    assert std.layers[3].replaced and not std.layers[4].replaced


def test_bias_flags():
    text = 'input = [4, 4, 2]\n[[layer]]\ntype = "conv"\nout = 3\nkernel = 3\n'
    assert model_costs(parse_model_spec(text)).params == 54
    assert model_costs(parse_model_spec(text), bias=True).params == 57
    assert model_costs(parse_model_spec(text + "bias = true\n")).params == 57
    fc = 'input = [1, 4]\n[[layer]]\ntype = "fc"\nout = 3\nbias = false\n'
    assert model_costs(parse_model_spec(fc)).params == 12


def test_valid_padding():
    text = 'input = [10, 1]\n[[layer]]\ntype = "conv"\nout = 1\nkernel = 3\npadding = "valid"\n'
    assert model_costs(parse_model_spec(text)).output_shape == (8, 1)


def _spec(layers: str, head: str = "input = [32, 32, 3]") -> str:
    return head + "\n" + layers


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            _spec('[[layer]]\ntype = "dwsp"\nout = 4'),
            r"layer 1: unknown layer type 'dwsp'; did you",
        ),
        (
            _spec('[[layer]]\ntype = "conv"\nout = 4\nkernel = 3\nstrid = 2'),
            r"layer 1 \(conv\): unknown key 'strid'; did you mean 'stride'",
        ),
        (
            _spec('[[layer]]\ntype = "fc"\nout = 4\nkernel = 3'),
            "key 'kernel' does not apply to fc layers",
        ),
        (
            _spec(
                '[[layer]]\ntype = "fc"\nout = 4\n[[layer]]\nname = "c"\ntype = "conv"\nkernel = 3'
            ),
            r"layer 2 \(conv 'c'\): missing key 'out'",
        ),
        (_spec('[[layer]]\ntype = "conv"\nout = 4'), "missing key 'kernel'"),
        (_spec("[[layer]]\nout = 4"), "layer 1: missing key 'type'"),
        (_spec('[[layer]]\ntype = "conv"\nout = -4\nkernel = 3'), "out must be a positive"),
        (_spec('[[layer]]\ntype = "conv"\nout = 4\nkernel = [3, 3, 3]'), "kernel has 3 values"),
        (_spec('[[layer]]\ntype = "conv"\nout = 4\nkernel = "3"'), "kernel must be a positive"),
        (_spec('[[layer]]\ntype = "pool"'), "missing key 'kernel' \\(or global = true\\)"),
        (_spec('[[layer]]\ntype = "pool"\nglobal = true\nkernel = 2'), "global pool takes no"),
        (_spec('[[layer]]\ntype = "dw"\nkernel = 3\nout = 4'), "multiple of the input channels"),
        (_spec('[[layer]]\ntype = "attention"\nheads = 2'), "heads \\(2\\) must divide"),
        (
            _spec('[[layer]]\ntype = "fc"\nout = 4\n[[layer]]\ntype = "pw"\nout = 2'),
            r"layer 2 \(pw\): the input is a flat vector of 4 features",
        ),
        (
            _spec(
                '[[layer]]\ntype = "conv"\nout = 4\nkernel = 5\npadding = "valid"', "input = [3, 3]"
            ),
            "larger than the input",
        ),
        (_spec('[[layer]]\ntype = "conv"\nout = 4\nkernel = 3\npadding = "sam"'), "did you mean"),
        (_spec("", "input = [32, 32, 32, 32, 3]"), "input must be"),
        (_spec(""), "no layers"),
        (_spec('[[layer]]\ntype = "fc"\nout = 2', "inputs = [3, 3]"), "unknown top-level key"),
        (_spec('[[layer]]\ntype = "fc"\nout = 2', "name = 'x'"), "missing key 'input'"),
        (_spec('[[layer]]\ntype = "fc"\nout = 2\nrepeat = 0'), "repeat must be a positive"),
        ("input = [3, 3\n", "not valid TOML"),
    ],
)
def test_bad_specs(text, match):
    with pytest.raises(SpecError, match=match) as info:
        parse_model_spec(text, "net.toml")
    message = str(info.value)
    assert message.startswith("net.toml: ")
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_unreadable_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read model spec") as info:
        load_model_spec(tmp_path / "missing.toml")
    assert info.value.exit_code == 1
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FormatError, match="not UTF-8"):
        load_model_spec(binary)
