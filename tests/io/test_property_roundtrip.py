"""Property test: any axes order, dtype and spacing survives a write + read (up to axis order)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepconv_cli.image import Image
from sepconv_cli.io import read, write

AXES = st.sampled_from(["yx", "xy", "zyx", "yxz", "xyz", "tzyx", "yxc", "cyx", "zyxc", "tyx"])
DTYPES = st.sampled_from(["uint8", "uint16", "int16", "float32", "float64", "int32"])


@st.composite
def images(draw):
    axes = draw(AXES)
    shape = tuple(draw(st.integers(2, 5)) for _ in axes)
    dtype = np.dtype(draw(DTYPES))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).integers(0, 120, size=shape)
    spacing = tuple(
        None if letter == "c" else draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])) for letter in axes
    )
    units = tuple(
        None if s is None else ("s" if a == "t" else "um")
        for a, s in zip(axes, spacing, strict=True)
    )
    return Image(values.astype(dtype), axes, spacing=spacing, units=units)


def _by_role(image: Image):
    """Data with axes sorted by letter, and spacing per letter."""
    order = sorted(image.axes)
    perm = [image.axes.index(a) for a in order]
    spacing = {a: s for a, s in zip(image.axes, image.spacing, strict=True)}
    return np.transpose(np.asarray(image.data), perm), spacing


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=images())
def test_roles_data_and_spacing_survive(suffix, image):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"img{suffix}"
        write(image, path)
        back = read(path)
    data, spacing = _by_role(image)
    back_data, back_spacing = _by_role(back)
    present = [a for a in sorted(back.axes) if a in image.axes]
    assert set(image.axes) <= set(back.axes)  # NIfTI may add size-1 slots
    squeezed = back_data.reshape([back.shape[back.axes.index(a)] for a in present])
    np.testing.assert_array_equal(squeezed, data)
    for letter in image.axes:
        if spacing[letter] is not None:
            assert back_spacing[letter] == pytest.approx(spacing[letter]), letter
