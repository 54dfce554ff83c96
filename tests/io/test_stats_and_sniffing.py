"""``describe`` statistics (block by block) against NumPy; format sniffing and suffixes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sepconv_cli.image import Image
from sepconv_cli.io import describe, from_suffix, read, stats, write
from sepconv_cli.io.formats import sniff

FLOATS = arrays(
    np.float32,
    st.tuples(st.integers(1, 7), st.integers(1, 6), st.integers(1, 5)),
    elements=st.one_of(
        st.floats(-1e6, 1e6, width=32), st.just(np.nan), st.just(np.inf), st.just(-np.inf)
    ),
)


@given(FLOATS)
def test_value_stats_match_numpy(data):
    info = stats.value_stats(data)
    finite = data[np.isfinite(data)].astype(np.float64)
    assert info["nan_count"] == int(np.isnan(data).sum())
    assert info["inf_count"] == int(np.isinf(data).sum())
    if finite.size:
        assert info["min"] == finite.min() and info["max"] == finite.max()
        assert info["mean"] == pytest.approx(finite.mean(), rel=1e-9, abs=1e-6)
    else:
        assert info["min"] is None and info["mean"] is None


@given(arrays(np.int16, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_value_stats_integers_in_small_blocks(data):
    original = stats._BLOCK_ELEMENTS
    stats._BLOCK_ELEMENTS = 5  # force many blocks
    try:
        info = stats.value_stats(data)
    finally:
        stats._BLOCK_ELEMENTS = original
    assert (info["min"], info["max"]) == (int(data.min()), int(data.max()))
    assert info["mean"] == pytest.approx(data.astype(np.float64).mean())
    assert isinstance(info["min"], int)


def test_describe_keys_and_sizes():
    image = Image(np.ones((2, 3, 4), np.float32), "zyx", spacing=(2, 1, 1), units=("um",) * 3)
    info = describe(image)
    assert info["nbytes"] == 96 and info["axes"] == "zyx"
    assert info["roles"] == ["space"] * 3
    assert info["spacing"] == [2.0, 1.0, 1.0] and info["units"] == ["um"] * 3


def test_describe_dask_data():
    da = pytest.importorskip("dask.array")
    data = np.arange(1000, dtype=np.float64).reshape(10, 100)
    info = describe(Image(da.from_array(data, chunks=(3, 50)), "yx"))
    assert (info["min"], info["max"], info["mean"]) == (0.0, 999.0, pytest.approx(499.5))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.PNG", "png"),
        ("a.jpeg", "jpeg"),
        ("a.ome.tif", "tiff"),
        ("b.TIFF", "tiff"),
        ("brain.nii.gz", "nifti"),
        ("brain.nii", "nifti"),
        ("cube.hdr", "envi"),
        ("cube.bil", "envi"),
        ("x.npy", "npy"),
    ],
)
def test_from_suffix(name, fmt):
    assert from_suffix(name).name == fmt


def test_from_suffix_unknown():
    assert from_suffix("notes.txt") is None and from_suffix(".npy") is None


def test_sniffing_ignores_the_suffix(tmp_path, nib_data):
    import shutil

    shutil.copy(nib_data / "example4d.nii.gz", tmp_path / "scan.dat")
    image = read(tmp_path / "scan.dat")
    assert image.format == "nifti" and image.shape == (128, 96, 24, 2)
    head = (tmp_path / "scan.dat").read_bytes()[:64]
    assert sniff(head, tmp_path / "scan.dat").name == "nifti"


def test_format_option_overrides_sniffing(tmp_path, rng):
    data = rng.integers(0, 9, (3, 4), dtype=np.uint8)
    write(Image(data, "yx"), tmp_path / "a.npy")
    assert read(tmp_path / "a.npy", format="npy").format == "npy"
    from sepconv_cli.errors import FormatError

    with pytest.raises(FormatError, match="cannot read as png"):
        read(tmp_path / "a.npy", format="png")
