"""A tiny name -> factory registry (timm style), used for datasets, methods and extractor backends."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories and their metadata; ``kind`` is used in error messages ("dataset", "method")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, *names: str, **meta: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a factory under one or more names, with optional metadata."""

        def deco(fn: Callable[..., T]) -> Callable[..., T]:
            for name in names:
                if name in self._entries:
                    raise ValueError(f"{self.kind} {name!r} is already registered")
                self._entries[name] = fn
                self._meta[name] = dict(meta)
            return fn

        return deco

    def suggestion(self, name: str) -> str:
        """``"; did you mean 'x'?"`` for a near miss among the registered names, else ``""``."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=1, cutoff=0.6)
        return f"; did you mean {close[0]!r}?" if close else ""

    def get(self, name: str) -> Callable[..., T]:
        """Return the factory registered as ``name`` (clear error when unknown)."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}{self.suggestion(name)}") from None

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata ``name`` was registered with (``{}`` when none)."""
        self.get(name)
        return self._meta[name]

    def create(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its metadata (clear error when unknown); e.g. a method registered by a test."""
        self.get(name)
        del self._entries[name], self._meta[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
