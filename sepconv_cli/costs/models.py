"""Whole networks from a TOML layer spec -> per-layer and total MACs and parameters.

The spec::

    name = "MobileNet v1 1.0-224"      # optional; also optional: description, reference
    input = [224, 224, 3]              # [L, C] (1-D), [H, W, C] (2-D) or [D, H, W, C] (3-D)

    [[layer]]
    type = "conv"                      # conv | dw | pw | dwsep | fc | pool | attention
    out = 32                           # output channels (features for fc)
    kernel = 3                         # one size or one per spatial axis: [3, 3]
    stride = 2                         # idem; default 1 (pool: the kernel)
    name = "conv1"                     # optional
    repeat = 1                         # optional: the layer n times in a row

Padding is ``"same"`` (output = ceil(input / stride)) unless a layer says ``padding = "valid"``.
``dwsep`` is a depthwise K^d convolution (with the stride) then a pointwise 1x1 to ``out``; ``dw``
keeps the channels (or multiplies them: ``out`` a multiple of the input channels); ``pool`` with
``global = true`` averages every spatial axis to 1; ``fc`` flattens its input. Convolutions and
attention have no bias unless ``bias = true`` (batch-norm convention); fc layers have one unless
``bias = false``; ``batchnorm = true`` on a convolution counts batch norm's scale and shift.
See :mod:`sepconv_cli.costs.layers` for the formulas.

Examples
--------
>>> spec = parse_model_spec('''
... input = [128, 16]
... [[layer]]
... type = "dwsep"
... out = 32
... kernel = 5
... ''')
>>> model_costs(spec).macs == 128 * (5 * 16 + 16 * 32)
True
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepconv_cli.costs import layers as L
from sepconv_cli.errors import FormatError, SpecError, UsageError
from sepconv_cli.registry import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Top-level keys of a model spec.
TOP_KEYS = ("name", "description", "reference", "input", "layer")

_COMMON = ("type", "name", "repeat")
#: Keys each layer type accepts (besides type, name and repeat).
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "conv": ("out", "kernel", "stride", "padding", "bias", "batchnorm"),
    "dw": ("out", "kernel", "stride", "padding", "bias", "batchnorm"),
    "pw": ("out", "stride", "bias", "batchnorm"),
    "dwsep": ("out", "kernel", "stride", "padding", "bias", "batchnorm"),
    "fc": ("out", "bias"),
    "pool": ("kernel", "stride", "padding", "global", "op"),
    "attention": ("heads", "bias"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "conv": ("out", "kernel"),
    "dw": ("kernel",),
    "pw": ("out",),
    "dwsep": ("out", "kernel"),
    "fc": ("out",),
}


@dataclass(frozen=True)
class LayerSpec:
    """One ``[[layer]]`` table, validated (``index`` counts tables from 1).

    Examples
    --------
    >>> LayerSpec(1, "pw", out=64, name="proj").label
    "layer 1 (pw 'proj')"
    """

    index: int
    type: str
    name: str | None = None
    out: int | None = None
    kernel: int | tuple[int, ...] | None = None
    stride: int | tuple[int, ...] | None = None
    padding: str = "same"
    bias: bool | None = None
    batchnorm: bool | None = None
    global_pool: bool = False
    op: str = "avg"
    heads: int = 1
    repeat: int = 1

    @property
    def label(self) -> str:
        """How error messages name the layer."""
        named = f" {self.name!r}" if self.name else ""
        return f"layer {self.index} ({self.type}{named})"


@dataclass(frozen=True)
class ModelSpec:
    """A validated network spec.

    Examples
    --------
    >>> ModelSpec((32, 32, 3), (LayerSpec(1, "fc", out=10),)).ndim
    2
    """

    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    name: str = ""
    description: str = ""
    reference: str = ""
    source: str = "<spec>"

    @property
    def ndim(self) -> int:
        """Number of spatial axes of the input."""
        return len(self.input_shape) - 1


@dataclass(frozen=True)
class ModelLayer:
    """One computed layer of a network (a layer with ``repeat = n`` gives n of these)."""

    index: int
    name: str
    cost: L.LayerCost
    replaced: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: index, name, then the layer's cost."""
        out = {"index": self.index, "name": self.name, **self.cost.as_dict()}
        if self.replaced:
            out["replaced"] = True
        return out


@dataclass(frozen=True)
class ModelCost:
    """Per-layer and total cost of a network.

    Examples
    --------
    >>> spec = ModelSpec((4, 4, 8), (LayerSpec(1, "pw", out=2),))
    >>> model_costs(spec).macs
    256
    """

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[ModelLayer, ...]
    standard: bool = False

    @property
    def macs(self) -> int:
        """Total multiply-accumulates."""
        return sum(layer.cost.macs for layer in self.layers)

    @property
    def params(self) -> int:
        """Total parameters."""
        return sum(layer.cost.params for layer in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The last layer's output shape."""
        return self.layers[-1].cost.output_shape if self.layers else self.input_shape

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "input_shape", "output_shape", "layers", "total"}`` (macs, flops, params)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [layer.as_dict() for layer in self.layers],
            "total": {"macs": self.macs, "flops": 2 * self.macs, "params": self.params},
        }


def _fail(where: str, text: str) -> SpecError:
    return SpecError(f"{where}: {text}")


def _positive_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, f"{key} must be a positive integer, got {value!r}")
    return value


def _int_or_list(value: Any, where: str, key: str) -> int | tuple[int, ...]:
    if isinstance(value, list):
        if not value:
            raise _fail(where, f"{key} must not be an empty list")
        return tuple(_positive_int(v, where, key) for v in value)
    return _positive_int(value, where, key)


def _choice(value: Any, choices: tuple[str, ...], where: str, key: str) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        hint = did_you_mean(value, list(choices)) if isinstance(value, str) else ""
        raise _fail(where, f"{key} must be one of {', '.join(choices)}, got {value!r}{hint}")
    return value.lower()


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"{key} must be true or false, got {value!r}")
    return value


#: Layer-table key -> parser(value, where, key); every key's value is checked the same way.
_KEY_PARSERS: dict[str, Any] = {
    "out": _positive_int,
    "kernel": _int_or_list,
    "stride": _int_or_list,
    "padding": lambda value, where, key: _choice(value, L.PADDINGS, where, key),
    "bias": _bool,
    "batchnorm": _bool,
    "global": _bool,
    "op": lambda value, where, key: _choice(value, L.POOL_OPS, where, key),
    "heads": _positive_int,
    "repeat": _positive_int,
}
#: Layer-table keys stored under another field name.
_FIELD_NAMES = {"global": "global_pool"}


def _parse_layer(table: Any, index: int) -> LayerSpec:
    where = f"layer {index}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a [[layer]] table")
    if "type" not in table:
        raise _fail(where, f"missing key 'type' (one of {', '.join(L.LAYER_TYPES)})")
    kind = table["type"]
    if not isinstance(kind, str) or kind.lower() not in L.LAYER_TYPES:
        hint = did_you_mean(kind, list(L.LAYER_TYPES)) if isinstance(kind, str) else ""
        raise _fail(
            where, f"unknown layer type {kind!r}{hint} (choices: {', '.join(L.LAYER_TYPES)})"
        )
    kind = kind.lower()
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        raise _fail(where, f"name must be a string, got {name!r}")
    where = f"layer {index} ({kind}{f' {name!r}' if name else ''})"
    allowed = _COMMON + LAYER_KEYS[kind]
    for key in table:
        if key in allowed:
            continue
        every = sorted({k for keys in LAYER_KEYS.values() for k in keys} | set(_COMMON))
        if key in every:
            raise _fail(where, f"key {key!r} does not apply to {kind} layers")
        raise _fail(
            where,
            f"unknown key {key!r}{did_you_mean(key, list(allowed))} "
            f"(keys for {kind}: {', '.join(allowed)})",
        )
    for key in _REQUIRED.get(kind, ()):
        if key not in table:
            raise _fail(where, f"missing key {key!r}")
    fields: dict[str, Any] = {
        _FIELD_NAMES.get(key, key): parse(table[key], where, key)
        for key, parse in _KEY_PARSERS.items()
        if key in table
    }
    if kind == "pool" and not fields.get("global_pool") and "kernel" not in fields:
        raise _fail(where, "missing key 'kernel' (or global = true)")
    if kind == "pool" and fields.get("global_pool") and ("kernel" in fields or "stride" in fields):
        raise _fail(where, "a global pool takes no kernel or stride")
    return LayerSpec(index, kind, name, **fields)


def build_model_spec(document: dict[str, Any], source: str = "<spec>") -> ModelSpec:
    """Validate a parsed TOML document into a :class:`ModelSpec`.

    Raises :class:`SpecError` naming ``source``, the layer index and the key for anything wrong.

    Examples
    --------
    >>> build_model_spec({"input": [8, 4], "layer": [{"type": "fc", "out": 2}]}).ndim
    1
    """
    for key in document:
        if key not in TOP_KEYS:
            raise _fail(
                source,
                f"unknown top-level key {key!r}{did_you_mean(key, list(TOP_KEYS))} "
                f"(keys: {', '.join(TOP_KEYS)})",
            )
    if "input" not in document:
        raise _fail(source, "missing key 'input' ([L, C], [H, W, C] or [D, H, W, C])")
    shape = document["input"]
    if (
        not isinstance(shape, list)
        or not 2 <= len(shape) <= 4
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)
    ):
        raise _fail(
            source,
            f"input must be [L, C], [H, W, C] or [D, H, W, C] of positive integers, got {shape!r}",
        )
    tables = document.get("layer", [])
    if not isinstance(tables, list) or not tables:
        raise _fail(source, "no layers: add [[layer]] tables")
    try:
        layers = tuple(_parse_layer(table, i) for i, table in enumerate(tables, start=1))
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    texts = {}
    for key in ("name", "description", "reference"):
        value = document.get(key, "")
        if not isinstance(value, str):
            raise _fail(source, f"{key} must be a string, got {value!r}")
        texts[key] = value
    spec = ModelSpec(tuple(shape), layers, source=source, **texts)
    model_costs(spec)  # shapes must chain: report a bad layer now, with its index
    return spec


def parse_model_spec(text: str, source: str = "<spec>") -> ModelSpec:
    """Parse and validate a TOML model spec given as text.

    Examples
    --------
    >>> parse_model_spec('input = [32, 32, 3]\\n[[layer]]\\ntype = "fc"\\nout = 10').layers[0].out
    10
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    return build_model_spec(document, source)


def load_model_spec(path: str | Path) -> ModelSpec:
    """Read and validate a TOML model spec file.

    An unreadable file raises :class:`FormatError` (exit code 1); bad content :class:`SpecError`.

    Examples
    --------
    >>> load_model_spec("sample_data/mobilenet_v1.toml").input_shape  # doctest: +SKIP
    (224, 224, 3)
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read model spec {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"cannot read model spec {path}: not UTF-8 text") from None
    return parse_model_spec(text, str(path))


def _layer_cost(
    layer: LayerSpec, shape: tuple[int, ...], *, standard: bool, bias: bool, batchnorm: bool
) -> tuple[L.LayerCost, bool]:
    conv_bias = bias if layer.bias is None else layer.bias
    bn = batchnorm if layer.batchnorm is None else layer.batchnorm
    extra = {"bias": conv_bias, "batchnorm": bn}
    size, channels = shape[:-1], shape[-1]
    if layer.type == "fc":
        return L.fc_cost(shape, layer.out, bias=True if layer.bias is None else layer.bias), False
    if not size:
        raise SpecError(
            f"the input is a flat vector of {channels} features (after an fc "
            f"layer); {layer.type} layers need spatial axes"
        )
    stride = 1 if layer.stride is None else layer.stride
    if layer.type in ("conv", "dw", "pw", "dwsep"):
        kernel = 1 if layer.type == "pw" else layer.kernel
        cost = L.convolution_cost(
            layer.type, size, channels, layer.out, kernel, stride, layer.padding, **extra
        )
        if standard and layer.type in ("dw", "dwsep"):
            out = cost.output_shape[-1]
            conv = L.conv_cost(size, channels, out, kernel, stride, layer.padding, **extra)
            return conv, True
        return cost, False
    if layer.type == "pool":
        cost = L.pool_cost(
            size,
            channels,
            layer.kernel,
            layer.stride,
            layer.padding,
            global_pool=layer.global_pool,
        )
        return cost, False
    if channels % layer.heads:
        raise SpecError(f"heads ({layer.heads}) must divide the channels ({channels})")
    return L.attention_cost(size, channels, bias=conv_bias), False


def model_costs(
    spec: ModelSpec, *, standard: bool = False, bias: bool = False, batchnorm: bool = False
) -> ModelCost:
    """Per-layer and total MACs and parameters of a network.

    Parameters
    ----------
    spec
        The validated network.
    standard
        Replace every ``dw`` and ``dwsep`` layer by a standard convolution with the same kernel,
        stride and output channels (the "Conv MobileNet" of Howard et al. 2017, Table 2).
    bias
        Give convolutions and attention projections a bias where the layer does not say.
    batchnorm
        Count batch norm's scale and shift (2 per output channel) after every convolution where
        the layer does not say (Keras' trainable parameters).

    Examples
    --------
    >>> spec = parse_model_spec(
    ...     'input = [8, 8, 4]\\n[[layer]]\\ntype = "dwsep"\\nout = 8\\nkernel = 3'
    ... )
    >>> model_costs(spec).macs, model_costs(spec, standard=True).macs
    (4352, 18432)
    """
    shape = spec.input_shape
    rows: list[ModelLayer] = []
    for layer in spec.layers:
        base = layer.name or f"{layer.type}{layer.index}"
        for r in range(layer.repeat):
            try:
                cost, replaced = _layer_cost(
                    layer, shape, standard=standard, bias=bias, batchnorm=batchnorm
                )
            except UsageError as exc:  # a bad value in the spec: a SpecError naming the layer
                raise SpecError(f"{spec.source}: {layer.label}: {exc}") from None
            name = f"{base}.{r + 1}" if layer.repeat > 1 else base
            rows.append(ModelLayer(layer.index, name, cost, replaced))
            shape = cost.output_shape
    return ModelCost(spec.name, spec.input_shape, tuple(rows), standard)


def model_report(
    spec: ModelSpec, *, standard: bool = False, bias: bool = False, batchnorm: bool = False
) -> dict[str, Any]:
    """The JSON document ``sepconv ops model`` prints.

    ``{"name", "source", "input_shape", "output_shape", "layers", "total": {"macs", "flops",
    "params"}, "conventions"}``; with ``standard`` also ``"standard"`` (the same network with
    every dw/dwsep replaced by a standard convolution: ``layers`` and ``total``) and ``"ratio"``
    (this network / the standard one, for ``macs`` and ``params``) and ``"saving"`` (the inverse).

    Examples
    --------
    >>> spec = parse_model_spec(
    ...     'input = [8, 8, 4]\\n[[layer]]\\ntype = "dwsep"\\nout = 8\\nkernel = 3'
    ... )
    >>> model_report(spec, standard=True)["ratio"]["macs"] == 1 / 8 + 1 / 9
    True
    """
    cost = model_costs(spec, bias=bias, batchnorm=batchnorm)
    document = {
        "name": spec.name,
        "source": spec.source,
        **cost.as_dict(),
        "conventions": {
            "padding": "same unless a layer says valid: output = ceil(input / stride)",
            "bias": (
                "convolutions and attention with bias"
                if bias
                else "convolutions and attention without bias (batch norm); fc with bias"
            ),
            "batchnorm": (
                "scale and shift counted (2 params per conv output channel)"
                if batchnorm
                else "not counted (folded into the convolutions)"
            ),
            "mac": "one multiply + one add; flops = 2 * macs; pooling counts 0",
        },
    }
    if standard:
        std = model_costs(spec, standard=True, bias=bias, batchnorm=batchnorm)
        document["standard"] = {
            "layers": [layer.as_dict() for layer in std.layers],
            "total": {"macs": std.macs, "flops": 2 * std.macs, "params": std.params},
        }
        document["ratio"] = {
            "macs": cost.macs / std.macs if std.macs else math.nan,
            "params": cost.params / std.params if std.params else math.nan,
        }
        document["saving"] = {
            "macs": std.macs / cost.macs if cost.macs else math.nan,
            "params": std.params / cost.params if cost.params else math.nan,
        }
    return document
