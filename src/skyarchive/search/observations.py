"""Observation searches: criteria and/or a cone, column projection, counts and pages.

Rows come out as dicts keyed by MAST column name, with ``dataRights`` derived from the release
date at the time of the query and, for positional searches, ``distance`` in arcsec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, true

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC
from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search.columns import (
    DISTANCE,
    OBJID1,
    OBSERVATION_COLUMNS,
    ColumnInfo,
    observation_column,
)
from skyarchive.search.cone import Cone, cone_matches
from skyarchive.search.criteria import Criterion, criterion_clause
from skyarchive.search.tokens import SEPARATORS, column_has_tokens, token_match

_ID_CHUNK = 5000


@dataclass
class ObservationQuery:
    criteria: Sequence[Criterion] = ()
    cone: Cone | None = None
    columns: Sequence[str] | None = None  # None: every column
    page: int = 1
    pagesize: int = 50_000
    positional_extras: bool = False  # objID1 as MAST's Filtered.Position adds it


@dataclass
class ResultPage:
    columns: list[ColumnInfo]
    total: int
    page: int
    pagesize: int
    rows: Iterator[dict] = field(default_factory=lambda: iter(()))

    @property
    def pages(self) -> int:
        return -(-self.total // self.pagesize) if self.total else 0


def where_clause(
    criteria: Sequence[Criterion], *, now: float, conn: Connection | None = None
) -> ColumnElement[bool]:
    """SQL for the criteria. With ``conn``, part matching is left out for ``;``-separated
    columns that hold no multi-valued entry, so their indexes serve the query."""
    clauses = [_clause(c, now, conn) for c in criteria if not c.empty]
    return and_(*clauses) if clauses else true()


def _clause(criterion: Criterion, now: float, conn: Connection | None) -> ColumnElement[bool]:
    name = criterion.column.name
    if name == "dataRights":
        release = observations.c.t_obs_release
        wanted = {str(v).upper() for v in criterion.values}
        parts = []
        if PUBLIC in wanted:
            parts.append(release <= now)
        if EXCLUSIVE_ACCESS in wanted:
            parts.append(or_(release > now, release.is_(None)))
        return or_(*parts) if parts else observations.c.obsid.is_(None)
    if name in ("distance",):
        raise BadQuery("Filtering on distance is not supported; give a search radius instead.")
    column = observations.c["objID" if name == "objID1" else name]
    parts = None
    if name in SEPARATORS and (conn is None or column_has_tokens(conn, name)):
        values = [str(v) for v in criterion.values]
        parts = token_match(name, values, criterion.patterns)
    return criterion_clause(criterion, column, parts_match=parts)


def count_observations(
    conn: Connection, *, criteria: Sequence[Criterion] = (), cone: Cone | None = None, now: float
) -> int:
    where = where_clause(criteria, now=now, conn=conn)
    if cone is not None:
        return len(cone_matches(conn, cone, where))
    return int(conn.execute(select(func.count()).select_from(observations).where(where)).scalar())


def search_observations(conn: Connection, query: ObservationQuery, *, now: float) -> ResultPage:
    """One page of matching observations (rows are produced lazily while ``conn`` is open)."""
    if query.page < 1 or query.pagesize < 1:
        raise BadQuery(f"page ({query.page}) and pagesize ({query.pagesize}) must be >= 1.")
    columns = _projection(query)
    where = where_clause(query.criteria, now=now, conn=conn)
    offset = (query.page - 1) * query.pagesize
    if query.cone is not None:
        matches = cone_matches(conn, query.cone, where)
        window = matches[offset : offset + query.pagesize]
        rows = _rows_by_id(conn, columns, window, now)
        return ResultPage(columns, len(matches), query.page, query.pagesize, rows)
    total = int(conn.execute(select(func.count()).select_from(observations).where(where)).scalar())
    sql = (
        select(*_select_columns(columns))
        .where(where)
        .order_by(observations.c.obsid)
        .offset(offset)
        .limit(query.pagesize)
    )
    build = _RowBuilder(columns, now)
    rows = (build(r, None) for r in conn.execution_options(yield_per=2000).execute(sql).tuples())
    return ResultPage(columns, total, query.page, query.pagesize, rows)


def _projection(query: ObservationQuery) -> list[ColumnInfo]:
    extras = ([OBJID1] if query.positional_extras else []) + ([DISTANCE] if query.cone else [])
    if query.columns is None:
        return [*OBSERVATION_COLUMNS, *extras]
    chosen = [observation_column(name) for name in query.columns]
    if DISTANCE in chosen and query.cone is None:
        raise BadQuery("Column 'distance' needs a search position.")
    return list(dict.fromkeys(chosen))


def _select_names(columns: Sequence[ColumnInfo]) -> list[str]:
    """Table columns to read, in the answer's order (derived ones read what they derive from),
    then obsid and t_obs_release when the answer does not already hold them."""
    source = {"dataRights": "t_obs_release", "objID1": "objID", "distance": "obsid"}
    names = [source.get(c.name, c.name) for c in columns]
    return names + [n for n in ("obsid", "t_obs_release") if n not in names]


def _select_columns(columns: Sequence[ColumnInfo]) -> list:
    # Positional labels: a column read twice (obsid for distance) must stay two columns.
    return [observations.c[n].label(f"c{i}") for i, n in enumerate(_select_names(columns))]


def _rows_by_id(
    conn: Connection, columns: list[ColumnInfo], window: list[tuple[int, float]], now: float
) -> Iterator[dict]:
    distance = dict(window)
    ids = [obsid for obsid, _ in window]
    build = _RowBuilder(columns, now)
    key = _select_names(columns).index("obsid")
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        fetched = {
            r[key]: r
            for r in conn.execute(
                select(*_select_columns(columns)).where(observations.c.obsid.in_(chunk))
            ).tuples()
        }
        for obsid in chunk:
            if obsid in fetched:
                yield build(fetched[obsid], distance[obsid])


class _RowBuilder:
    """Turns a selected row (a tuple in the answer's column order) into the MAST row dict.

    This runs once per result row: the dict is made by one ``zip`` and the few derived values
    (dataRights, distance, ids as text) are patched in afterwards.
    """

    def __init__(self, columns: Sequence[ColumnInfo], now: float) -> None:
        self.now = now
        self.names = [c.name for c in columns]
        names = _select_names(columns)
        self.width = len(self.names)
        self.release = names.index("t_obs_release")
        self.ids = [(c.name, i) for i, c in enumerate(columns)
                    if c.name in ("obsid", "objID", "objID1")]  # fmt: skip
        self.rights = "dataRights" in self.names
        self.distance = "distance" in self.names

    def __call__(self, values, distance: float | None) -> dict:  # type: ignore[no-untyped-def]
        row = dict(zip(self.names, values[: self.width], strict=True))
        for name, i in self.ids:
            row[name] = None if values[i] is None else str(values[i])
        if self.rights:
            release = values[self.release]
            row["dataRights"] = (
                PUBLIC if release is not None and self.now >= release else EXCLUSIVE_ACCESS
            )
        if self.distance:
            row["distance"] = distance
        return row
