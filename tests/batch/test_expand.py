"""expand_inputs: files, folders, globs, @lists, stdin, sidecars, hidden files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from sepconv_cli.batch.inputs import InputFile, expand_inputs, split_ext
from sepconv_cli.errors import UsageError


def rels(found: list[InputFile]) -> list[str]:
    return [Path(f.rel).as_posix() for f in found]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_gives_direct_files_without_r_and_all_with_r(tree: Path) -> None:
    assert rels(expand_inputs([str(tree)], recursive=False)) == ["a.npy", "b.npy"]
    found = expand_inputs([str(tree)], recursive=True)
    assert rels(found) == ["a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy"]
    assert {f.root for f in found} == {str(tree)}
    assert all(os.path.exists(f.path) for f in found)


def test_recursive_glob_roots_at_its_fixed_part(tree: Path, monkeypatch) -> None:
    monkeypatch.chdir(tree.parent)
    found = expand_inputs(["scans/**/*.npy"], recursive=False)
    assert rels(found) == ["a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy"]
    assert {f.root for f in found} == {"scans"}
    found = expand_inputs(["scans/sub/*/*.npy"], recursive=False)
    assert [(f.root, Path(f.rel).as_posix()) for f in found] == [("scans/sub", "deeper/d.npy")]


def test_glob_matching_nothing_is_a_usage_error(tree: Path) -> None:
    with pytest.raises(UsageError, match=r"glob .*\*\.tif.* matches no file"):
        expand_inputs([str(tree / "*.tif")], recursive=False)


def test_files_named_directly_mirror_from_their_common_folder(tree: Path) -> None:
    found = expand_inputs([str(tree / "sub/c.npy"), str(tree / "a.npy")], recursive=False)
    assert rels(found) == ["sub/c.npy", "a.npy"]
    single = expand_inputs([str(tree / "sub/deeper/d.npy")], recursive=False)
    assert rels(single) == ["d.npy"]


def test_hidden_file_named_explicitly_is_used(tree: Path) -> None:
    assert rels(expand_inputs([str(tree / ".hidden.npy")], recursive=False)) == [".hidden.npy"]


def test_list_file_relative_to_its_folder_with_comments(tree: Path, tmp_path, monkeypatch) -> None:
    listing = tree / "list.txt"
    listing.write_text("# my files\n\na.npy\n  sub/c.npy  \nsub/deeper\n" + str(tree / "b.npy"))
    monkeypatch.chdir(tmp_path)  # somewhere else: entries are relative to the list's folder
    found = expand_inputs([f"@{listing}"], recursive=False)
    assert [Path(f.path).name for f in found] == ["a.npy", "c.npy", "d.npy", "b.npy"]
    assert all(os.path.isfile(f.path) for f in found)


def test_list_from_stdin_relative_to_cwd(tree: Path, monkeypatch) -> None:
    monkeypatch.chdir(tree)
    found = expand_inputs(["@-"], recursive=False, stdin=io.StringIO("a.npy\nsub/c.npy\n"))
    assert [f.path for f in found] == ["a.npy", os.path.join("sub", "c.npy")]


def test_missing_list_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read list file"):
        expand_inputs([f"@{tmp_path / 'nope.txt'}"], recursive=False)


def test_stdin_only_on_its_own(tree: Path) -> None:
    assert expand_inputs(["-"], recursive=False)[0].is_stdin
    with pytest.raises(UsageError, match="only input"):
        expand_inputs(["-", str(tree / "a.npy")], recursive=False)


def test_same_file_twice_is_one_input(tree: Path) -> None:
    found = expand_inputs(
        [str(tree / "a.npy"), str(tree), str(tree / "x" / ".." / "a.npy")],
        recursive=False,
    )
    assert [Path(f.path).name for f in found] == ["a.npy", "b.npy"]


def test_envi_header_and_binary_are_one_input(tmp_path: Path) -> None:
    cubes = tmp_path / "cubes"
    for name in ("cube.hdr", "cube.img", "raw.hdr", "raw", "scene.dat.hdr", "scene.dat", "t.png"):
        touch(cubes / name)
    found = expand_inputs([str(cubes)], recursive=False)
    pairs = {Path(f.path).name: [Path(s).name for s in f.sidecars] for f in found}
    assert pairs == {
        "cube.hdr": ["cube.img"],
        "raw.hdr": ["raw"],
        "scene.dat.hdr": ["scene.dat"],
        "t.png": [],
    }
    named = expand_inputs([str(cubes / "cube.img"), str(cubes / "cube.hdr")], recursive=False)
    assert [(Path(f.path).name, len(f.sidecars)) for f in named] == [("cube.hdr", 1)]


def test_binary_alone_is_an_input(tmp_path: Path) -> None:
    touch(tmp_path / "cube.hdr")
    touch(tmp_path / "cube.img")
    found = expand_inputs([str(tmp_path / "*.img")], recursive=False)
    assert [Path(f.path).name for f in found] == ["cube.img"]


def test_zarr_store_is_one_input(tmp_path: Path) -> None:
    touch(tmp_path / "data" / "vol.zarr" / ".zarray")
    touch(tmp_path / "data" / "vol.zarr" / "0.0")
    found = expand_inputs([str(tmp_path / "data")], recursive=True)
    assert rels(found) == ["vol.zarr"]


def test_nothing_found_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no input files found"):
        expand_inputs([str(tmp_path / "empty")], recursive=True)
    with pytest.raises(UsageError, match="no input given"):
        expand_inputs([], recursive=False)


def test_missing_file_is_kept_for_the_worker_to_report(tmp_path: Path) -> None:
    found = expand_inputs([str(tmp_path / "missing.png")], recursive=False)
    assert [f.name for f in found] == ["missing.png"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("t1.nii.gz", ("t1", ".nii.gz")),
        ("T1.NII.GZ", ("T1", ".NII.GZ")),
        ("cells.ome.tiff", ("cells", ".ome.tiff")),
        ("a.b.png", ("a.b", ".png")),
        (".nii.gz", (".nii", ".gz")),
        ("noext", ("noext", "")),
    ],
)
def test_split_ext(name: str, expected: tuple[str, str]) -> None:
    assert split_ext(name) == expected


def test_symlink_loops_are_walked_once(tree: Path) -> None:
    (tree / "sub" / "loop").symlink_to(tree, target_is_directory=True)
    found = expand_inputs([str(tree)], recursive=True)
    assert rels(found) == ["a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy"]
