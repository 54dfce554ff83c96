"""plan_outputs: mirrored layout, name templates, formats, stdout, clashes refused up front."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepconv_cli.batch.inputs import InputFile, expand_inputs
from sepconv_cli.batch.outputs import Task, plan_outputs
from sepconv_cli.errors import UsageError


def outputs(tasks: list[Task], base: Path) -> list[str]:
    return [Path(os.path.relpath(t.output, base)).as_posix() for t in tasks]


def test_outputs_mirror_the_tree(tree: Path, tmp_path: Path) -> None:
    found = expand_inputs([str(tree)], recursive=True)
    tasks = plan_outputs(found, str(tmp_path / "out"))
    assert outputs(tasks, tmp_path / "out") == ["a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy"]
    assert [t.input for t in tasks] == found
    assert not (tmp_path / "out").exists()  # planning writes nothing


def test_name_template_fields(tmp_path: Path) -> None:
    files = [
        InputFile("scans/sub-01/anat/t1.nii.gz", "scans", "sub-01/anat/t1.nii.gz"),
        InputFile("scans/b.tif", "scans", "b.tif"),
    ]
    tasks = plan_outputs(files, str(tmp_path), name_template="{parent}_{stem}_s6{ext}")
    assert outputs(tasks, tmp_path) == ["sub-01/anat/anat_t1_s6.nii.gz", "scans_b_s6.tif"]
    tasks = plan_outputs(files, str(tmp_path), name_template="{format}/{name}")
    assert outputs(tasks, tmp_path) == ["sub-01/anat/nii.gz/t1.nii.gz", "tif/b.tif"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{stem}_{sigma}{ext}", r"unknown field \{sigma\}.*\{stem\}"),
        ("{stem", "--name"),
        ("../{name}", "a file name"),
        ("/abs/{name}", "a file name"),
        ("{stem}/", "a file name"),
    ],
)
def test_bad_templates(template: str, message: str, tmp_path: Path) -> None:
    files = [InputFile("a.png", ".", "a.png"), InputFile("b.png", ".", "b.png")]
    with pytest.raises(UsageError, match=message):
        plan_outputs(files, str(tmp_path), name_template=template)


def test_format_changes_the_extension(tmp_path: Path) -> None:
    files = [InputFile("a.png", ".", "a.png"), InputFile("t1.nii.gz", ".", "t1.nii.gz")]
    tasks = plan_outputs(files, str(tmp_path), format="tiff")
    assert outputs(tasks, tmp_path) == ["a.tif", "t1.tif"]
    assert {t.format for t in tasks} == {"tiff"}
    tasks = plan_outputs(files, str(tmp_path), format="nifti")  # .nii.gz stays .nii.gz
    assert outputs(tasks, tmp_path) == ["a.nii", "t1.nii.gz"]
    with pytest.raises(UsageError, match="--format"):
        plan_outputs(files, str(tmp_path), format="gif-anim")


def test_single_input_to_a_file_or_a_folder(tmp_path: Path) -> None:
    one = [InputFile("in/a.png", "in", "a.png")]
    assert plan_outputs(one, str(tmp_path / "x.tif"))[0].output == str(tmp_path / "x.tif")
    assert plan_outputs(one, str(tmp_path))[0].output == str(tmp_path / "a.png")
    assert plan_outputs(one, "new/")[0].output == os.path.join("new/", "a.png")
    named = plan_outputs(one, str(tmp_path / "new"), name_template="{stem}_s{ext}")
    assert named[0].output == str(tmp_path / "new" / "a_s.png")


def test_one_file_found_in_a_folder_still_goes_into_a_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    found = expand_inputs([str(tmp_path / "in")], recursive=False)
    assert plan_outputs(found, str(tmp_path / "out"))[0].output == str(tmp_path / "out" / "a.png")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(UsageError, match="with a folder, glob, list or --name -o must be a folder"):
        plan_outputs(found, str(tmp_path / "file"))


def test_stdout_takes_one_input_and_a_format() -> None:
    one = [InputFile("-", "", "-")]
    assert plan_outputs(one, "-", format="png") == [Task(one[0], "-", "png")]
    with pytest.raises(UsageError, match="needs --format"):
        plan_outputs(one, "-")
    two = [InputFile("a.png", ".", "a.png"), InputFile("b.png", ".", "b.png")]
    with pytest.raises(UsageError, match="takes one input, got 2"):
        plan_outputs(two, "-", format="png")


def test_several_inputs_need_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "file.png"
    target.write_bytes(b"")
    two = [InputFile("a.png", ".", "a.png"), InputFile("b.png", ".", "b.png")]
    with pytest.raises(UsageError, match="is a file; with 2 inputs -o must be a folder"):
        plan_outputs(two, str(target))


def test_output_onto_an_input_is_refused(tree: Path) -> None:
    found = expand_inputs([str(tree)], recursive=False)
    with pytest.raises(UsageError, match=r"would overwrite the input .*a\.npy"):
        plan_outputs(found, str(tree))
    single = expand_inputs([str(tree / "a.npy")], recursive=False)
    with pytest.raises(UsageError, match="would overwrite the input"):
        plan_outputs(single, str(tree / "sub" / ".." / "a.npy"))
    # a different name in the same folder is fine
    assert plan_outputs(found, str(tree), name_template="{stem}_s{ext}")


def test_envi_binary_is_protected_too(tmp_path: Path) -> None:
    for name in ("cube.hdr", "cube.img"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_inputs([str(tmp_path)], recursive=False)
    with pytest.raises(UsageError, match=r"overwrite the input .*cube\.img"):
        plan_outputs(found, str(tmp_path), name_template="{stem}.img")


def test_envi_output_binary_may_not_overwrite_an_input(tmp_path: Path) -> None:
    (tmp_path / "cube.img").write_bytes(b"x")  # a raw binary read as its own input
    found = [InputFile(str(tmp_path / "cube.img"), str(tmp_path), "cube.img")]
    with pytest.raises(UsageError, match=r"output .*cube\.img.* would overwrite the input"):
        plan_outputs(found, str(tmp_path / "cube.hdr"), format="envi")


def test_two_inputs_one_output_is_refused(tmp_path: Path) -> None:
    files = [InputFile("x/a.png", "x", "a.png"), InputFile("y/a.png", "y", "a.png")]
    with pytest.raises(UsageError, match=r"'x/a.png' and 'y/a.png' would both be written"):
        plan_outputs(files, str(tmp_path))
    files = [InputFile("a.png", ".", "a.png"), InputFile("a.tif", ".", "a.tif")]
    with pytest.raises(UsageError, match="would both be written"):
        plan_outputs(files, str(tmp_path), format="npy")


@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "sub", "c.d"]), min_size=1, max_size=3),
        min_size=1,
        max_size=8,
        unique_by=tuple,
    ),
    st.sampled_from(["{stem}{ext}", "{stem}_s{ext}", "{parent}/{name}"]),
)
def test_plans_stay_inside_the_folder_and_never_collide(parts, template) -> None:
    files = [InputFile("/in/" + "/".join(p) + ".png", "/in", "/".join(p) + ".png") for p in parts]
    try:
        tasks = plan_outputs(files, "/out", name_template=template)
    except UsageError as exc:  # only a real clash may be refused; plain names never clash
        assert "would both be written" in str(exc)
        assert template != "{stem}{ext}"
        return
    outs = [t.output for t in tasks]
    assert len(set(outs)) == len(outs)
    assert all(os.path.commonpath(["/out", o]) == "/out" for o in outs)
