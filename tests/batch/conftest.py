"""Fixtures for the batch tests; stand-in workers live in an importable helper module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Worker processes are spawned: they import the stand-in workers by module name, and spawn
# hands them this process's sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def sigint_not_ignored():
    """Let the CLI processes these tests interrupt hear Ctrl-C.

    A shell without job control starts background jobs with SIGINT ignored, and an ignored
    signal stays ignored in every process started below (as it should: a background job is
    not interrupted by the terminal's Ctrl-C). When pytest runs that way, the SIGINT tests
    would test nothing; with a Python handler here, the processes they start begin with the
    default disposition.
    """
    import signal

    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """scans/{a.npy, b.npy, sub/c.npy, sub/deeper/d.npy, .hidden.npy, .git/x.npy}."""
    import numpy as np

    root = tmp_path / "scans"
    for rel in ("a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy", ".hidden.npy", ".git/x.npy"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.full((4, 5), len(rel), np.float32))
    return root
