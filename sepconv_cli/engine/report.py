"""The run report: the plan, predicted op counts per method, what ran, how long it took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepconv_cli.costs.filters import METHODS
from sepconv_cli.engine.planner import Plan, Step

_COUNT_KEYS = (
    "mults",
    "adds",
    "macs",
    "flops",
    "total_mults",
    "total_adds",
    "total_macs",
    "total_flops",
    "bytes",
)


def _scaled(cost: dict[str, Any], times: int) -> dict[str, Any]:
    out = dict(cost)
    for key in _COUNT_KEYS:
        out[key] = cost[key] * times
    return out


def step_summary(step: Step, axes: str) -> dict[str, Any]:
    """One kernel of the chain as a JSON-able dict.

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.options import ApplyOptions
    >>> from sepconv_cli.engine.planner import plan_step
    >>> from sepconv_cli.kernels.base import Kernel
    >>> k = Kernel(np.ones((3, 3)) / 9, factors=[np.ones(3) / 3] * 2, smoothing=True)
    >>> s = plan_step(k, (8, 8), (0, 1), ApplyOptions(kernels=("b",)).normalized(), "numpy")
    >>> step_summary(s, "yx")["ops"]["separable"]["macs"]
    6
    """
    kernel = step.kernel
    params = kernel.params or {}
    summary: dict[str, Any] = {
        "spec": kernel.spec or kernel.name,
        "name": kernel.name,
        "role": step.role,
        "axes": "".join(axes[a] for a in step.axes),
        "shape": list(kernel.shape),
        "origin": list(kernel.origin),
        "rank": step.rank,
        "separable": step.rank == 1,
        "rank_error": step.rank_error,
        "smoothing": step.smoothing,
        "combine": step.combine,
        "method": step.method,
        "why": step.why,
        "radius": list(params.get("radius", kernel.radius)),
        "ops": {m: _scaled(step.ops[m], len(step.parts)) for m in METHODS if m in step.ops},
        "predicted_s": dict(step.predicted_s),
    }
    if "sigma_vox" in params:
        summary["sigma_vox"] = list(params["sigma_vox"])
    for key in ("fwhm_vox", "tail_mass", "sigma", "fwhm"):
        if key in params:
            summary[key] = params[key]
    summary["params"] = dict(params)
    return summary


def chain_ops(steps: list[Step]) -> dict[str, dict[str, Any]]:
    """Per-method op counts summed over the chain (methods every step can use).

    Examples
    --------
    >>> chain_ops([])
    {}
    """
    if not steps:
        return {}
    common = [m for m in METHODS if all(m in s.ops for s in steps)]
    total: dict[str, dict[str, Any]] = {}
    for method in common:
        acc = dict.fromkeys(_COUNT_KEYS, 0)
        for step in steps:
            cost = _scaled(step.ops[method], len(step.parts))
            for key in _COUNT_KEYS:
                acc[key] += cost[key]
        total[method] = acc
    return total


@dataclass
class Report:
    """What a run did: the plan plus measurements.

    Parameters
    ----------
    plan
        The plan that ran (or would run, for a dry run).
    time_s
        Seconds spent filtering (no reading, writing or planning); None for a dry run.
    total_s
        Seconds for the whole job (set by the caller that reads and writes).
    nonfinite
        Non-finite input values met.
    clipped
        Output values rounded/clipped into the output dtype's range.
    verify
        ``--verify`` results (max abs and relative error against a float64 direct reference).
    warnings
        Human-readable warnings.
    extra
        More fields (input/output paths, dask chunk statistics...).

    Examples
    --------
    >>> import numpy as np
    >>> from sepconv_cli.engine.planner import plan
    >>> from sepconv_cli.image import Image
    >>> from sepconv_cli.kernels.base import Kernel
    >>> p = plan(Image(np.zeros((8, 8), np.float32), "yx"), [Kernel(np.ones((3, 3)) / 9)])
    >>> Report(p).to_dict()["method"]  # analyse() finds the box kernel rank 1
    'separable'
    """

    plan: Plan
    time_s: float | None = None
    total_s: float | None = None
    nonfinite: int = 0
    clipped: int = 0
    verify: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able dict (what ``--json`` prints)."""
        plan = self.plan
        totals = plan.ops_total
        methods = [s.method for s in plan.steps]
        method = methods[0] if len(set(methods)) == 1 else "+".join(methods)
        doc: dict[str, Any] = {
            "shape": list(plan.shape),
            "axes": plan.axes,
            "dtype": plan.dtype,
            "compute_dtype": plan.compute_dtype,
            "output_dtype": plan.output_dtype,
            "semantics": "correlate" if plan.correlate else "convolve",
            "mode": plan.mode,
            "cval": plan.cval,
            "nan": plan.nan,
            "kernels": [step_summary(s, plan.axes) for s in plan.steps],
            "method": method,
            "backend": plan.backend,
            "inner_backend": plan.inner_backend,
            "why": "; ".join(f"{s.kernel.spec or s.kernel.name}: {s.why}" for s in plan.steps),
            "backend_why": plan.backend_why,
            "ops": chain_ops(plan.steps),
            "macs": totals["macs"],
            "flops": totals["flops"],
            "saving_vs_direct": (
                totals["direct_flops"] / totals["flops"] if totals["flops"] else None
            ),
            "halo": list(plan.halo),
            "dry_run": self.time_s is None,
            "time_s": self.time_s,
            "total_s": self.total_s,
            "gmacs_per_s": (totals["macs"] / self.time_s / 1e9 if self.time_s else None),
            "nonfinite": self.nonfinite,
            "clipped": self.clipped,
            "verify": self.verify,
            "warnings": list(self.warnings),
        }
        doc.update(self.extra)
        return doc
