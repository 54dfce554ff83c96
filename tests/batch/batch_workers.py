"""Stand-in workers for run_batch tests (importable by spawned worker processes)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from sepconv_cli.batch.outputs import Task


def copy_npy(task: Task) -> dict[str, Any]:
    """Read a .npy, add 1, write it atomically; report one MAC per element."""
    import numpy as np

    from sepconv_cli.io.atomic import atomic_paths

    data = np.load(task.input.path)
    time.sleep(float(os.environ.get("COPY_DELAY_S", "0")))  # lets a bad file fail first
    os.makedirs(os.path.dirname(task.output) or ".", exist_ok=True)
    with atomic_paths([task.output]) as (temp,), open(temp, "wb") as handle:
        np.save(handle, data + 1)
    return {
        "macs": int(data.size),
        "pid": os.getpid(),
        "threads": os.environ.get("OMP_NUM_THREADS"),
    }


def slow_copy(task: Task) -> dict[str, Any]:
    """Write half a file, sleep inside the atomic write, then finish (for interruptions)."""
    from sepconv_cli.io.atomic import atomic_paths

    os.makedirs(os.path.dirname(task.output) or ".", exist_ok=True)
    with atomic_paths([task.output]) as (temp,), open(temp, "wb") as handle:
        handle.write(b"partial")
        handle.flush()
        if "stubborn" in task.input.path:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        time.sleep(float(os.environ.get("SLOW_COPY_S", "0.5")))
        handle.write(Path(task.input.path).read_bytes())
    return {"macs": 1}


def die_on_bad(task: Task) -> dict[str, Any]:
    """Kill the worker process on inputs named 'bad...' (simulates a crash or the OOM killer)."""
    if os.path.basename(task.input.path).startswith("bad"):
        os._exit(9)
    return copy_npy(task)


def allocate(task: Task) -> dict[str, Any]:
    """Allocate and touch 8 MB, write a small result; report the worker's pid."""
    import numpy as np

    block = np.ones(1 << 20, np.float64)
    report = copy_npy(task)
    report["checksum"] = float(block.sum())
    return report
