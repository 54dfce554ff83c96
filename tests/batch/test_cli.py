"""`sepconv apply` on many files: mixed formats, bad files, JSON lines, exit codes, signals."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from memory_checks import assert_memory_flat
from scipy import ndimage

from sepconv_cli.cli.app import app

GOOD = ["cube.hdr", "photo.png", "sub/stack.tif", "sub/t1.nii.gz"]
BAD = ["notes.png", "truncated.png", "zero.tif"]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Real files written by real libraries, plus a text file, a truncated and an empty one."""
    import imageio.v3 as iio
    import nibabel as nib
    import spectral.io.envi as envi
    import tifffile
    from skimage import data

    root = tmp_path / "mixed"
    (root / "sub").mkdir(parents=True)
    iio.imwrite(root / "photo.png", data.camera()[::8, ::8])
    stack = (np.arange(4 * 16 * 16).reshape(4, 16, 16) * 10).astype(np.uint16)
    tifffile.imwrite(
        root / "sub" / "stack.tif",
        stack,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"spacing": 1.5, "unit": "um", "axes": "ZYX"},
    )
    volume = np.random.default_rng(0).random((10, 12, 8)).astype(np.float32)
    nib.save(nib.Nifti1Image(volume, np.diag([2.0, 2.0, 3.0, 1.0])), root / "sub" / "t1.nii.gz")
    cube = np.random.default_rng(1).random((12, 10, 5)).astype(np.float32)
    envi.save_image(str(root / "cube.hdr"), cube, ext=".img", force=True)
    (root / "zero.tif").write_bytes(b"")
    (root / "notes.png").write_text("this is not an image\n")
    (root / "truncated.png").write_bytes((root / "photo.png").read_bytes()[:200])
    return root


def only_good(root: Path) -> Path:
    for name in BAD:
        (root / name).unlink()
    return root


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def json_lines(text: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in text.splitlines()]
    assert "summary" in lines[-1] and all("summary" not in line for line in lines[:-1])
    return lines[:-1], lines[-1]["summary"]


def test_mixed_tree_with_bad_files(runner, mixed: Path, tmp_path: Path) -> None:
    before = digest(mixed)
    out = tmp_path / "out"
    args = ["apply", "-r", str(mixed), "-k", "gaussian:sigma=1", "-o", str(out), "--json"]
    result = runner.invoke(app, [*args, "--jobs", "2"])
    assert result.exit_code == 3, result.stderr
    records, summary = json_lines(result.stdout)
    status = {Path(r["path"]).relative_to(mixed).as_posix(): r["status"] for r in records}
    assert status == {**dict.fromkeys(GOOD, "ok"), **dict.fromkeys(BAD, "failed")}
    for record in records:
        assert set(record) >= {"path", "output", "status", "error", "report"}
        if record["status"] == "ok":
            assert record["error"] is None and record["report"]["method"] == "separable"
            assert record["report"]["macs"] > 0
        else:
            assert record["error"] and "\n" not in record["error"]
            assert not Path(record["output"]).exists()
    assert (summary["done"], summary["failed"], summary["skipped"]) == (4, 3, 0)
    assert summary["exit_code"] == 3
    assert summary["macs"] == sum(r["report"]["macs"] for r in records if r["status"] == "ok")
    assert files_under(out) == [
        "cube.hdr",
        "cube.img",
        "photo.png",
        "sub/stack.tif",
        "sub/t1.nii.gz",
    ]
    assert digest(mixed) == before
    for name in BAD:
        assert f"sepconv: error: {mixed / name}" in result.stderr

    from sepconv_cli.io import read

    photo = read(mixed / "photo.png").data.astype(np.float64)
    smoothed = read(out / "photo.png")
    assert smoothed.data.dtype == np.uint8
    reference = ndimage.gaussian_filter(photo, 1.0, mode="reflect")
    assert np.abs(smoothed.data - reference).max() <= 1
    volume = read(mixed / "sub" / "t1.nii.gz").data
    np.testing.assert_allclose(
        read(out / "sub" / "t1.nii.gz").data,
        ndimage.gaussian_filter(volume.astype(np.float64), 1.0),
        atol=1e-5,
    )
    cube = read(mixed / "cube.hdr")
    np.testing.assert_allclose(  # spatial only: bands are not mixed
        read(out / "cube.hdr").data,
        ndimage.gaussian_filter(cube.data.astype(np.float64), (1.0, 1.0, 0.0)),
        atol=1e-5,
    )


def folders_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_failed_file_leaves_no_folder_made_for_it(runner, tmp_path: Path, jobs: str) -> None:
    """Folders sepconv made for a file that then fails are removed; folders of written files,
    a folder shared with a written file and a folder that existed before (empty) stay."""
    import imageio.v3 as iio
    from skimage import data

    src, out = tmp_path / "scans", tmp_path / "out"
    for rel in ("a.png", "sub/b.png", "shared/c.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(src / rel, data.camera()[::16, ::16])
    for rel in ("sub/broken/deeper/notes.png", "shared/notes.png", "old/notes.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("this is not an image\n")
    (out / "old").mkdir(parents=True)  # there before the run, empty
    before = digest(src)
    args = ["apply", "-r", str(src), "-k", "gaussian:sigma=1", "-o", str(out), "--json"]
    result = runner.invoke(app, [*args, "--jobs", jobs])
    assert result.exit_code == 3, result.stderr
    records, summary = json_lines(result.stdout)
    assert (summary["done"], summary["failed"]) == (3, 3)
    assert files_under(out) == ["a.png", "shared/c.png", "sub/b.png"]
    assert folders_under(out) == ["old", "shared", "sub"]
    assert not (out / "sub" / "broken").exists()
    assert digest(src) == before


def test_fail_fast_stops_at_the_first_bad_file(runner, mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["apply", str(mixed), "-k", "gaussian:sigma=1", "-o", str(out), "--json", "--jobs", "1"]
    result = runner.invoke(app, [*args, "--fail-fast"])
    records, summary = json_lines(result.stdout)
    # sorted order: cube.hdr (ok), notes.png (bad) -> stop
    assert [r["status"] for r in records] == ["ok", "failed"]
    assert (summary["done"], summary["failed"], summary["not_run"]) == (1, 1, 3)
    assert result.exit_code == 3
    assert files_under(out) == ["cube.hdr", "cube.img"]


def test_skip_existing_second_run_does_nothing(runner, mixed: Path, tmp_path: Path) -> None:
    only_good(mixed)
    out = tmp_path / "out"
    args = ["apply", "-r", str(mixed), "-k", "box:size=3", "-o", str(out), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    stamps = {p: os.stat(p).st_mtime_ns for p in out.rglob("*")}
    second = runner.invoke(app, [*args, "--skip-existing"])
    assert second.exit_code == 0, second.stderr
    records, summary = json_lines(second.stdout)
    assert {r["status"] for r in records} == {"skipped"} and summary["skipped"] == 4
    assert stamps == {p: os.stat(p).st_mtime_ns for p in out.rglob("*")}


def test_dry_run_plans_every_file_and_writes_nothing(runner, mixed: Path, tmp_path: Path) -> None:
    only_good(mixed)
    out = tmp_path / "out"
    args = ["apply", "-r", str(mixed), "-k", "gaussian:sigma=2", "-o", str(out), "--dry-run"]
    result = runner.invoke(app, [*args, "--json", "--name", "{stem}_s2{ext}"])
    assert result.exit_code == 0, result.stderr
    records, _ = json_lines(result.stdout)
    outputs = sorted(Path(r["output"]).relative_to(out).as_posix() for r in records)
    assert outputs == ["cube_s2.hdr", "photo_s2.png", "sub/stack_s2.tif", "sub/t1_s2.nii.gz"]
    for record in records:
        assert record["report"]["dry_run"] and record["report"]["method"] == "separable"
        assert {"direct", "separable"} <= set(record["report"]["ops"])
    assert not out.exists()
    plain = runner.invoke(app, args)
    assert plain.exit_code == 0 and plain.stdout == ""
    assert "separable" in plain.stderr and str(out / "photo.png") in plain.stderr
    assert "sepconv: 4 planned, 0 skipped, 0 failed of 4 files" in plain.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "-", "--format", "png"], "takes one input"),
        (["-o", "{mixed}"], "would overwrite the input"),
        (["-o", "{out}", "--name", "{{stem}}_{{sigma}}{{ext}}"], "unknown field"),
        (["-o", "{out}", "--jobs", "0"], "--jobs"),
        (["-o", "{out}", "-k", "gaussian:sigam=2"], "sigam"),
    ],
)
def test_usage_errors_before_any_work(runner, mixed, tmp_path, extra, message) -> None:
    out = tmp_path / "out"
    args = [a.format(mixed=mixed, out=out) for a in extra]
    result = runner.invoke(app, ["apply", str(mixed), "-k", "gaussian:sigma=1", *args])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and result.stderr.startswith("sepconv: error:")
    assert not out.exists()


def test_glob_and_list_inputs(runner, mixed: Path, tmp_path: Path) -> None:
    only_good(mixed)
    (mixed / "list.txt").write_text("# inputs\nphoto.png\n\nsub/t1.nii.gz\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["apply", f"@{mixed / 'list.txt'}", str(mixed / "**" / "*.tif"), "-k", "box:size=3",
         "-o", str(out), "--format", "npy", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    assert files_under(out) == ["photo.npy", "sub/stack.npy", "sub/t1.npy"]


def sepconv(*args: str) -> list[str]:
    return [sys.executable, "-m", "sepconv_cli", *args]


def test_shell_pipe(mixed: Path, tmp_path: Path) -> None:
    apply = shlex.join(
        sepconv("apply", "-", "-k", "gaussian:sigma=2", "-o", "-", "--format", "png")
    )
    info = shlex.join(sepconv("info", "-", "--json"))
    command = f"cat {shlex.quote(str(mixed / 'photo.png'))} | {apply} | {info}"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout.splitlines()[-1])
    assert described["format"] == "png" and described["shape"] == [64, 64]
    assert described["dtype"] == "uint8"


@pytest.mark.parametrize("whole_group", [False, True], ids=["process", "terminal"])
def test_sigint_mid_batch(tmp_path: Path, whole_group: bool) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(2)
    for i in range(12):
        np.save(src / f"vol{i:02d}.npy", rng.random((64, 96, 96), dtype=np.float32))
    before = digest(src)
    args = ["apply", str(src), "-k", "box:size=9", "--method", "direct", "-o", str(out)]
    proc = subprocess.Popen(
        sepconv(*args, "--jobs", "2", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.05)  # wait until the first output (or a temp file) appears
    time.sleep(0.3)
    if whole_group:  # Ctrl-C in a terminal: every process of the job gets SIGINT
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    records, summary = json_lines(stdout)
    assert summary["interrupted"] and summary["not_run"] >= 1
    written = files_under(out)
    assert written == sorted(Path(r["output"]).name for r in records if r["status"] == "ok")
    assert all(not name.startswith(".") for name in written)  # no temporary files
    for name in written:
        assert np.load(out / name).shape == (64, 96, 96)
    assert digest(src) == before


def test_500_small_files_memory_stays_flat(tmp_path: Path) -> None:
    import imageio.v3 as iio

    src = tmp_path / "many"
    src.mkdir()
    rng = np.random.default_rng(3)
    for i in range(500):
        iio.imwrite(src / f"img{i:03d}.png", rng.integers(0, 255, (16, 16), dtype=np.uint8))
    out = tmp_path / "out"
    args = ["apply", str(src), "-k", "gaussian:sigma=1", "-o", str(out), "--json", "--jobs", "2"]
    done = subprocess.run(sepconv(*args), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    records, summary = json_lines(done.stdout)
    assert summary["done"] == 500 and len(files_under(out)) == 500
    # spawned by the small CLI process, not by pytest: no large peak to inherit
    assert_memory_flat([r["peak_rss_mb"] for r in records], window=150, inherited_mb=0)


def test_single_file_skip_existing_and_folder_output(runner, mixed: Path, tmp_path: Path) -> None:
    photo = str(mixed / "photo.png")
    target = tmp_path / "smooth.png"
    target.write_bytes(b"keep me")
    args = ["apply", photo, "-k", "box:size=3", "--skip-existing"]
    result = runner.invoke(app, [*args, "-o", str(target)])
    assert result.exit_code == 0 and "skipped" in result.stderr
    assert target.read_bytes() == b"keep me"
    into = runner.invoke(app, ["apply", photo, "-k", "box:size=3", "-o", f"{tmp_path}/new/"])
    assert into.exit_code == 0, into.stderr
    assert (tmp_path / "new" / "photo.png").is_file()
    onto = runner.invoke(app, ["apply", photo, "-k", "box:size=3", "-o", photo])
    assert onto.exit_code == 2 and "would overwrite the input" in onto.stderr


def test_report_file_holds_the_json_lines(runner, mixed: Path, tmp_path: Path) -> None:
    only_good(mixed)
    report = tmp_path / "batch.jsonl"
    args = ["apply", "-r", str(mixed), "-k", "box:size=3", "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--report", str(report), "--quiet"])
    assert result.exit_code == 0, result.stderr
    records, summary = json_lines(report.read_text())
    assert len(records) == 4 and summary["done"] == 4
    assert result.stdout == "" and result.stderr == ""


@pytest.mark.parametrize(
    ("report", "code", "message"),
    [
        ("missing/batch.jsonl", 1, "does not exist"),
        ("out", 2, "is a directory"),
        ("out/photo.png", 2, "is the output of"),
    ],
)
def test_batch_bad_report_path_is_refused_before_any_file_runs(
    runner, mixed: Path, tmp_path: Path, monkeypatch, report: str, code: int, message: str
) -> None:
    only_good(mixed)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    args = ["apply", "-r", str(mixed), "-k", "box:size=3", "-o", "out", "--report", report]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.stderr
    assert f"--report {report}" in result.stderr and message in result.stderr
    assert files_under(tmp_path / "out") == []  # nothing was run


def test_batch_report_dash_is_the_json_lines_on_stdout(
    runner, mixed: Path, tmp_path: Path, monkeypatch
) -> None:
    only_good(mixed)
    monkeypatch.chdir(tmp_path)
    args = ["apply", "-r", str(mixed), "-k", "box:size=3", "-o", "out", "--quiet"]
    result = runner.invoke(app, [*args, "--report", "-"])
    assert result.exit_code == 0, result.stderr
    records, summary = json_lines(result.stdout)
    assert len(records) == 4 and summary["done"] == 4
    assert not (tmp_path / "-").exists()
    both = runner.invoke(app, [*args, "--report", "-", "--json"])
    assert both.exit_code == 2 and "--report -" in both.stderr and both.stdout == ""
