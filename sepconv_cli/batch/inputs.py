"""Batch inputs: expand files, folders, globs, ``@lists`` and stdin into :class:`InputFile`.

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
* A file reached twice (named twice, through a link, or as a header's binary) is one input.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sepconv_cli.errors import UsageError

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


def is_directory_image(path: str) -> bool:
    """True for a folder name that is one image (a Zarr store), not a folder of inputs.

    Examples
    --------
    >>> is_directory_image("cells.ome.zarr/"), is_directory_image("scans")
    (True, False)
    """
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
            if is_directory_image(entry.name):
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
            files = [m for m in matches if not os.path.isdir(m) or is_directory_image(m)]
            if not files:
                raise UsageError(f"glob {item!r}{where} matches no file")
            root = _glob_root(item)
            for path, sidecars in _group_headers(files):
                rel = os.path.relpath(path, root)
                found.append(InputFile(path, root, rel, sidecars, expanded=True))
        elif os.path.isdir(item) and not is_directory_image(item):
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


def file_identity(path: str) -> str:
    """A key that two paths naming one file share (links resolved, case folded where the
    file system ignores case); ``-`` (stdin) stays itself.

    Examples
    --------
    >>> file_identity("a/../b.png") == file_identity("b.png"), file_identity("-")
    (True, '-')
    """
    return path if path == "-" else os.path.normcase(os.path.realpath(path))


def _dedupe(found: Iterable[InputFile]) -> list[InputFile]:
    seen: set[str] = set()
    unique = []
    for item in found:
        keys = {file_identity(item.path), *(file_identity(s) for s in item.sidecars)}
        if keys & seen:
            continue
        seen |= keys
        unique.append(item)
    return unique
