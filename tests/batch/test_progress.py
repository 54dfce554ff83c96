"""The batch renderer: JSON lines on stdout only, errors always, a bar only on a terminal."""

from __future__ import annotations

import json

import pytest

from sepconv_cli.batch.inputs import InputFile
from sepconv_cli.batch.outputs import Task
from sepconv_cli.batch.runner import Summary
from sepconv_cli.cli import progress
from sepconv_cli.cli.progress import BatchProgress, summary_line

RESULTS = [
    {
        "path": "a.png",
        "output": "o/a.png",
        "status": "ok",
        "error": None,
        "time_s": 0.25,
        "report": {"macs": 10, "method": "separable"},
    },
    {"path": "b.png", "output": "o/b.png", "status": "failed", "error": "b.png: truncated"},
    {"path": "d.png", "output": "o/d.png", "status": "failed", "error": "not an image"},
    {"path": "c.png", "output": "o/c.png", "status": "skipped", "error": None},
]
SUMMARY = Summary(total=4, done=1, skipped=1, failed=2, elapsed_s=0.5, macs=10)


def run(renderer: BatchProgress) -> None:
    with renderer:
        for result in RESULTS:
            renderer.start(Task(InputFile(result["path"], ".", result["path"]), result["output"]))
            renderer.result(result)
    renderer.finish(SUMMARY)


def test_json_lines_and_plain_log(capsys) -> None:
    run(BatchProgress(4, json_lines=True))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line.get("status") for line in lines[:4]] == ["ok", "failed", "failed", "skipped"]
    assert lines[4] == {"summary": SUMMARY.to_dict()}
    assert err.splitlines() == [
        "[1/4] ok a.png -> o/a.png (0.25 s)",
        "sepconv: error: b.png: truncated",  # the error names the file: not repeated
        "sepconv: error: d.png: not an image",
        "[4/4] skipped c.png -> o/c.png (exists)",
        summary_line(SUMMARY),
    ]


def test_quiet_prints_only_errors(capsys) -> None:
    run(BatchProgress(4, quiet=True))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "sepconv: error: b.png: truncated",
        "sepconv: error: d.png: not an image",
    ]


def test_describe_adds_the_plan_to_plain_lines(capsys) -> None:
    run(BatchProgress(4, describe=lambda r: r["report"]["method"]))
    assert "[1/4] ok a.png -> o/a.png (0.25 s): separable" in capsys.readouterr().err


def test_bar_on_a_terminal(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "stderr_is_interactive", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    run(BatchProgress(4))
    out, err = capsys.readouterr()
    assert out == ""
    assert "4/4" in err and "files/s" in err and "ETA" in err
    assert "sepconv: error: b.png: truncated" in err
    assert "[1/4]" not in err  # no per-file log lines under a bar


def test_summary_line_when_interrupted() -> None:
    summary = Summary(total=10, done=4, elapsed_s=2.0, macs=2_500_000_000, interrupted=True)
    assert summary_line(summary) == (
        "sepconv: interrupted: 4 done, 0 skipped, 0 failed of 10 files in 2.00 s "
        "(2.0 files/s, 2.5 GMAC); 6 not run"
    )


@pytest.mark.parametrize(
    ("saving", "words"),
    [
        (4.5, "4.5x fewer FLOPs than direct"),
        (1.0, "as many FLOPs as direct"),
        (0.04, "25x more FLOPs than direct"),
    ],
)
def test_plan_text_says_when_a_method_costs_more_than_direct(saving: float, words: str) -> None:
    result = {
        "report": {"method": "fft", "backend": "numpy", "macs": 10, "saving_vs_direct": saving}
    }
    assert progress.plan_text(result) == f"fft/numpy, 10 MAC, {words}"
    assert "0.0x" not in progress.plan_text(result)
