"""Separability analysis: known ranks, random rank-r kernels, errors by rank, integer factors."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepconv_cli.errors import UsageError
from sepconv_cli.kernels import build_kernel
from sepconv_cli.separability import analyse, best_terms, integer_form, numerical_rank


def _outer(factors):
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


@pytest.mark.parametrize(
    ("spec", "ndim", "rank"),
    [
        ("gaussian:sigma=2", 2, 1),
        ("gaussian:sigma=1.5x2x1,order=0x1x0", 3, 1),
        ("sobel:axis=x", 2, 1),
        ("scharr:axis=y", 2, 1),
        ("prewitt:axis=2", 3, 1),
        ("box:size=5x3", 2, 1),
        ("binomial:n=7", 3, 1),
        ("log:sigma=1.5", 2, 2),
        ("log:sigma=1.2", 3, 3),
        ("dog:sigma1=1,sigma2=2", 2, 2),
        ("laplace", 2, 2),
        ("laplace", 3, 3),
    ],
)
def test_known_ranks_from_kernels_and_raw_weights(spec, ndim, rank):
    kernel = build_kernel(spec, ndim=ndim)
    assert analyse(kernel).rank == rank
    # the same answer without the builder's exact factors/terms
    raw = analyse(kernel.weights)
    assert raw.rank == rank
    assert raw.rel_error <= 1e-7
    np.testing.assert_allclose(
        raw.reconstruct(), kernel.weights, atol=1e-7 * np.abs(kernel.weights).max()
    )


def test_gaussian_keeps_its_exact_factors():
    kernel = build_kernel("gaussian:sigma=2", ndim=3)
    d = analyse(kernel)
    assert d.rank == 1 and d.separable
    for ours, exact in zip(d.terms[0], kernel.factors, strict=True):
        assert ours is exact or np.array_equal(ours, exact)
    assert d.unfolding_ranks == (1, 1, 1)
    assert all(p["rank"] == 1 for p in d.partial)


def test_disk_is_not_separable_and_error_falls():
    d = analyse(build_kernel("disk:radius=4"))
    assert d.rank > 1
    errors = [row["rel_error"] for row in d.by_rank]
    assert errors[0] > 0.1
    assert all(b <= a + 1e-15 for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] < errors[0] / 10
    s = d.singular_values
    assert s is not None and np.all(np.diff(s) <= 1e-12)
    assert [row["mults_per_voxel"] for row in d.by_rank[:3]] == [18, 36, 54]


def test_disk_3d_needs_several_terms():
    d = analyse(build_kernel("ball:radius=3", ndim=3), max_rank=3)
    assert d.rank == 0  # no sum of <= 3 separable terms reaches 1e-7
    assert d.terms == []
    assert d.unfolding_ranks == (4, 4, 4)


def test_partial_separability_spatial_times_spectral():
    rng = np.random.default_rng(0)
    spatial = rng.standard_normal((5, 5))  # rank 5: not separable in space
    spectral = np.array([1.0, 3.0, 1.0])
    cube = np.multiply.outer(spatial, spectral)
    d = analyse(cube, max_rank=2)
    assert d.rank == 0
    assert d.unfolding_ranks == (5, 5, 1)
    splits = {tuple(map(tuple, p["groups"])): p["rank"] for p in d.partial}
    assert splits[((0, 1), (2,))] == 1
    assert splits[((0,), (1, 2))] == 5


def test_one_d_and_tolerance():
    assert analyse(np.array([1.0, 2.0, 1.0])).rank == 1
    almost = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])
    almost[0, 0] += 1e-5
    assert analyse(almost).rank == 2
    assert analyse(almost, tol=1e-4).rank == 1
    with pytest.raises(UsageError, match="max-rank"):
        analyse(almost, max_rank=0)
    with pytest.raises(UsageError, match="tol"):
        analyse(almost, tol=-1)
    assert numerical_rank(np.array([2.0, 1.0, 0.0]), 1e-7) == 2


@st.composite
def low_rank_kernels(draw):
    ndim = draw(st.sampled_from([2, 3, 4]))
    shape = tuple(draw(st.integers(3, 7 if ndim < 4 else 5)) for _ in range(ndim))
    rank = draw(st.integers(1, min(4, *shape)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    factors = [rng.uniform(0.5, 1.5, (n, rank)) * rng.choice([-1, 1], (n, rank)) for n in shape]
    weights = sum(_outer([f[:, i] for f in factors]) for i in range(rank))
    return weights, rank


@given(low_rank_kernels())
def test_random_low_rank_kernels_are_recovered(case):
    weights, rank = case
    d = analyse(weights, max_rank=rank + 1)
    # generic factors: the CP rank is exactly the number of terms drawn
    assert d.rank == rank
    assert d.rank >= max(d.unfolding_ranks)
    np.testing.assert_allclose(d.reconstruct(), weights, atol=1e-10 * np.abs(weights).max())


def test_random_3d_rank_recovered_exactly():
    rng = np.random.default_rng(42)
    for rank in (2, 3, 4):
        factors = [rng.standard_normal((n, rank)) for n in (6, 7, 5)]
        weights = sum(_outer([f[:, i] for f in factors]) for i in range(rank))
        d = analyse(weights)
        assert d.rank == rank
        np.testing.assert_allclose(d.reconstruct(), weights, atol=1e-10 * np.abs(weights).max())


def test_best_terms_is_optimal_in_2d():
    rng = np.random.default_rng(1)
    weights = rng.standard_normal((6, 5))
    s = np.linalg.svd(weights, compute_uv=False)
    for r in (1, 2, 3):
        terms = best_terms(weights, r)
        residual = np.linalg.norm(weights - sum(np.outer(*t) for t in terms))
        assert residual == pytest.approx(np.sqrt(np.sum(s[r:] ** 2)))
    with pytest.raises(UsageError):
        best_terms(weights, 0)


def test_integer_forms():
    assert integer_form(build_kernel("sobel:axis=x").weights) == (
        [[1, 2, 1], [1, 0, -1]],
        Fraction(1),
    )
    factors, scale = integer_form(build_kernel("binomial:n=3").weights)
    assert factors == [[1, 2, 1], [1, 2, 1]] and scale == Fraction(1, 16)
    factors, scale = integer_form(build_kernel("prewitt:axis=0", ndim=3).weights)
    assert factors == [[1, 0, -1], [1, 1, 1], [1, 1, 1]] and scale == 1
    factors, scale = integer_form(build_kernel("scharr:axis=y").weights)
    assert factors == [[1, 0, -1], [3, 10, 3]] and scale == 1
    assert integer_form(build_kernel("gaussian:sigma=1").weights) is None
    assert integer_form(build_kernel("laplace").weights) is None


def test_integer_forms_of_larger_and_signed_kernels():
    factors, scale = integer_form(build_kernel("binomial:n=9", ndim=3).weights)
    assert factors == [[1, 8, 28, 56, 70, 56, 28, 8, 1]] * 3
    assert scale == Fraction(1, 2**24)
    assert integer_form(-build_kernel("sobel:axis=y").weights) == (
        [[-1, 0, 1], [1, 2, 1]],
        Fraction(1),
    )
    factors, scale = integer_form(np.pi * np.array([[1.0, 2.0], [3.0, 6.0]]))
    assert factors == [[1, 3], [1, 2]] and scale == pytest.approx(np.pi)
    assert isinstance(scale, float)


@st.composite
def any_kernels(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["normal", "integers", "sparse", "constant"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "integers":
        return rng.integers(-3, 4, shape).astype(float)
    if kind == "sparse":
        weights = np.zeros(shape)
        weights[tuple(rng.integers(0, n) for n in shape)] = rng.uniform(-2, 2)
        return weights
    return np.full(shape, rng.uniform(-2, 2))


@given(any_kernels())
def test_analyse_is_consistent_on_any_kernel(weights):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = analyse(weights, max_rank=3)
    assert 0 <= d.rank <= 3
    assert d.shape == weights.shape and len(d.unfolding_ranks) == weights.ndim
    norm = np.linalg.norm(weights)
    if d.rank:
        assert len(d.terms) <= d.rank
        error = np.linalg.norm(d.reconstruct() - weights)
        assert error <= 1e-7 * norm + 1e-300
    assert d.rank == 0 or d.rank >= max(d.unfolding_ranks)
    for row in d.by_rank:
        assert row["mults_per_voxel"] == row["rank"] * sum(weights.shape)


def test_best_rank_r_sum_is_the_same_for_spec_and_array_sources():
    """A 3-D LoG built from its spec (exact terms known) and its bare weights give one table."""
    kernel = build_kernel("log:sigma=2", ndim=3)
    from_spec = analyse(kernel).by_rank
    from_array = analyse(np.array(kernel.weights)).by_rank
    assert [row["rank"] for row in from_spec] == [row["rank"] for row in from_array]
    for a, b in zip(from_spec, from_array, strict=True):
        assert a["rel_error"] == pytest.approx(b["rel_error"], rel=1e-6, abs=1e-12)
    # a 3-D LoG is exactly three separable terms
    assert from_spec[2]["rel_error"] < 1e-12
