"""The Examples sections of the Dask backend's modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sepconv_cli.engine.dask_backend",
    "sepconv_cli.engine.dask_chunks",
    "sepconv_cli.engine.dask_overlap",
    "sepconv_cli.engine.dask_sources",
    "sepconv_cli.engine.dask_store",
    "sepconv_cli.io.zarr_format",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
