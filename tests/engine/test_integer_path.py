"""The engine's direct integer path, the single NaN scan and the memory a run adds.

8/16-bit images under a separable smoothing kernel go straight from the input's dtype to the
output's (:func:`sepconv_cli.engine.filtering.filter_to_output`); it must give exactly what
filtering in float32 and rounding (:func:`cast_output`) gives on the same backend, and the
correctly rounded float64 brute force except at exact .5 ties.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from sepconv_cli.engine import filtering
from sepconv_cli.engine import run as engine_run
from sepconv_cli.engine.filtering import (
    cast_output,
    direct_integer_step,
    filter_array,
    filter_to_output,
)
from sepconv_cli.engine.options import ApplyOptions
from sepconv_cli.engine.planner import plan
from sepconv_cli.engine.run import apply
from sepconv_cli.image import Image

from .conftest import AVAILABLE_BACKENDS, MODES, brute_force, random_data

#: (axes, shape, kernel spec): odd and even (box:size=4, origin shift) kernels, 2-D, colour, 3-D.
CASES = [
    ("yx", (37, 41), "gaussian:sigma=1.5"),
    ("yxc", (23, 29, 3), "box:size=4"),
    ("zyx", (9, 13, 17), "gaussian:sigma=1"),
]


def _plan(data: np.ndarray, axes: str, spec: str, mode: str, backend: str):
    options = ApplyOptions(kernels=(spec,), mode=mode, backend=backend, method="separable")
    return plan(Image(data, axes), None, options)


def _float64_reference(data: np.ndarray, p) -> np.ndarray:
    step = p.steps[0]
    part = step.parts[0]
    return brute_force(data, part.weights, part.axes, p.mode, p.cval, part.origin, correlate=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
@pytest.mark.parametrize(("axes", "shape", "spec"), CASES)
def test_direct_integer_path_equals_the_float_path(backend, mode, dtype, axes, shape, spec):
    data = random_data(np.random.default_rng(len(mode) + len(axes)), shape, dtype)
    p = _plan(data, axes, spec, mode, backend)
    assert direct_integer_step(p) is p.steps[0]
    fast, clipped = filter_to_output(data, p)
    assert fast.dtype == data.dtype and clipped == 0
    float_path, float_clipped = cast_output(filter_array(data, p), p)
    assert float_clipped == 0
    exact = _float64_reference(data, p)
    tie = _near_tie(exact)
    if backend == "numpy":  # scipy reads the integers as the float path's float32 copy would
        np.testing.assert_array_equal(fast, float_path)
    else:  # numba may accumulate integer reads more precisely: only float32 ties may differ
        assert not np.any((fast != float_path) & ~tie)
    diff = np.abs(fast.astype(np.float64) - np.rint(exact))
    assert diff.max() <= 1 and not np.any((diff > 0) & ~tie)


def _near_tie(exact: np.ndarray) -> np.ndarray:
    """Where float32 accumulation may round a value to the other side of an .5 tie."""
    window = 16 * np.finfo(np.float32).eps * max(1.0, float(np.abs(exact).max()))
    return np.abs(np.abs(exact - np.floor(exact)) - 0.5) <= window


@pytest.mark.skipif(len(AVAILABLE_BACKENDS) < 2, reason="needs numpy and numba backends")
def test_backends_round_alike_through_apply():
    data = random_data(np.random.default_rng(3), (64, 48, 3), "uint8")
    results = {}
    for backend in ("numpy", "numba"):
        out, report = apply(
            Image(data, "yxc"), ["gaussian:sigma=2"], ApplyOptions(backend=backend, mode="mirror")
        )
        assert out.dtype == np.uint8 and report.clipped == 0
        results[backend] = out.data.astype(np.int16)
    p = _plan(data, "yxc", "gaussian:sigma=2", "mirror", "numpy")
    exact = _float64_reference(data, p)
    for got in results.values():
        assert not np.any((got != np.rint(exact)) & ~_near_tie(exact))
    assert np.abs(results["numpy"] - results["numba"]).max() <= 1


@pytest.mark.parametrize(
    ("options", "kernels", "dtype"),
    [
        (ApplyOptions(mode="constant", cval=7.0), ["gaussian:sigma=1"], "uint8"),
        (ApplyOptions(), ["gaussian:sigma=1", "box:size=3"], "uint8"),
        (ApplyOptions(), ["sobel"], "uint8"),
        (ApplyOptions(method="direct"), ["gaussian:sigma=1"], "uint8"),
        (ApplyOptions(precision="float64"), ["gaussian:sigma=1"], "uint16"),
        (ApplyOptions(dtype="uint8"), ["gaussian:sigma=1"], "uint16"),
        (ApplyOptions(), ["gaussian:sigma=1"], "float32"),
        (ApplyOptions(), ["gaussian:sigma=1"], "int32"),
    ],
)
def test_other_runs_take_the_float_path(options, kernels, dtype, backend):
    import dataclasses

    data = random_data(np.random.default_rng(5), (20, 30), dtype)
    p = plan(Image(data, "yx"), kernels, dataclasses.replace(options, backend=backend))
    assert direct_integer_step(p) is None
    got, _ = filter_to_output(data, p)
    want, _ = cast_output(filter_array(data, p), p)
    np.testing.assert_array_equal(got, want)


def test_a_mask_takes_the_float_path():
    data = random_data(np.random.default_rng(6), (20, 30), "uint8")
    p = _plan(data, "yx", "gaussian:sigma=1", "reflect", "numpy")
    mask = np.zeros(data.shape, bool)
    mask[5:15, 5:25] = True
    assert direct_integer_step(p, mask) is None
    got, _ = filter_to_output(data, p, mask)
    assert np.array_equal(got[~mask], data[~mask])


def test_the_input_is_scanned_for_nan_once(monkeypatch, backend):
    calls = []
    original = filtering.all_finite

    def counting(data):
        calls.append(data.shape)
        return original(data)

    monkeypatch.setattr(filtering, "all_finite", counting)
    monkeypatch.setattr(engine_run, "all_finite", counting)
    data = np.random.default_rng(7).random((40, 50), dtype=np.float32)
    out, report = apply(Image(data, "yx"), ["gaussian:sigma=1"], ApplyOptions(backend=backend))
    assert calls == [data.shape] and report.nonfinite == 0
    calls.clear()
    data[3, 4] = np.nan
    out, report = apply(Image(data, "yx"), ["gaussian:sigma=1"], ApplyOptions(backend=backend))
    assert calls == [data.shape] and report.nonfinite == 1 and np.isnan(out.data[3, 4])


def test_all_finite_falls_back_when_the_sum_overflows():
    big = np.full(1000, 3e38, np.float32)
    assert filtering.all_finite(big)
    big[-1] = np.inf
    assert not filtering.all_finite(big)
    half = np.array([60000, 60000, np.nan], np.float16)
    assert not filtering.all_finite(half) and filtering.all_finite(half[:2])


def _peak_extra(func) -> int:
    """Peak bytes numpy allocates (traced) while ``func`` runs, over what was held before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak - before


@pytest.mark.parametrize(
    ("axes", "shape", "dtype"),
    [
        ("yx", (1024, 1024), "float32"),
        ("zyx", (48, 128, 96), "float32"),
        ("yxc", (8192, 32, 3), "uint8"),
    ],
)
def test_peak_memory_is_input_plus_output_plus_ten_percent(backend, axes, shape, dtype):
    """Issue 6: a run adds its output and at most 10 % of input + output more.

    No float copies of the input, no second buffer of the data's size, no float64 anywhere;
    what remains are numba's per-thread row buffers (two threads here) and the plan.
    """
    data = random_data(np.random.default_rng(8), shape, dtype)
    image = Image(data, axes)
    options = ApplyOptions(backend=backend, kernels=("gaussian:sigma=2",))
    threads = None
    if backend == "numba":
        import numba

        threads = numba.get_num_threads()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        apply(image, None, options)  # imports, numba cache, calibration outside the traced run
        extra = _peak_extra(lambda: apply(image, None, options))
    finally:
        if threads is not None:
            numba.set_num_threads(threads)
    out_bytes = data.nbytes  # smoothing keeps the dtype
    allowance = 0.1 * (data.nbytes + out_bytes)
    if dtype == "uint8" and backend == "numpy":
        # scipy writes floats: one float32 buffer of the data's size, rounded into the output
        assert extra <= out_bytes + 4 * data.size + allowance
    else:
        assert extra <= out_bytes + allowance


@pytest.mark.parametrize(
    ("dtype", "axes", "shape", "options"),
    [
        ("float32", "yx", (40, 50), ApplyOptions()),
        ("uint8", "yxc", (30, 20, 3), ApplyOptions()),
        ("uint16", "yx", (30, 20), ApplyOptions(method="fft")),
        ("float32", "yx", (40, 50), ApplyOptions(nan="ignore", mode="constant", cval=2.0)),
        ("float64", "zyx", (6, 7, 8), ApplyOptions(method="direct")),
    ],
)
def test_out_receives_the_same_result(backend, dtype, axes, shape, options):
    import dataclasses

    data = random_data(np.random.default_rng(9), shape, dtype)
    if dtype == "float32":
        data[2, 3] = np.nan
    options = dataclasses.replace(options, backend=backend, kernels=("gaussian:sigma=1",))
    image = Image(data, axes)
    want, report = apply(image, None, options)
    out = np.full(shape, 7, report.plan.output_dtype)
    got, again = apply(image, None, options, out=out)
    assert got.data is out and again.clipped == report.clipped
    np.testing.assert_array_equal(out, want.data)


def test_bad_out_is_a_usage_error():
    from sepconv_cli.errors import UsageError

    data = np.zeros((8, 9), np.float32)
    image = Image(data, "yx")
    read_only = np.zeros((8, 9), np.float32)
    read_only.flags.writeable = False
    for out, fragment in [
        (np.zeros((9, 8), np.float32), "shape 8x9, got float32 9x8"),
        (np.zeros((8, 9), np.float64), "float32 array"),
        (read_only, "(read-only)"),
        ([[0.0] * 9] * 8, "got list"),
        (data, "must not overlap the input"),
    ]:
        with pytest.raises(UsageError, match="^out: ") as info:
            apply(image, ["gaussian:sigma=1"], out=out)
        assert fragment in str(info.value)


@pytest.mark.parametrize(("dtype", "shape"), [("float32", (1024, 1024)), ("uint8", (8192, 96))])
def test_a_reused_out_adds_no_array_of_the_data_size(backend, dtype, shape):
    if dtype == "uint8" and backend == "numpy":
        pytest.skip("scipy's integer path writes one float32 buffer (tested above)")
    data = random_data(np.random.default_rng(10), shape, dtype)
    image = Image(data, "yx")
    options = ApplyOptions(backend=backend, kernels=("gaussian:sigma=2",))
    out = np.empty_like(data)
    apply(image, None, options, out=out)
    extra = _peak_extra(lambda: apply(image, None, options, out=out))
    assert extra <= 0.1 * (data.nbytes + out.nbytes)
