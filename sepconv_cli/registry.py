"""A small generic registry used for formats, kernels, methods and backends."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from sepconv_cli.errors import SpecError

T = TypeVar("T")


def did_you_mean(word: str, choices: list[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string.

    Examples
    --------
    >>> did_you_mean("sigam", ["sigma", "order"])
    "; did you mean 'sigma'?"
    """
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` is used in error messages), with aliases.

    Examples
    --------
    >>> modes = Registry[str]("boundary mode")
    >>> modes.register("mirror", "mirror", aliases=("reflect101",))
    'mirror'
    >>> modes.get("reflect101")
    'mirror'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, entry: T, aliases: tuple[str, ...] = ()) -> T:
        """Add ``entry`` under ``name`` (and ``aliases``); return the entry."""
        key = name.lower()
        if key in self._entries or key in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[key] = entry
        for alias in aliases:
            self._aliases[alias.lower()] = key
        return entry

    def decorator(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Register the decorated object under ``name``."""

        def wrap(entry: T) -> T:
            return self.register(name, entry, aliases)

        return wrap

    def canonical(self, name: str) -> str:
        """Resolve an alias to its canonical name; raise :class:`SpecError` if unknown."""
        key = name.strip().lower()
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        choices = self.names()
        raise SpecError(
            f"unknown {self.kind} {name!r}{did_you_mean(key, choices + list(self._aliases))}"
            f" (choices: {', '.join(choices)})"
        )

    def get(self, name: str) -> T:
        """Return the entry for ``name`` or an alias of it."""
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        """Canonical names in registration order."""
        return list(self._entries)

    def aliases(self) -> dict[str, str]:
        """Alias -> canonical name."""
        return dict(self._aliases)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name.lower() in self._entries or name.lower() in self._aliases
        )

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)
