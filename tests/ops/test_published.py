"""The bundled networks against their published figures (each source in the spec file).

MACs = multiply-adds of convolutions, SE convolutions and fc layers (what the papers call
"mult-adds" or "FLOPs" and torchvision calls "GFLOPS"); parameters include batch norm's scale and
shift, as torchvision's ``sum(p.numel() for p in model.parameters())`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sepconv_cli.costs.models import load_model_spec, model_costs, parse_model_spec

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def _cost(name, **options):
    return model_costs(load_model_spec(SAMPLES / name), **options)


@pytest.mark.parametrize(
    ("name", "macs", "params", "macs_rel", "params_rel"),
    [
        # Sandler et al. 2018, Table 4: 300 M mult-adds, 3.4 M parameters (rounded down;
        # torchvision's mobilenet_v2 has 3,504,872 parameters, hence 3 % from the paper).
        ("mobilenet_v2.toml", 300e6, 3.4e6, 0.005, 0.035),
        # Tan & Le 2019, Table 2: 0.39 B FLOPs (= multiply-adds), 5.3 M parameters.
        ("efficientnet_b0.toml", 0.39e9, 5.3e6, 0.015, 0.02),
        # torchvision resnet50: 4.09 GFLOPS (MACs), 25.6 M parameters (He et al. 2016 print
        # 3.8e9 for the v1 stride placement).
        ("resnet50.toml", 4.09e9, 25.6e6, 0.005, 0.02),
    ],
)
def test_papers_figures(name, macs, params, macs_rel, params_rel):
    cost = _cost(name)
    assert cost.macs == pytest.approx(macs, rel=macs_rel)
    assert cost.params == pytest.approx(params, rel=params_rel)
    assert cost.output_shape == (1000,)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        # sum(p.numel() for p in torchvision.models.<name>().parameters())
        ("mobilenet_v2.toml", 3_504_872),
        ("efficientnet_b0.toml", 5_288_548),
        ("resnet50.toml", 25_557_032),
    ],
)
def test_torchvision_parameter_counts_exactly(name, params):
    assert _cost(name).params == params


def test_torchvision_macs():
    # fvcore / ptflops on torchvision's models (conv + linear MACs): ResNet-50 4,089,184,256;
    # MobileNetV2 300.77 M; EfficientNet-B0 0.39 G (torchvision's table, 2 digits)
    assert _cost("resnet50.toml").macs == 4_089_184_256
    assert _cost("mobilenet_v2.toml").macs == pytest.approx(300.77e6, abs=0.005e6)
    assert round(_cost("efficientnet_b0.toml").macs / 1e7) / 100 == 0.39


def test_without_batchnorm_the_conv_weights_alone():
    spec = load_model_spec(SAMPLES / "mobilenet_v2.toml")
    bn = [layer for layer in model_costs(spec).layers if layer.cost.type in ("conv", "dw", "pw")]
    folded = parse_model_spec(
        (SAMPLES / "mobilenet_v2.toml").read_text().replace("batchnorm = true", "")
    )
    assert model_costs(spec).params - model_costs(folded).params == sum(
        2 * layer.cost.output_shape[-1] for layer in bn
    )


def test_resnext50_groups():
    # torchvision resnext50_32x4d: 25,028,904 parameters, 4.23 GFLOPS; the bottleneck's 3x3 is
    # a 32-group convolution of width 2 x out / 4 (128 for out = 256)
    text = (SAMPLES / "resnet50.toml").read_text()
    for out in (256, 512, 1024, 2048):
        text = text.replace(
            f'type = "bottleneck"\nout = {out}\n',
            f'type = "bottleneck"\nout = {out}\nwidth = {out // 2}\ngroups = 32\n',
        )
    cost = model_costs(parse_model_spec(text))
    assert cost.params == 25_028_904
    assert cost.macs == pytest.approx(4.23e9, rel=0.005)


def _unet_by_hand(size=256, widths=(64, 128, 256, 512, 1024), classes=2):
    """Parameters and MACs of the U-Net written out level by level."""
    macs = params = 0
    c_in, n = 1, size
    sizes = []
    for w in widths:
        for a, b in ((c_in, w), (w, w)):
            params += 9 * a * b + b
            macs += n * n * 9 * a * b
        sizes.append(n)
        c_in = w
        n //= 2
    n = sizes[-1]
    for w, m in zip(reversed(widths[:-1]), reversed(sizes[:-1]), strict=True):
        params += 4 * c_in * w + w  # 2x2 transposed conv
        macs += n * n * 4 * c_in * w  # each input value scatters 4 taps to w channels
        n = m
        for a, b in ((2 * w, w), (w, w)):  # after concatenating the skip
            params += 9 * a * b + b
            macs += n * n * 9 * a * b
        c_in = w
    params += c_in * classes + classes
    macs += n * n * c_in * classes
    return macs, params


def test_unet_by_hand():
    cost = _cost("unet_2d.toml")
    assert (cost.macs, cost.params) == _unet_by_hand()
    assert cost.params == 31_030_658
    assert cost.output_shape == (256, 256, 2)
    concat = [layer for layer in cost.layers if layer.cost.type == "concat"]
    assert [layer.inputs for layer in concat] == [(f"up{i}", f"down{i}.2") for i in (4, 3, 2, 1)]
    assert [layer.cost.output_shape[-1] for layer in concat] == [1024, 512, 256, 128]


def test_transaction_classifier_unchanged():
    assert (_cost("txn_classifier_1d.toml").macs, _cost("txn_classifier_1d.toml").params) == (
        1_024_256,
        17_954,
    )
