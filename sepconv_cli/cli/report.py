"""Rendering a run report (the dict of ``Report.to_dict``) for humans on stderr.

A Rich table on a terminal; aligned plain text when stderr is a pipe or ``NO_COLOR`` is set.
"""

from __future__ import annotations

from typing import Any

from sepconv_cli.cli.console import err_console, stderr_is_interactive

_METHOD_COLUMNS = (
    "method",
    "mults/vox",
    "adds/vox",
    "MACs/vox",
    "FLOPs/vox",
    "total MACs",
    "total FLOPs",
    "bytes",
    "predicted",
)


def si(value: float | None, unit: str = "") -> str:
    """A number with an SI prefix (``12.3 G``).

    Examples
    --------
    >>> si(12_300_000_000), si(950), si(None)
    ('12.3 G', '950', '-')
    """
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}".rstrip()
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".rstrip()


def seconds(value: float | None) -> str:
    """Seconds in a readable unit.

    Examples
    --------
    >>> seconds(0.0123), seconds(2.5), seconds(None)
    ('12.3 ms', '2.50 s', '-')
    """
    from sepconv_cli.engine.planner import format_seconds

    return "-" if value is None else format_seconds(value)


def _per_voxel(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def summary_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines describing the run, kernel by kernel.

    Examples
    --------
    >>> doc = {"shape": [4, 4], "axes": "yx", "dtype": "uint8", "output_dtype": "uint8",
    ...        "compute_dtype": "float32", "kernels": [], "mode": "reflect", "cval": 0.0,
    ...        "nan": "propagate", "semantics": "convolve", "backend": "numpy",
    ...        "backend_why": "small", "method": "direct"}
    >>> summary_lines(doc)[0]
    ('image', '4x4 (yx) uint8 -> uint8, computed in float32')
    """
    lines: list[tuple[str, str]] = []
    if doc.get("input"):
        lines.append(("input", f"{doc['input']} -> {doc.get('output') or '(dry run)'}"))
    lines.append(
        (
            "image",
            f"{'x'.join(map(str, doc['shape']))} ({doc['axes']}) {doc['dtype']} -> "
            f"{doc['output_dtype']}, computed in {doc['compute_dtype']}",
        )
    )
    for i, k in enumerate(doc["kernels"], 1):
        shape = "x".join(map(str, k["shape"]))
        rank = k["rank"]
        rank_text = (
            "separable (rank 1)"
            if rank == 1
            else (f"rank {rank}" if rank else "not low-rank at the tolerance")
        )
        text = f"{k['spec']} [{k['role']} {k['axes']}] {shape}, {rank_text}"
        if k.get("combine"):
            text += f", {k['combine']} of its components"
        if k.get("rank_error"):
            text += f", low-rank error {k['rank_error']:.2e}"
        if "sigma_vox" in k:
            text += f", sigma {'x'.join(f'{s:.3g}' for s in k['sigma_vox'])} vox"
        text += f", radius {'x'.join(map(str, k['radius']))}"
        lines.append((f"kernel {i}", text))
        lines.append(("", f"method {k['method']}: {k['why']}"))
    lines.append(("backend", f"{doc['backend']} ({doc['backend_why']})"))
    cval = f" (cval {doc['cval']:g})" if doc["mode"] == "constant" else ""
    lines.append(("semantics", f"{doc['semantics']}, mode {doc['mode']}{cval}, nan {doc['nan']}"))
    return lines


def method_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per method (per kernel when there are several): counts, bytes, predicted time.

    Examples
    --------
    >>> ops = {"direct": {"mults": 9, "adds": 8, "macs": 9, "flops": 17,
    ...        "total_macs": 144, "total_flops": 272, "bytes": 128}}
    >>> doc = {"kernels": [{"ops": ops, "method": "direct", "predicted_s": {"direct": 1e-5}}]}
    >>> method_rows(doc)[0][:5]
    ['direct *', '9', '8', '9', '17']
    """
    rows = []
    several = len(doc["kernels"]) > 1
    for i, kernel in enumerate(doc["kernels"], 1):
        for method, c in kernel["ops"].items():
            label = f"{i}: {method}" if several else method
            rows.append(
                [
                    label + (" *" if method == kernel["method"] else ""),
                    _per_voxel(c["mults"]),
                    _per_voxel(c["adds"]),
                    _per_voxel(c["macs"]),
                    _per_voxel(c["flops"]),
                    si(c["total_macs"]),
                    si(c["total_flops"]),
                    si(c["bytes"], "B"),
                    seconds(kernel["predicted_s"].get(method)),
                ]
            )
    return rows


def saving_text(saving: float) -> str:
    """The FLOP ratio versus direct in words (a method can also cost more than direct).

    Examples
    --------
    >>> saving_text(8.66), saving_text(1.0), saving_text(0.04)
    ('8.66x fewer FLOPs than direct', 'as many FLOPs as direct', '25x more FLOPs than direct')
    """
    if abs(saving - 1.0) < 0.05:
        return "as many FLOPs as direct"
    if saving > 1:
        return f"{saving:.3g}x fewer FLOPs than direct"
    return f"{1 / saving:.3g}x more FLOPs than direct"


def result_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Measured time, throughput, saving, counts and verification.

    Examples
    --------
    >>> result_lines({"dry_run": True, "saving_vs_direct": 2.0})
    [('result', 'dry run: nothing computed'), ('saving', '2x fewer FLOPs than direct')]
    """
    lines: list[tuple[str, str]] = []
    if doc.get("dry_run"):
        lines.append(("result", "dry run: nothing computed"))
    else:
        lines.append(
            (
                "time",
                f"filtering {seconds(doc.get('time_s'))} (job {seconds(doc.get('total_s'))}), "
                f"{si(doc.get('gmacs_per_s'))} GMAC/s, {si(doc.get('macs'))} MACs",
            )
        )
    dask = doc.get("dask")
    if dask:
        rates = ", ".join(f"{si(w['voxels_per_second'])} vox/s" for w in dask.get("per_worker", []))
        lines.append(
            (
                "chunks",
                f"{'x'.join(map(str, dask['chunks']))} ({dask['n_chunks']} chunks), halo "
                f"overhead {dask['halo_overhead']:.1%}, {dask['scheduler']} scheduler"
                + (f", {dask['workers']} workers" if dask.get("workers") else "")
                + (f" ({rates})" if rates else ""),
            )
        )
    saving = doc.get("saving_vs_direct")
    if saving:
        lines.append(("saving", saving_text(saving)))
    if doc.get("nonfinite"):
        lines.append(("non-finite", f"{doc['nonfinite']} NaN/Inf input values"))
    if doc.get("clipped"):
        lines.append(("clipped", f"{doc['clipped']} values rounded into {doc['output_dtype']}"))
    verify = doc.get("verify")
    if verify:
        lines.append(
            (
                "verify",
                f"vs {verify['reference']} on {verify['voxels']} voxels: max abs error "
                f"{verify['max_abs_error']:.3g}, relative {verify['rel_error']:.3g}"
                + (
                    f", {verify['nonfinite_mismatch']} NaN mismatches"
                    if verify.get("nonfinite_mismatch")
                    else ""
                ),
            )
        )
    return lines


def render_text(doc: dict[str, Any]) -> str:
    """The whole report as aligned plain text.

    Examples
    --------
    >>> from sepconv_cli.engine import ApplyOptions, apply
    >>> from sepconv_cli.image import Image
    >>> import numpy as np
    >>> _, report = apply(Image(np.ones((8, 8), np.float32), "yx"), ["box:size=3"],
    ...                   ApplyOptions(dry_run=True))
    >>> "separable *" in render_text(report.to_dict())
    True
    """
    out = []
    for label, text in summary_lines(doc):
        out.append(f"{label:<10} {text}")
    rows = [list(_METHOD_COLUMNS), *method_rows(doc)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_METHOD_COLUMNS))]
    for row in rows:
        out.append(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    for label, text in result_lines(doc):
        out.append(f"{label:<10} {text}")
    for warning in doc.get("warnings", []):
        out.append(f"warning    {warning}")
    return "\n".join(out)


def render(doc: dict[str, Any]) -> None:
    """Print the report on stderr: a Rich table on a terminal, plain text otherwise."""
    console = err_console()
    if not stderr_is_interactive():
        console.print(render_text(doc), markup=False, highlight=False)
        return
    from rich.table import Table
    from rich.text import Text

    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    for label, text in summary_lines(doc):
        head.add_row(label, Text(text))
    console.print(head)
    from rich import box

    table = Table(
        title="predicted cost per method (* = chosen)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for i, name in enumerate(_METHOD_COLUMNS):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in method_rows(doc):
        cells = [Text(cell) for cell in row]
        table.add_row(*cells, style="bold green" if row[0].endswith("*") else None)
    console.print(table)
    tail = Table.grid(padding=(0, 1))
    tail.add_column(style="bold")
    tail.add_column()
    for label, text in result_lines(doc):
        tail.add_row(label, Text(text))
    for warning in doc.get("warnings", []):
        tail.add_row("warning", Text(warning, style="yellow"))
    console.print(tail)
