"""Query shapes: an ADQL query is translated once per *shape*, its text with every numeric
literal abstracted, and later queries of that shape only compute their bound values.

Translating an ADQL cone (parsing, building the SQLAlchemy statement over the 40-column ObsCore
select, SQLAlchemy walking that tree for its cache key) cost three times the database's part of
the answer. A portal or a script asks the same query again and again with other numbers: the
cone's centre and radius, a magnitude limit. So:

* :func:`shape_of` splits a query into its shape (the text with each number replaced by ``#i``
  or ``#f``, an integer or a decimal as written, which types it) and the numbers.
* While translating, every number the statement uses goes through a :class:`ParameterPlan`:
  a number used in SQL becomes a named bound parameter; a number the translator reads in Python
  (``= 1`` after CONTAINS, TOP, a polygon's corners) is *fixed*: another query of the shape
  takes this statement only with the same value there. A cone's centre and radius are neither:
  its centre, haversine limit and cell ranges are bound parameters the plan recomputes from the
  numbers (:meth:`ParameterPlan.bind_cone`), fixed only in the count of ranges.
* A translation whose numbers were not all accounted for (a number the translator read where
  the plan did not see it), or that read the database (a footprint test finds its
  observations while translating), is never reused.

:class:`ShapeCache` keeps the reusable translations (bounded, least recently used first out),
keyed by the shape, the tables and the archive's authority. Nothing about the caller is in a
statement: every caller sees the same rows (``vo/tap.py``), and the moment that decides
``data_rights`` is a parameter given at each execution.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from lark import Token, Tree
from sqlalchemy import BindParameter, bindparam
from sqlalchemy.types import TypeEngine

#: What a bound value or a fixed number follows from: the query's numbers, in text order.
Numbers = Sequence[int | float]
Derive = Callable[[Numbers], Any]

# A number as the grammar's NUMBER reads it; quoted text, delimited names, comments and names
# (which may hold digits) are skipped whole, as the grammar's lexer does.
_TOKENS = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")+"|--[^\n]*|[A-Za-z][A-Za-z0-9_]*)"""
    r"|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
)


@dataclass(frozen=True)
class Shape:
    """A query's text with its numbers abstracted (``key``), the numbers, and where each
    number starts in the text (its index by offset, to match the parse tree's tokens)."""

    key: str
    numbers: tuple[int | float, ...]
    offsets: dict[int, int]


def shape_of(adql: str) -> Shape:
    """The shape of an ADQL text (see the module's docstring)."""
    parts: list[str] = []
    numbers: list[int | float] = []
    offsets: dict[int, int] = {}
    end = 0
    for match in _TOKENS.finditer(adql):
        number = match.group(2)
        if number is None:
            continue
        parts.append(adql[end : match.start()])
        decimal = any(ch in number for ch in ".eE")  # the grammar's rule (v_number)
        parts.append("#f" if decimal else "#i")
        offsets[match.start()] = len(numbers)
        numbers.append(float(number) if decimal else int(number))
        end = match.end()
    parts.append(adql[end:])
    return Shape("".join(parts), tuple(numbers), offsets)


class Mismatch(Exception):
    """These numbers need another statement than the shape's (a fixed number differs, or a
    cone needs another count of cell ranges)."""


def _number(index: int, numbers: Numbers) -> float:
    return float(numbers[index])


@dataclass
class _PendingShape:
    shape: object
    numbers: tuple[float, ...]
    derives: tuple[Derive, ...]
    consumed: bool = False


@dataclass
class ParameterPlan:
    """How a translated statement's bound values follow from its query's numbers, and which
    numbers it was made for (see the module's docstring). ``shape`` is None when the
    translation is not to be reused (bench and tests translate directly)."""

    shape: Shape | None
    reusable: bool = True
    #: (parameter name, index of the number it is) for plain numbers in SQL
    literals: list[tuple[str, int]] = field(default_factory=list)
    #: further producers of parameters, or checks that raise :class:`Mismatch`
    producers: list[Callable[[Numbers], dict[str, Any]]] = field(default_factory=list)
    _accounted: set[int] = field(default_factory=set)
    _shapes: list[_PendingShape] = field(default_factory=list)
    _names: count[int] = field(default_factory=count)

    def __post_init__(self) -> None:
        self.reusable = self.shape is not None

    def _name(self, what: str) -> str:
        return f"adql_{what}_{next(self._names)}"

    def _index(self, token: Token | Tree[Any]) -> int | None:
        index = self._position(token)
        if index is None:
            self.reusable = False
        else:
            self._accounted.add(index)
        return index

    def literal(
        self, token: Token | Tree[Any], value: float, type_: TypeEngine[Any]
    ) -> BindParameter[Any]:
        """A number of the query as a bound parameter, and how it derives from the numbers."""
        name = self._name("n")
        index = self._index(token)
        if index is not None:
            self.literals.append((name, index))
        return bindparam(name, value, type_=type_)

    def _position(self, token: Token | Tree[Any]) -> int | None:
        """The index of the number a parse-tree token is, by where it starts in the text."""
        if self.shape is None or not isinstance(token, Token) or token.start_pos is None:
            return None
        return self.shape.offsets.get(token.start_pos)

    def derive_literal(self, token: Token | Tree[Any]) -> Derive | None:
        index = self._position(token)
        if index is None:
            return None
        return lambda numbers: _number(index, numbers)

    def fix(self, derive: Derive | None, value: Any) -> Any:
        """``value``, read in Python to decide the statement: other numbers must give it too."""
        if derive is None:
            if value is not None:
                self.reusable = False  # a number whose origin is unknown
            return value

        def same(numbers: Numbers) -> dict[str, Any]:
            if derive(numbers) != value:
                raise Mismatch
            return {}

        self.producers.append(same)
        return value

    def fix_token(self, token: Token | Tree[Any]) -> str:
        """A number read from the text itself (TOP, OFFSET, ORDER BY 2), fixed; its text."""
        index = self._index(token)
        if index is not None and self.shape is not None:
            self.fix(lambda numbers: numbers[index], self.shape.numbers[index])
        return str(token)

    def constant_shape(self, shape: object, numbers: Sequence[float],
                       derives: Sequence[Derive | None]) -> None:  # fmt: skip
        """A CIRCLE or POLYGON of constant numbers: whoever uses it fixes it or binds it."""
        if any(d is None for d in derives):
            self.reusable = False
            return
        self._shapes.append(_PendingShape(shape, tuple(numbers), tuple(derives)))  # type: ignore[arg-type]

    def _pending(self, shape: object) -> _PendingShape | None:
        found = next((p for p in self._shapes if p.shape is shape), None)
        if found is not None:
            found.consumed = True
        return found

    def fix_shape(self, shape: object) -> None:
        """A constant shape whose numbers decide the statement (a polygon's edges, a point
        tested in Python): fixed."""
        pending = self._pending(shape)
        if pending is not None:
            for derive, value in zip(pending.derives, pending.numbers, strict=True):
                self.fix(derive, value)

    def bind_cone(
        self,
        shape: object,
        values: dict[str, Any],
        types: Callable[[str], TypeEngine[Any]],
        recompute: Callable[[tuple[float, ...]], dict[str, Any]],
    ) -> dict[str, BindParameter[Any]]:
        """A cone's values (``values``, made by ``recompute`` from the circle's numbers) as
        bound parameters that other queries of the shape recompute; only their keys (the
        count of cell ranges) are fixed."""
        names = {key: self._name(f"cone_{key}") for key in values}
        pending = self._pending(shape)
        if pending is not None:
            derives = pending.derives

            def cone(numbers: Numbers) -> dict[str, Any]:
                again = recompute(tuple(d(numbers) for d in derives))
                if again.keys() != names.keys():
                    raise Mismatch
                return {names[key]: value for key, value in again.items()}

            self.producers.append(cone)
        return {
            key: bindparam(names[key], value, type_=types(key)) for key, value in values.items()
        }

    def no_reuse(self) -> None:
        """The translation depends on more than the numbers (it read the database)."""
        self.reusable = False

    def finish(self) -> None:
        """After translating: reusable only if every number went through the plan."""
        if self.shape is None:
            return
        if self._accounted != set(range(len(self.shape.numbers))):
            self.reusable = False
        if not all(p.consumed for p in self._shapes):
            self.reusable = False

    def values(self, numbers: Numbers) -> dict[str, Any]:
        """The bound values for another query of the shape; :class:`Mismatch` when the
        statement is not for these numbers."""
        out = {name: numbers[index] for name, index in self.literals}
        for produce in self.producers:
            out.update(produce(numbers))
        return out


class ShapeCache:
    """Reusable translations by shape (see the module's docstring): at most ``size``
    statements in all (as many as SQLAlchemy's compiled cache keeps), at most ``variants`` a
    shape (1' cones need 1 to 8 cell ranges); the shape used least recently goes first."""

    def __init__(self, size: int = 512, variants: int = 16) -> None:
        self.size = size
        self.variants = variants
        self._entries: OrderedDict[Hashable, list[Any]] = OrderedDict()
        self._statements = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> list[Any]:
        """The statements kept for a shape (a copy, newest first); empty when none."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return []
            self._entries.move_to_end(key)
            return list(found)

    def put(self, key: Hashable, prepared: Any) -> None:
        with self._lock:
            kept = self._entries.setdefault(key, [])
            self._entries.move_to_end(key)
            kept.insert(0, prepared)
            self._statements += 1
            if len(kept) > self.variants:
                kept.pop()
                self._statements -= 1
            while self._statements > self.size:
                _, dropped = self._entries.popitem(last=False)
                self._statements -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._statements = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
