"""Reading and writing images, volumes and cubes: ``read``, ``write``, ``describe``, ``FORMATS``.

Each format is one module that registers a :class:`~sepconv_cli.io.formats.FileFormat`;
:data:`FORMAT_MODULES` lists them in sniffing order. Heavy libraries (NumPy, nibabel, tifffile,
imageio) are imported only when a file is read or written.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from sepconv_cli.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "stack.tif"
>>> stack = Image(np.ones((2, 4, 5), np.uint16), "zyx", spacing=(2, 0.5, 0.5), units=("um",) * 3)
>>> write(stack, path)
>>> img = read(path)
>>> img.format, img.axes, img.spacing
('tiff', 'zyx', (2.0, 0.5, 0.5))
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError, SepconvError, UsageError
from sepconv_cli.image import Image
from sepconv_cli.io.atomic import atomic_file, atomic_paths, check_output_folder, refuse_inputs
from sepconv_cli.io.formats import (
    FORMATS,
    SNIFF_BYTES,
    FileFormat,
    format_names,
    from_suffix,
    lookup,
    read_head,
    register_format,
    resolve,
)
from sepconv_cli.io.stats import describe

#: Format modules under ``sepconv_cli.io``, imported in this (sniffing) order.
FORMAT_MODULES: tuple[str, ...] = (
    "png_format",
    "tiff_format",
    "nifti_format",
    "npy_format",
    "envi_format",
    "zarr_format",
)

for _module in FORMAT_MODULES:
    importlib.import_module(f"sepconv_cli.io.{_module}")

__all__ = [
    "FORMATS",
    "FORMAT_MODULES",
    "FileFormat",
    "atomic_file",
    "atomic_paths",
    "check_output_dtype",
    "describe",
    "format_names",
    "from_suffix",
    "read",
    "register_format",
    "write",
]

_UNSUPPORTED_KINDS = {"c": "complex", "O": "object", "V": "structured", "U": "text", "S": "bytes"}


def _check_dtype(image: Image, source: str) -> Image:
    kind = image.dtype.kind
    if kind in _UNSUPPORTED_KINDS:
        raise FormatError(
            f"{source}: unsupported data type {image.dtype} ({_UNSUPPORTED_KINDS[kind]}); "
            "sepconv filters real-valued integer and floating-point data"
        )
    if kind == "b":
        image = image.replace(data=image.data.astype("uint8"))
    return image


def _read_file(path: Path, fmt_name: str | None, lazy: bool, label: str) -> Image:
    head = read_head(path)
    fmt, warnings = resolve(path, head, fmt_name, label)
    if lazy and not fmt.supports_lazy:
        lazy = False
    try:
        image = fmt.read(path, lazy=lazy)
    except (MemoryError, KeyboardInterrupt):
        raise
    except SepconvError as exc:
        if label in str(exc) or path.name in str(exc):
            raise
        raise type(exc)(f"{label}: {exc}") from exc
    except Exception as exc:  # any parser error on bad content becomes one line
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{label}: cannot read as {fmt.name}: {text}") from exc
    image.meta["warnings"] = warnings + list(image.meta.get("warnings", []))
    image.meta.setdefault("source_files", [str(path)])
    return image.replace(format=fmt.name, path=label)


def _read_stdin(fmt_name: str | None) -> Image:
    data = sys.stdin.buffer.read()
    if not data:
        raise FormatError("stdin: empty input (0 bytes)")
    with tempfile.TemporaryDirectory(prefix="sepconv-stdin-") as folder:
        probe = Path(folder) / "stdin"
        probe.write_bytes(data)
        fmt, _ = resolve(probe, data[:SNIFF_BYTES], fmt_name, label="stdin")
        if not fmt.streamable:
            raise UsageError(f"stdin: {fmt.name} cannot be read from a pipe; give a file path")
        path = probe.rename(probe.with_name("stdin" + fmt.suffixes[0]))
        image = _read_file(path, fmt.name, lazy=False, label="-")
        image.meta["source_files"] = []
    return image


def read(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    axes: str | None = None,
    lazy: bool = False,
) -> Image:
    """Read an image, volume or cube from a file (``"-"``: stdin) into an :class:`Image`.

    Parameters
    ----------
    path
        The file; ``"-"`` reads stdin (the format is sniffed from its bytes).
    format
        Format name or alias (see :data:`FORMATS`); by default the content is sniffed and the
        suffix is the fallback. A suffix that disagrees with the content adds a warning to
        ``image.meta["warnings"]`` and the content wins.
    axes
        Axis roles in array order (``"zyx"``, ``"yxb"``...) replacing the reader's.
    lazy
        Return a memory map or Dask array where the format allows it (npy, raw ENVI,
        uncompressed NIfTI, TIFF) instead of loading the data.

    Returns
    -------
    Image
        With ``format``, ``path``, ``meta["warnings"]`` and ``meta["highlights"]`` set.

    Raises
    ------
    FormatError
        Missing, empty, truncated or unreadable files and unsupported data types.
    UsageError
        An unknown ``format`` or ``axes`` that do not fit the data.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.zeros((3, 4, 5), np.float32))
    >>> read(path).axes, read(path, axes="yxb").axes
    ('zyx', 'yxb')
    """
    if str(path) == "-":
        image = _read_stdin(format)
    else:
        target = Path(path)
        image = _read_file(target, format, lazy, str(path))
    image = _check_dtype(image, str(path))
    if axes is not None:
        image = image.with_axes(axes)
    return image


def _stream_to_stdout(image: Image, fmt: FileFormat, options: dict[str, Any]) -> None:
    if not fmt.streamable:
        raise UsageError(f"-o -: {fmt.name} cannot be written to stdout; give a file path")
    with tempfile.TemporaryDirectory(prefix="sepconv-stdout-") as folder:
        path = Path(folder) / ("stdout" + fmt.suffixes[0])
        _guarded_write(fmt, image, (path,), "-", options)
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def write(
    image: Image,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Write ``image`` atomically to ``path`` (``"-"``: stdout, which needs ``format``).

    The format comes from ``format`` or the suffix. The file is written to a temporary name in
    the target folder, fsynced and renamed, so a failure or Ctrl-C leaves no partial file.
    Writing onto any of ``inputs`` (or the file ``image`` was read from) is refused.

    Parameters
    ----------
    image
        What to write; metadata the target format can hold (spacing, units, NIfTI affine,
        ENVI wavelengths...) is kept.
    path
        Target file, or ``"-"`` for stdout.
    format
        Format name or alias; required for stdout.
    inputs
        Input files this output must not overwrite.

    Raises
    ------
    UsageError
        Unknown or read-only format, no format for stdout, or an output that is an input.
    FormatError
        A missing or unwritable output folder, or data the format cannot hold.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
    >>> write(Image(np.full((4, 6), 40000, np.uint16), "yx"), path)
    >>> read(path).dtype
    dtype('uint16')
    """
    target = Path(path)
    to_stdout = str(path) == "-"
    found = _output_format(path, format)
    if found is None:
        need = (
            "writing to stdout ('-') needs"
            if to_stdout
            else f"{target}: cannot tell the format from the file name; give"
        )
        raise UsageError(f"{need} --format (choices: {', '.join(format_names(writable=True))})")
    fmt = found
    _require_writable(fmt)
    options = fmt.write_options(format) if format is not None and fmt.write_options else {}
    if to_stdout:
        _stream_to_stdout(image, fmt, options)
        return
    outputs = fmt.output_paths(target)
    sources: list[Any] = list(inputs) + list(image.meta.get("source_files", []))
    refuse_inputs(outputs, sources)
    assert fmt.write is not None
    if fmt.directory:  # a store directory: the format renames a temporary sibling itself
        check_output_folder(target, directory=True)
        _guarded_write(fmt, image, outputs, target, options)
        return
    with atomic_paths(outputs) as temps:
        _guarded_write(fmt, image, temps, target, options)


def _output_format(path: str | os.PathLike[str], format: str | None) -> FileFormat | None:
    """The format a write to ``path`` uses: ``format``, else the suffix (not for stdout)."""
    if format is not None:
        return lookup(format)
    return None if str(path) == "-" else from_suffix(path)


def _check_holds(fmt: FileFormat, dtype: Any, label: Any) -> None:
    problem = None if fmt.holds is None else fmt.holds.refusal(dtype)
    if problem is not None:
        raise FormatError(f"{label}: {problem}")


def check_output_dtype(
    dtype: Any, path: str | os.PathLike[str], *, format: str | None = None
) -> None:
    """Refuse data of ``dtype`` for ``path`` when its format cannot hold it, before any work.

    The check :func:`write` makes (same message), for callers that know the output's dtype
    before computing it (``sepconv apply`` from its plan). A path whose format is unknown
    passes: :func:`write` names the formats it knows.

    Raises
    ------
    FormatError
        The format holds only some dtypes (PNG, JPEG, NIfTI) and not this one.

    Examples
    --------
    >>> check_output_dtype("uint16", "out.png")
    >>> try:
    ...     check_output_dtype("float32", "out.png")
    ... except FormatError as exc:
    ...     print(exc)
    out.png: PNG cannot hold float32 data (it holds uint8, uint16); cast with --dtype uint8 ...
    """
    fmt = _output_format(path, format)
    if fmt is not None:
        _check_holds(fmt, dtype, os.fspath(path))


def _guarded_write(
    fmt: FileFormat,
    image: Image,
    paths: tuple[Path, ...],
    label: Any,
    options: dict[str, Any],
) -> None:
    """Run ``fmt.write``; name the target (not a temporary file) in any error."""
    assert fmt.write is not None
    _check_holds(fmt, image.dtype, label)
    try:
        fmt.write(image, paths, **options)
    except (MemoryError, KeyboardInterrupt):
        raise
    except SepconvError as exc:
        raise type(exc)(f"{label}: {exc}") from exc
    except OSError as exc:
        raise FormatError(f"{label}: cannot write: {exc.strerror or exc}") from exc
    except Exception as exc:  # a library refusing the data becomes one line
        raise FormatError(f"{label}: cannot write as {fmt.name}: {exc}") from exc


def _require_writable(fmt: FileFormat) -> None:
    if not fmt.can_write:
        raise UsageError(
            f"--format {fmt.name}: cannot be written (writable formats: "
            f"{', '.join(format_names(writable=True))})"
        )
