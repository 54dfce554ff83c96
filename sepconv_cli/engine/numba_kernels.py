"""Compiled Numba kernels behind :mod:`sepconv_cli.engine.numba_backend`.

Every kernel works on a C-contiguous view of the array reshaped around the filtered axes, so one
compiled specialisation serves every ndim and axis; the boundary mode is an int argument
(:data:`MODE_CODES`). The data flow is the same everywhere: gather input rows into a small,
cache-resident padded buffer whose halo is filled by the boundary rule, then run the stencil
with the tap loop outside (four taps per sweep, so the accumulator is loaded and stored once
per four taps) and a unit-stride loop over slice views inside — the form LLVM vectorises.
Inputs may be float32, float64 or small integers (converted to the accumulator type on the fly);
outputs float32, float64 or integers (rounded half to even, clipped).

Compilation is ``cache=True`` into ``NUMBA_CACHE_DIR``, which :mod:`numba_backend` sets before
this module (and numba) is imported.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Boundary mode name -> the int code the kernels take.
MODE_CODES: dict[str, int] = {"reflect": 0, "mirror": 1, "nearest": 2, "constant": 3, "wrap": 4}

# Fused multiply-add contraction and no signed-zero bookkeeping only: NaN and infinities still
# propagate as in scipy, and results differ from an unfused loop by float rounding only.
_FAST = {"contract", "nsz"}
_OPTS = {"cache": True, "nogil": True, "fastmath": _FAST}
#: Largest stride at which :func:`_strided` sweeps eight symmetric pairs at once: along rows
#: (of pixels with a few channels). Rows further apart are swept four pairs at once: sixteen
#: streams a power-of-two row length apart map to the same cache sets and evict each other.
STRIDED_MAX = 16


@njit(cache=True, nogil=True, inline="always")
def extend_index(j, n, mode):
    """Index of ``j`` (any integer) inside an axis of length ``n`` under ``mode``; -1: constant.

    Periodic extension (reflect: period 2n, mirror: 2n - 2, wrap: n), so kernels longer than
    the axis see reflections of reflections exactly as scipy.ndimage does.
    """
    if 0 <= j < n:
        return j
    if mode == 3:
        return -1
    if mode == 2:
        return 0 if j < 0 else n - 1
    # One reflection (or wrap) is enough unless the kernel is longer than the axis; this
    # avoids an integer division per halo element.
    if mode == 0:
        q = -j - 1 if j < 0 else 2 * n - 1 - j
    elif mode == 1:
        q = -j if j < 0 else 2 * n - 2 - j
    else:
        q = j + n if j < 0 else j - n
    if 0 <= q < n:
        return q
    if mode == 4:
        return j % n
    if mode == 0:
        m = j % (2 * n)
        return m if m < n else 2 * n - 1 - m
    if n == 1:
        return 0
    m = j % (2 * n - 2)
    return m if m < n else 2 * n - 2 - m


@njit(**_OPTS)
def _madd4(acc, init, w0, s0, w1, s1, w2, s2, w3, s3):
    """``acc (=|+=) w0*s0 + w1*s1 + w2*s2 + w3*s3`` elementwise."""
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j]
    else:
        for j in range(m):
            acc[j] += w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j]


@njit(**_OPTS)
def _madd1(acc, init, w0, s0):
    """``acc (=|+=) w0*s0`` elementwise."""
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * s0[j]
    else:
        for j in range(m):
            acc[j] += w0 * s0[j]


@njit(**_OPTS)
def _madd_pairs2(acc, init, w0, a0, b0, w1, a1, b1):
    """``acc (=|+=) w0*(a0+b0) + w1*(a1+b1)``: two symmetric tap pairs, half the multiplies."""
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * (a0[j] + b0[j]) + w1 * (a1[j] + b1[j])
    else:
        for j in range(m):
            acc[j] += w0 * (a0[j] + b0[j]) + w1 * (a1[j] + b1[j])


@njit(**_OPTS)
def _madd_pair1(acc, init, w0, a0, b0):
    """``acc (=|+=) w0*(a0+b0)``."""
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * (a0[j] + b0[j])
    else:
        for j in range(m):
            acc[j] += w0 * (a0[j] + b0[j])


@njit(**_OPTS)
def _madd_int_pairs2(acc, init, w0, a0, b0, w1, a1, b1):
    """:func:`_madd_pairs2` for 8/16-bit integer rows: each pair summed exactly in float32.

    The sum of two 16-bit integers is exact in float32, so the result equals
    :func:`_madd_pairs2` on rows converted to the accumulator type beforehand.
    """
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * (np.float32(a0[j]) + np.float32(b0[j])) + w1 * (
                np.float32(a1[j]) + np.float32(b1[j])
            )
    else:
        for j in range(m):
            acc[j] += w0 * (np.float32(a0[j]) + np.float32(b0[j])) + w1 * (
                np.float32(a1[j]) + np.float32(b1[j])
            )


@njit(**_OPTS)
def _madd_int_pair1(acc, init, w0, a0, b0):
    """:func:`_madd_pair1` for 8/16-bit integer rows (see :func:`_madd_int_pairs2`)."""
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = w0 * (np.float32(a0[j]) + np.float32(b0[j]))
    else:
        for j in range(m):
            acc[j] += w0 * (np.float32(a0[j]) + np.float32(b0[j]))


@njit(**_OPTS)
def _madd_int1(acc, w0, s0):
    """``acc += w0*s0`` for an 8/16-bit integer row."""
    for j in range(acc.shape[0]):
        acc[j] += w0 * np.float32(s0[j])


@njit(**_OPTS)
def _combine_int_rows(src, o, i, weights, lead, n, mode, body, qv):
    """:func:`_stencil` of integer rows ``src[o, extend(i + k - lead)]``, read without a copy.

    For palindromic ``weights`` and a mode that extends the axis with its own rows (not
    constant): the same sums in the same order as :func:`_stencil` over the rows converted to
    floats, so the result is identical, but each tap reads the 8/16-bit rows directly (a
    quarter of the bytes, no conversion pass).
    """
    taps = weights.shape[0]
    for k in range(taps):
        qv[k] = extend_index(i + k - lead, n, mode)
    half = taps // 2
    k = 0
    while k + 2 <= half:
        _madd_int_pairs2(
            body,
            k == 0,
            weights[k],
            src[o, qv[k]],
            src[o, qv[taps - 1 - k]],
            weights[k + 1],
            src[o, qv[k + 1]],
            src[o, qv[taps - 2 - k]],
        )
        k += 2
    if k < half:
        _madd_int_pair1(body, k == 0, weights[k], src[o, qv[k]], src[o, qv[taps - 1 - k]])
    if taps % 2:
        _madd_int1(body, weights[half], src[o, qv[half]])


@njit(**_OPTS)
def _symmetric(weights, n):
    """True when the first ``n`` weights read the same backwards (Gaussians, boxes...)."""
    if n < 3:
        return False
    for k in range(n // 2):  # noqa: SIM110 - numba compiles loops, not generators
        if weights[k] != weights[n - 1 - k]:
            return False
    return True


# The strided sweeps below read every tap at a multiple of one stride from one or two base
# views, so a sweep of eight taps keeps them all in registers and loads and stores the
# accumulator once (the tap-at-a-time sweeps above pass one view per tap, and past four views
# the pointers spill). ``s = max(s, 0)`` is what lets LLVM prove the indices non-negative,
# drop the negative-index wraparound and vectorise the loop.


@njit(**_OPTS)
def _spairs8(acc, init, left, right, s, w, k, centre, wc):
    """``acc (=|+=) sum_{i<8} w[k+i] * (left[j+i*s] + right[j+(7-i)*s])`` (``+ wc*centre[j]``).

    Eight symmetric tap pairs, the outer taps read from ``left`` and ``right``; the centre
    tap is added when ``init`` (pass ``wc = 0`` for an even kernel).
    """
    s = max(s, 0)
    w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
    w4, w5, w6, w7 = w[k + 4], w[k + 5], w[k + 6], w[k + 7]
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = wc * centre[j] + (
                w0 * (left[j] + right[j + 7 * s])
                + w1 * (left[j + s] + right[j + 6 * s])
                + w2 * (left[j + 2 * s] + right[j + 5 * s])
                + w3 * (left[j + 3 * s] + right[j + 4 * s])
                + w4 * (left[j + 4 * s] + right[j + 3 * s])
                + w5 * (left[j + 5 * s] + right[j + 2 * s])
                + w6 * (left[j + 6 * s] + right[j + s])
                + w7 * (left[j + 7 * s] + right[j])
            )
    else:
        for j in range(m):
            acc[j] += (
                w0 * (left[j] + right[j + 7 * s])
                + w1 * (left[j + s] + right[j + 6 * s])
                + w2 * (left[j + 2 * s] + right[j + 5 * s])
                + w3 * (left[j + 3 * s] + right[j + 4 * s])
                + w4 * (left[j + 4 * s] + right[j + 3 * s])
                + w5 * (left[j + 5 * s] + right[j + 2 * s])
                + w6 * (left[j + 6 * s] + right[j + s])
                + w7 * (left[j + 7 * s] + right[j])
            )


@njit(**_OPTS)
def _spairs4(acc, init, left, right, s, w, k, centre, wc):
    """:func:`_spairs8` with four pairs."""
    s = max(s, 0)
    w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = wc * centre[j] + (
                w0 * (left[j] + right[j + 3 * s])
                + w1 * (left[j + s] + right[j + 2 * s])
                + w2 * (left[j + 2 * s] + right[j + s])
                + w3 * (left[j + 3 * s] + right[j])
            )
    else:
        for j in range(m):
            acc[j] += (
                w0 * (left[j] + right[j + 3 * s])
                + w1 * (left[j + s] + right[j + 2 * s])
                + w2 * (left[j + 2 * s] + right[j + s])
                + w3 * (left[j + 3 * s] + right[j])
            )


@njit(**_OPTS)
def _smadd8(acc, init, row, s, w, k):
    """``acc (=|+=) sum_{i<8} w[k+i] * row[j+i*s]``."""
    s = max(s, 0)
    w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
    w4, w5, w6, w7 = w[k + 4], w[k + 5], w[k + 6], w[k + 7]
    m = acc.shape[0]
    if init:
        for j in range(m):
            acc[j] = (
                w0 * row[j]
                + w1 * row[j + s]
                + w2 * row[j + 2 * s]
                + w3 * row[j + 3 * s]
                + w4 * row[j + 4 * s]
                + w5 * row[j + 5 * s]
                + w6 * row[j + 6 * s]
                + w7 * row[j + 7 * s]
            )
    else:
        for j in range(m):
            acc[j] += (
                w0 * row[j]
                + w1 * row[j + s]
                + w2 * row[j + 2 * s]
                + w3 * row[j + 3 * s]
                + w4 * row[j + 4 * s]
                + w5 * row[j + 5 * s]
                + w6 * row[j + 6 * s]
                + w7 * row[j + 7 * s]
            )


@njit(**_OPTS)
def _strided(buf, base, weights, s, acc):
    """``acc[j] = sum_k weights[k] * buf[base + k*s + j]``, eight taps (or pairs) per sweep.

    For kernels of at least 8 taps; :func:`_stencil` keeps the shorter ones.
    """
    taps = weights.shape[0]
    k = 0
    if _symmetric(weights, taps):
        half = taps // 2
        centre = buf[base + half * s :]
        wc = weights[half] if taps % 2 else weights.dtype.type(0.0)
        while k + 8 <= half and s <= STRIDED_MAX:
            left = buf[base + k * s :]
            right = buf[base + (taps - 8 - k) * s :]
            _spairs8(acc, k == 0, left, right, s, weights, k, centre, wc)
            k += 8
        while k + 4 <= half:
            left = buf[base + k * s :]
            right = buf[base + (taps - 4 - k) * s :]
            _spairs4(acc, k == 0, left, right, s, weights, k, centre, wc)
            k += 4
        for q in range(k, half):
            a = base + q * s
            b = base + (taps - 1 - q) * s
            _madd_pair1(
                acc, False, weights[q], buf[a : a + acc.shape[0]], buf[b : b + acc.shape[0]]
            )
        return
    while k + 8 <= taps:
        _smadd8(acc, k == 0, buf[base + k * s :], s, weights, k)
        k += 8
    for q in range(k, taps):
        a = base + q * s
        _madd1(acc, False, weights[q], buf[a : a + acc.shape[0]])


@njit(**_OPTS)
def _spairs4_int(acc, init, left, right, s, w, k, centre, wc):
    """:func:`_spairs4` of 8/16-bit integer rows, each pair summed exactly in float32.

    The same sums in the same order as :func:`_spairs4` on the rows converted to floats.
    """
    s = max(s, 0)
    w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
    m = acc.shape[0]
    f = np.float32
    if init:
        for j in range(m):
            acc[j] = wc * f(centre[j]) + (
                w0 * (f(left[j]) + f(right[j + 3 * s]))
                + w1 * (f(left[j + s]) + f(right[j + 2 * s]))
                + w2 * (f(left[j + 2 * s]) + f(right[j + s]))
                + w3 * (f(left[j + 3 * s]) + f(right[j]))
            )
    else:
        for j in range(m):
            acc[j] += (
                w0 * (f(left[j]) + f(right[j + 3 * s]))
                + w1 * (f(left[j + s]) + f(right[j + 2 * s]))
                + w2 * (f(left[j + 2 * s]) + f(right[j + s]))
                + w3 * (f(left[j + 3 * s]) + f(right[j]))
            )


@njit(**_OPTS)
def _strided_int(flat, base, weights, s, acc):
    """:func:`_strided` of palindromic ``weights`` over 8/16-bit rows ``s > STRIDED_MAX`` apart.

    Bit for bit :func:`_strided` over the rows converted to floats.
    """
    taps = weights.shape[0]
    m = acc.shape[0]
    half = taps // 2
    centre = flat[base + half * s :]
    wc = weights[half] if taps % 2 else weights.dtype.type(0.0)
    k = 0
    while k + 4 <= half:
        left = flat[base + k * s :]
        right = flat[base + (taps - 4 - k) * s :]
        _spairs4_int(acc, k == 0, left, right, s, weights, k, centre, wc)
        k += 4
    for q in range(k, half):
        a = base + q * s
        b = base + (taps - 1 - q) * s
        _madd_int_pair1(acc, False, weights[q], flat[a : a + m], flat[b : b + m])


@njit(**_OPTS)
def _stencil(buf, weights, stride, acc):
    """``acc[j] = sum_k weights[k] * buf[k * stride + j]`` for ``j < len(acc)``."""
    m = acc.shape[0]
    taps = weights.shape[0]
    if taps >= 8:
        _strided(buf, 0, weights, stride, acc)
        return
    if _symmetric(weights, taps):
        half = taps // 2
        k = 0
        while k + 2 <= half:
            b, e = k * stride, (taps - 1 - k) * stride
            _madd_pairs2(
                acc,
                k == 0,
                weights[k],
                buf[b : b + m],
                buf[e : e + m],
                weights[k + 1],
                buf[b + stride : b + stride + m],
                buf[e - stride : e - stride + m],
            )
            k += 2
        if k < half:
            b, e = k * stride, (taps - 1 - k) * stride
            _madd_pair1(acc, k == 0, weights[k], buf[b : b + m], buf[e : e + m])
        if taps % 2:
            _madd1(acc, False, weights[half], buf[half * stride : half * stride + m])
        return
    k = 0
    while k + 4 <= taps:
        b = k * stride
        _madd4(
            acc,
            k == 0,
            weights[k],
            buf[b : b + m],
            weights[k + 1],
            buf[b + stride : b + stride + m],
            weights[k + 2],
            buf[b + 2 * stride : b + 2 * stride + m],
            weights[k + 3],
            buf[b + 3 * stride : b + 3 * stride + m],
        )
        k += 4
    while k < taps:
        _madd1(acc, k == 0, weights[k], buf[k * stride : k * stride + m])
        k += 1


@njit(**_OPTS)
def _store(dst, acc, lo, hi):
    """Round half to even, clip to ``[lo, hi]`` and store ``acc`` into integer ``dst``."""
    for j in range(dst.shape[0]):
        v = np.rint(acc[j])
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        dst[j] = v


@njit(**_OPTS)
def _emit(buf, weights, stride, acc, dst, lo, hi, is_int):
    """Run :func:`_stencil` into ``dst`` (through ``acc`` when ``dst`` is an integer type)."""
    if is_int:
        _stencil(buf, weights, stride, acc)
        _store(dst, acc, lo, hi)
    else:
        _stencil(buf, weights, stride, dst)


@njit(**_OPTS)
def _fill_halo(buf, lead, n, inner, mode, cval):
    """Fill halo rows ``[0, lead)`` and ``[lead + n, rows)`` of a flat padded line buffer.

    ``buf`` holds ``rows = len(buf) // inner`` rows of ``inner`` values; rows ``lead`` to
    ``lead + n - 1`` already hold the line.
    """
    rows = buf.shape[0] // inner
    for p in range(rows):
        if p == lead:
            break
        _copy_halo_row(buf, p, lead, n, inner, mode, cval)
    for p in range(lead + n, rows):
        _copy_halo_row(buf, p, lead, n, inner, mode, cval)


@njit(inline="always", **_OPTS)
def _copy_halo_row(buf, p, lead, n, inner, mode, cval):
    q = extend_index(p - lead, n, mode)
    if q < 0:
        for c in range(inner):
            buf[p * inner + c] = cval
    else:
        for c in range(inner):
            buf[p * inner + c] = buf[(lead + q) * inner + c]


@njit(**_OPTS)
def _halo_rows(buf, lead, n, mode, cval):
    """Fill halo rows of a 2-D padded buffer whose rows ``lead .. lead + n - 1`` hold data."""
    rows, width = buf.shape
    for p in range(lead):
        _copy_halo_row(buf.reshape(rows * width), p, lead, n, width, mode, cval)
    for p in range(lead + n, rows):
        _copy_halo_row(buf.reshape(rows * width), p, lead, n, width, mode, cval)


@njit(parallel=True, **_OPTS)
def pass_lines(src, dst, weights, lead, mode, cval, lo, hi, is_int, nchunks):
    """One 1-D pass along axis 1 of ``(outer, n, inner)`` views, for small ``inner``.

    Each outer index's ``n * inner`` contiguous values are gathered into a padded buffer first,
    so the pass is safe in place (``src is dst``).
    """
    outer, n, inner = src.shape
    taps = weights.shape[0]
    acc_t = weights.dtype
    m = n * inner
    per = (outer + nchunks - 1) // nchunks
    for chunk in prange(nchunks):
        buf = np.empty((n + taps - 1) * inner, acc_t)
        acc = np.empty(m, acc_t)
        body = buf[lead * inner : lead * inner + m]
        for o in range(chunk * per, min(outer, (chunk + 1) * per)):
            line = src[o].reshape(m)
            for j in range(m):
                body[j] = line[j]
            _fill_halo(buf, lead, n, inner, mode, cval)
            _emit(buf, weights, inner, acc, dst[o].reshape(m), lo, hi, is_int)


@njit(parallel=True, **_OPTS)
def pass_tiles(src, dst, weights, lead, mode, cval, lo, hi, is_int, tile, nchunks):
    """One 1-D pass along axis 1 of ``(outer, n, inner)`` views, for large ``inner``.

    Work items are column tiles ``(o, inner[t0:t0+tile])``; each gathers its ``n`` rows into a
    padded ``(n + taps - 1, tile)`` buffer (so the pass is safe in place) and writes its
    output rows. Items are split into ``nchunks`` contiguous chunks reusing one buffer each.
    """
    outer, n, inner = src.shape
    taps = weights.shape[0]
    acc_t = weights.dtype
    ntiles = (inner + tile - 1) // tile
    items = outer * ntiles
    per = (items + nchunks - 1) // nchunks
    for chunk in prange(nchunks):
        full = np.empty((n + taps - 1) * tile, acc_t)
        acc_full = np.empty(tile, acc_t)
        for item in range(chunk * per, min(items, (chunk + 1) * per)):
            o = item // ntiles
            t0 = (item % ntiles) * tile
            tw = min(tile, inner - t0)
            buf = full[: (n + taps - 1) * tw].reshape(n + taps - 1, tw)
            for i in range(n):
                s = src[o, i, t0 : t0 + tw]
                b = buf[lead + i]
                for c in range(tw):
                    b[c] = s[c]
            _halo_rows(buf, lead, n, mode, cval)
            flat = full[: (n + taps - 1) * tw]
            for i in range(n):
                _emit(
                    flat[i * tw :],
                    weights,
                    tw,
                    acc_full[:tw],
                    dst[o, i, t0 : t0 + tw],
                    lo,
                    hi,
                    is_int,
                )


@njit(**_OPTS)
def _taps_at(i, weights, lead, n, mode, cval, qv, wv):
    """Rows ``extend(i + k - lead)`` with their weights in ``qv``/``wv``; return (count, const).

    Rows outside a constant-mode axis are dropped and their ``weight * cval`` summed instead.
    """
    nv = 0
    cfill = 0.0
    for k in range(weights.shape[0]):
        q = extend_index(i + k - lead, n, mode)
        if q < 0:
            cfill += weights[k] * cval
        else:
            qv[nv] = q
            wv[nv] = weights[k]
            nv += 1
    return nv, cfill


@njit(**_OPTS)
def _add_const(body, nv, cfill):
    if nv == 0:
        for j in range(body.shape[0]):
            body[j] = cfill
    elif cfill != 0.0:
        for j in range(body.shape[0]):
            body[j] += cfill


@njit(**_OPTS)
def _combine_rows(src, o, i, t0, weights, lead, n, mode, cval, body, qv, wv):
    """``body = sum_k weights[k] * src[o, extend(i + k - lead), t0:]`` (cval for constant)."""
    m = body.shape[0]
    t1 = t0 + m
    nv, cfill = _taps_at(i, weights, lead, n, mode, cval, qv, wv)
    if _symmetric(wv, nv):
        half = nv // 2
        k = 0
        while k + 2 <= half:
            _madd_pairs2(
                body,
                k == 0,
                wv[k],
                src[o, qv[k], t0:t1],
                src[o, qv[nv - 1 - k], t0:t1],
                wv[k + 1],
                src[o, qv[k + 1], t0:t1],
                src[o, qv[nv - 2 - k], t0:t1],
            )
            k += 2
        if k < half:
            _madd_pair1(body, k == 0, wv[k], src[o, qv[k], t0:t1], src[o, qv[nv - 1 - k], t0:t1])
        if nv % 2:
            _madd1(body, False, wv[half], src[o, qv[half], t0:t1])
        _add_const(body, nv, cfill)
        return
    k = 0
    while k + 4 <= nv:
        _madd4(
            body,
            k == 0,
            wv[k],
            src[o, qv[k], t0:t1],
            wv[k + 1],
            src[o, qv[k + 1], t0:t1],
            wv[k + 2],
            src[o, qv[k + 2], t0:t1],
            wv[k + 3],
            src[o, qv[k + 3], t0:t1],
        )
        k += 4
    while k < nv:
        _madd1(body, k == 0, wv[k], src[o, qv[k], t0:t1])
        k += 1
    _add_const(body, nv, cfill)


@njit(**_OPTS)
def _combine_planes(src, o, row, nv, cfill, qv, wv, body):
    """``body = sum_k wv[k] * src[o, qv[k], row] + cfill`` (taps from :func:`_taps_at`)."""
    if _symmetric(wv, nv):
        half = nv // 2
        k = 0
        while k + 2 <= half:
            _madd_pairs2(
                body,
                k == 0,
                wv[k],
                src[o, qv[k], row],
                src[o, qv[nv - 1 - k], row],
                wv[k + 1],
                src[o, qv[k + 1], row],
                src[o, qv[nv - 2 - k], row],
            )
            k += 2
        if k < half:
            _madd_pair1(body, k == 0, wv[k], src[o, qv[k], row], src[o, qv[nv - 1 - k], row])
        if nv % 2:
            _madd1(body, False, wv[half], src[o, qv[half], row])
        _add_const(body, nv, cfill)
        return
    k = 0
    while k + 4 <= nv:
        _madd4(
            body,
            k == 0,
            wv[k],
            src[o, qv[k], row],
            wv[k + 1],
            src[o, qv[k + 1], row],
            wv[k + 2],
            src[o, qv[k + 2], row],
            wv[k + 3],
            src[o, qv[k + 3], row],
        )
        k += 4
    while k < nv:
        _madd1(body, k == 0, wv[k], src[o, qv[k], row])
        k += 1
    _add_const(body, nv, cfill)


@njit(**_OPTS)
def _dual6(acc_a, acc_b, init, s0, s1, s2, s3, s4, s5, a, b, t):
    """``acc_a (=|+=) sum_i a[t+i] * s_i`` and the same with ``b`` into ``acc_b``: six rows
    read once for two outputs (six row streams and two outputs stay within the cache's ways,
    although the rows are a power of two apart)."""
    a0, a1, a2, a3, a4, a5 = a[t], a[t + 1], a[t + 2], a[t + 3], a[t + 4], a[t + 5]
    b0, b1, b2, b3, b4, b5 = b[t], b[t + 1], b[t + 2], b[t + 3], b[t + 4], b[t + 5]
    m = acc_a.shape[0]
    if init:
        for j in range(m):
            acc_a[j] = a0 * s0[j] + a1 * s1[j] + a2 * s2[j] + a3 * s3[j] + a4 * s4[j] + a5 * s5[j]
            acc_b[j] = b0 * s0[j] + b1 * s1[j] + b2 * s2[j] + b3 * s3[j] + b4 * s4[j] + b5 * s5[j]
    else:
        for j in range(m):
            acc_a[j] += a0 * s0[j] + a1 * s1[j] + a2 * s2[j] + a3 * s3[j] + a4 * s4[j] + a5 * s5[j]
            acc_b[j] += b0 * s0[j] + b1 * s1[j] + b2 * s2[j] + b3 * s3[j] + b4 * s4[j] + b5 * s5[j]


@njit(**_OPTS)
def _dual1(acc_a, acc_b, init, s0, a0, b0):
    """``acc_a (=|+=) a0 * s0`` and ``acc_b (=|+=) b0 * s0``."""
    m = acc_a.shape[0]
    if init:
        for j in range(m):
            acc_a[j] = a0 * s0[j]
            acc_b[j] = b0 * s0[j]
    else:
        for j in range(m):
            acc_a[j] += a0 * s0[j]
            acc_b[j] += b0 * s0[j]


@njit(**_OPTS)
def _combine_span2(src, o, first, q0, w, out_a, out_b, lo, hi):
    """The axis-1 pass of two consecutive planes over one span, each input plane read once.

    ``out_a[lo:hi] = sum_k w[k] * src[o, q0 + k].flat[first:]`` and ``out_b`` the same from
    plane ``q0 + 1`` on: plane ``q0 + t`` weighs ``w[t]`` in the first and ``w[t - 1]`` in the
    second. All ``len(w) + 1`` planes must be inside the axis.
    """
    body_a, body_b = out_a[lo:hi], out_b[lo:hi]
    last = first + hi - lo
    size = src.shape[2] * src.shape[3]
    taps = w.shape[0]
    wa = np.zeros(taps + 1, w.dtype)
    wb = np.zeros(taps + 1, w.dtype)
    wa[:taps] = w
    wb[1:] = w
    t = 0
    while t + 6 <= taps + 1:
        rows = src[o, q0 + t : q0 + t + 6].reshape(6, size)
        _dual6(
            body_a,
            body_b,
            t == 0,
            rows[0, first:last],
            rows[1, first:last],
            rows[2, first:last],
            rows[3, first:last],
            rows[4, first:last],
            rows[5, first:last],
            wa,
            wb,
            t,
        )
        t += 6
    while t < taps + 1:
        _dual1(body_a, body_b, t == 0, src[o, q0 + t].reshape(size)[first:last], wa[t], wb[t])
        t += 1


@njit(**_OPTS)
def _combine_span(src, o, first, nv, cfill, qv, wv, body):
    """``body = sum_k wv[k] * src[o, qv[k]].flat[first:first + len(body)] + cfill``."""
    last = first + body.shape[0]
    size = src.shape[2] * src.shape[3]
    if _symmetric(wv, nv):
        half = nv // 2
        k = 0
        while k + 2 <= half:
            _madd_pairs2(
                body,
                k == 0,
                wv[k],
                src[o, qv[k]].reshape(size)[first:last],
                src[o, qv[nv - 1 - k]].reshape(size)[first:last],
                wv[k + 1],
                src[o, qv[k + 1]].reshape(size)[first:last],
                src[o, qv[nv - 2 - k]].reshape(size)[first:last],
            )
            k += 2
        if k < half:
            _madd_pair1(
                body,
                k == 0,
                wv[k],
                src[o, qv[k]].reshape(size)[first:last],
                src[o, qv[nv - 1 - k]].reshape(size)[first:last],
            )
        if nv % 2:
            _madd1(body, False, wv[half], src[o, qv[half]].reshape(size)[first:last])
        _add_const(body, nv, cfill)
        return
    k = 0
    while k + 4 <= nv:
        _madd4(
            body,
            k == 0,
            wv[k],
            src[o, qv[k]].reshape(size)[first:last],
            wv[k + 1],
            src[o, qv[k + 1]].reshape(size)[first:last],
            wv[k + 2],
            src[o, qv[k + 2]].reshape(size)[first:last],
            wv[k + 3],
            src[o, qv[k + 3]].reshape(size)[first:last],
        )
        k += 4
    while k < nv:
        _madd1(body, k == 0, wv[k], src[o, qv[k]].reshape(size)[first:last])
        k += 1
    _add_const(body, nv, cfill)


@njit(parallel=True, **_OPTS)
def pass_window(src, dst, weights, lead, mode, cval, lo, hi, is_int, tile, nchunks):
    """One 1-D pass along axis 1 of ``(outer, n, inner)`` views, for large ``inner``, not in place.

    Work items are ``(o, column tile, row chunk)``; each slides down its rows reading the taps'
    input rows straight from ``src`` (they stay in cache from one output row to the next).
    """
    outer, n, inner = src.shape
    taps = weights.shape[0]
    acc_t = weights.dtype
    ntiles = (inner + tile - 1) // tile
    per = (n + nchunks - 1) // nchunks
    for item in prange(outer * ntiles * nchunks):
        o = item // (ntiles * nchunks)
        t0 = ((item // nchunks) % ntiles) * tile
        chunk = item % nchunks
        tw = min(tile, inner - t0)
        acc = np.empty(tw, acc_t)
        qv = np.empty(taps, np.int64)
        wv = np.empty(taps, acc_t)
        for i in range(chunk * per, min(n, (chunk + 1) * per)):
            if is_int:
                _combine_rows(src, o, i, t0, weights, lead, n, mode, cval, acc, qv, wv)
                _store(dst[o, i, t0 : t0 + tw], acc, lo, hi)
            else:
                out = dst[o, i, t0 : t0 + tw]
                _combine_rows(src, o, i, t0, weights, lead, n, mode, cval, out, qv, wv)


@njit(parallel=True, **_OPTS)
def pass_fused2(
    src, dst, wa, lead_a, mode_a, wb, lead_b, mode_b, inner, cval, lo, hi, is_int, nchunks, block
):
    """Two fused 1-D passes along axes 1 and 2 of ``(outer, na, nb * inner)`` views.

    For each output row ``i`` the axis-1 pass combines ``len(wa)`` input rows straight into the
    middle of a padded line buffer, whose halo is then filled by the mode, and the axis-2 pass
    (stride ``inner``) writes the output row: the input is read once and the output written
    once. Rows run in contiguous chunks so the rows a chunk re-reads stay in cache. Not safe in
    place.

    With ``block > 0`` (integer inputs) and palindromic ``wa`` (smoothing kernels) under a
    mode other than constant, the axis-1 pass reads the integer rows directly and converts
    each symmetric pair's exact sum (:func:`_combine_int_rows`). Otherwise the input rows a
    block of ``block`` output rows needs are first converted once into a float block (halo
    rows by the mode), each input value once instead of once per tap. Both give the same
    result as converting the input to floats first.
    """
    outer, na, m = src.shape
    nb = m // inner
    ka = wa.shape[0]
    flat = src.reshape(outer, na * m)
    # Interior rows are swept from the flat view, four pairs at a time (rows further apart
    # than STRIDED_MAX), alike for float and integer rows, so both give the same sums.
    strided = ka >= 8 and m > STRIDED_MAX
    acc_t = wa.dtype
    per = (na + nchunks - 1) // nchunks
    for item in prange(outer * nchunks):
        o = item // nchunks
        chunk = item % nchunks
        buf = np.empty((nb + wb.shape[0] - 1) * inner, acc_t)
        acc = np.empty(m, acc_t)
        qv = np.empty(ka, np.int64)
        wv = np.empty(ka, acc_t)
        body = buf[lead_b * inner : lead_b * inner + m]
        start, stop = chunk * per, min(na, (chunk + 1) * per)
        if block == 0:
            for i in range(start, stop):
                if strided and lead_a <= i < na - (ka - 1 - lead_a):
                    _strided(flat[o], (i - lead_a) * m, wa, m, body)
                else:
                    _combine_rows(src, o, i, 0, wa, lead_a, na, mode_a, cval, body, qv, wv)
                _fill_halo(buf, lead_b, nb, inner, mode_b, cval)
                _emit(buf, wb, inner, acc, dst[o, i], lo, hi, is_int)
            continue
        if mode_a != 3 and _symmetric(wa, ka):
            for i in range(start, stop):
                if strided and lead_a <= i < na - (ka - 1 - lead_a):
                    _strided_int(flat[o], (i - lead_a) * m, wa, m, body)
                else:
                    _combine_int_rows(src, o, i, wa, lead_a, na, mode_a, body, qv)
                _fill_halo(buf, lead_b, nb, inner, mode_b, cval)
                _emit(buf, wb, inner, acc, dst[o, i], lo, hi, is_int)
            continue
        rows = np.empty((block + ka - 1) * m, acc_t)
        for i0 in range(start, stop, block):
            th = min(block, stop - i0)
            for p in range(th + ka - 1):
                q = extend_index(i0 + p - lead_a, na, mode_a)
                row = rows[p * m : (p + 1) * m]
                if q < 0:
                    for j in range(m):
                        row[j] = cval
                else:
                    line = src[o, q]
                    for j in range(m):
                        row[j] = line[j]
            for y in range(th):
                # the axis-1 pass of one output row, straight into the padded line
                _stencil(rows[y * m : (y + ka) * m], wa, m, body)
                _fill_halo(buf, lead_b, nb, inner, mode_b, cval)
                _emit(buf, wb, inner, acc, dst[o, i0 + y], lo, hi, is_int)


@njit(parallel=True, **_OPTS)
def pass_fused3(
    src,
    dst,
    wa,
    lead_a,
    mode_a,
    wb,
    lead_b,
    mode_b,
    wc,
    lead_c,
    mode_c,
    inner,
    cval,
    lo,
    hi,
    is_int,
    tile,
    nchunks,
):
    """Three fused 1-D passes along axes 1, 2 and 3 of ``(outer, na, nb, nc * inner)`` views.

    Work items are ``(o, tile of axis-2 rows, chunk of axis-1 planes)``. For each plane ``z`` the
    axis-1 pass combines input rows into a cache-resident block of the tile's rows plus their
    halo, then each output row is the axis-2 pass over that block followed by the axis-3 pass
    over a padded line: one sweep reads the input once and writes the output once. Tiles are
    sized so the input planes a sliding item re-reads stay in the last-level cache.
    """
    outer, na, nb, m = src.shape
    nc = m // inner
    ka, kb = wa.shape[0], wb.shape[0]
    acc_t = wa.dtype
    ntiles = (nb + tile - 1) // tile
    per = (na + nchunks - 1) // nchunks
    for item in prange(outer * ntiles * nchunks):
        o = item // (ntiles * nchunks)
        y0 = ((item // nchunks) % ntiles) * tile
        chunk = item % nchunks
        th = min(tile, nb - y0)
        rows = th + kb - 1
        block = np.empty(rows * m, acc_t)
        block2 = np.empty(rows * m, acc_t)
        plane = np.empty(th * m, acc_t)
        buf = np.empty((nc + wc.shape[0] - 1) * inner, acc_t)
        acc = np.empty(m, acc_t)
        qv = np.empty(wa.shape[0], np.int64)
        wv = np.empty(wa.shape[0], acc_t)
        body = buf[lead_c * inner : lead_c * inner + m]
        # Block rows p0 .. p1 - 1 are input rows y0 + p - lead_b inside the axis: contiguous in
        # every input plane, so the axis-1 pass runs over them as one long vector per tap.
        p0 = max(0, lead_b - y0)
        p1 = max(p0, min(rows, nb - y0 + lead_b))
        z, end = chunk * per, min(na, (chunk + 1) * per)
        while z < end:
            # Two planes at once where every tap of both is inside the axis: each input plane
            # is read once for both (the axis-1 pass is bound by reading the planes).
            pair = z + 1 < end and p1 > p0 and lead_a <= z and z + ka - lead_a < na
            if pair:
                first = (y0 + p0 - lead_b) * m
                _combine_span2(src, o, first, z - lead_a, wa, block, block2, p0 * m, p1 * m)
            for dz in range(2 if pair else 1):
                blk = block2 if dz else block
                nv, cfill = _taps_at(z + dz, wa, lead_a, na, mode_a, cval, qv, wv)
                if p1 > p0 and not pair:
                    first = (y0 + p0 - lead_b) * m
                    _combine_span(src, o, first, nv, cfill, qv, wv, blk[p0 * m : p1 * m])
                for p in range(rows):
                    if p0 <= p < p1:
                        continue
                    q = extend_index(y0 + p - lead_b, nb, mode_b)
                    row = blk[p * m : (p + 1) * m]
                    if q < 0:
                        for j in range(m):
                            row[j] = cval
                    else:
                        _combine_planes(src, o, q, nv, cfill, qv, wv, row)
                _stencil(blk, wb, m, plane)  # the axis-2 pass over the whole tile at once
                for y in range(th):
                    line = plane[y * m : (y + 1) * m]
                    for j in range(m):
                        body[j] = line[j]
                    _fill_halo(buf, lead_c, nc, inner, mode_c, cval)
                    _emit(buf, wc, inner, acc, dst[o, z + dz, y0 + y], lo, hi, is_int)
            z += 2 if pair else 1
