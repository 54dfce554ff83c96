"""`sepconv ops`: the cost calculator — layers, attention and whole networks, without data.

Tables go to stderr (plain text in a pipe); ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

ops_app = typer.Typer(
    name="ops",
    no_args_is_help=True,
    help=(
        "Count multiply-accumulates (MACs) and parameters without data: deep-learning layers, "
        "self-attention, whole networks from a TOML spec. One MAC = one multiply + one add; "
        "FLOPs = 2 x MACs. Padding 'same': output = ceil(input / stride)."
    ),
)

_BIAS_HELP = (
    "Give convolutions a bias (default: none, as in MobileNet where batch norm follows every "
    "convolution; fc layers always have one)."
)
_BN_HELP = "Count batch norm's scale and shift (2 parameters per convolution output channel)."


def _fmt(value: int) -> str:
    return f"{value:,}"


def _si(value: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {suffix}"
    return f"{value:.4g}"


def _shape(shape: Any) -> str:
    return "x".join(str(v) for v in shape)


def _table(title: str, columns: list[str], right_from: int = 1) -> Any:
    """A Rich table: boxed on a terminal, aligned plain columns in a pipe or with NO_COLOR."""
    from rich.table import Table
    from rich.text import Text

    from sepconv_cli.cli.console import stderr_is_interactive

    heading = Text(title)  # names from specs and files are text, not Rich markup
    if stderr_is_interactive():
        table = Table(title=heading, title_justify="left")
    else:
        table = Table(title=heading, title_justify="left", box=None, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if i >= right_from else "left")
    return table


def _emit(*renderables: Any, stdout: bool = False) -> None:
    """Print on stderr, or on stdout (plain, 120 columns) for a command whose result is a table."""
    from sepconv_cli.cli.console import err_console

    if stdout:
        from rich.console import Console

        console = Console(no_color=True, highlight=False, width=120)
    else:
        console = err_console()
    for item in renderables:
        console.print(item, markup=False, highlight=False)


@ops_app.command("layer")
def layer_command(
    kind: str = typer.Option(
        "conv", "--type", "-t", help="Layer type: a convolution of the model spec (conv, dw, ...)."
    ),
    c_in: int = typer.Option(..., "--in", help="Input channels C."),
    c_out: int | None = typer.Option(
        None, "--out", help="Output channels C' (dw: default C; a multiple of C)."
    ),
    kernel: str | None = typer.Option(
        None, "--kernel", "-k", help="Kernel size K, or per axis: 3x3, 3x3x3 [default: 3; pw: 1]."
    ),
    size: str = typer.Option(
        ..., "--size", "-s", help="Input size: L (1-D), HxW (2-D) or DxHxW (3-D)."
    ),
    stride: str = typer.Option("1", "--stride", help="Stride S, or per axis: 2x2."),
    padding: str = typer.Option("same", "--padding", help="same (ceil(n/S)) or valid."),
    bias: bool = typer.Option(False, "--bias", help=_BIAS_HELP),
    batchnorm: bool = typer.Option(False, "--batchnorm", help=_BN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """MACs and parameters of one convolution layer, and standard vs depthwise separable.

    The comparison (Howard et al. 2017, eq. 5) is always shown: a depthwise separable layer costs
    1/C' + 1/K^d of the standard convolution with the same kernel (K^d = product of the kernel
    sizes), whatever the input size and stride.

    Example: sepconv ops layer --type dwsep --in 32 --out 64 --kernel 3 --size 112x112
    """
    from sepconv_cli.costs import layers as L
    from sepconv_cli.costs.layertypes import family
    from sepconv_cli.errors import UsageError
    from sepconv_cli.registry import did_you_mean

    kinds = family("convolution")
    kind = kind.lower()
    if kind not in kinds:
        raise UsageError(
            f"--type must be one of {', '.join(kinds)}, got {kind!r}{did_you_mean(kind, kinds)}"
        )
    if padding not in L.PADDINGS:
        raise UsageError(f"--padding must be one of {', '.join(L.PADDINGS)}, got {padding!r}")
    dims = L.parse_dims(size, "--size")
    if not 1 <= len(dims) <= 3:
        raise UsageError(f"--size must have 1, 2 or 3 axes (L, HxW, DxHxW), got {size!r}")
    if kernel is None:
        kernel = "1" if kind == "pw" else "3"
    ks = L.per_axis(_one_or_list(L.parse_dims(kernel, "--kernel")), len(dims), "--kernel")
    ss = L.per_axis(_one_or_list(L.parse_dims(stride, "--stride")), len(dims), "--stride")
    for value, name in ((c_in, "--in"), (c_out, "--out")):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value}")
    if c_out is None and kind != "dw":
        raise UsageError(f"--out is required for --type {kind}")
    extra = {"bias": bias, "batchnorm": batchnorm}
    cost = L.convolution_cost(kind, dims, c_in, c_out, ks, ss, padding, **extra)
    c_out = cost.output_shape[-1]
    cmp = L.compare_conv_dwsep(dims, c_in, c_out, ks, ss, padding, **extra)
    conventions = _conventions(bias, batchnorm)
    if as_json:
        from sepconv_cli.cli.console import print_json

        print_json({"layer": cost.as_dict(), "comparison": cmp.as_dict(), **conventions})
        return
    table = _table(
        f"{kind} layer: input {_shape(cost.input_shape)}, kernel {_shape(cost.kernel)}, "
        f"stride {_shape(cost.stride)}, padding {padding}",
        ["layer", "output", "MACs", "FLOPs", "params"],
    )
    for row in (cost, *cost.parts):
        name = row.type if row is cost else f"  {row.type}"
        table.add_row(
            name, _shape(row.output_shape), _fmt(row.macs), _fmt(row.flops), _fmt(row.params)
        )
    compare = _table(
        f"standard conv vs depthwise separable ({c_in} -> {c_out} channels)",
        ["layer", "MACs", "params"],
    )
    compare.add_row("standard conv", _fmt(cmp.standard.macs), _fmt(cmp.standard.params))
    compare.add_row("dwsep (dw + pw)", _fmt(cmp.separable.macs), _fmt(cmp.separable.params))
    _emit(
        table,
        compare,
        f"ratio dwsep / standard = {cmp.ratio:.6g}  (closed form 1/C' + 1/K^d = 1/{c_out} + "
        f"1/{math.prod(cost.kernel)} = {cmp.closed_form:.6g}); "
        f"{cmp.saving:.4g}x fewer MACs; params ratio {cmp.params_ratio:.6g}",
        conventions["conventions"]["bias"],
    )


def _one_or_list(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(values) == 1 else values


def _conventions(bias: bool, batchnorm: bool) -> dict[str, Any]:
    return {
        "conventions": {
            "bias": (
                "bias: convolutions with bias (--bias); fc layers with bias"
                if bias
                else "bias: convolutions without bias (batch norm follows, as in MobileNet); "
                "fc layers with bias; --bias adds C' per convolution"
            ),
            "batchnorm": (
                "batch norm scale and shift counted"
                if batchnorm
                else "batch norm not counted (--batchnorm: 2 params per output channel)"
            ),
            "mac": "one multiply + one add; flops = 2 * macs",
        }
    }


@ops_app.command("attention")
def attention_command(
    tokens: str = typer.Option(
        ..., "--tokens", "-n", help="Tokens N, or their grid: 14x14 (d = 2), 8x14x14 (d = 3)."
    ),
    channels: int = typer.Option(..., "--channels", "-c", help="Channels C per token."),
    kernel: str = typer.Option(
        "3", "--kernel", "-k", help="The convolution's kernel K, or per axis: 7x7."
    ),
    dims: int | None = typer.Option(
        None,
        "--dims",
        "-d",
        help="Convolution axes d when --tokens is a count and --kernel one size (default 1).",
    ),
    bias: bool = typer.Option(False, "--bias", help="Count biases (parameters only)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Self-attention against a depthwise separable convolution over the same tokens.

    Attention: 2·N²·C (scores and weighted sum) + 4·N·C² (Q, K, V, output projections) MACs.
    Depthwise separable conv: N·C·K^d (depthwise) + N·C² (pointwise) MACs. Prints both, the
    ratio and the N where they cost the same.

    Example: sepconv ops attention --tokens 14x14 --channels 768 --kernel 7
    """
    from sepconv_cli.costs import layers as L
    from sepconv_cli.errors import UsageError

    grid = L.parse_dims(tokens, "--tokens")
    if channels < 1:
        raise UsageError(f"--channels must be a positive integer, got {channels}")
    cmp = L.compare_attention_dwsep(
        grid[0] if len(grid) == 1 else grid,
        channels,
        _one_or_list(L.parse_dims(kernel, "--kernel")),
        dims=dims,
        bias=bias,
    )
    if as_json:
        from sepconv_cli.cli.console import print_json

        print_json(cmp.as_dict())
        return
    n, c, k_d = cmp.tokens, cmp.channels, math.prod(cmp.kernel)
    att, sep = cmp.attention, cmp.separable
    table = _table(
        f"{n} tokens ({_shape(att.input_shape[:-1])}) x {c} channels; "
        f"conv kernel {_shape(cmp.kernel)} (K^d = {k_d})",
        ["layer", "formula", "MACs", "params"],
        right_from=2,
    )
    table.add_row("self-attention", "2·N²·C + 4·N·C²", _fmt(att.macs), _fmt(att.params))
    table.add_row("  scores + weighted sum", "2·N²·C", _fmt(2 * n * n * c), "0")
    table.add_row("  Q, K, V, output proj.", "4·N·C²", _fmt(4 * n * c * c), _fmt(att.params))
    table.add_row("dwsep conv", "N·C·K^d + N·C²", _fmt(sep.macs), _fmt(sep.params))
    for part, formula in zip(sep.parts, ("N·C·K^d", "N·C²"), strict=True):
        table.add_row(f"  {part.type}", formula, _fmt(part.macs), _fmt(part.params))
    if cmp.crossover_tokens is None:
        crossover = (
            f"no crossover: attention costs more at every N, since 3·C = {3 * c} >= K^d = {k_d} "
            "(its projections 4·N·C² alone exceed the whole convolution N·C² + N·C·K^d)"
        )
    else:
        crossover = (
            f"equal at N = (K^d - 3·C) / 2 = {cmp.crossover_tokens:g} tokens; "
            "attention is cheaper below, the convolution above"
        )
    _emit(
        table,
        f"ratio attention / dwsep = {cmp.ratio:.4g}",
        crossover,
        f"attention's N² term equals its projections at N = 2·C = {cmp.quadratic_tokens} tokens",
    )


@ops_app.command("model")
def model_command(
    spec: Path = typer.Argument(
        ..., help="TOML network spec (see sample_data/mobilenet_v1.toml); '-' reads stdin."
    ),
    standard: bool = typer.Option(
        False,
        "--standard",
        help="Also cost the same network with every dw/dwsep replaced by a standard convolution "
        "of the same kernel, stride and output channels, and print the ratio.",
    ),
    bias: bool = typer.Option(False, "--bias", help=_BIAS_HELP),
    batchnorm: bool = typer.Option(False, "--batchnorm", help=_BN_HELP),
    dtype: str | None = typer.Option(
        None, "--dtype", help="Add bytes moved and MACs/byte for float32 | float16 | int8."
    ),
    batch: int | None = typer.Option(None, "--batch", help="Inputs per batch for the bytes."),
    device_name: str | None = typer.Option(
        None,
        "--device",
        help="Add roofline time, bound and energy on a bundled device (phone_cpu, phone_npu, "
        "desktop_gpu, datacenter_gpu) or a device TOML file. Model estimates.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Per-layer and total MACs and parameters of a whole network from a TOML spec.

    With --dtype, --batch or --device also the bytes each layer moves and its arithmetic
    intensity; with --device its roofline time (compute- or memory-bound) and energy: model
    estimates, not measurements (dtype default float32, batch 1).

    input = [H, W, C] (or [L, C], [D, H, W, C]), then [[layer]] tables with type = conv | dw |
    pw | dwsep | fc | pool | attention and keys out, kernel, stride (optional: name, repeat,
    padding, bias, batchnorm; pool: global, op; attention: heads).

    Example: sepconv ops model sample_data/mobilenet_v1.toml --standard
    """
    import sys

    from rich.text import Text

    from sepconv_cli.costs import models

    if str(spec) == "-":
        net = models.parse_model_spec(sys.stdin.read(), "<stdin>")
    else:
        net = models.load_model_spec(spec)
    report = models.model_report(net, standard=standard, bias=bias, batchnorm=batchnorm)
    device = None
    if (dtype, batch, device_name) != (None, None, None):
        from sepconv_cli.costs import devices

        device = None if device_name is None else devices.load_device(device_name)
        args = (device, dtype or "float32", 1 if batch is None else batch)
        costs = models.model_costs(net, bias=bias, batchnorm=batchnorm)
        report["device"] = devices.device_report(costs, *args)
        if standard:
            std = models.model_costs(net, standard=True, bias=bias, batchnorm=batchnorm)
            report["standard"]["device"] = devices.device_report(std, *args)
    if as_json:
        from sepconv_cli.cli.console import print_json

        print_json(report)
        return
    title = f"{report['name'] or net.source}: input {_shape(net.input_shape)}"
    columns = ["#", "name", "type", "kernel/stride", "output", "MACs", "params"]
    if standard:
        columns += ["std MACs", "std params"]
    traffic = report.get("device")
    if traffic is not None:
        columns += ["DRAM B" if device else "bytes", "MAC/B"]
        if device is not None:
            columns += ["bound", "time", "energy"]
    table = _table(title, columns, right_from=5)
    std_layers = report["standard"]["layers"] if standard else [None] * len(report["layers"])
    moved = traffic["layers"] if traffic else [None] * len(report["layers"])
    for row, std, bytes_row in zip(report["layers"], std_layers, moved, strict=True):
        cells = [
            str(row["index"]),
            row["name"],
            row["type"],
            _window(row),
            _shape(row["output_shape"]),
            _fmt(row["macs"]),
            _fmt(row["params"]),
        ]
        if std is not None:
            cells += [_fmt(std["macs"]), _fmt(std["params"])]
        if bytes_row is not None:
            cells += _moved_cells(bytes_row, device is not None)
        table.add_row(*(Text(cell) for cell in cells))
    total = report["total"]
    cells = ["", "total", "", "", "", _fmt(total["macs"]), _fmt(total["params"])]
    if standard:
        std_total = report["standard"]["total"]
        cells += [_fmt(std_total["macs"]), _fmt(std_total["params"])]
    if traffic is not None:
        cells += _moved_cells(traffic["total"], device is not None)
    table.add_section()
    table.add_row(*cells)
    lines = [
        f"total: {_si(total['macs'])} MACs ({_si(total['flops'])} FLOPs), "
        f"{_si(total['params'])} params"
    ]
    if standard:
        std_total = report["standard"]["total"]
        lines.append(
            f"standard convolutions: {_si(std_total['macs'])} MACs, "
            f"{_si(std_total['params'])} params; ratio {report['ratio']['macs']:.4g} MACs "
            f"({report['saving']['macs']:.4g}x fewer), {report['ratio']['params']:.4g} params"
        )
    if traffic is not None:
        lines += _device_lines(report, device)
    lines += [report["conventions"]["bias"], f"batch norm {report['conventions']['batchnorm']}"]
    _emit(table, *lines)


def _moved_cells(row: dict[str, Any], on_device: bool) -> list[str]:
    """Bytes, intensity and (on a device) bound, time and energy of a layer or the total."""
    if not on_device:
        return [_fmt(row["bytes"]), f"{row['macs'] / row['bytes']:.3g}" if row["bytes"] else ""]
    dram = row["dram_bytes"]
    return [
        _fmt(dram),
        f"{row['macs'] / dram:.3g}" if dram else "",
        row.get("bound", ""),
        _metric(row["time_s"], "s"),
        _metric(row["energy_j"], "J"),
    ]


def _metric(value: float | None, unit: str) -> str:
    """4.267e-06 s -> '4.27 us' (SI prefixes n, u, m; '' for None)."""
    if value is None:
        return ""
    for scale, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value / 1e-9:.3g} n{unit}"


def _device_lines(report: dict[str, Any], device: Any) -> list[str]:
    traffic = report["device"]
    peak = traffic["peak_activation"]
    lines = [
        f"{traffic['dtype']}, batch {traffic['batch']}: peak activation memory "
        f"{_fmt(peak['bytes'])} bytes (at {peak['layer']})"
    ]
    if device is None:
        return lines
    total = traffic["total"]
    lines.append(
        f"on {device.name}: {_metric(total['time_s'], 's')}, "
        + (_metric(total["energy_j"], "J") or "energy not in the profile")
        + f", {_fmt(total['dram_bytes'])} DRAM bytes; roofline model estimates, not measurements"
    )
    if "standard" in report:
        std = report["standard"]["device"]["total"]
        lines.append(
            f"standard convolutions on {device.name}: {_metric(std['time_s'], 's')}, "
            + _metric(std["energy_j"], "J")
            + f"; separable / standard time {total['time_s'] / std['time_s']:.3g}"
            + (
                ""
                if std["energy_j"] is None or total["energy_j"] is None
                else f", energy {total['energy_j'] / std['energy_j']:.3g}"
            )
        )
    return lines


@ops_app.command("scale")
def scale_command(
    spec: Path = typer.Argument(
        ..., help="TOML network spec to scale (e.g. sample_data/efficientnet_b0.toml)."
    ),
    phi: float | None = typer.Option(
        None,
        "--phi",
        help="Compound coefficient: width 1.1^phi, depth 1.2^phi, resolution 224 x 1.15^phi.",
    ),
    preset_name: str | None = typer.Option(
        None, "--preset", help="A published EfficientNet's (w, d, r) applied to the spec: b0..b7."
    ),
    width: float | None = typer.Option(None, "--width", help="Width multiplier w (channels)."),
    depth: float | None = typer.Option(None, "--depth", help="Depth multiplier d (block repeats)."),
    resolution: str | None = typer.Option(
        None, "--resolution", help="Input size: one number (every spatial axis) or HxW."
    ),
    divisor: int = typer.Option(
        8, "--divisor", help="Round channels to multiples of this (8 EfficientNet, 1 MobileNet)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """A network scaled in width, depth and resolution: MACs and params before and after.

    --phi uses EfficientNet's compound rule (alpha = 1.2, beta = 1.1, gamma = 1.15) and checks
    its FLOPs budget alpha * beta^2 * gamma^2 ~ 2; --width/--depth/--resolution scale by hand
    (MobileNet's multipliers: --width 0.5 --resolution 160 --divisor 1).

    Example: sepconv ops scale sample_data/efficientnet_b0.toml --phi 3
    """
    from dataclasses import replace as dc_replace

    from sepconv_cli.costs import layers as L
    from sepconv_cli.costs import scaling as S
    from sepconv_cli.costs.models import load_model_spec, model_costs
    from sepconv_cli.errors import UsageError

    manual = (width, depth, resolution) != (None, None, None)
    if sum((phi is not None, preset_name is not None, manual)) != 1:
        raise UsageError("give one of --phi, --preset, or --width/--depth/--resolution")
    if phi is not None:
        scaling = S.compound(phi, divisor=divisor)
    elif preset_name is not None:
        scaling = dc_replace(S.preset(preset_name), divisor=divisor)
    else:
        res = None
        if resolution is not None:
            dims = L.parse_dims(resolution, "--resolution")
            res = dims[0] if len(dims) == 1 else dims
        scaling = S.Scaling(
            1.0 if width is None else width, 1.0 if depth is None else depth, res, divisor
        )
    net = load_model_spec(spec)
    scaled = S.scale_spec(net, scaling)
    base, big = model_costs(net), model_costs(scaled)
    budget = S.ALPHA * S.BETA**2 * S.GAMMA**2
    document = {
        "name": net.name,
        "source": net.source,
        "scaling": scaling.as_dict(),
        "base": {"input_shape": list(net.input_shape), "macs": base.macs, "params": base.params},
        "scaled": {
            "input_shape": list(scaled.input_shape),
            "macs": big.macs,
            "params": big.params,
        },
        "ratio": {"macs": big.macs / base.macs, "params": big.params / base.params},
        "budget": {
            "alpha": S.ALPHA,
            "beta": S.BETA,
            "gamma": S.GAMMA,
            "alpha_beta2_gamma2": budget,
            "predicted_macs_ratio": None if phi is None else budget**phi,
        },
    }
    if as_json:
        from sepconv_cli.cli.console import print_json

        print_json(document)
        return
    how = (
        f"phi = {phi:g}"
        if phi is not None
        else (f"preset {preset_name.lower()}" if preset_name is not None else "by hand")
    )
    table = _table(
        f"{net.name or net.source} scaled ({how})", ["network", "input", "MACs", "params"], 2
    )
    table.add_row("base", _shape(net.input_shape), _fmt(base.macs), _fmt(base.params))
    table.add_row("scaled", _shape(scaled.input_shape), _fmt(big.macs), _fmt(big.params))
    ratio = document["ratio"]
    lines = [
        f"width {scaling.width:g}, depth {scaling.depth:g} (block repeats rounded up), "
        f"channels rounded to multiples of {scaling.divisor}",
        f"scaled / base: {ratio['macs']:.4g}x MACs, {ratio['params']:.4g}x params",
        f"budget check: alpha * beta^2 * gamma^2 = 1.2 * 1.1^2 * 1.15^2 = {budget:.4g} (~2: "
        "each step of phi about doubles the FLOPs)",
    ]
    if phi is not None:
        lines.append(
            f"rule predicts {budget**phi:.4g}x MACs at phi = {phi:g}; "
            "the rounding of repeats and channels moves it"
        )
    _emit(table, *lines, stdout=True)


@ops_app.command("filter")
def filter_command(
    shape: str = typer.Option(
        ..., "--shape", help="Array shape, e.g. 4096x4096, 256x256x128 or 512x512x200 (--axes yxb)."
    ),
    kernel: str = typer.Option(
        ..., "--kernel", "-k", help="Kernel spec, e.g. gaussian:sigma=2, log:sigma=3, @k.csv."
    ),
    axes: str | None = typer.Option(
        None,
        "--axes",
        help="Axis letters of the array (y x z space; c colour, b band, t time are not "
        "filtered), e.g. yxb. Default: every axis is spatial (x, yx, zyx).",
    ),
    spacing: str | None = typer.Option(
        None,
        "--spacing",
        help="Voxel spacing per spatial axis, e.g. 2x2x3 (unit from --unit) or 0.5x0.5x2um.",
    ),
    unit: str = typer.Option("mm", "--unit", help="Unit of --spacing without a suffix."),
    itemsize: int = typer.Option(
        4, "--itemsize", help="Bytes per sample of the compute dtype (4 float32, 8 float64)."
    ),
    tol: float = typer.Option(
        1e-6, "--tol", help="Relative error accepted for a separable / low-rank split."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Per-method cost of filtering an array with a kernel, without data.

    For direct, separable, low-rank and FFT filtering: multiplies, adds, MACs and FLOPs per voxel
    and in total, the bytes moved, the saving versus direct, the predicted time and the method
    `sepconv apply --method auto` would choose.

    Example: sepconv ops filter --shape 4096x4096 -k gaussian:sigma=3
    """
    from sepconv_cli.costs import layers as L
    from sepconv_cli.costs.filters import crossover_text, fft_crossover, saving_factor
    from sepconv_cli.engine.costmodel import load_calibration
    from sepconv_cli.engine.options import ApplyOptions
    from sepconv_cli.engine.planner import plan_step
    from sepconv_cli.engine.report import step_summary
    from sepconv_cli.errors import UsageError
    from sepconv_cli.image import AXIS_ROLES
    from sepconv_cli.kernels import build_kernel

    dims = L.parse_dims(shape, "--shape")
    letters = axes.lower() if axes else "zyx"[-len(dims) :] if len(dims) <= 3 else ""
    if len(letters) != len(dims) or any(a not in AXIS_ROLES for a in letters):
        raise UsageError(
            f"--axes must give one letter ({' '.join(AXIS_ROLES)}) per axis of --shape "
            f"{shape!r}, got {axes!r}"
        )
    if len(set(letters)) != len(letters):
        raise UsageError(f"--axes names an axis twice: {axes!r}")
    filtered = [i for i, a in enumerate(letters) if AXIS_ROLES[a] == "space"]
    if not filtered:
        raise UsageError(f"--axes {axes!r} has no spatial axis (x, y or z) to filter")
    if itemsize < 1:
        raise UsageError(f"--itemsize must be a positive number of bytes, got {itemsize}")
    sizes = units = None
    if spacing is not None:
        from sepconv_cli.spec import parse_spacing

        values, parsed_units = parse_spacing(spacing)
        if len(values) not in (1, len(filtered)):
            raise UsageError(
                f"--spacing needs 1 or {len(filtered)} values (one per spatial axis), "
                f"got {spacing!r}"
            )
        sizes = tuple(values) * (len(filtered) // len(values))
        units = tuple(u or unit for u in parsed_units) * (len(filtered) // len(parsed_units))
    built = build_kernel(
        kernel,
        ndim=len(filtered),
        spacing=sizes,
        units=units,
        axes="".join(letters[i] for i in filtered),
    )
    # the planner's own numbers, so they equal what `sepconv apply --dry-run` reports
    options = ApplyOptions(kernels=(kernel,), tol=tol).normalized()
    decompositions: dict[int, Any] = {}
    step = plan_step(
        built, dims, tuple(filtered), options, "numpy", itemsize=itemsize, cache=decompositions
    )
    parts = built.components if built.combine == "magnitude" else (built,)
    analyses = [
        {
            "shape": list(part.shape),
            "rank": decompositions[id(part)][0],
            "rel_error": decompositions[id(part)][1],
        }
        for part in parts
    ]
    costs = step_summary(step, letters)["ops"]
    for method in costs:
        costs[method]["saving_vs_direct"] = saving_factor(costs, method)
    cheapest = min(costs, key=lambda m: costs[m]["total_flops"])
    auto = {
        "method": step.method,
        "why": step.why,
        "backend": "numpy",
        "predicted_s": step.predicted_s,
        "calibration": load_calibration()["source"],
    }
    document = {
        "shape": list(dims),
        "axes": letters,
        "filtered_axes": filtered,
        "kernel": {"spec": built.spec, "name": built.name, "shape": list(built.shape)},
        "components": analyses,
        "itemsize": itemsize,
        "ops": costs,
        "cheapest": cheapest,
        "fft_crossover": fft_crossover(dims, filtered),
        "auto": auto,
    }
    for key in ("sigma_vox", "radius"):
        if key in built.params:
            document["kernel"][key] = built.params[key]
    if as_json:
        from sepconv_cli.cli.console import print_json

        print_json(document)
        return
    table = _table(
        f"{built.spec}: kernel {_shape(built.shape)} on {_shape(dims)} ({letters})",
        [
            "method",
            "mul/vox",
            "add/vox",
            "MAC/vox",
            "FLOP/vox",
            "MACs",
            "FLOPs",
            "bytes",
            "saving",
            "time",
        ],
    )
    for method, c in costs.items():
        table.add_row(
            method + (f" r={c['terms']}" if "terms" in c else ""),
            f"{c['mults']:.4g}",
            f"{c['adds']:.4g}",
            f"{c['macs']:.4g}",
            f"{c['flops']:.4g}",
            _si(c["total_macs"]),
            _si(c["total_flops"]),
            _si(c["bytes"]) + "B",
            f"{c['saving_vs_direct']:.3g}x",
            _seconds(step.predicted_s.get(method)),
        )
    lines = [
        "per voxel (vox) and in total; saving = direct FLOPs / method FLOPs; "
        "time = predicted on numpy",
    ]
    lines += [
        f"component {_shape(a['shape'])}: separable rank {a['rank'] or 'none (used whole)'}, "
        f"relative error {a['rel_error']:.2g}"
        for a in analyses
    ]
    if len(parts) > 1:
        lines.append(
            f"{len(parts)} kernels combined ({built.combine or 'sum'}); "
            "counts are their sum, the combination itself is not counted"
        )
    if "sigma_vox" in built.params:
        sigma = ", ".join(f"{v:.4g}" for v in built.params["sigma_vox"])
        lines.append(f"sigma in voxels: {sigma}; radius {built.params.get('radius')}")
    lines.append(f"fewest FLOPs: {cheapest} (FFT MACs count its multiplies; compare FLOPs)")
    lines.append(
        f"{crossover_text(document['fft_crossover'])} "
        f"(a K^{len(filtered)} kernel on {_shape(dims)})"
    )
    lines.append(
        f"sepconv apply --method auto would run {step.method} on numpy: {step.why} "
        f"(time model: {auto['calibration']})"
    )
    _emit(table, *lines)


def _seconds(value: float | None) -> str:
    from sepconv_cli.engine.planner import format_seconds

    return "" if value is None else format_seconds(value)


def _window(row: dict[str, Any]) -> str:
    if not row["kernel"]:
        return ""
    if not row["stride"]:
        return "global"
    return f"{_shape(row['kernel'])}/{_shape(row['stride'])}"


def register(app: typer.Typer) -> None:
    """Add the ``ops`` command group to `app`."""
    app.add_typer(ops_app, name="ops")
