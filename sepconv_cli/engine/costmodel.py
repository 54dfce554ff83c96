"""Predicted run time per method and backend, from constants measured on this machine.

``benchmarks/calibrate.py`` measures the constants and writes ``calibration.json`` next to this
module; a file named by ``SEPCONV_CALIBRATION`` (or ``~/.cache/sepconv/calibration.json``)
overrides it for one machine. The model is deliberately simple:

    time = overhead + total_MACs / rate(method, backend) + bytes / bandwidth

with ``rate`` in MAC/s for direct, separable and low-rank and FLOP/s for FFT.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Used when no calibration file can be read (conservative figures for one modern core).
FALLBACK: dict[str, Any] = {
    "machine": "fallback (not measured)",
    "bandwidth_gbs": 5.0,
    "overhead_s": 2e-5,
    "numba_min_voxels": 262144,
    "numba_startup_s": 0.5,
    "backends": {
        "numpy": {"direct_gmacs": 0.5, "separable_gmacs": 1.0, "fft_gflops": 2.0},
        "numba": {"direct_gmacs": 1.0, "separable_gmacs": 3.0, "fft_gflops": 2.0},
    },
}

DEFAULT_PATH = Path(__file__).with_name("calibration.json")


def calibration_paths() -> list[Path]:
    """Where calibration is looked up, first match wins.

    Examples
    --------
    >>> calibration_paths()[-1].name
    'calibration.json'
    """
    paths = []
    env = os.environ.get("SEPCONV_CALIBRATION")
    if env:
        paths.append(Path(env))
    paths.append(Path.home() / ".cache" / "sepconv" / "calibration.json")
    paths.append(DEFAULT_PATH)
    return paths


@lru_cache(maxsize=1)
def load_calibration() -> dict[str, Any]:
    """The measured constants (the fallback figures when no file is readable).

    Examples
    --------
    >>> sorted(load_calibration()["backends"])
    ['numba', 'numpy']
    """
    for path in calibration_paths():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "backends" in data:
            merged = dict(FALLBACK)
            merged.update(data)
            merged["source"] = str(path)
            return merged
    return dict(FALLBACK, source="built-in fallback")


def predict_seconds(method: str, backend: str, cost: dict[str, Any]) -> float:
    """Predicted wall time of one method on one backend for one ``method_costs`` entry.

    Examples
    --------
    >>> from sepconv_cli.costs.filters import method_costs
    >>> c = method_costs((512, 512), (31, 31), rank=1)
    >>> predict_seconds("separable", "numpy", c["separable"]) < predict_seconds(
    ...     "direct", "numpy", c["direct"])
    True
    """
    cal = load_calibration()
    rates = cal["backends"].get(backend, cal["backends"]["numpy"])
    if method == "fft":
        compute = cost["total_flops"] / (rates["fft_gflops"] * 1e9)
    elif method == "direct":
        compute = cost["total_macs"] / (rates["direct_gmacs"] * 1e9)
    else:
        compute = cost["total_macs"] / (rates["separable_gmacs"] * 1e9)
    return float(cal["overhead_s"] + compute + cost["bytes"] / (cal["bandwidth_gbs"] * 1e9))


#: Modules whose import makes a backend's one-off start-up cost already paid.
_BACKEND_MODULES = {"numba": "sepconv_cli.engine.numba_backend"}


def startup_seconds(backend: str) -> float:
    """One-off cost of a backend in this process (numba: import + loading cached kernels).

    Zero once the backend's module has been imported (e.g. in a long batch worker).

    Examples
    --------
    >>> startup_seconds("numpy")
    0.0
    """
    module = _BACKEND_MODULES.get(backend)
    if module is None or module in sys.modules:
        return 0.0
    return float(load_calibration().get(f"{backend}_startup_s", 0.0))
