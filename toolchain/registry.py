"""One small generic registry, used for readers, models, item tables, exporters and devices.

>>> fruits: Registry[type] = Registry("fruit")
>>> @fruits.register("apple")
... class Apple: ...
>>> fruits.get("apple") is Apple
True
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from toolchain.errors import InternalError, UsageError

T = TypeVar("T")


class UnknownNameError(UsageError):
    """A name that is not registered; the message lists the valid ones."""


class Registry(Generic[T]):
    """Maps names to objects (classes or factories) of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a second registration is a bug."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise InternalError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} '{name}'; valid: {valid}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
