"""The kernel-spec language: names, key=value lists, units and per-axis values."""

from __future__ import annotations

import pytest

from sepconv_cli.errors import SpecError
from sepconv_cli.spec import (
    KernelSpec,
    Quantity,
    broadcast,
    parse,
    parse_int_per_axis,
    parse_per_axis,
    parse_quantity,
    parse_spacing,
    to_voxels,
)


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("gaussian:sigma=2", "gaussian", {"sigma": "2"}),
        ("Gaussian:FWHM=6mm", "gaussian", {"fwhm": "6mm"}),
        (
            "gaussian:sigma=2x2x1mm,order=0x0x1",
            "gaussian",
            {"sigma": "2x2x1mm", "order": "0x0x1"},
        ),
        (" sobel:axis=x ", "sobel", {"axis": "x"}),
        ("box", "box", {}),
        ("@kernel.csv", "custom", {"file": "kernel.csv"}),
        ("@dir/k.npy:normalize=none", "custom", {"file": "dir/k.npy", "normalize": "none"}),
        ("@C:/k.csv", "custom", {"file": "C:/k.csv"}),
        ("[[1,2,1],[2,4,2],[1,2,1]]", "custom", {"weights": "[[1,2,1],[2,4,2],[1,2,1]]"}),
        ("[1,2,1]:normalize=l1", "custom", {"weights": "[1,2,1]", "normalize": "l1"}),
    ],
)
def test_parse(text, name, params):
    spec = parse(text)
    assert isinstance(spec, KernelSpec)
    assert (spec.name, spec.params) == (name, params)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty kernel spec"),
        ("gaussian:", "empty parameter list"),
        ("gaussian:sigma", "expected key=value"),
        ("gaussian:sigma=", "has no value"),
        ("gaussian:sigma=1,sigma=2", "given twice"),
        ("gau ssian", "bad kernel name"),
        ("@", "needs a file name"),
        ("[[1,2]]x", "unexpected text"),
        ("2gauss", "bad kernel name"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(SpecError, match=message):
        parse(text)


def test_quantities_and_units():
    assert parse_quantity("2", "sigma") == Quantity(2.0, None)
    assert parse_quantity("3vox", "sigma") == Quantity(3.0, None)
    assert parse_quantity("0.5um", "sigma") == Quantity(0.5, "um")
    assert parse_quantity("0.5µm", "sigma") == Quantity(0.5, "um")
    assert parse_quantity("1.5e-3 mm", "sigma") == Quantity(1.5e-3, "mm")
    assert parse_quantity("4nm", "sigma") == Quantity(4.0, "nm")
    assert [str(q) for q in parse_per_axis("2x2x1mm", "sigma")] == ["2mm", "2mm", "1mm"]
    assert [str(q) for q in parse_per_axis("2mmx500umx1", "sigma")] == ["2mm", "500um", "1"]
    assert parse_int_per_axis("0x0x1", "order") == [0, 0, 1]
    assert parse_spacing("0.5x0.25um") == ([0.5, 0.25], ["um", "um"])


@pytest.mark.parametrize(
    "text", ["abc", "2furlong", "2x", "x2", "1..2", "nan", "inf", "2 3", "2,3"]
)
def test_bad_quantities(text):
    with pytest.raises(SpecError, match="sigma"):
        parse_per_axis(text, "sigma")


def test_bad_ints_and_spacing():
    with pytest.raises(SpecError, match="whole numbers"):
        parse_int_per_axis("0x1.5", "order")
    with pytest.raises(SpecError, match="whole numbers"):
        parse_int_per_axis("1mm", "order")
    with pytest.raises(SpecError, match="must be > 0"):
        parse_spacing("0x1mm")


def test_broadcast():
    assert broadcast([1], 3, "sigma") == [1, 1, 1]
    assert broadcast([1, 2], 2, "sigma") == [1, 2]
    with pytest.raises(SpecError, match="sigma has 3 values but the kernel has 2 axes"):
        broadcast([1, 2, 3], 2, "sigma")


def test_to_voxels_converts_unit_families():
    # sigma in mm, spacing in µm: 0.01 mm = 10 µm = 4 voxels of 2.5 µm
    assert to_voxels([Quantity(0.01, "mm")], "sigma", [2.5], ["um"]) == pytest.approx([4.0])
    assert to_voxels([Quantity(3.0)], "sigma", [None], [None]) == [3.0]


def test_to_voxels_needs_spacing_and_unit():
    with pytest.raises(SpecError, match="spacing, which is unknown on axis 0"):
        to_voxels([Quantity(2.0, "mm")], "sigma")
    with pytest.raises(SpecError, match="has no unit"):
        to_voxels([Quantity(2.0, "mm")], "sigma", [1.0], [None])
    with pytest.raises(SpecError, match="not a length"):
        to_voxels([Quantity(2.0, "mm")], "sigma", [1.0], ["s"])
