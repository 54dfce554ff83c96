"""Savitzky-Golay smoothing/derivative filters (1-D: spectral or time axes).

Examples
--------
>>> from sepconv_cli.kernels import build_kernel
>>> build_kernel("savgol:window=5,order=2").weights.round(4)
array([-0.0857,  0.3429,  0.4857,  0.3429, -0.0857])
"""

from __future__ import annotations

from sepconv_cli.errors import SpecError
from sepconv_cli.kernels.base import Kernel
from sepconv_cli.kernels.builder import (
    NORMALIZE_CHOICES,
    BuildContext,
    KernelBuilder,
    Param,
    finish,
    normalize_param,
    register,
)
from sepconv_cli.spec import parse_int


def _build_savgol(ctx: BuildContext, values: dict[str, str]) -> Kernel:
    """Convolution coefficients of scipy.signal.savgol_coeffs(window, order, deriv)."""
    from scipy.signal import savgol_coeffs

    window = parse_int(values["window"], "savgol: window")
    order = parse_int(values["order"], "savgol: order")
    deriv = parse_int(values["deriv"], "savgol: deriv")
    if window < 1 or window % 2 == 0:
        raise SpecError(f"savgol: window must be an odd number >= 1, got {window}")
    ctx.check_size([window])
    if not 0 <= order < window:
        raise SpecError(f"savgol: order must be >= 0 and < window ({window}), got {order}")
    if not 0 <= deriv <= order:
        raise SpecError(f"savgol: deriv must be between 0 and order ({order}), got {deriv}")
    weights = savgol_coeffs(window, order, deriv=deriv, use="conv")
    default = "sum" if deriv == 0 else "none"
    normalize = ctx.choice("normalize", values.get("normalize", default), NORMALIZE_CHOICES)
    params = {"window": window, "order": order, "deriv": deriv}
    return finish(ctx, weights, normalize, factors=[weights], params=params)


register(
    KernelBuilder(
        "savgol",
        "Savitzky-Golay polynomial smoothing/derivative, 1-D (spectral or time axes)",
        (
            Param("window", "7", "window length in samples (odd)"),
            Param("order", "2", "degree of the fitted polynomial (< window)"),
            Param("deriv", "0", "derivative order (<= order), per sample"),
            normalize_param(None, "sum for deriv=0, none otherwise"),
        ),
        _build_savgol,
        default_ndim=1,
        fixed_ndim=1,
        aliases=("savitzky_golay", "savitzky-golay"),
    )
)
