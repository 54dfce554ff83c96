"""Batch processing: expand inputs, plan outputs, run a worker over many files, summarise.

The three steps, each usable on its own, live in one module each:

* :mod:`sepconv_cli.batch.inputs`: :func:`~sepconv_cli.batch.inputs.expand_inputs` turns files,
  folders, globs, ``@list.txt`` files and ``-`` (stdin) into
  :class:`~sepconv_cli.batch.inputs.InputFile` items (an ENVI header and its binary are one).
* :mod:`sepconv_cli.batch.outputs`: :func:`~sepconv_cli.batch.outputs.plan_outputs` gives each
  input its output (a :class:`~sepconv_cli.batch.outputs.Task`), mirroring the input tree
  under ``-o`` and refusing clashes before any work starts.
* :mod:`sepconv_cli.batch.runner`: :func:`~sepconv_cli.batch.runner.run_batch` runs a worker
  over the tasks, here or in worker processes (:mod:`sepconv_cli.batch.worker`), and returns a
  :class:`~sepconv_cli.batch.runner.Summary` that owns the exit code.

:mod:`sepconv_cli.batch.apply_job` holds the per-file job of ``sepconv apply``.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from sepconv_cli.batch.inputs import expand_inputs
>>> from sepconv_cli.batch.outputs import plan_outputs
>>> from sepconv_cli.batch.runner import run_batch
>>> scans = Path(tempfile.mkdtemp())
>>> for name in ("a.png", "sub/b.png"):
...     (scans / name).parent.mkdir(exist_ok=True)
...     _ = (scans / name).write_bytes(b"")
>>> inputs = expand_inputs([str(scans)], recursive=True)
>>> tasks = plan_outputs(inputs, str(scans / "smoothed"), name_template="{stem}_s6{ext}")
>>> [Path(t.output).relative_to(scans).as_posix() for t in tasks]
['smoothed/a_s6.png', 'smoothed/sub/b_s6.png']
>>> run_batch(tasks, lambda task: {"macs": 10}, jobs=1).to_dict()["done"]
2
"""
