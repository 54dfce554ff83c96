"""Chunked filtering equals the in-memory filter for every mode and chunking."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

from sepconv_cli.engine.dask_chunks import choose_chunks, parse_chunks
from sepconv_cli.engine.dask_overlap import filter_dask, overlapped, pad_exact
from sepconv_cli.errors import UsageError

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")


def _tolerance(x: np.ndarray) -> float:
    return 1e-6 * float(np.abs(x).max())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("h", [1, 3, 11])
def test_pad_exact_matches_numpy_pad(mode, n, h):
    """The halo extension is np.pad's (scipy's) extension, also for halos longer than the axis."""
    x = np.arange(1, n + 1, dtype=np.float64)
    np_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge"}.get(mode, mode)
    kwargs = {"constant_values": -7.0} if mode == "constant" else {}
    expected = np.pad(x, h, mode=np_mode, **kwargs)
    got = pad_exact(da.from_array(x, chunks=1), (h,), mode, cval=-7.0).compute()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunks", ["7", "16x5x9", "64", "3x2x4"])
def test_gaussian_3d_equals_in_memory(rng, mode, chunks):
    """A separable Gaussian (radius 4 > some chunk sizes) equals scipy on the whole volume."""
    x = (rng.random((23, 19, 21)) * 1000).astype(np.float32)

    def block_fn(b):
        return ndi.gaussian_filter(b, (1.0, 1.5, 0.8), mode=mode, cval=2.5)

    halo = (4, 6, 3)
    y = filter_dask(da.from_array(x, chunks=10), block_fn, halo, mode, 2.5, chunks=chunks)
    reference = ndi.gaussian_filter(x.astype(np.float64), (1.0, 1.5, 0.8), mode=mode, cval=2.5)
    got = y.compute()
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got - reference).max() <= _tolerance(x)


@pytest.mark.parametrize("mode", MODES)
def test_full_kernel_with_origin_equals_in_memory(rng, mode):
    """A non-separable, off-centre 2-D kernel, chunks of 2 (smaller than the halo)."""
    x = rng.standard_normal((17, 30)).astype(np.float32)
    w = rng.standard_normal((5, 4))
    origin = (1, -1)

    def block_fn(b):
        return ndi.correlate(b, w, mode=mode, origin=origin)

    halo = (2 + 1, 2 + 1)  # reach of a 5x4 kernel shifted by (1, -1)
    y = filter_dask(x, block_fn, halo, mode, chunks="2x2").compute()
    reference = ndi.correlate(x.astype(np.float64), w, mode=mode, origin=origin)
    assert np.abs(y - reference).max() <= 1e-6 * np.abs(reference).max()


@pytest.mark.parametrize("mode", MODES)
def test_chain_of_stages_runs_as_successive_overlaps(rng, mode):
    """Kernels applied one after the other: each stage extends its own input by the mode."""
    x = rng.random((40, 33)).astype(np.float32)

    def first(b):
        return ndi.gaussian_filter(b, 2.0, mode=mode)

    def second(b):
        return ndi.correlate1d(b, [1.0, -2.0, 0.5], axis=1, mode=mode)

    y = filter_dask(filter_dask(x, first, (8, 8), mode, chunks=6), second, (0, 1), mode, chunks=6)
    reference = second(first(x.astype(np.float64)))
    assert np.abs(y.compute() - reference).max() <= _tolerance(x)


def test_wrap_chain_in_one_overlap_with_total_reach(rng):
    """Wrap commutes with filtering: one overlap of the summed reach is exact."""
    x = rng.random((40, 33)).astype(np.float32)

    def chain(b):
        return ndi.correlate1d(ndi.gaussian_filter(b, 2.0, mode="wrap"), [1, -1, 3], 0, mode="wrap")

    y = filter_dask(x, chain, (8 + 1, 8), "wrap", chunks=6).compute()
    assert np.abs(y - chain(x.astype(np.float64))).max() <= 1e-6 * 3


def test_unfiltered_axis_has_no_halo(rng):
    """Channels are not filtered: halo 0 on that axis leaves its chunks alone."""
    x = rng.random((20, 24, 3)).astype(np.float32)

    def block_fn(b):
        return ndi.gaussian_filter(b, (1, 1, 0), mode="nearest")

    ov, out_chunks = overlapped(da.from_array(x), (4, 4, 0), "nearest", 0.0, (8, 8, 1))
    assert out_chunks[2] == (1, 1, 1) and ov.chunks[2] == (1, 1, 1)
    y = filter_dask(x, block_fn, (4, 4, 0), "nearest", chunks=(8, 8, 1)).compute()
    assert np.abs(y - block_fn(x.astype(np.float64))).max() <= _tolerance(x)


def test_integer_input_is_cast_to_the_compute_dtype():
    """uint8 data with a cval below 0 is padded in the compute dtype, not wrapped around."""
    x = np.full((12, 12), 200, np.uint8)

    def block_fn(b):
        return ndi.uniform_filter(b, 3, mode="constant", cval=-1.0)

    y = filter_dask(x, block_fn, (1, 1), "zero", -1.0, chunks=5, dtype=np.float32).compute()
    reference = ndi.uniform_filter(x.astype(np.float64), 3, mode="constant", cval=-1.0)
    np.testing.assert_allclose(y, reference, rtol=1e-6)


@given(
    shape=st.lists(st.integers(1, 14), min_size=1, max_size=3),
    data=st.data(),
)
def test_property_any_chunking_any_mode(shape, data):
    """Random shapes, chunk shapes, radii and modes: chunked == in memory."""
    mode = data.draw(st.sampled_from(MODES))
    radii = [data.draw(st.integers(0, 6)) for _ in shape]
    chunks = [data.draw(st.integers(1, 15)) for _ in shape]
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    size = [2 * r + 1 for r in radii]

    def block_fn(b):
        return ndi.uniform_filter(b, size, mode=mode, cval=0.5)

    y = filter_dask(x, block_fn, radii, mode, 0.5, chunks=chunks).compute()
    reference = ndi.uniform_filter(x.astype(np.float64), size, mode=mode, cval=0.5)
    assert np.abs(y - reference).max() <= 1e-6 * max(1.0, float(np.abs(x).max()))


def test_parse_chunks_errors():
    """Bad --chunks values name the option and the value."""
    with pytest.raises(UsageError, match="--chunks '64x64'"):
        parse_chunks("64x64", 3)
    with pytest.raises(UsageError, match="--chunks 'big'"):
        parse_chunks("big", 2)
    with pytest.raises(UsageError, match=">= 1"):
        parse_chunks("0", 2)


def test_choose_chunks_fits_the_memory_limit():
    """Default chunks: padded chunk × working copies × workers within half the limit."""
    limit = 64 * 2**20
    chunks = choose_chunks((300, 700, 500), 4, (8, 8, 8), memory_limit=limit, workers=2)
    padded = np.prod([c + 16 for c in chunks]) * 4 * 6 * 2
    assert padded <= limit // 2
    assert all(c >= 8 for c in chunks)
    assert choose_chunks((10, 10), 4, (3, 0), chunks="1") == (3, 1)
    # Whole stored (Zarr) chunks when they fit, the memory bound still holds ...
    aligned = choose_chunks(
        (300, 700, 500), 4, (8, 8, 8), memory_limit=limit, workers=2, stored=(10, 16, 100)
    )
    assert all(c % s == 0 for c, s in zip(aligned, (10, 16, 100), strict=True))
    assert np.prod([c + 16 for c in aligned]) * 4 * 6 * 2 <= limit // 2
    # ... and the unaligned default when whole stored chunks would not fit.
    assert (
        choose_chunks(
            (300, 700, 500), 4, (8, 8, 8), memory_limit=limit, workers=2, stored=(10, 64, 64)
        )
        == chunks
    )


@given(data=st.data())
def test_property_read_padded_is_a_window_of_np_pad(data):
    """Any region of any array, any halo and mode: read_padded equals the same window of the
    whole array padded by np.pad (reading only what it needs from the source)."""
    from sepconv_cli.engine.dask_sources import read_padded

    shape = data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    mode = data.draw(st.sampled_from(MODES))
    halo = [data.draw(st.integers(0, 12)) for _ in shape]
    region = []
    for n in shape:
        start = data.draw(st.integers(0, n - 1))
        region.append(slice(start, data.draw(st.integers(start + 1, n))))
    np_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge"}.get(mode, mode)
    kwargs = {"constant_values": -1.0} if mode == "constant" else {}
    padded = np.pad(x, [(h, h) for h in halo], mode=np_mode, **kwargs)
    window = tuple(slice(r.start, r.stop + 2 * h) for r, h in zip(region, halo, strict=True))
    got = read_padded(x, tuple(region), halo, mode, cval=-1.0, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, padded[window])
