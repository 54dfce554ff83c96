"""Fixtures for the IO tests: bundled real files (read offline) and a CLI helper."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nib_data() -> Path:
    """nibabel's bundled test images (never downloaded)."""
    nibabel = pytest.importorskip("nibabel")
    return Path(nibabel.__file__).parent / "tests" / "data"


@pytest.fixture(scope="session")
def sk_data() -> Path:
    """scikit-image's bundled sample images (never downloaded)."""
    skimage = pytest.importorskip("skimage")
    return Path(skimage.__file__).parent / "data"


@pytest.fixture
def rng():
    """A seeded random generator."""
    import numpy as np

    return np.random.default_rng(20261129)


@pytest.fixture
def cli(runner):
    """Run ``sepconv ARGS`` in-process; returns the CliRunner result."""
    from sepconv_cli.cli.app import app

    def invoke(*args: str, stdin: bytes | None = None):
        return runner.invoke(app, [str(a) for a in args], input=stdin)

    return invoke
