"""Every module's docstring Examples run and give what they show (one runner for the package)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sepconv_cli

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(sepconv_cli.__path__, prefix="sepconv_cli.")
    if info.name != "sepconv_cli.__main__"
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.failed == 0


def test_public_functions_show_examples():
    """Sanity check of the runner itself: the core modules do carry examples."""
    for name in (
        "sepconv_cli.registry",
        "sepconv_cli.image",
        "sepconv_cli.spec",
        "sepconv_cli.engine.planner",
        "sepconv_cli.io.formats",
        "sepconv_cli.batch",
    ):
        assert doctest.testmod(importlib.import_module(name), optionflags=FLAGS).attempted > 0
