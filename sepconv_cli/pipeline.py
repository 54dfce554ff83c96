"""The per-file job: read -> plan -> filter -> write atomically -> report dict.

:func:`apply_file` is what ``sepconv apply`` runs for each input, in-process or in a worker
process of a batch; it takes a plain :class:`~sepconv_cli.engine.ApplyOptions` (picklable)
and returns a JSON-able dict. It never prints.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sepconv_cli.engine.options import ApplyOptions


def _should_read_lazily(input_path: str, options: ApplyOptions) -> bool:
    if input_path == "-":
        return False
    if options.backend == "dask":
        return True
    if os.path.isdir(input_path):  # a Zarr store: its size is in its chunk files
        return True
    try:
        size = os.path.getsize(input_path)
    except OSError:
        return False
    limit = options.memory_limit or 0
    return size > limit or _tiff_pixel_bytes(input_path) > limit


def _tiff_pixel_bytes(path: str) -> int:
    """Uncompressed bytes of a TIFF's first series (0 for other files): a compressed stack
    can hold many times its file size, and it can be read lazily, page by page."""
    with open(path, "rb") as handle:
        if handle.read(4) not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return 0
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return int(tif.series[0].nbytes) if tif.series else 0
    except Exception:  # a damaged file: the reader reports it properly
        return 0


def _mask_inputs(options: ApplyOptions) -> list[str]:
    mask = options.mask
    if isinstance(mask, (str, os.PathLike)):
        return [os.fspath(mask)]
    return []


def check_target(source: str, target: str | None, options: ApplyOptions) -> None:
    """Refuse an output that cannot be written before any work: no folder, an input, no format.

    The same checks :func:`sepconv_cli.io.write` makes at the end, run first so that a typo in
    ``-o`` costs no reading or filtering. Nothing to check for stdout or a dry run.

    Examples
    --------
    >>> options = ApplyOptions(kernels=("box",))
    >>> check_target("in.npy", "/no/such/folder/out.npy", options)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sepconv_cli.errors.FormatError: /no/such/folder/out.npy: output folder ... does not exist
    """
    from pathlib import Path

    from sepconv_cli.io.atomic import check_output_folder, refuse_inputs
    from sepconv_cli.io.formats import from_suffix, lookup

    if target is None or target == "-" or options.dry_run:
        return
    path = Path(target)
    fmt = lookup(options.format) if options.format is not None else from_suffix(path)
    if fmt is None:
        return  # io.write names the formats it knows
    outputs = fmt.output_paths(path)
    refuse_inputs(outputs, ([] if source == "-" else [source]) + _mask_inputs(options))
    for output in outputs:
        check_output_folder(output, directory=fmt.directory)


def _verify_written(image: Any, p: Any, target: str, options: ApplyOptions) -> dict[str, Any]:
    """``--verify`` for a chunked run: read a crop of the written output back and compare."""
    from sepconv_cli.engine.run import load_mask, verify_result
    from sepconv_cli.io import read

    written = read(target, format=options.format, axes=p.axes, lazy=True)
    result = verify_result(image.data, written.data, p, load_mask(options.mask))
    result["compared"] = f"the written {p.output_dtype} output"
    return result


def apply_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str] | None,
    options: ApplyOptions,
    *,
    progress: Any = None,
    notify: Any = None,
) -> dict[str, Any]:
    """Filter one file into another and return the run report.

    Parameters
    ----------
    input_path
        The input file (``"-"``: stdin).
    output_path
        The output file (``"-"``: stdout, needs ``options.format``); None or any value with
        ``options.dry_run`` writes nothing.
    options
        The run options; ``options.kernels`` are built for this image (physical units resolve
        against its spacing).
    progress
        ``progress(done, total)`` for chunked (dask) runs.
    notify
        ``notify(text)`` hears about slow one-off work before it starts (a first numba
        compile), e.g. to tell the user.

    Returns
    -------
    dict
        :meth:`sepconv_cli.engine.Report.to_dict` plus ``input``, ``output``, ``read_s``,
        ``write_s`` and ``total_s`` (reading, filtering and writing).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "in.npy", np.ones((16, 16), np.float32))
    >>> doc = apply_file(folder / "in.npy", folder / "out.npy",
    ...                  ApplyOptions(kernels=("gaussian:sigma=1",)))
    >>> doc["method"], float(np.load(folder / "out.npy").mean())
    ('separable', 1.0)
    """
    from sepconv_cli.engine.planner import plan
    from sepconv_cli.engine.report import Report
    from sepconv_cli.engine.run import add_count_warnings, execute
    from sepconv_cli.io import check_output_dtype, read, write

    start = time.perf_counter()
    options = options.normalized()
    source = os.fspath(input_path)
    target = None if output_path is None else os.fspath(output_path)
    if target is None and not options.dry_run:
        from sepconv_cli.errors import UsageError

        raise UsageError("no output given: use -o FILE (or -o - with --format)")
    check_target(source, target, options)
    lazy = _should_read_lazily(source, options)
    image = read(source, axes=options.axes, lazy=lazy)
    read_s = time.perf_counter() - start
    warnings = list(image.meta.get("warnings", []))
    p = plan(image, None, options)
    if not options.dry_run:  # a float result for PNG/JPEG: refused before filtering, not after
        check_output_dtype(p.output_dtype, target, format=options.format)
    extra: dict[str, Any] = {"input": source, "output": target, "read_s": read_s}
    if p.backend == "dask" and not options.dry_run:
        from sepconv_cli.engine.dask_backend import apply_lazy

        t0 = time.perf_counter()
        stats = apply_lazy(image, p, target, options, progress=progress)
        warnings += stats.pop("warnings", [])
        report = Report(p, time_s=time.perf_counter() - t0, warnings=warnings)
        report.clipped = int(stats.get("clipped", 0))
        report.nonfinite = int(stats.get("nonfinite", 0))
        add_count_warnings(report, p)
        report.extra.update(extra, dask=stats, write_s=None)
        report.extra["time_includes_write"] = True
        if options.verify and target == "-":
            report.warnings.append("--verify needs a file output for a chunked run; skipped")
        elif options.verify:
            report.verify = _verify_written(image, p, target, options)
    else:
        if lazy and not options.dry_run:
            import numpy as np

            image = image.replace(data=np.asarray(image.data))
        out, report = execute(image, p, notify=notify)
        report.warnings[:0] = warnings
        report.extra.update(extra)
        if p.backend == "dask":  # a dry run: the chunks a run would use
            from sepconv_cli.engine.dask_backend import planned_chunks

            report.extra["dask"] = planned_chunks(image, p, options)
        if not options.dry_run:
            t0 = time.perf_counter()
            inputs = ([] if source == "-" else [source]) + _mask_inputs(options)
            write(out, target, format=options.format, inputs=inputs)
            report.extra["write_s"] = time.perf_counter() - t0
    report.total_s = time.perf_counter() - start
    return report.to_dict()
