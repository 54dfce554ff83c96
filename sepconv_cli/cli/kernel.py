"""`sepconv kernel`: build a kernel from a spec and show, save or plot it; `--list` the kernels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_SPEC_HELP = (
    "Kernel spec: NAME[:key=value,...] (e.g. gaussian:sigma=2, gaussian:fwhm=6mm, "
    "sobel:axis=x, box:size=5), @FILE (.csv/.txt/.npy/.nii.gz) or inline "
    "[[1,2,1],[2,4,2],[1,2,1]]. "
    "Kernels: gaussian log dog sobel scharr prewitt laplace box binomial disk savgol "
    "(sepconv kernel --list shows their keys)."
)
HELP = (
    "Show what a kernel spec builds: its weights, exact 1-D factors, sum, radius per axis and, "
    "for Gaussians, sigma in voxels and the truncated tail mass.\n\n"
    "Weights are for CONVOLUTION (sepconv flips them, as scipy.ndimage.convolve). Values take "
    "units (2, 2mm, 0.5um, 3vox; --spacing resolves them) and per-axis lists (2x2x1mm). Human "
    "output goes to stderr; --json prints one document on stdout; -o writes .npy/.csv/.txt.\n\n"
    "Examples: sepconv kernel gaussian:sigma=1.5 ; sepconv kernel sobel:axis=x --json ; "
    "sepconv kernel gaussian:fwhm=6mm --spacing 2x2x2mm -o g.npy ; sepconv kernel --list"
)
#: Largest kernel printed as a full table.
_TABLE_LIMIT = {1: 31, 2: 15}
#: Largest 3-D kernel printed slice by slice.
_SLICED_LIMIT = 7


def number(value: float, digits: int = 6) -> str:
    """Compact text for one weight.

    Examples
    --------
    >>> number(0.25), number(-1.0), number(6.1e-05), number(0.0)
    ('0.25', '-1', '6.1e-05', '0')
    """
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def vector(values: Any, limit: int = 15) -> str:
    """``[a, b, c]`` with at most ``limit`` entries shown.

    Examples
    --------
    >>> vector([1.0, 2.0, 1.0]), vector(range(9), limit=4)
    ('[1, 2, 1]', '[0, 1, …, 7, 8]')
    """
    items = [number(float(v)) for v in values]
    if len(items) > limit:
        half = limit // 2
        items = [*items[:half], "…", *items[-half:]]
    return "[" + ", ".join(items) + "]"


def build_from_options(
    spec: str, ndim: int | None, spacing: str | None, axes: str | None, max_size: int
) -> Any:
    """Build the kernel for a command's spec and shared options (``--spacing`` and friends).

    Examples
    --------
    >>> build_from_options("gaussian:sigma=1mm", None, "0.5mm", None, 1025).params["sigma_vox"]
    [2.0, 2.0]
    """
    from sepconv_cli.kernels import build_kernel, infer_ndim
    from sepconv_cli.spec import parse_spacing

    values: list[float] | None = None
    units: list[str | None] | None = None
    if spacing is not None:
        values, units = parse_spacing(spacing)
        if len(values) == 1:
            # one spacing for every axis: the axes come from --ndim, --axes or the spec
            dims = ndim or (len(axes) if axes else None) or infer_ndim(spec)
            if dims is None:
                values = units = None  # a custom kernel: its file decides; no units to resolve
            else:
                values, units = values * dims, units * dims
    return build_kernel(spec, ndim=ndim, spacing=values, units=units, axes=axes, max_size=max_size)


def kernel_document(kernel: Any) -> dict[str, Any]:
    """The ``--json`` document of a kernel.

    Examples
    --------
    >>> from sepconv_cli.kernels import build_kernel
    >>> doc = kernel_document(build_kernel("sobel:axis=x"))
    >>> doc["shape"], doc["sum"], len(doc["factors"])
    ([3, 3], 0.0, 2)
    """

    def one(k: Any) -> dict[str, Any]:
        return {
            "weights": k.weights,
            "shape": list(k.shape),
            "factors": None if k.factors is None else [f for f in k.factors],
            "sum": float(k.weights.sum()),
            "origin": list(k.origin),
            "radius": list(k.radius),
        }

    document = {"spec": kernel.spec, "name": kernel.name, "ndim": kernel.ndim, **one(kernel)}
    document["smoothing"] = kernel.smoothing
    document["terms"] = None if kernel.terms is None else kernel.terms
    document["params"] = kernel.params
    document["combine"] = kernel.combine
    document["components"] = [one(c) for c in kernel.components] or None
    return document


def _table(weights: Any, digits: int = 6) -> Any:
    from rich.table import Table

    table = Table(show_header=weights.ndim == 2, box=None, pad_edge=False)
    if weights.ndim == 1:
        table.add_column("offset", justify="right")
        table.add_column("weight", justify="right")
        for i, w in enumerate(weights):
            table.add_row(str(i - weights.size // 2), number(float(w), digits))
        return table
    table.add_column("", justify="right", style="dim", no_wrap=True)
    for j in range(weights.shape[1]):
        table.add_column(str(j - weights.shape[1] // 2), justify="right", no_wrap=True)
    for i, row in enumerate(weights):
        table.add_row(str(i - weights.shape[0] // 2), *(number(float(w), digits) for w in row))
    return table


def _fitting_table(console: Any, weights: Any) -> Any | None:
    """The weights as a table with as many digits (6, 4 or 3) as the console width allows.

    None when even 3 significant digits do not fit: a cut-off number (``9.7555…`` for
    9.7555e-05) would be misleading.
    """
    from rich.measure import Measurement

    for digits in (6, 4, 3):
        table = _table(weights, digits)
        wide = console.options.update_width(10**6)
        if Measurement.get(console, wide, table).maximum <= console.width:
            return table
    return None


def _show(kernel: Any) -> None:
    from sepconv_cli.cli.console import err_console

    console = err_console()
    shape = "×".join(map(str, kernel.shape))
    total = float(kernel.weights.sum())
    kind = (
        "smoothing: outputs keep the input dtype"
        if kernel.smoothing
        else "signed or not sum-1: outputs are float32"
    )
    console.print(
        f"{kernel.spec}: {kernel.name}, {kernel.ndim}-D, shape {shape}, sum {number(total)}"
    )
    console.print(f"  {kind}; radius per axis {', '.join(map(str, kernel.radius))}")
    params = kernel.params
    if "sigma_vox" in params:
        extra = [f"sigma (voxels) {vector(params['sigma_vox'])}"]
        if "tail_mass" in params:
            extra.append(f"radius {vector(params['radius'])}")
            extra.append(f"truncated tail mass {params['tail_mass']:.3g}")
        else:
            extra[0] = "equivalent " + extra[0]
        console.print("  " + ", ".join(extra))
    if "sigma1_vox" in params:
        console.print(
            f"  sigma1 (voxels) {vector(params['sigma1_vox'])}, "
            f"sigma2 (voxels) {vector(params['sigma2_vox'])}"
        )
    for note in params.get("notes", []):
        console.print(f"  note: {note}")
    if kernel.combine == "magnitude":
        console.print(
            f"  gradient magnitude of {len(kernel.components)} kernels (one per axis); "
            "each shown below"
        )
    for name, k in kernel.parts:
        if kernel.components:
            console.print(f"{name}:")
        if k.factors is not None:
            console.print("  exact factors (weights = outer product):")
            for axis, factor in enumerate(k.factors):
                console.print(f"    axis {axis}: {vector(factor)}")
        elif k.terms is not None:
            console.print(f"  exactly a sum of {len(k.terms)} separable terms")
        else:
            console.print("  no known factors (run `sepconv check` for its separable structure)")
        limit = _TABLE_LIMIT.get(k.ndim)
        planes: list[Any] = []
        if limit is not None and max(k.shape) <= limit:
            planes = [k.weights]
        elif k.ndim == 3 and max(k.shape) <= _SLICED_LIMIT:
            planes = list(k.weights)
        tables = [_fitting_table(console, plane) for plane in planes]
        if planes and all(t is not None for t in tables):
            for index, table in enumerate(tables):
                if k.ndim == 3:
                    console.print(f"  slice axis 0 = {index - k.shape[0] // 2}:")
                console.print(table)
        else:
            w = k.weights
            centre = w[tuple(n // 2 for n in w.shape)]
            why = (
                f"the table is wider than {console.width} columns"
                if planes
                else "tables shown up to 31 taps, 15×15, 7×7×7"
            )
            console.print(
                f"  weights: min {number(float(w.min()))}, max {number(float(w.max()))}, "
                f"centre {number(float(centre))} ({why}; use -o or --json for all)"
            )


def _write(kernel: Any, path: Path) -> None:
    import numpy as np

    from sepconv_cli.errors import UsageError
    from sepconv_cli.io.atomic import atomic_file

    if kernel.components:
        raise UsageError(
            f"-o {path}: {kernel.spec} is a gradient magnitude of {len(kernel.components)} "
            "kernels, not one kernel; add axis= to write one of them"
        )
    suffix = path.suffix.lower()
    weights = kernel.weights
    if suffix == ".npy":
        with atomic_file(path, "wb") as handle:
            np.save(handle, weights)
        return
    if suffix not in (".csv", ".txt", ".tsv"):
        raise UsageError(f"-o {path}: unknown kernel file type {suffix!r} (use .npy, .csv or .txt)")
    if weights.ndim > 3:
        raise UsageError(f"-o {path}: a {weights.ndim}-D kernel needs .npy")
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix, " ")
    slices = [weights] if weights.ndim < 3 else list(weights)
    with atomic_file(path, "w") as handle:
        for index, plane in enumerate(slices):
            if index:
                handle.write("\n")
            np.savetxt(handle, np.atleast_2d(plane), fmt="%.17g", delimiter=delimiter)


def _list_document() -> list[dict[str, Any]]:
    from sepconv_cli.kernels import KERNELS

    aliases = KERNELS.aliases()
    return [
        {
            "name": name,
            "aliases": sorted(a for a, n in aliases.items() if n == name),
            "summary": builder.summary,
            "ndim": builder.fixed_ndim,
            "keys": [{"key": p.key, "default": p.default, "help": p.help} for p in builder.params],
        }
        for name, builder in KERNELS
    ]


def _show_list() -> None:
    from rich import box
    from rich.table import Table

    from sepconv_cli.cli.console import err_console

    table = Table(title="kernels (sepconv kernel NAME:key=value,...)", box=box.SIMPLE_HEAD)
    table.add_column("kernel", style="bold", no_wrap=True)
    table.add_column("keys (default)", no_wrap=True)
    table.add_column("what it is")
    for entry in _list_document():
        keys = "\n".join(
            f"{k['key']}={k['default']}" if k["default"] is not None else k["key"]
            for k in entry["keys"]
        )
        name = entry["name"] + (f"\n({', '.join(entry['aliases'])})" if entry["aliases"] else "")
        table.add_row(name, keys, entry["summary"])
    err_console().print(table)
    err_console().print(
        "Values take units (2, 2mm, 0.5um, 3vox) and per-axis lists (2x2x1mm) in array order; "
        "keys without a default are optional or chosen by the kernel."
    )


def kernel(
    spec: str = typer.Argument(None, metavar="SPEC", help=_SPEC_HELP, show_default=False),
    list_: bool = typer.Option(
        False, "--list", help="List every kernel with its keys and defaults."
    ),
    ndim: int = typer.Option(
        None, "--ndim", help="Number of axes (default: from --spacing, the spec, or 2)."
    ),
    spacing: str = typer.Option(
        None, "--spacing", help="Voxel spacing per axis for physical units, e.g. 2x2x1mm, 0.5um."
    ),
    axes: str = typer.Option(
        None,
        "--axes",
        help="Axis letters in array order for axis=x (default yx / zyx; NIfTI: xyz).",
    ),
    max_size: int = typer.Option(1025, "--max-size", help="Largest kernel size per axis."),
    output: Path = typer.Option(
        None, "-o", "--output", help="Write the weights to FILE (.npy, or .csv/.txt for <= 3-D)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    plot: Path = typer.Option(
        None, "--plot", help="Draw the kernel to FILE.png (needs matplotlib: sepconv-cli[plot])."
    ),
) -> None:
    """Show what a kernel spec builds (see ``HELP``)."""
    from sepconv_cli.cli.console import print_json
    from sepconv_cli.errors import UsageError

    if list_:
        if json_:
            print_json({"kernels": _list_document()})
        else:
            _show_list()
        return
    if spec is None:
        raise UsageError("give a kernel SPEC (or --list to see the kernels)")
    built = build_from_options(spec, ndim, spacing, axes, max_size)
    if output is not None:
        _write(built, output)
    if plot is not None:
        from sepconv_cli.plots import plot_kernel

        plot_kernel(built, plot)
    if json_:
        print_json(kernel_document(built))
    else:
        _show(built)
        if output is not None:
            from sepconv_cli.cli.console import message

            message(f"wrote {output}")
        if plot is not None:
            from sepconv_cli.cli.console import message

            message(f"wrote {plot}")


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
    app.command("kernel", help=HELP)(kernel)
