"""The Examples sections of the io modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sepconv_cli.io",
    "sepconv_cli.io.atomic",
    "sepconv_cli.io.cast",
    "sepconv_cli.io.common",
    "sepconv_cli.io.convert",
    "sepconv_cli.io.envi_format",
    "sepconv_cli.io.formats",
    "sepconv_cli.io.nifti_format",
    "sepconv_cli.io.stats",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
