"""`sepconv convert`: any readable format to any writable one, keeping what the target can hold."""

from __future__ import annotations

import typer

_HELP = (
    "Convert IN to OUT between formats: PNG, JPEG, TIFF (ImageJ/OME), NIfTI, ENVI, npy "
    "(and Zarr when installed).\n\n"
    "Axes, spacing and units, the NIfTI header/affine and ENVI wavelengths are kept where the "
    "target can hold them; a warning names what it cannot. The output is written atomically "
    "and never onto the input.\n\n"
    "Examples: sepconv convert brain.nii.gz brain.tif ; sepconv convert cube.hdr cube.npy ; "
    "cat photo.png | sepconv convert - - --to tiff > photo.tif"
)
_TO_HELP = "Output format (default: OUT's suffix; required for '-'); see `sepconv info --formats`."
_FROM_HELP = "Read IN as this format instead of sniffing its content."
_AXES_HELP = "Axis roles of IN in array order, replacing the file's (e.g. zyx, yxc, yxb)."
_DTYPE_HELP = (
    "Cast to this data type first (integers: rounded to nearest, clipped to the type's range, "
    "NaN -> 0, with a warning count): uint8, uint16, uint32, int8, int16, int32, int64, "
    "float32, float64."
)


def convert_command(
    source: str = typer.Argument(..., metavar="IN", help="Input file ('-' reads stdin)."),
    target: str = typer.Argument(..., metavar="OUT", help="Output file ('-' writes stdout)."),
    to: str | None = typer.Option(None, "--to", "-t", "--format", help=_TO_HELP),
    from_: str | None = typer.Option(None, "--from", help=_FROM_HELP),
    axes: str | None = typer.Option(None, "--axes", "-a", help=_AXES_HELP),
    dtype: str | None = typer.Option(None, "--dtype", help=_DTYPE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line on stderr."),
) -> None:
    """Convert IN to OUT (see ``_HELP``)."""
    from sepconv_cli.cli.console import message, print_json, warn
    from sepconv_cli.errors import UsageError
    from sepconv_cli.io.convert import convert

    if target == "-" and as_json:
        raise UsageError("--json and OUT '-' both use stdout; drop one")
    summary = convert(source, target, to=to, from_format=from_, axes=axes, dtype=dtype)
    for text in summary["warnings"]:
        warn(text)
    if as_json:
        print_json(summary)
    elif not quiet:
        shape = "x".join(str(n) for n in summary["shape"])
        message(
            f"sepconv: wrote {target} ({summary['format']}, {shape} {summary['dtype']}, "
            f"axes {summary['axes']}) from {source} ({summary['input_format']})"
        )


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
    app.command("convert", help=_HELP)(convert_command)
