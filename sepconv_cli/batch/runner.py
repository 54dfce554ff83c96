"""Running a batch: :func:`run_batch` over planned tasks, in this process or a worker pool.

Each file is processed by ``worker(task)`` in a worker process (``jobs > 1``) or in this
process; a failing file gives a ``failed`` result with a one-line reason and the batch goes on.
Ctrl-C, SIGTERM or SIGHUP stop the batch: running workers are stopped, no partial or temporary
output is left, and the summary's exit code is 130. :class:`Summary` counts what happened and
owns the exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sepconv_cli.batch.outputs import (
    Task,
    missing_folders,
    remove_empty_folders,
    remove_temporaries,
)
from sepconv_cli.batch.worker import run_task, task_result, worker_pool
from sepconv_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:  # the pool is imported only when a batch runs in worker processes
    from concurrent.futures import Future, ProcessPoolExecutor

#: Tasks one worker process runs before it is replaced by a fresh one (keeps memory flat).
TASKS_PER_WORKER = 32

#: Seconds running workers get to clean up after an interruption before they are killed.
STOP_GRACE_S = 3.0


@dataclass
class Summary:
    """What a batch did; owns the exit code.

    Examples
    --------
    >>> s = Summary(total=3, done=2, failed=1)
    >>> int(s.exit_code), s.to_dict()["not_run"]
    (3, 0)
    """

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    macs: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def not_run(self) -> int:
        """Tasks never finished (after ``fail_fast`` or an interruption)."""
        return self.total - self.done - self.skipped - self.failed

    @property
    def exit_code(self) -> ExitCode:
        """130 interrupted, 1 nothing could be done, 3 some files failed, else 0."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.failed and not (self.done or self.skipped):
            return ExitCode.FAILURE
        if self.failed:
            return ExitCode.PARTIAL
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the ``{"summary": ...}`` line of ``--json``)."""
        return {
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "not_run": self.not_run,
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 6),
            "files_per_s": round(self.done / self.elapsed_s, 3) if self.elapsed_s > 0 else None,
            "macs": self.macs,
            "exit_code": int(self.exit_code),
        }


def report_macs(report: dict[str, Any] | None) -> int:
    """Total MACs a per-file report (``Report.to_dict``) counts for its chosen method; 0 if none.

    Examples
    --------
    >>> report_macs({"method": "separable", "macs": 120}), report_macs(None)
    (120, 0)
    """
    value = (report or {}).get("macs")
    return int(value) if isinstance(value, (int, float)) else 0


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt inside the block (main thread only),
    so that atomic writers clean up as they do for Ctrl-C.

    Examples
    --------
    >>> with stop_signals():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    names = ("SIGTERM", "SIGHUP")
    previous = {}
    for name in names:
        if hasattr(signal, name):
            signum = getattr(signal, name)
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _ignore_sigint() -> Iterator[None]:
    """Shield cleanup from a second Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold Ctrl-C back while worker processes start: they inherit the blocked signal (so a
    Ctrl-C for the whole terminal never reaches a half-started worker), and this process gets
    it as soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Runner:
    """State of one :func:`run_batch` call."""

    def __init__(
        self,
        worker: Callable[[Task], dict[str, Any]],
        summary: Summary,
        fail_fast: bool,
        on_result: Callable[[dict[str, Any]], None] | None,
        on_start: Callable[[Task], None] | None,
    ) -> None:
        self.worker = worker
        self.summary = summary
        self.fail_fast = fail_fast
        self.on_result = on_result
        self.on_start = on_start
        self.stop = False
        self.failed_outputs: list[str] = []

    def started(self, task: Task) -> None:
        if self.on_start is not None:
            self.on_start(task)

    def finished(self, result: dict[str, Any]) -> None:
        status = result["status"]
        if status == "interrupted":
            return
        if status == "ok":
            self.summary.done += 1
            self.summary.macs += report_macs(result.get("report"))
        elif status == "skipped":
            self.summary.skipped += 1
        else:
            self.summary.failed += 1
            self.summary.failures.append({"path": result["path"], "error": result["error"]})
            self.failed_outputs.append(result["output"])
            if self.fail_fast:
                self.stop = True
        if self.on_result is not None:
            self.on_result(result)

    def in_process(self, queue: deque[Task]) -> None:
        while queue and not self.stop:
            task = queue.popleft()
            self.started(task)
            result = run_task(self.worker, task)
            if result["status"] == "interrupted":
                raise KeyboardInterrupt
            self.finished(result)

    def in_pool(self, queue: deque[Task], jobs: int, tasks_per_worker: int) -> None:
        """Keep at most ``jobs`` tasks in flight; replace the pool every few tasks.

        A worker that dies (killed, out of memory) breaks its pool: the files it and its
        siblings were running are retried once each, alone, in a fresh pool; a file that kills
        its worker again is reported as failed.
        """
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        running: dict[Future[dict[str, Any]], tuple[ProcessPoolExecutor, Task]] = {}
        pool: ProcessPoolExecutor | None = None
        submitted = 0
        retired: list[ProcessPoolExecutor] = []
        retried: set[Task] = set()
        solo = False
        threads = max(1, default_jobs() // jobs)
        try:
            while (queue and not self.stop) or running:
                while queue and not self.stop and len(running) < jobs and not solo:
                    if queue[0] in retried and running:
                        break  # a retried file runs alone, so a crash can be pinned on it
                    if pool is None or submitted >= jobs * tasks_per_worker:
                        if pool is not None:
                            retired.append(pool)
                        pool = worker_pool(jobs, threads)
                        submitted = 0
                    task = queue.popleft()
                    self.started(task)
                    with _sigint_blocked():  # submit() starts worker processes
                        future = pool.submit(run_task, self.worker, task)
                        running[future] = (pool, task)
                    submitted += 1
                    solo = task in retried
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    owner, task = running.pop(future)
                    solo = False
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        if owner is pool:
                            retired.append(pool)
                            pool = None
                        if task not in retried:
                            retried.add(task)
                            queue.appendleft(task)
                            continue
                        result = task_result(
                            task, "failed", "the worker process died (killed, or out of memory?)"
                        )
                    self.finished(result)
                for old in list(retired):
                    if not any(owner is old for owner, _ in running.values()):
                        old.shutdown(wait=False)
                        retired.remove(old)
        except KeyboardInterrupt:
            with _ignore_sigint():
                pools = {owner for owner, _ in running.values()} | set(retired)
                if pool is not None:
                    pools.add(pool)
                self._stop(running, pools)
            raise
        if pool is not None:
            pool.shutdown(wait=True)

    def _stop(
        self,
        running: dict[Future[dict[str, Any]], tuple[ProcessPoolExecutor, Task]],
        pools: set[ProcessPoolExecutor],
    ) -> None:
        """Stop after an interruption: SIGTERM the workers (their writers clean up), count
        what still finishes within a grace period, SIGKILL the rest, remove their temp files."""
        from concurrent.futures import wait
        from concurrent.futures.process import BrokenProcessPool

        processes = [p for pool in pools for p in getattr(pool, "_processes", {}).values()]
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.terminate()
        done, _ = wait(running, timeout=STOP_GRACE_S)
        unfinished = []
        for future, (_, task) in running.items():
            result = None
            if future in done:
                with contextlib.suppress(BrokenProcessPool):
                    result = future.result()
            if result is not None and result["status"] in ("ok", "failed"):
                self.finished(result)
            else:
                unfinished.append(task.output)
        for process in processes:
            if process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    process.kill()
                process.join(5.0)
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        remove_temporaries(unfinished)


def run_batch(
    tasks: Sequence[Task],
    worker: Callable[[Task], dict[str, Any]],
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    skip_existing: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[Task], None] | None = None,
    tasks_per_worker: int = TASKS_PER_WORKER,
) -> Summary:
    """Run ``worker`` over ``tasks``; one bad file never stops the others (unless ``fail_fast``).

    Parameters
    ----------
    tasks
        From :func:`~sepconv_cli.batch.outputs.plan_outputs`.
    worker
        ``worker(task) -> report dict``; must be picklable (a module-level function or a
        ``functools.partial`` of one) when ``jobs > 1``. It reads the input once and writes the
        output atomically; its report may hold ``macs`` or ``ops``/``method`` (summed).
    jobs
        Worker processes; with 1 (or one task) everything runs in this process.
    fail_fast
        Stop at the first failure: nothing new starts, running files finish.
    skip_existing
        Leave tasks whose output exists (``status: "skipped"``) without starting a worker.
    on_result
        Called here, in this process, with each per-file result as it finishes:
        ``{"path", "output", "status": "ok"|"failed"|"skipped", "error", ...}``.
    on_start
        Called here with each task as it is handed to a worker.
    tasks_per_worker
        Files a worker process handles before a fresh one replaces it (flat memory).

    Returns
    -------
    Summary
        Counts, time, total MACs and the exit code (0, 1, 3 or 130 when interrupted by Ctrl-C,
        SIGTERM or SIGHUP; finished outputs stay, no partial or temporary file is left).
        Folders that did not exist before the batch and lie above the output of a file that
        failed are removed again when empty.

    Examples
    --------
    >>> from sepconv_cli.batch.inputs import InputFile
    >>> tasks = [Task(InputFile(p, "", p), p + ".out") for p in ("a", "b")]
    >>> run_batch(tasks, lambda task: {"macs": 10}).to_dict()["macs"]
    20
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    summary = Summary(total=len(tasks))
    runner = _Runner(worker, summary, fail_fast, on_result, on_start)
    queue: deque[Task] = deque()
    new_folders: dict[str, list[str]] = {}  # output -> folders above it that do not exist yet
    start = time.perf_counter()
    for task in tasks:
        if skip_existing and task.output != "-" and os.path.exists(task.output):
            runner.finished(task_result(task, "skipped", None, reason="output exists"))
        else:
            queue.append(task)
            new_folders[task.output] = missing_folders(task.output)
    try:
        with stop_signals():
            if jobs == 1 or len(queue) <= 1:
                runner.in_process(queue)
            else:
                runner.in_pool(queue, min(jobs, len(queue)), max(1, tasks_per_worker))
    except KeyboardInterrupt:
        summary.interrupted = True
    remove_empty_folders(f for out in runner.failed_outputs for f in new_folders.get(out, ()))
    summary.elapsed_s = time.perf_counter() - start
    return summary


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use.

    Examples
    --------
    >>> default_jobs() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
