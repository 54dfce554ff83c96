"""Model specs as graphs: named tensors, from/skip, add, concat, blocks, and their errors."""

from __future__ import annotations

import pytest

from sepconv_cli.costs.layertypes import LAYER_TYPES
from sepconv_cli.costs.models import model_costs, parse_model_spec
from sepconv_cli.errors import SpecError


def _net(body: str, head: str = "input = [8, 8, 4]"):
    return model_costs(parse_model_spec(head + "\n" + body, "net.toml"))


def test_residual_add_from_a_named_layer():
    cost = _net(
        """
        [[layer]]
        name = "a"
        type = "pw"
        out = 4
        [[layer]]
        type = "conv"
        out = 4
        kernel = 3
        act = "relu"
        [[layer]]
        type = "add"
        skip = "a"
        """
    )
    add = cost.layers[-1]
    assert add.inputs == ("conv2", "a")
    assert add.cost.macs == 0 and add.cost.elementwise == 8 * 8 * 4
    assert cost.layers[1].cost.elementwise == 8 * 8 * 4  # relu: one op per value
    assert cost.macs == 64 * 16 + 64 * 9 * 16


def test_from_input_and_concat_of_three():
    cost = _net(
        """
        [[layer]]
        name = "a"
        type = "pw"
        out = 2
        [[layer]]
        name = "b"
        type = "pw"
        out = 3
        from = "input"
        [[layer]]
        type = "concat"
        from = ["input", "a", "b"]
        """
    )
    assert cost.layers[1].inputs == ("input",)
    assert cost.output_shape == (8, 8, 9)


def test_groups_bn_act_se_upsample_deconv():
    cost = _net(
        """
        [[layer]]
        type = "conv"
        out = 8
        kernel = 3
        groups = 2
        [[layer]]
        type = "bn"
        [[layer]]
        type = "act"
        fn = "hswish"
        [[layer]]
        type = "se"
        squeeze = 2
        [[layer]]
        type = "upsample"
        mode = "bilinear"
        [[layer]]
        type = "deconv"
        out = 2
        kernel = 2
        stride = 2
        """
    )
    conv, bn, act, se, up, deconv = (layer.cost for layer in cost.layers)
    assert conv.params == 9 * 2 * 8 and conv.macs == 64 * 9 * 2 * 8
    assert (bn.params, bn.macs, bn.elementwise) == (16, 0, 2 * 64 * 8)
    assert act.elementwise == 5 * 64 * 8
    assert (se.macs, se.params) == (2 * 8 * 2, 2 * 8 * 2 + 2 + 8)
    assert up.output_shape == (16, 16, 8) and up.elementwise == 3 * 3 * 16 * 16 * 8
    assert deconv.output_shape == (32, 32, 2)
    assert deconv.macs == 16 * 16 * 4 * 8 * 2 and deconv.params == 4 * 8 * 2


def test_stride_applies_to_the_first_repetition_only():
    cost = _net('[[layer]]\ntype = "basic"\nout = 8\nstride = 2\nrepeat = 2', "input = [8, 8, 4]")
    names = [layer.name for layer in cost.layers]
    assert names == [
        "basic1.1/conv1",
        "basic1.1/project",
        "basic1.1/shortcut",
        "basic1.1/add",
        "basic1.2/conv1",
        "basic1.2/project",
        "basic1.2/add",
    ]
    assert cost.layers[2].inputs == ("input",)  # the projection reads the block's input
    assert cost.layers[6].inputs == ("basic1.2/project", "basic1.1/add")
    assert cost.output_shape == (4, 4, 8)


def test_mbconv_expansion_and_fused_standard():
    spec = parse_model_spec(
        'input = [16, 16, 16]\n[[layer]]\ntype = "mbconv"\nout = 16\nkernel = 5\nexpand = 4'
    )
    cost = model_costs(spec)
    assert [layer.cost.type for layer in cost.layers] == ["pw", "dw", "se", "pw", "add"]
    assert cost.layers[2].cost.params == 2 * 64 * 4 + 4 + 64  # squeeze = 16 / 4 of the input
    fused = model_costs(spec, standard=True)
    assert [layer.cost.type for layer in fused.layers] == ["conv", "se", "pw", "add"]
    assert fused.layers[0].cost.params == 25 * 16 * 64
    assert all(layer.replaced for layer in fused.layers)


def test_template_types_are_registered_with_their_keys():
    assert LAYER_TYPES.get("mbconv").is_block
    assert not LAYER_TYPES.get("conv").is_block
    assert "groups" in LAYER_TYPES.get("bottleneck").keys
    assert LAYER_TYPES.get("conv_transpose") is LAYER_TYPES.get("deconv")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            '[[layer]]\ntype = "add"\nskip = "nope"',
            r"layer 1 \(add\): from 'nope' names no earlier layer",
        ),
        (
            '[[layer]]\nname = "stem"\ntype = "pw"\nout = 4\n[[layer]]\ntype = "add"\n'
            'skip = "stme"',
            "did you mean 'stem'",
        ),
        (
            '[[layer]]\ntype = "pw"\nout = 4\nfrom = "b"\n[[layer]]\nname = "b"\ntype = "pw"\n'
            "out = 4",
            "from 'b' names a later layer .* cycle",
        ),
        (
            '[[layer]]\nname = "b"\ntype = "pw"\nout = 4\nfrom = "b"',
            "from 'b' names a later layer",
        ),
        (
            '[[layer]]\nname = "a"\ntype = "pw"\nout = 2\n[[layer]]\ntype = "add"\nskip = "input"',
            r"layer 2 \(add\): cannot add tensors of shapes 8x8x2, 8x8x4",
        ),
        (
            '[[layer]]\nname = "a"\ntype = "pool"\nkernel = 2\n[[layer]]\ntype = "concat"\n'
            'from = ["a", "input"]',
            "cannot concatenate tensors of shapes 4x4x4, 8x8x4",
        ),
        ('[[layer]]\ntype = "add"', "needs two or more inputs"),
        ('[[layer]]\ntype = "pw"\nout = 2\nfrom = ["input", "input"]', "takes one input"),
        ('[[layer]]\ntype = "add"\nskip = "input"\nfrom = ["input"]', "from or skip, not both"),
        ('[[layer]]\ntype = "pw"\nout = 2\nskip = "input"', "'skip' does not apply to pw"),
        (
            '[[layer]]\nname = "a"\ntype = "pw"\nout = 2\n[[layer]]\nname = "a"\ntype = "bn"',
            "name 'a' is used twice",
        ),
        ('[[layer]]\nname = "input"\ntype = "bn"', "reserved"),
        ('[[layer]]\ntype = "conv"\nout = 6\nkernel = 3\ngroups = 4', "groups \\(4\\) must divide"),
        ('[[layer]]\ntype = "pw"\nout = 4\nact = "swich"', "did you mean 'swish'"),
        ('[[layer]]\ntype = "se"\nratio = 0.5\nsqueeze = 2', "ratio or squeeze"),
        (
            '[[layer]]\nname = "s"\ntype = "bottleneck"\nout = 6\ngroups = 4',
            r"layer 1 \(bottleneck 's'\): conv: groups \(4\) must divide",
        ),
    ],
)
def test_graph_errors_name_layer_and_key(body, match):
    with pytest.raises(SpecError, match=match) as info:
        _net(body)
    message = str(info.value)
    assert message.startswith("net.toml: ") and "\n" not in message
