"""A bounded store of what is built once per shape and used again and again.

Building a statement per search (its expressions, then SQLAlchemy's cache key walk of them)
costs more than a small search itself; a statement kept per shape, with its values bound at
execution, is built once. So are a cone's footprint edges (``sky/stored_footprints.py``) and an
answer's field declarations (``api/mast/services.py``). The shapes come from clients (their
column lists, criteria) or from the archive, so the store is bounded: when full, the oldest
shape kept makes room.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Built = TypeVar("Built")


class Kept(Generic[Built]):
    """What ``build`` made for each shape, for at most ``most`` shapes."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._built: dict[Hashable, Built] = {}
        # Searches run on several threads: making room takes the oldest key, which another
        # thread's insertion must not change meanwhile. Taken only when a shape is new.
        self._adding = threading.Lock()

    def get(self, shape: Hashable, build: Callable[[], Built]) -> Built:
        try:
            return self._built[shape]
        except KeyError:
            pass
        return self.keep(shape, build())

    def find(self, shape: Hashable) -> Built | None:
        """What is kept for ``shape``, or None (for a caller that builds many at once)."""
        return self._built.get(shape)

    def keep(self, shape: Hashable, made: Built) -> Built:
        """Keep ``made`` for ``shape``, unless another thread kept one first: the one kept."""
        with self._adding:
            if shape not in self._built and len(self._built) >= self._most:
                # dicts keep insertion order: the first key is the oldest shape
                del self._built[next(iter(self._built))]
            return self._built.setdefault(shape, made)

    def __len__(self) -> int:
        return len(self._built)
