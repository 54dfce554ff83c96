"""Where output goes: data and JSON to stdout, everything human to stderr.

No colour or progress bars when stderr is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import math
import os
import sys
from functools import lru_cache
from typing import Any


def stderr_is_interactive() -> bool:
    """True when stderr is a terminal and ``NO_COLOR`` is not set."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@lru_cache(maxsize=1)
def _console_for(stream_id: int, interactive: bool) -> Any:
    from rich.console import Console

    return Console(
        file=sys.stderr,
        force_terminal=interactive,
        no_color=not interactive,
        highlight=False,
        soft_wrap=not interactive,
        width=None if interactive else 120,
    )


def err_console() -> Any:
    """A Rich console on stderr (plain text when not interactive)."""
    return _console_for(id(sys.stderr), stderr_is_interactive())


def message(text: str) -> None:
    """Print one human line on stderr."""
    print(text, file=sys.stderr, flush=True)


def warn(text: str) -> None:
    """Print a warning line on stderr."""
    message(f"sepconv: warning: {text}")


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "__fspath__"):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj


def to_json(document: Any) -> str:
    """Serialise to one line of strict JSON.

    NumPy scalars and arrays become numbers and lists; NaN and infinities become null.

    Examples
    --------
    >>> to_json({"min": float("nan"), "shape": (2, 3)})
    '{"min": null, "shape": [2, 3]}'
    """
    plain = json.loads(json.dumps(document, default=_default))
    return json.dumps(_finite(plain), allow_nan=False)


def print_json(document: Any) -> None:
    """Print one JSON document as one line on stdout."""
    sys.stdout.write(to_json(document) + "\n")
    sys.stdout.flush()
