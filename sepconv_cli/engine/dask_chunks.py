"""Chunk shapes for the Dask backend: ``--chunks``, ``--memory-limit`` and the default choice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sepconv_cli.engine.options import parse_size
from sepconv_cli.errors import UsageError

#: Working copies of a chunk a filter task holds at once (padded input in compute dtype, the
#: pass outputs and intermediates, the cast output), used to size chunks for a memory limit.
WORKING_COPIES = 6


def parse_chunks(chunks: str | int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    """Parse ``--chunks``: ``64`` (every axis) or ``64x128x128`` (one per axis), or None.

    Examples
    --------
    >>> parse_chunks("64", 3), parse_chunks("16x32x32", 3), parse_chunks(None, 2)
    ((64, 64, 64), (16, 32, 32), None)
    """
    if chunks is None or chunks == "" or chunks == "auto":
        return None
    if isinstance(chunks, str):
        parts = chunks.lower().replace(",", "x").split("x")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise UsageError(
                f"--chunks {chunks!r}: give one size or one per axis joined by 'x' "
                "(e.g. 64 or 64x128x128)"
            ) from None
    elif isinstance(chunks, int):
        values = [chunks]
    else:
        values = [int(c) for c in chunks]
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim:
        raise UsageError(f"--chunks {chunks!r} gives {len(values)} sizes for {ndim} axes")
    if any(v < 1 for v in values):
        raise UsageError(f"--chunks {chunks!r}: sizes must be >= 1")
    return tuple(values)


def parse_memory(limit: str | int | float | None) -> int | None:
    """Parse a memory size (``"128MiB"``, ``"2GB"``, bytes as a number) into bytes, or None.

    Examples
    --------
    >>> parse_memory("128MiB"), parse_memory(1000), parse_memory(None)
    (134217728, 1000, None)
    """
    if limit is None or limit == "":
        return None
    return parse_size(limit)


def working_bytes(chunks: Sequence[int], halo: Sequence[int], itemsize: int) -> int:
    """Memory one filter task holds for a chunk: ``WORKING_COPIES`` padded copies.

    Examples
    --------
    >>> working_bytes((64, 64, 64), (8, 8, 8), 4) / 2**20
    11.71875
    """
    padded = np.prod([int(c) + 2 * int(h) for c, h in zip(chunks, halo, strict=True)], dtype=float)
    return int(padded) * max(itemsize, 4) * WORKING_COPIES


def choose_chunks(
    shape: Sequence[int],
    itemsize: int,
    halo: Sequence[int],
    *,
    chunks: str | int | Sequence[int] | None = None,
    memory_limit: int | None = None,
    workers: int = 1,
    stored: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """The chunk shape to filter with: ``chunks`` if given, else the largest that fits.

    Without ``chunks``, the largest axis is halved (see the floors in the code) until
    ``WORKING_COPIES`` copies of a padded chunk (chunk + 2 × halo) per worker use at most half
    of ``memory_limit``, then further while there are fewer than two chunks per worker.
    Along filtered axes a chunk is never smaller than the halo (Dask's overlap takes a halo
    from the next chunk only, and :func:`reextend` mirrors within a block), so a smaller
    ``--chunks`` is raised to the halo. ``stored``, the input's own chunk shape (Zarr), rounds
    the default down to whole stored chunks when that still fits, so no stored chunk is
    decompressed by two tasks except for the halos.

    Examples
    --------
    >>> choose_chunks((100, 100), 4, (3, 3), chunks="2x50")
    (3, 50)
    >>> choose_chunks((512, 512, 512), 4, (8, 8, 8), memory_limit=128 * 2**20)
    (32, 64, 512)
    >>> choose_chunks((512, 512, 512), 4, (8, 8, 8), memory_limit=128 * 2**20, stored=(20,) * 3)
    (20, 60, 500)
    """
    ndim = len(shape)
    given = parse_chunks(chunks, ndim)
    if given is not None:
        out = list(given)
    else:
        from sepconv_cli.engine.options import default_memory_limit

        budget = (memory_limit or default_memory_limit()) // 2 // max(1, workers)
        out = list(shape)

        def working(c: list[int]) -> int:
            return working_bytes(c, halo, itemsize)

        # Leading axes are not split below max(16, 2 x halo), the last (contiguous) axis not
        # below 1024 samples, while another axis can be: rows of whole pages keep reads and
        # writes of C-ordered files (npy, TIFF) from touching pages of neighbouring chunks.
        floor = [max(16, 2 * int(h)) for h in halo]
        if ndim:
            floor[-1] = max(floor[-1], 1024)
        while working(out) > budget and max(out) > 1:
            above = [i for i in range(ndim) if out[i] > floor[i]]
            axis = max(above or range(ndim), key=lambda i: (out[i], -i))
            out[axis] = (out[axis] + 1) // 2

        def count(c: list[int]) -> int:
            return int(np.prod([-(-n // max(ci, 1)) for n, ci in zip(shape, c, strict=True)]))

        # Then at least two chunks per worker, so that every worker has work, while some
        # axis is still above its floor.
        while count(out) < 2 * max(1, workers):
            above = [i for i in range(ndim) if out[i] // 2 >= floor[i]]
            if not above:
                break
            axis = max(above, key=lambda i: (out[i], -i))
            out[axis] = (out[axis] + 1) // 2

        if stored is not None and len(stored) == ndim:
            aligned = [max(s, (c // s) * s) for c, s in zip(out, stored, strict=True)]
            if working(aligned) <= budget:
                out = aligned
    return tuple(
        max(1, min(int(c), int(n)), int(h) if n > 0 else 1)
        for c, n, h in zip(out, shape, halo, strict=True)
    )


def axis_chunks(n: int, c: int) -> tuple[int, ...]:
    """Chunk sizes along an axis of length ``n`` cut every ``c`` samples.

    Examples
    --------
    >>> axis_chunks(10, 4)
    (4, 4, 2)
    """
    full, rest = divmod(n, c)
    return (c,) * full + ((rest,) if rest else ())
