"""ADQL to SQL: the parse tree of :mod:`skyarchive.vo.adql_grammar` becomes a SQLAlchemy
statement, never text, so a user's words reach the database only as bound values.

Only the tables of the TAP service (:mod:`skyarchive.vo.tap_tables`), their described columns
and the functions listed in :data:`FUNCTIONS` (plus geometry and aggregates) exist; any other
name is a :class:`~skyarchive.errors.UnknownColumn` (400) that names the nearest one we have.
Geometry goes through :mod:`skyarchive.vo.adql_geometry` onto the footprint cell index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from lark import Tree
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    and_,
    select,
    true,
)

from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.vo.adql_expressions import FUNCTIONS, ExpressionTranslator
from skyarchive.vo.adql_grammar import parse
from skyarchive.vo.adql_shapes import ParameterPlan
from skyarchive.vo.adql_values import (
    OutputColumn,
    Scope,
    Source,
    Translation,
    Value,
    chain_names,
    ident_name,
    nearest_hint,
)
from skyarchive.vo.tap_columns import QueryContext, TapTable


class Translator(ExpressionTranslator):
    """Turns one parsed ADQL query into a SQLAlchemy statement.

    ``tables`` are the tables a query may name; ``conn`` is used only for footprint tests,
    whose exact part runs in Python before the statement (:mod:`adql_geometry`).
    """

    def __init__(
        self,
        tables: Sequence[TapTable],
        context: QueryContext,
        conn: Connection,
        plan: ParameterPlan | None = None,
    ) -> None:
        self.tables = list(tables)
        self.context = context
        self.conn = conn
        self.plan = plan if plan is not None else ParameterPlan(None)

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
        limit = int(self.plan.fix_token(parts["top"].children[1])) if "top" in parts else None
        if limit is not None:
            statement = statement.limit(limit)
        if "offset" in parts:
            statement = statement.offset(int(self.plan.fix_token(parts["offset"].children[1])))
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
            derived = ident_name(tree.children[-1])
            sub = inner.statement.subquery(derived)
            metas = tuple(replace(c.meta, name=c.name) for c in inner.columns)
            scope.sources.append(Source((derived.lower(),), sub, metas))
            return sub
        names = chain_names(tree.children[0])
        table = self.resolve_table(names)
        alias_nodes = [c for c in tree.children[1:] if isinstance(c, Tree)]
        alias = ident_name(alias_nodes[0]) if alias_nodes else None
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
            f"Unknown table {'.'.join(names)!r}.{nearest_hint('.'.join(names), known)} "
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
                names = [ident_name(c) for c in spec.children[1:] if isinstance(c, Tree)]
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
                source = self.resolve_source(chain_names(item.children[0]), scope)
                for column in source.columns:
                    add(column.name, Value(source.sql(column), column))
                continue
            expression = item.children[0]
            alias_nodes = [c for c in item.children[1:] if isinstance(c, Tree)]
            value = self.select_value(expression, scope)
            if alias_nodes:
                name = ident_name(alias_nodes[0])
            elif expression.data == "column":
                name = value.meta.name
            else:
                name = self.default_name(expression)
            add(name, value)
        return columns, values

    def default_name(self, expression: Tree) -> str:
        if expression.data in ("call", "call_star", "call_distinct"):
            return ident_name(expression.children[0]).lower()
        return "expr"

    def select_value(self, tree: Tree, scope: Scope) -> Value:
        if tree.data == "column":
            source, column = self.resolve_column(chain_names(tree.children[0]), scope)
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
            position = int(float(self.plan.fix_token(tree.children[0])))
            if not 1 <= position <= len(values):
                raise BadQuery(f"ORDER BY {position}: the answer has {len(values)} columns.")
            return values[position - 1]
        if tree.data == "column":
            names = chain_names(tree.children[0])
            if len(names) == 1 and names[0].lower() in scope.aliases:
                in_tables = any(s.lookup(names[0]) for s in scope.sources)
                if not in_tables:
                    return scope.aliases[names[0].lower()]
        return self.value(tree, scope)

    # ---- names


def translate(
    adql: str,
    *,
    tables: Sequence[TapTable],
    context: QueryContext,
    conn: Connection,
    plan: ParameterPlan | None = None,
) -> Translation:
    """The SQLAlchemy statement and answer columns of one ADQL query; ``plan``, when given (with
    the query's :func:`~skyarchive.vo.adql_shapes.shape_of`), learns how the statement's bound
    values follow from the query's numbers and whether the statement may serve its shape.

    Raises
    ------
    BadQuery
        Syntax errors, unsupported constructs, misuse of geometry.
    UnknownColumn
        A table, column or function that does not exist (the message names the nearest).
    """
    translator = Translator(tables, context, conn, plan)
    translation = translator.query(parse(adql))
    translator.plan.finish()
    return translation


__all__ = ["FUNCTIONS", "OutputColumn", "Translation", "parse", "translate"]
