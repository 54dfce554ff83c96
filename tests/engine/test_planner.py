"""The planner's choices, dtype policy, halo, op counts, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sepconv_cli.costs import count_ops
from sepconv_cli.costs.filters import fft_counts, method_costs, next_fast_len
from sepconv_cli.engine import ApplyOptions, apply, plan
from sepconv_cli.errors import SpecError, UsageError
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel


def _image(shape=(256, 256), axes="yx", dtype=np.float32):
    return Image(np.zeros(shape, dtype), axes)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gaussian:sigma=2", "separable"),
        ("gaussian:sigma=3", "separable"),
        ("log:sigma=1", "lowrank"),
        ("disk:radius=15", "fft"),
    ],
)
def test_auto_picks_the_cheapest_method(spec, expected):
    p = plan(_image(), [spec], ApplyOptions())
    step = p.steps[0]
    assert step.method == expected, step.why
    assert expected in step.why
    assert set(step.ops) >= {"direct", "fft"}


def test_auto_3d_log_is_lowrank_rank3():
    p = plan(_image((40, 40, 40), "zyx"), ["log:sigma=2"], ApplyOptions())
    assert p.steps[0].rank == 3
    assert p.steps[0].method == "lowrank"


@pytest.mark.parametrize("method", ["direct", "fft", "lowrank"])
def test_method_overrides(method):
    step = plan(_image(), ["log:sigma=2"], ApplyOptions(method=method)).steps[0]
    assert step.method == method
    assert step.why == f"--method {method}"


def test_separable_of_non_separable_kernel_is_a_usage_error():
    with pytest.raises(UsageError, match="not separable"):
        plan(_image(), ["disk:radius=3"], ApplyOptions(method="separable"))


def test_forced_rank_gives_an_approximation_with_its_error():
    p = plan(_image(), ["disk:radius=4"], ApplyOptions(method="lowrank", rank=2))
    step = p.steps[0]
    assert step.method == "lowrank" and len(step.parts[0].terms) == 2
    assert 0 < step.rank_error < 1
    _, report = apply(_image((16, 16)), ["disk:radius=4"], ApplyOptions(method="lowrank", rank=2))
    assert any("approximates the kernel" in w for w in report.warnings)
    exact = apply(_image((16, 16)), ["log:sigma=1"], ApplyOptions(method="lowrank"))[1]
    assert not any("approximates" in w for w in exact.warnings)


def test_separable_with_a_rank_above_one_names_the_rank():
    with pytest.raises(UsageError, match="--rank 2 was given"):
        plan(_image(), ["box:size=3"], ApplyOptions(method="separable", rank=2))


@pytest.mark.parametrize(
    ("dtype", "spec", "out"),
    [
        (np.uint8, "gaussian:sigma=1", "uint8"),
        (np.uint16, "gaussian:sigma=1", "uint16"),
        (np.uint16, "sobel:axis=x", "float32"),
        (np.uint8, "log:sigma=1", "float32"),
        (np.float64, "gaussian:sigma=1", "float64"),
        (np.float64, "sobel", "float64"),
        (np.float32, "sobel", "float32"),
    ],
)
def test_output_dtype_policy(dtype, spec, out):
    assert plan(_image((16, 16), dtype=dtype), [spec], ApplyOptions()).output_dtype == out


def test_precision_and_dtype_overrides():
    p = plan(
        _image((16, 16), dtype=np.uint16),
        ["gaussian:sigma=1"],
        ApplyOptions(precision="float64", dtype="float32"),
    )
    assert (p.compute_dtype, p.output_dtype) == ("float64", "float32")
    assert plan(_image((8, 8), dtype=np.uint16), ["box:size=3"], ApplyOptions()).compute_dtype == (
        "float32"
    )


def test_clipped_values_are_counted():
    data = np.full((5, 5), 250, np.uint8)
    kernel = Kernel(np.ones((1, 1)) * 1.1, smoothing=True)
    image, report = apply(Image(data, "yx"), [kernel], ApplyOptions())
    assert image.dtype == np.uint8 and report.clipped == 25
    assert (image.data == 255).all()
    assert any("clipped" in w for w in report.warnings)


def test_halo_sums_the_chain_on_spatial_axes_only():
    p = plan(
        _image((20, 30, 3), "yxc"),
        ["gaussian:sigma=1", "box:size=5x3"],
        ApplyOptions(),
    )
    assert p.halo == (4 + 2, 4 + 1, 0)


def test_spectral_kernel_runs_on_the_band_axis():
    rng = np.random.default_rng(0)
    cube = rng.random((6, 7, 9)).astype(np.float32)
    image, report = apply(
        Image(cube, "yxb"), ["box:size=3"], ApplyOptions(spectral="box:size=5", mode="nearest")
    )
    from scipy import ndimage

    expected = ndimage.uniform_filter(cube.astype(np.float64), (3, 3, 5), mode="nearest")
    np.testing.assert_allclose(image.data, expected, atol=1e-5)
    roles = [k["role"] for k in report.to_dict()["kernels"]]
    assert roles == ["spatial", "spectral"]
    assert report.plan.halo == (1, 1, 2)


def test_spectral_without_band_axis_is_a_usage_error():
    with pytest.raises(UsageError, match="--spectral needs a band axis"):
        plan(_image((8, 8)), ["box:size=3"], ApplyOptions(spectral="box:size=3"))


def test_kernel_with_more_axes_than_the_image():
    with pytest.raises(SpecError, match="has 3 axes but the image"):
        plan(_image((8, 8)), [Kernel(np.ones((3, 3, 3)) / 27)], ApplyOptions())
    with pytest.raises(SpecError):
        plan(_image((8, 8)), ["[[[1,2],[3,4]],[[1,2],[3,4]]]"], ApplyOptions())


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("method", "fastest", "unknown method"),
        ("mode", "bounce", "unknown boundary mode"),
        ("nan", "drop", "unknown NaN policy"),
        ("backend", "cuda", "unknown backend"),
    ],
)
def test_unknown_choices(field, value, match):
    with pytest.raises(UsageError, match=match):
        plan(_image((8, 8)), ["box:size=3"], ApplyOptions(**{field: value}))


def test_axes_override_changes_roles():
    p = plan(_image((5, 6, 7), "zyx"), ["box:size=3"], ApplyOptions(axes="yxb"))
    assert p.axes == "yxb" and p.steps[0].axes == (0, 1)


def test_time_axis_is_not_filtered():
    rng = np.random.default_rng(1)
    data = rng.random((6, 5, 4, 3)).astype(np.float32)
    image, _ = apply(Image(data, "xyzt"), ["box:size=3"], ApplyOptions())
    from scipy import ndimage

    for t in range(3):
        expected = ndimage.uniform_filter(data[..., t].astype(np.float64), 3, mode="reflect")
        np.testing.assert_allclose(image.data[..., t], expected, atol=1e-6)


def test_report_is_json_and_complete():
    image, report = apply(
        Image(np.random.default_rng(2).random((32, 32)).astype(np.float32), "yx"),
        ["gaussian:sigma=1.5"],
        ApplyOptions(verify=True),
    )
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["method"] == "separable"
    assert set(doc["ops"]) == {"direct", "separable", "fft"}
    for key in ("mults", "adds", "macs", "flops", "total_macs", "bytes"):
        assert key in doc["ops"]["direct"]
    assert doc["kernels"][0]["sigma_vox"] == [1.5, 1.5]
    assert doc["kernels"][0]["radius"] == [6, 6]
    assert doc["verify"]["max_abs_error"] < 1e-6
    assert doc["saving_vs_direct"] == pytest.approx((169 + 168) / (26 + 24))
    assert doc["time_s"] > 0 and doc["gmacs_per_s"] > 0


def test_dry_run_computes_nothing():
    data = np.ones((8, 8), np.float32)
    image, report = apply(Image(data, "yx"), ["box:size=3"], ApplyOptions(dry_run=True))
    assert image.data is data
    assert report.to_dict()["dry_run"] is True and report.time_s is None


def test_verify_on_a_crop_of_a_large_image():
    rng = np.random.default_rng(3)
    data = rng.random((700, 600)).astype(np.float32)
    _, report = apply(Image(data, "yx"), ["log:sigma=2"], ApplyOptions(verify=True, mode="wrap"))
    v = report.verify
    assert v["voxels"] < data.size
    assert v["max_abs_error"] < 1e-5 and v["nonfinite_mismatch"] == 0


# --- op counts, checked by hand -------------------------------------------------------------


def test_hand_counts_2d():
    c = method_costs((100, 200), (5, 7), rank=1)
    n = 100 * 200
    assert c["direct"]["mults"] == 35 and c["direct"]["adds"] == 34
    assert c["direct"]["flops"] == 69 and c["direct"]["total_macs"] == 35 * n
    assert c["separable"]["mults"] == 12 and c["separable"]["adds"] == 10
    assert c["separable"]["bytes"] == 4 * 2 * 2 * n
    assert c["direct"]["bytes"] == 4 * 2 * n
    assert "lowrank" not in c


def test_hand_counts_lowrank_3d():
    c = method_costs((10, 10, 10), (3, 5, 7), rank=3, itemsize=8)
    assert c["lowrank"]["mults"] == 3 * 15
    assert c["lowrank"]["adds"] == 3 * 12 + 2
    assert c["lowrank"]["macs"] == 45 and c["lowrank"]["terms"] == 3
    assert c["lowrank"]["bytes"] == 8 * (3 * 2 * 3 * 1000 + 2 * 3 * 1000)
    assert "separable" not in c
    assert "lowrank" not in method_costs((10, 10, 10), (3, 5, 7), rank=0)


def test_hand_counts_fft():
    # one axis of 6 samples, kernel 3: padded length 8, half spectrum 5
    c = fft_counts((6,), (3,), (0,))
    assert (c["M"], c["H"], c["B"]) == (8, 5, 1)
    assert c["mults"] == 3 * 8 * 3 + 4 * 5
    assert c["adds"] == 3 * 1.5 * 8 * 3 + 2 * 5
    # colour image: the kernel spans y, x; 3 channels are independent slices
    c = fft_counts((10, 14, 3), (3, 3), (0, 1))
    assert (c["M"], c["H"], c["B"]) == (12 * 16, 12 * 9, 3)
    m = 12 * 16
    assert c["mults"] == pytest.approx(7 * m * math.log2(m) + 4 * 3 * 12 * 9)
    entry = count_ops((10, 14, 3), (3, 3), rank=1, filtered_axes=(0, 1))["fft"]
    assert entry["total_mults"] == pytest.approx(c["mults"])
    assert entry["flops"] == pytest.approx((c["mults"] + c["adds"]) / (10 * 14 * 3))


def test_next_fast_len_is_5_smooth():
    for n in range(1, 300):
        m = next_fast_len(n)
        assert m >= n
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        assert k == 1
    assert next_fast_len(257) == 270


def test_backend_choice():
    small = plan(_image((16, 16)), ["box:size=3"], ApplyOptions())
    assert small.backend == "numpy" and "voxels <" in small.backend_why
    forced = plan(_image((16, 16)), ["box:size=3"], ApplyOptions(backend="scipy"))
    assert (forced.backend, forced.backend_why) == ("numpy", "--backend numpy")
    pytest.importorskip("dask")
    big = plan(_image((64, 64)), ["box:size=3"], ApplyOptions(memory_limit="4KiB"))
    assert big.backend == "dask" and "exceeds the memory limit" in big.backend_why
    assert big.inner_backend in ("numpy", "numba")


def test_shipped_calibration_is_complete(monkeypatch):
    from sepconv_cli.engine import costmodel

    monkeypatch.delenv("SEPCONV_CALIBRATION")
    monkeypatch.setenv("HOME", "/nonexistent")
    costmodel.load_calibration.cache_clear()
    cal = costmodel.load_calibration()
    assert cal["source"] == str(costmodel.DEFAULT_PATH)
    for rates in cal["backends"].values():
        assert all(rates[k] > 0 for k in ("direct_gmacs", "separable_gmacs", "fft_gflops"))
    assert cal["bandwidth_gbs"] > 0 and cal["numba_min_voxels"] > 0
    costmodel.load_calibration.cache_clear()


def test_startup_cost_counts_until_numba_is_loaded(monkeypatch):
    pytest.importorskip("numba")
    import sys

    from sepconv_cli.engine import costmodel

    monkeypatch.delitem(sys.modules, "sepconv_cli.engine.numba_backend", raising=False)
    assert costmodel.startup_seconds("numba") == costmodel.load_calibration()["numba_startup_s"]
    # 600x600 with a 3x3 box: numba would save far less than its 0.6 s start-up
    p = plan(_image((600, 600)), ["box:size=3"], ApplyOptions())
    assert p.backend == "numpy" and "numba start-up" in p.backend_why
    # once numba is loaded (a batch worker) its per-call speed decides
    from sepconv_cli.engine.backends import load_backend

    load_backend("numba")
    assert plan(_image((600, 600)), ["box:size=3"], ApplyOptions()).backend == "numba"


def test_rank_one_approximation_of_a_non_separable_kernel_reports_its_error():
    step = plan(_image((32, 32)), ["disk:radius=3"], ApplyOptions(rank=1)).steps[0]
    assert step.rank == 1 and step.method in ("separable", "direct", "fft")
    forced = plan(_image((32, 32)), ["disk:radius=3"], ApplyOptions(rank=1, method="separable"))
    assert forced.steps[0].rank_error > 0.01


def test_prediction_counts_the_macs_the_backends_execute():
    """Folded symmetric 1-D passes and zero weights in direct cost less predicted time."""
    from sepconv_cli.engine.planner import executed_share, plan_step

    options = ApplyOptions(kernels=("k",)).normalized()
    rng = np.random.default_rng(0)
    asym = [rng.random(9) + 0.1, rng.random(9) + 0.1]
    sym = [(f + f[::-1]) / 2 for f in asym]

    def step(factors, backend):
        kernel = Kernel(np.outer(*factors), factors=factors)
        return plan_step(kernel, (512, 512), (0, 1), options, backend)

    for backend in ("numpy", "numba"):
        s, a = step(sym, backend), step(asym, backend)
        assert s.ops == a.ops  # the reported op counts follow the textbook definitions
        assert executed_share(s.parts[0], "separable", backend) == 5 / 9
        assert executed_share(a.parts[0], "separable", backend) == 1.0
        assert s.predicted_s["separable"] < a.predicted_s["separable"]
    # scipy also folds antisymmetric kernels; numba pairs palindromes only
    sobel = step([np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])], "numpy")
    assert executed_share(sobel.parts[0], "separable", "numpy") == 4 / 6
    assert executed_share(sobel.parts[0], "separable", "numba") == 5 / 6
    assert executed_share(sobel.parts[0], "direct", "numpy") == 6 / 9
    even = step([np.ones(4) / 4, np.ones(4) / 4], "numba")
    assert executed_share(even.parts[0], "separable", "numba") == 0.5
    assert executed_share(even.parts[0], "separable", "numpy") == 1.0


def test_an_empty_image_is_a_clear_error():
    from sepconv_cli.errors import FormatError

    with pytest.raises(FormatError, match="has no voxels"):
        plan(_image((0, 5)), ["box:size=3"], ApplyOptions())
