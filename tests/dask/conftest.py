"""Fixtures for the Dask backend tests (skipped when dask is not installed)."""

from __future__ import annotations

import pytest

pytest.importorskip("dask")
pytest.importorskip("zarr")

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")


@pytest.fixture
def rng():
    """A seeded random generator."""
    import numpy as np

    return np.random.default_rng(20261129)
