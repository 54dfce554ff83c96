"""Multiply-accumulates (MACs) and parameters of deep-learning layers in 1-D, 2-D and 3-D.

Conventions
-----------
- Shapes are channels-last: ``(L, C)``, ``(H, W, C)`` or ``(D, H, W, C)``; a flattened feature
  vector (after a fully connected layer) is ``(C,)``.
- One MAC is one multiply plus one add (a "mult-add" in Howard et al. 2017); FLOPs = 2 x MACs.
- Padding ``"same"``: output size = ceil(input / stride) per axis (TensorFlow's rule);
  ``"valid"``: floor((input - kernel) / stride) + 1.
- Convolutions (standard, depthwise, pointwise) have **no bias** by default, as in MobileNet where
  every convolution is followed by batch normalisation; fully connected layers **have** a bias.
  ``bias=True`` adds one bias per output channel to a convolution (parameters only: adding a bias
  is an add, not a multiply-accumulate). ``batchnorm=True`` counts batch normalisation's
  trainable scale and shift (2 per output channel) as parameters, as Keras' "trainable params"
  do (its moving mean and variance are not trained and not counted); folded into the
  convolution at inference it costs no MACs.
- Pooling has no weights: 0 MACs and 0 parameters (its adds or comparisons are not MACs).
- Self-attention over N tokens of C channels: Q, K, V and output projections 4·N·C² MACs plus
  scores QKᵀ and the weighted sum of V 2·N²·C MACs; 4·C² parameters (the head count changes
  neither).

Examples
--------
>>> conv_cost((112, 112), 32, 64, 3).macs
231211008
>>> compare_conv_dwsep((112, 112), 32, 64, 3).ratio == 1 / 64 + 1 / 9
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sepconv_cli.errors import UsageError

#: The layer types a model spec may use.
LAYER_TYPES = ("conv", "dw", "pw", "dwsep", "fc", "pool", "attention")

#: Padding rules.
PADDINGS = ("same", "valid")

#: Pooling operations.
POOL_OPS = ("avg", "max")

IntOrSeq = int | Sequence[int]


@dataclass(frozen=True)
class LayerCost:
    """The cost of one layer.

    Parameters
    ----------
    type
        One of :data:`LAYER_TYPES`.
    input_shape, output_shape
        Channels-last shapes, e.g. ``(112, 112, 32)``.
    macs
        Multiply-accumulates for one input (batch size 1).
    params
        Weights plus biases.
    kernel, stride
        Per spatial axis; empty for fc and attention layers.
    parts
        The layers a composite layer is made of (``dwsep`` = ``dw`` then ``pw``).
    elementwise
        Element-wise operations that are not MACs (activations, residual adds, un-folded batch
        norm, interpolation, the gating of squeeze-and-excitation), for batch size 1.

    Examples
    --------
    >>> c = pointwise_cost((7, 7), 1024, 1024)
    >>> c.output_shape, c.macs, c.flops
    ((7, 7, 1024), 51380224, 102760448)
    """

    type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    macs: int
    params: int
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    parts: tuple[LayerCost, ...] = field(default=())
    elementwise: int = 0

    @property
    def flops(self) -> int:
        """Floating-point operations, counting a MAC as two."""
        return 2 * self.macs

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (parts nested the same way)."""
        out: dict[str, Any] = {
            "type": self.type,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "macs": self.macs,
            "flops": self.flops,
            "params": self.params,
            "elementwise_ops": self.elementwise,
        }
        if self.parts:
            out["parts"] = [part.as_dict() for part in self.parts]
        return out


def per_axis(value: IntOrSeq, ndim: int, name: str) -> tuple[int, ...]:
    """Expand ``value`` (one positive int or one per axis) to ``ndim`` positive ints.

    Examples
    --------
    >>> per_axis(3, 2, "kernel"), per_axis([3, 5], 2, "kernel")
    ((3, 3), (3, 5))
    """
    items = [value] * ndim if isinstance(value, int) else list(value)
    if len(items) != ndim:
        raise UsageError(
            f"{name} has {len(items)} values {_show(value)} but the input has {ndim} spatial "
            f"axes; give one value or {ndim}"
        )
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise UsageError(f"{name} must be positive integers, got {_show(value)}")
    return tuple(items)


def parse_dims(text: str, name: str) -> tuple[int, ...]:
    """Parse ``"112"``, ``"112x112"`` or ``"16x112x112"`` into positive ints.

    Examples
    --------
    >>> parse_dims("16x112x112", "--size")
    (16, 112, 112)
    """
    parts = text.lower().replace("×", "x").replace(",", "x").split("x")
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        raise UsageError(
            f"{name} must be integers like 112, 112x112 or 16x112x112, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise UsageError(f"{name} must be positive, got {text!r}")
    return values


def _show(value: Any) -> str:
    return str(list(value)) if isinstance(value, (list, tuple)) else repr(value)


def _extra(channels: int, bias: bool, batchnorm: bool) -> int:
    """Parameters per layer besides the weights: a bias and batch norm's scale and shift."""
    return channels * (int(bias) + 2 * int(batchnorm))


def _check_channels(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {_show(value)}")
    return value


def _check_size(size: Sequence[int], name: str = "size") -> tuple[int, ...]:
    size = tuple(size)
    if not 1 <= len(size) <= 3:
        raise UsageError(f"{name} must have 1, 2 or 3 spatial axes, got {list(size)}")
    for item in size:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise UsageError(f"{name} must be positive integers, got {list(size)}")
    return size


def output_size(
    size: Sequence[int], kernel: IntOrSeq, stride: IntOrSeq = 1, padding: str = "same"
) -> tuple[int, ...]:
    """Spatial output size of a sliding-window layer.

    ``"same"``: ceil(size / stride); ``"valid"``: floor((size - kernel) / stride) + 1.

    Examples
    --------
    >>> output_size((224, 224), 3, 2), output_size((7,), 3, 2), output_size((10,), 3, 1, "valid")
    ((112, 112), (4,), (8,))
    """
    size = _check_size(size)
    ks = per_axis(kernel, len(size), "kernel")
    ss = per_axis(stride, len(size), "stride")
    if padding == "same":
        return tuple(-(-n // s) for n, s in zip(size, ss, strict=True))
    if padding == "valid":
        if any(k > n for n, k in zip(size, ks, strict=True)):
            raise UsageError(
                f"kernel {list(ks)} is larger than the input {list(size)} with padding 'valid'"
            )
        return tuple((n - k) // s + 1 for n, k, s in zip(size, ks, ss, strict=True))
    raise UsageError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")


def _sliding_cost(
    kind: str,
    size: Sequence[int],
    c_in: int,
    fan: int,
    fan_name: str,
    kernel: IntOrSeq,
    stride: IntOrSeq,
    padding: str,
    bias: bool,
    batchnorm: bool,
    groups: int = 1,
) -> LayerCost:
    """The cost of a sliding-window layer that gives every input channel ``fan`` filters.

    The one validation and window arithmetic of conv, pw (``fan`` = C_out: every output channel
    sees every input channel) and dw (``fan`` = the depth multiplier, C_out = C_in · fan):
    weights = prod(kernel) · C_in · fan, MACs = prod(output size) · weights. ``fan_name``
    names ``fan`` in errors. With ``groups`` = g (conv and pw), each output channel sees C_in / g
    input channels: weights = prod(kernel) · C_in · C_out / g.
    """
    size = _check_size(size)
    c_in = _check_channels(c_in, "input channels")
    fan = _check_channels(fan, fan_name)
    ks = per_axis(kernel, len(size), "kernel")
    ss = per_axis(stride, len(size), "stride")
    out = output_size(size, ks, ss, padding)
    c_out = c_in * fan if kind == "dw" else fan
    _check_groups(groups, c_in, c_out)
    weights = math.prod(ks) * c_in * fan // groups
    return LayerCost(
        kind,
        (*size, c_in),
        (*out, c_out),
        math.prod(out) * weights,
        weights + _extra(c_out, bias, batchnorm),
        ks,
        ss,
    )


def _check_groups(groups: int, c_in: int, c_out: int) -> None:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise UsageError(f"groups must be a positive integer, got {_show(groups)}")
    if c_in % groups or c_out % groups:
        raise UsageError(
            f"groups ({groups}) must divide the input ({c_in}) and output ({c_out}) channels"
        )


def conv_cost(
    size: Sequence[int],
    c_in: int,
    c_out: int,
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    bias: bool = False,
    batchnorm: bool = False,
    groups: int = 1,
) -> LayerCost:
    """A standard convolution: every output channel sees every input channel (of its group).

    MACs = prod(output size) · prod(kernel) · C_in · C_out / groups;
    params = prod(kernel) · C_in · C_out / groups.

    Examples
    --------
    >>> c = conv_cost((224, 224), 3, 32, 3, 2)
    >>> c.output_shape, c.macs, c.params
    ((112, 112, 32), 10838016, 864)
    >>> conv_cost((56, 56), 128, 128, 3, groups=32).params  # ResNeXt's 32x4d group conv
    4608
    """
    return _sliding_cost(
        "conv", size, c_in, c_out, "out", kernel, stride, padding, bias, batchnorm, groups
    )


def conv_transpose_cost(
    size: Sequence[int],
    c_in: int,
    c_out: int,
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    bias: bool = False,
    batchnorm: bool = False,
    groups: int = 1,
) -> LayerCost:
    """A transposed ("up-") convolution: every input value scatters a K^d window to C_out.

    Output size: ``"same"`` = input · stride; ``"valid"`` = (input - 1) · stride + kernel.
    MACs = prod(input size) · prod(kernel) · C_in · C_out / groups (PyTorch's and fvcore's
    count); params as for a convolution.

    Examples
    --------
    >>> c = conv_transpose_cost((28, 28), 128, 64, 2, 2)
    >>> c.output_shape, c.macs, c.params
    ((56, 56, 64), 25690112, 32768)
    """
    size = _check_size(size)
    c_in = _check_channels(c_in, "input channels")
    c_out = _check_channels(c_out, "out")
    ks = per_axis(kernel, len(size), "kernel")
    ss = per_axis(stride, len(size), "stride")
    if padding == "same":
        out = tuple(n * s for n, s in zip(size, ss, strict=True))
    elif padding == "valid":
        out = tuple((n - 1) * s + k for n, k, s in zip(size, ks, ss, strict=True))
    else:
        raise UsageError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    _check_groups(groups, c_in, c_out)
    weights = math.prod(ks) * c_in * c_out // groups
    return LayerCost(
        "deconv",
        (*size, c_in),
        (*out, c_out),
        math.prod(size) * weights,
        weights + _extra(c_out, bias, batchnorm),
        ks,
        ss,
    )


def depthwise_cost(
    size: Sequence[int],
    channels: int,
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    multiplier: int = 1,
    bias: bool = False,
    batchnorm: bool = False,
) -> LayerCost:
    """A depthwise convolution: one K^d filter per input channel (``multiplier`` filters each).

    MACs = prod(output size) · prod(kernel) · C · multiplier;
    params = prod(kernel) · C · multiplier.

    Examples
    --------
    >>> c = depthwise_cost((112, 112), 32, 3)
    >>> c.output_shape, c.macs, c.params
    ((112, 112, 32), 3612672, 288)
    """
    return _sliding_cost(
        "dw",
        size,
        channels,
        multiplier,
        "depth multiplier",
        kernel,
        stride,
        padding,
        bias,
        batchnorm,
    )


def pointwise_cost(
    size: Sequence[int],
    c_in: int,
    c_out: int,
    stride: IntOrSeq = 1,
    *,
    bias: bool = False,
    batchnorm: bool = False,
    groups: int = 1,
) -> LayerCost:
    """A pointwise (1x1) convolution mixing channels (of each group: ShuffleNet's group pw).

    Examples
    --------
    >>> pointwise_cost((112, 112), 32, 64).macs
    25690112
    """
    return _sliding_cost("pw", size, c_in, c_out, "out", 1, stride, "same", bias, batchnorm, groups)


def dwsep_cost(
    size: Sequence[int],
    c_in: int,
    c_out: int,
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    bias: bool = False,
    batchnorm: bool = False,
) -> LayerCost:
    """A depthwise separable convolution: depthwise K^d (with the stride), then pointwise to C_out.

    MACs = prod(output size) · (prod(kernel) · C_in + C_in · C_out).

    Examples
    --------
    >>> c = dwsep_cost((112, 112), 32, 64, 3)
    >>> c.macs == 3612672 + 25690112, [p.type for p in c.parts]
    (True, ['dw', 'pw'])
    """
    dw = depthwise_cost(size, c_in, kernel, stride, padding, bias=bias, batchnorm=batchnorm)
    pw = pointwise_cost(dw.output_shape[:-1], c_in, c_out, bias=bias, batchnorm=batchnorm)
    return LayerCost(
        "dwsep",
        dw.input_shape,
        pw.output_shape,
        dw.macs + pw.macs,
        dw.params + pw.params,
        dw.kernel,
        dw.stride,
        (dw, pw),
    )


def fc_cost(input_shape: Sequence[int], c_out: int, *, bias: bool = True) -> LayerCost:
    """A fully connected layer over the flattened input (all spatial axes and channels).

    MACs = prod(input_shape) · C_out; params = MACs + C_out (bias).

    Examples
    --------
    >>> c = fc_cost((1, 1, 1024), 1000)
    >>> c.output_shape, c.macs, c.params
    ((1000,), 1024000, 1025000)
    """
    input_shape = tuple(input_shape)
    for item in input_shape:
        _check_channels(item, "fc input shape")
    c_out = _check_channels(c_out, "out")
    n_in = math.prod(input_shape)
    return LayerCost(
        "fc", input_shape, (c_out,), n_in * c_out, n_in * c_out + (c_out if bias else 0)
    )


def pool_cost(
    size: Sequence[int],
    channels: int,
    kernel: IntOrSeq | None = None,
    stride: IntOrSeq | None = None,
    padding: str = "same",
    *,
    global_pool: bool = False,
) -> LayerCost:
    """A pooling layer (no weights, no MACs); ``global_pool`` reduces every spatial axis to 1.

    ``stride`` defaults to ``kernel`` (non-overlapping windows).

    Examples
    --------
    >>> pool_cost((7, 7), 1024, global_pool=True).output_shape
    (1, 1, 1024)
    >>> pool_cost((112, 112), 64, 2).output_shape
    (56, 56, 64)
    """
    size = _check_size(size)
    channels = _check_channels(channels, "input channels")
    if global_pool:
        if stride is not None:
            raise UsageError("a global pool takes no stride")
        return LayerCost("pool", (*size, channels), (*(1 for _ in size), channels), 0, 0, size)
    if kernel is None:
        raise UsageError("a pool needs a kernel (or global = true)")
    ks = per_axis(kernel, len(size), "kernel")
    ss = per_axis(ks if stride is None else stride, len(size), "stride")
    out = output_size(size, ks, ss, padding)
    return LayerCost("pool", (*size, channels), (*out, channels), 0, 0, ks, ss)


def attention_cost(size: Sequence[int], channels: int, *, bias: bool = False) -> LayerCost:
    """Self-attention over all N = prod(size) tokens of C channels.

    MACs = 2·N²·C + 4·N·C² (scores and weighted sum; Q, K, V and output projections);
    params = 4·C² (+ 4·C with ``bias``).

    Examples
    --------
    >>> attention_cost((196,), 768).macs == 2 * 196**2 * 768 + 4 * 196 * 768**2
    True
    """
    size = _check_size(size, "tokens")
    channels = _check_channels(channels, "channels")
    n = math.prod(size)
    return LayerCost(
        "attention",
        (*size, channels),
        (*size, channels),
        2 * n * n * channels + 4 * n * channels * channels,
        4 * channels * channels + (4 * channels if bias else 0),
    )


def convolution_cost(
    kind: str,
    size: Sequence[int],
    c_in: int,
    c_out: int | None,
    kernel: IntOrSeq = 1,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    bias: bool = False,
    batchnorm: bool = False,
    groups: int = 1,
) -> LayerCost:
    """The cost of a ``conv``, ``dw``, ``pw`` or ``dwsep`` layer, by name.

    ``c_out`` may be None for ``dw`` (keeps the channels); otherwise a ``dw`` layer's ``c_out``
    must be a multiple of ``c_in`` (the depth multiplier). A ``pw`` layer's kernel must be 1.
    ``groups`` applies to ``conv`` and ``pw`` only.

    Examples
    --------
    >>> convolution_cost("dw", (8, 8), 4, 8, 3).params
    72
    """
    extra = {"bias": bias, "batchnorm": batchnorm}
    if kind == "dw":
        c_out = c_in if c_out is None else c_out
        if c_out % c_in:
            raise UsageError(
                f"out ({c_out}) must be a multiple of the input channels ({c_in}) "
                "for a depthwise layer"
            )
        return depthwise_cost(
            size, c_in, kernel, stride, padding, multiplier=c_out // c_in, **extra
        )
    if kind not in ("conv", "pw", "dwsep"):
        raise UsageError(f"layer type must be conv, dw, pw or dwsep, got {kind!r}")
    if c_out is None:
        raise UsageError(f"a {kind} layer needs out (its output channels)")
    if groups != 1 and kind not in ("conv", "pw"):
        raise UsageError(f"groups applies to conv and pw layers, not {kind}")
    if kind == "conv":
        return conv_cost(size, c_in, c_out, kernel, stride, padding, groups=groups, **extra)
    if kind == "dwsep":
        return dwsep_cost(size, c_in, c_out, kernel, stride, padding, **extra)
    if any(k != 1 for k in per_axis(kernel, len(_check_size(size)), "kernel")):
        raise UsageError(f"a pw layer is 1x1, got kernel {_show(kernel)} (use conv or dwsep)")
    return pointwise_cost(size, c_in, c_out, stride, groups=groups, **extra)


@dataclass(frozen=True)
class ConvComparison:
    """A standard convolution against the depthwise separable one with the same kernel.

    ``ratio`` = separable MACs / standard MACs, which equals ``closed_form`` = 1/C_out + 1/K^d
    (K^d = prod(kernel)) exactly; ``saving`` = its inverse.

    Examples
    --------
    >>> cmp = compare_conv_dwsep((56, 56), 128, 256, 3, 2)
    >>> round(cmp.saving, 2)
    8.69
    """

    standard: LayerCost
    separable: LayerCost
    ratio: float
    closed_form: float
    params_ratio: float

    @property
    def saving(self) -> float:
        """Standard MACs / separable MACs."""
        return 1.0 / self.ratio

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "standard": self.standard.as_dict(),
            "dwsep": self.separable.as_dict(),
            "ratio": self.ratio,
            "closed_form": self.closed_form,
            "saving": self.saving,
            "params_ratio": self.params_ratio,
        }


def compare_conv_dwsep(
    size: Sequence[int],
    c_in: int,
    c_out: int,
    kernel: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: str = "same",
    *,
    bias: bool = False,
    batchnorm: bool = False,
) -> ConvComparison:
    """Compare a standard convolution with a depthwise separable one (Howard et al. 2017, eq. 5).

    Examples
    --------
    >>> cmp = compare_conv_dwsep((16, 64, 64), 32, 64, 3)
    >>> cmp.closed_form == 1 / 64 + 1 / 27
    True
    """
    standard = conv_cost(size, c_in, c_out, kernel, stride, padding, bias=bias, batchnorm=batchnorm)
    separable = dwsep_cost(
        size, c_in, c_out, kernel, stride, padding, bias=bias, batchnorm=batchnorm
    )
    return ConvComparison(
        standard,
        separable,
        separable.macs / standard.macs,
        1.0 / c_out + 1.0 / math.prod(standard.kernel),
        separable.params / standard.params,
    )


@dataclass(frozen=True)
class AttentionComparison:
    """Self-attention against a depthwise separable convolution over the same N tokens.

    Attention: 2·N²·C + 4·N·C² MACs; dwsep conv: N·C·K^d + N·C² MACs. Dividing both by N·C, they
    are equal at N = (K^d - 3·C) / 2 (``crossover_tokens``; None when K^d <= 3·C: then the
    attention projections alone cost more than the whole convolution at every N).
    ``quadratic_tokens`` = 2·C is the N where attention's N² term equals its projections.

    Examples
    --------
    >>> cmp = compare_attention_dwsep((14, 14), 768, 3)
    >>> cmp.crossover_tokens is None, cmp.quadratic_tokens
    (True, 1536)
    """

    tokens: int
    channels: int
    kernel: tuple[int, ...]
    attention: LayerCost
    separable: LayerCost
    ratio: float
    crossover_tokens: float | None
    quadratic_tokens: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "tokens": self.tokens,
            "channels": self.channels,
            "kernel": list(self.kernel),
            "attention": self.attention.as_dict(),
            "dwsep": self.separable.as_dict(),
            "ratio": self.ratio,
            "crossover_tokens": self.crossover_tokens,
            "quadratic_tokens": self.quadratic_tokens,
        }


def compare_attention_dwsep(
    tokens: int | Sequence[int],
    channels: int,
    kernel: IntOrSeq = 3,
    *,
    dims: int | None = None,
    bias: bool = False,
) -> AttentionComparison:
    """Compare self-attention with a depthwise separable convolution over the same tokens.

    Parameters
    ----------
    tokens
        The number of tokens N, or their grid, e.g. ``(14, 14)`` for image patches.
    channels
        Channels C per token (the embedding width); the convolution keeps C channels.
    kernel
        The convolution's kernel: one size (applied on ``dims`` axes) or one per axis.
    dims
        Axes d of the convolution when ``tokens`` is a count and ``kernel`` one size
        (default 1: a sequence); otherwise it must agree with the grid or the kernel.
    bias
        Count biases of the projections and the convolutions (parameters only).

    ``ratio`` = attention MACs / dwsep MACs.

    Examples
    --------
    >>> cmp = compare_attention_dwsep(1024, 64, 3)
    >>> cmp.attention.macs, cmp.separable.macs
    (150994944, 4390912)
    >>> compare_attention_dwsep(196, 768, 3, dims=2).separable.macs == 196 * 768 * (9 + 768)
    True
    """
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        grid: tuple[int, ...] = (_check_channels(tokens, "tokens"),)
        given = [] if dims is None else [dims]
    else:
        grid = _check_size(tokens, "tokens")
        given = [len(grid)] + ([] if dims is None else [dims])
    if not isinstance(kernel, int):
        given.append(len(kernel))
    ndims = given[0] if given else 1
    if any(d != ndims for d in given) or not 1 <= ndims <= 3:
        raise UsageError(
            f"the token grid {list(grid) if len(grid) > 1 else grid[0]}, kernel {_show(kernel)} "
            f"and dims {dims} disagree on the number of axes (1, 2 or 3)"
        )
    ks = per_axis(kernel, ndims, "kernel")
    n = math.prod(grid)
    c = _check_channels(channels, "channels")
    shape = (*grid, c)
    attention = attention_cost(grid, c, bias=bias)
    b = c if bias else 0
    dw = LayerCost(
        "dw", shape, shape, n * math.prod(ks) * c, math.prod(ks) * c + b, ks, (1,) * ndims
    )
    pw = LayerCost("pw", shape, shape, n * c * c, c * c + b, (1,) * ndims, (1,) * ndims)
    separable = LayerCost(
        "dwsep", shape, shape, dw.macs + pw.macs, dw.params + pw.params, ks, dw.stride, (dw, pw)
    )
    crossover = (math.prod(ks) - 3 * c) / 2
    return AttentionComparison(
        n,
        c,
        ks,
        attention,
        separable,
        attention.macs / separable.macs,
        crossover if crossover > 0 else None,
        2 * c,
    )
