"""Shared fixtures."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None)
settings.load_profile("ci")

# Subprocess tests must never see a terminal or colour.
os.environ.setdefault("NO_COLOR", "1")


@pytest.fixture
def runner():
    """A Typer CliRunner whose stderr is kept apart from stdout."""
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always separates them
        return CliRunner()
