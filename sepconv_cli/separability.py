"""Separability analysis: SVD (2-D), mode unfoldings and CP by ALS (N-D) -> Decomposition."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from sepconv_cli.errors import UsageError

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
        For r = 1..max_rank: ``{"rank", "rel_error", "max_abs_error", "mults_per_voxel",
        "cancellation"}`` (cancellation: sum of the terms' norms over the kernel's norm).
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


#: Largest :func:`cancellation` accepted for a chosen decomposition (lose <= 2 digits).
MAX_CANCELLATION = 100.0
#: ALS stops when the error fell by less than 1% over this many sweeps.
STUCK_SWEEPS = 50


def _as_weights(kernel: Any) -> tuple[np.ndarray, list[np.ndarray] | None, list[Term] | None]:
    """The weights of a Kernel or array, with any exactly known factors and terms."""
    if hasattr(kernel, "weights"):
        weights = np.asarray(kernel.weights, dtype=np.float64)
        return weights, getattr(kernel, "factors", None), getattr(kernel, "terms", None)
    array = np.asarray(kernel)
    if np.iscomplexobj(array) or array.dtype.kind not in "biuf":
        raise UsageError(f"kernel weights must be real numbers, got dtype {array.dtype}")
    if array.ndim == 0 or array.size == 0:
        raise UsageError(
            f"kernel weights must have at least one axis and one value, got {array.shape}"
        )
    weights = array.astype(np.float64)
    if not np.all(np.isfinite(weights)):
        raise UsageError("kernel weights contain NaN or Inf")
    return weights, None, None


def tail_errors(singular_values: np.ndarray) -> np.ndarray:
    """Relative Frobenius error of the best rank-r approximation, for r = 0..len(s).

    Examples
    --------
    >>> tail_errors(np.array([3.0, 4.0])).round(3)
    array([1. , 0.8, 0. ])
    """
    energy = np.asarray(singular_values, dtype=np.float64) ** 2
    tails = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    total = tails[0]
    if total == 0:
        return np.zeros(len(tails))
    return np.sqrt(tails / total)


def numerical_rank(singular_values: np.ndarray, tol: float) -> int:
    """Smallest r whose best rank-r approximation has relative Frobenius error <= tol.

    Examples
    --------
    >>> numerical_rank(np.array([1.0, 1e-9, 0.0]), 1e-7)
    1
    """
    errors = tail_errors(singular_values)
    return int(np.argmax(errors <= tol))


def unfold(weights: np.ndarray, rows: tuple[int, ...]) -> np.ndarray:
    """The matrix whose rows index the axes ``rows`` and columns the other axes.

    Examples
    --------
    >>> unfold(np.zeros((2, 3, 4)), (1,)).shape
    (3, 8)
    """
    cols = tuple(a for a in range(weights.ndim) if a not in rows)
    moved = np.transpose(weights, rows + cols)
    return moved.reshape(int(np.prod([weights.shape[a] for a in rows])), -1)


def _compressed(matrix: np.ndarray) -> np.ndarray:
    """A small square-ish matrix with the same singular values and left singular vectors.

    For a wide m x n matrix (n >> m) this is R^T from the QR of its transpose: the SVD then
    costs O(n m^2) instead of LAPACK's slower path on the wide matrix.
    """
    rows, cols = matrix.shape
    if cols > 2 * rows:
        return np.linalg.qr(np.ascontiguousarray(matrix.T), mode="r").T
    return matrix


def _mode_bases(tensor: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Left singular vectors and singular values of every mode unfolding (the HOSVD)."""
    out = []
    for axis in range(tensor.ndim):
        u, s, _ = np.linalg.svd(_compressed(unfold(tensor, (axis,))), full_matrices=False)
        out.append((u, s))
    return out


def singular_values(matrix: np.ndarray) -> np.ndarray:
    """Singular values of a matrix, largest first (fast for very wide or tall matrices).

    Examples
    --------
    >>> singular_values(np.array([[3.0, 0.0], [0.0, 4.0]]))
    array([4., 3.])
    """
    if matrix.shape[0] > 2 * matrix.shape[1]:
        matrix = matrix.T
    return np.linalg.svd(_compressed(matrix), compute_uv=False)


def _outer(factors: list[np.ndarray]) -> np.ndarray:
    product = factors[0]
    for factor in factors[1:]:
        product = np.multiply.outer(product, factor)
    return product


def _reconstruct(terms: list[Term], shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    for term in terms:
        out += _outer(term).reshape(shape)
    return out


def _rank_one(tensor: np.ndarray, bases: list | None = None) -> Term:
    """Best rank-1 factors by the leading singular vector of every unfolding (exact for rank 1)."""
    if tensor.ndim == 1:
        return [tensor.copy()]
    factors = [u[:, 0] for u, _ in (bases or _mode_bases(tensor))]
    scale = tensor
    for factor in factors[::-1]:
        scale = scale @ factor
    factors[0] = factors[0] * float(scale)
    return factors


def _balanced(term: Term) -> Term:
    """Scale a term's factors to equal norms, sign in the first, largest entry positive."""
    norms = [float(np.linalg.norm(f)) for f in term]
    total = float(np.prod(norms))
    if total == 0:
        return [np.zeros_like(f) for f in term]
    share = total ** (1.0 / len(term))
    out = []
    sign = 1.0
    for f, n in zip(term, norms, strict=True):
        unit = f / n
        if unit[np.argmax(np.abs(unit))] < 0:
            unit, sign = -unit, -sign
        out.append(unit * share)
    out[0] = out[0] * sign
    return out


def _mttkrp(tensor: np.ndarray, factors: list[np.ndarray], mode: int) -> np.ndarray:
    letters = "abcdefghijklmnopq"[: tensor.ndim]
    operands = [tensor]
    subscripts = [letters]
    for axis, factor in enumerate(factors):
        if axis != mode:
            operands.append(factor)
            subscripts.append(letters[axis] + "z")
    spec = ",".join(subscripts) + "->" + letters[mode] + "z"
    return np.einsum(spec, *operands, optimize=True)


def _cp_reconstruct(factors: list[np.ndarray]) -> np.ndarray:
    letters = "abcdefghijklmnopq"[: len(factors)]
    spec = ",".join(f"{c}z" for c in letters) + "->" + letters
    return np.einsum(spec, *factors, optimize=True)


def _spread(factors: list[np.ndarray], norm: float) -> float:
    sizes = np.prod([np.linalg.norm(f, axis=0) for f in factors], axis=0)
    return float(np.sum(sizes)) / norm


def _als(
    tensor: np.ndarray, factors: list[np.ndarray], max_iter: int
) -> tuple[list[np.ndarray], float]:
    """CP-ALS sweeps; returns the best iterate whose terms do not cancel (see cancellation).

    A run whose terms start to diverge against each other (a degenerate fit of a kernel whose
    border rank is below its rank) stops, keeping the best well-conditioned iterate.
    """
    norm = float(np.linalg.norm(tensor))
    factors = [f.copy() for f in factors]
    rank = factors[0].shape[1]
    error = float(np.linalg.norm(tensor - _cp_reconstruct(factors))) / norm
    best, best_factors = np.inf, None
    if _spread(factors, norm) <= MAX_CANCELLATION:
        best, best_factors = error, [f.copy() for f in factors]
    stalled = 0
    history: list[float] = []
    for _ in range(max_iter):
        for mode in range(tensor.ndim):
            gram = np.ones((rank, rank))
            for axis, factor in enumerate(factors):
                if axis != mode:
                    gram *= factor.T @ factor
            rhs = _mttkrp(tensor, factors, mode)
            factors[mode] = np.linalg.lstsq(gram, rhs.T, rcond=None)[0].T
        # |X - R|^2 = |X|^2 - 2<X, R> + |R|^2 from the last MTTKRP and the Gram matrices:
        # cheap, but it loses digits below ~1e-6, where the exact residual is computed
        inner = float(np.sum(rhs * factors[-1]))
        grams = np.ones((rank, rank))
        for factor in factors:
            grams *= factor.T @ factor
        error = math.sqrt(max(norm * norm - 2.0 * inner + float(grams.sum()), 0.0)) / norm
        if error < 1e-5:
            error = float(np.linalg.norm(tensor - _cp_reconstruct(factors))) / norm
        if _spread(factors, norm) > MAX_CANCELLATION:
            if best_factors is not None:
                break
            continue
        if error < best:
            improvement = best - error
            best, best_factors = error, [f.copy() for f in factors]
            stalled = stalled + 1 if improvement <= 1e-10 * error else 0
        else:
            stalled += 1
        history.append(best)
        # stuck: less than 1% better than 50 sweeps ago (a swamp or a degenerate creep)
        stuck = len(history) > STUCK_SWEEPS and history[-1] > 0.99 * history[-1 - STUCK_SWEEPS]
        if best <= 1e-14 or stalled >= 10 or stuck:
            break
    if best_factors is None:
        return factors, error
    return best_factors, best


def _hosvd_init(tensor: np.ndarray, rank: int, bases: list) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    factors = []
    for (u, _), size in zip(bases, tensor.shape, strict=True):
        if u.shape[1] < rank:
            u = np.hstack([u, rng.standard_normal((size, rank - u.shape[1]))])
        factors.append(u[:, :rank])
    factors[0] = factors[0] * float(np.linalg.norm(tensor))
    return factors


def _jennrich_init(tensor: np.ndarray, rank: int, bases: list) -> list[np.ndarray] | None:
    """Simultaneous diagonalisation (exact for generic rank <= the first two sizes)."""
    rows, cols = tensor.shape[:2]
    if rank < 2 or rank > min(rows, cols):
        return None
    cube = tensor.reshape(rows, cols, -1)
    rng = np.random.default_rng(12345)
    a, b = rng.standard_normal((2, cube.shape[2]))
    u0 = bases[0][0][:, :rank]
    u1 = bases[1][0][:, :rank]
    ma = u0.T @ (cube @ a) @ u1
    mb = u0.T @ (cube @ b) @ u1
    try:
        vectors = np.linalg.eig(ma @ np.linalg.inv(mb))[1]
    except np.linalg.LinAlgError:
        return None
    first = u0 @ np.real(vectors)
    try:
        rest = np.linalg.pinv(first) @ tensor.reshape(rows, -1)
    except np.linalg.LinAlgError:
        return None
    others: list[list[np.ndarray]] = [[] for _ in range(tensor.ndim - 1)]
    for i in range(rank):
        term = _rank_one(rest[i].reshape(tensor.shape[1:]))
        for axis, factor in enumerate(term):
            others[axis].append(factor)
    if not np.all(np.isfinite(first)):
        return None
    return [first] + [np.stack(f, axis=1) for f in others]


def _warm_init(tensor: np.ndarray, start: list[Term], rank: int) -> list[np.ndarray] | None:
    """Previous terms plus the best rank-1 term of what they leave (greedy warm start)."""
    if not start or len(start) >= rank:
        return None
    terms = [list(t) for t in start]
    while len(terms) < rank:
        residual = tensor - _reconstruct(terms, tensor.shape)
        if not residual.any():
            return None
        terms.append(_rank_one(residual))
    return [np.stack([t[a] for t in terms], axis=1) for a in range(tensor.ndim)]


def _cp(
    tensor: np.ndarray,
    rank: int,
    start: list[Term] | None,
    max_iter: int | None,
    bases: list | None,
) -> list[Term]:
    bases = bases or _mode_bases(tensor)
    if max_iter is None:
        budget = 2e8 / max(1, tensor.size * rank * tensor.ndim)
        max_iter = int(min(1000, max(30, budget)))
    norm = float(np.linalg.norm(tensor))
    best_factors, best_key = None, (True, np.inf)
    inits = (
        _jennrich_init(tensor, rank, bases),
        _warm_init(tensor, start or [], rank),
        _hosvd_init(tensor, rank, bases),
    )
    for init in inits:
        if init is None:
            continue
        factors, error = _als(tensor, init, max_iter)
        key = (_spread(factors, norm) > MAX_CANCELLATION, error)
        if key < best_key:
            best_factors, best_key = factors, key
        if best_key[1] <= 1e-13 and not best_key[0]:
            break
    assert best_factors is not None
    return [[f[:, i] for f in best_factors] for i in range(rank)]


def _sorted_terms(terms: list[Term]) -> list[Term]:
    balanced = [_balanced(t) for t in terms]
    sizes = [float(np.prod([np.linalg.norm(f) for f in t])) for t in balanced]
    order = sorted(range(len(balanced)), key=lambda i: -sizes[i])
    return [balanced[i] for i in order if sizes[i] > 0] or balanced[:1]


def _svd_terms(u: np.ndarray, s: np.ndarray, vt: np.ndarray, rank: int) -> list[Term]:
    count = max(1, min(rank, int(np.count_nonzero(s > 0))))
    terms = [[u[:, i] * np.sqrt(s[i]), vt[i] * np.sqrt(s[i])] for i in range(count)]
    return _sorted_terms(terms)


def best_terms(
    weights: np.ndarray,
    rank: int,
    *,
    start: list[Term] | None = None,
    max_iter: int | None = None,
) -> list[Term]:
    """The best sum of at most ``rank`` separable terms approximating ``weights``.

    2-D: the truncated SVD (optimal, Eckart-Young). N-D: CP by alternating least squares,
    started from simultaneous diagonalisation (Jennrich), from ``start`` (e.g. the best
    rank-(r-1) terms) plus a term for the residual, and from the HOSVD; the best wins.
    ``max_iter`` caps the ALS sweeps per start (default: up to 1000, fewer for big kernels).
    Deterministic. Terms are largest first, each with its scale spread evenly over its factors.

    Examples
    --------
    >>> k = np.outer([1., 2., 1.], [1., 0., -1.])
    >>> t = best_terms(k, 1)
    >>> bool(np.allclose(np.outer(*t[0]), k))
    True
    """
    weights = np.asarray(weights, dtype=np.float64)
    if rank < 1:
        raise UsageError(f"rank must be >= 1, got {rank}")
    if weights.ndim == 1:
        return [[weights.copy()]]
    if not weights.any():
        return [[np.zeros(n) for n in weights.shape]]
    if weights.ndim == 2:
        return _svd_terms(*np.linalg.svd(weights, full_matrices=False), rank)
    return _best_terms_nd(weights, rank, start, max_iter, None)


def _best_terms_nd(
    weights: np.ndarray,
    rank: int,
    start: list[Term] | None,
    max_iter: int | None,
    bases: list | None,
) -> list[Term]:
    if rank == 1:
        init = [f[:, None] for f in _rank_one(weights, bases)]
        factors, _ = _als(weights, init, 200 if max_iter is None else max_iter)
        return _sorted_terms([[f[:, 0] for f in factors]])
    return _sorted_terms(_cp(weights, rank, start, max_iter, bases))


def _errors(weights: np.ndarray, terms: list[Term]) -> tuple[float, float]:
    norm = float(np.linalg.norm(weights))
    diff = weights - _reconstruct(terms, weights.shape)
    rel = float(np.linalg.norm(diff)) / norm if norm else 0.0
    return rel, float(np.max(np.abs(diff))) if diff.size else 0.0


def cancellation(weights: np.ndarray, terms: list[Term]) -> float:
    """Sum of the terms' norms over the kernel's norm (1 for one term; large = terms cancel).

    Degenerate CP solutions (a kernel of border rank r approximated by r huge, nearly opposite
    terms) have a large value and lose that many digits in float32 filtering.

    Examples
    --------
    >>> k = np.outer([1., 2., 1.], [1., 0., -1.])
    >>> round(cancellation(k, [[np.array([1., 2., 1.]), np.array([1., 0., -1.])]]), 6)
    1.0
    """
    norm = float(np.linalg.norm(weights))
    if norm == 0:
        return 1.0
    return sum(float(np.prod([np.linalg.norm(f) for f in t])) for t in terms) / norm


def _max_useful_rank(shape: tuple[int, ...]) -> int:
    if len(shape) == 1:
        return 1
    total = int(np.prod(shape))
    return min(total // size for size in shape)


def analyse(kernel: Any, *, tol: float = 1e-7, max_rank: int = 8) -> Decomposition:
    """Find how few separable terms reproduce a kernel to ``tol``.

    Parameters
    ----------
    kernel
        A :class:`~sepconv_cli.kernels.base.Kernel` (its exact factors/terms are used when known)
        or an array of weights. For a gradient magnitude (``combine``) this analyses its
        ``weights``, the first component; analyse each of ``kernel.components`` for all.
    tol
        Largest relative Frobenius error accepted (relative to the kernel's norm).
    max_rank
        Largest number of terms tried; the table ``by_rank`` covers r = 1..max_rank (capped at
        the most terms the shape can need).

    Returns
    -------
    Decomposition
        ``rank`` = smallest r <= max_rank meeting ``tol`` (0 if none) with terms that do not
        cancel each other by more than :data:`MAX_CANCELLATION`; its ``terms`` and errors,
        the singular values (2-D), every mode-unfolding rank and every split of the axes into
        two groups with its rank (``partial``).

    Examples
    --------
    >>> d = analyse(np.outer([1., 2., 1.], [1., 0., -1.]))
    >>> d.rank, d.unfolding_ranks
    (1, (1, 1))
    >>> analyse(np.array([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]])).rank
    2
    """
    weights, factors, known = _as_weights(kernel)
    if not tol >= 0:
        raise UsageError(f"--tol must be >= 0, got {tol}")
    if max_rank < 1:
        raise UsageError(f"--max-rank must be >= 1, got {max_rank}")
    shape = tuple(weights.shape)
    ndim = weights.ndim
    per_term = int(sum(shape))
    svd2 = np.linalg.svd(weights, full_matrices=False) if ndim == 2 else None
    singular = None if svd2 is None else svd2[1]
    spectra: dict[tuple[int, ...], np.ndarray] = {}

    def spectrum(group: tuple[int, ...]) -> np.ndarray:
        # a split and its complement have the same singular values: compute each once
        rest = tuple(a for a in range(ndim) if a not in group)
        key = rest if 0 in group else group
        if key not in spectra:
            spectra[key] = singular_values(unfold(weights, key))
        return spectra[key]

    if singular is not None:
        spectra[(1,)] = singular  # both unfoldings of a matrix: no second SVD
    bases = None
    if ndim >= 3 and factors is None:
        bases = _mode_bases(weights)
        for axis, (_, values) in enumerate(bases):
            spectra[(axis,) if axis else tuple(range(1, ndim))] = values

    groups = [
        (0, *extra)
        for size in range(ndim - 1)
        for extra in itertools.combinations(range(1, ndim), size)
    ]
    if factors is not None or ndim == 1:
        # exact factors: every unfolding and every split has rank 1
        unfolding_ranks = tuple(1 if weights.any() else 0 for _ in range(ndim))
        split_ranks = [1] * len(groups)
    else:
        unfolding_ranks = tuple(numerical_rank(spectrum((a,)), tol) for a in range(ndim))
        split_ranks = [numerical_rank(spectrum(g), tol) for g in groups]
    partial = []
    if ndim >= 3:
        for group, rank_of_split in zip(groups, split_ranks, strict=True):
            rest = [a for a in range(ndim) if a not in group]
            partial.append({"groups": [list(group), rest], "rank": rank_of_split})

    limit = min(max_rank, _max_useful_rank(shape))
    by_rank: list[dict[str, Any]] = []
    chosen: tuple[int, list[Term], float, float] | None = None
    exact_from: tuple[int, list[Term]] | None = None
    if factors is not None:
        exact_from = (1, [list(factors)])
    elif known:
        exact_from = (len(known), [list(t) for t in known])
    previous: list[Term] | None = None
    for r in range(1, limit + 1):
        if exact_from is not None and r >= exact_from[0]:
            terms = exact_from[1]
        elif by_rank and by_rank[-1]["rel_error"] <= 1e-14:
            terms = previous
        elif ndim == 1 or not weights.any():
            terms = best_terms(weights, 1)
        elif svd2 is not None:
            terms = _svd_terms(*svd2, r)
        else:
            # the full ALS run even where known exact terms make r provably short of the
            # tolerance: the table's best sum of r terms must not depend on the kernel's source
            terms = _best_terms_nd(weights, r, previous, None, bases)
        if by_rank and terms is previous:
            rel, worst, spread = (
                by_rank[-1][k] for k in ("rel_error", "max_abs_error", "cancellation")
            )
        else:
            rel, worst = _errors(weights, terms)
            spread = cancellation(weights, terms)
            if by_rank:
                last = by_rank[-1]
                old = (last["cancellation"] > MAX_CANCELLATION, last["rel_error"])
                if old < (spread > MAX_CANCELLATION, rel):
                    terms = previous
                    rel, worst, spread = (
                        last["rel_error"],
                        last["max_abs_error"],
                        last["cancellation"],
                    )
        by_rank.append(
            {
                "rank": r,
                "rel_error": rel,
                "max_abs_error": worst,
                "mults_per_voxel": r * per_term,
                "cancellation": spread,
            }
        )
        if chosen is None and rel <= tol and spread <= MAX_CANCELLATION:
            chosen = (r, terms, rel, worst)
        previous = terms
    if chosen is None:
        return Decomposition(
            shape=shape,
            rank=0,
            terms=[],
            tol=tol,
            singular_values=singular,
            unfolding_ranks=unfolding_ranks,
            by_rank=by_rank,
            partial=partial,
        )
    rank, terms, rel, worst = chosen
    return Decomposition(
        shape=shape,
        rank=rank,
        terms=terms,
        rel_error=rel,
        max_abs_error=worst,
        tol=tol,
        singular_values=singular,
        unfolding_ranks=unfolding_ranks,
        by_rank=by_rank,
        partial=partial,
    )


def integer_form(
    weights: np.ndarray, max_int: int = 1_000_000
) -> tuple[list[list[int]], Fraction | float] | None:
    """Small-integer factors of a rank-1 kernel whose weights are a common multiple of integers.

    Returns ``(factors, scale)`` with ``weights == scale * outer(*factors)`` (to 1e-9
    relative), or None when the kernel is not rank 1 over small integers. ``scale`` is a
    :class:`~fractions.Fraction` when it is one with a denominator up to 2**24, else a float.

    Examples
    --------
    >>> integer_form(np.outer([1., 2., 1.], [1., 0., -1.]))
    ([[1, 2, 1], [1, 0, -1]], Fraction(1, 1))
    >>> integer_form(np.outer([1., 2., 1.], [1., 2., 1.]) / 16)
    ([[1, 2, 1], [1, 2, 1]], Fraction(1, 16))
    >>> integer_form(-np.outer([1., 2., 1.], [1., 0., -1.]))[0]
    [[1, 2, 1], [-1, 0, 1]]
    >>> integer_form(np.pi * np.array([[1., 2.]]))
    ([[1], [1, 2]], 3.141592653589793)
    """
    weights = np.asarray(weights, dtype=np.float64)
    peak_index = np.unravel_index(int(np.argmax(np.abs(weights))), weights.shape)
    peak = float(weights[peak_index])
    if peak == 0:
        return None
    factors: list[list[int]] = []
    for axis in range(weights.ndim):
        index = list(peak_index)
        index[axis] = slice(None)
        ratios = weights[tuple(index)] / peak
        denominator = 1
        for ratio in ratios:
            fraction = Fraction(float(ratio)).limit_denominator(4096)
            if abs(float(fraction) - ratio) > 1e-9:
                return None
            denominator = math.lcm(denominator, fraction.denominator)
            if denominator > max_int:
                return None
        fiber = [int(v) for v in np.rint(ratios * denominator)]
        divisor = math.gcd(*fiber)
        fiber = [v // divisor for v in fiber]
        if next(v for v in fiber if v) < 0:
            fiber = [-v for v in fiber]
        if max(abs(v) for v in fiber) > max_int:
            return None
        factors.append(fiber)
    product = math.prod(factors[a][peak_index[a]] for a in range(weights.ndim))
    rebuilt = _outer([np.array(f, dtype=np.float64) for f in factors]) * (peak / product)
    if np.max(np.abs(rebuilt - weights)) > 1e-9 * abs(peak):
        return None
    common, denominator = Fraction(1, product), 1
    value = peak * float(common) / denominator
    nice = Fraction(value).limit_denominator(1 << 24)
    scale: Fraction | float = nice if abs(float(nice) - value) <= 1e-15 * abs(value) else value
    if scale < 0:
        # carry the sign in the last factor that has both signs (the derivative), else the last
        mixed = [a for a, f in enumerate(factors) if min(f) < 0 < max(f)]
        axis = mixed[-1] if mixed else len(factors) - 1
        factors[axis] = [-v for v in factors[axis]]
        scale = -scale
    return factors, scale
