"""The Numba backend: parallel, cache-compiled 1-D passes and fused separable passes.

Implements the backend protocol of :mod:`sepconv_cli.engine.backends` with scipy.ndimage
semantics (correlation; modes reflect, mirror, nearest, constant, wrap; ``origin``; even-length
weights; kernels longer than the axis):

- :func:`correlate1d`: one parallel 1-D pass along any axis of any ndim;
- :func:`correlate_separable`: several 1-D passes, the last two axes fused into one sweep when
  they are adjacent (read the input once, write the output once), the others in place;
- :func:`correlate`: the full N-D kernel, delegated to ``scipy.ndimage.correlate`` (the direct
  method is the slow path the planner avoids; Numba would not change its complexity).

Data may be float32 or float64; uint8, int8, uint16 and int16 are converted on the fly (no
copy), other integers up front. Computation is in float64 when the data or the output is
float64, else float32 — accumulated in that type, so float32 results differ from scipy (which
accumulates in float64) by float32 rounding only. Integer outputs are rounded half to even and
clipped to the type's range (sepconv's dtype policy, where scipy truncates).

Compiled code is cached on disk (``cache=True``) in ``NUMBA_CACHE_DIR``, which defaults to
``~/.cache/sepconv/numba`` (``$XDG_CACHE_HOME/sepconv/numba``) and is set before Numba is first
imported: only the first run on a machine compiles (a few seconds per dtype), later processes
load the machine code. :func:`cache_ready` and :func:`compile_status` tell the CLI which case
it is in. Numba's OpenMP workers are told to sleep when idle (``OMP_WAIT_POLICY=passive``
unless set): busy-waiting workers made short passes stall for milliseconds on a loaded machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    """The folder Numba's compiled kernels are cached in, unless ``NUMBA_CACHE_DIR`` is set.

    Examples
    --------
    >>> default_cache_dir().parts[-2:]
    ('sepconv', 'numba')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sepconv" / "numba"


def _configure_cache() -> Path:
    """Point Numba's cache at the user cache folder before (or, if too late, after) import."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    folder = default_cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # imported by someone else first: its config is already read
        sys.modules["numba"].config.CACHE_DIR = str(folder)
    return folder


CACHE_DIR = _configure_cache()
# Idle OpenMP workers sleep instead of spinning: on a shared or busy machine spinning workers
# steal the cores the others need and a 0.2 ms pass can stall for a scheduler tick (16 ms).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402 - must follow _configure_cache
import numpy as np  # noqa: E402

from sepconv_cli.boundary import canonical_mode  # noqa: E402
from sepconv_cli.engine import numba_kernels as _k  # noqa: E402
from sepconv_cli.errors import UsageError  # noqa: E402

#: Dtypes the kernels read directly (integers converted to the accumulator type on the fly).
DIRECT_INPUTS = frozenset(
    np.dtype(t) for t in ("float32", "float64", "uint8", "int8", "uint16", "int16")
)
#: Dtypes the kernels write directly (integers rounded and clipped).
DIRECT_OUTPUTS = DIRECT_INPUTS
#: A 1-D pass gathers whole lines when the product of the axes after it is below this.
LINE_INNER_MAX = 32
#: Bytes of the padded column-tile buffer of a pass along an outer axis (fits in L2).
TILE_BYTES = 384 * 1024
#: Bytes of the input rows a sliding 1-D pass along an outer axis keeps in cache (L2).
WINDOW_ROW_BYTES = 512 * 1024
#: Output rows per block of the fused 2-D sweep on integer input (converted to float once).
FUSED_BLOCK_ROWS = 32
#: Bytes of the input planes a sliding fused 3-D pass keeps in cache per thread (L3 share).
WINDOW_PLANE_BYTES = 8 * 1024 * 1024

_DISPATCHERS = (_k.pass_lines, _k.pass_tiles, _k.pass_window, _k.pass_fused2, _k.pass_fused3)


def _dynamic(func: Callable[..., None]) -> Callable[..., None]:
    """Run ``func`` with prange chunks handed out one at a time (dynamic scheduling).

    On a shared machine a descheduled worker then delays one small chunk instead of a static
    share of the work.
    """

    @functools.wraps(func)
    def wrapper(*args: Any) -> None:
        with numba.parallel_chunksize(1):
            func(*args)

    return wrapper


#: Argument-type keys whose specialisation this process has already compiled or loaded.
_READY: set[tuple[Any, ...]] = set()
#: Dtypes :func:`warm_up` has run in this process.
_WARM: set[np.dtype] = set()


def _arg_key(arg: Any) -> Any:
    """What Numba dispatches ``arg`` on, cheaply (no ``numba.typeof``)."""
    if isinstance(arg, np.ndarray):
        f = arg.flags
        return (arg.dtype.str, arg.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    return type(arg)


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """Hold an exclusive lock on the cache folder (POSIX ``flock``; no-op where unavailable).

    Numba's disk cache is not safe for processes compiling the same function at once: each
    rewrites the function's index from its own view, and the index can end up naming a code
    file another process overwrote with a different specialisation ("can't unbox array" or a
    typing error on every later load). Batch workers and test workers start together on a
    cold cache, so compiles are serialised across processes.
    """
    try:
        import fcntl

        folder = Path(numba.config.CACHE_DIR or CACHE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".compile.lock", os.O_CREAT | os.O_RDWR, 0o644)
    except (ImportError, OSError):  # no flock (Windows) or no writable cache: nothing to guard
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _run(kernel: Callable[..., None], *args: Any) -> None:
    """Call a compiled kernel, its first specialisation per process compiled under the lock.

    The specialisation is compiled (or loaded from the cache) with :func:`_cache_lock` held,
    then run without it, so concurrent processes wait only for each other's compiles.
    """
    key = (kernel.__name__, *map(_arg_key, args))
    if key not in _READY:
        signature = tuple(numba.typeof(arg) for arg in args)
        with _cache_lock():
            kernel.compile(signature)
        _READY.add(key)
    kernel(*args)


def _threads() -> int:
    return int(numba.get_num_threads())


def _mode_code(mode: str) -> int:
    return _k.MODE_CODES[canonical_mode(mode)]


def _compute_dtype(data: np.ndarray, output: np.ndarray | None) -> np.dtype:
    wide = data.dtype == np.float64 or (output is not None and output.dtype == np.float64)
    return np.dtype(np.float64 if wide else np.float32)


def _as_input(data: Any, compute: np.dtype) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype.kind == "c":
        raise UsageError(f"numba backend: complex data ({arr.dtype}) is not supported")
    if arr.dtype.kind == "b":
        arr = arr.view(np.uint8)
    elif arr.dtype not in DIRECT_INPUTS or not arr.dtype.isnative:
        arr = arr.astype(compute)
    return np.ascontiguousarray(arr)


def _check_output(output: np.ndarray | None, shape: tuple[int, ...], compute: np.dtype) -> Any:
    if output is None:
        return np.empty(shape, compute)
    if not isinstance(output, np.ndarray) or output.shape != shape:
        got = getattr(output, "shape", type(output).__name__)
        raise UsageError(f"output: expected an array of shape {shape}, got {got}")
    return output


def _direct_target(output: np.ndarray) -> bool:
    return output.flags.c_contiguous and output.dtype in DIRECT_OUTPUTS and output.dtype.isnative


def _limits(dtype: np.dtype) -> tuple[float, float, bool]:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max), True
    return 0.0, 0.0, False


def _weights(weights: Any, compute: np.dtype, name: str) -> np.ndarray:
    w = np.ascontiguousarray(np.asarray(weights, dtype=compute))
    if w.ndim != 1 or w.size == 0:
        raise UsageError(f"{name}: expected a non-empty 1-D sequence, got shape {w.shape}")
    return w


def _lead(taps: int, origin: int, name: str) -> int:
    origin = int(origin)
    if not -(taps // 2) <= origin <= (taps - 1) // 2:
        raise UsageError(
            f"{name}: origin {origin} is out of range for {taps} taps "
            f"(must be in [{-(taps // 2)}, {(taps - 1) // 2}])"
        )
    return taps // 2 + origin


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise UsageError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % max(ndim, 1)


def _view3(arr: np.ndarray, axis: int) -> np.ndarray:
    shape = arr.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return arr.reshape(outer, shape[axis], inner)


def _chunks(work: int, items: int) -> int:
    """How many pieces to cut each of ``items`` work items into so that all threads get work.

    At least four pieces per thread in all, and where ``work`` allows a multiple of the thread
    count: 9 equal pieces on 2 threads leave one thread idle for a ninth of the run.
    """
    threads = _threads()
    items = max(items, 1)
    n = max(1, min(work, -(-4 * threads // items)))
    while n < work and (n * items) % threads:
        n += 1
    return n


@_dynamic
def _pass1d(src, dst, w, lead, mode, cval, axis) -> None:
    """One 1-D pass of contiguous ``src`` into contiguous ``dst`` (may be ``src`` itself)."""
    s3, d3 = _view3(src, axis), _view3(dst, axis)
    outer, n, inner = s3.shape
    lo, hi, is_int = _limits(dst.dtype)
    cval = w.dtype.type(cval)
    if inner < LINE_INNER_MAX:
        _run(_k.pass_lines, s3, d3, w, lead, mode, cval, lo, hi, is_int, _chunks(outer, 1))
    elif _same_buffer(src, dst):
        rows = n + w.size - 1
        tile = max(16, TILE_BYTES // (rows * w.itemsize) // 16 * 16)
        while tile > 16 and outer * -(-inner // tile) < 4 * _threads():
            tile = max(16, tile // 2 // 16 * 16)
        tile = min(tile, inner)
        items = outer * -(-inner // tile)
        _run(_k.pass_tiles, s3, d3, w, lead, mode, cval, lo, hi, is_int, tile, _chunks(items, 1))
    else:
        tile = min(inner, max(256, WINDOW_ROW_BYTES // (w.size * w.itemsize) // 64 * 64))
        ntiles = -(-inner // tile)
        nchunks = _chunks(n, outer * ntiles)
        _run(_k.pass_window, s3, d3, w, lead, mode, cval, lo, hi, is_int, tile, nchunks)


@_dynamic
def _fused(src, dst, steps, cval) -> None:
    """Fused passes along 2 or 3 consecutive axes (``steps``) of ``src`` into a distinct ``dst``."""
    shape = src.shape
    axis = steps[0][0]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + len(steps) :], dtype=np.int64))
    lo, hi, is_int = _limits(dst.dtype)
    (_, wa, lead_a, mode_a), (_, wb, lead_b, mode_b) = steps[0], steps[1]
    cval = wa.dtype.type(cval)
    if len(steps) == 2:
        s3 = src.reshape(outer, shape[axis], shape[axis + 1] * inner)
        d3 = dst.reshape(s3.shape)
        nchunks = _chunks(shape[axis], outer)
        block = FUSED_BLOCK_ROWS if src.dtype.kind in "iub" else 0
        _run(
            _k.pass_fused2,
            s3,
            d3,
            wa,
            lead_a,
            mode_a,
            wb,
            lead_b,
            mode_b,
            inner,
            cval,
            lo,
            hi,
            is_int,
            nchunks,
            block,
        )
        return
    _, wc, lead_c, mode_c = steps[2]
    na, nb, nc = shape[axis : axis + 3]
    s4 = src.reshape(outer, na, nb, nc * inner)
    d4 = dst.reshape(s4.shape)
    row_bytes = nc * inner * src.itemsize
    fit = WINDOW_PLANE_BYTES // max(1, wa.size * row_bytes) - (wb.size - 1)
    ntiles = -(-nb // max(8, min(nb, fit)))
    tile = -(-nb // ntiles)
    nchunks = _chunks(na, outer * ntiles)
    _run(
        _k.pass_fused3,
        s4,
        d4,
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
    )


def _finish(result: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Copy ``result`` into ``output`` unless it is already there (integers rounded, clipped)."""
    if result is not output:
        if output.dtype.kind in "iu" and result.dtype.kind == "f":
            info = np.iinfo(output.dtype)
            result = np.clip(np.rint(result), info.min, info.max)
        np.copyto(output, result, casting="unsafe")
    return output


def correlate1d(
    data: Any,
    weights: Any,
    axis: int = -1,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: int = 0,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate ``data`` with 1-D ``weights`` along ``axis`` (``scipy.ndimage.correlate1d``).

    Parameters
    ----------
    data : array_like
        Float or integer array of any ndim (not modified, unless ``output`` is ``data``).
    weights : array_like
        1-D weights, odd or even length, any length (longer than the axis too).
    axis : int
        The axis to filter.
    mode : str
        reflect, mirror, nearest, constant or wrap (or an alias, see ``sepconv_cli.boundary``).
    cval : float
        Value outside the array for ``mode="constant"``.
    origin : int
        Shift of the kernel centre, as in scipy.
    output : ndarray, optional
        Preallocated result of ``data``'s shape (float32 when None and data is not float64);
        may be ``data`` itself.

    Returns
    -------
    ndarray
        ``output``.

    Examples
    --------
    >>> import numpy as np
    >>> correlate1d(np.arange(5, dtype=np.float32), [1, 1, 1], mode="nearest")
    array([ 1.,  3.,  6.,  9., 11.], dtype=float32)
    """
    arr = np.asarray(data)
    compute = _compute_dtype(arr, output)
    out = _check_output(output, arr.shape, compute)
    w = _weights(weights, compute, "weights")
    lead = _lead(w.size, origin, "origin")
    code = _mode_code(mode)
    if arr.size == 0:
        return out
    ax = _axis(axis, arr.ndim)
    src = _as_input(arr, compute)
    if not _direct_target(out):
        dst = np.empty(arr.shape, compute)
    elif np.shares_memory(out, src) and not _same_buffer(out, src):
        src = src.copy()
        dst = out
    else:
        dst = out
    _pass1d(src, dst, w, lead, code, cval, ax)
    return _finish(dst, out)


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
        and a.shape == b.shape
    )


def _fusable(steps: list, shape: tuple[int, ...], ordered: bool) -> int:
    """How many of the last filtered axes one fused sweep can take: 3, 2 or 0."""
    for count in (3, 2):
        if len(steps) < count or (ordered and len(steps) != count):
            continue
        axes = [step[0] for step in steps[-count:]]
        inner = int(np.prod(shape[axes[-1] + 1 :], dtype=np.int64))
        if axes == list(range(axes[0], axes[0] + count)) and inner < LINE_INNER_MAX:
            return count
    return 0


def _per_axis(value: Any, count: int, name: str) -> list[Any]:
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise UsageError(f"{name}: expected 1 or {count} values, got {len(values)}")
    return values


def correlate_separable(
    data: Any,
    factors: Sequence[Any],
    axes: Sequence[int],
    mode: str | Sequence[str] = "reflect",
    cval: float = 0.0,
    origins: int | Sequence[int] = 0,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate with the outer product of 1-D ``factors`` along ``axes``, passes fused.

    Equal to ``scipy.ndimage.correlate1d`` applied along each axis in turn (each pass extends
    its input by ``mode``). When the last two filtered axes are adjacent (rows and columns of an
    image or of each slice of a volume, colour channels allowed after them) both passes run as
    one sweep that reads the input once and writes the output once; the other axes are then
    filtered in place in ``output``, one cache-blocked pass each, so no temporary of the data's
    size is allocated (except for an integer ``output`` with more than one sweep).

    Parameters
    ----------
    data : array_like
        Float or integer array.
    factors : sequence of array_like
        One 1-D weight vector per entry of ``axes``.
    axes : sequence of int
        Distinct axes to filter.
    mode : str or sequence of str
        Boundary mode, or one per axis.
    cval : float
        Value outside the array for ``mode="constant"``.
    origins : int or sequence of int
        Kernel centre shift, or one per axis.
    output : ndarray, optional
        Preallocated result (float32 when None and data is not float64); may be ``data``.

    Returns
    -------
    ndarray
        ``output``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.ones((4, 5), np.float32)
    >>> correlate_separable(image, [[1, 2, 1], [1, 1]], axes=(0, 1), mode="nearest")[0, :3]
    array([8., 8., 8.], dtype=float32)
    """
    arr = np.asarray(data)
    compute = _compute_dtype(arr, output)
    out = _check_output(output, arr.shape, compute)
    axes_list = [_axis(int(a), arr.ndim) for a in axes]
    if len(set(axes_list)) != len(axes_list):
        raise UsageError(f"axes: each axis may appear once, got {tuple(axes)}")
    factors = list(factors)
    if len(factors) != len(axes_list):
        raise UsageError(f"factors: expected {len(axes_list)} (one per axis), got {len(factors)}")
    modes = [_mode_code(m) for m in _per_axis(mode, len(axes_list), "mode")]
    origin_list = _per_axis(origins, len(axes_list), "origins")
    steps = []
    for ax, f, m, o in zip(axes_list, factors, modes, origin_list, strict=True):
        w = _weights(f, compute, f"factor for axis {ax}")
        steps.append((ax, w, _lead(w.size, o, f"origin for axis {ax}"), m))
    steps.sort(key=lambda step: step[0])
    if arr.size == 0:
        return out
    if not steps:
        np.copyto(out, arr, casting="unsafe")
        return out

    src = _as_input(arr, compute)
    in_place = np.shares_memory(out, src)
    if in_place and not _same_buffer(out, src):
        src, in_place = src.copy(), False
    # Passes commute exactly unless a constant mode pads with a non-zero value; then they run
    # in scipy's order (ascending axes), which allows fusing only the first axes.
    ordered = cval != 0 and _k.MODE_CODES["constant"] in [step[3] for step in steps]
    fused = 0 if in_place else _fusable(steps, arr.shape, ordered)
    sweeps = len(steps) - fused + (1 if fused else 0)
    final = out if _direct_target(out) else np.empty(arr.shape, compute)
    # Every sweep but the last writes a float intermediate; the last one writes ``final``.
    work = final if final.dtype == compute or sweeps == 1 else np.empty(arr.shape, compute)
    remaining = sweeps - 1
    dst = final if remaining == 0 else work
    if fused:
        _fused(src, dst, steps[-fused:], cval)
        rest = steps[:-fused]
    else:
        ax, w, lead, m = steps[0] if ordered else steps[-1]
        _pass1d(src, dst, w, lead, m, cval, ax)
        rest = steps[1:] if ordered else steps[-2::-1]
    for ax, w, lead, m in rest:
        remaining -= 1
        nxt = final if remaining == 0 else work
        _pass1d(dst, nxt, w, lead, m, cval, ax)
        dst = nxt
    return _finish(dst, out)


def correlate(
    data: Any,
    weights: Any,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: int | Sequence[int] = 0,
    output: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate with a full N-D kernel (direct method): delegates to ``scipy.ndimage.correlate``.

    Same dtype policy as :func:`correlate1d` (float32 compute unless data or output is float64).

    Examples
    --------
    >>> import numpy as np
    >>> correlate(np.ones((3, 3), np.float32), np.ones((2, 2)), mode="constant")[0]
    array([1., 2., 2.], dtype=float32)
    """
    from scipy import ndimage

    arr = np.asarray(data)
    compute = _compute_dtype(arr, output)
    out = _check_output(output, arr.shape, compute)
    src = arr if arr.dtype == compute else arr.astype(compute)
    ndimage.correlate(
        src,
        np.asarray(weights, dtype=compute),
        output=out,
        mode=canonical_mode(mode),
        cval=cval,
        origin=origin,
    )
    return out


def cache_ready() -> bool:
    """True when compiled kernels of this version are in the cache folder (no compile needed).

    Examples
    --------
    >>> isinstance(cache_ready(), bool)
    True
    """
    folder = Path(numba.config.CACHE_DIR or CACHE_DIR)
    stem = _k.__name__.rsplit(".", 1)[-1]
    return folder.is_dir() and any(folder.rglob(f"{stem}.pass_*.nbi"))


def compile_status() -> dict[str, Any]:
    """Where this process's compiled kernels came from: the disk cache or a fresh compile.

    Returns
    -------
    dict
        ``cache_dir``, ``loaded`` (specialisations loaded from the cache), ``compiled``
        (specialisations compiled in this process) and ``signatures`` per kernel.

    Examples
    --------
    >>> sorted(compile_status())
    ['cache_dir', 'compiled', 'loaded', 'signatures']
    """
    loaded = compiled = 0
    signatures: dict[str, list[str]] = {}
    for disp in _DISPATCHERS:
        stats = disp.stats
        loaded += sum(stats.cache_hits.values())
        compiled += sum(stats.cache_misses.values())
        signatures[disp.__name__] = [str(sig) for sig in disp.signatures]
    return {
        "cache_dir": str(numba.config.CACHE_DIR or CACHE_DIR),
        "loaded": loaded,
        "compiled": compiled,
        "signatures": signatures,
    }


def warm_up(dtype: Any = np.float32) -> dict[str, Any]:
    """Load (or compile, on a first run) the kernels for ``dtype`` data on a tiny array.

    Returns :func:`compile_status` afterwards. The CLI calls this behind a "compiling numba
    kernels" message when :func:`cache_ready` is False. A dtype warmed up once in this process
    is not run again (``apply`` calls this on every run).

    Examples
    --------
    >>> warm_up("float32")["loaded"] + warm_up("float32")["compiled"] >= 3
    True
    """
    dtype = np.dtype(dtype)
    if dtype not in _WARM:
        probe = np.zeros((2, 3, LINE_INNER_MAX), dtype)
        w = np.ones(3, _compute_dtype(probe, None))
        correlate_separable(probe, [w, w], axes=(1, 2))
        correlate1d(probe, w, axis=1)
        correlate1d(probe, w, axis=2)
        _WARM.add(dtype)
    return compile_status()
