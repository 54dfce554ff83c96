"""dask.distributed: an existing cluster (--scheduler), our own LocalCluster (--workers),
and a worker process killed in the middle of a run."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import scipy.ndimage as ndi

from sepconv_cli.engine import ApplyOptions, apply
from sepconv_cli.engine.dask_backend import dask_runner, run_to_target
from sepconv_cli.engine.dask_store import ChunkTarget
from sepconv_cli.errors import UsageError
from sepconv_cli.image import Image

distributed = pytest.importorskip("distributed")


@pytest.fixture
def deadline():
    """Fail instead of hanging if a cluster misbehaves (2 minutes)."""

    def expire(signum, frame):
        raise TimeoutError("the cluster test took more than 120 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_existing_cluster_with_two_worker_processes(tmp_path, rng, deadline, monkeypatch):
    """--scheduler ADDRESS: a lazily read TIFF stack is filtered on a two-process cluster
    started here (workers open the file themselves) into an OME-Zarr store; paths relative
    to our working directory, which is not the workers', work too."""
    from sepconv_cli import io
    from sepconv_cli.pipeline import apply_file

    x = rng.integers(0, 60000, (12, 48, 40), dtype=np.uint16)
    source = tmp_path / "stack.tif"
    io.write(Image(x, "zyx", spacing=(2.0, 0.5, 0.5), units=("um",) * 3), source)
    options = ApplyOptions(kernels=("gaussian:sigma=1um",), mode="mirror")
    expected, _ = apply(io.read(source), None, options)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        lazy = ApplyOptions(
            kernels=options.kernels,
            mode="mirror",
            backend="dask",
            chunks="6x16x40",
            scheduler=cluster.scheduler_address,
        )
        monkeypatch.chdir(tmp_path)  # the workers were started in another directory
        doc = apply_file("stack.tif", "out.ome.zarr", lazy)
        # ... and the OME-Zarr store is itself a lazy input the workers read directly.
        again = apply_file("out.ome.zarr", "twice.npy", lazy)
    assert again["dask"]["scheduler"] == "distributed"
    twice, _ = apply(io.read(tmp_path / "out.ome.zarr"), None, options)
    assert np.abs(np.load(tmp_path / "twice.npy").astype(np.int64) - twice.data).max() <= 1
    stats = doc["dask"]
    assert stats["scheduler"] == "distributed" and stats["workers"] == 2
    assert stats["n_chunks"] == 2 * 3
    assert sum(w["chunks"] for w in stats["per_worker"]) == 6
    assert all(w["worker"].startswith("tcp://") for w in stats["per_worker"])
    out = io.read(tmp_path / "out.ome.zarr")
    assert out.axes == "zyx" and out.spacing == (2.0, 0.5, 0.5) and out.units == ("um",) * 3
    # uint16 output: float32 results within 1e-6 x max|x| may round to neighbouring integers.
    diff = np.abs(np.asarray(out.data).astype(np.int64) - expected.data.astype(np.int64))
    assert out.dtype == np.uint16 and diff.max() <= 1 and np.mean(diff) < 0.01


def test_worker_killed_mid_run_does_not_lose_the_job(tmp_path, rng, deadline):
    """--workers 2: one worker process is SIGKILLed after the first chunks; Dask reruns its
    tasks elsewhere (the nanny restarts it) and the output is still exact."""
    x = rng.random((60, 30)).astype(np.float32)

    def slow_smooth(block):  # a local function: cloudpickle ships it by value
        time.sleep(0.1)
        return ndi.gaussian_filter(block, 1.5, mode="wrap")

    target = ChunkTarget(tmp_path / "out.npy", "npy", x.shape, np.float32, (3, 30))
    killed = []
    with dask_runner(workers=2, memory_limit=2 * 2**30) as runner:
        pids = runner.client.run(os.getpid)

        def kill_one(done, total):
            if done == 2 and not killed:
                address, pid = sorted(pids.items())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append((address, done, total))

        stats = run_to_target(
            x,
            slow_smooth,
            (6, 6),
            "wrap",
            0.0,
            target,
            chunks=(3, 30),
            runner=runner,
            progress=kill_one,
        )
    assert killed and killed[0][1] < killed[0][2]
    # Results held by the killed worker were lost and recomputed on the live ones.
    assert killed[0][0] not in {w["worker"] for w in stats["per_worker"]}
    assert stats["n_chunks"] == 20 and stats["scheduler"] == "local-cluster"
    reference = ndi.gaussian_filter(x.astype(np.float64), 1.5, mode="wrap")
    assert np.abs(np.load(tmp_path / "out.npy") - reference).max() <= 1e-6


def test_scheduler_and_workers_are_exclusive():
    with pytest.raises(UsageError, match="not both"), dask_runner("tcp://x:1", 2):
        pass
    with pytest.raises(UsageError, match="--workers must be >= 1"), dask_runner(None, 0):
        pass


def test_workers_without_this_sepconv_are_refused():
    """A cluster whose workers cannot import sepconv_cli (or run another version) is refused
    with one message before any task is sent; the probe runs on each worker."""
    from importlib.metadata import version

    from sepconv_cli.engine.dask_backend import _check_workers
    from sepconv_cli.errors import SepconvError

    class FakeClient:
        def __init__(self, answers):
            self.answers = answers

        def run(self, probe):
            # The probe itself answers for this process (sepconv_cli importable).
            assert probe() == version("sepconv-cli")
            return self.answers

    ours = version("sepconv-cli")
    _check_workers(FakeClient({"tcp://a:1": ours, "tcp://b:1": ours}), "tcp://s:1")
    missing = "cannot import sepconv_cli (ModuleNotFoundError: no module named 'sepconv_cli')"
    with pytest.raises(SepconvError, match=r"worker tcp://b:1 cannot import sepconv_cli.*1 of 2"):
        _check_workers(FakeClient({"tcp://a:1": ours, "tcp://b:1": missing}), "tcp://s:1")
    with pytest.raises(SepconvError, match=r"worker tcp://a:1 runs sepconv-cli 0\.0\.1"):
        _check_workers(FakeClient({"tcp://a:1": "0.0.1"}), "tcp://s:1")
