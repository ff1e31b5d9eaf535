"""ADQL to SQL: the parse tree of :mod:`skyarchive.vo.adql_grammar` becomes a SQLAlchemy
statement, never text, so a user's words reach the database only as bound values.

Only the tables of the TAP service (:mod:`skyarchive.vo.tap_tables`), their described columns
and the functions listed in :data:`FUNCTIONS` (plus geometry and aggregates) exist; any other
name is a :class:`~skyarchive.errors.UnknownColumn` (400) that names the nearest one we have.
Geometry goes through :mod:`skyarchive.vo.adql_geometry` onto the footprint cell index.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    FromClause,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)

from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.vo import adql_geometry as geo
from skyarchive.vo.adql_grammar import GRAMMAR
from skyarchive.vo.tap_columns import QueryContext, TapColumn, TapTable

#: Longest ADQL text taken (a query is a few hundred characters; this is 1,000 lines' worth).
MAX_QUERY_CHARS = 100_000


@cache
def parser() -> Lark:
    """The LALR(1) parser, built once per process."""
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=True)


def parse(adql: str) -> Tree:
    """The parse tree of ``adql``; a syntax error is a 400 that says where and what."""
    if len(adql) > MAX_QUERY_CHARS:
        raise BadQuery(f"The query is {len(adql):,} characters long; at most {MAX_QUERY_CHARS:,}.")
    if not adql.strip():
        raise BadQuery("QUERY is empty: give an ADQL SELECT statement.")
    lalr = parser()
    try:
        return lalr.parse(adql)
    except UnexpectedInput as exc:
        raise BadQuery(_syntax_message(adql, exc)) from exc


def _syntax_message(adql: str, exc: UnexpectedInput) -> str:
    where = f"line {exc.line}, column {exc.column}"
    if isinstance(exc, UnexpectedEOF):
        return "ADQL syntax error: the query ends too early."
    if isinstance(exc, UnexpectedToken):
        got = exc.token.value if exc.token.type != "$END" else "the end of the query"
        if exc.token.type == "$END":
            return "ADQL syntax error: the query ends too early."
        return f"ADQL syntax error at {where}: unexpected {got!r}."
    if isinstance(exc, UnexpectedCharacters):
        return f"ADQL syntax error at {where}: unexpected character {exc.char!r}."
    return f"ADQL syntax error at {where}."


# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class Value:
    """A translated expression and what the answer's FIELD will say about it."""

    sql: ColumnElement[Any]
    meta: TapColumn
    aggregate: bool = False
    truth: bool = False  # a condition (comparison, AND, ...), not a value
    geometry: geo.Geometry | None = None
    number: float | None = None  # the value of a numeric constant


def _meta(datatype: str, name: str = "", **kw: Any) -> TapColumn:
    if datatype == "char":
        kw.setdefault("arraysize", "*")
    return TapColumn(name, datatype, kw.pop("description", ""), **kw)


DOUBLE = _meta("double")
LONG = _meta("long")
TEXT = _meta("char")
BOOLEAN = _meta("boolean")


def _numeric(v: Value) -> bool:
    return v.meta.datatype in ("short", "int", "long", "float", "double") and v.meta.xtype is None


def _arith_meta(a: Value, b: Value) -> TapColumn:
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
_MATH: dict[str, tuple[str, int]] = {
    "abs": ("abs", 1), "ceiling": ("ceiling", 1), "floor": ("floor", 1), "sqrt": ("sqrt", 1),
    "exp": ("exp", 1), "log": ("ln", 1), "log10": ("log10", 1), "sin": ("sin", 1),
    "cos": ("cos", 1), "tan": ("tan", 1), "asin": ("asin", 1), "acos": ("acos", 1),
    "atan": ("atan", 1), "degrees": ("degrees", 1), "radians": ("radians", 1),
    "power": ("power", 2), "atan2": ("atan2", 2), "mod": ("mod", 2), "pi": ("pi", 0),
    "truncate": ("trunc", 1), "sign": ("sign", 1),
}  # fmt: skip
_AGGREGATES = ("count", "min", "max", "sum", "avg")
_GEOMETRY = ("point", "circle", "polygon", "box", "contains", "intersects", "distance",
             "coord1", "coord2", "coordsys", "region", "area", "centroid")  # fmt: skip
_TEXT_FUNCTIONS = ("lower", "upper", "coalesce", "round")
_FRAMES = ("", "ICRS", "ICRS GEOCENTER", "J2000", "GEOCENTER")
FUNCTIONS = tuple(sorted({*_MATH, *_AGGREGATES, *_GEOMETRY, *_TEXT_FUNCTIONS}))

_CAST_TYPES = {
    "smallint": ("short", Integer), "integer": ("int", Integer), "int": ("int", Integer),
    "bigint": ("long", Integer), "real": ("float", Float), "double": ("double", Float),
    "char": ("char", String), "varchar": ("char", String),
}  # fmt: skip


def _ident(node: Tree | Token) -> str:
    """An identifier's name: a regular one as written (matched without case), a delimited
    one without its quotes."""
    assert isinstance(node, Tree)
    token = node.children[0]
    text = str(token)
    if node.data == "delimited_id":
        return text[1:-1].replace('""', '"')
    return text


def _names(chain: Tree) -> list[str]:
    return [_ident(child) for child in chain.children]


def _nearest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1)
    if not close:
        return ""
    original = next(c for c in candidates if c.lower() == close[0])
    return f" Did you mean {original!r}?"


# ------------------------------------------------------------------------------ translator


class Translator:
    """Turns one parsed ADQL query into a SQLAlchemy statement.

    ``tables`` are the tables a query may name; ``conn`` is used only for footprint tests,
    whose exact part runs in Python before the statement (:mod:`adql_geometry`).
    """

    def __init__(self, tables: Sequence[TapTable], context: QueryContext, conn: Connection) -> None:
        self.tables = list(tables)
        self.context = context
        self.conn = conn

    # ---- queries

    def query(self, tree: Tree, parent: Scope | None = None) -> Translation:
        parts = tree.children
        first = self.select_query(parts[0], parent)
        if len(parts) == 1:
            return first
        statement: Any = first.statement
        for i in range(1, len(parts), 2):
            op = parts[i]
            other = self.select_query(parts[i + 1], parent)
            if len(other.columns) != len(first.columns):
                raise BadQuery("The SELECTs joined by UNION/INTERSECT/EXCEPT differ in columns.")
            words = [str(t).upper() for t in op.children]
            if words[0] == "UNION":
                statement = (
                    statement.union_all(other.statement)
                    if "ALL" in words
                    else statement.union(other.statement)
                )
            elif words[0] == "INTERSECT":
                statement = statement.intersect(other.statement)
            else:
                statement = statement.except_(other.statement)
        return Translation(select(statement.subquery()), first.columns, None)

    def select_query(self, tree: Tree, parent: Scope | None) -> Translation:
        parts = {c.data: c for c in tree.children if isinstance(c, Tree)}
        scope = Scope(parent=parent)
        from_clause = self.from_clause(parts["from_clause"], scope)
        select_list = parts.get("select_list", parts.get("select_all"))
        assert select_list is not None
        columns, values = self.select_list(select_list, scope)
        statement = select(*[v.sql.label(c.name) for c, v in zip(columns, values, strict=True)])
        statement = statement.select_from(from_clause)
        if "quantifier" in parts and str(parts["quantifier"].children[0]).upper() == "DISTINCT":
            statement = statement.distinct()
        if "where" in parts:
            condition = self.truth(parts["where"].children[1], scope)
            if condition.aggregate:
                raise BadQuery("An aggregate (COUNT, SUM, ...) cannot be in WHERE; use HAVING.")
            statement = statement.where(condition.sql)
        if "group_by" in parts:
            keys = [self.order_value(e, scope) for e in parts["group_by"].children[2:]]
            statement = statement.group_by(*[k.sql for k in keys])
        if "having" in parts:
            statement = statement.having(self.truth(parts["having"].children[1], scope).sql)
        if "order_by" in parts:
            for item in parts["order_by"].children[2:]:
                value = self.order_value(item.children[0], scope, values)
                descending = len(item.children) > 1 and (
                    str(item.children[1].children[0]).upper() == "DESC"
                )
                statement = statement.order_by(value.sql.desc() if descending else value.sql)
        limit = int(str(parts["top"].children[1])) if "top" in parts else None
        if limit is not None:
            statement = statement.limit(limit)
        if "offset" in parts:
            statement = statement.offset(int(str(parts["offset"].children[1])))
        return Translation(statement, columns, limit)

    # ---- FROM

    def from_clause(self, tree: Tree, scope: Scope) -> FromClause:
        clauses = [self.table_ref(ref, scope) for ref in tree.children[1:]]
        joined = clauses[0]
        for other in clauses[1:]:
            joined = joined.join(other, true())  # a comma is a cross join
        return joined

    def table_ref(self, tree: Tree, scope: Scope) -> FromClause:
        if tree.data in ("table_name", "derived_table"):
            return self.table_primary(tree, scope)
        # table_ref join
        left = self.table_ref(tree.children[0], scope)
        join = tree.children[1]
        return self.join(left, join, scope)

    def table_primary(self, tree: Tree, scope: Scope) -> FromClause:
        if tree.data == "derived_table":
            inner = self.query(tree.children[0], None)
            derived = _ident(tree.children[-1])
            sub = inner.statement.subquery(derived)
            metas = tuple(replace(c.meta, name=c.name) for c in inner.columns)
            scope.sources.append(Source((derived.lower(),), sub, metas))
            return sub
        names = _names(tree.children[0])
        table = self.resolve_table(names)
        alias_nodes = [c for c in tree.children[1:] if isinstance(c, Tree)]
        alias = _ident(alias_nodes[0]) if alias_nodes else None
        sub = table.rows(self.context)
        key: tuple[str, ...]
        if alias is not None:
            key = (alias.lower(),)
            from_clause: FromClause = sub.alias(alias)
        else:
            key = (table.name.lower(), table.qualified_name.lower())
            from_clause = sub.alias(table.name)
        for source in scope.sources:
            if set(source.names) & set(key):
                raise BadQuery(f"The table name {key[0]!r} is used twice; give one an alias.")
        scope.sources.append(Source(key, from_clause, table.columns, table))
        return from_clause

    def resolve_table(self, names: list[str]) -> TapTable:
        if len(names) > 2:
            names = names[-2:]  # a catalog name in front changes nothing here
        wanted = ".".join(names).lower()
        matches = [
            t
            for t in self.tables
            if wanted in (t.qualified_name.lower(), t.name.lower() if len(names) == 1 else "")
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise BadQuery(
                f"Table {'.'.join(names)!r} is ambiguous: "
                + " or ".join(t.qualified_name for t in matches)
                + "."
            )
        known = [t.qualified_name for t in self.tables]
        raise UnknownColumn(
            f"Unknown table {'.'.join(names)!r}.{_nearest('.'.join(names), known)} "
            f"The tables are listed at /vo/tap/tables and in TAP_SCHEMA.tables."
        )

    def join(self, left: FromClause, tree: Tree, scope: Scope) -> FromClause:
        natural = tree.data == "natural_join"
        children = [c for c in tree.children if isinstance(c, Tree)]
        kind = next(
            (c.data for c in children if c.data.endswith("join") or c.data == "join_type"), ""
        )
        right_tree = next(c for c in children if c.data in ("table_name", "derived_table"))
        before = list(scope.sources)
        right = self.table_primary(right_tree, scope)
        new = scope.sources[-1]
        if natural:
            common = [c for c in new.columns if any(s.lookup(c.name) for s in before)]
            condition = and_(true(), *[self._same(before, new, c.name) for c in common])
        else:
            spec = children[-1]
            if spec.data == "join_on":
                condition = self.truth(spec.children[1], scope).sql
            else:
                names = [_ident(c) for c in spec.children[1:] if isinstance(c, Tree)]
                condition = and_(true(), *[self._same(before, new, n) for n in names])
        if kind == "right_join":
            return right.join(left, condition, isouter=True)
        return left.join(right, condition, isouter=kind == "left_join", full=kind == "full_join")

    def _same(self, before: list[Source], new: Source, name: str) -> ColumnElement[bool]:
        left = next((s for s in before if s.lookup(name)), None)
        right_col = new.lookup(name)
        if left is None or right_col is None:
            raise UnknownColumn(f"USING column {name!r} is not in both tables.")
        left_col = left.lookup(name)
        assert left_col is not None
        return left.sql(left_col) == new.sql(right_col)

    # ---- select list

    def select_list(self, tree: Tree, scope: Scope) -> tuple[list[OutputColumn], list[Value]]:
        columns: list[OutputColumn] = []
        values: list[Value] = []
        taken: set[str] = set()

        def add(name: str, value: Value) -> None:
            base, n = name, 1
            while name.lower() in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name.lower())
            columns.append(OutputColumn(name, replace(value.meta, name=name)))
            values.append(value)
            scope.aliases.setdefault(name.lower(), value)

        if tree.data == "select_all":
            for source in scope.sources:
                for column in source.columns:
                    add(column.name, Value(source.sql(column), column))
            return columns, values
        for item in tree.children:
            if item.data == "select_table_all":
                source = self.resolve_source(_names(item.children[0]), scope)
                for column in source.columns:
                    add(column.name, Value(source.sql(column), column))
                continue
            expression = item.children[0]
            alias_nodes = [c for c in item.children[1:] if isinstance(c, Tree)]
            value = self.select_value(expression, scope)
            if alias_nodes:
                name = _ident(alias_nodes[0])
            elif expression.data == "column":
                name = value.meta.name
            else:
                name = self.default_name(expression)
            add(name, value)
        return columns, values

    def default_name(self, expression: Tree) -> str:
        if expression.data in ("call", "call_star", "call_distinct"):
            return _ident(expression.children[0]).lower()
        return "expr"

    def select_value(self, tree: Tree, scope: Scope) -> Value:
        if tree.data == "column":
            source, column = self.resolve_column(_names(tree.children[0]), scope)
            return Value(source.sql(column), column)
        value = self.value(tree, scope)
        if value.truth:
            raise BadQuery("A condition cannot be a column of the answer; use CASE WHEN ...")
        if value.geometry is not None:
            raise BadQuery(
                "A geometry value cannot be a column of the answer; select its coordinates "
                "(COORD1, COORD2) or s_region."
            )
        return value

    def order_value(self, tree: Tree, scope: Scope, values: list[Value] | None = None) -> Value:
        if tree.data == "number" and values is not None:
            position = int(float(str(tree.children[0])))
            if not 1 <= position <= len(values):
                raise BadQuery(f"ORDER BY {position}: the answer has {len(values)} columns.")
            return values[position - 1]
        if tree.data == "column":
            names = _names(tree.children[0])
            if len(names) == 1 and names[0].lower() in scope.aliases:
                in_tables = any(s.lookup(names[0]) for s in scope.sources)
                if not in_tables:
                    return scope.aliases[names[0].lower()]
        return self.value(tree, scope)

    # ---- names

    def resolve_source(self, names: list[str], scope: Scope) -> Source:
        wanted = ".".join(names[-2:]).lower()
        for source in scope.all_sources():
            if wanted in source.names:
                return source
        known = [n for s in scope.all_sources() for n in s.names]
        raise UnknownColumn(f"No table {'.'.join(names)!r} in FROM.{_nearest(wanted, known)}")

    def resolve_column(self, names: list[str], scope: Scope) -> tuple[Source, TapColumn]:
        name = names[-1]
        if len(names) > 1:
            source = self.resolve_source(names[:-1], scope)
            column = source.lookup(name)
            if column is None:
                raise UnknownColumn(
                    f"Unknown column {name!r} in {'.'.join(names[:-1])}."
                    f"{_nearest(name, [c.name for c in source.columns])}"
                )
            return source, column
        level: Scope | None = scope
        while level is not None:
            found = [(s, c) for s in level.sources if (c := s.lookup(name)) is not None]
            if len(found) > 1:
                raise BadQuery(
                    f"Column {name!r} is in more than one table; write it as "
                    f"{found[0][0].names[0]}.{name}."
                )
            if found:
                return found[0]
            level = level.parent
        candidates = [c.name for s in scope.all_sources() for c in s.columns]
        raise UnknownColumn(f"Unknown column {name!r}.{_nearest(name, candidates)}")

    def column_value(self, tree: Tree, scope: Scope, *, region_ok: bool = False) -> Value:
        source, column = self.resolve_column(_names(tree.children[0]), scope)
        if column.select_only:
            raise BadQuery(
                f"{column.name} is made for the answer only; select it, but constrain "
                "obs_publisher_did instead."
            )
        if column.region and not region_ok:
            raise BadQuery(
                f"{column.name} is a footprint: use it with INTERSECTS or CONTAINS "
                "(e.g. INTERSECTS(s_region, CIRCLE(ra, dec, r)) = 1), or select it."
            )
        value = Value(source.sql(column), column)
        if column.region:
            if source.table is None or source.table.obsid_column is None:
                raise BadQuery(f"{column.name} of a subquery cannot be used in geometry.")
            obsid = source.from_clause.c[source.table.obsid_column]
            return replace(value, geometry=geo.RowRegion(obsid))
        return value

    # ---- expressions

    def truth(self, tree: Tree, scope: Scope) -> Value:
        value = self.value(tree, scope)
        if value.truth:
            return value
        raise BadQuery(
            "WHERE, HAVING and ON take a condition (a comparison, LIKE, IN, ...), "
            "not a value; write e.g. CONTAINS(...) = 1."
        )

    def value(self, tree: Tree | Token, scope: Scope) -> Value:
        if isinstance(tree, Token):
            raise BadQuery(f"Unexpected {str(tree)!r}.")
        handler: Callable[[Tree, Scope], Value] | None = getattr(self, f"v_{tree.data}", None)
        if handler is None:
            raise BadQuery(f"ADQL construct {tree.data!r} is not supported.")
        return handler(tree, scope)

    def v_number(self, tree: Tree, scope: Scope) -> Value:
        text = str(tree.children[0])
        if any(ch in text for ch in ".eE"):
            number = float(text)
            return Value(literal(number, Float), DOUBLE, number=number)
        integer = int(text)
        return Value(literal(integer, Integer), LONG, number=float(integer))

    def v_string(self, tree: Tree, scope: Scope) -> Value:
        text = str(tree.children[0])[1:-1].replace("''", "'")
        return Value(literal(text, String), TEXT)

    def v_null(self, tree: Tree, scope: Scope) -> Value:
        return Value(null(), TEXT)

    def v_column(self, tree: Tree, scope: Scope) -> Value:
        return self.column_value(tree, scope)

    def v_neg(self, tree: Tree, scope: Scope) -> Value:
        inner = self.value(tree.children[0], scope)
        self._need_number(inner, "-")
        number = -inner.number if inner.number is not None else None
        return replace(inner, sql=-inner.sql, number=number, meta=_keep_type(inner.meta))

    def v_unary(self, tree: Tree, scope: Scope) -> Value:
        return self.value(tree.children[-1], scope)

    def _binary(self, tree: Tree, scope: Scope, op: str) -> Value:
        a, b = (self.value(c, scope) for c in tree.children)
        self._need_number(a, op)
        self._need_number(b, op)
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda x, y: x + y, "-": lambda x, y: x - y,
            "*": lambda x, y: x * y, "/": lambda x, y: x / y,
        }  # fmt: skip
        number = None
        if a.number is not None and b.number is not None and not (op == "/" and b.number == 0):
            number = ops[op](a.number, b.number)
        meta = _arith_meta(a, b) if op != "/" else _arith_meta(a, b)
        return Value(
            ops[op](a.sql, b.sql), meta, aggregate=a.aggregate or b.aggregate, number=number
        )

    def v_add(self, tree: Tree, scope: Scope) -> Value:
        return self._binary(tree, scope, "+")

    def v_sub(self, tree: Tree, scope: Scope) -> Value:
        return self._binary(tree, scope, "-")

    def v_mul(self, tree: Tree, scope: Scope) -> Value:
        return self._binary(tree, scope, "*")

    def v_div(self, tree: Tree, scope: Scope) -> Value:
        return self._binary(tree, scope, "/")

    def v_concat(self, tree: Tree, scope: Scope) -> Value:
        a, b = (self.value(c, scope) for c in tree.children)
        return Value(
            cast(a.sql, String).concat(cast(b.sql, String)),
            TEXT,
            aggregate=a.aggregate or b.aggregate,
        )

    def _need_number(self, v: Value, op: str) -> None:
        if (
            v.truth
            or v.geometry is not None
            or not (_numeric(v) or isinstance(v.sql, type(null())))
        ):
            raise BadQuery(f"{op!r} takes numbers; {v.meta.name or 'this operand'} is not one.")

    # conditions

    def v_or_(self, tree: Tree, scope: Scope) -> Value:
        a, b = self.truth(tree.children[0], scope), self.truth(tree.children[2], scope)
        return Value(or_(a.sql, b.sql), BOOLEAN, a.aggregate or b.aggregate, truth=True)

    def v_and_(self, tree: Tree, scope: Scope) -> Value:
        a, b = self.truth(tree.children[0], scope), self.truth(tree.children[2], scope)
        return Value(and_(a.sql, b.sql), BOOLEAN, a.aggregate or b.aggregate, truth=True)

    def v_not_(self, tree: Tree, scope: Scope) -> Value:
        a = self.truth(tree.children[1], scope)
        return Value(not_(a.sql), BOOLEAN, a.aggregate, truth=True)

    def v_comparison(self, tree: Tree, scope: Scope) -> Value:
        left_tree, op_token, right_tree = tree.children
        op = "!=" if str(op_token) == "<>" else str(op_token)
        special = self._geometry_comparison(left_tree, op, right_tree, scope)
        if special is not None:
            return special
        a, b = self.value(left_tree, scope), self.value(right_tree, scope)
        for v in (a, b):
            if v.truth or v.geometry is not None:
                raise BadQuery(f"{op!r} compares values, not conditions or shapes.")
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "=": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
            ">": lambda x, y: x > y, "<=": lambda x, y: x <= y, ">=": lambda x, y: x >= y,
        }  # fmt: skip
        return Value(ops[op](a.sql, b.sql), BOOLEAN, a.aggregate or b.aggregate, truth=True)

    def _geometry_comparison(self, left: Tree, op: str, right: Tree, scope: Scope) -> Value | None:
        """``CONTAINS(...) = 1``, ``1 = INTERSECTS(...)``, ``DISTANCE(...) < r``: geometry
        through the index. None when the comparison is not one of these."""
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
        if _is_call(right, ("contains", "intersects", "distance")) and not _is_call(
            left, ("contains", "intersects", "distance")
        ):
            left, right, op = right, left, flipped[op]
        if _is_call(left, ("contains", "intersects")):
            bound = self.value(right, scope)
            if bound.number not in (0.0, 1.0) or op not in ("=", "!="):
                return None
            predicate = self.geometry_predicate(left, scope)
            wanted = (bound.number == 1.0) == (op == "=")
            return Value(predicate if wanted else not_(predicate), BOOLEAN, truth=True)
        if _is_call(left, ("distance",)) and op in ("<", "<="):
            bound = self.value(right, scope)
            if bound.number is None:
                return None
            a, b = self._distance_points(left, scope)
            indexed = geo.within_distance(a, b, bound.number)
            if indexed is None:
                return None
            exact = geo.distance_sql(a, b)
            return Value(
                and_(indexed, exact < bound.sql if op == "<" else exact <= bound.sql),
                BOOLEAN,
                truth=True,
            )
        return None

    def geometry_predicate(self, tree: Tree, scope: Scope) -> ColumnElement[bool]:
        name = _ident(tree.children[0]).lower()
        args = [self.geometry(a, scope) for a in tree.children[1:]]
        if len(args) != 2:
            raise BadQuery(f"{name.upper()} takes two geometries.")
        if name == "contains":
            return geo.contains(args[0], args[1], self.conn)
        return geo.intersects(args[0], args[1], self.conn)

    def _distance_points(self, tree: Tree, scope: Scope) -> tuple[geo.Geometry, geo.Geometry]:
        args = tree.children[1:]
        if len(args) == 4:  # DISTANCE(ra1, dec1, ra2, dec2), ADQL 2.1
            a = self._point_of(self.value(args[0], scope), self.value(args[1], scope), scope)
            b = self._point_of(self.value(args[2], scope), self.value(args[3], scope), scope)
            return a, b
        if len(args) != 2:
            raise BadQuery("DISTANCE takes two POINTs (or four numbers).")
        return self.geometry(args[0], scope), self.geometry(args[1], scope)

    def geometry(self, tree: Tree, scope: Scope) -> geo.Geometry:
        if tree.data == "column":
            value = self.column_value(tree, scope, region_ok=True)
        else:
            value = self.value(tree, scope)
        if value.geometry is None:
            raise BadQuery("A geometry function takes POINT, CIRCLE, POLYGON or s_region here.")
        return value.geometry

    def _point_of(self, ra: Value, dec: Value, scope: Scope) -> geo.Geometry:
        if ra.number is not None and dec.number is not None:
            return geo.point(ra.number, dec.number)
        for v in (ra, dec):
            self._need_number(v, "POINT")
        obsid = self._position_obsid(ra, dec, scope)
        return geo.RowPoint(ra.sql, dec.sql, obsid)

    def _position_obsid(self, ra: Value, dec: Value, scope: Scope) -> ColumnElement[Any] | None:
        """The obsid column when (ra, dec) are an indexed table's own position columns."""
        for source in scope.all_sources():
            table = source.table
            if table is None or table.position_columns is None or table.obsid_column is None:
                continue
            ra_col = source.from_clause.c[table.position_columns[0]]
            dec_col = source.from_clause.c[table.position_columns[1]]
            if ra.sql is ra_col and dec.sql is dec_col:
                return source.from_clause.c[table.obsid_column]
        return None

    def v_between(self, tree: Tree, scope: Scope) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)
        x, lo, hi = (self.value(p, scope) for p in parts)
        condition = x.sql.between(lo.sql, hi.sql)
        return Value(not_(condition) if negated else condition, BOOLEAN, truth=True)

    def _like(self, tree: Tree, scope: Scope, insensitive: bool) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)
        x, pattern = (self.value(p, scope) for p in parts)
        if x.meta.datatype != "char" or pattern.meta.datatype != "char":
            raise BadQuery("LIKE and ILIKE compare text.")
        condition = x.sql.ilike(pattern.sql) if insensitive else x.sql.like(pattern.sql)
        return Value(not_(condition) if negated else condition, BOOLEAN, truth=True)

    def v_like(self, tree: Tree, scope: Scope) -> Value:
        return self._like(tree, scope, insensitive=False)

    def v_ilike(self, tree: Tree, scope: Scope) -> Value:
        return self._like(tree, scope, insensitive=True)

    def v_in_list(self, tree: Tree, scope: Scope) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)
        x = self.value(parts[0], scope)
        items = [self.value(p, scope).sql for p in parts[1:]]
        condition = x.sql.in_(items)
        return Value(not_(condition) if negated else condition, BOOLEAN, truth=True)

    def v_in_query(self, tree: Tree, scope: Scope) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)
        x = self.value(parts[0], scope)
        inner = self.query(parts[1], scope)
        if len(inner.columns) != 1:
            raise BadQuery("IN (SELECT ...) takes a SELECT of one column.")
        condition = x.sql.in_(inner.statement.scalar_subquery())
        return Value(not_(condition) if negated else condition, BOOLEAN, truth=True)

    def v_exists(self, tree: Tree, scope: Scope) -> Value:
        inner = self.query(tree.children[1], scope)
        return Value(exists(inner.statement), BOOLEAN, truth=True)

    def v_scalar_query(self, tree: Tree, scope: Scope) -> Value:
        inner = self.query(tree.children[0], scope)
        if len(inner.columns) != 1:
            raise BadQuery("A subquery used as a value must select one column.")
        return Value(inner.statement.scalar_subquery(), inner.columns[0].meta)

    def v_is_null(self, tree: Tree, scope: Scope) -> Value:
        x = self.value(tree.children[0], scope)
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)
        return Value(x.sql.is_not(None) if negated else x.sql.is_(None), BOOLEAN, truth=True)

    def v_case(self, tree: Tree, scope: Scope) -> Value:
        whens = [c for c in tree.children if isinstance(c, Tree) and c.data == "when"]
        pairs = []
        metas = []
        for when in whens:
            condition = self.truth(when.children[1], scope)
            result = self.value(when.children[3], scope)
            pairs.append((condition.sql, result.sql))
            metas.append(result.meta)
        rest = [c for c in tree.children if isinstance(c, Tree) and c.data != "when"]
        otherwise = self.value(rest[0], scope) if rest else None
        meta = _keep_type(metas[0])
        return Value(case(*pairs, else_=otherwise.sql if otherwise else None), meta)

    def v_cast(self, tree: Tree, scope: Scope) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        x = self.value(parts[0], scope)
        type_name = _ident(parts[1]).lower()
        if type_name not in _CAST_TYPES:
            raise BadQuery(
                f"CAST to {type_name!r} is not supported; use one of {', '.join(_CAST_TYPES)}."
            )
        datatype, sql_type = _CAST_TYPES[type_name]
        return Value(cast(x.sql, sql_type), _meta(datatype), aggregate=x.aggregate)

    # functions

    def v_call_star(self, tree: Tree, scope: Scope) -> Value:
        name = _ident(tree.children[0]).lower()
        if name != "count":
            raise BadQuery(f"{name.upper()}(*) is not a function; COUNT(*) is.")
        return Value(func.count(), LONG, aggregate=True)

    def v_call_distinct(self, tree: Tree, scope: Scope) -> Value:
        name = _ident(tree.children[0]).lower()
        if name not in _AGGREGATES:
            raise BadQuery(f"DISTINCT inside {name.upper()}() is only for aggregates.")
        x = self.value(tree.children[2], scope)
        return self._aggregate(name, replace(x, sql=x.sql.distinct()))

    def v_call(self, tree: Tree, scope: Scope) -> Value:
        name = _ident(tree.children[0]).lower()
        arg_trees = tree.children[1:]
        if name in ("point", "circle", "polygon", "box", "region", "centroid", "area"):
            return self._shape(name, arg_trees, scope)
        if name in ("contains", "intersects"):
            predicate = self.geometry_predicate(tree, scope)
            return Value(case((predicate, 1), else_=0), _meta("int"))
        if name == "distance":
            a, b = self._distance_points(tree, scope)
            return Value(geo.distance_sql(a, b), _meta("double", unit="deg"))
        if name in ("coord1", "coord2"):
            if len(arg_trees) != 1:
                raise BadQuery(f"{name.upper()} takes one POINT.")
            g = self.geometry(arg_trees[0], scope)
            return Value(
                geo.coordinate(g, 1 if name == "coord1" else 2), _meta("double", unit="deg")
            )
        if name == "coordsys":
            return Value(literal("ICRS", String), TEXT)
        args = [self.value(a, scope) for a in arg_trees]
        if name in _AGGREGATES:
            if len(args) != 1:
                raise BadQuery(f"{name.upper()} takes one argument.")
            return self._aggregate(name, args[0])
        if name in ("lower", "upper"):
            if len(args) != 1 or args[0].meta.datatype != "char":
                raise BadQuery(f"{name.upper()} takes one text argument.")
            return Value(getattr(func, name)(args[0].sql), TEXT, aggregate=args[0].aggregate)
        if name == "coalesce":
            if not args:
                raise BadQuery("COALESCE takes at least one argument.")
            return Value(func.coalesce(*[a.sql for a in args]), _keep_type(args[0].meta))
        if name == "round":
            if not 1 <= len(args) <= 2:
                raise BadQuery("ROUND takes a number and, optionally, a number of decimals.")
            self._need_number(args[0], "ROUND")
            digits = args[1].sql if len(args) == 2 else literal(0)
            rounded = func.round(cast(args[0].sql, Numeric), cast(digits, Integer))
            return Value(cast(rounded, Float), DOUBLE, aggregate=args[0].aggregate)
        if name in _MATH:
            sql_name, arity = _MATH[name]
            if len(args) != arity:
                raise BadQuery(f"{name.upper()} takes {arity} argument(s); got {len(args)}.")
            for arg in args:
                self._need_number(arg, name.upper())
            sql_args = [cast(arg.sql, Float) for arg in args]
            return Value(
                getattr(func, sql_name)(*sql_args), DOUBLE, aggregate=any(a.aggregate for a in args)
            )
        raise UnknownColumn(
            f"Unknown function {name.upper()!r}.{_nearest(name, [f.upper() for f in FUNCTIONS])}"
        )

    def _aggregate(self, name: str, x: Value) -> Value:
        if x.aggregate:
            raise BadQuery("Aggregates cannot be nested.")
        if name == "count":
            return Value(func.count(x.sql), LONG, aggregate=True)
        if name in ("sum", "avg"):
            self._need_number(x, name.upper())
            meta = DOUBLE if name == "avg" else _arith_meta(x, x)
            sql = getattr(func, name)(x.sql)
            return Value(cast(sql, Float if meta is DOUBLE else Integer), meta, aggregate=True)
        return Value(getattr(func, name)(x.sql), _keep_type(x.meta), aggregate=True)

    def _shape(self, name: str, arg_trees: list[Any], scope: Scope) -> Value:
        if name in ("region", "centroid", "area"):
            raise BadQuery(f"{name.upper()} is not supported; use POINT, CIRCLE or POLYGON.")
        if name == "box":
            raise BadQuery("BOX is deprecated in ADQL 2.1 and not supported; use POLYGON.")
        values = [self.value(a, scope) for a in arg_trees]
        if values and values[0].meta.datatype == "char" and values[0].geometry is None:
            frame = getattr(values[0].sql, "value", None)
            values = values[1:]  # the optional, deprecated coordinate system
            if not isinstance(frame, str) or frame.strip().upper() not in _FRAMES:
                raise BadQuery(f"Coordinate system {frame!r} is not supported: positions are ICRS.")
        if name == "point":
            if len(values) != 2:
                raise BadQuery("POINT takes two numbers: ra and dec in degrees.")
            return Value(
                null(), _meta("double"), geometry=self._point_of(values[0], values[1], scope)
            )
        numbers = self._flatten_points(values, name)
        if name == "circle":
            if len(numbers) != 3:
                raise BadQuery(
                    "CIRCLE takes ra, dec and a radius in degrees (or a POINT and a radius)."
                )
            return Value(null(), _meta("double"), geometry=geo.circle(*numbers))
        return Value(null(), _meta("double"), geometry=geo.polygon(numbers))

    def _flatten_points(self, values: list[Value], name: str) -> list[float]:
        numbers: list[float] = []
        for v in values:
            if isinstance(v.geometry, geo.ConstPoint):
                numbers += [v.geometry.ra, v.geometry.dec]
            elif v.number is not None:
                numbers.append(v.number)
            else:
                raise BadQuery(
                    f"{name.upper()} takes constant numbers (degrees); columns are not "
                    "supported in a shape."
                )
        return numbers


def _keep_type(meta: TapColumn) -> TapColumn:
    """A value derived from a column keeps its type and unit, not its name or description."""
    return replace(meta, name="", description="", ucd=None, utype=None, select_only=False,
                   region=False, conversion=None, principal=False, indexed=False,
                   std=False)  # fmt: skip


def _is_call(tree: Any, names: tuple[str, ...]) -> bool:
    return (
        isinstance(tree, Tree) and tree.data == "call" and _ident(tree.children[0]).lower() in names
    )


def translate(
    adql: str, *, tables: Sequence[TapTable], context: QueryContext, conn: Connection
) -> Translation:
    """The SQLAlchemy statement and answer columns of one ADQL query.

    Raises
    ------
    BadQuery
        Syntax errors, unsupported constructs, misuse of geometry.
    UnknownColumn
        A table, column or function that does not exist (the message names the nearest).
    """
    return Translator(tables, context, conn).query(parse(adql))


__all__ = ["FUNCTIONS", "OutputColumn", "Translation", "parse", "translate"]
