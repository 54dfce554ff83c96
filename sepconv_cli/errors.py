"""Errors raised by the library and the exit codes the CLI maps them to.

Library code raises :class:`SepconvError` subclasses whose message names the parameter and
the bad value; only ``sepconv_cli.cli`` turns them into one line on stderr and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README.

    Examples
    --------
    >>> int(ExitCode.USAGE)
    2
    """

    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3
    NOT_SEPARABLE = 4
    INTERRUPTED = 130


class SepconvError(ValueError):
    """Base class of every error sepconv reports to a user.

    Examples
    --------
    >>> SepconvError("sigma must be >= 0, got -1").exit_code
    <ExitCode.FAILURE: 1>
    """

    exit_code: ExitCode = ExitCode.FAILURE


class UsageError(SepconvError):
    """A bad option or option value (exit code 2)."""

    exit_code = ExitCode.USAGE


class SpecError(UsageError):
    """A kernel spec, unit or per-axis list that cannot be understood (exit code 2)."""


class FormatError(SepconvError):
    """A file that cannot be read or written in the asked format (exit code 1)."""


class KernelFileError(SepconvError):
    """A custom kernel file that cannot be read (exit code 1)."""


class NotSeparableError(SepconvError):
    """A kernel that is not rank 1 where ``--require-separable`` asked for it (exit code 4)."""

    exit_code = ExitCode.NOT_SEPARABLE


class BackendUnavailableError(SepconvError):
    """An optional backend (numba, dask) that is not installed (exit code 1)."""
