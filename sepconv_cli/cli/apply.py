"""`sepconv apply` (not yet implemented)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the command to `app`."""
