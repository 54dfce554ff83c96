"""Pure op-count and byte models: filtering methods (``filters``), DL layers and whole models."""
