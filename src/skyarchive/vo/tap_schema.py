"""``TAP_SCHEMA`` (TAP 1.1): the service's description of itself, queryable by ADQL.

Its rows are made from the table descriptions (:mod:`skyarchive.vo.tap_tables`) at query time
as SQL ``VALUES``, so TAP_SCHEMA, the VOSI ``/tables`` document and every answer's FIELDs
come from one source and cannot disagree; nothing of it is stored in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Integer, String, Subquery, column

from skyarchive.vo.tap_columns import QueryContext, TapColumn, TapTable
from skyarchive.vo.tap_sql import constant_rows
from skyarchive.vo.tap_tables import CATALOG_TABLES, KEYS, SCHEMAS


def _text(name: str, description: str, **kw: Any) -> TapColumn:
    return TapColumn(name, "char", description, arraysize="*", std=True, **kw)


def _int(name: str, description: str, **kw: Any) -> TapColumn:
    return TapColumn(name, "int", description, std=True, **kw)


_SCHEMAS_COLUMNS = (
    _text("schema_name", "Schema name", principal=True),
    _text("description", "What the schema holds", principal=True),
    _text("utype", "Data model of the schema"),
    _int("schema_index", "Order of the schema in listings"),
)
_TABLES_COLUMNS = (
    _text("schema_name", "Schema the table belongs to", principal=True),
    _text("table_name", "Qualified table name", principal=True),
    _text("table_type", "table or view", principal=True),
    _text("description", "What the table holds", principal=True),
    _text("utype", "Data model of the table"),
    _int("table_index", "Order of the table in listings"),
)
_COLUMNS_COLUMNS = (
    _text("table_name", "Qualified table name", principal=True),
    _text("column_name", "Column name", principal=True),
    _text("description", "What the column holds", principal=True),
    _text("unit", "Unit (VOUnit)", principal=True),
    _text("ucd", "UCD", principal=True),
    _text("utype", "Data model element"),
    _text("datatype", "VOTable datatype", principal=True),
    _text("arraysize", "VOTable arraysize"),
    _text("xtype", "DALI xtype"),
    _int("size", "Deprecated length of the values (TAP 1.0)"),
    _int("principal", "1 if the column is among the most useful"),
    _int("indexed", "1 if the column is indexed"),
    _int("std", "1 if the column is defined by a standard"),
    _int("column_index", "Order of the column in listings"),
)
_KEYS_COLUMNS = (
    _text("key_id", "Key identifier", principal=True),
    _text("from_table", "Table the key is in", principal=True),
    _text("target_table", "Table the key points to", principal=True),
    _text("description", "What the key means"),
    _text("utype", "Data model of the key"),
)
_KEY_COLUMNS_COLUMNS = (
    _text("key_id", "Key identifier", principal=True),
    _text("from_column", "Column of the key in from_table", principal=True),
    _text("target_column", "Column in target_table", principal=True),
)


def _values(
    name: str, columns: Sequence[TapColumn], rows: Callable[[], list[tuple[Any, ...]]]
) -> Callable[[QueryContext], Subquery]:
    @cache
    def built() -> Subquery:  # the service's description changes only with the code
        sql_columns = [column(c.name, Integer if c.datatype == "int" else String) for c in columns]
        return constant_rows(name, sql_columns, rows())

    def make(_context: QueryContext) -> Subquery:
        return built()

    return make


def _schema_rows() -> list[tuple[Any, ...]]:
    return [(name, text, None, i) for i, (name, text) in enumerate(SCHEMAS)]


def _table_rows() -> list[tuple[Any, ...]]:
    return [
        (t.schema, t.qualified_name, "table", t.description, t.utype, i)
        for i, t in enumerate(all_tables())
    ]


def _column_rows() -> list[tuple[Any, ...]]:
    return [
        (t.qualified_name, c.adql_name, c.description, c.unit, c.ucd, c.utype, c.datatype,
         c.arraysize, c.xtype, None, int(c.principal), int(c.indexed), int(c.std), i)
        for t in all_tables()
        for i, c in enumerate(t.columns)
    ]  # fmt: skip


def _key_rows() -> list[tuple[Any, ...]]:
    return [(key_id, source, target, None, None) for key_id, source, target, _ in KEYS]


def _key_column_rows() -> list[tuple[Any, ...]]:
    return [(key_id, a, b) for key_id, _, _, pairs in KEYS for a, b in pairs]


def _table(name: str, description: str, columns: tuple[TapColumn, ...], rows: Any) -> TapTable:
    return TapTable(
        schema="TAP_SCHEMA",
        name=name,
        description=description,
        columns=columns,
        rows=_values(name, columns, rows),
    )


TAP_SCHEMA_TABLES: tuple[TapTable, ...] = (
    _table("schemas", "The schemas of this service", _SCHEMAS_COLUMNS, _schema_rows),
    _table("tables", "The tables of this service", _TABLES_COLUMNS, _table_rows),
    _table("columns", "The columns of every table", _COLUMNS_COLUMNS, _column_rows),
    _table("keys", "Foreign keys between tables", _KEYS_COLUMNS, _key_rows),
    _table("key_columns", "The columns of each foreign key", _KEY_COLUMNS_COLUMNS,
           _key_column_rows),
)  # fmt: skip


def all_tables() -> Sequence[TapTable]:
    """Every table an ADQL query may name: the catalogue's and TAP_SCHEMA's, which describe
    them all (themselves included), hence this list lives here, above both."""
    return (*CATALOG_TABLES, *TAP_SCHEMA_TABLES)
