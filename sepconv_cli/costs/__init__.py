"""Pure op-count and byte models: filtering methods (``filters``), DL layers and whole models."""

from sepconv_cli.costs.filters import count_ops, method_costs

__all__ = ["count_ops", "method_costs"]
