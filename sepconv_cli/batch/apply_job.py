"""The per-file job of ``sepconv apply`` in a batch, and the check of its specs before it."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from sepconv_cli.batch.outputs import Task


def check_specs(options: Any) -> None:
    """Check the kernel specs of ``options`` (names, keys) once, before a batch starts, so a
    typo is one usage error (exit 2) rather than one failure per file.

    Examples
    --------
    >>> from sepconv_cli.engine import ApplyOptions
    >>> check_specs(ApplyOptions(kernels=("gausian:sigma=2",)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sepconv_cli.errors.SpecError: unknown kernel 'gausian'; did you mean 'gaussian'? ...
    """
    from sepconv_cli.kernels import KERNELS
    from sepconv_cli.spec import parse

    for text in (*options.kernels, *([options.spectral] if options.spectral else [])):
        spec = parse(text)
        KERNELS.get(spec.name).values(spec.params)


def apply_task(task: Task, options: Any) -> dict[str, Any]:
    """The per-file job of ``sepconv apply``: :func:`sepconv_cli.pipeline.apply_file`.

    Creates the output's folder first (not for a dry run); when the file fails,
    :func:`~sepconv_cli.batch.runner.run_batch` removes the folders made for it again.
    ``options`` is an :class:`~sepconv_cli.engine.ApplyOptions`; the task's output format
    replaces ``options.format`` when set. In a batch use ``functools.partial(apply_task,
    options=options)`` (picklable).

    Examples
    --------
    >>> import functools
    >>> from sepconv_cli.engine import ApplyOptions
    >>> from sepconv_cli.batch.inputs import InputFile
    >>> from sepconv_cli.batch.worker import run_task
    >>> worker = functools.partial(apply_task, options=ApplyOptions(kernels=("box:size=3",)))
    >>> run_task(worker, Task(InputFile("missing.png", ".", "missing.png"), "out.png"))["status"]
    'failed'
    """
    from sepconv_cli.pipeline import apply_file

    if task.format is not None:
        options = dataclasses.replace(options, format=task.format)
    folder = os.path.dirname(task.output)
    if task.output != "-" and folder and not options.dry_run:
        os.makedirs(folder, exist_ok=True)
    return apply_file(task.input.path, task.output, options)
