"""What a layer type is: its keys (each with a parser), required keys, and its cost or expansion.

One :class:`LayerType` per type, registered in :data:`LAYER_TYPES` by the module that defines it
(``conv.py``, ``pool.py``, ``blocks.py``, ...). The model-spec parser, the ``--help`` texts and
the CLI's choices all read this one registry, so a new layer type is one module.

Examples
--------
>>> from sepconv_cli.costs.layertypes import LAYER_TYPES
>>> LAYER_TYPES.get("pw").required
('out',)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sepconv_cli.costs.layers import LayerCost
from sepconv_cli.errors import SpecError
from sepconv_cli.registry import Registry, did_you_mean

Shape = tuple[int, ...]
#: A key's parser: ``parse(value, where, key)`` returns the checked value or raises SpecError.
Parser = Callable[[Any, str, str], Any]

#: Element-wise operations per element of each activation (a convention, stated in the README:
#: relu = max; relu6 = max + min; sigmoid = exp + add + divide + negate; swish/silu = sigmoid +
#: multiply; hswish = x * relu6(x + 3) / 6: add, max, min, multiply, multiply; gelu (tanh form):
#: 3 multiplies + add for the cubic, tanh (5), add, 2 multiplies).
ACTIVATION_OPS: dict[str, int] = {
    "linear": 0,
    "relu": 1,
    "relu6": 2,
    "sigmoid": 4,
    "hsigmoid": 4,
    "swish": 5,
    "silu": 5,
    "hswish": 5,
    "gelu": 12,
}


@dataclass(frozen=True)
class Context:
    """Model-wide options a layer's cost may depend on.

    ``standard`` replaces depthwise layers by standard convolutions (``--standard``); ``bias``
    and ``batchnorm`` are the defaults for layers that do not say.
    """

    standard: bool = False
    bias: bool = False
    batchnorm: bool = False


@dataclass(frozen=True)
class LayerType:
    """One layer type of the model spec.

    Parameters
    ----------
    name
        The ``type = "..."`` value.
    keys
        Key -> parser for every key the type accepts besides ``type``, ``name``, ``repeat`` and
        ``from``.
    required
        Keys that must be given.
    summary
        One line for ``--help`` and the README.
    cost
        ``cost(options, input_shapes, context)`` -> :class:`LayerCost` for a primitive layer.
    expand
        ``expand(options, input_shape, context)`` -> a list of layer tables (dicts as in the
        TOML file) for a block template; ``"from"`` in them may name ``"input"``, the block's
        input. Exactly one of ``cost`` and ``expand`` is given.
    inputs
        How many tensors the layer takes: 1, or 0 for "two or more" (``add``, ``concat``).
    check
        ``check(options, where)``: cross-key validation after every key has been parsed.
    standard_differs
        True when ``--standard`` changes the layer (so its rows are marked ``replaced``).
    family
        A group name: ``"convolution"`` types are the choices of ``sepconv ops layer``.

    Examples
    --------
    >>> same = lambda opts, shapes, ctx: LayerCost("noop", shapes[0], shapes[0], 0, 0)
    >>> t = LayerType("noop", {}, cost=same)
    >>> t.cost({}, ((4, 2),), Context()).output_shape
    (4, 2)
    """

    name: str
    keys: Mapping[str, Parser]
    required: tuple[str, ...] = ()
    summary: str = ""
    cost: Callable[[Mapping[str, Any], tuple[Shape, ...], Context], LayerCost] | None = None
    expand: Callable[[Mapping[str, Any], Shape, Context], list[dict[str, Any]]] | None = None
    inputs: int = 1
    check: Callable[[Mapping[str, Any], str], None] | None = None
    standard_differs: bool = False
    family: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def is_block(self) -> bool:
        """True for a template that expands into other layers."""
        return self.expand is not None


#: Every layer type a model spec may use, filled by the modules of this package.
LAYER_TYPES: Registry[LayerType] = Registry("layer type")


def family(name: str) -> list[str]:
    """The names of the registered layer types of family ``name``, in registration order.

    Examples
    --------
    >>> from sepconv_cli.costs.layertypes import LAYER_TYPES
    >>> family("convolution")
    ['conv', 'dw', 'pw', 'dwsep']
    """
    return [key for key, entry in LAYER_TYPES if entry.family == name]


def register(layer_type: LayerType) -> LayerType:
    """Add ``layer_type`` to :data:`LAYER_TYPES` (under its name and aliases)."""
    return LAYER_TYPES.register(layer_type.name, layer_type, layer_type.aliases)


def fail(where: str, text: str) -> SpecError:
    """The one-line error of a spec: ``"<where>: <text>"``."""
    return SpecError(f"{where}: {text}")


def positive_int(value: Any, where: str, key: str) -> int:
    """A positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(where, f"{key} must be a positive integer, got {value!r}")
    return value


def int_or_list(value: Any, where: str, key: str) -> int | tuple[int, ...]:
    """A positive integer or a non-empty list of them (one per spatial axis)."""
    if isinstance(value, list):
        if not value:
            raise fail(where, f"{key} must not be an empty list")
        return tuple(positive_int(v, where, key) for v in value)
    return positive_int(value, where, key)


def positive_number(value: Any, where: str, key: str) -> float:
    """A positive int or float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise fail(where, f"{key} must be a positive number, got {value!r}")
    return float(value)


def boolean(value: Any, where: str, key: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise fail(where, f"{key} must be true or false, got {value!r}")
    return value


def choice(*choices: str) -> Parser:
    """A parser accepting one of ``choices`` (case-insensitive), with did-you-mean."""

    def parse(value: Any, where: str, key: str) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            hint = did_you_mean(value, list(choices)) if isinstance(value, str) else ""
            raise fail(where, f"{key} must be one of {', '.join(choices)}, got {value!r}{hint}")
        return value.lower()

    return parse


#: The ``act`` key of convolution-like layers and of ``act`` layers.
activation = choice(*ACTIVATION_OPS)


def spatial(shape: Shape, kind: str) -> tuple[Shape, int]:
    """Split ``shape`` into spatial size and channels; a flat vector has no spatial axes."""
    if len(shape) < 2:
        raise SpecError(
            f"the input is a flat vector of {shape[-1]} features (after an fc "
            f"layer); {kind} layers need spatial axes"
        )
    return shape[:-1], shape[-1]


def elements(shape: Shape) -> int:
    """Number of values in a tensor of ``shape`` (batch 1)."""
    return math.prod(shape)


def with_activation(cost: LayerCost, act: str | None) -> LayerCost:
    """``cost`` plus the element-wise operations of ``act`` on its output."""
    if not act:
        return cost
    extra = ACTIVATION_OPS[act] * elements(cost.output_shape)
    return replace(cost, elementwise=cost.elementwise + extra)
