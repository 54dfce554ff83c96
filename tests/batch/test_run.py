"""run_batch with stand-in workers: results, failures, fail-fast, skips, crashes, signals."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import batch_workers
import numpy as np
import pytest
from memory_checks import assert_memory_flat, own_peak_rss_mb

from sepconv_cli.batch.inputs import expand_inputs
from sepconv_cli.batch.outputs import plan_outputs
from sepconv_cli.batch.runner import STOP_GRACE_S, Summary, default_jobs, run_batch
from sepconv_cli.errors import ExitCode

HERE = Path(__file__).parent


def plan(tree: Path, out: Path):
    return plan_outputs(expand_inputs([str(tree)], recursive=True), str(out))


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_file_is_processed_and_reported_here(tree: Path, tmp_path: Path, jobs: int) -> None:
    tasks = plan(tree, tmp_path / "out")
    seen = []
    summary = run_batch(tasks, batch_workers.copy_npy, jobs=jobs, on_result=seen.append)
    assert (summary.done, summary.failed, summary.exit_code) == (4, 0, ExitCode.OK)
    assert sorted(r["path"] for r in seen) == sorted(t.input.path for t in tasks)
    for task in tasks:
        np.testing.assert_array_equal(np.load(task.output), np.load(task.input.path) + 1)
    assert summary.macs == 4 * 20 == sum(r["report"]["macs"] for r in seen)
    worker_pids = {r["report"]["pid"] for r in seen}
    assert (os.getpid() in worker_pids) == (jobs == 1)
    assert all(r["status"] == "ok" and r["error"] is None and r["time_s"] >= 0 for r in seen)


def test_workers_share_the_cores(tree: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen = []
    run_batch(plan(tree, tmp_path / "out"), batch_workers.copy_npy, jobs=2, on_result=seen.append)
    assert {r["report"]["threads"] for r in seen} == {str(max(1, default_jobs() // 2))}


@pytest.mark.parametrize("jobs", [1, 2])
def test_bad_files_are_reported_and_the_batch_goes_on(tree: Path, tmp_path: Path, jobs) -> None:
    (tree / "broken.npy").write_text("not an array\n")
    (tree / "empty.npy").write_bytes(b"")
    seen = []
    summary = run_batch(
        plan(tree, tmp_path / "out"), batch_workers.copy_npy, jobs=jobs, on_result=seen.append
    )
    assert (summary.done, summary.failed, summary.exit_code) == (4, 2, ExitCode.PARTIAL)
    failed = {Path(r["path"]).name: r["error"] for r in seen if r["status"] == "failed"}
    assert set(failed) == {"broken.npy", "empty.npy"}
    assert all(error and "\n" not in error for error in failed.values())
    assert {Path(f["path"]).name for f in summary.failures} == set(failed)
    assert not (tmp_path / "out" / "broken.npy").exists()


def test_nothing_done_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for name in ("a.npy", "b.npy"):
        (tmp_path / "in" / name).write_bytes(b"\x93NUMPY garbage")
    summary = run_batch(plan(tmp_path / "in", tmp_path / "out"), batch_workers.copy_npy, jobs=2)
    assert (summary.failed, summary.exit_code) == (2, ExitCode.FAILURE)


def test_fail_fast_stops_at_the_first_failure(tree: Path, tmp_path: Path) -> None:
    (tree / "0-broken.npy").write_text("nope")
    summary = run_batch(plan(tree, tmp_path / "out"), batch_workers.copy_npy, fail_fast=True)
    assert (summary.done, summary.failed, summary.not_run) == (0, 1, 4)
    assert summary.exit_code == ExitCode.FAILURE
    assert not (tmp_path / "out").exists()


def test_fail_fast_in_parallel_starts_nothing_new(tree: Path, tmp_path: Path, monkeypatch) -> None:
    (tree / "0-broken.npy").write_text("nope")
    monkeypatch.setenv("COPY_DELAY_S", "0.3")  # good files are slow: the bad one fails early
    events: list[str] = []
    summary = run_batch(
        plan(tree, tmp_path / "o"),
        batch_workers.copy_npy,
        jobs=2,
        fail_fast=True,
        on_start=lambda task: events.append("start"),
        on_result=lambda result: events.append(result["status"]),
    )
    assert summary.failed == 1 and summary.not_run >= 1
    assert "start" not in events[events.index("failed") :]  # nothing started after it
    assert events.count("ok") == summary.done  # what was running finished
    assert summary.exit_code == (ExitCode.PARTIAL if summary.done else ExitCode.FAILURE)


def test_skip_existing_second_run_does_nothing(tree: Path, tmp_path: Path) -> None:
    tasks = plan(tree, tmp_path / "out")
    assert run_batch(tasks, batch_workers.copy_npy, jobs=2).done == 4
    stamps = {t.output: os.stat(t.output).st_mtime_ns for t in tasks}
    seen = []
    summary = run_batch(
        tasks, batch_workers.copy_npy, jobs=2, skip_existing=True, on_result=seen.append
    )
    assert (summary.done, summary.skipped, summary.exit_code) == (0, 4, ExitCode.OK)
    assert {r["status"] for r in seen} == {"skipped"}
    assert stamps == {t.output: os.stat(t.output).st_mtime_ns for t in tasks}


def test_a_dying_worker_fails_only_its_file(tree: Path, tmp_path: Path) -> None:
    np.save(tree / "bad.npy", np.zeros(3))
    seen = []
    summary = run_batch(
        plan(tree, tmp_path / "out"), batch_workers.die_on_bad, jobs=2, on_result=seen.append
    )
    assert (summary.done, summary.failed) == (4, 1)
    [failure] = [r for r in seen if r["status"] == "failed"]
    assert Path(failure["path"]).name == "bad.npy" and "worker process died" in failure["error"]


def test_in_process_interruption_keeps_finished_outputs(tree: Path, tmp_path: Path) -> None:
    calls = []

    def interrupt_second(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return batch_workers.copy_npy(task)

    seen = []
    summary = run_batch(plan(tree, tmp_path / "out"), interrupt_second, on_result=seen.append)
    assert summary.interrupted and summary.exit_code == ExitCode.INTERRUPTED
    assert (summary.done, summary.not_run, len(seen)) == (1, 3, 1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy"]


def test_memory_stays_flat_over_many_files(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        np.save(folder / f"f{i:03d}.npy", np.full((8, 8), i % 200, np.uint8))
    seen = []
    summary = run_batch(
        plan(folder, tmp_path / "out"),
        batch_workers.allocate,
        jobs=2,
        tasks_per_worker=25,
        on_result=seen.append,
    )
    assert (summary.done, summary.exit_code) == (300, ExitCode.OK)
    # the workers are spawned by this (pytest) process: their peaks start at its own
    assert_memory_flat([r["peak_rss_mb"] for r in seen], window=100, inherited_mb=own_peak_rss_mb())
    assert len({r["report"]["pid"] for r in seen}) >= 300 // 25  # workers were recycled


def test_summary_dict() -> None:
    summary = Summary(total=5, done=2, skipped=1, failed=1, elapsed_s=2.0, macs=7)
    assert summary.to_dict() == {
        "total": 5,
        "done": 2,
        "skipped": 1,
        "failed": 1,
        "not_run": 1,
        "interrupted": False,
        "elapsed_s": 2.0,
        "files_per_s": 1.0,
        "macs": 7,
        "exit_code": 3,
    }


SCRIPT = textwrap.dedent(
    """
    import sys
    import batch_workers
    from sepconv_cli.batch.inputs import expand_inputs
    from sepconv_cli.batch.outputs import plan_outputs
    from sepconv_cli.batch.runner import run_batch
    tasks = plan_outputs(expand_inputs([sys.argv[1]], recursive=False), sys.argv[2])
    summary = run_batch(tasks, batch_workers.slow_copy, jobs=2)
    print(summary.done, summary.not_run, flush=True)
    sys.exit(int(summary.exit_code))
    """
)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("names", "sig", "sleep"),
    [
        (["a", "b", "c", "d", "e", "f"], signal.SIGINT, 2),
        (["a", "b", "c", "d"], signal.SIGTERM, 2),
        # workers that do not react to SIGTERM are killed; their temp files are removed
        (["stubborn1", "stubborn2", "x"], signal.SIGINT, STOP_GRACE_S + 3),
    ],
)
def test_signal_mid_batch_leaves_no_partial_file(tmp_path: Path, names, sig, sleep) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in names:
        (src / f"{name}.bin").write_bytes(os.urandom(1000))
    before = digest(src)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]), SLOW_COPY_S=str(sleep)
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(src), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until workers are writing
        if out.exists() and any(".part" in p.name for p in out.iterdir()):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("no worker started writing")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    done, not_run = map(int, stdout.split())
    assert not_run >= 1
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == done
    for name in written:  # finished outputs are complete, nothing else is there
        assert (out / name).read_bytes() == b"partial" + (src / name).read_bytes()
    assert digest(src) == before
