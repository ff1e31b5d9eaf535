"""ADQL expressions to SQLAlchemy: values, conditions and functions (geometry in
:mod:`skyarchive.vo.adql_geometry_terms`).

:class:`ExpressionTranslator` is the half of the translator that works inside one query's
scope; :class:`skyarchive.vo.adql_sql.Translator` adds the queries themselves (SELECT, FROM,
joins, ordering) and gives subqueries back through :meth:`ExpressionTranslator.query`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lark import Token, Tree
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Numeric,
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
)

from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.vo import adql_geometry as geo
from skyarchive.vo.adql_geometry_terms import GEOMETRY_FUNCTIONS, GeometryTerms
from skyarchive.vo.adql_shapes import Derive, Numbers, ParameterPlan
from skyarchive.vo.adql_values import (
    BOOLEAN,
    CAST_TYPES,
    DOUBLE,
    LONG,
    TEXT,
    Scope,
    Source,
    Translation,
    Value,
    arithmetic_type,
    chain_names,
    column_type,
    ident_name,
    is_number,
    keep_type,
    nearest_hint,
)
from skyarchive.vo.tap_columns import QueryContext, TapColumn, TapTable
from skyarchive.vo.tap_sql import case_sensitive_like

_MATH: dict[str, tuple[str, int]] = {
    "abs": ("abs", 1), "ceiling": ("ceiling", 1), "floor": ("floor", 1), "sqrt": ("sqrt", 1),
    "exp": ("exp", 1), "log": ("ln", 1), "log10": ("log10", 1), "sin": ("sin", 1),
    "cos": ("cos", 1), "tan": ("tan", 1), "asin": ("asin", 1), "acos": ("acos", 1),
    "atan": ("atan", 1), "degrees": ("degrees", 1), "radians": ("radians", 1),
    "power": ("power", 2), "atan2": ("atan2", 2), "mod": ("mod", 2), "pi": ("pi", 0),
    "truncate": ("trunc", 1), "sign": ("sign", 1),
}  # fmt: skip
_AGGREGATES = ("count", "min", "max", "sum", "avg")
_TEXT_FUNCTIONS = ("lower", "upper", "coalesce", "round")
FUNCTIONS = tuple(sorted({*_MATH, *_AGGREGATES, *GEOMETRY_FUNCTIONS, *_TEXT_FUNCTIONS}))


def _arithmetic(
    operation: Callable[[Any, Any], Any], op: str, a: float | None, b: float | None
) -> float | None:
    """The value of a constant expression; None when it has none (a column, division by 0)."""
    if a is None or b is None or (op == "/" and b == 0):
        return None
    return float(operation(a, b))


def _derived(operation: Callable[[float], float], inner: Derive | None) -> Derive | None:
    """How a value made of a constant follows from the query's numbers (see ``adql_shapes``)."""
    if inner is None:
        return None

    def derive(numbers: Numbers) -> float | None:
        value = inner(numbers)
        return None if value is None else operation(value)

    return derive


class ExpressionTranslator(GeometryTerms):
    """Values, conditions and function calls of ADQL, as SQLAlchemy expressions (geometry in
    :class:`~skyarchive.vo.adql_geometry_terms.GeometryTerms`)."""

    tables: list[TapTable]
    context: QueryContext
    conn: Connection
    plan: ParameterPlan

    def query(self, tree: Tree, parent: Scope | None = None) -> Translation:
        raise NotImplementedError  # the query half (adql_sql.Translator) answers subqueries

    # ---- names

    def resolve_source(self, names: list[str], scope: Scope) -> Source:
        wanted = ".".join(names[-2:]).lower()
        for source in scope.all_sources():
            if wanted in source.names:
                return source
        known = [n for s in scope.all_sources() for n in s.names]
        raise UnknownColumn(f"No table {'.'.join(names)!r} in FROM.{nearest_hint(wanted, known)}")

    def resolve_column(self, names: list[str], scope: Scope) -> tuple[Source, TapColumn]:
        name = names[-1]
        if len(names) > 1:
            source = self.resolve_source(names[:-1], scope)
            column = source.lookup(name)
            if column is None:
                raise UnknownColumn(
                    f"Unknown column {name!r} in {'.'.join(names[:-1])}."
                    f"{nearest_hint(name, [c.name for c in source.columns])}"
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
        raise UnknownColumn(f"Unknown column {name!r}.{nearest_hint(name, candidates)}")

    def column_value(self, tree: Tree, scope: Scope, *, region_ok: bool = False) -> Value:
        source, column = self.resolve_column(chain_names(tree.children[0]), scope)
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
        token = tree.children[0]
        text = str(token)
        derive = self.plan.derive_literal(token)
        if any(ch in text for ch in ".eE"):
            number = float(text)
            return Value(self.plan.literal(token, number, Float()), DOUBLE, number=number,
                         derive=derive)  # fmt: skip
        integer = int(text)
        return Value(self.plan.literal(token, integer, Integer()), LONG, number=float(integer),
                     derive=derive)  # fmt: skip

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
        return replace(inner, sql=-inner.sql, number=number, meta=keep_type(inner.meta),
                       derive=_derived(lambda x: -x, inner.derive))  # fmt: skip

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
        number = _arithmetic(ops[op], op, a.number, b.number)
        derive = None
        if a.derive is not None and b.derive is not None:
            da, db = a.derive, b.derive

            def derive(numbers: Numbers) -> float | None:
                return _arithmetic(ops[op], op, da(numbers), db(numbers))

        meta = arithmetic_type(a, b) if op != "/" else arithmetic_type(a, b)
        return Value(
            ops[op](a.sql, b.sql), meta, aggregate=a.aggregate or b.aggregate, number=number,
            derive=derive,
        )  # fmt: skip

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
            or not (is_number(v) or isinstance(v.sql, type(null())))
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
        condition = (
            x.sql.ilike(pattern.sql) if insensitive else case_sensitive_like(x.sql, pattern.sql)
        )
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
        meta = keep_type(metas[0])
        return Value(case(*pairs, else_=otherwise.sql if otherwise else None), meta)

    def v_cast(self, tree: Tree, scope: Scope) -> Value:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        x = self.value(parts[0], scope)
        type_name = ident_name(parts[1]).lower()
        if type_name not in CAST_TYPES:
            raise BadQuery(
                f"CAST to {type_name!r} is not supported; use one of {', '.join(CAST_TYPES)}."
            )
        datatype, sql_type = CAST_TYPES[type_name]
        return Value(cast(x.sql, sql_type), column_type(datatype), aggregate=x.aggregate)

    # functions

    def v_call_star(self, tree: Tree, scope: Scope) -> Value:
        name = ident_name(tree.children[0]).lower()
        if name != "count":
            raise BadQuery(f"{name.upper()}(*) is not a function; COUNT(*) is.")
        return Value(func.count(), LONG, aggregate=True)

    def v_call_distinct(self, tree: Tree, scope: Scope) -> Value:
        name = ident_name(tree.children[0]).lower()
        if name not in _AGGREGATES:
            raise BadQuery(f"DISTINCT inside {name.upper()}() is only for aggregates.")
        x = self.value(tree.children[2], scope)
        return self._aggregate(name, replace(x, sql=x.sql.distinct()))

    def v_call(self, tree: Tree, scope: Scope) -> Value:
        name = ident_name(tree.children[0]).lower()
        arg_trees = tree.children[1:]
        if name in GEOMETRY_FUNCTIONS:
            return self.geometry_call(name, tree, scope)
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
            return Value(func.coalesce(*[a.sql for a in args]), keep_type(args[0].meta))
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
            f"Unknown function {name.upper()!r}."
            + nearest_hint(name, [f.upper() for f in FUNCTIONS])
        )

    def _aggregate(self, name: str, x: Value) -> Value:
        if x.aggregate:
            raise BadQuery("Aggregates cannot be nested.")
        if name == "count":
            return Value(func.count(x.sql), LONG, aggregate=True)
        if name in ("sum", "avg"):
            self._need_number(x, name.upper())
            meta = DOUBLE if name == "avg" else arithmetic_type(x, x)
            sql = getattr(func, name)(x.sql)
            return Value(cast(sql, Float if meta is DOUBLE else Integer), meta, aggregate=True)
        return Value(getattr(func, name)(x.sql), keep_type(x.meta), aggregate=True)
