"""Pictures of kernels and of their separability: every component of a gradient magnitude is
drawn (one row each, titled as ``sepconv check`` and ``kernel`` name it), not just the first."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sepconv_cli.cli.app import app
from sepconv_cli.kernels import build_kernel
from sepconv_cli.separability import analyse

pytest.importorskip("matplotlib")

from sepconv_cli import plots  # noqa: E402  (after the skip: it draws with matplotlib)

SOBEL_2D = [
    "component 1 of 2 (derivative along axis 0)",
    "component 2 of 2 (derivative along axis 1)",
]


def _titles(fig):
    return [ax.get_title() for ax in fig.axes]


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize(("spec", "ndim"), [("sobel", 2), ("scharr", 3), ("prewitt", 1)])
def test_decomposition_figure_has_a_row_per_component(spec, ndim):
    kernel = build_kernel(spec, ndim=ndim)
    names, parts = zip(*kernel.parts, strict=True)
    assert len(parts) == ndim and [p.params["axis"] for p in parts] == list(range(ndim))
    fig = plots.decomposition_figure([analyse(p) for p in parts], names, title=kernel.spec)
    try:
        assert len(fig.axes) == 2 * ndim  # spectrum (or unfolding ranks) and error, per row
        titles = _titles(fig)
        for row, name in enumerate(names):
            left, right = titles[2 * row], titles[2 * row + 1]
            assert left.startswith(f"{name}\n") and right.startswith(f"{name}\n")
            assert right.endswith("error of the best sum of r separable terms")
        assert fig.get_suptitle() == spec
    finally:
        _close(fig)


@pytest.fixture
def drawn(monkeypatch):
    """The figures ``sepconv check --plot`` draws (plots.decomposition_figure's results)."""
    figures = []
    original = plots.decomposition_figure

    def keep(*args, **kwargs):
        figures.append(original(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(plots, "decomposition_figure", keep)
    return figures


def test_check_plot_draws_every_component_it_prints(runner, tmp_path, drawn):
    """The CLI hands every component to the figure, named as its text and JSON name them."""
    target = tmp_path / "sobel.png"
    result = runner.invoke(app, ["check", "sobel", "--plot", str(target)])
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = drawn
    assert len(fig.axes) == 4
    for name in SOBEL_2D:
        assert f"sobel: {name}: shape 3×3 (2-D)" in result.stderr
        assert sum(t.startswith(name + "\n") for t in _titles(fig)) == 2
    doc = json.loads(runner.invoke(app, ["check", "sobel", "--json"]).stdout)
    assert [c["name"] for c in doc["components"]] == SOBEL_2D
    assert [c["factors"] for c in doc["components"]] == [
        [[1, 0, -1], [1, 2, 1]],
        [[1, 2, 1], [1, 0, -1]],
    ]


def test_check_plot_of_a_plain_kernel_is_one_row(runner, tmp_path, drawn):
    result = runner.invoke(app, ["check", "disk:radius=3", "--plot", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.stderr
    assert _titles(drawn[0]) == ["singular values", "error of the best sum of r separable terms"]


def test_kernel_figure_draws_each_component_with_its_factors():
    kernel = build_kernel("sobel")
    fig = plots.kernel_figure(kernel)
    try:
        assert len(fig.subfigs) == 2
        for panel, name, (_, part) in zip(fig.subfigs, SOBEL_2D, kernel.parts, strict=True):
            heat = next(ax for ax in panel.axes if ax.images)
            np.testing.assert_array_equal(heat.images[0].get_array(), part.weights)
            top = next(ax for ax in panel.axes if ax.get_title())
            assert top.get_title().startswith(f"sobel: {name}\n")
            np.testing.assert_array_equal(top.lines[0].get_ydata(), part.factors[1])
    finally:
        _close(fig)


def test_kernel_figure_3d_components_share_one_colour_scale_per_row():
    fig = plots.kernel_figure(build_kernel("sobel", ndim=3))
    try:
        assert [p.get_suptitle() for p in fig.subfigs] == [
            f"sobel: component {i} of 3 (derivative along axis {i - 1})" for i in (1, 2, 3)
        ]
        for panel in fig.subfigs:
            images = [ax.images[0] for ax in panel.axes if ax.images]
            assert len(images) == 3  # the all-zero central slice is coloured on the same scale
            assert {im.get_clim() for im in images} == {(-4.0, 4.0)}
    finally:
        _close(fig)


def test_kernel_plot_of_a_gradient_magnitude_from_the_cli(runner, tmp_path):
    target = tmp_path / "k.svg"
    result = runner.invoke(app, ["kernel", "prewitt", "--plot", str(target)])
    assert result.exit_code == 0, result.stderr
    svg = target.read_text()
    for name in SOBEL_2D:  # drawn and printed under the same name
        assert name in svg
        assert f"\n{name}:\n" in result.stderr
