"""The format registry: one :class:`FileFormat` per file format, sniffed by content first.

A format is one module under ``sepconv_cli.io`` that builds a :class:`FileFormat` and calls
:func:`register_format` at import time; ``sepconv_cli.io.FORMAT_MODULES`` lists the modules
that are imported. Nothing here imports NumPy, so the CLI can list formats in ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sepconv_cli.errors import FormatError, UsageError
from sepconv_cli.registry import Registry

if TYPE_CHECKING:
    from sepconv_cli.image import Image

#: How many leading bytes a sniffer gets to look at.
SNIFF_BYTES = 1024


def _single_output(path: Path) -> tuple[Path, ...]:
    return (path,)


@dataclass(frozen=True)
class DtypeRule:
    """The data types a format can hold: the one rule ``io.write`` and the up-front checks apply.

    Parameters
    ----------
    label
        The format as the message names it (``"PNG"``).
    dtypes
        The dtype names it holds.
    hint
        What to do instead, appended to the message (``"cast with --dtype uint8"``).

    Examples
    --------
    >>> rule = DtypeRule("JPEG", ("uint8",), "cast with --dtype uint8")
    >>> rule.refusal("uint8") is None
    True
    >>> rule.refusal("float32")
    'JPEG cannot hold float32 data (it holds uint8); cast with --dtype uint8'
    """

    label: str
    dtypes: tuple[str, ...]
    hint: str = ""

    def refusal(self, dtype: Any) -> str | None:
        """Why ``dtype`` (a NumPy dtype or its name) cannot be written, or None when it can."""
        import numpy as np

        name = np.dtype(dtype).name
        if name in self.dtypes:
            return None
        return f"{self.label} cannot hold {name} data (it holds {', '.join(self.dtypes)})" + (
            f"; {self.hint}" if self.hint else ""
        )


@dataclass(frozen=True)
class FileFormat:
    """One file format: its names, how to recognise it, and how to read and write it.

    Parameters
    ----------
    name
        Canonical name used by ``--format`` (``"tiff"``).
    description
        One line for ``--help`` and the README.
    suffixes
        Lower-case file suffixes, most common first (``(".tif", ".tiff")``); compound suffixes
        such as ``".nii.gz"`` are allowed.
    sniff
        ``sniff(head, path)`` -> True when the first :data:`SNIFF_BYTES` bytes ``head`` of the file
        at ``path`` are this format.
    read
        ``read(path, lazy=...)`` -> :class:`~sepconv_cli.image.Image`; it may raise anything on bad
        content (the caller turns it into a :class:`~sepconv_cli.errors.FormatError`).
    write
        ``write(image, paths, **options)`` writes ``image`` to the (temporary) ``paths`` that
        ``output_paths`` returned for the target, or None for read-only formats.
    write_options
        ``write_options(name)`` -> the keyword ``options`` for ``write`` when ``--format`` asked
        for this format by ``name`` (an alias can name a flavour: ``ngff`` is OME-Zarr); not
        called when the format comes from the suffix.
    output_paths
        The files a write to ``path`` creates (ENVI writes a header and a binary).
    supports_lazy
        ``read(..., lazy=True)`` returns a memory map or a Dask array instead of loading.
    streamable
        The format is one self-contained file, so it can come from stdin or go to stdout.
    directory
        The "file" is a directory (a Zarr store): its sniffer gets ``head=b""`` and the path of
        the directory, and its ``write`` gets the final path and must be atomic itself (write a
        temporary sibling, then rename).
    holds
        The data types it can hold when only some (PNG, JPEG, NIfTI), else None (the writer
        takes every dtype the engine produces).
    markers
        For a directory format: the files, one of which marks a directory as this format
        (named in the error for a directory that has none; see :func:`not_a_store`).
    aliases
        Other names accepted by ``--format``.

    Examples
    --------
    >>> from sepconv_cli.io import FORMATS
    >>> FORMATS.get("tif").name, FORMATS.get("nifti").can_write
    ('tiff', True)
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, Path], bool]
    read: Callable[..., Image]
    write: Callable[..., None] | None = None
    write_options: Callable[[str], dict[str, Any]] | None = None
    output_paths: Callable[[Path], tuple[Path, ...]] = _single_output
    supports_lazy: bool = False
    streamable: bool = True
    directory: bool = False
    holds: DtypeRule | None = None
    markers: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def can_write(self) -> bool:
        """True when the format can be written."""
        return self.write is not None


#: Every known format, in sniffing order.
FORMATS: Registry[FileFormat] = Registry("format")


def register_format(fmt: FileFormat) -> FileFormat:
    """Add ``fmt`` to :data:`FORMATS` (called by each format module at import time).

    Examples
    --------
    >>> from sepconv_cli.io import FORMATS
    >>> "png" in FORMATS
    True
    """
    return FORMATS.register(fmt.name, fmt, aliases=fmt.aliases)


def format_names(*, writable: bool = False) -> list[str]:
    """Canonical format names (only writable ones when ``writable``).

    Examples
    --------
    >>> from sepconv_cli.io import format_names
    >>> "nifti" in format_names(writable=True)
    True
    """
    return [name for name, fmt in FORMATS if fmt.can_write or not writable]


def lookup(name: str) -> FileFormat:
    """The format called ``name`` (or an alias); :class:`UsageError` if unknown."""
    if name not in FORMATS:
        choices = ", ".join(FORMATS.names())
        raise UsageError(f"--format: unknown format {name!r} (choices: {choices})")
    return FORMATS.get(name)


def from_suffix(path: str | Path) -> FileFormat | None:
    """The format whose suffix ends ``path`` (longest suffix wins), or None.

    Examples
    --------
    >>> from sepconv_cli.io import from_suffix
    >>> from_suffix("brain.nii.gz").name, from_suffix("x.unknown")
    ('nifti', None)
    """
    name = Path(path).name.lower()
    best: tuple[int, FileFormat | None] = (0, None)
    for _, fmt in FORMATS:
        for suffix in fmt.suffixes:
            if name.endswith(suffix) and len(name) > len(suffix) and len(suffix) > best[0]:
                best = (len(suffix), fmt)
    return best[1]


def sniff(head: bytes, path: Path) -> FileFormat | None:
    """The first format whose sniffer recognises the content, or None."""
    for _, fmt in FORMATS:
        if fmt.directory != (head == b""):
            continue
        if fmt.sniff(head, path):
            return fmt
    return None


def not_a_store(path: str | Path, fmt: FileFormat) -> FormatError:
    """The error for ``path`` (a file, or a directory without ``fmt.markers``) read as ``fmt``.

    Examples
    --------
    >>> import tempfile
    >>> from sepconv_cli.io import FORMATS
    >>> empty = Path(tempfile.mkdtemp()) / "empty.zarr"
    >>> empty.mkdir()
    >>> print(str(not_a_store(empty, FORMATS.get("zarr"))).split(": ", 1)[1])
    is a directory but not a Zarr store (it has no .zarray, .zgroup or zarr.json)
    >>> print(not_a_store("scan.tif", FORMATS.get("zarr")))
    scan.tif: not a Zarr store (a directory holding .zarray, .zgroup or zarr.json)
    """
    *first, last = fmt.markers
    names = f"{', '.join(first)} or {last}" if first else last
    kind = fmt.name.capitalize()
    if Path(path).is_dir():
        return FormatError(f"{path}: is a directory but not a {kind} store (it has no {names})")
    return FormatError(f"{path}: not a {kind} store (a directory holding {names})")


def read_head(path: Path) -> bytes:
    """The first :data:`SNIFF_BYTES` of ``path`` after checking it is a non-empty regular file.

    A directory that a directory format (Zarr) recognises gives ``b""``; any other directory
    is refused naming the files that would make it one.
    """
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    if path.is_dir():
        stores = [fmt for _, fmt in FORMATS if fmt.directory]
        if any(fmt.sniff(b"", path) for fmt in stores):
            return b""
        if stores:
            raise not_a_store(path, stores[0])
        raise FormatError(f"{path}: is a directory, not a file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except PermissionError as exc:
        raise FormatError(f"{path}: permission denied") from exc
    if not head:
        raise FormatError(f"{path}: empty file (0 bytes)")
    return head


def resolve(
    path: Path, head: bytes, fmt_name: str | None, label: str | None = None
) -> tuple[FileFormat, list[str]]:
    """Choose the format to read ``path`` with: ``--format``, else sniffed content, else suffix.

    Returns the format and warnings (a suffix that disagrees with the content); messages name
    the file as ``label`` (default: the path).
    """
    name = str(path) if label is None else label
    if fmt_name is not None:
        return lookup(fmt_name), []
    by_content = sniff(head, path)
    by_suffix = from_suffix(path)
    if by_content is not None:
        warnings = []
        if by_suffix is not None and by_suffix is not by_content:
            warnings.append(
                f"{name}: the suffix says {by_suffix.name} but the content is "
                f"{by_content.name}; reading it as {by_content.name}"
            )
        return by_content, warnings
    if by_suffix is not None:
        raise FormatError(
            f"{name}: not a valid {by_suffix.name} file (its content does not start like one)"
        )
    raise FormatError(
        f"{name}: unknown format (content not recognised as any of "
        f"{', '.join(FORMATS.names())}; give --format)"
    )
