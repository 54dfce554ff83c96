"""`sepconv kernel` (not yet implemented)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
