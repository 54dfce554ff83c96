"""`sepconv bench` and its library side: rows for every method x backend, conclusions, output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sepconv_cli.benchmark import (
    BenchResult,
    BenchRow,
    _conclude,
    default_axes,
    parse_shape,
    parse_sizes,
    run_bench,
    sigma_for_size,
    synthetic_image,
)
from sepconv_cli.cli.app import app
from sepconv_cli.engine.backends import backend_available
from sepconv_cli.errors import UsageError
from sepconv_cli.kernels import build_kernel

BACKENDS = [name for name in ("numpy", "numba") if backend_available(name)]


@pytest.mark.parametrize("size", [3, 5, 7, 15, 31, 63, 129])
def test_sigma_for_size_gives_that_many_taps(size):
    kernel = build_kernel(f"gaussian:sigma={sigma_for_size(size):g}vox", ndim=2)
    assert kernel.shape == (size, size)


def test_parsers_and_defaults():
    assert parse_shape("2048x2048") == (2048, 2048)
    assert parse_shape("8×9×3") == (8, 9, 3)
    assert parse_sizes("15,3,3,7") == (3, 7, 15)
    assert default_axes((5,)) == "x"
    assert default_axes((4, 5, 6, 3)) == "zyxc"
    assert default_axes((4, 5, 6, 7)) == "tzyx"
    for bad in ("", "0x5", "ax3", "1x1x1x1x1x1"):
        with pytest.raises(UsageError, match="--shape"):
            parse_shape(bad)
    for bad in ("", "4", "1", "3,x"):
        with pytest.raises(UsageError, match="--kernels"):
            parse_sizes(bad)


def test_synthetic_image_spans_integer_range_and_is_reproducible():
    a = synthetic_image((64, 64), "uint16")
    b = synthetic_image((64, 64), "uint16")
    assert a.dtype == np.uint16 and np.array_equal(a.data, b.data)
    assert a.data.max() > 60000 and a.data.min() < 5000
    with pytest.raises(UsageError, match="--dtype"):
        synthetic_image((4, 4), "complex64")


def test_run_bench_times_every_method_and_backend():
    result = run_bench(shape=(48, 40), sizes=(3, 9), repeat=2, max_seconds=5.0)
    cases = {(r.size, r.method, r.backend) for r in result.rows}
    for size in (3, 9):
        for method in ("direct", "separable", "lowrank", "fft"):
            for backend in BACKENDS:
                assert (size, method, backend) in cases
        assert (size, "auto", "auto") in cases
    for r in result.rows:
        if r.method == "lowrank":  # a Gaussian is rank 1
            assert r.status == "skipped" and "rank 1" in r.note
        else:
            assert r.status == "ok" and r.min_s <= r.time_s <= r.max_s and r.total_s >= r.time_s
    assert set(result.fastest) == {3, 9} and set(result.auto) == {3, 9}
    for size, best in result.fastest.items():
        timed = [
            r.time_s
            for r in result.rows
            if r.size == size and r.status == "ok" and r.method != "auto"
        ]
        assert best["time_s"] == min(timed)
        auto = result.auto[size]
        assert auto["ratio_to_fastest"] == pytest.approx(auto["time_s"] / best["time_s"])
        assert auto["method"] in ("direct", "separable", "fft")
    assert result.machine["cores"] >= 1
    json.dumps(result.to_dict())


def test_slow_cases_are_skipped_by_prediction():
    result = run_bench(
        shape=(64, 64),
        sizes=(31,),
        methods=("direct",),
        backends=("numpy",),
        repeat=1,
        max_seconds=1e-9,
        include_auto=False,
    )
    (row,) = result.rows
    assert row.status == "skipped" and "--max-seconds" in row.note and row.time_s is None


def test_crossovers_follow_the_fastest_method():
    result = BenchResult((8, 8), "yx", "float32", "synthetic", 1, (3, 7, 15))
    times = {3: (1.0, 2.0, 3.0), 7: (2.0, 1.0, 3.0), 15: (5.0, 2.0, 1.0)}
    for size, per_method in times.items():
        for method, t in zip(("direct", "separable", "fft"), per_method, strict=True):
            result.rows.append(BenchRow(size, 0.0, method, "numpy", time_s=t))
        result.rows.append(BenchRow(size, 0.0, "auto", "auto", time_s=1.5, note="fft/numpy"))
    _conclude(result)
    assert [c["to"] for c in result.crossovers] == ["separable", "fft"]
    assert [c["size"] for c in result.crossovers] == [7, 15]
    assert result.auto[15]["ratio_to_fastest"] == 1.5 and result.auto[3]["method"] == "fft"
    assert result.auto[15]["chose_fastest"] and not result.auto[3]["chose_fastest"]


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError, match="--methods"):
        run_bench(shape=(8, 8), sizes=(3,), methods=("bogus",))
    with pytest.raises(UsageError, match="--repeat"):
        run_bench(shape=(8, 8), sizes=(3,), repeat=0)
    with pytest.raises(UsageError, match="backend"):
        run_bench(shape=(8, 8), sizes=(3,), backends=("nosuch",))


def test_cli_json_on_a_tiny_shape(runner):
    result = runner.invoke(
        app, ["bench", "--shape", "32x24", "--kernels", "3,5", "--repeat", "1", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["shape"] == [32, 24] and doc["sizes"] == [3, 5] and doc["dtype"] == "float32"
    methods = {row["method"] for row in doc["rows"]}
    assert methods == {"direct", "separable", "lowrank", "fft", "auto"}
    assert set(doc["fastest"]) == {"3", "5"}


def test_cli_table_plot_and_file(runner, tmp_path):
    pytest.importorskip("matplotlib")
    image = tmp_path / "in.npy"
    np.save(image, np.random.default_rng(0).random((20, 30)).astype(np.float32))
    plot = tmp_path / "bench.png"
    result = runner.invoke(
        app,
        [
            "bench",
            str(image),
            "--kernels",
            "3,7",
            "-r",
            "1",
            "--backends",
            "numpy",
            "--methods",
            "separable,fft",
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "separable" in result.stderr and "fft" in result.stderr and "auto" in result.stderr
    assert str(image) in result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stdout == ""


def test_cli_errors_exit_2_in_a_subprocess():
    done = subprocess.run(
        [sys.executable, "-m", "sepconv_cli", "bench", "--kernels", "4,6"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sepconv: error: --kernels") and "Traceback" not in done.stderr
