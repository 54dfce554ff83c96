"""Planning (cost model) and running filters on a backend.

Public names: :func:`plan`, :func:`apply`, :class:`ApplyOptions`, :class:`Plan`,
:class:`Report`, and for chunked runs :func:`filter_array` and :func:`cast_output`.
"""

from sepconv_cli.engine.filtering import cast_output, filter_array
from sepconv_cli.engine.options import ApplyOptions
from sepconv_cli.engine.planner import Plan, Step, plan
from sepconv_cli.engine.report import Report
from sepconv_cli.engine.run import apply

__all__ = [
    "ApplyOptions",
    "Plan",
    "Report",
    "Step",
    "apply",
    "cast_output",
    "filter_array",
    "plan",
]
