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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sepconv_cli.costs import layers as L
from sepconv_cli.costs.layertypes import LAYER_TYPES, Context
from sepconv_cli.costs.layertypes.base import boolean, fail, positive_int
from sepconv_cli.errors import FormatError, SpecError, UsageError
from sepconv_cli.registry import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Top-level keys of a model spec.
TOP_KEYS = ("name", "description", "reference", "input", "bias", "batchnorm", "layer")

#: Keys every layer table may have, besides its type's own keys.
COMMON_KEYS = ("type", "name", "repeat", "from")
#: The reference to the network's input (in a block template: the block's input).
INPUT = "input"


@dataclass(frozen=True)
class LayerSpec:
    """One ``[[layer]]`` table, validated (``index`` counts tables from 1).

    ``options`` holds the type's own keys; ``sources`` the layers it reads (``from``, or
    ``skip`` after the previous one); empty means the previous layer's output.

    Examples
    --------
    >>> LayerSpec(1, "pw", "proj", {"out": 64}).label
    "layer 1 (pw 'proj')"
    """

    index: int
    type: str
    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    repeat: int = 1
    sources: tuple[str | None, ...] = ()

    @property
    def label(self) -> str:
        """How error messages name the layer."""
        named = f" {self.name!r}" if self.name else ""
        return f"layer {self.index} ({self.type}{named})"


@dataclass(frozen=True)
class ModelSpec:
    """A validated network spec (``bias`` / ``batchnorm``: its defaults, None where unsaid).

    Examples
    --------
    >>> ModelSpec((32, 32, 3), (LayerSpec(1, "fc", options={"out": 10}),)).ndim
    2
    """

    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    name: str = ""
    description: str = ""
    reference: str = ""
    source: str = "<spec>"
    bias: bool | None = None
    batchnorm: bool | None = None

    @property
    def ndim(self) -> int:
        """Number of spatial axes of the input."""
        return len(self.input_shape) - 1


@dataclass(frozen=True)
class ModelLayer:
    """One computed layer of a network (a layer with ``repeat = n`` gives n of these).

    ``inputs`` names the tensors it reads (earlier layers' names, or ``"input"``); a block
    template's layers are named ``block/layer`` and carry the block's ``index``.
    """

    index: int
    name: str
    cost: L.LayerCost
    replaced: bool = False
    inputs: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: index, name, inputs, then the layer's cost."""
        out = {"index": self.index, "name": self.name, "inputs": list(self.inputs)}
        out.update(self.cost.as_dict())
        if self.replaced:
            out["replaced"] = True
        return out


@dataclass(frozen=True)
class ModelCost:
    """Per-layer and total cost of a network.

    Examples
    --------
    >>> spec = ModelSpec((4, 4, 8), (LayerSpec(1, "pw", options={"out": 2}),))
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
    def elementwise(self) -> int:
        """Total element-wise operations (activations, adds, ...), not counted in MACs."""
        return sum(layer.cost.elementwise for layer in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The last layer's output shape."""
        return self.layers[-1].cost.output_shape if self.layers else self.input_shape

    def total(self) -> dict[str, int]:
        """``{"macs", "flops", "params", "elementwise_ops"}``."""
        return {
            "macs": self.macs,
            "flops": 2 * self.macs,
            "params": self.params,
            "elementwise_ops": self.elementwise,
        }

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "input_shape", "output_shape", "layers", "total"}``."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [layer.as_dict() for layer in self.layers],
            "total": self.total(),
        }


def _name_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(item, str) or not item for item in items):
        raise fail(where, f"{key} must be a layer name or a list of them, got {value!r}")
    return tuple(items)


def _parse_layer(table: Any, index: int) -> LayerSpec:
    where = f"layer {index}"
    if not isinstance(table, dict):
        raise fail(where, "must be a [[layer]] table")
    names = LAYER_TYPES.names()
    if "type" not in table:
        raise fail(where, f"missing key 'type' (one of {', '.join(names)})")
    kind = table["type"]
    if not isinstance(kind, str) or kind.lower() not in LAYER_TYPES:
        hint = did_you_mean(kind, names) if isinstance(kind, str) else ""
        raise fail(where, f"unknown layer type {kind!r}{hint} (choices: {', '.join(names)})")
    layer_type = LAYER_TYPES.get(kind)
    kind = layer_type.name
    name = table.get("name")
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise fail(where, f"name must be a non-empty string without '/', got {name!r}")
    if name == INPUT:
        raise fail(where, f"name {INPUT!r} is reserved for the network's input")
    where = f"layer {index} ({kind}{f' {name!r}' if name else ''})"
    own = dict(layer_type.keys)
    if layer_type.inputs != 1:
        own["skip"] = _name_list
    allowed = (*COMMON_KEYS, *own)
    for key in table:
        if key in allowed:
            continue
        every = {k for _, t in LAYER_TYPES for k in t.keys} | {"skip"}
        if key in every:
            raise fail(where, f"key {key!r} does not apply to {kind} layers")
        raise fail(
            where,
            f"unknown key {key!r}{did_you_mean(key, list(allowed))} "
            f"(keys for {kind}: {', '.join(allowed)})",
        )
    for key in layer_type.required:
        if key not in table:
            raise fail(where, f"missing key {key!r}")
    options = {key: own[key](table[key], where, key) for key in own if key in table}
    if layer_type.check is not None:
        layer_type.check(options, where)
    repeat = positive_int(table.get("repeat", 1), where, "repeat")
    sources: tuple[str | None, ...] = ()
    if "from" in table:
        sources = _name_list(table["from"], where, "from")
    if "skip" in options:
        if "from" in table:
            raise fail(where, "give from or skip, not both")
        sources = (None, *options.pop("skip"))
    if layer_type.inputs == 1 and len(sources) > 1:
        raise fail(where, f"a {kind} layer takes one input, from names {len(sources)}")
    if layer_type.inputs == 0 and len(sources) < 2:
        raise fail(where, f"a {kind} layer needs two or more inputs: from = [...] or skip")
    return LayerSpec(index, kind, name, options, repeat, sources)


def _check_names(layers: tuple[LayerSpec, ...], where: str) -> None:
    seen: dict[str, int] = {}
    for layer in layers:
        if layer.name is None:
            continue
        if layer.name in seen:
            raise fail(
                where,
                f"{layer.label}: name {layer.name!r} is used twice (layers {seen[layer.name]} "
                f"and {layer.index})",
            )
        seen[layer.name] = layer.index


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
            raise fail(
                source,
                f"unknown top-level key {key!r}{did_you_mean(key, list(TOP_KEYS))} "
                f"(keys: {', '.join(TOP_KEYS)})",
            )
    if "input" not in document:
        raise fail(source, "missing key 'input' ([L, C], [H, W, C] or [D, H, W, C])")
    shape = document["input"]
    if (
        not isinstance(shape, list)
        or not 2 <= len(shape) <= 4
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)
    ):
        raise fail(
            source,
            f"input must be [L, C], [H, W, C] or [D, H, W, C] of positive integers, got {shape!r}",
        )
    tables = document.get("layer", [])
    if not isinstance(tables, list) or not tables:
        raise fail(source, "no layers: add [[layer]] tables")
    try:
        layers = tuple(_parse_layer(table, i) for i, table in enumerate(tables, start=1))
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    texts = {}
    for key in ("name", "description", "reference"):
        value = document.get(key, "")
        if not isinstance(value, str):
            raise fail(source, f"{key} must be a string, got {value!r}")
        texts[key] = value
    flags = {
        key: boolean(document[key], source, key) for key in ("bias", "batchnorm") if key in document
    }
    _check_names(layers, source)
    spec = ModelSpec(tuple(shape), layers, source=source, **texts, **flags)
    model_costs(spec)  # shapes must chain: report a bad layer now, with its index
    return spec


def parse_model_spec(text: str, source: str = "<spec>") -> ModelSpec:
    """Parse and validate a TOML model spec given as text.

    Examples
    --------
    >>> spec = parse_model_spec('input = [32, 32, 3]\\n[[layer]]\\ntype = "fc"\\nout = 10')
    >>> spec.layers[0].options["out"]
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


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]


class _Graph:
    """Runs layer tables in file order, naming every output so later layers can read it."""

    def __init__(self, source: str, context: Context) -> None:
        self.source = source
        self.context = context
        self.rows: list[ModelLayer] = []

    def run(
        self,
        layers: tuple[LayerSpec, ...],
        first: _Tensor,
        block: tuple[str, int, bool, str] | None = None,
    ) -> _Tensor:
        """Cost ``layers`` reading ``first``; return the last output.

        ``block`` = (where, index, replaced, name prefix) of the template whose expansion
        ``layers`` is.
        """
        scope = {INPUT: first}
        later = {layer.name for layer in layers if layer.name}
        previous = first
        for layer in layers:
            layer_type = LAYER_TYPES.get(layer.type)
            base = layer.name or f"{layer.type}{layer.index}"
            where = f"{self.source}: {layer.label}" if block is None else f"{block[0]}: {base}"
            index = layer.index if block is None else block[1]
            swap = (block is not None and block[2]) or (
                self.context.standard and layer_type.standard_differs
            )
            prefix = "" if block is None else block[3]
            for r in range(layer.repeat):
                name = f"{base}.{r + 1}" if layer.repeat > 1 else base
                inputs = [self._resolve(s, scope, previous, later, where) for s in layer.sources]
                inputs = inputs or [previous]
                options = dict(layer.options)
                if r:  # a stage's stride applies to its first layer or block only
                    options.pop("stride", None)
                try:
                    if layer_type.expand is not None:
                        tables = layer_type.expand(options, inputs[0].shape, self.context)
                        inner = tuple(_parse_layer(t, i) for i, t in enumerate(tables, 1))
                    else:
                        shapes = tuple(t.shape for t in inputs)
                        cost = layer_type.cost(options, shapes, self.context)
                except UsageError as exc:  # a bad value in the spec: a SpecError naming the layer
                    raise SpecError(f"{where}: {exc}") from None
                if layer_type.expand is not None:
                    out = self.run(inner, inputs[0], (where, index, swap, f"{prefix}{name}/"))
                else:
                    sources = tuple(t.name for t in inputs)
                    self.rows.append(ModelLayer(index, prefix + name, cost, swap, sources))
                    out = _Tensor(prefix + name, cost.output_shape)
                scope[name] = scope[base] = previous = out
            later.discard(base)
        return previous

    def _resolve(
        self, ref: str | None, scope: dict[str, _Tensor], previous: _Tensor, later: set, where: str
    ) -> _Tensor:
        if ref is None:
            return previous
        if ref in scope:
            return scope[ref]
        if ref in later:
            raise SpecError(
                f"{where}: from {ref!r} names a later layer (layers run in file order, so "
                "this would be a cycle)"
            )
        choices = sorted(scope)
        raise SpecError(f"{where}: from {ref!r} names no earlier layer{did_you_mean(ref, choices)}")


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
        stride and output channels (the "Conv MobileNet" of Howard et al. 2017, Table 2), and
        every inverted residual by a Fused-MBConv (EfficientNetV2).
    bias
        Give convolutions and attention projections a bias where neither the layer nor the
        spec says.
    batchnorm
        Count batch norm's scale and shift (2 per output channel) after every convolution where
        neither the layer nor the spec says (Keras' trainable parameters).

    Examples
    --------
    >>> spec = parse_model_spec(
    ...     'input = [8, 8, 4]\\n[[layer]]\\ntype = "dwsep"\\nout = 8\\nkernel = 3'
    ... )
    >>> model_costs(spec).macs, model_costs(spec, standard=True).macs
    (4352, 18432)
    """
    context = Context(
        standard=standard,
        bias=bias if spec.bias is None else spec.bias,
        batchnorm=batchnorm if spec.batchnorm is None else spec.batchnorm,
    )
    graph = _Graph(spec.source, context)
    graph.run(spec.layers, _Tensor(INPUT, spec.input_shape))
    return ModelCost(spec.name, spec.input_shape, tuple(graph.rows), standard)


def model_report(
    spec: ModelSpec, *, standard: bool = False, bias: bool = False, batchnorm: bool = False
) -> dict[str, Any]:
    """The JSON document ``sepconv ops model`` prints.

    ``{"name", "source", "input_shape", "output_shape", "layers", "total": {"macs", "flops",
    "params", "elementwise_ops"}, "conventions"}``; with ``standard`` also ``"standard"`` (the
    same network with every dw/dwsep replaced by a standard convolution: ``layers`` and
    ``total``) and ``"ratio"``
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
    bias = bias if spec.bias is None else spec.bias
    batchnorm = batchnorm if spec.batchnorm is None else spec.batchnorm
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
            "elementwise": (
                "activations, residual adds, un-folded batch norm, interpolation and "
                "squeeze-and-excitation gating are element-wise ops, not MACs"
            ),
        },
    }
    if standard:
        std = model_costs(spec, standard=True, bias=bias, batchnorm=batchnorm)
        document["standard"] = {
            "layers": [layer.as_dict() for layer in std.layers],
            "total": std.total(),
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
