"""Op-count and byte models for filtering one image with one kernel, per method.

Everything here is pure arithmetic on shapes, so it can be checked by hand.

Conventions (per output voxel, ``K_i`` = kernel size on filtered axis ``i``):

========== ======================== ============================ ===========================
method     multiplies               adds                         MACs
========== ======================== ============================ ===========================
direct     ``prod(K)``              ``prod(K) - 1``              ``prod(K)``
separable  ``sum(K)``               ``sum(K - 1)``               ``sum(K)``
lowrank    ``r * sum(K)``           ``r * sum(K - 1) + (r - 1)`` ``r * sum(K)``
fft        see :func:`fft_counts`   see :func:`fft_counts`       = multiplies
========== ======================== ============================ ===========================

FLOPs are always multiplies + adds (a MAC counts as two FLOPs). For FFT, "MACs" reports the
multiplies (FFT butterflies are not multiply-accumulates); compare FLOPs across methods.

Bytes are the compulsory memory traffic of one pass over the data (every full-array read and
write, perfect cache reuse of the kernel window): direct reads and writes the array once;
separable does so once per axis pass; low-rank once per pass of each term plus reading and
writing the accumulator; FFT pads, transforms, multiplies, transforms back and crops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Methods in the order reports list them.
METHODS: tuple[str, ...] = ("direct", "separable", "lowrank", "fft")


def next_fast_len(n: int) -> int:
    """Smallest 5-smooth integer (2^a 3^b 5^c) >= ``n``: the FFT length the model assumes.

    Examples
    --------
    >>> next_fast_len(97), next_fast_len(128), next_fast_len(1)
    (100, 128, 1)
    """
    if n <= 1:
        return 1
    best = None
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            p = p35
            while p < n:
                p *= 2
            if best is None or p < best:
                best = p
            p35 *= 3
        p5 *= 5
    assert best is not None
    return best


def _entry(mults: float, adds: float, macs: float, voxels: int, nbytes: float) -> dict[str, Any]:
    return {
        "mults": mults,
        "adds": adds,
        "macs": macs,
        "flops": mults + adds,
        "total_mults": mults * voxels,
        "total_adds": adds * voxels,
        "total_macs": macs * voxels,
        "total_flops": (mults + adds) * voxels,
        "bytes": nbytes,
    }


def fft_counts(
    image_shape: Sequence[int], kernel_shape: Sequence[int], filtered_axes: Sequence[int]
) -> dict[str, float]:
    """Total multiplies and adds of FFT filtering, and the transform sizes it assumes.

    Each filtered axis is padded to ``next_fast_len(n + K - 1)``; with ``M`` the product of those
    lengths and ``B`` the number of independent slices (product of the unfiltered axes), a real
    FFT of ``M`` points costs ``M log2 M`` multiplies and ``1.5 M log2 M`` adds (half of a
    radix-2 complex FFT: ``2 M log2 M`` and ``3 M log2 M``). There are ``2B + 1`` transforms
    (forward and inverse per slice, one for the kernel) and ``B * H`` complex products (4
    multiplies, 2 adds each) with ``H`` the half-spectrum size.

    Examples
    --------
    >>> c = fft_counts((6,), (3,), (0,))
    >>> c["M"], c["H"], c["mults"]
    (8, 5, 92.0)
    """
    shape = [int(n) for n in image_shape]
    padded = []
    for axis, size in zip(filtered_axes, kernel_shape, strict=True):
        padded.append(next_fast_len(shape[axis] + int(size) - 1))
    batch = 1
    for axis, n in enumerate(shape):
        if axis not in filtered_axes:
            batch *= n
    m = math.prod(padded)
    h = m // padded[-1] * (padded[-1] // 2 + 1) if padded else 1
    log_m = math.log2(m) if m > 1 else 0.0
    transforms = 2 * batch + 1
    mults = transforms * m * log_m + 4.0 * batch * h
    adds = transforms * 1.5 * m * log_m + 2.0 * batch * h
    return {"M": m, "H": h, "B": batch, "mults": mults, "adds": adds}


def method_costs(
    image_shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    rank: int,
    itemsize: int = 4,
    filtered_axes: Sequence[int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Predicted op counts and bytes moved for each filtering method.

    Parameters
    ----------
    image_shape
        Shape of the whole array (all axes, filtered or not).
    kernel_shape
        Kernel size per filtered axis.
    rank
        Separable rank of the kernel: 1 (or known factors) adds ``"separable"``, r >= 2 adds
        ``"lowrank"`` with r terms, 0 (not low-rank) adds neither.
    itemsize
        Bytes per sample of the compute dtype (4 for float32, 8 for float64).
    filtered_axes
        Array axes the kernel spans, in order; default the first ``len(kernel_shape)`` axes.

    Returns
    -------
    dict
        ``{method: {"mults", "adds", "macs", "flops", "total_mults", "total_adds",
        "total_macs", "total_flops", "bytes"}}``; per-voxel counts are per output voxel;
        ``lowrank`` also has ``"terms"``; ``fft`` has ``"fft_size"``.

    Examples
    --------
    >>> c = method_costs((100, 100), (5, 5), rank=1)
    >>> c["direct"]["macs"], c["direct"]["adds"], c["separable"]["macs"], c["separable"]["flops"]
    (25, 24, 10, 18)
    >>> c["direct"]["total_macs"], c["separable"]["bytes"]
    (250000, 160000)
    """
    shape = tuple(int(n) for n in image_shape)
    ksize = tuple(int(k) for k in kernel_shape)
    axes = tuple(range(len(ksize))) if filtered_axes is None else tuple(filtered_axes)
    if len(axes) != len(ksize):
        raise ValueError(f"filtered_axes {axes} do not match kernel shape {ksize}")
    if len(ksize) > len(shape):
        raise ValueError(f"kernel shape {ksize} has more axes than image shape {shape}")
    voxels = math.prod(shape)
    passes = len(ksize)
    costs: dict[str, dict[str, Any]] = {}

    direct = math.prod(ksize)
    costs["direct"] = _entry(direct, direct - 1, direct, voxels, itemsize * 2 * voxels)
    if rank == 1:
        s = sum(ksize)
        costs["separable"] = _entry(s, s - passes, s, voxels, itemsize * 2 * passes * voxels)
    elif rank >= 2:
        s = rank * sum(ksize)
        entry = _entry(
            s,
            rank * (sum(ksize) - passes) + (rank - 1),
            s,
            voxels,
            itemsize * (rank * 2 * passes * voxels + (rank - 1) * 3 * voxels),
        )
        entry["terms"] = rank
        costs["lowrank"] = entry
    fft = fft_counts(shape, ksize, axes)
    m, h, b = fft["M"], fft["H"], fft["B"]
    entry = _entry(
        fft["mults"] / voxels,
        fft["adds"] / voxels,
        fft["mults"] / voxels,
        voxels,
        itemsize * (3 * voxels + 3 * m * b + 8 * h * b),
    )
    entry["fft_size"] = m
    costs["fft"] = entry
    return costs


#: The public name (``sepconv_cli.count_ops``).
count_ops = method_costs


def saving_factor(costs: dict[str, dict[str, Any]], method: str) -> float:
    """How many times fewer FLOPs ``method`` needs than ``direct``.

    Examples
    --------
    >>> saving_factor(method_costs((64, 64), (9, 9), rank=1), "separable")
    4.735294117647059
    """
    return costs["direct"]["flops"] / costs[method]["flops"]


def mults_saving(costs: dict[str, dict[str, Any]], method: str) -> float:
    """How many times fewer multiplies per voxel ``method`` needs than ``direct``.

    This is the textbook claim: ``K^d`` against ``d K``, i.e. ``K^(d-1) / d``.

    Examples
    --------
    >>> round(mults_saving(method_costs((64, 64, 64), (7, 7, 7), rank=1), "separable"), 2)
    16.33
    """
    return costs["direct"]["mults"] / costs[method]["mults"]


def closed_form(kernel_shape: Sequence[int], method: str, rank: int = 1) -> dict[str, str] | None:
    """The multiplies per voxel of ``method`` and its saving over direct as closed forms.

    ``K^d`` (direct), ``d·K`` (separable) and ``r·d·K`` (a sum of r separable terms) for a
    cubic kernel; ``∏K`` and ``ΣK`` otherwise. ``None`` for FFT, whose count has no short form
    (see :func:`fft_counts`).

    Examples
    --------
    >>> closed_form((7, 7), "separable")
    {'mults': 'd·K = 2·7 = 14', 'saving': 'K^(d-1)/d = 7^1/2 = 3.5'}
    >>> closed_form((5, 3), "lowrank", rank=2)["mults"]
    'r·ΣK = 2·(5+3) = 16'
    """
    ksize = [int(k) for k in kernel_shape]
    d, direct, total = len(ksize), math.prod(ksize), sum(ksize)
    cubic, k = len(set(ksize)) == 1, ksize[0]
    if method == "direct":
        if cubic:
            return {"mults": f"K^d = {k}^{d} = {direct}", "saving": "1"}
        return {"mults": f"∏K = {'·'.join(map(str, ksize))} = {direct}", "saving": "1"}
    if method not in ("separable", "lowrank"):
        return None
    r = 1 if method == "separable" else int(rank)
    mults = r * total
    if cubic:
        symbol, numbers = "d·K", f"{d}·{k}"
        saving_symbol, saving_numbers = "K^(d-1)/{}", f"{k}^{d - 1}/{{}}"
        per_term, per_term_numbers = "d", f"{d}"
    else:
        symbol, numbers = "ΣK", "+".join(map(str, ksize))
        saving_symbol, saving_numbers = "∏K/{}", f"{direct}/{mults}"
        per_term, per_term_numbers = "ΣK", ""
    if r > 1:
        symbol = f"r·{symbol}"
        numbers = f"{r}·{numbers}" if cubic else f"{r}·({numbers})"
        per_term, per_term_numbers = f"(r·{per_term})", f"({r}·{d})"
    return {
        "mults": f"{symbol} = {numbers} = {mults}",
        "saving": f"{saving_symbol.format(per_term)} = "
        f"{saving_numbers.format(per_term_numbers)} = {direct / mults:.3g}",
    }


def fft_crossover(
    image_shape: Sequence[int],
    filtered_axes: Sequence[int] | None = None,
    max_size: int | None = None,
) -> dict[str, int | None]:
    """The smallest cubic kernel size at which FFT needs fewer FLOPs per voxel, per method.

    For ``K = 1 .. max_size`` (default: twice the largest filtered side) the kernel ``K`` on
    every filtered axis is costed by :func:`method_costs`; the first ``K`` where FFT's FLOPs
    are below direct's (and below separable's, with ``d·K`` multiplies) is returned, or
    ``None`` when FFT never wins in that range. FFT's count moves with the padded length
    (5-smooth sizes), so a larger ``K`` may briefly favour the other method again.

    Parameters
    ----------
    image_shape
        Shape of the whole array.
    filtered_axes
        Axes the kernel spans; default all of them.
    max_size
        Largest kernel size tried.

    Returns
    -------
    dict
        ``{"direct": K or None, "separable": K or None, "max_size": largest K tried}``.

    Examples
    --------
    >>> fft_crossover((256, 256))
    {'direct': 9, 'separable': 44, 'max_size': 512}
    """
    shape = tuple(int(n) for n in image_shape)
    axes = tuple(range(len(shape))) if filtered_axes is None else tuple(filtered_axes)
    largest = max(2 * max(shape[a] for a in axes), 1) if max_size is None else int(max_size)
    found: dict[str, int | None] = {"direct": None, "separable": None}
    for k in range(1, largest + 1):
        costs = method_costs(shape, (k,) * len(axes), rank=1, filtered_axes=axes)
        for method in found:
            if found[method] is None and costs["fft"]["flops"] < costs[method]["flops"]:
                found[method] = k
        if None not in found.values():
            break
    return {**found, "max_size": largest}


def crossover_text(found: dict[str, int | None]) -> str:
    """One line saying from which kernel size FFT beats each method.

    Examples
    --------
    >>> crossover_text({"direct": 9, "separable": None, "max_size": 512})
    'FFT has fewer FLOPs than direct from K = 9, than separable never (K <= 512)'
    """
    parts = [
        f"than {method} "
        + (f"from K = {k}" if k is not None else f"never (K <= {found['max_size']})")
        for method, k in found.items()
        if method != "max_size"
    ]
    return "FFT has fewer FLOPs " + ", ".join(parts)
