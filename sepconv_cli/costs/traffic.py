"""Memory traffic of a network: bytes of weights and activations per layer, arithmetic
intensity, and the peak activation memory.

The model (no measurement): for a batch of B inputs in a dtype of b bytes, a layer reads its
weights once (params · b), reads every input tensor (B · values · b) and writes its output
(B · values · b). A composite layer (``dwsep``) also writes and reads back its intermediate
tensor. Arithmetic intensity = B · MACs / bytes. The peak activation memory is the largest sum
of the tensors that must be alive at once when the layers run in file order: a tensor lives
from the layer that writes it to the last layer that reads it, so skip connections (ResNet's
shortcuts, a U-Net's encoder outputs) stay alive across the layers they skip.

Examples
--------
>>> from sepconv_cli.costs.models import parse_model_spec, model_costs
>>> net = model_costs(parse_model_spec('input = [8, 8, 4]\\n[[layer]]\\ntype = "pw"\\nout = 8'))
>>> t = layer_traffic(net, "float16")[0]
>>> t.weight_bytes, t.input_bytes, t.output_bytes, round(t.intensity, 3)
(64, 512, 1024, 1.28)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sepconv_cli.costs.models import INPUT, ModelCost, ModelLayer
from sepconv_cli.errors import UsageError

#: Bytes per value of each dtype the cost model knows.
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


def dtype_bytes(dtype: str) -> int:
    """Bytes per value of ``dtype``.

    Examples
    --------
    >>> dtype_bytes("int8")
    1
    """
    try:
        return DTYPE_BYTES[dtype.lower()]
    except KeyError:
        raise UsageError(
            f"--dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}"
        ) from None


@dataclass(frozen=True)
class LayerTraffic:
    """One layer's bytes for a batch: ``macs`` and ``elementwise`` are for the batch too."""

    name: str
    macs: int
    elementwise: int
    weight_bytes: int
    input_bytes: int
    output_bytes: int
    intermediate_bytes: int = 0

    @property
    def bytes(self) -> int:
        """Everything the layer moves: weights, inputs, output, intermediates (twice)."""
        return (
            self.weight_bytes + self.input_bytes + self.output_bytes + 2 * self.intermediate_bytes
        )

    @property
    def intensity(self) -> float:
        """MACs per byte moved (0 for a layer that moves nothing)."""
        return self.macs / self.bytes if self.bytes else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "weight_bytes": self.weight_bytes,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "intermediate_bytes": self.intermediate_bytes,
            "bytes": self.bytes,
            "intensity": self.intensity,
        }


def _check_batch(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UsageError(f"--batch must be a positive integer, got {batch!r}")
    return batch


def _shapes(model: ModelCost) -> dict[str, tuple[int, ...]]:
    shapes = {INPUT: model.input_shape}
    shapes.update({layer.name: layer.cost.output_shape for layer in model.layers})
    return shapes


def _traffic(layer: ModelLayer, shapes: dict, size: int, batch: int) -> LayerTraffic:
    cost = layer.cost
    values = [math.prod(shapes[name]) for name in layer.inputs]
    middle = sum(math.prod(part.output_shape) for part in cost.parts[:-1])
    return LayerTraffic(
        layer.name,
        batch * cost.macs,
        batch * cost.elementwise,
        size * cost.params,
        size * batch * sum(values),
        size * batch * math.prod(cost.output_shape),
        size * batch * middle,
    )


def layer_traffic(model: ModelCost, dtype: str = "float32", batch: int = 1) -> list[LayerTraffic]:
    """The bytes each layer of ``model`` moves for ``batch`` inputs in ``dtype``.

    Examples
    --------
    >>> from sepconv_cli.costs.models import parse_model_spec, model_costs
    >>> spec = 'input = [16, 4]\\n[[layer]]\\ntype = "dwsep"\\nout = 4\\nkernel = 3'
    >>> layer_traffic(model_costs(parse_model_spec(spec)), "int8")[0].intermediate_bytes
    64
    """
    size, batch = dtype_bytes(dtype), _check_batch(batch)
    shapes = _shapes(model)
    return [_traffic(layer, shapes, size, batch) for layer in model.layers]


@dataclass(frozen=True)
class PeakMemory:
    """The most activation bytes alive at once, at which layer, and which tensors."""

    bytes: int
    layer: str
    tensors: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"bytes": self.bytes, "layer": self.layer, "tensors": list(self.tensors)}


def peak_activation_memory(model: ModelCost, dtype: str = "float32", batch: int = 1) -> PeakMemory:
    """Peak activation memory when the layers run in order, each freeing what no later layer reads.

    While layer i runs, alive are: every tensor written before i (the network input
    included) that layer i or a later one reads, layer i's intermediates and its output. The
    network's output stays alive to the end.

    Examples
    --------
    >>> from sepconv_cli.costs.models import parse_model_spec, model_costs
    >>> spec = parse_model_spec('''input = [4, 1]
    ... [[layer]]
    ... name = "a"
    ... type = "pw"
    ... out = 2
    ... [[layer]]
    ... type = "pw"
    ... out = 3
    ... [[layer]]
    ... type = "concat"
    ... skip = "a"''')
    >>> peak = peak_activation_memory(model_costs(spec), "int8")
    >>> peak.bytes, peak.layer, peak.tensors
    (40, 'concat3', ('a', 'pw2', 'concat3'))
    """
    size, batch = dtype_bytes(dtype), _check_batch(batch)
    shapes = _shapes(model)
    last_use = {INPUT: -1}
    for i, layer in enumerate(model.layers):
        for name in layer.inputs:
            last_use[name] = i
    if model.layers:
        last_use[model.layers[-1].name] = len(model.layers)
    best = PeakMemory(size * batch * math.prod(model.input_shape), INPUT, (INPUT,))
    alive = [INPUT]
    for i, layer in enumerate(model.layers):
        alive = [name for name in alive if last_use.get(name, -1) >= i]
        names = (*alive, layer.name)
        middle = sum(math.prod(part.output_shape) for part in layer.cost.parts[:-1])
        total = size * batch * (sum(math.prod(shapes[n]) for n in names) + middle)
        if total > best.bytes:
            best = PeakMemory(total, layer.name, names)
        alive.append(layer.name)
    return best
