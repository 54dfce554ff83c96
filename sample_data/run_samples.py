"""What ``make run`` executes: run sepconv on every file in sample_data/ and print a report.

Each entry of :data:`JOBS` is one ``sepconv`` command line; its stdout (JSON lines) is appended
to ``out/<stdout>`` and its stderr is shown. Add entries to run more commands on the samples.
The script exits non-zero when any job fails.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"

SAMPLES = {
    "photo": "sample_data/chelsea.png",
    "stack": "sample_data/stack_uint16.tif",
    "nifti": "sample_data/example4d.nii.gz",
    "cube": "sample_data/cube.hdr",
    "kernel": "sample_data/kernel_emboss.csv",
}


@dataclass(frozen=True)
class Job:
    """One ``sepconv`` invocation: a name, its arguments, and the out/ file its stdout goes to."""

    name: str
    args: tuple[str, ...]
    stdout: str | None = None


JOBS: list[Job] = [
    Job(f"info {name}", ("info", "--json", path), stdout="info.jsonl")
    for name, path in SAMPLES.items()
    if name != "kernel"
]

#: ``sepconv apply`` on every sample; the report goes to stderr, its JSON to out/apply.jsonl.
APPLY_JOBS: list[Job] = [
    Job(
        "apply photo gaussian",
        ("apply", SAMPLES["photo"], "-k", "gaussian:sigma=3", "-o", "out/chelsea_smooth.png"),
    ),
    Job(
        "apply stack gaussian um",
        ("apply", SAMPLES["stack"], "-k", "gaussian:sigma=3000um", "-o", "out/stack_smooth.tif"),
    ),
    Job(
        "apply nifti fwhm=6mm",
        (
            "apply",
            SAMPLES["nifti"],
            "-k",
            "gaussian:fwhm=6mm",
            "-o",
            "out/example4d_smooth.nii.gz",
            "--verify",
        ),
    ),
    Job(
        "apply cube spatial+spectral",
        (
            "apply",
            SAMPLES["cube"],
            "-k",
            "gaussian:sigma=1.5",
            "--spectral",
            "savgol:window=9,order=2",
            "-o",
            "out/cube_smooth.hdr",
        ),
    ),
    Job(
        "apply custom kernel",
        ("apply", SAMPLES["photo"], "-k", "@" + SAMPLES["kernel"], "-o", "out/chelsea_emboss.tif"),
    ),
    Job(
        "apply sobel magnitude",
        (
            "apply",
            SAMPLES["photo"],
            "-k",
            "gaussian:sigma=1",
            "-k",
            "sobel",
            "-o",
            "out/chelsea_edges.tif",
        ),
    ),
]
JOBS += [Job(j.name, (*j.args, "--json"), stdout="apply.jsonl") for j in APPLY_JOBS]


def run(job: Job) -> tuple[int, list[dict]]:
    """Run ``job``; return its exit code and the JSON documents it printed."""
    command = [sys.executable, "-m", "sepconv_cli", *job.args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.stderr:
        sys.stderr.write(done.stderr)
    documents = []
    for line in done.stdout.splitlines():
        if line.strip():
            with contextlib.suppress(json.JSONDecodeError):
                documents.append(json.loads(line))
    if job.stdout is not None:
        with open(OUT / job.stdout, "a", encoding="utf-8") as handle:
            handle.write(done.stdout)
    return done.returncode, documents


def _summary(document: dict) -> str:
    if {"shape", "dtype", "axes"} <= set(document) and "min" in document:
        spacing = ", ".join(
            "?" if s is None else f"{s:g}{'' if u is None else ' ' + u}"
            for s, u in zip(document["spacing"], document["units"], strict=True)
        )
        return (
            f"{document['format']:<6} {'x'.join(map(str, document['shape'])):<14} "
            f"{document['dtype']:<8} axes {document['axes']:<5} spacing [{spacing}] "
            f"range {document['min']:g}..{document['max']:g}"
        )
    if "ops" in document and "method" in document:
        saving = document.get("saving_vs_direct") or 1.0
        return (
            f"{'x'.join(map(str, document['shape']))} {document['axes']} -> "
            f"{document['output']}: {document['method']} on {document['backend']}, "
            f"{document['time_s'] * 1e3:.1f} ms, {saving:.1f}x fewer FLOPs than direct"
        )
    return json.dumps(document)[:160]


def main() -> int:
    """Run every job, print one line per result, return the number of failed jobs (capped)."""
    OUT.mkdir(exist_ok=True)
    for name in {job.stdout for job in JOBS if job.stdout}:
        (OUT / name).write_text("", encoding="utf-8")
    failed = 0
    print(f"sepconv on sample_data/ -> {OUT.relative_to(ROOT)}/")
    for job in JOBS:
        code, documents = run(job)
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        failed += code != 0
        details = "; ".join(_summary(d) for d in documents) or ""
        print(f"  {job.name:<22} {status:<6} {details}")
    print(f"{len(JOBS) - failed}/{len(JOBS)} jobs ok; JSON results in {OUT.relative_to(ROOT)}/")
    return min(failed, 1)


if __name__ == "__main__":
    sys.exit(main())
