"""Fixtures for the batch tests; stand-in workers live in an importable helper module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Worker processes are spawned: they import the stand-in workers by module name, and spawn
# hands them this process's sys.path.
sys.path.insert(0, str(Path(__file__).parent))


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
