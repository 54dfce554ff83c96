"""Start-up (issue 6): what a small filtering run imports, and when the planner picks numba."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sepconv_cli.engine.options import ApplyOptions
from sepconv_cli.engine.planner import plan
from sepconv_cli.image import Image

#: Modules a small PNG run must not import (numba's import and cache load alone cost ~0.6 s).
HEAVY = ("numba", "nibabel", "dask", "distributed", "scipy.signal", "zarr", "matplotlib")


def _imported(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output (``... | cumulative |   name``)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_filtering_a_small_png_imports_no_heavy_module(tmp_path):
    imageio = pytest.importorskip("imageio.v3")
    source = tmp_path / "small.png"
    rng = np.random.default_rng(0)
    imageio.imwrite(source, rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    target = tmp_path / "out.png"
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "sepconv_cli",
            "apply",
            str(source),
            "-k",
            "gaussian:sigma=1.5",
            "-o",
            str(target),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.is_file()
    imported = _imported(result.stderr)
    assert "numpy" in imported  # the parser sees the run's imports
    heavy = sorted(n for n in imported if any(n == h or n.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_help_imports_no_numerics():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sepconv_cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {name.split(".")[0] for name in _imported(result.stderr)}
    assert "typer" in imported
    assert not imported & {"numpy", "scipy", "numba", "nibabel", "dask", "PIL", "imageio"}


def test_fresh_process_picks_numba_only_when_it_repays_its_start_up(monkeypatch):
    """In a fresh process numba's import + cache load count; a large volume still repays it."""
    pytest.importorskip("numba")
    monkeypatch.delitem(sys.modules, "sepconv_cli.engine.numba_backend", raising=False)
    options = ApplyOptions(memory_limit="1TiB")
    volume = Image(np.broadcast_to(np.float32(0), (512, 512, 512)), "zyx")
    big = plan(volume, ["gaussian:sigma=2"], options)
    assert big.backend == "numba" and "numba start-up" in big.backend_why
    small = plan(Image(np.zeros((600, 600), np.float32), "yx"), ["gaussian:sigma=2"], options)
    assert small.backend == "numpy" and "numba start-up" in small.backend_why
    forced = plan(
        Image(np.zeros((8, 8), np.float32), "yx"), ["box:size=3"], ApplyOptions(backend="numba")
    )
    assert (forced.backend, forced.backend_why) == ("numba", "--backend numba")
