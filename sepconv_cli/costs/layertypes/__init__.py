"""The layer types of a model spec, one module per family, each registering itself.

Importing this package fills :data:`LAYER_TYPES`; none of its modules imports numpy, so the
CLI can build its choices and help from it at no start-up cost. To add a layer type, write a
module that defines a :class:`LayerType` and calls ``register``, and name it in
:data:`MODULES`.

Examples
--------
>>> LAYER_TYPES.names()[:4]
['conv', 'dw', 'pw', 'dwsep']
"""

from importlib import import_module

from sepconv_cli.costs.layertypes.base import LAYER_TYPES, Context, LayerType, family, register

#: The modules that register layer types, in the order their types are listed.
MODULES = ("conv", "dense", "pool", "merge", "norm", "blocks")
for _module in MODULES:
    import_module(f"{__name__}.{_module}")

__all__ = ["LAYER_TYPES", "MODULES", "Context", "LayerType", "family", "register"]
