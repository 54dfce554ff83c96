"""Out-of-core: a 512 MiB volume with a 128 MiB --memory-limit, peak RSS measured."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

LIMIT = 128 * 2**20
SHAPE = (512, 512, 512)  # float32: 512 MiB, four times the limit

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from sepconv_cli.engine import ApplyOptions
    from sepconv_cli.pipeline import apply_file

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

    src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    folder = Path(out).parent
    options = ApplyOptions(kernels=("gaussian:sigma=1.5",), memory_limit=limit)
    # Warm up the same path (imports, Numba compilation: fixed costs, not data), then
    # reset the peak.
    warm = ApplyOptions(kernels=options.kernels, memory_limit=limit, backend="dask")
    np.save(folder / "warm.npy", np.ones((32, 32, 32), np.float32))
    apply_file(folder / "warm.npy", folder / "warm-out.npy", warm)
    Path("/proc/self/clear_refs").write_text("5")
    base = status("VmRSS")
    doc = apply_file(src, out, options)
    print(json.dumps({"base": base, "peak": status("VmHWM"), "doc": doc}))
    """
)


@pytest.fixture
def big_files(tmp_path):
    """The folder for the 1 GiB of input and output, emptied afterwards (pytest keeps tmp dirs)."""
    yield tmp_path
    for path in tmp_path.glob("*.npy"):
        path.unlink()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_volume_four_times_the_memory_limit(big_files):
    tmp_path = big_files
    source = tmp_path / "big.npy"
    data = np.lib.format.open_memmap(source, "w+", np.float32, SHAPE)
    for z in range(0, SHAPE[0], 64):
        data[z : z + 64] = np.random.default_rng(z).random((64, *SHAPE[1:]), np.float32)
    data.flush()
    del data
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(source), str(tmp_path / "out.npy"), str(LIMIT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    doc = result["doc"]
    # The planner picked dask by itself: 512 MiB > the 128 MiB limit.
    assert doc["backend"] == "dask"
    assert doc["dask"]["n_chunks"] > 1
    grown = result["peak"] - result["base"]
    assert grown <= LIMIT, f"peak RSS grew by {grown / 2**20:.0f} MiB"
    # Spot-check the output against scipy on a slab away from the z edges.
    import scipy.ndimage as ndi

    out = np.load(tmp_path / "out.npy", mmap_mode="r")
    src = np.load(source, mmap_mode="r")
    slab = np.asarray(src[200:240], np.float64)
    expected = ndi.gaussian_filter(slab, 1.5, mode="reflect")[8:-8]
    assert np.abs(out[208:232] - expected).max() <= 1e-6
    del out, src
