"""Kernel builders (one module per family) behind one registry and one spec language."""

from sepconv_cli.kernels.base import Kernel

__all__ = ["Kernel"]
