"""The Examples sections of the kernel, spec and separability modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sepconv_cli.spec",
    "sepconv_cli.separability",
    "sepconv_cli.plots",
    "sepconv_cli.kernels",
    "sepconv_cli.kernels.builder",
    "sepconv_cli.kernels.gaussian",
    "sepconv_cli.kernels.derivative",
    "sepconv_cli.kernels.smoothing",
    "sepconv_cli.kernels.savgol",
    "sepconv_cli.kernels.custom",
    "sepconv_cli.cli.kernel",
    "sepconv_cli.cli.check",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name != "sepconv_cli.cli.check":
        assert result.attempted > 0
