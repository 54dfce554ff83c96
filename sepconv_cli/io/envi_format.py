"""ENVI hyperspectral cubes: a text header (``.hdr``) plus a raw binary, read as axes ``yxb``.

BSQ/BIL/BIP interleave, data types 1, 2, 3, 4, 5, 12, 13, 14, 15 (6 and 9 are complex and
refused), either byte order and ``header offset`` are handled with a careful ``numpy.memmap``
reader (lazy reads stay memory-mapped). The header's other fields -- wavelength, fwhm, band
names, wavelength units, map info... -- are kept in ``meta["envi"]`` and written back.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sepconv_cli.errors import FormatError
from sepconv_cli.image import Image, normalize_unit
from sepconv_cli.io.formats import FileFormat, register_format

#: ENVI ``data type`` code -> NumPy dtype character code.
DATA_TYPES = {
    1: "u1",
    2: "i2",
    3: "i4",
    4: "f4",
    5: "f8",
    6: "c8",
    9: "c16",
    12: "u2",
    13: "u4",
    14: "i8",
    15: "u8",
}
_CODE_OF = {name: code for code, name in DATA_TYPES.items()}
#: Extensions tried, in order, for the binary next to ``name.hdr``.
BINARY_SUFFIXES = ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".bin", ".envi", ".sli")
_SHAPES = {
    "bsq": ("bands", "lines", "samples"),
    "bil": ("lines", "bands", "samples"),
    "bip": ("lines", "samples", "bands"),
}
#: Transposition from the interleave's array order to (lines, samples, bands).
_TO_YXB = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}
#: Fields written from the data itself, never copied from the source header.
_STRUCTURAL = {
    "samples",
    "lines",
    "bands",
    "header offset",
    "data type",
    "interleave",
    "byte order",
    "file type",
    "description",
}
#: Per-band fields, dropped when the number of bands changed.
_PER_BAND = {"wavelength", "fwhm", "band names", "bbl", "data gain values", "data offset values"}
_LIST_OF_NUMBERS = {"wavelength", "fwhm", "bbl", "data gain values", "data offset values"}
_BLOCK_BYTES = 64 * 2**20


def parse_header(text: str, source: str = "header") -> dict[str, Any]:
    """Parse ENVI header text into a dict (lower-case keys; ``{...}`` values become lists).

    Examples
    --------
    >>> h = parse_header("ENVI\\nsamples = 4\\nwavelength = {400, 500,\\n 600}\\n")
    >>> h["samples"], h["wavelength"]
    ('4', ['400', '500', '600'])
    """
    if not text.lstrip().startswith("ENVI"):
        raise FormatError(f"{source}: not an ENVI header (does not start with 'ENVI')")
    fields: dict[str, Any] = {}
    lines = text.lstrip()[4:].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith(";") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if value.startswith("{"):
            while "}" not in value and i < len(lines):
                value += "\n" + lines[i].strip()
                i += 1
            if "}" not in value:
                raise FormatError(f"{source}: unterminated '{{' in field {key!r}")
            body = value[1 : value.rindex("}")]
            if key.lower() == "description":
                fields["description"] = body.strip()
                continue
            fields[key.lower()] = [item.strip() for item in body.split(",")] if body.strip() else []
        else:
            fields[key.lower()] = value
    return fields


def _int_field(fields: dict[str, Any], key: str, source: str, default: int | None = None) -> int:
    if key not in fields:
        if default is not None:
            return default
        raise FormatError(f"{source}: ENVI header lacks the required field {key!r}")
    try:
        return int(str(fields[key]).strip())
    except ValueError:
        raise FormatError(
            f"{source}: ENVI field {key!r} is not an integer: {fields[key]!r}"
        ) from None


def header_for(binary: Path) -> Path | None:
    """The ENVI header of a binary file (``x.img`` -> ``x.hdr`` or ``x.img.hdr``), if one exists."""
    for candidate in (
        binary.with_name(binary.name + ".hdr"),
        binary.with_suffix(".hdr"),
        binary.with_name(binary.name + ".HDR"),
        binary.with_suffix(".HDR"),
    ):
        if candidate != binary and candidate.is_file():
            return candidate
    return None


def binary_for(header: Path, size: int | None = None) -> Path | None:
    """The binary next to an ENVI header (``x.hdr`` -> ``x``, ``x.img``, ``x.dat``...), if any.

    When several exist, the first whose size is ``size`` bytes (what the header describes) wins.
    """
    stem = header.with_suffix("")
    found: list[Path] = []
    for suffix in BINARY_SUFFIXES:
        for variant in (suffix, suffix.upper()):
            candidate = stem.with_name(stem.name + variant)
            if candidate != header and candidate.is_file() and candidate not in found:
                found.append(candidate)
    matching = [c for c in found if size is not None and c.stat().st_size == size]
    return (matching or found or [None])[0]


def _starts_with_envi(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"ENVI"
    except OSError:
        return False


def _sniff(head: bytes, path: Path) -> bool:
    if head.startswith(b"ENVI"):
        return True
    header = header_for(path)
    return header is not None and _starts_with_envi(header)


def _files(path: Path) -> tuple[Path, Path | None]:
    """(header, binary) for a header or a binary path; the binary is None when not given."""
    if _starts_with_envi(path):
        return path, None
    header = header_for(path)
    if header is None:
        raise FormatError(f"{path}: no ENVI header found ({path.stem}.hdr)")
    return header, path


def _numbers(values: Any) -> list[float] | None:
    if not isinstance(values, list):
        return None
    try:
        return [float(v) for v in values if v != ""]
    except ValueError:
        return None


def _map_spacing(fields: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    info = fields.get("map info")
    if not isinstance(info, list) or len(info) < 7:
        return None, None, None
    try:
        sx, sy = float(info[5]), float(info[6])
    except ValueError:
        return None, None, None
    if "geographic" in info[0].lower():
        return None, None, None
    unit = "m"
    for item in info:
        match = re.match(r"units\s*=\s*(\S+)", item, re.IGNORECASE)
        if match:
            unit = length_unit(match.group(1)) or "m"
    return sx, sy, unit


def length_unit(text: Any) -> str | None:
    """An ENVI unit name (``Nanometers``, ``Micrometers``, ``Meters``) as a sepconv unit.

    Examples
    --------
    >>> length_unit("Nanometers"), length_unit("Microns"), length_unit("Meters"), length_unit(None)
    ('nm', 'um', 'm', None)
    """
    word = str(text or "").strip()
    if len(word) > 2 and word.lower().endswith("s"):
        word = word[:-1]
    return normalize_unit(word) if word else None


def _band_step(
    wavelengths: list[float] | None, units: Any, bands: int
) -> tuple[float | None, str | None]:
    """The band spacing when the wavelengths are evenly spaced (within 1 %), else None.

    Examples
    --------
    >>> _band_step([400.0, 410.0, 420.0], "Nanometers", 3)
    (10.0, 'nm')
    >>> _band_step([400.0, 410.0, 450.0], "Nanometers", 3)
    (None, None)
    """
    if not wavelengths or len(wavelengths) != bands or bands < 2:
        return None, None
    steps = [b - a for a, b in zip(wavelengths[:-1], wavelengths[1:], strict=True)]
    mean = (wavelengths[-1] - wavelengths[0]) / (bands - 1)
    if mean <= 0 or max(abs(s - mean) for s in steps) > 0.01 * mean:
        return None, None
    return mean, length_unit(units)


def _read(path: Path, *, lazy: bool = False) -> Image:
    import numpy as np

    header_path, given_binary = _files(path)
    text = header_path.read_text(encoding="latin-1")
    fields = parse_header(text, str(header_path))
    src = str(header_path)
    samples = _int_field(fields, "samples", src)
    lines = _int_field(fields, "lines", src)
    bands = _int_field(fields, "bands", src, default=1)
    code = _int_field(fields, "data type", src)
    offset = _int_field(fields, "header offset", src, default=0)
    order = _int_field(fields, "byte order", src, default=0)
    interleave = str(fields.get("interleave", "bsq")).strip().lower()
    if code not in DATA_TYPES:
        raise FormatError(f"{src}: unknown ENVI data type {code} (known: {sorted(DATA_TYPES)})")
    if interleave not in _SHAPES:
        raise FormatError(f"{src}: unknown interleave {interleave!r} (bsq, bil or bip)")
    if min(samples, lines, bands) < 1 or offset < 0 or order not in (0, 1):
        raise FormatError(
            f"{src}: bad ENVI geometry (samples={samples}, lines={lines}, bands={bands}, "
            f"header offset={offset}, byte order={order})"
        )
    dtype = np.dtype(DATA_TYPES[code]).newbyteorder("<" if order == 0 else ">")
    sizes = {"samples": samples, "lines": lines, "bands": bands}
    shape = tuple(sizes[name] for name in _SHAPES[interleave])
    expected = offset + samples * lines * bands * dtype.itemsize
    binary_path = given_binary or binary_for(header_path, expected)
    if binary_path is None:
        tried = ", ".join(header_path.with_suffix("").name + s for s in BINARY_SUFFIXES)
        raise FormatError(f"{src}: ENVI binary file not found (looked for {tried})")
    actual = binary_path.stat().st_size
    if actual != expected:
        raise FormatError(
            f"{src}: header describes {lines} lines x {samples} samples x {bands} bands of "
            f"{dtype.name} + {offset} offset = {expected} bytes, "
            f"but {binary_path} has {actual} bytes"
        )
    if dtype.kind == "c":
        raise FormatError(
            f"{src}: unsupported data type {dtype.name} (ENVI data type {code}, complex); "
            "sepconv filters real-valued data"
        )
    raw = np.memmap(binary_path, dtype=dtype, mode="r", offset=offset, shape=shape)
    cube = raw.transpose(_TO_YXB[interleave])
    if not lazy:
        cube = np.array(cube, dtype=dtype.newbyteorder("="), order="C")  # one copy, in memory
    sx, sy, unit = _map_spacing(fields)
    wavelengths = _numbers(fields.get("wavelength"))
    wl_units = fields.get("wavelength units")
    step, step_unit = _band_step(wavelengths, wl_units, bands)
    image = Image(cube, "yxb", spacing=(sy, sx, step), units=(unit, unit, step_unit))
    image.meta["envi"] = {key: value for key, value in fields.items() if key not in _STRUCTURAL}
    for key in _LIST_OF_NUMBERS & set(image.meta["envi"]):
        numbers = _numbers(image.meta["envi"][key])
        if numbers is not None:
            image.meta["envi"][key] = numbers
    image.meta["envi"]["description"] = fields.get("description", "")
    image.meta["envi"]["interleave"] = interleave
    image.meta["source_files"] = [str(header_path), str(binary_path)]
    image.meta["highlights"] = {
        "interleave": interleave,
        "data_type": code,
        "byte_order": "big-endian" if order else "little-endian",
        "header_offset": offset,
        "bands": bands,
        "binary": binary_path.name,
        "wavelength_range": (
            [min(wavelengths), max(wavelengths), wl_units] if wavelengths else None
        ),
        "fwhm": _numbers(fields.get("fwhm")) is not None,
        "band_names": isinstance(fields.get("band names"), list),
    }
    return image


def output_paths(path: Path) -> tuple[Path, Path]:
    """(binary, header) written for a target: ``x.hdr`` -> ``x.img``; ``x.dat`` -> ``x.hdr``.

    Examples
    --------
    >>> [p.name for p in output_paths(Path("cube.hdr"))], [p.name for p in output_paths(Path("c"))]
    (['cube.img', 'cube.hdr'], ['c', 'c.hdr'])
    """
    if path.suffix.lower() == ".hdr":
        return path.with_suffix(".img"), path
    header = path.with_suffix(".hdr") if path.suffix else path.with_name(path.name + ".hdr")
    return path, header


def _format_value(key: str, value: Any) -> str:
    if isinstance(value, list):
        items = [f"{v:.12g}" if isinstance(v, float) else str(v) for v in value]
        return "{" + ", ".join(items) + "}"
    return str(value)


def header_text(fields: dict[str, Any]) -> str:
    """ENVI header text for ``fields`` (lists are written as ``{a, b, c}``).

    Examples
    --------
    >>> print(header_text({"samples": 2, "wavelength": [400.0, 500.0]}))
    ENVI
    samples = 2
    wavelength = {400, 500}
    <BLANKLINE>
    """
    lines = ["ENVI"]
    for key, value in fields.items():
        if key == "description":
            lines.append("description = {" + str(value).replace("}", ")") + "}")
        else:
            lines.append(f"{key} = {_format_value(key, value)}")
    return "\n".join(lines) + "\n"


def _cube_axes(image: Image) -> tuple[Any, int]:
    """The data as a (lines, samples, bands) array and its band count."""
    if "y" not in image.axes or "x" not in image.axes or image.ndim > 3:
        raise FormatError(
            f"ENVI holds a 2-D image or a cube with axes y, x and one band axis; "
            f"got axes {image.axes!r} (use --axes yxb)"
        )
    if image.ndim == 2:
        data = image.data if image.axes == "yx" else image.data.transpose(1, 0)
        return data[:, :, None], 1
    band = next(a for a in image.axes if a not in "yx")
    perm = [image.axes.index(a) for a in ("y", "x", band)]
    data = image.data if perm == [0, 1, 2] else image.data.transpose(perm)
    return data, int(data.shape[2])


def _write(image: Image, paths: tuple[Path, ...]) -> None:
    import numpy as np

    binary, header = paths
    data, bands = _cube_axes(image)
    name = np.dtype(image.dtype).newbyteorder("=").str.lstrip("<>=|")
    if name not in _CODE_OF or name.startswith("c"):
        raise FormatError(
            f"ENVI cannot hold {image.dtype} data (uint8, int16, int32, int64, uint16, "
            "uint32, uint64, float32, float64)"
        )
    source = dict(image.meta.get("envi", {}))
    suffix = binary.name.rsplit(".part", 1)[-1].lower()  # the target's suffix, kept by the temp
    kept = str(source.pop("interleave", "bsq")).strip().lower()
    # the target's suffix names the interleave (cube.bil is BIL); otherwise keep the source's
    interleave = suffix.lstrip(".") if suffix in (".bsq", ".bil", ".bip") else kept
    if interleave not in _SHAPES:
        interleave = "bsq"
    lines_, samples = int(data.shape[0]), int(data.shape[1])
    dtype = np.dtype("<" + name)
    sizes = {"samples": samples, "lines": lines_, "bands": bands}
    out = np.memmap(
        binary, dtype=dtype, mode="w+", shape=tuple(sizes[n] for n in _SHAPES[interleave])
    )
    row_bytes = max(1, samples * bands * dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    for start in range(0, lines_, step):
        block = np.asarray(data[start : start + step])
        if interleave == "bsq":
            out[:, start : start + step, :] = block.transpose(2, 0, 1)
        elif interleave == "bil":
            out[start : start + step] = block.transpose(0, 2, 1)
        else:
            out[start : start + step] = block
    out.flush()
    del out
    fields: dict[str, Any] = {
        "description": source.pop("description", "") or "written by sepconv",
        "samples": samples,
        "lines": lines_,
        "bands": bands,
        "header offset": 0,
        "file type": "ENVI Standard",
        "data type": _CODE_OF[name],
        "interleave": interleave,
        "byte order": 0,
    }
    for key, value in source.items():
        if key in _PER_BAND and isinstance(value, list) and len(value) != bands:
            continue
        fields[key] = value
    header.write_text(header_text(fields), encoding="latin-1")


register_format(
    FileFormat(
        name="envi",
        description="ENVI cube (.hdr + binary): BSQ/BIL/BIP, byte order, offset, wavelengths",
        suffixes=(".hdr", ".bsq", ".bil", ".bip"),
        sniff=_sniff,
        read=_read,
        write=_write,
        output_paths=output_paths,
        supports_lazy=True,
        streamable=False,
    )
)
