"""The four filtering methods on one kernel in correlation form.

``direct`` correlates with the full N-D kernel, ``separable`` runs one 1-D pass per axis,
``lowrank`` sums the separable passes of r terms, and ``fft`` multiplies spectra of the array
padded (``np.pad`` with the mode's equivalent, :data:`sepconv_cli.boundary.NP_PAD_MODE`) by the
kernel's reach, block by block along one axis so memory stays bounded. All of them give the
same result for every boundary mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from sepconv_cli.boundary import NP_PAD_MODE

#: Working-set budget of one FFT block (padded block, spectrum, result).
FFT_BLOCK_BYTES = 64 * 2**20


@dataclass
class Part:
    """A kernel in correlation form over some array axes.

    Parameters
    ----------
    weights
        float64 weights, one kernel axis per entry of ``axes``.
    origin
        scipy.ndimage origin per kernel axis (for correlation).
    axes
        The array axes the kernel spans, ascending.
    factors
        1-D factors (correlation form) when the kernel is one separable term.
    terms
        Separable terms (correlation form) of a low-rank approximation.

    Examples
    --------
    >>> p = Part(np.ones((3, 3)) / 9, (0, 0), (0, 1))
    >>> p.expanded(3)[0].shape
    (3, 3, 1)
    """

    weights: np.ndarray
    origin: tuple[int, ...]
    axes: tuple[int, ...]
    factors: list[np.ndarray] | None = None
    terms: list[list[np.ndarray]] = field(default_factory=list)

    def expanded(self, ndim: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """Weights and origins over all ``ndim`` array axes (size 1 / origin 0 elsewhere)."""
        shape = [1] * ndim
        origin = [0] * ndim
        for k, axis in enumerate(self.axes):
            shape[axis] = self.weights.shape[k]
            origin[axis] = self.origin[k]
        return self.weights.reshape(shape), tuple(origin)

    def absolute(self) -> Part:
        """The same kernel with absolute weights (for normalised convolution)."""
        factors = None if self.factors is None else [np.abs(f) for f in self.factors]
        terms = self.terms if np.all(self.weights >= 0) else []
        return Part(np.abs(self.weights), self.origin, self.axes, factors, terms)


def correlation_origin(size: int, origin: int, *, flipped: bool) -> int:
    """The scipy correlation origin equivalent to a kernel origin (as scipy.ndimage.convolve).

    Examples
    --------
    >>> correlation_origin(3, 0, flipped=True), correlation_origin(4, 0, flipped=True)
    (0, -1)
    """
    if not flipped:
        return origin
    return -origin - (0 if size % 2 else 1)


def _separable_passes(
    factors: Sequence[np.ndarray], axes: Sequence[int], origins: Sequence[int]
) -> tuple[list[tuple[np.ndarray, int, int]], float]:
    """Non-trivial 1-D passes and the product of the size-1 factors (a plain scale)."""
    passes = []
    scale = 1.0
    for factor, axis, origin in zip(factors, axes, origins, strict=True):
        if factor.size == 1:
            scale *= float(factor[0])
        else:
            passes.append((factor, axis, origin))
    return passes, scale


def run_separable(
    data: np.ndarray,
    factors: Sequence[np.ndarray],
    axes: Sequence[int],
    origins: Sequence[int],
    backend: ModuleType,
    mode: str,
    cval: float,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """One 1-D correlation pass per axis (a fused pass when the backend offers one).

    ``data`` may be float or a small integer type (read directly, never converted as a whole);
    ``output`` (default: a new array of ``data``'s dtype when float, else float32) may be
    float or integer. Integer
    outputs are rounded half to even and clipped to the type's range — what the numba backend
    does inside its sweep and what :func:`sepconv_cli.engine.filtering.cast_output` does, so
    every backend rounds alike. Passes after the first run in place in one float buffer (the
    output itself when it is float), so no second array of the data's size is allocated.

    Examples
    --------
    >>> from sepconv_cli.engine.backends import load_backend
    >>> run_separable(np.eye(3), [np.ones(3), np.ones(1)], (0, 1), (0, 0),
    ...               load_backend("numpy"), "constant", 0.0)
    array([[1., 1., 0.],
           [1., 1., 1.],
           [0., 1., 1.]])
    >>> run_separable(np.array([0, 3, 4], np.uint8), [np.ones(2) / 2], (0,), (0,),
    ...               load_backend("numpy"), "nearest", 0.0, np.empty(3, np.uint8))
    array([0, 2, 4], dtype=uint8)
    """
    out = output
    if out is None:
        out = np.empty(data.shape, data.dtype if data.dtype.kind == "f" else np.float32)
    passes, scale = _separable_passes(factors, axes, origins)
    if not passes:
        if out.dtype.kind in "iu":
            return round_into(data * np.float32(scale), out)
        return np.multiply(data, out.dtype.type(scale), out=out, casting="unsafe")
    if scale != 1.0:
        first, axis, origin = passes[0]
        passes[0] = (first * scale, axis, origin)
    fused = getattr(backend, "correlate_separable", None)
    if fused is not None and (len(passes) > 1 or out.dtype.kind in "iu"):
        return fused(
            data,
            [p[0] for p in passes],
            tuple(p[1] for p in passes),
            mode,
            cval,
            tuple(p[2] for p in passes),
            out,
        )
    work = out
    if out.dtype.kind not in "f":
        compute = np.float64 if data.dtype == np.float64 else np.float32
        work = np.empty(data.shape, compute)
    source = data
    for factor, axis, origin in passes:
        source = backend.correlate1d(source, factor, axis, mode, cval, origin, work)
    return out if work is out else round_into(work, out)


def round_into(values: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Round ``values`` half to even in place, clip to ``output``'s integer range, store.

    Examples
    --------
    >>> round_into(np.array([-3.0, 2.5, 3.5, 300.0]), np.empty(4, np.uint8))
    array([  0,   2,   4, 255], dtype=uint8)
    """
    info = np.iinfo(output.dtype)
    np.rint(values, out=values)
    np.clip(values, info.min, info.max, out=values)
    np.copyto(output, values, casting="unsafe")
    return output


def run_direct(
    data: np.ndarray,
    part: Part,
    backend: ModuleType,
    mode: str,
    cval: float,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate with the full N-D kernel (into ``output`` when given).

    Examples
    --------
    >>> from sepconv_cli.engine.backends import load_backend
    >>> run_direct(np.arange(4.0), Part(np.array([0.0, 1.0, 1.0]), (0,), (0,)),
    ...            load_backend("numpy"), "wrap", 0.0)
    array([1., 3., 5., 3.])
    """
    weights, origin = part.expanded(data.ndim)
    return backend.correlate(data, weights, mode, cval, origin, output)


def run_lowrank(
    data: np.ndarray, part: Part, backend: ModuleType, mode: str, cval: float
) -> np.ndarray:
    """Sum of the separable passes of each term of ``part.terms``.

    Examples
    --------
    >>> from sepconv_cli.engine.backends import load_backend
    >>> terms = [[np.array([1.0]), np.array([1.0, 0.0, 0.0])],
    ...          [np.array([1.0]), np.array([0.0, 0.0, 1.0])]]
    >>> p = Part(np.array([[1.0, 0.0, 1.0]]), (0, 0), (0, 1), terms=terms)
    >>> run_lowrank(np.arange(4.0)[None], p, load_backend("numpy"), "nearest", 0.0)
    array([[1., 2., 4., 5.]])
    """
    total: np.ndarray | None = None
    for term in part.terms:
        result = run_separable(data, term, part.axes, part.origin, backend, mode, cval)
        if total is None:
            total = result
        else:
            total += result
    if total is None:
        raise ValueError("low-rank method needs at least one term")
    return total


def _pad_spec(part: Part, ndim: int) -> tuple[list[int], list[int], np.ndarray]:
    weights, origin = part.expanded(ndim)
    before = [k // 2 + o for k, o in zip(weights.shape, origin, strict=True)]
    after = [k - 1 - b for k, b in zip(weights.shape, before, strict=True)]
    return before, after, weights


def run_fft(
    data: np.ndarray,
    part: Part,
    mode: str,
    cval: float,
    *,
    block_bytes: int = FFT_BLOCK_BYTES,
    spectra: dict[Any, np.ndarray] | None = None,
) -> np.ndarray:
    """Correlate via FFT: pad each block by the kernel reach with the mode, multiply spectra.

    The array is cut into slabs along its longest axis so that one slab's padded working set
    stays under ``block_bytes``; each slab is extended with the boundary mode of the WHOLE
    array (wrap reads the far end), so slabs join exactly (overlap-save). The kernel's
    spectrum is computed once per transform shape (``spectra`` caches it) and reused for every
    slab, channel, time point and band.

    Examples
    --------
    >>> run_fft(np.arange(4.0), Part(np.array([0.0, 1.0, 1.0]), (0,), (0,)), "wrap", 0.0)
    array([1., 3., 5., 3.])
    """
    ndim = data.ndim
    spectra = {} if spectra is None else spectra
    before, after, weights = _pad_spec(part, ndim)
    fft_axes = tuple(a for a in range(ndim) if weights.shape[a] > 1)
    if not fft_axes:
        return data * data.dtype.type(weights.reshape(-1)[0])
    others = [a for a in range(ndim) if a not in fft_axes]
    if any(data.shape[a] > 1 for a in others):
        # one transform per channel / time point / band: batched transforms over a strided
        # axis are several times slower, and a slice keeps the working set small
        origin = part.expanded(ndim)[1]
        sub = Part(
            weights.reshape([weights.shape[a] for a in fft_axes]),
            tuple(origin[a] for a in fft_axes),
            tuple(range(len(fft_axes))),
        )
        front = tuple(range(len(others)))
        source = np.moveaxis(data, others, front)
        out = np.empty_like(data)
        target = np.moveaxis(out, others, front)
        for index in np.ndindex(*source.shape[: len(others)]):
            target[index] = run_fft(
                source[index], sub, mode, cval, block_bytes=block_bytes, spectra=spectra
            )
        return out
    flipped = np.ascontiguousarray(weights[(slice(None, None, -1),) * ndim], dtype=data.dtype)
    pad_mode = NP_PAD_MODE[mode]
    shape = data.shape
    padded = [n + b + a for n, b, a in zip(shape, before, after, strict=True)]
    # real input, half spectrum (complex, ~ same bytes), result: ~4 arrays of the padded size
    per_row_bytes = 4 * data.itemsize * max(1, int(np.prod(padded))) // max(1, max(padded))
    block_axis = int(np.argmax(shape))
    halo = before[block_axis] + after[block_axis]
    rows = max(1, block_bytes // max(1, per_row_bytes) - halo)
    out = np.empty_like(data)
    n = shape[block_axis]
    if mode == "constant":
        index = np.pad(np.arange(n), (before[block_axis], after[block_axis]), constant_values=-1)
    else:
        index = np.pad(np.arange(n), (before[block_axis], after[block_axis]), mode=pad_mode)
    other = [(b, a) for b, a in zip(before, after, strict=True)]
    other[block_axis] = (0, 0)
    kwargs = {"constant_values": cval} if mode == "constant" else {}
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        rows_index = index[start : stop + halo]
        block = np.take(data, np.clip(rows_index, 0, n - 1), axis=block_axis)
        if mode == "constant" and np.any(rows_index < 0):
            where = [slice(None)] * ndim
            where[block_axis] = rows_index < 0
            block[tuple(where)] = cval
        block = np.pad(block, other, mode=pad_mode, **kwargs)
        target = [slice(None)] * ndim
        target[block_axis] = slice(start, stop)
        out[tuple(target)] = _fft_valid(block, flipped, fft_axes, spectra)
    return out


def _fft_valid(
    block: np.ndarray,
    flipped: np.ndarray,
    axes: tuple[int, ...],
    spectra: dict[Any, np.ndarray],
) -> np.ndarray:
    """``scipy.signal.fftconvolve(block, flipped, mode="valid", axes=axes)``, reusing the
    kernel's spectrum from ``spectra`` when a block of the same transform shape came before."""
    from scipy import fft as sp_fft

    shape = tuple(
        sp_fft.next_fast_len(block.shape[a] + flipped.shape[a] - 1, real=True) for a in axes
    )
    key = (shape, axes, block.dtype.str)
    spectrum = spectra.get(key)
    if spectrum is None:
        spectrum = spectra[key] = sp_fft.rfftn(flipped, shape, axes=axes)
    full = sp_fft.irfftn(sp_fft.rfftn(block, shape, axes=axes) * spectrum, shape, axes=axes)
    valid = [slice(None)] * block.ndim
    for a in axes:
        valid[a] = slice(flipped.shape[a] - 1, block.shape[a])
    return full[tuple(valid)]


def run_method(
    data: np.ndarray,
    part: Part,
    method: str,
    backend: ModuleType,
    mode: str,
    cval: float,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate ``data`` (float32/float64) with ``part`` by ``method``.

    The result is a new array, or ``output`` (of ``data``'s shape and dtype) for the direct
    and separable methods when given; lowrank and FFT ignore it.

    A constant mode with a non-zero ``cval`` runs as ``filter(data - cval, cval=0) + cval *
    sum(weights)``, so every method treats the outside as one N-D constant region.

    Examples
    --------
    >>> from sepconv_cli.engine.backends import load_backend
    >>> p = Part(np.ones((3, 3)), (0, 0), (0, 1), factors=[np.ones(3), np.ones(3)])
    >>> run_method(np.zeros((2, 2)), p, "separable", load_backend("numpy"), "constant", 1.0)
    array([[5., 5.],
           [5., 5.]])
    """
    if mode == "constant" and cval != 0.0:
        shifted = data - data.dtype.type(cval)
        result = run_method(shifted, part, method, backend, mode, 0.0, output)
        result += data.dtype.type(cval * _weights_sum(part, method))
        return result
    if method == "direct":
        return run_direct(data, part, backend, mode, cval, output)
    if method == "separable":
        if part.factors is None:
            raise ValueError("separable method needs the kernel's 1-D factors")
        return run_separable(
            data, part.factors, part.axes, part.origin, backend, mode, cval, output
        )
    if method == "lowrank":
        return run_lowrank(data, part, backend, mode, cval)
    if method == "fft":
        return run_fft(data, part, mode, cval)
    raise ValueError(f"unknown method {method!r}")


def _weights_sum(part: Part, method: str) -> float:
    """Sum of the weights the method actually applies (factors/terms are approximations)."""
    if method == "separable" and part.factors is not None:
        return float(np.prod([f.sum() for f in part.factors]))
    if method == "lowrank":
        return float(sum(np.prod([f.sum() for f in term]) for term in part.terms))
    return float(part.weights.sum())
