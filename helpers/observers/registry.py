"""The one registry of observers: names, their options, and building the enabled ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from helpers.observers.base import Observer


class Registry:
    def __init__(self, classes: Iterable[type[Observer]]) -> None:
        self._classes: dict[str, type[Observer]] = {}
        for cls in classes:
            if cls.name in self._classes:
                raise ValueError(f"two observers are named {cls.name!r}")
            self._classes[cls.name] = cls

    def names(self) -> list[str]:
        return list(self._classes)

    def get(self, name: str) -> type[Observer]:
        return self._classes[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._classes.values())

    def options(self) -> dict[str, list[str]]:
        """name -> the option names its config section accepts (besides enabled, policy)."""
        return {name: list(cls.OPTIONS) for name, cls in self._classes.items()}

    def enabled(self, raw: Mapping[str, Mapping[str, Any]]) -> list[str]:
        return [n for n in self._classes if (raw.get(n) or {}).get("enabled", True)]

    def build(self, raw: Mapping[str, Mapping[str, Any]]) -> list[Observer]:
        """One observer per enabled name, in registry order, with its config section."""
        return [self._classes[n](raw.get(n) or {}) for n in self.enabled(raw)]
