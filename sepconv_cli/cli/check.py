"""`sepconv check`: the separable structure of a kernel and what each way of applying it costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

HELP = (
    "Find a kernel's separable structure and what each way of applying it costs.\n\n"
    "2-D: singular values and the rank at --tol (rank 1 = separable: KxK multiplies become 2K), "
    "with the factors as small integers when the kernel is rational. N-D: the rank of every "
    "mode unfolding, partial splits (e.g. 2-D spatial x 1-D spectral) and a sum of separable "
    "terms by CP-ALS. Then the error (Frobenius, max-abs) and multiplies per voxel for r = "
    "1..--max-rank terms, and multiplies, adds, MACs and FLOPs per voxel for direct, "
    "separable, low-rank and FFT filtering. --require-separable exits with code 4 unless the "
    "kernel is rank 1.\n\n"
    "Examples: sepconv check sobel:axis=x ; sepconv check kernel.csv --json ; "
    "sepconv check disk:radius=4 --plot disk.png ; sepconv check k.npy --require-separable"
)
#: Image size per axis assumed for the FFT estimate and totals when --image-shape is not given.
_DEFAULT_IMAGE_SIDE = 256


def _image_shape(text: str | None, kernel_shape: tuple[int, ...]) -> tuple[int, ...]:
    from sepconv_cli.errors import UsageError
    from sepconv_cli.spec import parse_int_per_axis

    if text is None:
        return tuple(max(_DEFAULT_IMAGE_SIDE, n) for n in kernel_shape)
    sizes = parse_int_per_axis(text, "--image-shape")
    if len(sizes) == 1:
        sizes = sizes * len(kernel_shape)
    if len(sizes) != len(kernel_shape) or any(s < 1 for s in sizes):
        raise UsageError(
            f"--image-shape {text!r}: give {len(kernel_shape)} positive sizes like "
            f"{'x'.join(['512'] * len(kernel_shape))} (one per kernel axis)"
        )
    return tuple(sizes)


def file_spec(spec: str) -> str:
    """``@FILE`` for a plain kernel file name (``check k.npy``, even a missing one); else ``spec``.

    Examples
    --------
    >>> file_spec("k.csv"), file_spec("dir/k:normalize=none"), file_spec("box:size=2.5")
    ('@k.csv', '@dir/k:normalize=none', 'box:size=2.5')
    """
    from sepconv_cli.kernels.custom import NIFTI_SUFFIXES, TEXT_SUFFIXES

    if spec.startswith(("@", "[")):
        return spec
    name = spec.split(":", 1)[0].lower()
    if (
        Path(spec).is_file()
        or "/" in name
        or name.endswith((".npy", *TEXT_SUFFIXES, *NIFTI_SUFFIXES))
    ):
        return "@" + spec
    return spec


def _integer_text(form: tuple[list[list[int]], Any]) -> str:
    from fractions import Fraction

    factors, scale = form
    if len(factors) == 2:
        body = f"{factors[0]}ᵀ · {factors[1]}"
    else:
        body = " ⊗ ".join(str(f) for f in factors)
    if scale != 1:
        body += f" × {scale}" if isinstance(scale, Fraction) else f" × {scale:.6g}"
    return body.replace(", ", ",")


def _analyse_one(
    kernel: Any, tol: float, max_rank: int, image_shape: tuple[int, ...]
) -> tuple[dict, Any]:
    """Analysis plus cost model of one (non-composite) kernel: a JSON-ready document and the
    Decomposition it came from."""
    from sepconv_cli.costs.filters import (
        closed_form,
        fft_crossover,
        method_costs,
        mults_saving,
        saving_factor,
    )
    from sepconv_cli.separability import MAX_CANCELLATION, analyse, integer_form

    d = analyse(kernel, tol=tol, max_rank=max_rank)
    form = integer_form(kernel.weights) if d.rank == 1 else None
    costs = method_costs(image_shape, kernel.shape, rank=d.rank)
    for method in costs:
        costs[method]["saving_vs_direct"] = saving_factor(costs, method)
        costs[method]["mults_saving_vs_direct"] = mults_saving(costs, method)
        costs[method]["closed_form"] = closed_form(kernel.shape, method, d.rank)
    terms = [
        {
            **row,
            "meets_tol": row["rel_error"] <= tol and row["cancellation"] <= MAX_CANCELLATION,
        }
        for row in d.by_rank
    ]
    splits = [p for p in d.partial if p["rank"] == 1]
    return {
        "spec": kernel.spec,
        "shape": list(d.shape),
        "ndim": len(d.shape),
        "tol": tol,
        "rank": d.rank,
        "separable": d.separable,
        "rel_error": d.rel_error,
        "max_abs_error": d.max_abs_error,
        "singular_values": d.singular_values,
        "unfolding_ranks": list(d.unfolding_ranks),
        "partial": d.partial,
        "splits": splits,
        "factors": [list(f) for f in d.terms[0]] if d.rank == 1 else None,
        "integer_factors": (
            None
            if form is None
            else {"factors": form[0], "scale": str(form[1]), "text": _integer_text(form)}
        ),
        "terms": terms,
        "decomposition": [[list(f) for f in term] for term in d.terms] if d.rank > 1 else None,
        "image_shape": list(image_shape),
        "costs": costs,
        "fft_crossover": fft_crossover(image_shape),
    }, d


def _fmt(value: float) -> str:
    from sepconv_cli.cli.kernel import number

    return number(value, 3)


def _render(doc: dict, console: Any, title: str) -> None:
    from rich.table import Table

    from sepconv_cli.cli.kernel import vector
    from sepconv_cli.costs.filters import crossover_text

    shape = "×".join(map(str, doc["shape"]))
    console.print(f"{title}: shape {shape} ({doc['ndim']}-D), tolerance {doc['tol']:g}")
    s = doc["singular_values"]
    if s is not None:
        top = float(s[0]) if len(s) and s[0] else 1.0
        console.print(f"  singular values: {vector(s, 10)}")
        console.print(f"  relative to the largest: {vector([v / top for v in s], 10)}")
    if doc["ndim"] > 2:
        ranks = ", ".join(f"axis {i}: {r}" for i, r in enumerate(doc["unfolding_ranks"]))
        console.print(f"  mode-unfolding ranks: {ranks} (all 1 ⇔ fully separable)")
        for p in doc["partial"]:
            left, right = p["groups"]
            if len(left) > 1 or len(right) > 1:
                console.print(
                    f"  split axes {left} | {right}: rank {p['rank']}"
                    + (
                        f" → {len(left)}-D ⊗ {len(right)}-D kernel"
                        if p["rank"] == 1 and not doc["separable"]
                        else ""
                    )
                )
    if doc["separable"]:
        console.print("  rank 1: SEPARABLE")
        if doc["integer_factors"]:
            console.print(f"  factors: {doc['integer_factors']['text']}")
        for axis, factor in enumerate(doc["factors"]):
            console.print(f"    axis {axis}: {vector(factor)}")
    elif doc["rank"] > 1:
        console.print(
            f"  rank {doc['rank']}: not separable; a sum of {doc['rank']} separable terms "
            f"reproduces it (relative error {_fmt(doc['rel_error'])})"
        )
    else:
        console.print(
            f"  not separable: no sum of up to {len(doc['terms'])} separable terms meets the "
            "tolerance (apply it whole: direct or FFT)"
        )
    table = Table(title="best sum of r separable terms", box=None, title_justify="left")
    for column in ("r", "rel. error (Frobenius)", "max abs error", "mults/voxel", "meets tol"):
        table.add_column(column, justify="right")
    # rows past the chosen rank only fit noise: the table stops at the first row meeting tol
    shown = [row for row in doc["terms"] if not doc["rank"] or row["rank"] <= doc["rank"]]
    for row in shown:
        mark = "yes" if row["meets_tol"] else "no"
        if row["rel_error"] <= doc["tol"] and not row["meets_tol"]:
            mark = f"no (terms cancel ×{row['cancellation']:.0f})"
        table.add_row(
            str(row["rank"]),
            _fmt(row["rel_error"]),
            _fmt(row["max_abs_error"]),
            str(row["mults_per_voxel"]),
            mark,
        )
    console.print(table)
    if len(shown) < len(doc["terms"]):
        console.print(
            f"  (r > {doc['rank']} not listed: the rank is met at r = {doc['rank']}; "
            "--json has all)"
        )
    image = "×".join(map(str, doc["image_shape"]))
    costs = Table(
        title=f"cost per output voxel (FFT estimate for a {image} image; --image-shape)",
        box=None,
        title_justify="left",
    )
    columns = ("method", "multiplies", "adds", "MACs", "FLOPs", "saving (mults)", "saving (FLOPs)")
    for column in columns:
        costs.add_column(column, justify="right")
    for method, entry in doc["costs"].items():
        name = f"lowrank (r={entry['terms']})" if method == "lowrank" else method
        costs.add_row(
            name,
            _fmt(entry["mults"]),
            _fmt(entry["adds"]),
            _fmt(entry["macs"]),
            _fmt(entry["flops"]),
            f"{entry['mults_saving_vs_direct']:.3g}×",
            f"{entry['saving_vs_direct']:.3g}×",
        )
    console.print(costs)
    direct = doc["costs"]["direct"]["closed_form"]["mults"]
    for method, entry in doc["costs"].items():
        form = entry["closed_form"]
        if method != "direct" and form is not None:
            console.print(
                f"  multiplies: {method} {form['mults']} vs direct {direct}; "
                f"saving {form['saving']}×"
            )
    console.print(
        f"  {crossover_text(doc['fft_crossover'])} (a K^{doc['ndim']} kernel on a {image} image)"
    )


def check(
    spec: str = typer.Argument(
        ...,
        metavar="SPEC|FILE",
        help="Kernel spec (gaussian:sigma=2, sobel:axis=x, [[...]]) or a kernel FILE.",
    ),
    tol: float = typer.Option(
        1e-7, "--tol", help="Largest relative (Frobenius) error that counts as exact."
    ),
    max_rank: int = typer.Option(8, "--max-rank", help="Most separable terms tried."),
    require_separable: bool = typer.Option(
        False,
        "--require-separable",
        help="Exit with code 4 unless the kernel is rank 1 at --tol (for CI gates).",
    ),
    ndim: int = typer.Option(None, "--ndim", help="Number of axes for named kernels."),
    spacing: str = typer.Option(
        None, "--spacing", help="Voxel spacing for physical units, e.g. 2x2x1mm."
    ),
    axes: str = typer.Option(None, "--axes", help="Axis letters in array order for axis=x."),
    max_size: int = typer.Option(1025, "--max-size", help="Largest kernel size per axis."),
    image_shape: str = typer.Option(
        None,
        "--image-shape",
        "--shape",
        help="Image size for the FFT estimate, its crossover and totals (512x512; default 256 "
        "per axis).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    plot: Path = typer.Option(
        None,
        "--plot",
        help="Draw singular values and error vs rank to FILE.png (a row per component).",
    ),
) -> None:
    """Find a kernel's separable structure and costs (see ``HELP``)."""
    from sepconv_cli.cli.console import err_console, message, print_json
    from sepconv_cli.cli.kernel import build_from_options
    from sepconv_cli.errors import NotSeparableError

    kernel = build_from_options(file_spec(spec), ndim, spacing, axes, max_size)
    names = [name for name, _ in kernel.parts]
    titles = [f"{kernel.spec}: {name}" for name in names] if kernel.components else [kernel.spec]
    shape = _image_shape(image_shape, kernel.shape)
    analysed = [_analyse_one(part, tol, max_rank, shape) for _, part in kernel.parts]
    docs = [doc for doc, _ in analysed]
    decompositions = [d for _, d in analysed]
    document = dict(docs[0])
    document["spec"] = kernel.spec
    document["notes"] = list(kernel.params.get("notes", []))
    if kernel.components:
        document["combine"] = kernel.combine
        document["rank"] = max(doc["rank"] for doc in docs) if all(d["rank"] for d in docs) else 0
        document["separable"] = all(doc["separable"] for doc in docs)
        document["components"] = [
            {"name": name, **doc} for name, doc in zip(names, docs, strict=True)
        ]
    if plot is not None:
        from sepconv_cli.plots import plot_decomposition

        rows = names if kernel.components else []
        plot_decomposition(decompositions, plot, rows, title=kernel.spec)
    if json_:
        print_json(document)
    else:
        console = err_console()
        if kernel.components:
            console.print(
                f"{kernel.spec}: gradient magnitude of {len(docs)} kernels (one per axis), "
                "combined after filtering; each is analysed"
            )
        for doc, title in zip(docs, titles, strict=True):
            _render(doc, console, title)
        for note in kernel.params.get("notes", []):
            console.print(f"note: {note}")
        if plot is not None:
            message(f"wrote {plot}")
    if require_separable and not document["separable"]:
        rank = document["rank"]
        detail = f"rank {rank}" if rank else f"no sum of up to {max_rank} separable terms fits"
        raise NotSeparableError(
            f"{kernel.spec} is not separable at --tol {tol:g} ({detail}); "
            "exit code 4 from --require-separable"
        )


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
    app.command("check", help=HELP)(check)
