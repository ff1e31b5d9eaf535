"""What the TAP service says about a table and its columns: TAP_SCHEMA, VOSI tables and the
VOTable FIELDs of every answer are written from these descriptions, so they always agree.

A :class:`TapTable` also builds its rows as SQL: ``rows(context)`` is a SQLAlchemy subquery
whose columns carry the described names. The ADQL translator selects from it, so a table
is never more than a (flattened) subquery over the catalog's own tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Subquery

#: How a value leaves the database when it is not written as it is read.
#: ``datalink``: a publisher DID becomes its DataLink URL (the base URL is per request);
#: ``stcs``: a stored footprint is written as normalised STC-S (``POLYGON ICRS ra dec ...``).
CONVERSIONS = ("datalink", "stcs")

#: Column names ADQL reserves (SQL-92's words and ADQL's functions) that our tables use;
#: TAP_SCHEMA and /tables give them delimited (``"size"``), as TAP 1.1 asks.
ADQL_RESERVED = frozenset({"size", "date", "time", "timestamp", "value", "level",
                           "position", "user", "year", "zone", "first", "last"})  # fmt: skip


@dataclass(frozen=True)
class TapColumn:
    """One column as TAP_SCHEMA.columns describes it (TAP 1.1: VOTable datatypes)."""

    name: str
    datatype: str  # VOTable: boolean, short, int, long, float, double, char
    description: str
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    arraysize: str | None = None  # "*" for variable-length text and arrays
    xtype: str | None = None  # DALI: timestamp, point, circle, polygon
    principal: bool = False
    indexed: bool = False
    std: bool = False
    #: Only as a bare column of the select list (the value is made at output time).
    select_only: bool = False
    #: A footprint: only in the select list or as an argument of a geometry function.
    region: bool = False
    conversion: str | None = None

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def adql_name(self) -> str:
        """The name as ADQL must write it (delimited when it is a reserved word)."""
        return f'"{self.name}"' if self.key in ADQL_RESERVED else self.name


#: The bound parameter that carries the moment into a statement (``data_rights``): tables
#: are built once per process with it unvalued, and each query gives it when it runs.
NOW_PARAMETER = "tap_now_mjd"


@dataclass(frozen=True)
class QueryContext:
    """What a table's rows depend on besides the catalog: the moment (release dates decide
    ``data_rights``; given at execution, :attr:`parameters`) and the archive's IVOA authority
    (publisher DIDs; part of the statement)."""

    now_mjd: float
    authority: str

    @property
    def parameters(self) -> dict[str, float]:
        """The values a translated statement is executed with."""
        return {NOW_PARAMETER: self.now_mjd}


@dataclass(frozen=True)
class TapTable:
    """A table the TAP service offers (``schema.name``) and how to read its rows."""

    schema: str
    name: str
    description: str
    columns: tuple[TapColumn, ...]
    rows: Callable[[QueryContext], Subquery]
    #: The name of the hidden column holding the observation id a footprint test works on
    #: (observations and ObsCore rows), if the table has positions.
    obsid_column: str | None = None
    #: (ra column, dec column) of the positions the footprint cell index covers.
    position_columns: tuple[str, str] | None = None
    utype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> TapColumn | None:
        key = name.lower()
        return next((c for c in self.columns if c.key == key), None)
