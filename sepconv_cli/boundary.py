"""Boundary modes: scipy.ndimage's names, aliases from other tools, and np.pad equivalents."""

from __future__ import annotations

from sepconv_cli.registry import Registry

#: scipy.ndimage mode -> numpy.pad mode that extends the array the same way.
NP_PAD_MODE: dict[str, str] = {
    "reflect": "symmetric",  # d c b a | a b c d | d c b a
    "mirror": "reflect",  # d c b | a b c d | c b a
    "nearest": "edge",  # a a a | a b c d | d d d
    "constant": "constant",  # k k k | a b c d | k k k
    "wrap": "wrap",  # b c d | a b c d | a b c
}

MODES: Registry[str] = Registry("boundary mode")
MODES.register("reflect", "reflect", aliases=("symmetric", "half-sample-symmetric"))
MODES.register("mirror", "mirror", aliases=("reflect101", "whole-sample-symmetric"))
MODES.register("nearest", "nearest", aliases=("replicate", "edge", "clamp"))
MODES.register("constant", "constant", aliases=("zero", "zeros", "fill"))
MODES.register("wrap", "wrap", aliases=("periodic", "circular"))


def canonical_mode(name: str) -> str:
    """Resolve a boundary mode or alias to scipy's name.

    Examples
    --------
    >>> canonical_mode("reflect101"), canonical_mode("replicate"), canonical_mode("periodic")
    ('mirror', 'nearest', 'wrap')
    """
    return MODES.get(name)
