"""Batch outputs: one :class:`Task` per input with its output path, checked before any work.

* With one input ``-o`` is a file (or an existing folder); with several it is a folder.
  ``name_template`` fields: ``stem``, ``ext`` (``.nii.gz`` is one ext), ``name``, ``parent``
  (the input's folder name) and ``format``. An output equal to an input, or two inputs mapping
  to one output, is refused before any work starts.
* After an interruption, :func:`remove_temporaries` deletes what a killed worker's atomic
  writer left next to its output.
* Folders made for the output of a file that then failed are removed again when empty
  (:func:`missing_folders` before the batch, :func:`remove_empty_folders` after it); a folder
  that existed before, or holds anything, is kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sepconv_cli.batch.inputs import InputFile, file_identity, is_directory_image, split_ext
from sepconv_cli.errors import UsageError

#: Fields a ``--name`` template may use.
NAME_FIELDS = ("stem", "ext", "name", "parent", "format")


@dataclass(frozen=True)
class Task:
    """One unit of work: read ``input``, write ``output`` (``"-"`` = stdout) in ``format``.

    Examples
    --------
    >>> Task(InputFile("a.png", ".", "a.png"), "out/a.png").path
    'a.png'
    """

    input: InputFile
    output: str
    format: str | None = None

    @property
    def path(self) -> str:
        """The input path."""
        return self.input.path


def format_suffix(format: str, name: str = "") -> str:
    """The suffix of an output in ``format``: the one of ``name`` when it already is one of
    the format's (``t1.nii.gz`` stays ``.nii.gz``), else the format's usual suffix.

    Examples
    --------
    >>> format_suffix("png"), format_suffix("nifti", "t1.nii.gz"), format_suffix("tiff", "a.png")
    ('.png', '.nii.gz', '.tif')
    """
    from sepconv_cli.io import from_suffix, lookup

    fmt = lookup(format)
    if name and from_suffix(name) is fmt:
        return split_ext(name)[1]
    return fmt.suffixes[0]


def _render_name(template: str, fields: dict[str, str]) -> str:
    try:
        name = template.format_map(fields)
    except KeyError as exc:
        raise UsageError(
            f"--name {template!r}: unknown field {{{exc.args[0]}}} "
            f"(fields: {', '.join('{' + f + '}' for f in NAME_FIELDS)})"
        ) from None
    except (ValueError, IndexError, AttributeError) as exc:
        raise UsageError(f"--name {template!r}: {exc}") from None
    parts = name.replace("\\", "/").split("/")
    if not name or os.path.isabs(name) or ".." in parts or not parts[-1]:
        raise UsageError(
            f"--name {template!r} gives {name!r}: a file name (optionally in sub-folders) is needed"
        )
    return name


def _is_folder_target(output: str) -> bool:
    return output.endswith(("/", os.sep)) or (
        os.path.isdir(output) and not is_directory_image(output)
    )


def is_batch(
    inputs: Sequence[InputFile], output: str | None, name_template: str = "{stem}{ext}"
) -> bool:
    """True when ``-o`` names a folder: several inputs, inputs found in a folder, glob or list,
    a ``name_template``, or an ``output`` that is an existing folder or ends with ``/``.

    Examples
    --------
    >>> one = [InputFile("a.png", ".", "a.png")]
    >>> is_batch(one, "b.png"), is_batch(one, "out/"), is_batch(one * 2, "out")
    (False, True, True)
    """
    return (
        len(inputs) > 1
        or any(item.expanded for item in inputs)
        or name_template != "{stem}{ext}"
        or (output not in (None, "-") and _is_folder_target(output))
    )


def plan_outputs(
    inputs: Sequence[InputFile],
    output: str,
    *,
    name_template: str = "{stem}{ext}",
    format: str | None = None,
) -> list[Task]:
    """Decide the output path of every input; refuse clashes before any work starts.

    Parameters
    ----------
    inputs
        From :func:`~sepconv_cli.batch.inputs.expand_inputs`.
    output
        ``-o``: a folder (created later by the worker) for several inputs, inputs found in a
        folder, glob or list, or a ``name_template``; else a file, unless it is an existing
        folder or ends with ``/``; ``"-"`` is stdout (one input and a ``format`` only).
    name_template
        Output file name in the folder, with fields ``{stem}``, ``{ext}``, ``{name}``,
        ``{parent}`` and ``{format}``; may contain sub-folders.
    format
        Output format name; default: keep each input's format (its extension).

    Raises
    ------
    UsageError
        ``-o -`` with several inputs or without a format, ``-o`` an existing file with several
        inputs, a bad template, an output equal to an input, two inputs with one output.

    Examples
    --------
    >>> files = [InputFile("scans/a.png", "scans", "a.png"),
    ...          InputFile("scans/sub/b.tif", "scans", "sub/b.tif")]
    >>> [t.output for t in plan_outputs(files, "out", name_template="{stem}_s{ext}")]
    ['out/a_s.png', 'out/sub/b_s.tif']
    """
    if output == "-":
        if len(inputs) != 1:
            raise UsageError(f"-o - (stdout) takes one input, got {len(inputs)}")
        if format is None:
            raise UsageError("-o - (stdout) needs --format")
        return [Task(inputs[0], "-", format)]
    if format:
        format_suffix(format)  # an unknown format is refused before anything else
    if not is_batch(inputs, output, name_template):
        tasks = [Task(inputs[0], output, format)]
    else:
        if os.path.exists(output) and not os.path.isdir(output):
            why = f"{len(inputs)} inputs" if len(inputs) > 1 else "a folder, glob, list or --name"
            raise UsageError(f"-o {output!r} is a file; with {why} -o must be a folder")
        tasks = []
        for item in inputs:
            if item.is_stdin and not format:
                raise UsageError("stdin input into an output folder needs --format")
            stem, ext = ("stdin", "") if item.is_stdin else split_ext(item.name)
            suffix = format_suffix(format, item.name) if format else None
            parent = os.path.basename(os.path.dirname(os.path.abspath(item.path)))
            fields = {
                "stem": stem,
                "ext": suffix or ext,
                "name": item.name,
                "parent": "" if item.is_stdin else parent,
                "format": format or ext.lstrip(".").lower(),
            }
            rel_dir = "" if item.is_stdin else os.path.dirname(item.rel)
            name = _render_name(name_template, fields)
            tasks.append(Task(item, os.path.join(output, rel_dir, name), format))
    _check_clashes(tasks)
    return tasks


def _check_clashes(tasks: Sequence[Task]) -> None:
    inputs: dict[str, str] = {}
    for task in tasks:
        for path in (task.input.path, *task.input.sidecars):
            if path != "-":
                inputs[file_identity(path)] = path
    outputs: dict[str, Task] = {}
    for task in tasks:
        for written in _written_files(task):
            key = file_identity(written)
            if key in inputs:
                raise UsageError(f"output {written!r} would overwrite the input {inputs[key]!r}")
            if key in outputs:
                raise UsageError(
                    f"inputs {outputs[key].input.path!r} and {task.input.path!r} would both be "
                    f"written to {written!r} (use --name, e.g. '{{parent}}_{{stem}}{{ext}}')"
                )
            outputs[key] = task


def _written_files(task: Task) -> list[str]:
    """Every file writing ``task.output`` creates (an ENVI header also writes a binary)."""
    if task.output == "-":
        return []
    from sepconv_cli.io import from_suffix, lookup

    fmt = lookup(task.format) if task.format else from_suffix(task.output)
    if fmt is None:
        return [task.output]
    return [str(path) for path in fmt.output_paths(Path(task.output))]


def _temporary_pattern(output: str) -> re.Pattern[str]:
    """Names :func:`sepconv_cli.io.atomic.temporary_name` gives the files of ``output``.

    The writer of one output may write several files (an ENVI binary next to its header), so
    any file of the same stem counts.
    """
    stem = re.escape(split_ext(os.path.basename(output))[0])
    return re.compile(rf"^\.{stem}(\.[^/]*)?\.[0-9a-f]{{8}}\.part(\.[^/]*)?$", re.IGNORECASE)


def remove_temporaries(outputs: Iterable[str]) -> list[str]:
    """Delete temporary files the atomic writer left next to ``outputs`` (after a kill).

    Returns the paths removed; other files are never touched.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sepconv_cli.io.atomic import temporary_name
    >>> folder = Path(tempfile.mkdtemp())
    >>> leftover = temporary_name(folder / "t1.nii.gz")
    >>> _ = leftover.write_bytes(b"half")
    >>> _ = (folder / "t1.nii.gz").write_bytes(b"done")
    >>> [Path(p).name == leftover.name for p in remove_temporaries([str(folder / "t1.nii.gz")])]
    [True]
    >>> sorted(p.name for p in folder.iterdir())
    ['t1.nii.gz']
    """
    removed = []
    for output in outputs:
        if output == "-":
            continue
        folder = os.path.dirname(output) or "."
        pattern = _temporary_pattern(output)
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if pattern.match(name):
                path = os.path.join(folder, name)
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    os.remove(path)
                    removed.append(path)
    return removed


def missing_folders(output: str) -> list[str]:
    """The folders above ``output`` that do not exist yet, innermost first, as absolute paths.

    Noted before a batch runs, they are the only folders it may remove again
    (:func:`remove_empty_folders`) when the file fails.

    Examples
    --------
    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> missing = missing_folders(os.path.join(base, "out", "sub", "t1.nii.gz"))
    >>> [os.path.relpath(folder, base) for folder in missing] == [os.path.join("out", "sub"), "out"]
    True
    >>> missing_folders(os.path.join(base, "t1.nii.gz")), missing_folders("-")
    ([], [])
    """
    if output == "-":
        return []
    missing = []
    folder = os.path.dirname(os.path.abspath(output))
    while not os.path.lexists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def remove_empty_folders(folders: Iterable[str]) -> list[str]:
    """Remove those of ``folders`` that are empty, deepest first, so a folder that only held
    removed empty folders goes too; a folder holding anything else is kept.

    Returns the folders removed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> base = Path(tempfile.mkdtemp())
    >>> (base / "failed" / "deeper").mkdir(parents=True)
    >>> (base / "done").mkdir()
    >>> _ = (base / "done" / "a.png").write_bytes(b"done")
    >>> folders = [str(base / "failed"), str(base / "failed" / "deeper"), str(base / "done")]
    >>> [Path(folder).relative_to(base).as_posix() for folder in remove_empty_folders(folders)]
    ['failed/deeper', 'failed']
    >>> sorted(p.name for p in base.iterdir())
    ['done']
    """
    removed = []
    by_depth = sorted(set(map(os.path.abspath, folders)), key=lambda f: f.count(os.sep))
    for folder in reversed(by_depth):
        try:
            os.rmdir(folder)
        except OSError:  # not empty, gone already, or not ours to remove
            continue
        removed.append(folder)
    return removed
