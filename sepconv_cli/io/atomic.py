"""Atomic writes: temporary files next to the targets, fsync, then ``os.replace``.

A failure or Ctrl-C while writing leaves the targets untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sepconv_cli.errors import FormatError, UsageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_name(target: Path) -> Path:
    """A hidden, unique name in ``target``'s folder that keeps its suffixes (``.a.nii.gz`` ...).

    Writers that pick the encoding from the suffix (nibabel's ``.gz``) see the right one.

    Examples
    --------
    >>> name = temporary_name(Path("out/brain.nii.gz")).name
    >>> name.startswith(".brain.nii.gz.") and name.endswith(".part.nii.gz")
    True
    """
    suffixes = (
        "".join(target.suffixes[-2:]) if target.name.lower().endswith(".gz") else target.suffix
    )
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}.{token}.part{suffixes}")


def check_output_folder(target: Path, *, directory: bool = False) -> None:
    """Raise :class:`FormatError` unless ``target`` can be created in a writable folder.

    ``directory``: the target is itself a directory (a Zarr store) that may be replaced.
    An existing target that is neither a regular file nor a directory (a character device,
    a FIFO, a socket) is refused: replacing it would destroy the node.

    Examples
    --------
    >>> check_output_folder(Path("out.png"))
    """
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir() and not directory:
        raise UsageError(f"{target}: is a directory; give a file name to write")
    if target.exists() and not target.is_dir() and not target.is_file():
        # os.replace would swap a device or FIFO node (/dev/null as root) for a regular file
        raise UsageError(
            f"{target}: is not a regular file (a device, FIFO or socket); "
            "give a regular file name to write"
        )
    if not folder.is_dir():
        raise FormatError(f"{target}: output folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FormatError(f"{target}: output folder {str(folder)!r} is not writable")


def refuse_inputs(targets: Iterable[Path], inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Raise :class:`UsageError` when a target is one of ``inputs`` (same file or same path).

    Examples
    --------
    >>> refuse_inputs([Path("a.png")], ["b.png"])
    """
    sources = [Path(p) for p in inputs if str(p) != "-"]
    for target in targets:
        for source in sources:
            same = target.resolve() == source.resolve()
            if not same and target.exists() and source.exists():
                same = os.path.samefile(target, source)
            if same:
                raise UsageError(
                    f"{target}: refusing to overwrite the input file {source}; "
                    "choose another output path"
                )


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_paths(targets: Sequence[str | os.PathLike[str]]) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths for ``targets``; on success move them into place, else remove them.

    Each temporary file lives in its target's folder (so the final ``os.replace`` is atomic),
    is fsynced and gets the usual ``0666 & ~umask`` permissions. Targets are replaced in the
    given order (put an ENVI binary before its header). On any exception, ``KeyboardInterrupt``
    included, the temporary files are deleted and the targets are not touched.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_paths([folder / "a.txt"]) as (tmp,):
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text(), len(list(folder.iterdir()))
    ('hello', 1)
    """
    finals = [Path(t) for t in targets]
    for final in finals:
        check_output_folder(final)
    temps = tuple(temporary_name(final) for final in finals)
    try:
        yield temps
        mode = 0o666 & ~_umask()
        for temp in temps:
            if not temp.exists():
                raise FormatError(f"{temp}: the writer created no file")
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
        for temp, final in zip(temps, finals, strict=True):
            os.replace(temp, final)
        for folder in {final.parent for final in finals}:
            _fsync_folder(folder)
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``target`` when the block succeeds.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "report.json"
    >>> with atomic_file(path, "w") as handle:
    ...     _ = handle.write("{}")
    >>> path.read_text()
    '{}'
    """
    with atomic_paths([target]) as (temp,), open(temp, mode) as handle:
        yield handle
