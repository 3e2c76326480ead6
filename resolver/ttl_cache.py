"""A small per-process cache whose entries expire: for lookups on every request that may lag
the database by a few seconds (verified API keys, widget origins)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Bounded by clearing it whole when full: a cap on memory, not an LRU."""

    # Every cache of the process, so a test can start from none (clear_all).
    _instances: ClassVar[weakref.WeakSet[TtlCache[Any]]] = weakref.WeakSet()

    def __init__(self, max_items: int = 1024) -> None:
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, V]] = {}
        TtlCache._instances.add(self)

    def clear(self) -> None:
        self._items.clear()

    @classmethod
    def clear_all(cls) -> None:
        """Forgets every cached value of the process (tests: one test's lookups, a widget
        origin or an API key remembered, must not decide the next one's)."""
        for cache in list(cls._instances):
            cache.clear()

    def get_or_compute(
        self,
        key: Hashable,
        ttl: float,
        compute: Callable[[], V],
        keep: Callable[[V], bool] = lambda value: True,
    ) -> V:
        """The cached value, else compute() (remembered for `ttl` seconds when keep() says so)."""
        hit = self._items.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        value = compute()
        if ttl > 0 and keep(value):
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (time.monotonic() + ttl, value)
        else:
            self._items.pop(key, None)
        return value
