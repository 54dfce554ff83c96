"""Pictures of kernels and of their separability (matplotlib, optional, imported lazily).

Files are written atomically; the format follows the suffix (``.png``, ``.svg``, ``.pdf``...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sepconv_cli.errors import BackendUnavailableError, UsageError
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.separability import Decomposition

INSTALL_HINT = "pip install 'sepconv-cli[plot]'"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BackendUnavailableError(
            f"--plot needs matplotlib, which is not installed ({INSTALL_HINT})"
        ) from exc
    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from sepconv_cli.io.atomic import atomic_paths

    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if suffix not in supported:
        raise UsageError(
            f"--plot {os.fspath(target)!r}: unknown picture type {suffix or '(none)'!r} "
            f"(use .png, .svg or .pdf)"
        )
    try:
        with atomic_paths([target]) as (temp,):
            fig.savefig(temp, format=suffix, dpi=120, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return target


def _heat(
    ax: Any,
    weights: np.ndarray,
    title: str,
    rows: str = "axis 0",
    cols: str = "axis 1",
    scale: np.ndarray | None = None,
):
    """A heat map of ``weights`` coloured by the range of ``scale`` (default: ``weights``), so
    panels sharing one colour bar share one scale."""
    scale = weights if scale is None else scale
    limit = float(np.max(np.abs(scale))) or 1.0
    signed = bool(np.any(scale < 0))
    image = ax.imshow(
        weights,
        cmap="RdBu_r" if signed else "viridis",
        vmin=-limit if signed else 0.0,
        vmax=limit,
        interpolation="nearest",
    )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(cols)
    ax.set_ylabel(rows)
    return image


def _draw_kernel(panel: Any, kernel: Kernel, title: str) -> None:
    """Draw one (non-composite) kernel into ``panel`` (a figure or a sub-figure)."""
    weights = kernel.weights
    if weights.ndim == 1:
        ax = panel.subplots()
        offsets = np.arange(weights.size) - weights.size // 2
        ax.plot(offsets, weights, marker="o")
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel("offset (samples)")
        ax.set_ylabel("weight")
        ax.set_title(title, fontsize=9)
    elif weights.ndim == 2:
        grid = panel.add_gridspec(2, 2, width_ratios=(1, 4), height_ratios=(1, 4), wspace=0.2)
        ax = panel.add_subplot(grid[1, 1])
        image = _heat(ax, weights, "")
        panel.colorbar(image, ax=ax, fraction=0.046)
        if kernel.factors is not None:
            top = panel.add_subplot(grid[0, 1], sharex=ax)
            top.plot(np.arange(weights.shape[1]), kernel.factors[1], marker="o")
            top.set_title(f"{title}\nfactor along axis 1 (top), axis 0 (left)", fontsize=9)
            left = panel.add_subplot(grid[1, 0], sharey=ax)
            left.plot(kernel.factors[0], np.arange(weights.shape[0]), marker="o")
            left.invert_xaxis()
            left.set_ylabel("axis 0")  # the heat map's own label would sit under this panel
            ax.set_ylabel("")
        else:
            ax.set_title(f"{title}\n(no exact factors: see sepconv check)", fontsize=9)
    else:
        lead = weights.ndim - 3
        centre = tuple(n // 2 for n in weights.shape[:lead])
        cube = weights[centre] if centre else weights
        mid = [n // 2 for n in cube.shape]
        names = [f"axis {lead + i}" for i in range(3)]
        slices = (
            (cube[mid[0], :, :], 0, names[1], names[2]),
            (cube[:, mid[1], :], 1, names[0], names[2]),
            (cube[:, :, mid[2]], 2, names[0], names[1]),
        )
        axes = panel.subplots(1, 3)
        for ax, (plane, cut, rows, cols) in zip(axes, slices, strict=True):
            image = _heat(
                ax, plane, f"central slice {names[cut]} = {mid[cut]}", rows, cols, scale=cube
            )
        panel.colorbar(image, ax=list(axes), fraction=0.02)
        panel.suptitle(title, fontsize=10)


#: Figure size (width, height) in inches of one kernel's picture, by number of axes (3: 3-D+).
_KERNEL_SIZE = {1: (6.0, 3.5), 2: (6.5, 6.0), 3: (12.0, 4.0)}


def kernel_figure(kernel: Kernel) -> Any:
    """A matplotlib figure of a kernel: a line (1-D), a heat map with its factors beside it
    (2-D), or the three central slices (3-D and more: through the last three axes).

    A gradient magnitude draws every component, one row each, titled with its name.

    Examples
    --------
    >>> from sepconv_cli.kernels import build_kernel
    >>> fig = kernel_figure(build_kernel("sobel"))
    >>> for ax in fig.axes:
    ...     if ax.get_title():
    ...         print(ax.get_title().splitlines()[0])
    sobel: component 1 of 2 (derivative along axis 0)
    sobel: component 2 of 2 (derivative along axis 1)
    """
    plt = _pyplot()
    parts = kernel.parts
    width, height = _KERNEL_SIZE[min(kernel.ndim, 3)]
    fig = plt.figure(figsize=(width, height * len(parts)))
    if len(parts) == 1:
        _draw_kernel(fig, kernel, kernel.spec or kernel.name)
        return fig
    prefix = kernel.spec or kernel.name
    for panel, (name, part) in zip(fig.subfigures(len(parts), 1), parts, strict=True):
        _draw_kernel(panel, part, f"{prefix}: {name}")
    return fig


def plot_kernel(kernel: Kernel, path: str | os.PathLike[str]) -> Path:
    """Draw :func:`kernel_figure` to ``path`` (atomically; the type follows the suffix).

    Examples
    --------
    >>> import tempfile
    >>> from sepconv_cli.kernels import build_kernel
    >>> out = plot_kernel(build_kernel("sobel:axis=x"), Path(tempfile.mkdtemp()) / "k.png")
    >>> out.stat().st_size > 0
    True
    """
    return _save(kernel_figure(kernel), path)


def _draw_decomposition(left: Any, right: Any, decomposition: Decomposition, name: str) -> None:
    """The singular-value spectrum (2-D) or unfolding ranks, and the error against rank."""
    prefix = f"{name}\n" if name else ""
    floor = 1e-17
    if decomposition.singular_values is not None:
        s = np.asarray(decomposition.singular_values, dtype=np.float64)
        rel = s / s[0] if s.size and s[0] > 0 else s
        from matplotlib.ticker import MaxNLocator

        left.semilogy(np.arange(1, s.size + 1), np.maximum(rel, floor), marker="o")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.axhline(decomposition.tol, color="tab:red", linestyle="--", label="--tol")
        left.set_xlabel("index")
        left.set_ylabel("singular value / largest")
        left.set_title(f"{prefix}singular values", fontsize=9)
        left.legend(fontsize=8)
    else:
        from matplotlib.ticker import MaxNLocator

        ranks = decomposition.unfolding_ranks
        left.bar([f"axis {i}" for i in range(len(ranks))], ranks)
        left.yaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_ylabel("numerical rank")
        left.set_title(f"{prefix}rank of each mode unfolding (all 1 = separable)", fontsize=9)
    rows = decomposition.by_rank
    if rows:
        r = [row["rank"] for row in rows]
        frob = [max(row["rel_error"], floor) for row in rows]
        worst = [max(row["max_abs_error"], floor) for row in rows]
        right.semilogy(r, frob, marker="o", label="relative Frobenius error")
        right.semilogy(r, worst, marker="s", label="max abs error")
        right.axhline(decomposition.tol, color="tab:red", linestyle="--", label="--tol")
        if decomposition.rank:
            right.axvline(
                decomposition.rank, color="0.5", linestyle=":", label=f"rank {decomposition.rank}"
            )
        right.set_xticks(r)
        right.legend(fontsize=8)
    right.set_xlabel("separable terms r")
    right.set_title(f"{prefix}error of the best sum of r separable terms", fontsize=9)


def decomposition_figure(
    decompositions: Sequence[Decomposition], names: Sequence[str] = (), title: str = ""
) -> Any:
    """A matplotlib figure with one row per decomposition: the singular-value spectrum (2-D) or
    the unfolding ranks, and the error against rank.

    ``names`` title the rows (the components of a gradient magnitude: ``Kernel.parts``).

    Examples
    --------
    >>> from sepconv_cli.kernels import build_kernel
    >>> from sepconv_cli.separability import analyse
    >>> kernel = build_kernel("sobel")
    >>> names, parts = zip(*kernel.parts)
    >>> fig = decomposition_figure([analyse(k) for k in parts], names, title=kernel.spec)
    >>> len(fig.axes), fig.axes[2].get_title()
    (4, 'component 2 of 2 (derivative along axis 1)\\nsingular values')
    """
    plt = _pyplot()
    count = len(decompositions)
    fig, axes = plt.subplots(count, 2, figsize=(11, 4 * count), squeeze=False, layout="constrained")
    for (left, right), decomposition, name in zip(
        axes, decompositions, names or [""] * count, strict=True
    ):
        _draw_decomposition(left, right, decomposition, name)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_decomposition(
    decompositions: Sequence[Decomposition],
    path: str | os.PathLike[str],
    names: Sequence[str] = (),
    title: str = "",
) -> Path:
    """Draw :func:`decomposition_figure` to ``path`` (atomically; the type follows the suffix).

    Examples
    --------
    >>> import tempfile
    >>> from sepconv_cli.separability import analyse
    >>> d = analyse(np.eye(4) + 1.0)
    >>> plot_decomposition([d], Path(tempfile.mkdtemp()) / "d.png").suffix
    '.png'
    """
    return _save(decomposition_figure(decompositions, names, title), path)
