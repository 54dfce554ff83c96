"""Compiled kernels are cached on disk: a second process loads them instead of compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

PROBE = """
import json
import numpy as np
from sepconv_cli.engine import numba_backend as nb
ready = nb.cache_ready()
nb.correlate1d(np.ones((3, 8), np.float32), [1.0, 2.0, 1.0], axis=1)
status = nb.compile_status()
print(json.dumps({"ready": ready, **status}))
"""


def start_probe(cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.Popen(
        [sys.executable, "-c", PROBE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_probe(probe):
    out, err = probe.communicate(timeout=300)
    assert probe.returncode == 0, err
    return json.loads(out)


def run_probe(cache_dir):
    return finish_probe(start_probe(cache_dir))


def test_second_process_loads_from_the_cache(tmp_path):
    # Two processes start on an empty cache at once (batch workers, test workers): the cache
    # lock makes one compile and the other wait and load, instead of both writing the cache.
    first, other = [finish_probe(p) for p in [start_probe(tmp_path), start_probe(tmp_path)]]
    assert sorted([first["compiled"], other["compiled"]]) == [0, 1]
    if other["compiled"]:
        first, other = other, first
    assert first["ready"] is False
    assert first["compiled"] == 1 and first["loaded"] == 0
    assert other["loaded"] == 1
    assert first["cache_dir"] == str(tmp_path)
    assert any(tmp_path.rglob("*.nbi")) and any(tmp_path.rglob("*.nbc"))
    second = run_probe(tmp_path)
    assert second["ready"] is True
    assert second["compiled"] == 0 and second["loaded"] == 1
    assert second["signatures"]["pass_lines"] == first["signatures"]["pass_lines"]


def test_default_cache_folder_is_under_the_user_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = "from sepconv_cli.engine import numba_backend as nb; print(nb.CACHE_DIR)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "sepconv" / "numba")


def test_a_first_compile_waits_for_the_cache_lock(monkeypatch):
    """While another process holds the cache lock, a kernel's first use in this process waits."""
    import threading

    import numba
    import numpy as np

    from sepconv_cli.engine import numba_backend as nb

    fcntl = pytest.importorskip("fcntl")
    monkeypatch.setattr(nb, "_READY", set())  # as if this process had compiled nothing yet
    data = np.arange(24, dtype=np.float32).reshape(3, 8)
    results = []
    folder = nb.Path(numba.config.CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".compile.lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: results.append(nb.correlate1d(data, [1.0, 2.0, 1.0], axis=1))
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not results
    finally:
        os.close(fd)
    worker.join(300)
    assert not worker.is_alive()
    np.testing.assert_allclose(results[0][:, 1], 4 * data[:, 1])
