"""sepconv: filter images, volumes and hyperspectral cubes with convolution kernels.

The public API is small and imported lazily so that ``sepconv --help`` stays fast::

    import sepconv_cli as sc
    img = sc.read("scan.nii.gz")
    kernel = sc.build_kernel("gaussian:fwhm=6mm", ndim=3, spacing=img.spacing, units=img.units)

Names: ``read``, ``write``, ``build_kernel``, ``analyse``, ``plan``, ``apply``, ``count_ops``,
``Image``, ``Kernel``, ``Decomposition``, ``SepconvError``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Image": "sepconv_cli.image",
    "SepconvError": "sepconv_cli.errors",
    "read": "sepconv_cli.io",
    "write": "sepconv_cli.io",
    "Kernel": "sepconv_cli.kernels",
    "build_kernel": "sepconv_cli.kernels",
    "Decomposition": "sepconv_cli.separability",
    "analyse": "sepconv_cli.separability",
    "plan": "sepconv_cli.engine",
    "apply": "sepconv_cli.engine",
    "count_ops": "sepconv_cli.costs",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'sepconv_cli' has no attribute {name!r}")
