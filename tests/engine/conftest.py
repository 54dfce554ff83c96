"""An independent float64 brute-force reference and helpers for the engine tests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sepconv_cli.engine.backends import BACKENDS, backend_available

#: scipy.ndimage mode -> numpy.pad mode, written out here independently of the package.
PAD = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "constant": "constant",
    "wrap": "wrap",
}
MODES = tuple(PAD)
AVAILABLE_BACKENDS = [name for name in BACKENDS.names() if backend_available(name)]


def brute_force(
    x: np.ndarray,
    weights: np.ndarray,
    axes: tuple[int, ...],
    mode: str,
    cval: float = 0.0,
    origin: tuple[int, ...] | None = None,
    *,
    correlate: bool = False,
) -> np.ndarray:
    """Explicit loop over kernel offsets on an np.pad-extended float64 copy.

    Convolution: ``out[i] = sum_k w[k] x[i + K//2 + o - k]``; correlation:
    ``out[i] = sum_k w[k] x[i + k - K//2 - o]`` (scipy.ndimage's conventions).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    origin = origin or (0,) * w.ndim
    pads = [(0, 0)] * x.ndim
    for k_axis, axis in enumerate(axes):
        size, o = w.shape[k_axis], origin[k_axis]
        before = size // 2 + o if correlate else size - 1 - size // 2 - o
        pads[axis] = (before, size - 1 - before)
    kwargs = {"constant_values": cval} if mode == "constant" else {}
    xp = np.pad(x, pads, mode=PAD[mode], **kwargs)
    out = np.zeros_like(x)
    for offset in itertools.product(*(range(n) for n in w.shape)):
        index = [slice(None)] * x.ndim
        for k_axis, axis in enumerate(axes):
            k = offset[k_axis]
            start = k if correlate else w.shape[k_axis] - 1 - k
            index[axis] = slice(start, start + x.shape[axis])
        out += w[offset] * xp[tuple(index)]
    return out


def random_data(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Random samples spanning a realistic range of ``dtype``."""
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if dtype == "uint16":
        return rng.integers(0, 65536, shape).astype(np.uint16)
    return (rng.standard_normal(shape) * 100).astype(dtype)


@pytest.fixture(params=AVAILABLE_BACKENDS)
def backend(request) -> str:
    """Each in-memory backend that imports here."""
    return request.param


#: Cost-model constants for the tests (representative of a modern core), so that the
#: planner's choices do not depend on how busy the machine was when it was calibrated.
TEST_CALIBRATION = {
    "machine": "tests",
    "bandwidth_gbs": 25.0,
    "overhead_s": 7e-6,
    "numba_min_voxels": 262144,
    "numba_startup_s": 0.6,
    "backends": {
        "numpy": {"direct_gmacs": 1.4, "separable_gmacs": 3.0, "fft_gflops": 6.0},
        "numba": {"direct_gmacs": 1.4, "separable_gmacs": 15.0, "fft_gflops": 6.0},
    },
}


@pytest.fixture(autouse=True)
def fixed_calibration(tmp_path_factory, monkeypatch):
    """Point the cost model at :data:`TEST_CALIBRATION` for every engine test."""
    import json

    from sepconv_cli.engine.costmodel import load_calibration

    path = tmp_path_factory.getbasetemp() / "calibration.json"
    path.write_text(json.dumps(TEST_CALIBRATION))
    monkeypatch.setenv("SEPCONV_CALIBRATION", str(path))
    load_calibration.cache_clear()
    yield
    load_calibration.cache_clear()
