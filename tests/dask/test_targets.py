"""Chunked outputs (npy, TIFF, Zarr, OME-Zarr), sources, progress and interrupted writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import zarr

from sepconv_cli import io
from sepconv_cli.engine.dask_backend import dask_runner, run_to_target
from sepconv_cli.engine.dask_sources import MemmapSource
from sepconv_cli.engine.dask_store import ChunkTarget
from sepconv_cli.errors import FormatError


def _smooth(block):
    return ndi.gaussian_filter(block, 1.0, mode="nearest")


@pytest.mark.parametrize("name", ["out.npy", "out.tif", "out.zarr", "out.ome.zarr"])
def test_each_chunked_format_round_trips(tmp_path, rng, name):
    x = rng.random((12, 20, 16)).astype(np.float32)
    path = tmp_path / name
    fmt = "zarr" if name.endswith(".zarr") else name.rsplit(".", 1)[1].replace("tif", "tiff")
    target = ChunkTarget(
        path,
        fmt,
        x.shape,
        np.float32,
        (5, 8, 16),
        axes="zyx",
        spacing=(3.0, 0.5, 0.5),
        units=("um",) * 3,
        ome=name.endswith(".ome.zarr"),
    )
    with dask_runner() as runner:
        stats = run_to_target(
            x, _smooth, (4, 4, 4), "nearest", 0, target, chunks=(5, 8, 16), runner=runner
        )
    assert stats["n_chunks"] == 3 * 3 * 1
    image = io.read(path)
    assert image.axes == "zyx"
    if fmt != "npy":
        assert image.spacing == (3.0, 0.5, 0.5) and image.units == ("um",) * 3
    got = np.asarray(image.data)
    assert np.abs(got - _smooth(x.astype(np.float64))).max() <= 1e-6
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_ome_zarr_output_of_channel_last_image_is_transposed(tmp_path, rng):
    x = rng.random((10, 12, 3)).astype(np.float32)
    target = ChunkTarget(
        tmp_path / "c.ome.zarr", "zarr", x.shape, np.float32, (4, 12, 1), axes="yxc", ome=True
    )
    with dask_runner() as runner:
        run_to_target(
            x, lambda b: b * 2, (0, 0, 0), "reflect", 0, target, chunks=(4, 12, 1), runner=runner
        )
    arr = zarr.open_array(str(tmp_path / "c.ome.zarr" / "0"), mode="r")
    assert arr.shape == (3, 10, 12) and arr.chunks == (1, 4, 12)
    np.testing.assert_array_equal(arr[...], np.moveaxis(x * 2, 2, 0))


@pytest.mark.parametrize(
    ("shape", "axes", "dtype", "spacing"),
    [
        ((30, 41, 3), "yxc", np.uint8, ()),  # RGB, no spacing: a plain RGB TIFF
        ((2, 6, 20, 24), "tzyx", np.float32, (1.5, 2.0, 0.5, 0.5)),  # ImageJ hyperstack
        ((20, 24, 7), "yxb", np.int16, (None, None, 10.0)),  # int16 cube: OME-TIFF
    ],
)
def test_chunked_tiff_is_laid_out_as_the_tiff_writer_does(
    tmp_path, rng, shape, axes, dtype, spacing
):
    """A TIFF written chunk by chunk has the axes, photometric, flavour and spacing of the
    same image written whole by sepconv's TIFF writer (one layout function for both)."""
    import tifffile

    from sepconv_cli.image import Image

    x = rng.integers(0, 100, shape).astype(dtype)
    units = tuple({"t": "s", "b": "nm"}.get(a, "um") if spacing else None for a in axes)
    image = Image(x, axes, spacing=spacing, units=units if spacing else ())
    io.write(image, tmp_path / "whole.tif")
    target = ChunkTarget(
        tmp_path / "chunked.tif",
        "tiff",
        x.shape,
        x.dtype,
        x.shape,
        axes=image.axes,
        spacing=image.spacing,
        units=image.units,
    )
    with dask_runner() as runner:
        run_to_target(
            x, lambda b: b, (0,) * x.ndim, "reflect", 0, target, chunks=(5,) * x.ndim, runner=runner
        )
    whole, chunked = io.read(tmp_path / "whole.tif"), io.read(tmp_path / "chunked.tif")
    assert chunked.axes == whole.axes and sorted(chunked.axes) == sorted(axes)
    assert chunked.spacing == whole.spacing and chunked.units == whole.units
    np.testing.assert_array_equal(np.asarray(chunked.data), np.asarray(whole.data))
    with tifffile.TiffFile(tmp_path / "whole.tif") as a, tifffile.TiffFile(target.path) as b:
        assert a.series[0].axes == b.series[0].axes
        assert a.pages[0].photometric == b.pages[0].photometric
        assert (a.is_imagej, a.is_ome) == (b.is_imagej, b.is_ome)


def test_sources_memmap_zarr_and_dask(tmp_path, rng):
    """Whole-file memory maps are re-mapped per read; Zarr and Dask inputs are read in regions."""
    x = rng.random((30, 25)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert MemmapSource.from_memmap(mm) is not None
    assert MemmapSource.from_memmap(np.ones(3)) is None  # not file-backed: used as it is
    store = zarr.create_array(
        store=str(tmp_path / "x.zarr"), shape=x.shape, dtype="f4", chunks=(7, 7), zarr_format=2
    )
    store[...] = x
    np.save(tmp_path / "f.npy", np.asfortranarray(x))  # NIfTI-like Fortran order
    fortran = np.load(tmp_path / "f.npy", mmap_mode="r")
    assert MemmapSource.from_memmap(fortran).strides == (4, 120)
    bil = np.load(tmp_path / "x.npy", mmap_mode="r")[::-1].T  # an ENVI-like strided view
    np.testing.assert_array_equal(MemmapSource.from_memmap(bil)[3:9, ::4], x[::-1].T[3:9, ::4])
    reference = _smooth(x.astype(np.float64))
    for source in (mm, fortran, store, da.from_array(x, chunks=(4, 25))):
        out = tmp_path / "y.npy"
        target = ChunkTarget(out, "npy", x.shape, np.float32, (9, 9))
        with dask_runner() as runner:
            run_to_target(
                source, _smooth, (4, 4), "nearest", 0, target, chunks=(9, 9), runner=runner
            )
        assert np.abs(np.load(out) - reference).max() <= 1e-6


def test_tiff_source_sees_a_new_file_at_the_same_path(tmp_path):
    """The per-process open TIFF store is reopened when the file is replaced (atomic writes
    give a new file): a second run in one process reads the new pixels, not the old."""
    from sepconv_cli.engine import ApplyOptions
    from sepconv_cli.image import Image
    from sepconv_cli.pipeline import apply_file

    options = ApplyOptions(kernels=("box:size=3",), backend="dask")
    for value in (0, 100):
        io.write(Image(np.full((4, 16, 16), value, np.uint16), "zyx"), tmp_path / "in.tif")
        apply_file(tmp_path / "in.tif", tmp_path / f"out{value}.npy", options)
        np.testing.assert_array_equal(np.load(tmp_path / f"out{value}.npy"), value)


def test_progress_counts_every_chunk(tmp_path, rng):
    x = rng.random((40, 10)).astype(np.float32)
    seen = []
    target = ChunkTarget(tmp_path / "p.npy", "npy", x.shape, np.float32, (4, 10))
    with dask_runner() as runner:
        run_to_target(
            x,
            _smooth,
            (4, 4),
            "nearest",
            0,
            target,
            chunks=(4, 10),
            runner=runner,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert seen == [(i, 10) for i in range(1, 11)]


@pytest.mark.parametrize("name", ["out.npy", "out.tif", "out.zarr"])
def test_failure_mid_run_leaves_no_output_and_keeps_the_old_one(tmp_path, rng, name):
    x = rng.random((40, 16)).astype(np.float32)
    path = tmp_path / name
    fmt = {"npy": "npy", "tif": "tiff", "zarr": "zarr"}[name.rsplit(".", 1)[1]]
    calls = []

    def flaky(block):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("worker ran out of luck")
        return block

    for attempt in range(2):
        target = ChunkTarget(path, fmt, x.shape, np.float32, (4, 16), axes="yx")
        with pytest.raises(RuntimeError, match="out of luck"), dask_runner() as runner:
            run_to_target(x, flaky, (0, 0), "wrap", 0, target, chunks=(4, 16), runner=runner)
        assert list(tmp_path.iterdir()) == ([] if attempt == 0 else [path])
        if attempt == 0:
            io.write(io.Image(np.zeros((2, 2), np.float32), "yx"), path)
            before = np.asarray(io.read(path).data).copy()
        calls.clear()
    np.testing.assert_array_equal(np.asarray(io.read(path).data), before)


def test_refuses_to_replace_a_plain_directory(tmp_path):
    (tmp_path / "out.zarr").mkdir()
    with pytest.raises(FormatError, match="not a Zarr store"):
        ChunkTarget(tmp_path / "out.zarr", "zarr", (2,), np.uint8, (2,)).create()


def test_killed_process_leaves_nothing_that_looks_complete(tmp_path):
    """SIGKILL in the middle of a run: no file under the output name, only a hidden temporary."""
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        import numpy as np
        from pathlib import Path
        from sepconv_cli.engine.dask_backend import dask_runner, run_to_target
        from sepconv_cli.engine.dask_store import ChunkTarget

        def slow(block):
            time.sleep(0.05)
            return block

        x = np.ones((400, 8), np.float32)
        target = ChunkTarget(Path({str(tmp_path / "out.npy")!r}), "npy", x.shape, np.float32,
                             (2, 8))
        with dask_runner() as runner:
            run_to_target(x, slow, (0, 0), "reflect", 0, target, chunks=(2, 8), runner=runner,
                          progress=lambda done, total: print(done, flush=True))
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):  # a few chunks are written
            assert proc.stdout.readline()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    names = [p.name for p in tmp_path.iterdir() if p.name != "run.py"]
    assert "out.npy" not in names
    assert len(names) == 1 and names[0].startswith(".out.npy.sepconv-tmp-")
