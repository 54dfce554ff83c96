"""`sepconv info`: format, shape, dtype, axes, spacing, value range and metadata of files.

A table per file on stderr (plain text in a pipe); ``--json`` prints one JSON object per file,
one per line, on stdout.
"""

from __future__ import annotations

from typing import Any

import typer

_HELP = (
    "Describe images, volumes and cubes: format, shape, dtype, axis roles, spacing and units, "
    "value range (min/max/mean of the finite values), NaN/Inf counts, memory size and metadata "
    "highlights (NIfTI orientation, ENVI wavelength range, TIFF flavour). A table per file on "
    "stderr; --json prints one JSON object per file on stdout. Large files are memory-mapped "
    "and reduced block by block.\n\n"
    "Examples: sepconv info scan.nii.gz cube.hdr --json ; cat photo.png | sepconv info -"
)
_FORMAT_HELP = "Read as this format instead of sniffing the content (see --formats)."
_AXES_HELP = "Axis roles in array order, replacing the file's (e.g. zyx, yxc, yxb, xyzt)."


def _human_bytes(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _spacing_text(info: dict[str, Any]) -> str:
    parts = []
    for letter, step, unit in zip(info["axes"], info["spacing"], info["units"], strict=True):
        text = "?" if step is None else f"{step:.6g}{'' if unit is None else ' ' + unit}"
        parts.append(f"{letter}={text}")
    return ", ".join(parts)


def _highlight_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_highlight_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " ".join(_highlight_text(v) for v in value)
    return _number(value)


def _table(info: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=str(info["path"]), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    roles = " ".join(f"{a}:{r}" for a, r in zip(info["axes"], info["roles"], strict=True))
    rows = [
        ("format", info["format"]),
        ("shape", " x ".join(str(n) for n in info["shape"])),
        ("dtype", info["dtype"] + ("" if info["byte_order"] == "native" else " (big-endian)")),
        ("axes", f"{info['axes']} ({roles})"),
        ("spacing", _spacing_text(info)),
        (
            "range",
            f"min {_number(info['min'])}, max {_number(info['max'])}, mean {_number(info['mean'])}",
        ),
        ("NaN / Inf", f"{info['nan_count']} / {info['inf_count']}"),
        ("memory", _human_bytes(info["nbytes"])),
    ]
    rows += [
        (key, _highlight_text(value))
        for key, value in info["highlights"].items()
        if value not in (None, "", [], {})
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def _formats_table() -> Any:
    from rich.table import Table

    from sepconv_cli.io import FORMATS

    table = Table(title="formats", title_justify="left")
    for column in ("name", "suffixes", "write", "lazy", "pipe", "description"):
        table.add_column(column)
    for name, fmt in FORMATS:
        table.add_row(
            name,
            " ".join(fmt.suffixes),
            "yes" if fmt.can_write else "no",
            "yes" if fmt.supports_lazy else "no",
            "yes" if fmt.streamable else "no",
            fmt.description,
        )
    return table


def _list_formats(as_json: bool) -> None:
    from sepconv_cli.cli.console import err_console, print_json
    from sepconv_cli.io import FORMATS

    if not as_json:
        err_console().print(_formats_table())
        return
    for name, fmt in FORMATS:
        print_json(
            {
                "name": name,
                "suffixes": list(fmt.suffixes),
                "write": fmt.can_write,
                "lazy": fmt.supports_lazy,
                "pipe": fmt.streamable,
                "description": fmt.description,
            }
        )


def info_command(
    files: list[str] = typer.Argument(
        None, metavar="FILE", help="Files to describe ('-' reads stdin)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file on stdout."),
    format: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    axes: str | None = typer.Option(None, "--axes", "-a", help=_AXES_HELP),
    formats: bool = typer.Option(False, "--formats", help="List the formats and exit."),
) -> None:
    """Describe FILES (see ``_HELP``)."""
    from sepconv_cli.cli.console import err_console, message, print_json, warn
    from sepconv_cli.errors import ExitCode, SepconvError, UsageError
    from sepconv_cli.io import describe, read

    if formats:
        _list_formats(as_json)
        return
    if not files:
        raise UsageError("info: give at least one FILE (or '-' for stdin, or --formats)")
    failures: list[SepconvError] = []
    for path in files:
        try:
            image = read(path, format=format, axes=axes, lazy=path != "-")
            info = describe(image)
        except SepconvError as exc:
            if len(files) == 1:
                raise
            message(f"sepconv: error: {exc}")
            failures.append(exc)
            continue
        for text in info["warnings"]:
            warn(text)
        if as_json:
            print_json(info)
        else:
            err_console().print(_table(info))
    if failures:
        raise typer.Exit(int(ExitCode.PARTIAL if len(failures) < len(files) else ExitCode.FAILURE))


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
    app.command("info", help=_HELP)(info_command)
