"""The Typer application: global options, command registration, and error -> exit-code mapping.

Command modules import only Typer at module level; NumPy, SciPy and the rest are imported inside
the command functions so that ``sepconv --help`` starts fast.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click
import typer
from typer.core import TyperGroup

from sepconv_cli.errors import ExitCode, SepconvError

#: Modules under ``sepconv_cli.cli`` that each define ``register(app)``.
COMMAND_MODULES = ("info", "convert", "kernel", "check", "apply", "ops", "bench")

_state = {"debug": False}


def _fail(text: str, code: int) -> None:
    if _state["debug"]:
        traceback.print_exc()
    print(f"sepconv: error: {text}", file=sys.stderr, flush=True)
    raise typer.Exit(int(code))


#: Exceptions Typer/Click handle themselves (usage errors exit 2 with a hint). Typer >= 0.20
#: vendors its own copy of Click, whose exceptions derive from ``typer.TyperException`` and not
#: from ``click.ClickException``.
_CLICK_HANDLED: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    click.exceptions.Exit,
    click.ClickException,
    click.Abort,
    *((typer.TyperException,) if hasattr(typer, "TyperException") else ()),
)


class ErrorMappingGroup(TyperGroup):
    """Runs a command and turns library errors into one stderr line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _CLICK_HANDLED:
            raise
        except SepconvError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            print("sepconv: interrupted", file=sys.stderr, flush=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise typer.Exit(int(ExitCode.FAILURE)) from None
        except MemoryError:
            _fail("out of memory (try --backend dask or a smaller --chunks)", ExitCode.FAILURE)
        except OSError as exc:
            _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), ExitCode.FAILURE)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug)", 1)


app = typer.Typer(
    name="sepconv",
    cls=ErrorMappingGroup,
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help: Rich-rendered help imports rich.markdown and markdown_it and more than
    # doubles the start-up of `sepconv --help` (issue 6 keeps it under 2x `import typer, rich`).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Filter images, volumes and hyperspectral cubes with convolution kernels, "
        "exploiting separability, and report what it costs.\n\n"
        "sepconv CONVOLVES (the kernel is flipped, as scipy.ndimage.convolve); "
        "use --correlate on apply for correlation."
    ),
)


def _version(value: bool) -> None:
    if value:
        from sepconv_cli import __version__

        typer.echo(f"sepconv {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"sepconv_cli.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="sepconv")
    except KeyboardInterrupt:
        print("sepconv: interrupted", file=sys.stderr, flush=True)
        sys.exit(int(ExitCode.INTERRUPTED))
