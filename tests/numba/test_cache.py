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


def run_probe(cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_second_process_loads_from_the_cache(tmp_path):
    first = run_probe(tmp_path)
    assert first["ready"] is False
    assert first["compiled"] == 1 and first["loaded"] == 0
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
