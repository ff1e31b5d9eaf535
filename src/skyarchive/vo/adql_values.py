"""What the ADQL translator works with: translated values, the answer's columns, the tables in
scope of a query, and the small helpers on names and parse-tree nodes."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lark import Token, Tree
from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
)

from skyarchive.vo import adql_geometry as geo
from skyarchive.vo.tap_columns import TapColumn, TapTable


@dataclass(frozen=True)
class Value:
    """A translated expression and what the answer's FIELD will say about it."""

    sql: ColumnElement[Any]
    meta: TapColumn
    aggregate: bool = False
    truth: bool = False  # a condition (comparison, AND, ...), not a value
    geometry: geo.Geometry | None = None
    number: float | None = None  # the value of a numeric constant (read it through the plan)
    #: How ``number`` follows from the query's numbers (the shape cache, ``adql_shapes``)
    derive: Callable[[Sequence[int | float]], float | None] | None = None


def column_type(datatype: str, name: str = "", **kw: Any) -> TapColumn:
    if datatype == "char":
        kw.setdefault("arraysize", "*")
    return TapColumn(name, datatype, kw.pop("description", ""), **kw)


DOUBLE = column_type("double")
LONG = column_type("long")
TEXT = column_type("char")
BOOLEAN = column_type("boolean")


def is_number(v: Value) -> bool:
    return v.meta.datatype in ("short", "int", "long", "float", "double") and v.meta.xtype is None


def arithmetic_type(a: Value, b: Value) -> TapColumn:
    integral = {"short", "int", "long"}
    if a.meta.datatype in integral and b.meta.datatype in integral:
        return LONG
    return DOUBLE


@dataclass
class OutputColumn:
    """One column of the answer: its FIELD and how its values are converted on the way out."""

    name: str
    meta: TapColumn


@dataclass
class Translation:
    statement: Select[Any]
    columns: list[OutputColumn]
    limit: int | None  # ADQL TOP


# ------------------------------------------------------------------------------ scopes


@dataclass
class Source:
    """A table in a FROM clause under its name (an alias, or the table's own name)."""

    names: tuple[str, ...]  # lower-case: alias, or name and schema.name
    from_clause: FromClause
    columns: tuple[TapColumn, ...]
    table: TapTable | None = None

    def sql(self, column: TapColumn) -> ColumnElement[Any]:
        return self.from_clause.c[column.name]

    def lookup(self, name: str) -> TapColumn | None:
        key = name.lower()
        return next((c for c in self.columns if c.key == key), None)


@dataclass
class Scope:
    sources: list[Source] = field(default_factory=list)
    parent: Scope | None = None
    #: the select list's names (for ORDER BY / GROUP BY by alias)
    aliases: dict[str, Value] = field(default_factory=dict)

    def all_sources(self) -> list[Source]:
        return self.sources + (self.parent.all_sources() if self.parent else [])


# ------------------------------------------------------------------------------ functions

# ADQL name -> (SQL function, number of arguments); results are doubles

CAST_TYPES = {
    "smallint": ("short", Integer), "integer": ("int", Integer), "int": ("int", Integer),
    "bigint": ("long", Integer), "real": ("float", Float), "double": ("double", Float),
    "char": ("char", String), "varchar": ("char", String),
}  # fmt: skip


def ident_name(node: Tree | Token) -> str:
    """An identifier's name: a regular one as written (matched without case), a delimited
    one without its quotes."""
    assert isinstance(node, Tree)
    token = node.children[0]
    text = str(token)
    if node.data == "delimited_id":
        return text[1:-1].replace('""', '"')
    return text


def chain_names(chain: Tree) -> list[str]:
    return [ident_name(child) for child in chain.children]


def nearest_hint(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1)
    if not close:
        return ""
    original = next(c for c in candidates if c.lower() == close[0])
    return f" Did you mean {original!r}?"


# ------------------------------------------------------------------------------ translator


def keep_type(meta: TapColumn) -> TapColumn:
    """A value derived from a column keeps its type and unit, not its name or description."""
    return replace(meta, name="", description="", ucd=None, utype=None, select_only=False,
                   region=False, conversion=None, principal=False, indexed=False,
                   std=False)  # fmt: skip


def is_call(tree: Any, names: tuple[str, ...]) -> bool:
    return (
        isinstance(tree, Tree)
        and tree.data == "call"
        and ident_name(tree.children[0]).lower() in names
    )
