"""How a batch looks while it runs: a Rich progress bar on a terminal, plain lines in a log,
JSON lines on stdout with ``--json``.

* stdout: with ``json_lines``, one object per finished file and a final ``{"summary": ...}``;
  nothing else, ever.
* stderr, always: one ``sepconv: error: PATH: reason`` line per failed file.
* stderr unless ``quiet``: on a terminal (and ``NO_COLOR`` unset) a progress bar with the
  files done/total, the current file, files/s and the ETA; elsewhere one plain line per file;
  and a summary line at the end.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from sepconv_cli.cli.console import err_console, message, print_json, stderr_is_interactive


def _si(value: float, unit: str) -> str:
    """``1.5e9, "MAC"`` -> ``"1.50 GMAC"``."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def summary_line(summary: Any) -> str:
    """The one-line human summary of a :class:`~sepconv_cli.batch.Summary`.

    Examples
    --------
    >>> from sepconv_cli.batch import Summary
    >>> summary_line(Summary(total=3, done=2, failed=1, elapsed_s=2.0, macs=3_000_000))
    'sepconv: 2 done, 0 skipped, 1 failed of 3 files in 2.00 s (1.0 files/s, 3.00 MMAC)'
    """
    head = "sepconv: interrupted: " if summary.interrupted else "sepconv: "
    text = (
        f"{head}{summary.done} done, {summary.skipped} skipped, {summary.failed} failed "
        f"of {summary.total} files in {summary.elapsed_s:.2f} s"
    )
    rate = f"{summary.done / summary.elapsed_s:.1f} files/s, " if summary.elapsed_s > 0 else ""
    text += f" ({rate}{_si(summary.macs, 'MAC')})"
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
    text = f"[{index:{width}d}/{total}] {result['status']} {result['path']} -> {result['output']}"
    if result["status"] == "skipped":
        return f"{text} (exists)"
    if result.get("time_s") is not None:
        text += f" ({result['time_s']:.2f} s)"
    return text


class BatchProgress:
    """Callbacks for :func:`sepconv_cli.batch.run_batch` that render its progress.

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
    """

    def __init__(
        self,
        total: int,
        *,
        json_lines: bool = False,
        quiet: bool = False,
        describe: Any = None,
    ) -> None:
        self.total = total
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
            self._print(f"sepconv: error: {result['path']}: {result['error']}")
        elif not self.quiet and self._bar is None:
            line = file_line(result, self.finished, self.total)
            if self.describe is not None and result.get("report"):
                line += f": {self.describe(result)}"
            self._print(line)
        if self._bar is not None:
            self._bar.advance(self._task_id)

    def finish(self, summary: Any) -> None:
        """Stop the bar, print the summary line (stderr) and the JSON summary (stdout)."""
        self.__exit__(None, None, None)
        if self.json_lines:
            print_json({"summary": summary.to_dict()})
        if not self.quiet or summary.interrupted:
            message(summary_line(summary))


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
