"""The block contract (halo-padded blocks crop to the whole result), properties, pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepconv_cli.engine import ApplyOptions, cast_output, filter_array, plan
from sepconv_cli.errors import UsageError
from sepconv_cli.image import Image
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.pipeline import apply_file

from .conftest import MODES, brute_force


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nan", ["propagate", "ignore"])
def test_block_padded_by_halo_crops_to_the_whole_result(mode, nan):
    """The contract chunked runs rely on, for a chain of kernels.

    A block with ``plan.halo`` of real context on each side, clipped where the array ends,
    filtered and cropped, equals the whole result: filter_array applies the mode at the true
    border at every step of the chain. Wrap reads the far side, so for wrap the context comes
    from the array padded by the halo first (wrap commutes with every filter).
    """
    rng = np.random.default_rng(0)
    data = rng.standard_normal((40, 37, 2)).astype(np.float32)
    data[rng.random(data.shape) < 0.05] = np.nan
    p = plan(
        Image(data, "yxc"),
        ["gaussian:sigma=1.5", "sobel:axis=x", "log:sigma=1"],
        ApplyOptions(mode=mode, nan=nan, method="fft", cval=0.5),
    )
    whole = filter_array(data, p)
    hy, hx, hc = p.halo
    assert hc == 0 and (hy, hx) == (6 + 1 + 4, 6 + 1 + 4)
    source, shift = data, (0, 0)
    if mode == "wrap":
        source = np.pad(data, ((hy, hy), (hx, hx), (0, 0)), mode="wrap")
        shift = (hy, hx)
    for (y0, y1), (x0, x1) in [((12, 25), (10, 27)), ((0, 9), (30, 37)), ((31, 40), (0, 5))]:
        cy0, cy1 = max(0, y0 - hy + shift[0]), min(source.shape[0], y1 + hy + shift[0])
        cx0, cx1 = max(0, x0 - hx + shift[1]), min(source.shape[1], x1 + hx + shift[1])
        block = filter_array(source[cy0:cy1, cx0:cx1], p)
        oy, ox = y0 + shift[0] - cy0, x0 + shift[1] - cx0
        got = block[oy : oy + y1 - y0, ox : ox + x1 - x0]
        expected = whole[y0:y1, x0:x1]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        ok = ~np.isnan(expected)
        np.testing.assert_allclose(got[ok], expected[ok], atol=1e-5)


def test_cast_output_rounds_and_counts():
    p = plan(Image(np.zeros(4, np.uint16), "x"), [Kernel(np.ones(1), smoothing=True)])
    out, clipped = cast_output(np.array([-1.0, 0.4, 65535.6, np.nan], np.float32), p)
    assert out.dtype == np.uint16 and clipped == 3
    np.testing.assert_array_equal(out, [0, 0, 65535, 0])


@given(
    n0=st.integers(1, 9),
    n1=st.integers(1, 9),
    k0=st.integers(1, 7),
    k1=st.integers(1, 7),
    mode=st.sampled_from(MODES),
    method=st.sampled_from(["direct", "lowrank", "fft"]),
    seed=st.integers(0, 2**16),
)
def test_property_any_shape_any_kernel(n0, n1, k0, k1, mode, method, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n0, n1))
    origin = (int(rng.integers(-(k0 // 2), (k0 - 1) // 2 + 1)), 0)
    weights = np.outer(rng.standard_normal(k0), rng.standard_normal(k1))
    weights += np.outer(rng.standard_normal(k0), rng.standard_normal(k1))
    kernel = Kernel(weights, origin=origin)
    options = ApplyOptions(method=method, mode=mode, cval=-0.5, rank=2 if k0 > 1 < k1 else None)
    from sepconv_cli.engine import apply

    out = apply(Image(data, "yx"), [kernel], options)[0].data
    ref = brute_force(data, weights, (0, 1), mode, -0.5, origin)
    np.testing.assert_allclose(out, ref, atol=1e-9 * max(1.0, np.abs(weights).sum()))


def test_apply_file_report_and_output(tmp_path):
    rng = np.random.default_rng(1)
    data = (rng.random((20, 24)) * 1000).astype(np.uint16)
    src, dst = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(src, data)
    options = ApplyOptions(kernels=("gaussian:sigma=1",), verify=True)
    options = pickle.loads(pickle.dumps(options))  # batch workers receive it pickled
    doc = apply_file(src, dst, options)
    assert doc["input"] == str(src) and doc["output"] == str(dst)
    assert doc["method"] == "separable" and doc["backend"] in ("numpy", "numba")
    assert {"direct", "separable", "fft"} <= set(doc["ops"])
    assert doc["total_s"] >= doc["time_s"] > 0 and doc["write_s"] >= 0
    out = np.load(dst)
    assert out.dtype == np.uint16 and out.shape == data.shape
    pickle.dumps(doc)


def test_apply_file_dry_run_and_refusals(tmp_path):
    src = tmp_path / "in.npy"
    np.save(src, np.zeros((6, 6), np.float32))
    doc = apply_file(src, tmp_path / "never.npy", ApplyOptions(kernels=("box",), dry_run=True))
    assert doc["dry_run"] and not (tmp_path / "never.npy").exists()
    with pytest.raises(UsageError):
        apply_file(src, src, ApplyOptions(kernels=("box:size=3",)))
    with pytest.raises(UsageError, match="no kernel"):
        apply_file(src, tmp_path / "o.npy", ApplyOptions())
    np.testing.assert_array_equal(np.load(src), 0)


def test_apply_file_mask_from_file(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.random((10, 12)).astype(np.float32)
    mask = np.zeros((10, 12), np.uint8)
    mask[2:8, 2:9] = 1
    src, msk, dst = tmp_path / "in.npy", tmp_path / "mask.npy", tmp_path / "o.npy"
    np.save(src, data)
    np.save(msk, mask)
    apply_file(src, dst, ApplyOptions(kernels=("box:size=3",), mask=str(msk)))
    out = np.load(dst)
    np.testing.assert_array_equal(out[mask == 0], data[mask == 0])
    assert not np.allclose(out[mask == 1], data[mask == 1])
    with pytest.raises(UsageError):
        apply_file(src, msk, ApplyOptions(kernels=("box:size=3",), mask=str(msk)))


def test_apply_file_checks_the_output_before_reading(tmp_path, monkeypatch):
    from sepconv_cli import io
    from sepconv_cli.errors import FormatError

    src = tmp_path / "in.npy"
    np.save(src, np.zeros((6, 6), np.float32))

    def no_read(*args, **kwargs):
        raise AssertionError("the input was read before the output was checked")

    monkeypatch.setattr(io, "read", no_read)
    options = ApplyOptions(kernels=("box:size=3",))
    with pytest.raises(FormatError, match="does not exist"):
        apply_file(src, tmp_path / "missing" / "o.npy", options)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        apply_file(src, src, options)
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        apply_file(src, tmp_path / "folder.npy", options)
