"""The examples in the batch modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest

import pytest

from sepconv_cli import batch
from sepconv_cli.cli import progress


@pytest.mark.parametrize("module", [batch, progress], ids=lambda m: m.__name__)
def test_docstring_examples(module) -> None:
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried >= 3 and failures == 0
