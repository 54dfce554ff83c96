"""The Examples sections of the engine, cost and report modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sepconv_cli.engine.backends",
    "sepconv_cli.engine.costmodel",
    "sepconv_cli.engine.filtering",
    "sepconv_cli.engine.methods",
    "sepconv_cli.engine.options",
    "sepconv_cli.engine.planner",
    "sepconv_cli.engine.report",
    "sepconv_cli.engine.run",
    "sepconv_cli.pipeline",
    "sepconv_cli.costs.filters",
    "sepconv_cli.costs.layers",
    "sepconv_cli.costs.models",
    "sepconv_cli.cli.report",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
