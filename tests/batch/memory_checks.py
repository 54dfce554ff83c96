"""Memory assertions shared by the many-file batch tests."""

from __future__ import annotations

import resource

#: Late files may peak this much above early ones (allocator noise).
GROWTH_MARGIN_MB = 20.0
#: A sanity cap per worker process: interpreter, numpy/scipy and a small image, with room for
#: a loaded machine, ``pytest -n 2`` or coverage.
ABSOLUTE_CAP_MB = 600.0


def own_peak_rss_mb() -> float:
    """This process's peak RSS in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def assert_memory_flat(peaks_mb: list[float | None], window: int, inherited_mb: float) -> None:
    """Fail when worker memory grows from file to file.

    ``peaks_mb`` are the workers' peak RSS after each file, in finishing order. The point is
    "flat": the highest peak among the last ``window`` files may exceed the highest among the
    first ``window`` by at most :data:`GROWTH_MARGIN_MB`. The absolute size depends on the
    machine and the imports, and a spawned worker's ``ru_maxrss`` starts at its parent's peak
    (Linux keeps the high-water mark of the process image it had before ``exec``): it is only
    checked against :data:`ABSOLUTE_CAP_MB` above ``inherited_mb``, the parent's peak.
    """
    assert len(peaks_mb) >= 2 * window, f"{len(peaks_mb)} results, need {2 * window}"
    assert all(p is not None for p in peaks_mb), "peak RSS not reported"
    early, late = max(peaks_mb[:window]), max(peaks_mb[-window:])
    assert late <= early + GROWTH_MARGIN_MB, f"peak RSS grew from {early} MB to {late} MB"
    cap = ABSOLUTE_CAP_MB + inherited_mb
    assert max(peaks_mb) < cap, f"peak RSS {max(peaks_mb)} MB, cap {cap:.0f} MB"
