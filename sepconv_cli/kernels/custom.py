"""Custom kernels: ``@file`` (.csv/.txt/.tsv, .npy, NIfTI) and inline ``[[1,2,1],[2,4,2],[1,2,1]]``.

A file that cannot be opened or decoded is a :class:`KernelFileError` (exit 1); readable content
that is not a usable kernel (ragged rows, non-numeric cells, NaN/Inf, empty, 0-d, complex, all
zeros, too large) is a :class:`SpecError` (exit 2).

Text files hold one row per line, cells separated by commas or whitespace; ``#`` starts a
comment; blank lines separate the 2-D slices of a 3-D kernel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sepconv_cli.errors import KernelFileError, SpecError
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.kernels.builder import BuildContext, KernelBuilder, Param, finish, register

NIFTI_SUFFIXES = (".nii", ".nii.gz", ".hdr", ".img")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dat", ".asc")


def _parse_row(line: str, where: str, number: int) -> list[float]:
    cells = line.split(",") if "," in line else line.split()
    row = []
    for cell in cells:
        text = cell.strip()
        if not text:
            raise SpecError(f"{where}: empty cell on line {number}")
        try:
            row.append(float(text))
        except ValueError:
            raise SpecError(f"{where}: non-numeric cell {text!r} on line {number}") from None
    return row


def parse_text(text: str, where: str) -> np.ndarray:
    """Parse a text kernel: rows of numbers; blank lines split the slices of a 3-D kernel.

    Examples
    --------
    >>> parse_text("1, 2, 1\\n2, 4, 2\\n1, 2, 1\\n", "k.csv").shape
    (3, 3)
    >>> parse_text("1 2\\n3 4\\n\\n5 6\\n7 8\\n", "k.txt").shape
    (2, 2, 2)
    """
    blocks: list[list[list[float]]] = [[]]
    first_line: list[int] = [0]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            if blocks[-1]:
                blocks.append([])
                first_line.append(0)
            continue
        if not blocks[-1]:
            first_line[-1] = number
        row = _parse_row(line, where, number)
        if blocks[-1] and len(row) != len(blocks[-1][0]):
            raise SpecError(
                f"{where}: ragged rows: line {number} has {len(row)} values but line "
                f"{first_line[-1]} has {len(blocks[-1][0])}"
            )
        blocks[-1].append(row)
    blocks = [b for b in blocks if b]
    if not blocks:
        raise SpecError(f"{where}: no numbers found (empty kernel)")
    if len(blocks) == 1:
        return np.array(blocks[0], dtype=np.float64)
    shapes = {(len(b), len(b[0])) for b in blocks}
    if len(shapes) != 1:
        raise SpecError(
            f"{where}: the {len(blocks)} blank-line separated slices have different shapes "
            f"({', '.join('x'.join(map(str, s)) for s in sorted(shapes))})"
        )
    return np.array(blocks, dtype=np.float64)


def _check_nested(value: object, where: str) -> None:
    if isinstance(value, list):
        for item in value:
            _check_nested(item, where)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: non-numeric entry {value!r}")


def parse_inline(text: str) -> np.ndarray:
    """Parse an inline kernel written as nested lists.

    Examples
    --------
    >>> float(parse_inline("[[1,2,1],[2,4,2],[1,2,1]]").sum())
    16.0
    """
    where = "inline kernel"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}: cannot parse {text!r} as nested lists ({exc.msg})") from None
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected nested lists like [[1,2,1],[2,4,2],[1,2,1]]")
    _check_nested(value, where)
    try:
        return np.array(value, dtype=np.float64)
    except ValueError:
        raise SpecError(f"{where}: ragged rows (every row needs the same length)") from None


def _read_nifti(path: Path) -> np.ndarray:
    try:
        from sepconv_cli import io  # the project's reader, when present
    except ImportError:
        io = None
    if io is not None and hasattr(io, "read"):
        return np.asarray(io.read(os.fspath(path)).data)
    import nibabel

    return np.asarray(nibabel.load(os.fspath(path)).dataobj)


def read_kernel_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a kernel's weights from a .csv/.txt/.tsv, .npy or NIfTI file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "k.csv"
    >>> _ = p.write_text("1,0,-1\\n2,0,-2\\n1,0,-1\\n")
    >>> read_kernel_file(p)[1]
    array([ 2.,  0., -2.])
    """
    path = Path(path)
    where = f"kernel file {os.fspath(path)!r}"
    name = path.name.lower()
    if not path.exists():
        raise KernelFileError(f"{where}: no such file")
    if path.is_dir():
        raise KernelFileError(f"{where}: is a directory")
    try:
        if name.endswith(".npy"):
            try:
                array = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise KernelFileError(f"{where}: not a readable .npy array ({exc})") from None
            if not isinstance(array, np.ndarray):
                raise KernelFileError(f"{where}: holds no single array")
            return array
        if name.endswith(NIFTI_SUFFIXES):
            try:
                array = _read_nifti(path)
            except SpecError:
                raise
            except Exception as exc:  # noqa: BLE001 - any decoder failure is "unreadable"
                raise KernelFileError(f"{where}: not a readable NIfTI image ({exc})") from None
            while array.ndim > 1 and array.shape[-1] == 1:
                array = array[..., 0]
            return array
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise KernelFileError(
                f"{where}: not a text file (kernel files are .csv/.txt/.tsv, .npy or NIfTI)"
            ) from None
    except OSError as exc:
        raise KernelFileError(f"{where}: {exc.strerror or exc}") from None
    return parse_text(text, where)


def validate_weights(array: np.ndarray, where: str) -> np.ndarray:
    """Check that an array is a usable kernel and return it as float64.

    Examples
    --------
    >>> validate_weights(np.array([[1, 2, 1]]), "k").dtype
    dtype('float64')
    """
    array = np.asarray(array)
    if np.iscomplexobj(array):
        raise SpecError(f"{where}: complex weights are not supported")
    if array.dtype.kind not in "biuf":
        raise SpecError(f"{where}: weights must be numbers, got dtype {array.dtype}")
    if array.ndim == 0:
        raise SpecError(f"{where}: a kernel needs at least one axis, got a single number")
    if array.size == 0:
        raise SpecError(f"{where}: the kernel is empty (shape {array.shape})")
    weights = array.astype(np.float64)
    bad = ~np.isfinite(weights)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise SpecError(f"{where}: weight at index {index} is {weights[index]} (NaN/Inf)")
    if not weights.any():
        raise SpecError(f"{where}: every weight is zero")
    with np.errstate(over="ignore"):
        magnitude = float(np.abs(weights).sum())
    if not np.isfinite(magnitude):
        raise SpecError(f"{where}: weights too large (their sum overflows float64)")
    return weights


def _build_custom(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """A kernel from a file or inline nested lists."""
    if "file" in values and "weights" in values:
        raise SpecError("custom: give file or weights, not both")
    if "file" in values:
        where = f"kernel file {values['file']!r}"
        weights = validate_weights(read_kernel_file(values["file"]), where)
    elif "weights" in values:
        where = "inline kernel"
        weights = validate_weights(parse_inline(values["weights"]), where)
    else:
        raise SpecError("custom: needs @FILE or inline weights like [[1,2,1],[2,4,2],[1,2,1]]")
    if ctx.ndim == 1 and weights.ndim == 2 and 1 in weights.shape:
        weights = weights.ravel()  # one row or column of a text file is a 1-D kernel
    if ctx.ndim and weights.ndim != ctx.ndim:

        def axes(n: int) -> str:
            return f"{n} axis" if n == 1 else f"{n} axes"

        raise SpecError(
            f"{where}: the kernel has {axes(weights.ndim)} but the image has "
            f"{axes(ctx.ndim)} to filter"
        )
    ctx.check_size(weights.shape)
    ctx.note_even_sizes(weights.shape)
    choice = ctx.choice("normalize", values["normalize"], ("auto", "sum", "l1", "none"))
    if choice == "auto":
        choice = "sum" if bool(np.all(weights >= 0)) else "none"
    params = {"source": values.get("file", "inline"), "raw_sum": float(weights.sum())}
    return finish(ctx, weights, choice, params=params)


register(
    KernelBuilder(
        "custom",
        "your own weights: @kernel.csv|.txt|.npy|.nii.gz or inline [[1,2,1],[2,4,2],[1,2,1]]",
        (
            Param("file", None, "kernel file (written @FILE)"),
            Param("weights", None, "inline nested lists (written [[...]])"),
            Param(
                "normalize",
                "auto",
                "auto (sum if every weight is >= 0, else none), sum, l1 or none",
            ),
        ),
        _build_custom,
        default_ndim=0,
    )
)
