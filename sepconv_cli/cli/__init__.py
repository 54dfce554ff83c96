"""The command-line layer: Typer commands, parameter parsing at the edge, Rich/JSON rendering."""
