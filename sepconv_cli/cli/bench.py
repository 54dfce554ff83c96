"""`sepconv bench`: time every method and backend on a Gaussian sweep and mark the crossover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_HELP = """Time every method (direct, separable, lowrank, fft) on every in-memory backend
(numpy, numba) for Gaussians of each kernel size, on random data or a FILE.

Prints medians per size, marks the fastest case (*), where the fastest method changes
(the direct/separable/FFT crossover) and how close `auto` (the planner's choice) comes to
the fastest. Cases predicted slower than --max-seconds are skipped.

Examples:

  sepconv bench --shape 2048x2048 --kernels 3,7,15,31,63

  sepconv bench brain.nii.gz --kernels 5,13 --json

  sepconv bench --shape 256x256x256 --plot bench.png
"""


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _render(result: Any) -> None:
    from rich.table import Table

    from sepconv_cli.cli.console import err_console, message

    cases = list(dict.fromkeys((r.method, r.backend) for r in result.rows if r.method != "auto"))
    # A case skipped at every size (lowrank of a rank-1 Gaussian) gets a note, not a column.
    cases = [
        c
        for c in cases
        if any((r.method, r.backend) == c and r.status == "ok" for r in result.rows)
    ]
    shape = "x".join(map(str, result.shape))
    table = Table(
        title=f"sepconv bench: {shape} {result.dtype} ({result.axes}, {result.source}), "
        f"median of {result.repeat}",
        title_justify="left",
    )
    table.add_column("size", justify="right")
    table.add_column("sigma", justify="right")
    for method, backend in cases:
        table.add_column(f"{method}\n{backend}", justify="right")
    table.add_column("auto", justify="right")
    crossing = {c["size"] for c in result.crossovers}
    notes = list(dict.fromkeys(r.note for r in result.rows if r.status == "skipped" and r.note))
    for size in result.sizes:
        rows = {(r.method, r.backend): r for r in result.rows if r.size == size}
        best = result.fastest.get(size, {})
        cells = []
        for case in cases:
            r = rows.get(case)
            if r is None or r.status != "ok":
                cells.append("skip" if r is not None else "-")
                continue
            mark = "*" if (best.get("method"), best.get("backend")) == case else ""
            cells.append(_fmt(r.time_s) + mark)
        auto = result.auto.get(size)
        if auto:
            ratio = auto["ratio_to_fastest"]
            cells.append(
                f"{'= ' if auto['chose_fastest'] else ''}{auto['method']}/{auto['backend']} "
                f"{_fmt(auto['time_s'])}" + (f" ({ratio:.2f}x)" if ratio else "")
            )
        else:
            cells.append("-")
        label = f"{size}{' <' if size in crossing else ''}"
        table.add_row(label, f"{size and (size - 1) / 8:g}", *cells)
    err_console().print(table)
    for cross in result.crossovers:
        message(f"crossover at size {cross['size']}: {cross['from']} -> {cross['to']} is fastest")
    if any(a["chose_fastest"] for a in result.auto.values()):
        message("auto: '=' marks the fastest case; its ratio then only shows timing noise")
    for note in notes:
        message(f"skipped: {note}")
    if result.numba:
        message(
            f"numba kernels: {result.numba['loaded']} loaded from the cache, "
            f"{result.numba['compiled']} compiled ({result.numba['cache_dir']})"
        )


def _announce_compile(backends: list[str] | None) -> None:
    from sepconv_cli.cli.console import message
    from sepconv_cli.engine.backends import backend_available

    if backends is not None and "numba" not in backends:
        return
    if not backend_available("numba"):
        return
    from sepconv_cli.engine import numba_backend

    if not numba_backend.cache_ready():
        message("compiling numba kernels (first run on this machine, ~10-30 s)...")


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""

    @app.command("bench", help=_HELP, no_args_is_help=False)
    def bench(
        file: Path | None = typer.Argument(
            None, help="Benchmark on this image instead of random data.", show_default=False
        ),
        shape: str = typer.Option("2048x2048", "--shape", help="Synthetic image shape."),
        kernels: str = typer.Option(
            "3,7,15,31,63", "--kernels", help="Gaussian kernel sizes (odd taps per axis)."
        ),
        dtype: str = typer.Option("float32", "--dtype", help="Synthetic data dtype."),
        axes: str | None = typer.Option(
            None, "--axes", help="Axis roles (e.g. yxc, zyx); default from the shape or file."
        ),
        methods: str = typer.Option(
            "direct,separable,lowrank,fft", "--methods", help="Methods to time."
        ),
        backends: str | None = typer.Option(
            None, "--backends", help="Backends to time (default: numpy and numba if installed)."
        ),
        mode: str = typer.Option("reflect", "--mode", help="Boundary mode."),
        repeat: int = typer.Option(3, "--repeat", "-r", help="Timed runs per case (median)."),
        max_seconds: float = typer.Option(
            2.0, "--max-seconds", help="Skip cases predicted to take longer than this."
        ),
        plot: Path | None = typer.Option(
            None, "--plot", help="Draw time vs kernel size per method to FILE.png (matplotlib)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
    ) -> None:
        from sepconv_cli.benchmark import parse_shape, parse_sizes, run_bench, synthetic_image
        from sepconv_cli.boundary import canonical_mode
        from sepconv_cli.cli.console import message, print_json, warn
        from sepconv_cli.errors import BackendUnavailableError

        sizes = parse_sizes(kernels)
        method_list = [m.strip().lower() for m in methods.split(",") if m.strip()]
        backend_list = (
            [b.strip().lower() for b in backends.split(",") if b.strip()] if backends else None
        )
        mode = canonical_mode(mode)
        if file is not None:
            from sepconv_cli.io import read

            image = read(file, axes=axes)
            source = str(file)
        else:
            image = synthetic_image(parse_shape(shape), dtype, axes)
            source = "synthetic"
        _announce_compile(backend_list)
        if not as_json:
            message(f"timing {len(sizes)} kernel sizes on {source} {image.shape} ...")
        result = run_bench(
            image,
            sizes=sizes,
            methods=method_list,
            backends=backend_list,
            repeat=repeat,
            max_seconds=max_seconds,
            mode=mode,
            source=source,
        )
        if as_json:
            print_json(result.to_dict())
        else:
            _render(result)
        if plot is not None:
            from sepconv_cli.benchmark import plot_bench

            try:
                written = plot_bench(result, plot)
            except BackendUnavailableError as exc:
                warn(str(exc))
            else:
                message(f"wrote {written}")
