"""Running a batch from the command line (:func:`run_batch_command`) and how it looks while
it runs: a Rich progress bar on a terminal, plain lines in a log, JSON lines with ``--json``.

* stdout: with ``json_lines``, one object per finished file and a final ``{"summary": ...}``;
  nothing else, ever.
* stderr, always: one ``sepconv: error: PATH: reason`` line per failed file.
* stderr unless ``quiet``: on a terminal (and ``NO_COLOR`` unset) a progress bar with the
  files done/total, the current file, files/s and the ETA; elsewhere one plain line per file;
  and a summary line at the end.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from sepconv_cli.cli.console import err_console, message, print_json, stderr_is_interactive


def summary_line(summary: Any, *, done_word: str = "done") -> str:
    """The one-line human summary of a :class:`~sepconv_cli.batch.runner.Summary`.

    Examples
    --------
    >>> from sepconv_cli.batch.runner import Summary
    >>> summary_line(Summary(total=3, done=2, failed=1, elapsed_s=2.0, macs=3_000_000))
    'sepconv: 2 done, 0 skipped, 1 failed of 3 files in 2.00 s (1.0 files/s, 3 MMAC)'
    """
    from sepconv_cli.cli.report import si

    head = "sepconv: interrupted: " if summary.interrupted else "sepconv: "
    text = (
        f"{head}{summary.done} {done_word}, {summary.skipped} skipped, {summary.failed} failed "
        f"of {summary.total} file{'' if summary.total == 1 else 's'} in {summary.elapsed_s:.2f} s"
    )
    rate = f"{summary.done / summary.elapsed_s:.1f} files/s, " if summary.elapsed_s > 0 else ""
    text += f" ({rate}{si(summary.macs, 'MAC')})"
    if summary.not_run:
        text += f"; {summary.not_run} not run"
    return text


def file_line(result: dict[str, Any], index: int, total: int) -> str:
    """One plain log line for a finished file.

    Examples
    --------
    >>> file_line({"path": "a.png", "output": "o/a.png", "status": "ok", "time_s": 0.5}, 1, 2)
    '[1/2] ok a.png -> o/a.png (0.50 s)'
    """
    width = len(str(total))
    report = result.get("report") or {}
    status = "plan" if report.get("dry_run") else result["status"]
    text = f"[{index:{width}d}/{total}] {status} {result['path']} -> {result['output']}"
    if result["status"] == "skipped":
        return f"{text} (exists)"
    if result.get("time_s") is not None and not report.get("dry_run"):
        text += f" ({result['time_s']:.2f} s)"
    return text


def plan_text(result: dict[str, Any]) -> str:
    """What a per-file report says in a few words: method, backend, MACs, saving vs direct.

    Examples
    --------
    >>> plan_text({"report": {"method": "separable", "backend": "numpy", "macs": 2_000_000,
    ...                       "saving_vs_direct": 4.5}})
    'separable/numpy, 2 MMAC, 4.5x fewer FLOPs than direct'
    >>> plan_text({"report": {"method": "fft", "backend": "numpy", "macs": 9_000,
    ...                       "saving_vs_direct": 0.25}})
    'fft/numpy, 9 kMAC, 4x more FLOPs than direct'
    """
    from sepconv_cli.cli.report import saving_text, si

    report = result.get("report") or {}
    text = f"{report.get('method')}/{report.get('backend')}, {si(report.get('macs'), 'MAC')}"
    saving = report.get("saving_vs_direct")
    if saving:
        text += f", {saving_text(saving)}"
    return text


class BatchProgress:
    """Callbacks for :func:`sepconv_cli.batch.runner.run_batch` that render its progress.

    Use as a context manager around the run; pass :meth:`start` as ``on_start`` and
    :meth:`result` as ``on_result``, then call :meth:`finish` with the summary.

    Parameters
    ----------
    total
        Number of files.
    json_lines
        Print each result and the summary as JSON lines on stdout.
    quiet
        Print only errors on stderr.
    describe
        Optional ``result -> str`` appended to plain per-file lines (e.g. the plan of a dry run).
    dry_run
        The files are only planned (the summary says "planned", not "done").
    """

    def __init__(
        self,
        total: int,
        *,
        json_lines: bool = False,
        quiet: bool = False,
        describe: Any = None,
        dry_run: bool = False,
    ) -> None:
        self.total = total
        self.dry_run = dry_run
        self.json_lines = json_lines
        self.quiet = quiet
        self.describe = describe
        self.finished = 0
        self._bar: Any = None
        self._task_id: Any = None

    def __enter__(self) -> BatchProgress:
        if not self.quiet and stderr_is_interactive():
            self._bar = _make_bar()
            self._bar.start()
            self._task_id = self._bar.add_task("starting", total=self.total)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            message(text)

    def start(self, task: Any) -> None:
        """A file was handed to a worker: show it as the current file."""
        if self._bar is not None:
            name = os.path.basename(task.input.path) or task.input.path
            self._bar.update(self._task_id, description=name)

    def result(self, result: dict[str, Any]) -> None:
        """A file finished (ok, failed or skipped)."""
        self.finished += 1
        if self.json_lines:
            print_json(result)
        if result["status"] == "failed":
            error = str(result["error"])
            where = "" if result["path"] in error else f"{result['path']}: "
            self._print(f"sepconv: error: {where}{error}")
        elif not self.quiet and self._bar is None:
            line = file_line(result, self.finished, self.total)
            if self.describe is not None and result.get("report"):
                line += f": {self.describe(result)}"
            self._print(line)
        if self._bar is not None:
            self._bar.advance(self._task_id)

    def finish(self, summary: Any) -> None:
        """Stop the bar, print the summary line (stderr) and the JSON summary (stdout)."""
        if self._bar is not None:
            self._bar.update(
                self._task_id, description="interrupted" if summary.interrupted else "done"
            )
        self.__exit__(None, None, None)
        if self.json_lines:
            print_json({"summary": summary.to_dict()})
        if not self.quiet or summary.interrupted:
            message(summary_line(summary, done_word="planned" if self.dry_run else "done"))


def _make_bar() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class FilesPerSecond(ProgressColumn):
        """Throughput in files per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- files/s" if speed is None else f"{speed:.1f} files/s")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        FilesPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=False,
    )


def run_batch_command(
    inputs: list[Any],
    output: str | None,
    worker: Any,
    *,
    name_template: str,
    format: str | None,
    jobs: int | None,
    fail_fast: bool,
    skip_existing: bool,
    json_out: bool,
    quiet: bool,
    report_file: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
) -> int:
    """Plan, run and render a batch; return the exit code (0, 1, 3 or 130).

    Parameters
    ----------
    inputs
        :class:`~sepconv_cli.batch.inputs.InputFile` list from
        :func:`~sepconv_cli.batch.inputs.expand_inputs`.
    output
        ``-o``: the output folder (required).
    worker
        Picklable ``worker(task) -> report dict`` (see
        :func:`~sepconv_cli.batch.apply_job.apply_task`).
    name_template, format
        ``--name`` and ``--format``.
    jobs
        ``--jobs`` (None: one per core).
    fail_fast, skip_existing
        As :func:`~sepconv_cli.batch.runner.run_batch`.
    json_out, quiet
        ``--json`` (JSON lines on stdout) and ``--quiet`` (only errors on stderr).
    report_file
        Also write the JSON lines to this file (atomically, at the end); checked against the
        planned outputs before any file is run.
    dry_run
        The worker only plans (``--dry-run``); said so in the summary line.
    """
    from sepconv_cli.batch.outputs import plan_outputs
    from sepconv_cli.batch.runner import default_jobs, run_batch
    from sepconv_cli.errors import UsageError

    if output is None:
        raise UsageError(f"{len(inputs)} inputs need -o FOLDER for their outputs")
    tasks = plan_outputs(inputs, output, name_template=name_template, format=format)
    if report_file is not None:
        report = Path(report_file).resolve()
        for task in tasks:
            if Path(task.output).resolve() == report:
                raise UsageError(
                    f"--report {os.fspath(report_file)}: is the output of {task.input.path}; "
                    "choose another path"
                )
    records: list[dict[str, Any]] = []
    renderer = BatchProgress(
        len(tasks), json_lines=json_out, quiet=quiet, describe=plan_text, dry_run=dry_run
    )

    def on_result(result: dict[str, Any]) -> None:
        if report_file is not None:
            records.append(result)
        renderer.result(result)

    with renderer:
        summary = run_batch(
            tasks,
            worker,
            jobs=jobs or default_jobs(),
            fail_fast=fail_fast,
            skip_existing=skip_existing,
            on_result=on_result,
            on_start=renderer.start,
        )
    renderer.finish(summary)
    if report_file is not None:
        from sepconv_cli.cli.console import to_json
        from sepconv_cli.io.atomic import atomic_file

        with atomic_file(report_file, "w") as handle:
            for record in [*records, {"summary": summary.to_dict()}]:
                handle.write(to_json(record) + "\n")
    return int(summary.exit_code)
