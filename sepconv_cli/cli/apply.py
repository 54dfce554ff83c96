"""`sepconv apply`: filter an image, volume or cube with one or more kernels."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

HELP = (
    "Filter INPUT with kernels (-k, applied in order) and write OUTPUT (-o).\n\n"
    "sepconv CONVOLVES (the kernel is flipped, as scipy.ndimage.convolve); --correlate "
    "correlates. Only spatial axes (x, y, z) are filtered: colour channels, time points and "
    "spectral bands are never mixed, unless --spectral adds a 1-D kernel on the band axis. "
    "--method auto picks the cheapest of direct, separable, lowrank and fft by a cost model "
    "measured on this machine; every method gives the same result for every --mode. A report "
    "(shape, kernel rank, sigma in voxels, op counts per method, time, GMAC/s) goes to "
    "stderr; --json prints it on stdout.\n\n"
    "Many files: give several INPUTs, folders (-r recurses), quoted globs ('scans/**/*.nii.gz'), "
    "@list.txt (one path per line) or '-' (stdin); -o is then a folder whose layout mirrors "
    "the inputs'. Files run in --jobs worker processes; a bad file is reported and the batch "
    "goes on. Exit codes: 0 all done, 1 nothing done, 2 usage error, 3 some files failed, "
    "130 interrupted.\n\n"
    "Examples: sepconv apply scan.nii.gz -k gaussian:fwhm=6mm -o smooth.nii.gz ; "
    "sepconv apply -r scans/ -k gaussian:fwhm=6mm -o smoothed/ --name '{stem}_s6{ext}' --json"
)


def build_options(**values: Any) -> Any:
    """The CLI's option values -> :class:`sepconv_cli.engine.ApplyOptions` (validated)."""
    from sepconv_cli.engine.options import ApplyOptions

    return ApplyOptions(**values).normalized()


@contextlib.contextmanager
def chunk_progress(*, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A ``progress(done, total)`` callback drawing a Rich bar for chunked (dask) runs.

    None when disabled or when stderr is not a terminal (or NO_COLOR is set). The bar starts
    at the first call, which only a chunked run makes: an in-memory run shows no bar.
    """
    from sepconv_cli.cli.console import err_console, stderr_is_interactive

    if not enabled or not stderr_is_interactive():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar: Progress | None = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            bar = Progress(
                "chunks",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console(),
                transient=True,
            )
            task = bar.add_task("filter", total=total, completed=done)
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def check_report_path(
    report_file: str | None,
    *,
    json_out: bool,
    output: str | None,
    inputs: list[str],
) -> None:
    """Refuse a bad ``--report`` before any work is done (exit 2, or 1 for a missing folder).

    ``-`` (stdout) cannot go with ``--json`` or ``-o -``; a file must be creatable in a
    writable folder (as an output) and be neither an input nor the output.

    Examples
    --------
    >>> check_report_path("-", json_out=False, output="out.npy", inputs=["in.npy"])
    >>> check_report_path("-", json_out=True, output="out.npy", inputs=["in.npy"])
    Traceback (most recent call last):
    ...
    sepconv_cli.errors.UsageError: --report - and --json both print the report on stdout; give one
    """
    from sepconv_cli.errors import SepconvError, UsageError
    from sepconv_cli.io.atomic import check_output_folder, refuse_inputs

    if report_file is None:
        return
    if report_file == "-":
        if json_out:
            raise UsageError("--report - and --json both print the report on stdout; give one")
        if output == "-":
            raise UsageError("--report - and -o - both want stdout; use --report FILE")
        return
    target = Path(report_file)
    try:
        check_output_folder(target)
        refuse_inputs([target], inputs)
    except SepconvError as exc:  # say which option: the same rules as for an output
        raise type(exc)(f"--report {exc}") from None
    if output not in (None, "-") and Path(output).resolve() == target.resolve():
        raise UsageError(f"--report {report_file}: is the output file; choose another path")


def emit_report(
    doc: dict[str, Any], *, json_out: bool, report_file: str | None, quiet: bool
) -> None:
    """Show one run's report: stderr (unless quiet), stdout as JSON, and/or a JSON file."""
    from sepconv_cli.cli.console import print_json, to_json
    from sepconv_cli.cli.report import render

    if report_file is not None:
        from sepconv_cli.io.atomic import atomic_file

        with atomic_file(report_file, "w") as handle:
            handle.write(to_json(doc) + "\n")
    if json_out:
        print_json(doc)
    if not quiet:
        render(doc)


def apply_command(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Input files, folders, quoted globs, @list.txt, or '-' (stdin).",
    ),
    kernels: list[str] = typer.Option(
        [], "-k", "--kernel", metavar="SPEC", help="Kernel spec; repeat to chain (see `kernel`)."
    ),
    output: str | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Output file ('-': stdout, needs --format); a folder for several inputs.",
    ),
    recursive: bool = typer.Option(
        False, "-r", "--recursive", help="Descend into sub-folders of folder inputs."
    ),
    name: str = typer.Option(
        "{stem}{ext}",
        "--name",
        help="Output file name in the -o folder: {stem} {ext} {name} {parent} {format}.",
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", help="Worker processes for several files (default: one per core)."
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first bad file."),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Leave inputs whose output already exists."
    ),
    method: str = typer.Option(
        "auto", "--method", "-m", help="auto | direct | separable | lowrank | fft."
    ),
    backend: str = typer.Option("auto", "--backend", help="auto | numpy | numba | dask."),
    rank: int | None = typer.Option(
        None, "--rank", min=1, help="Low-rank terms (default: smallest meeting --tol)."
    ),
    tol: float = typer.Option(
        1e-6, "--tol", help="Relative error allowed for the low-rank split of a kernel."
    ),
    max_rank: int = typer.Option(8, "--max-rank", min=1, help="Most low-rank terms to try."),
    mode: str = typer.Option(
        "reflect",
        "--mode",
        help="Boundary: reflect | mirror | nearest | constant | wrap (aliases: symmetric, "
        "reflect101, replicate, zero, periodic).",
    ),
    cval: float = typer.Option(0.0, "--cval", help="Value outside the image for --mode constant."),
    correlate: bool = typer.Option(False, "--correlate", help="Correlate (do not flip)."),
    precision: str | None = typer.Option(
        None, "--precision", help="Compute in float32 (default) or float64."
    ),
    dtype: str | None = typer.Option(
        None, "--dtype", help="Output dtype (default: input's for smoothing, else float32)."
    ),
    nan: str = typer.Option("propagate", "--nan", help="NaN/Inf: propagate | ignore | zero."),
    mask: str | None = typer.Option(
        None, "--mask", metavar="FILE", help="Smooth only inside this mask (non-zero)."
    ),
    spectral: str | None = typer.Option(
        None, "--spectral", metavar="SPEC", help="1-D kernel on the band axis (cubes)."
    ),
    axes: str | None = typer.Option(
        None, "--axes", help="Axis roles in array order, e.g. yxb (overrides the file's)."
    ),
    spacing: str | None = typer.Option(
        None, "--spacing", help="Spatial spacing for physical units, e.g. 2x2x1mm (overrides)."
    ),
    memory_limit: str | None = typer.Option(
        None,
        "--memory-limit",
        help="Above this input size use dask; a size (512MiB, 4GB) or a share of RAM (50%); "
        "also sizes the chunks (default: a quarter of the RAM).",
    ),
    chunks: str | None = typer.Option(None, "--chunks", help="Dask chunk shape, e.g. 256x256."),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); selects the dask backend.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Local dask worker processes (a LocalCluster); selects the dask backend.",
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Also compare with a float64 direct reference."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; compute nothing."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the report as JSON on stdout (JSON lines for a batch)."
    ),
    report_file: str | None = typer.Option(
        None,
        "--report",
        metavar="FILE",
        help="Also write the JSON report to FILE (JSON lines for a batch); '-': stdout, "
        "as --json (not with --json or -o -).",
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", help="Output format name."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No report or progress on stderr; only errors."
    ),
) -> None:
    from sepconv_cli.errors import UsageError

    options = build_options(
        kernels=tuple(kernels),
        method=method,
        backend=backend,
        rank=rank,
        tol=tol,
        max_rank=max_rank,
        mode=mode,
        cval=cval,
        correlate=correlate,
        precision=precision,
        dtype=dtype,
        nan=nan,
        mask=mask,
        spectral=spectral,
        axes=axes,
        spacing=spacing,
        memory_limit=memory_limit,
        chunks=chunks,
        scheduler=scheduler,
        workers=workers,
        verify=verify,
        dry_run=dry_run,
        format=fmt,
    )
    from sepconv_cli.batch.apply_job import check_specs
    from sepconv_cli.batch.inputs import expand_inputs
    from sepconv_cli.batch.outputs import is_batch, plan_outputs
    from sepconv_cli.batch.runner import stop_signals

    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    check_specs(options)
    found = expand_inputs(inputs, recursive=recursive)
    check_report_path(
        report_file,
        json_out=json_out,
        output=output,
        inputs=[p for f in found for p in (f.path, *f.sidecars)],
    )
    if report_file == "-":  # the report on stdout is what --json prints
        json_out, report_file = True, None
    if is_batch(found, output, name):
        import functools

        from sepconv_cli.batch.apply_job import apply_task
        from sepconv_cli.cli.progress import run_batch_command

        code = run_batch_command(
            found,
            output,
            functools.partial(apply_task, options=options),
            name_template=name,
            format=fmt,
            jobs=jobs,
            fail_fast=fail_fast,
            skip_existing=skip_existing,
            json_out=json_out,
            quiet=quiet,
            report_file=report_file,
            dry_run=dry_run,
        )
        raise typer.Exit(code)
    if output is None and not dry_run:
        raise UsageError("no output given: use -o FILE (or -o - with --format)")
    if output == "-" and json_out:
        raise UsageError("--json and -o - both want stdout; use --report FILE for the report")
    from sepconv_cli.cli.console import message
    from sepconv_cli.pipeline import apply_file

    if output is not None:
        plan_outputs(found, output, format=fmt)  # refuses an output equal to the input
        if skip_existing and output != "-" and os.path.exists(output):
            if not quiet:
                message(f"sepconv: {output} exists; skipped (--skip-existing)")
            return
    with stop_signals(), chunk_progress(enabled=not quiet) as progress:  # SIGTERM as Ctrl-C
        doc = apply_file(
            found[0].path, output, options, progress=progress, notify=None if quiet else message
        )
    emit_report(doc, json_out=json_out, report_file=report_file, quiet=quiet)


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
    app.command("apply", help=HELP)(apply_command)
