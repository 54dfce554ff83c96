"""Pictures of kernels and of their separability (matplotlib, optional, imported lazily).

Files are written atomically; the format follows the suffix (``.png``, ``.svg``, ``.pdf``...).
"""

from __future__ import annotations

import os
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


def _heat(ax: Any, weights: np.ndarray, title: str, rows: str = "axis 0", cols: str = "axis 1"):
    limit = float(np.max(np.abs(weights))) or 1.0
    signed = bool(np.any(weights < 0))
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


def plot_kernel(kernel: Kernel, path: str | os.PathLike[str]) -> Path:
    """Draw a kernel: a line (1-D), a heat map with its factors beside it (2-D), or the three
    central slices (3-D and more: the central slices through the last three axes).

    Examples
    --------
    >>> import tempfile
    >>> from sepconv_cli.kernels import build_kernel
    >>> out = plot_kernel(build_kernel("sobel:axis=x"), Path(tempfile.mkdtemp()) / "k.png")
    >>> out.stat().st_size > 0
    True
    """
    plt = _pyplot()
    weights = kernel.weights
    title = kernel.spec or kernel.name
    if kernel.combine:
        title += f" (component 1 of {len(kernel.components)}, combined by {kernel.combine})"
    if weights.ndim == 1:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        offsets = np.arange(weights.size) - weights.size // 2
        ax.plot(offsets, weights, marker="o")
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel("offset (samples)")
        ax.set_ylabel("weight")
        ax.set_title(title, fontsize=9)
    elif weights.ndim == 2:
        fig = plt.figure(figsize=(6.5, 6))
        grid = fig.add_gridspec(2, 2, width_ratios=(1, 4), height_ratios=(1, 4), wspace=0.2)
        ax = fig.add_subplot(grid[1, 1])
        image = _heat(ax, weights, "")
        fig.colorbar(image, ax=ax, fraction=0.046)
        if kernel.factors is not None:
            top = fig.add_subplot(grid[0, 1], sharex=ax)
            top.plot(np.arange(weights.shape[1]), kernel.factors[1], marker="o")
            top.set_title(f"{title}\nfactor along axis 1 (top), axis 0 (left)", fontsize=9)
            left = fig.add_subplot(grid[1, 0], sharey=ax)
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
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        for ax, (plane, cut, rows, cols) in zip(axes, slices, strict=True):
            image = _heat(ax, plane, f"central slice {names[cut]} = {mid[cut]}", rows, cols)
        fig.colorbar(image, ax=list(axes), fraction=0.02)
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_decomposition(
    decomposition: Decomposition, path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Draw the singular-value spectrum (2-D) or unfolding ranks, and the error against rank.

    Examples
    --------
    >>> import tempfile
    >>> from sepconv_cli.separability import analyse
    >>> d = analyse(np.eye(4) + 1.0)
    >>> plot_decomposition(d, Path(tempfile.mkdtemp()) / "d.png").suffix
    '.png'
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    floor = 1e-17
    if decomposition.singular_values is not None:
        s = np.asarray(decomposition.singular_values, dtype=np.float64)
        rel = s / s[0] if s.size and s[0] > 0 else s
        left.semilogy(np.arange(1, s.size + 1), np.maximum(rel, floor), marker="o")
        left.axhline(decomposition.tol, color="tab:red", linestyle="--", label="--tol")
        left.set_xlabel("index")
        left.set_ylabel("singular value / largest")
        left.set_title("singular values", fontsize=9)
        left.legend(fontsize=8)
    else:
        ranks = decomposition.unfolding_ranks
        from matplotlib.ticker import MaxNLocator

        left.bar([f"axis {i}" for i in range(len(ranks))], ranks)
        left.yaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_ylabel("numerical rank")
        left.set_title("rank of each mode unfolding (all 1 = separable)", fontsize=9)
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
    right.set_title("error of the best sum of r separable terms", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
