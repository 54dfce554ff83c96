"""Separability analysis: SVD (2-D), mode unfoldings and CP by ALS (N-D) -> Decomposition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: One separable term: a 1-D factor per kernel axis; the term is their outer product
#: (any scale is folded into the factors).
Term = list[np.ndarray]


@dataclass
class Decomposition:
    """A kernel written as a sum of ``rank`` separable terms.

    Parameters
    ----------
    shape
        The kernel's shape.
    rank
        Number of separable terms in ``terms``: 1 for a separable kernel, r > 1 for the smallest
        sum meeting the tolerance, 0 when no sum of at most ``max_rank`` terms met it (use the
        kernel whole: direct or FFT).
    terms
        The separable terms; ``sum(outer(*t) for t in terms)`` approximates the kernel.
    rel_error
        Relative Frobenius error of that sum (0 for rank 0, which uses the kernel exactly).
    max_abs_error
        Largest absolute weight error of that sum.
    tol
        The tolerance the rank was chosen at (relative to the largest singular value / norm).
    singular_values
        For 2-D kernels, all singular values, largest first; None otherwise.
    unfolding_ranks
        Numerical rank of each mode-k unfolding (all 1 <=> fully separable).
    by_rank
        For r = 1..max_rank: ``{"rank", "rel_error", "max_abs_error", "mults_per_voxel"}``.
    partial
        Partial splits found, e.g. ``{"groups": [[0, 1], [2]], "rank": 1}`` for a 3-D kernel that is
        a 2-D kernel times a 1-D kernel.

    Examples
    --------
    >>> d = Decomposition(shape=(3, 3), rank=1,
    ...                   terms=[[np.array([1., 2., 1.]), np.array([-1., 0., 1.])]])
    >>> d.separable, d.reconstruct()[0]
    (True, array([-1.,  0.,  1.]))
    """

    shape: tuple[int, ...]
    rank: int
    terms: list[Term]
    rel_error: float = 0.0
    max_abs_error: float = 0.0
    tol: float = 1e-7
    singular_values: np.ndarray | None = None
    unfolding_ranks: tuple[int, ...] = ()
    by_rank: list[dict[str, Any]] = field(default_factory=list)
    partial: list[dict[str, Any]] = field(default_factory=list)

    @property
    def separable(self) -> bool:
        """True when the kernel is one separable term at the tolerance."""
        return self.rank == 1

    def reconstruct(self) -> np.ndarray:
        """The sum of the terms' outer products (zeros of ``shape`` for rank 0)."""
        out = np.zeros(self.shape)
        for term in self.terms:
            product = term[0]
            for factor in term[1:]:
                product = np.multiply.outer(product, factor)
            out += product.reshape(self.shape)
        return out
