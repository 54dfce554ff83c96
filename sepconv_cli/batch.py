"""Batch processing: expand inputs, plan outputs, run a worker over many files, summarise.

The three steps, each usable on its own::

    inputs = expand_inputs(["scans/**/*.nii.gz", "@more.txt"], recursive=False)
    tasks = plan_outputs(inputs, "smoothed", name_template="{stem}_s6{ext}")
    summary = run_batch(tasks, worker, jobs=4, on_result=print)

Rules (documented in the README):

* An item is ``-`` (stdin, only on its own), ``@list.txt`` (one item per line; blank lines and
  ``#`` comments skipped; relative paths are relative to the list file's folder; ``@-`` reads
  the list from stdin, relative to the working folder), a folder (its files; ``recursive``
  descends into sub-folders), a glob (``*``, ``?``, ``[...]``; ``**`` spans folders) or a file.
* Hidden files and folders are skipped when walking folders and globs (a hidden file named
  explicitly is used). An ENVI or Analyze header ``X.hdr`` and its binary (``X``, ``X.img``,
  ``X.dat``, ... or ``X.img`` for ``X.img.hdr``) are ONE input, read through the header. A
  ``*.zarr`` folder is one input.
* Every input remembers the folder it was found under (the folder given, the fixed part of a
  glob, or for files named directly the deepest folder common to all of them) so outputs mirror
  the relative layout under ``-o``.
* Outputs: with one input ``-o`` is a file (or an existing folder); with several it is a
  folder. ``name_template`` fields: ``stem``, ``ext`` (``.nii.gz`` is one ext), ``name``,
  ``parent`` (the input's folder name) and ``format``. An output equal to an input, or two
  inputs mapping to one output, is refused before any work starts.
* Each file is processed by ``worker(task)`` in a worker process (``jobs > 1``) or in this
  process; a failing file gives a ``failed`` result with a one-line reason and the batch goes
  on. Ctrl-C, SIGTERM or SIGHUP stop the batch: running workers are stopped, no partial or
  temporary output is left, and the summary's exit code is 130.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sepconv_cli.errors import ExitCode, SepconvError, UsageError

if TYPE_CHECKING:  # the pool is imported only when a batch runs in worker processes
    from concurrent.futures import Future, ProcessPoolExecutor

#: File-name suffixes made of several dots that count as one extension.
COMPOUND_SUFFIXES = (".nii.gz", ".hdr.gz", ".img.gz", ".ome.tiff", ".ome.tif", ".ome.zarr")

#: Suffixes of an ENVI/Analyze binary that goes with a ``.hdr`` of the same stem.
HEADER_BINARY_SUFFIXES = (
    "",
    ".img",
    ".dat",
    ".raw",
    ".bin",
    ".bsq",
    ".bil",
    ".bip",
    ".envi",
    ".sli",
)

#: Folders with these suffixes are one image (a Zarr store), not a folder of inputs.
DIRECTORY_IMAGE_SUFFIXES = (".zarr",)

#: Fields a ``--name`` template may use.
NAME_FIELDS = ("stem", "ext", "name", "parent", "format")

#: Tasks one worker process runs before it is replaced by a fresh one (keeps memory flat).
TASKS_PER_WORKER = 32

#: Seconds running workers get to clean up after an interruption before they are killed.
STOP_GRACE_S = 3.0

_GLOB_MAGIC = frozenset("*?[")


@dataclass(frozen=True)
class InputFile:
    """One input of a batch.

    Parameters
    ----------
    path
        The path to read, as given or joined to a list file's folder (``"-"`` for stdin).
    root
        The folder it was found under; outputs mirror ``rel`` under the output folder.
    rel
        Its path relative to ``root`` (``"-"`` for stdin).
    sidecars
        Files read together with ``path`` (the binary of an ENVI or Analyze header).
    expanded
        Found by walking a folder, a glob or a list file (then ``-o`` is always a folder).

    Examples
    --------
    >>> InputFile("scans/sub-01/t1.nii.gz", "scans", "sub-01/t1.nii.gz").name
    't1.nii.gz'
    """

    path: str
    root: str
    rel: str
    sidecars: tuple[str, ...] = ()
    expanded: bool = False

    @property
    def name(self) -> str:
        """The file name (last component of ``rel``)."""
        return os.path.basename(self.rel)

    @property
    def is_stdin(self) -> bool:
        """True for the standard-input pseudo file ``-``."""
        return self.path == "-"


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


# --------------------------------------------------------------------------- inputs


def split_ext(name: str) -> tuple[str, str]:
    """Split a file name into stem and extension; ``.nii.gz``-like suffixes are one extension.

    Examples
    --------
    >>> split_ext("t1.nii.gz"), split_ext("cells.ome.tif"), split_ext("README")
    (('t1', '.nii.gz'), ('cells', '.ome.tif'), ('README', ''))
    """
    lower = name.lower()
    for suffix in COMPOUND_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    stem, ext = os.path.splitext(name)
    return stem, ext


def _has_magic(text: str) -> bool:
    return any(ch in _GLOB_MAGIC for ch in text)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _is_directory_image(path: str) -> bool:
    return path.rstrip("/\\").lower().endswith(DIRECTORY_IMAGE_SUFFIXES)


def _glob_root(pattern: str) -> str:
    """The leading folders of a glob pattern that hold no wildcard."""
    head: list[str] = []
    parts = pattern.replace("\\", "/").split("/")
    for part in parts[:-1]:
        if _has_magic(part):
            break
        head.append(part)
    root = "/".join(head)
    if pattern.startswith("/") and not root:
        return "/"
    return root or "."


def _walk(folder: str, recursive: bool, seen: set[str] | None = None) -> Iterator[str]:
    """Files under ``folder`` (sorted, hidden entries skipped, Zarr stores as files).

    A folder reached twice through symbolic links is walked once.
    """
    seen = set() if seen is None else seen
    key = os.path.realpath(folder)
    if key in seen:
        return
    seen.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        raise UsageError(f"cannot list folder {folder!r}: {exc.strerror or exc}") from exc
    for entry in entries:
        if _hidden(entry.name):
            continue
        if entry.is_dir():
            if _is_directory_image(entry.name):
                yield entry.path
            elif recursive:
                yield from _walk(entry.path, recursive, seen)
        else:
            yield entry.path


def _group_headers(paths: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Pair ``X.hdr`` files with their binaries; return ``(path, sidecars)`` in input order."""
    present = {os.path.normcase(os.path.abspath(p)): p for p in paths}
    binaries: dict[str, list[str]] = {}
    for path in paths:
        if not path.lower().endswith(".hdr"):
            continue
        base = path[: -len(".hdr")]
        sidecars = []
        for suffix in HEADER_BINARY_SUFFIXES:
            for candidate in {base + suffix, base + suffix.upper()}:
                key = os.path.normcase(os.path.abspath(candidate))
                if key in present and present[key] != path:
                    sidecars.append(present[key])
        binaries[path] = sorted(set(sidecars))
    taken = {
        os.path.normcase(os.path.abspath(side)) for sides in binaries.values() for side in sides
    }
    grouped = []
    for path in paths:
        if os.path.normcase(os.path.abspath(path)) in taken:
            continue
        grouped.append((path, tuple(binaries.get(path, ()))))
    return grouped


def _read_list(item: str, stdin: Any) -> tuple[list[str], str]:
    """The items of an ``@list`` and the folder they are relative to."""
    source = item[1:]
    if source == "-":
        lines = stdin.read().splitlines()
        base = "."
    else:
        try:
            with open(source, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read list file {source!r}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"list file {source!r} is not UTF-8 text") from exc
        base = os.path.dirname(source) or "."
    entries = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text != "-" and not os.path.isabs(text) and base != ".":
            text = os.path.normpath(os.path.join(base, text))
        entries.append(text)
    return entries, source


def expand_inputs(items: Sequence[str], *, recursive: bool, stdin: Any = None) -> list[InputFile]:
    """Turn command-line items (files, folders, globs, ``@list``, ``-``) into input files.

    Parameters
    ----------
    items
        What the user typed; see the module docstring for the rules.
    recursive
        Descend into sub-folders of folder items.
    stdin
        The text stream ``@-`` reads a list from (default: ``sys.stdin``).

    Returns
    -------
    list of InputFile
        In the order given (folders and globs sorted), each file once.

    Raises
    ------
    UsageError
        No items, ``-`` together with other inputs, a glob matching nothing, an unreadable
        list file, or nothing to process at all.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("a.png", "b.tif", ".hidden.png"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> [f.rel for f in expand_inputs([folder], recursive=False)]
    ['a.png', 'b.tif']
    """
    if not items:
        raise UsageError("no input given (files, folders, globs, @list.txt or -)")
    stdin = sys.stdin if stdin is None else stdin
    found: list[InputFile] = []
    direct: list[int] = []  # indexes in `found` of files named directly (root set below)
    pending = [(item, None) for item in items]
    while pending:
        item, list_file = pending.pop(0)
        where = f" (in list {list_file!r})" if list_file else ""
        if item == "-":
            found.append(InputFile("-", "", "-"))
        elif item.startswith("@") and len(item) > 1 and list_file is None:
            entries, source = _read_list(item, stdin)
            pending[0:0] = [(entry, source) for entry in entries]
        elif _has_magic(item) and not os.path.exists(item):
            matches = sorted(glob.glob(item, recursive=True))
            files = [m for m in matches if not os.path.isdir(m) or _is_directory_image(m)]
            if not files:
                raise UsageError(f"glob {item!r}{where} matches no file")
            root = _glob_root(item)
            for path, sidecars in _group_headers(files):
                rel = os.path.relpath(path, root)
                found.append(InputFile(path, root, rel, sidecars, expanded=True))
        elif os.path.isdir(item) and not _is_directory_image(item):
            for path, sidecars in _group_headers(list(_walk(item, recursive))):
                rel = os.path.relpath(path, item)
                found.append(InputFile(path, item, rel, sidecars, expanded=True))
        else:
            direct.append(len(found))
            found.append(InputFile(item, "", os.path.basename(item), expanded=bool(list_file)))
    _root_direct_files(found, direct)
    found = _group_direct_headers(found, direct)
    unique = _dedupe(found)
    if not unique:
        raise UsageError(f"no input files found in {', '.join(map(repr, items))}")
    if any(f.is_stdin for f in unique) and len(unique) > 1:
        raise UsageError("'-' (stdin) must be the only input")
    return unique


def _root_direct_files(found: list[InputFile], direct: list[int]) -> None:
    """Give files named directly the deepest folder common to all of them as root."""
    if not direct:
        return
    parents = [os.path.dirname(os.path.abspath(found[i].path)) for i in direct]
    try:
        common = os.path.commonpath(parents)
    except ValueError:  # different drives on Windows: each file on its own
        common = ""
    for i in direct:
        path = found[i].path
        parent = os.path.dirname(os.path.abspath(path))
        root = common or parent
        rel = os.path.relpath(os.path.abspath(path), root)
        found[i] = dataclasses.replace(found[i], root=root, rel=rel)


def _group_direct_headers(found: list[InputFile], direct: list[int]) -> list[InputFile]:
    """Fold a header's binary named alongside it into the header's input."""
    paths = [found[i].path for i in direct]
    grouped = {path: sidecars for path, sidecars in _group_headers(paths)}
    direct_set = set(direct)
    result = []
    for i, item in enumerate(found):
        if i not in direct_set:
            result.append(item)
        elif item.path in grouped:
            result.append(dataclasses.replace(item, sidecars=grouped[item.path]))
    return result


def _identity(path: str) -> str:
    return path if path == "-" else os.path.normcase(os.path.realpath(path))


def _dedupe(found: Iterable[InputFile]) -> list[InputFile]:
    seen: set[str] = set()
    unique = []
    for item in found:
        keys = {_identity(item.path), *(_identity(s) for s in item.sidecars)}
        if keys & seen:
            continue
        seen |= keys
        unique.append(item)
    return unique


# --------------------------------------------------------------------------- outputs


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
        os.path.isdir(output) and not _is_directory_image(output)
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
        From :func:`expand_inputs`.
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
                inputs[_identity(path)] = path
    outputs: dict[str, Task] = {}
    for task in tasks:
        for written in _written_files(task):
            key = _identity(written)
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


# --------------------------------------------------------------------------- running


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


def _result(task: Task, status: str, error: str | None, **extra: Any) -> dict[str, Any]:
    base = {"path": task.input.path, "output": task.output, "status": status, "error": error}
    return {**base, **extra}


def run_task(worker: Callable[[Task], dict[str, Any]], task: Task) -> dict[str, Any]:
    """Run ``worker(task)`` and turn its outcome into a per-file result (never raises).

    Returns ``{"path", "output", "status": "ok"|"failed"|"interrupted", "error", "time_s",
    "peak_rss_mb", "report"}``; ``report`` is what the worker returned.

    Examples
    --------
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
    return _result(
        task,
        status,
        error,
        time_s=round(time.perf_counter() - start, 6),
        peak_rss_mb=_peak_rss_mb(),
        report=report,
    )


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
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        running: dict[Future[dict[str, Any]], tuple[ProcessPoolExecutor, Task]] = {}
        pool: ProcessPoolExecutor | None = None
        submitted = 0
        retired: list[ProcessPoolExecutor] = []
        retried: set[Task] = set()
        solo = False
        context = multiprocessing.get_context("spawn")
        threads = max(1, default_jobs() // jobs)
        try:
            while (queue and not self.stop) or running:
                while queue and not self.stop and len(running) < jobs and not solo:
                    if queue[0] in retried and running:
                        break  # a retried file runs alone, so a crash can be pinned on it
                    if pool is None or submitted >= jobs * tasks_per_worker:
                        if pool is not None:
                            retired.append(pool)
                        pool = ProcessPoolExecutor(
                            jobs, context, initializer=_worker_init, initargs=(threads,)
                        )
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
                        result = _result(
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
        From :func:`plan_outputs`.
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

    Examples
    --------
    >>> tasks = [Task(InputFile(p, "", p), p + ".out") for p in ("a", "b")]
    >>> run_batch(tasks, lambda task: {"macs": 10}).to_dict()["macs"]
    20
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    summary = Summary(total=len(tasks))
    runner = _Runner(worker, summary, fail_fast, on_result, on_start)
    queue: deque[Task] = deque()
    start = time.perf_counter()
    for task in tasks:
        if skip_existing and task.output != "-" and os.path.exists(task.output):
            runner.finished(_result(task, "skipped", None, reason="output exists"))
        else:
            queue.append(task)
    try:
        with stop_signals():
            if jobs == 1 or len(queue) <= 1:
                runner.in_process(queue)
            else:
                runner.in_pool(queue, min(jobs, len(queue)), max(1, tasks_per_worker))
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.elapsed_s = time.perf_counter() - start
    return summary


def check_specs(options: Any) -> None:
    """Check the kernel specs of ``options`` (names, keys) once, before a batch starts, so a
    typo is one usage error (exit 2) rather than one failure per file.

    Examples
    --------
    >>> from sepconv_cli.engine import ApplyOptions
    >>> check_specs(ApplyOptions(kernels=("gausian:sigma=2",)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sepconv_cli.errors.SpecError: unknown kernel 'gausian'; did you mean 'gaussian'? ...
    """
    from sepconv_cli.kernels import KERNELS
    from sepconv_cli.spec import parse

    for text in (*options.kernels, *([options.spectral] if options.spectral else [])):
        spec = parse(text)
        KERNELS.get(spec.name).values(spec.params)


def apply_task(task: Task, options: Any) -> dict[str, Any]:
    """The per-file job of ``sepconv apply``: :func:`sepconv_cli.pipeline.apply_file`.

    Creates the output's folder first (not for a dry run). ``options`` is an
    :class:`~sepconv_cli.engine.ApplyOptions`; the task's output format replaces
    ``options.format`` when set. In a batch use ``functools.partial(apply_task,
    options=options)`` (picklable).

    Examples
    --------
    >>> import functools
    >>> from sepconv_cli.engine import ApplyOptions
    >>> worker = functools.partial(apply_task, options=ApplyOptions(kernels=("box:size=3",)))
    >>> run_task(worker, Task(InputFile("missing.png", ".", "missing.png"), "out.png"))["status"]
    'failed'
    """
    from sepconv_cli.pipeline import apply_file

    if task.format is not None:
        options = dataclasses.replace(options, format=task.format)
    folder = os.path.dirname(task.output)
    if task.output != "-" and folder and not options.dry_run:
        os.makedirs(folder, exist_ok=True)
    return apply_file(task.input.path, task.output, options)


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
