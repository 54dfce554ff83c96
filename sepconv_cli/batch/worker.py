"""What runs in a batch worker process: its setup, its signals, and :func:`run_task`.

A worker ignores Ctrl-C (the parent stops it), turns SIGTERM into a clean stop of the running
file (its atomic writer removes the temporary output), and shares the cores with the other
workers. :func:`run_task` turns one file's outcome into a result dict and never raises.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sepconv_cli.batch.outputs import Task
from sepconv_cli.errors import SepconvError

if TYPE_CHECKING:  # the pool is imported only when a batch runs in worker processes
    from concurrent.futures import ProcessPoolExecutor


class _Stop(BaseException):
    """Raised inside a worker by SIGTERM from the parent, so cleanup code runs."""


_in_task = threading.Event()
_stopping = threading.Event()


def _worker_sigterm(signum: int, frame: Any) -> None:
    """In a worker: stop the running file (its atomic writer cleans up); refuse new ones."""
    _stopping.set()
    if _in_task.is_set():
        raise _Stop()


#: Environment variables that size the thread pools of numerical libraries.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _worker_init(threads: int) -> None:
    """Set up a worker process: ignore Ctrl-C (the parent stops workers), stop on SIGTERM,
    and share the cores with the other workers (unless the user sized the thread pools)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def worker_pool(jobs: int, threads: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` fresh (spawned) worker processes, each set up by :func:`_worker_init`
    to use ``threads`` threads in numerical libraries.

    Examples
    --------
    >>> from sepconv_cli.batch.inputs import InputFile
    >>> pool = worker_pool(1, threads=1)
    >>> task = Task(InputFile("a.png", ".", "a.png"), "out/a.png")
    >>> pool.submit(run_task, str, task).result()["status"]
    'ok'
    >>> pool.shutdown()
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(jobs, context, initializer=_worker_init, initargs=(threads,))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SepconvError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory (try --backend dask or fewer --jobs)"
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def _peak_rss_mb() -> float | None:
    """This process's own peak resident memory in MB.

    Linux's ``VmHWM`` first: ``ru_maxrss`` of a spawned worker starts at its parent's peak, so it
    would report the size of the process that started the batch, not the worker's.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def task_result(task: Task, status: str, error: str | None, **extra: Any) -> dict[str, Any]:
    """The per-file result of ``task``: ``{"path", "output", "status", "error", **extra}``.

    Examples
    --------
    >>> from sepconv_cli.batch.inputs import InputFile
    >>> task_result(Task(InputFile("a.png", ".", "a.png"), "out/a.png"), "skipped", None)
    {'path': 'a.png', 'output': 'out/a.png', 'status': 'skipped', 'error': None}
    """
    base = {"path": task.input.path, "output": task.output, "status": status, "error": error}
    return {**base, **extra}


def run_task(worker: Callable[[Task], dict[str, Any]], task: Task) -> dict[str, Any]:
    """Run ``worker(task)`` and turn its outcome into a per-file result (never raises).

    Returns ``{"path", "output", "status": "ok"|"failed"|"interrupted", "error", "time_s",
    "peak_rss_mb", "report"}``; ``report`` is what the worker returned.

    Examples
    --------
    >>> from sepconv_cli.batch.inputs import InputFile
    >>> run_task(lambda t: {"macs": 1}, Task(InputFile("a", "", "a"), "b"))["status"]
    'ok'
    """
    start = time.perf_counter()
    try:
        _in_task.set()
        if _stopping.is_set():
            raise _Stop()
        report = worker(task)
        status, error = "ok", None
    except (KeyboardInterrupt, _Stop):
        report, status, error = None, "interrupted", "interrupted"
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        report, status, error = None, "failed", _one_line(exc)
    finally:
        _in_task.clear()
    return task_result(
        task,
        status,
        error,
        time_s=round(time.perf_counter() - start, 6),
        peak_rss_mb=_peak_rss_mb(),
        report=report,
    )
