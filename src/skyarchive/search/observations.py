"""Observation searches: criteria and/or a cone, column projection, counts and pages.

Rows come out as dicts keyed by MAST column name (or, with ``as_json``, as JSON objects
rendered by the database), with ``dataRights`` derived from the release date at the time of
the query and, for positional searches, ``distance`` in arcsec.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    union,
)

from skyarchive.access.rights import (
    EXCLUSIVE_ACCESS,
    PUBLIC,
    data_rights,
    released_clause,
)
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.id_lists import in_ids
from skyarchive.db.streaming import stream_rows
from skyarchive.db.tables import (
    STORED_JSON_HEAD,
    STORED_JSON_TAIL,
    observation_json,
    observations,
)
from skyarchive.errors import BadQuery
from skyarchive.kept import Kept
from skyarchive.search.columns import (
    DISTANCE,
    OBJID1,
    OBSERVATION_COLUMNS,
    ColumnInfo,
    observation_column,
)
from skyarchive.search.cone import Cone, cone_matches, cone_rows
from skyarchive.search.criteria import (
    FLAG,
    FOLDED,
    VALUE_TYPES,
    Criterion,
    criterion_shape,
)
from skyarchive.search.criteria_shapes import ShapedCriteria, criteria_shape
from skyarchive.search.paging import total_from_page
from skyarchive.search.row_json import Prebuilt, as_text, json_boolean, json_object
from skyarchive.search.tokens import SEPARATORS, asked_once

_ID_CHUNK = 5000


@dataclass
class ObservationQuery:
    criteria: Sequence[Criterion] = ()
    cone: Cone | None = None
    columns: Sequence[str] | None = None  # None: every column
    page: int = 1
    pagesize: int = 50_000
    positional_extras: bool = False  # objID1 as MAST's Filtered.Position adds it
    obsids: Select | None = None  # only the observations this subquery of obsids selects
    sort: str | None = None  # a column name: rows in its order (then by obsid); None: obsid
    descending: bool = False


class _CountedRows:
    """Rows of a page, counting what has been taken, so the total can often be inferred."""

    def __init__(self, rows: Iterable) -> None:
        self._rows = iter(rows)
        self.taken = 0
        self.exhausted = False

    def __iter__(self) -> _CountedRows:
        return self

    def __next__(self):  # type: ignore[no-untyped-def]
        try:
            row = next(self._rows)
        except StopIteration:
            self.exhausted = True
            raise
        self.taken += 1
        return row


@dataclass
class ResultPage:
    """One page of a search. ``total`` is known up front for cones; otherwise it is inferred
    from a page that was read to its end and not full, and counted only when it must be."""

    columns: Sequence[ColumnInfo]
    page: int
    pagesize: int
    rows: Iterable = field(default_factory=lambda: iter(()))
    known_total: int | None = None
    counter: Callable[[], int] | None = None
    #: With a cone: the obsid of every observation it matched (on any page), so a caller that
    #: needs them too (the portal's facet counts) does not match the cone again.
    matched: list[int] | None = None
    #: With a cone whose rows were all read at once, carrying columns (``carrying``): each
    #: matched observation's row, as read (its carried columns where :func:`carried_index`
    #: says), and its distance, in ``matched``'s order, so a caller that needs those columns
    #: does not read them again.
    held: list[tuple[Sequence[Any], float]] | None = None

    def __post_init__(self) -> None:
        if self.known_total is None:  # counted only where the total may be inferred from them
            self.rows = _CountedRows(self.rows)

    @property
    def total(self) -> int:
        if self.known_total is None:
            rows: _CountedRows = self.rows  # type: ignore[assignment]
            known = (
                total_from_page(self.page, self.pagesize, rows.taken) if rows.exhausted else None
            )
            if known is None:
                known = self.counter() if self.counter else rows.taken
            self.known_total = known
        return self.known_total

    @property
    def pages(self) -> int:
        return -(-self.total // self.pagesize) if self.total else 0


def where_clause(
    criteria: Sequence[Criterion], *, now: float, has_tokens: Callable[[str], bool]
) -> ColumnElement[bool]:
    """SQL for the criteria with their values written in, for a statement built per search:
    the clause of their shape (:mod:`~skyarchive.search.criteria_shapes`, the one builder),
    whatever the number of values. ``has_tokens`` (:func:`~skyarchive.search.tokens.asked_once`)
    tells which ``;``-separated columns hold a multi-valued entry: part matching is left out
    for the others, so their indexes serve the query."""
    return criteria_shape(criteria, now=now, has_tokens=has_tokens).written


#: The count of each shape of criteria (:class:`ShapedCriteria`), read on the driver's cursor.
_COUNTS: Kept[DriverRows] = Kept(256)


def _kept_count(conn: Connection, shaped: ShapedCriteria) -> int:
    def build() -> DriverRows:
        matching = select(func.count().label("matched")).select_from(observations)
        return DriverRows(matching.where(shaped.where))

    return int(_COUNTS.get(shaped.shape, build).all(conn, shaped.params)[0][0])


def cone_matches_under(
    conn: Connection, cone: Cone, shaped: ShapedCriteria
) -> list[tuple[int, float]]:
    """:func:`~skyarchive.search.cone.cone_matches` of the observations criteria of shape
    ``shaped`` match: the cone's statement kept per shape with the values bound (built per
    search, the clause cost more than the cone's own SQL), or, for criteria too long to
    keep, with their values written in."""
    if not shaped.shape:
        return cone_matches(conn, cone)
    if shaped.kept:
        return cone_matches(conn, cone, shaped.where, where_shape=shaped.shape,
                            params=shaped.params)  # fmt: skip
    return cone_matches(conn, cone, shaped.written)


def _within(where: ColumnElement[bool], obsids: Select | None) -> ColumnElement[bool]:
    return where if obsids is None else and_(where, observations.c.obsid.in_(obsids))


def count_observations(
    conn: Connection,
    *,
    criteria: Sequence[Criterion] = (),
    cone: Cone | None = None,
    obsids: Select | None = None,
    now: float,
    has_tokens: Callable[[str], bool] | None = None,
) -> int:
    """How many observations match. ``has_tokens``: the search's
    :func:`~skyarchive.search.tokens.asked_once`, when it has one already."""
    has_tokens = asked_once(conn) if has_tokens is None else has_tokens
    shaped = criteria_shape(criteria, now=now, has_tokens=has_tokens)
    if cone is None and obsids is None and shaped.kept:
        return _kept_count(conn, shaped)
    if cone is not None and obsids is None:
        return len(cone_matches_under(conn, cone, shaped))
    where = _within(shaped.written, obsids)
    if cone is not None:
        return len(cone_matches(conn, cone, where))
    query = select(func.count()).select_from(observations).where(where)
    return int(conn.execute(query).scalar_one())


def search_observations(
    conn: Connection,
    query: ObservationQuery,
    *,
    now: float,
    as_json: bool = False,
    carrying: tuple[str, ...] = (),
    has_tokens: Callable[[str], bool] | None = None,
) -> ResultPage:
    """One page of matching observations (rows are produced lazily while ``conn`` is open).

    With ``as_json`` each row is a JSON object as text, rendered by the database (stored by
    it, for the default columns); with ``carrying`` too, each row is ``(text, values)``,
    ``values`` holding the table columns ``carrying`` names where :func:`carried_index` says
    (the portal: what its caller's ``mayRetrieve`` and a cone's facet counts read).
    ``has_tokens``: the search's :func:`~skyarchive.search.tokens.asked_once`, when the caller
    has one already (its counts ask it too).
    """
    if query.page < 1 or query.pagesize < 1:
        raise BadQuery(f"page ({query.page}) and pagesize ({query.pagesize}) must be >= 1.")
    columns = _projection(query)
    offset = (query.page - 1) * query.pagesize
    shape: _DictRows | _JsonRows
    if not as_json:
        shape = _DictRows(columns, now)
    elif carrying:
        shape = _CarryingJsonRows(columns, conn.dialect.name, carrying)
    else:
        shape = _JsonRows(columns, conn.dialect.name)
    params = {"now": now} if as_json else {}
    sort = _sort_column(query)

    def count(where: ColumnElement[bool]) -> int:
        return int(
            conn.execute(select(func.count()).select_from(observations).where(where)).scalar_one()
        )

    has_tokens = asked_once(conn) if has_tokens is None else has_tokens
    by_value = _page_by_value(query, offset, now=now, has_tokens=has_tokens)
    if by_value is not None:
        # the statement is kept per shape (_page_by_value): the criteria's clause is built
        # only if the total has to be counted
        statement, values = by_value
        page_rows = _rows_by_value(
            conn, shape.name, shape.selected, statement, {**params, **values}, kept=bool(values)
        )
        return ResultPage(
            columns, query.page, query.pagesize, (shape.make(row, None) for row in page_rows),
            counter=lambda: count_observations(
                conn, criteria=query.criteria, now=now, has_tokens=has_tokens
            ),
        )  # fmt: skip
    shaped = criteria_shape(query.criteria, now=now, has_tokens=has_tokens)
    if query.cone is None and query.obsids is None and shaped.kept:
        # the statements are kept per shape: nothing built, read on the driver's cursor
        counter = functools.partial(_kept_count, conn, shaped)
        if sort is None:
            first, rest = _page_rows(
                conn, shape.selected, shaped.where, shape.key, offset, query.pagesize,
                {**params, **shaped.params}, kept=(shape.name, shaped.shape),
            )  # fmt: skip
            return _page_read(columns, query, shape, first, rest, counter)
        else:
            walk_index = not any(not c.empty for c in query.criteria)
            key = (conn.dialect.name, shaped.shape, sort, query.descending, walk_index)
            reading = _SORTED_IDS.get(key, lambda: DriverRows(_sorted_ids(
                shaped.where, sort, query.descending, walk_index=walk_index
            )))  # fmt: skip
            paging = {"page_offset": offset, "page_size": query.pagesize}
            ids = [found[0] for found in reading.tuples(conn, {**shaped.params, **paging})]
            kept_rows = _rows_in_order(conn, shape, ids, params)
        return ResultPage(
            columns, query.page, query.pagesize, (shape.make(row, None) for row in kept_rows),
            counter=counter,
        )  # fmt: skip
    if query.cone is not None and sort is None:
        # The rows come with the candidates, in one query, unless there are very many.
        if not query.criteria and query.obsids is None:
            touching = cone_rows(conn, query.cone, shape.selected, shape=shape.name,
                                 params=params)  # fmt: skip
        elif query.obsids is None and shaped.kept:
            # the criteria's clause of their shape with their values bound: the statement is
            # kept per shape (built per search, it cost more than the cone's own SQL)
            touching = cone_rows(conn, query.cone, shape.selected,
                                 shape=(shape.name, shaped.shape), where=shaped.where,
                                 where_kept=True, params={**params, **shaped.params})  # fmt: skip
        else:
            where = _within(shaped.written, query.obsids)
            touching = cone_rows(conn, query.cone, shape.selected, shape=shape.name,
                                 params=params, where=where)  # fmt: skip
        if touching is not None:
            # All held already: made at once, without a generator's step per row.
            held = touching[offset : offset + query.pagesize]
            rows: Iterator = iter([shape.make(row, distance) for row, distance in held])
            return ResultPage(columns, query.page, query.pagesize, rows, known_total=len(touching),
                              matched=[row[shape.key] for row, _ in touching],
                              held=touching if shape.holds_columns else None)  # fmt: skip
    where = _within(shaped.written, query.obsids)
    if query.cone is not None:
        matches = cone_matches(conn, query.cone, where)
        if sort is not None:
            matches = _sorted_matches(conn, matches, sort, query.descending)
        window = matches[offset : offset + query.pagesize]
        found = _rows_by_id(conn, shape, window, params)
        rows = (shape.make(row, distance) for row, distance in found)
        return ResultPage(columns, query.page, query.pagesize, rows, known_total=len(matches),
                          matched=[obsid for obsid, _ in matches])  # fmt: skip

    if sort is None:
        first, rest = _page_rows(
            conn, shape.selected, where, shape.key, offset, query.pagesize, params
        )
        return _page_read(columns, query, shape, first, rest, lambda: count(where))
    # the page's obsids first, then their rows (_sorted_ids)
    narrowed = query.obsids is not None or any(not c.empty for c in query.criteria)
    page_ids = _sorted_ids(where, sort, query.descending, walk_index=not narrowed)
    paging = {"page_offset": offset, "page_size": query.pagesize}
    found_rows = _rows_in_order(conn, shape, conn.execute(page_ids, paging).scalars().all(),
                                params)  # fmt: skip
    rows = (shape.make(row, None) for row in found_rows)
    return ResultPage(columns, query.page, query.pagesize, rows, counter=lambda: count(where))


def _page_read(
    columns: Sequence[ColumnInfo],
    query: ObservationQuery,
    shape: _DictRows | _JsonRows,
    first: Sequence[Sequence],
    rest: Iterator[Sequence] | None,
    counter: Callable[[], int],
) -> ResultPage:
    """The page of :func:`_page_rows`' rows. When its first query read it all, its rows are
    made at once, without a generator's step per row, and a page that is not full tells the
    total; else the rest is read while the page is written."""
    if rest is not None:
        rows = (shape.make(row, None) for row in chain(first, rest))
        return ResultPage(columns, query.page, query.pagesize, rows, counter=counter)
    made = [shape.make(row, None) for row in first]
    total = total_from_page(query.page, query.pagesize, len(first))
    return ResultPage(columns, query.page, query.pagesize, made, known_total=total,
                      counter=counter)  # fmt: skip


#: Keys read per step of :func:`every_observation`, and rows read per query of them.
EVERY_KEYS = 50_000
EVERY_ROWS = 5_000


def every_observation(
    conn: Connection,
    criteria: Sequence[Criterion],
    *,
    now: float,
    columns: Sequence[str] | None = None,
    keys: int = EVERY_KEYS,
    batch: int = EVERY_ROWS,
) -> Iterator[dict]:
    """Every observation the criteria match, in obsid order, as the portal's rows (exports).

    Keyset pagination over obsid: ``keys`` obsids after the last one read (narrow, from the
    criteria's index), then their rows ``batch`` at a time by primary key. Pages by OFFSET
    re-read every skipped row (quadratic in the result), and one query of every wide row holds
    a long read open (on PostgreSQL a server-side cursor of 200,000 rows); this reads each row
    once, and memory holds at most ``keys`` integers and ``batch`` rows."""
    search = ObservationQuery(criteria=list(criteria), columns=columns)
    shape = _DictRows(_projection(search), now)
    where = where_clause(criteria, now=now, has_tokens=asked_once(conn))
    obsid = observations.c.obsid
    last: int | None = None
    while True:
        step = select(obsid).where(where if last is None else and_(where, obsid > last))
        ids = conn.execute(step.order_by(obsid).limit(keys)).scalars().all()
        for start in range(0, len(ids), batch):
            part = ids[start : start + batch]
            picked = select(*shape.selected).where(obsid.in_(part)).order_by(obsid)
            for row in conn.execute(picked):
                yield shape.make(row, None)
        if len(ids) < keys:
            return
        last = ids[-1]


def _sort_column(query: ObservationQuery) -> str | None:
    """The table column a query sorts by (``dataRights`` by its release date); None when the
    default order (nearest first for cones, else obsid) applies.

    Raises
    ------
    UnknownColumn
        For a column the archive does not have (with the nearest name).
    BadQuery
        For ``distance`` without a search position.
    """
    if query.sort is None or query.sort == "":
        return None
    name = observation_column(query.sort).name
    if name == "distance":
        if query.cone is None:
            raise BadQuery("Sorting by distance needs a search position.")
        return None if not query.descending else "distance"
    return {"dataRights": "t_obs_release", "objID1": "objID"}.get(name, name)


def _sort_order(name: str, descending: bool, *, walk_index: bool) -> list[ColumnElement]:
    """The rows' order by column ``name``. Unless ``walk_index``, the column is sorted as an
    expression no index holds, so the planner finds the rows through the criteria and sorts
    them (the cost bounded by the result) rather than walking the column's own index in
    order testing every row: a search by program sorted by start time or observation ID
    walked 800,000 entries before its first match (1-2 s at 10^6) when its programs' values
    lay at the far end, as a program's observations do in time."""
    column: ColumnElement = observations.c[name]
    if not walk_index:
        column = func.coalesce(column, None)
    first = column.desc() if descending else column.asc()
    # NULLs last both ways, as the portal's grid always showed them; obsid makes pages stable.
    return [first.nulls_last(), observations.c.obsid]


def _sorted_matches(
    conn: Connection, matches: list[tuple[int, float]], name: str, descending: bool
) -> list[tuple[int, float]]:
    """A cone's matches in the order of column ``name`` (``distance``: farthest first)."""
    if name == "distance":
        return sorted(matches, key=lambda m: (-m[1], m[0]))
    values: dict[int, object] = {}
    ids = [obsid for obsid, _ in matches]
    dialect = conn.dialect.name
    query = _BY_ID.get(
        ("sorted by", name, dialect),
        lambda: _by_id([observations.c.obsid, observations.c[name]], dialect),
    )
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        values.update((obsid, value) for obsid, value in query.tuples(conn, {"ids": chunk}))
    present = [m for m in matches if values.get(m[0]) is not None]
    missing = [m for m in matches if values.get(m[0]) is None]
    present.sort(key=lambda m: m[0])
    present.sort(key=lambda m: values[m[0]], reverse=descending)  # type: ignore[arg-type,return-value]
    return present + missing


class _DictRows:
    """Rows as dicts built in Python (exports, SCS, an observation's details): the answer's
    columns, then obsid."""

    #: Whether a cone's page keeps the rows it read (:attr:`ResultPage.held`): only where a
    #: caller reads their columns again.
    holds_columns = False

    def __init__(self, columns: Sequence[ColumnInfo], now: float) -> None:
        self.name = ("dict row", tuple(c.name for c in columns))
        self.selected = _select_columns(columns)
        self.key = _select_names(columns).index("obsid")
        self.make = _RowBuilder(columns, now)


class _JsonRows:
    """Rows as JSON text written by the database (the MAST API); distance added here."""

    holds_columns = False  # a row read holds its text and obsid only (_DictRows)

    def __init__(self, columns: Sequence[ColumnInfo], dialect: str) -> None:
        names = tuple([c.name for c in columns])
        self.name: tuple[Hashable, ...] = ("json row", names, dialect)
        self.selected = [_json_row_of_names(names, dialect), observations.c.obsid]
        self.key = 1
        # By name: ``DISTANCE in columns`` compared each column's dataclass field by field
        # (6 us of a criteria search's 0.23 ms in process).
        self._with_distance = DISTANCE.name in names

    def make(self, row: Sequence, distance: float | None) -> str:
        return _add_distance(row[0], distance) if self._with_distance else row[0]


class _CarryingJsonRows(_JsonRows):
    """JSON rows with table columns read beside each (the portal): rows are
    ``(text, values)``."""

    holds_columns = True  # the columns it carries (carried_index), for a cone's facet counts

    def __init__(self, columns: Sequence[ColumnInfo], dialect: str, carrying: tuple[str, ...]):
        super().__init__(columns, dialect)
        self.name = (*self.name, carrying)
        self.selected = [*self.selected, *_carried_columns(carrying)]

    def make(self, row: Sequence, distance: float | None) -> tuple[str, Sequence]:  # type: ignore[override]
        return super().make(row, distance), row


@functools.lru_cache(maxsize=16)
def _carried_columns(names: tuple[str, ...]) -> list:
    return [observations.c[n].label(f"k{i}") for i, n in enumerate(names)]


@functools.lru_cache(maxsize=16)
def carried_index(carrying: tuple[str, ...]) -> dict[str, int]:
    """Where each table column ``carrying`` names lies in a row read with it (after the text
    and the obsid: :class:`_CarryingJsonRows`) (shared between requests: read only)."""
    return {name: 2 + i for i, name in enumerate(carrying)}


_FIRST_ROWS = 5000
#: Most values one criterion may list for :func:`_page_by_value` (one subquery each).
_MERGED_VALUES = 500


def _page_by_value(
    query: ObservationQuery, offset: int, *, now: float, has_tokens: Callable[[str], bool]
) -> tuple[Select, dict[str, Any]] | None:
    """The obsids of the page, for a page in obsid order under one criterion listing values
    of an indexed column (a search by program IDs): the first ``offset + pagesize`` obsids of
    each value, read in order from the column's index, then the page taken from their union.
    The statement and its parameters.

    The planners walk the primary key in order and test each row when many rows match (a
    fifth of the table for 100 programs), which is quick when the matches come first and
    reads the whole table when they come last (4 s at 10^6 for the last 100 programs of the
    synthetic catalogue, on both databases); this costs the same wherever they are. None
    when the query is not of that kind (or the page lies too deep for it).

    Where each value's test is the column's plain ``IN`` (or its lower case's; no parts of
    ``;``-separated entries), the statement is kept per shape (:func:`_by_value_statement`)
    with the values, the offset and the sizes bound: built per search, its subqueries and
    cache key cost more than the page they find.
    """
    criteria = [c for c in query.criteria if not c.empty]
    if (
        query.cone is not None or query.obsids is not None or _sort_column(query) is not None
        or len(criteria) != 1 or query.pagesize > _FIRST_ROWS
        or offset + query.pagesize > _FIRST_ROWS
    ):  # fmt: skip
        return None
    (criterion,) = criteria
    if (
        criterion.column.name not in _INDEXED or criterion.ranges or criterion.patterns
        or not 0 < len(criterion.values) <= _MERGED_VALUES
    ):  # fmt: skip
        return None
    first = offset + query.pagesize
    name = criterion.column.name
    kinds = _value_kinds(criterion)
    if kinds is not None and not (name in SEPARATORS and has_tokens(name)):
        values: dict[str, Any] = {f"page_value_{i}": value
                                  for i, value in enumerate(criterion.values)}  # fmt: skip
        values.update(page_first=first, page_offset=offset, page_size=query.pagesize)
        return _by_value_statement(name, kinds), values
    obsid = observations.c.obsid
    each = []
    for value in criterion.values:
        # each value's first rows as a subquery of its own: a member of a UNION may not have
        # its own ORDER BY and LIMIT on SQLite
        value_rows = (
            select(obsid)
            .where(
                where_clause([replace(criterion, values=(value,))], now=now, has_tokens=has_tokens)
            )
            .order_by(obsid)
            .limit(first)
            .subquery()
        )
        each.append(select(value_rows.c.obsid))
    # UNION, not UNION ALL: a row two values match (spelled in two cases) is one row
    merged = union(*each).subquery() if len(each) > 1 else each[0].subquery()
    page = select(merged.c.obsid).order_by(merged.c.obsid).offset(offset).limit(query.pagesize)
    return page, {}


def _value_kinds(criterion: Criterion) -> tuple[str, ...] | None:
    """How the criterion's shape (:func:`~skyarchive.search.criteria.criterion_shape`)
    compares each of its values, one at a time: ``"whole"`` or ``"number"`` (the column
    ``IN`` the number, of its own SQL type), ``"exact"`` (the column ``IN`` the text, which
    has no letters) or ``"folded"`` (its lower case ``IN`` the text); None for flags."""
    kinds = criterion_shape(criterion, "", {}).kinds
    if FLAG in kinds:
        return None
    return kinds


@functools.lru_cache(maxsize=256)
def _by_value_statement(name: str, kinds: tuple[str, ...]) -> Select:
    """:func:`_page_by_value`'s statement for column ``name`` and values compared as
    ``kinds``, built once: each value bound as ``page_value_<i>`` (a scalar in an ``IN``
    of one, as ``criterion_clause`` writes it: no list expanded per execution, so the driver's
    cursor runs it), the rows per value as ``page_first``, the page as ``page_offset`` and
    ``page_size``."""
    obsid = observations.c.obsid
    column = observations.c[name]
    each = []
    for i, kind in enumerate(kinds):
        tested = func.lower(column) if kind == FOLDED else column
        value_rows = (
            select(obsid)
            .where(tested.in_([bindparam(f"page_value_{i}", type_=VALUE_TYPES.get(kind))]))
            .order_by(obsid)
            .limit(bindparam("page_first", type_=Integer))
            .subquery()
        )
        each.append(select(value_rows.c.obsid))
    merged = union(*each).subquery() if len(each) > 1 else each[0].subquery()
    return (
        select(merged.c.obsid)
        .order_by(merged.c.obsid)
        .offset(bindparam("page_offset", type_=Integer))
        .limit(bindparam("page_size", type_=Integer))
    )


#: The rows of :func:`_page_by_value`'s kept statements, per row shape (``_DictRows.name``,
#: ``_JsonRows.name``) and statement, read on the driver's cursor.
_ROWS_BY_VALUE: Kept[DriverRows] = Kept(256)


def _rows_by_value(
    conn: Connection,
    shape: Any,
    selected: Sequence[Any],
    page: Select,
    params: dict[str, Any],
    *,
    kept: bool,
) -> Iterator[Sequence[Any]]:
    """The page's rows (``selected``, in obsid order) of :func:`_page_by_value`'s statement
    ``page``; kept with it (``shape`` names ``selected``) when it is ``kept``, so it is built,
    and its SQL compiled, once."""

    def rows() -> Select:
        return _ordered_rows(selected, observations.c.obsid.in_(page))

    if not kept:
        return iter(conn.execute(rows(), params))
    reading = _ROWS_BY_VALUE.get((shape, page), lambda: DriverRows(rows()))
    return iter(reading.tuples(conn, params))


#: Columns with an index of their own (``observations``' single-column indexes), which keeps
#: each value's rows in obsid order.
_INDEXED = frozenset({"proposal_id", "instrument_name", "target_name", "calib_level"})


def _page_rows(
    conn: Connection,
    selected: list,
    where: ColumnElement[bool],
    key: int,
    offset: int,
    pagesize: int,
    params: dict,
    *,
    kept: Hashable | None = None,
) -> tuple[Sequence[Sequence], Iterator[Sequence] | None]:
    """The rows of one page in obsid order (``selected[key]`` is obsid): the first ones, and
    the rest of the page when it goes on past them (None when the first are all of it).

    The first rows come from one plain query: on PostgreSQL a streamed (server-side) cursor
    costs several round trips, more than a small answer takes to send. A longer page goes on
    after the last obsid seen, streamed, so memory stays flat whatever the page size.

    With ``kept`` (naming ``selected`` and ``where``'s shape) the first query is kept under
    it, the page bound, and read on the driver's cursor.
    """

    def ordered() -> Select:  # built only where the statement is not kept already
        return _ordered_rows(selected, where)

    first_size = min(pagesize, _FIRST_ROWS)
    first: Sequence[Sequence]
    if kept is None:
        first = conn.execute(ordered().offset(offset).limit(first_size), params).all()
    else:

        def build() -> DriverRows:
            return DriverRows(ordered().offset(_PAGE_OFFSET).limit(_PAGE_SIZE))

        bound = {**params, "page_offset": offset, "page_size": first_size}
        first = _FIRST_PAGES.get(kept, build).tuples(conn, bound)
    if len(first) < first_size or first_size == pagesize:
        return first, None
    after = first[-1][key]

    def rest() -> Iterator[Sequence]:  # run once the first rows are read, streamed
        following = ordered().where(observations.c.obsid > after).limit(pagesize - first_size)
        yield from stream_rows(conn, following, params, batch=2000)

    return first, rest()


def _ordered_rows(selected: Sequence[Any], where: ColumnElement[bool]) -> Select:
    """The columns ``selected`` of the observations ``where`` holds for, in obsid order."""
    return select(*selected).where(where).order_by(observations.c.obsid)


#: The first query of :func:`_page_rows` per row shape and shape of criteria.
_FIRST_PAGES: Kept[DriverRows] = Kept(256)
#: A sorted page's obsids (:func:`_sorted_ids`) per shape of criteria and order.
_SORTED_IDS: Kept[DriverRows] = Kept(256)


def _sorted_ids(
    where: ColumnElement[bool], sort: str, descending: bool, *, walk_index: bool
) -> Select:
    """The obsids of a sorted page of the observations ``where`` holds for, its first row
    and its number of rows bound (``page_offset``, ``page_size``). The page's obsids first,
    then their rows (:func:`_rows_in_order`): the sort carries the sorted column and the
    obsid only, read from a narrow index where one leads with the criteria's column (schema
    0027, 0037), instead of every matching wide row (200,000 for 50 shown)."""
    order = _sort_order(sort, descending, walk_index=walk_index)
    ids = select(observations.c.obsid).where(where).order_by(*order)
    return ids.offset(_PAGE_OFFSET).limit(_PAGE_SIZE)


_PAGE_OFFSET = bindparam("page_offset", type_=Integer)
_PAGE_SIZE = bindparam("page_size", type_=Integer)


def _projection(query: ObservationQuery) -> tuple[ColumnInfo, ...]:
    """The answer's columns. The same choice of columns is the very same tuple from one search
    to the next (kept, :func:`_projection_of`), so what a caller makes of it can be kept by
    its identity (the MAST API's field declarations)."""
    # each name once: the key a client's list is kept under holds no more than the table's
    # columns, however long the list it sent (a name unknown is refused, and not kept)
    names = None if query.columns is None else tuple(dict.fromkeys(query.columns))
    return _projection_of(names, query.positional_extras, query.cone is not None)


@functools.lru_cache(maxsize=256)
def _projection_of(
    names: tuple[str, ...] | None, positional_extras: bool, cone: bool
) -> tuple[ColumnInfo, ...]:
    extras = ([OBJID1] if positional_extras else []) + ([DISTANCE] if cone else [])
    if names is None:
        return (*OBSERVATION_COLUMNS, *extras)
    chosen = [observation_column(name) for name in names]
    if DISTANCE in chosen and not cone:
        raise BadQuery("Column 'distance' needs a search position.")
    return tuple(dict.fromkeys(chosen))


def _select_names(columns: Sequence[ColumnInfo]) -> list[str]:
    """Table columns to read, in the answer's order (derived ones read what they derive from),
    then obsid and t_obs_release when the answer does not already hold them."""
    source = {"dataRights": "t_obs_release", "objID1": "objID", "distance": "obsid"}
    names = [source.get(c.name, c.name) for c in columns]
    return names + [n for n in ("obsid", "t_obs_release") if n not in names]


def _select_columns(columns: Sequence[ColumnInfo]) -> list:
    """The labelled columns a projection reads (shared between requests: read only)."""
    return _labelled_columns(tuple(_select_names(columns)))


@functools.lru_cache(maxsize=256)
def _labelled_columns(names: tuple[str, ...]) -> list:
    # Built once per projection: some 40 labels a request cost more than the lookup.
    # Positional labels: a column read twice (obsid for distance) must stay two columns.
    return [observations.c[n].label(f"c{i}") for i, n in enumerate(names)]


def _rows_in_order(
    conn: Connection, shape: _DictRows | _JsonRows, ids: Sequence[int], params: dict
) -> Iterator[Sequence]:
    """The rows of the observations ``ids``, in their order."""
    return (row for row, _ in _rows_by_id(conn, shape, [(obsid, None) for obsid in ids], params))


#: Statements reading rows by obsid (the ids bound as one value), per what they select and
#: dialect: built per search, with the ids written in, they were rendered per execution.
_BY_ID: Kept[DriverRows] = Kept(256)


def _by_id(selected: Sequence[ColumnElement[Any]], dialect: str) -> DriverRows:
    """``selected`` of the observations whose obsids are bound, as a list, to ``ids``."""
    return DriverRows(select(*selected).where(in_ids(observations.c.obsid, "ids", dialect)))


def _rows_by_id(
    conn: Connection,
    shape: _DictRows | _JsonRows,
    window: Sequence[tuple[int, float | None]],
    params: dict,
) -> Iterator[tuple[Sequence, float | None]]:
    """(row, distance) for the ``(obsid, distance)`` pairs of ``window``, in its order."""
    distance = dict(window)
    ids = [obsid for obsid, _ in window]
    dialect, key = conn.dialect.name, shape.key
    query = _BY_ID.get((shape.name, dialect), lambda: _by_id(shape.selected, dialect))
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        fetched = {row[key]: row for row in query.tuples(conn, {**params, "ids": chunk})}
        for obsid in chunk:
            if obsid in fetched:
                yield fetched[obsid], distance[obsid]


def _add_distance(text: str, distance: float | None) -> str:
    """Append the distance (computed here, not in SQL) to a JSON object's text."""
    return with_members(text, f'"distance": {orjson.dumps(distance).decode()}')


def with_members(text: str, members: str) -> str:
    """A JSON object's text with ``members`` (``"name": value, ...``, JSON text) after its
    own, without parsing it."""
    body = text.rstrip()[:-1].rstrip()
    return f"{body}{', ' if body != '{' else ''}{members}}}"


@functools.lru_cache(maxsize=256)
def _json_row_of_names(names: tuple[str, ...], dialect: str) -> ColumnElement[str]:
    """The JSON object of one result row of the answer's columns ``names`` (``distance`` is
    added afterwards); execute it with the ``now`` parameter, the time that decides
    ``dataRights``."""
    return _json_row_template(tuple([n for n in names if n != DISTANCE.name]), dialect)


@functools.lru_cache(maxsize=256)
def _json_row_template(names: tuple[str, ...], dialect: str) -> ColumnElement[str]:
    # Built once per projection: assembling ~35 expressions costs more than the lookup, and
    # as a Prebuilt its statements' cache keys need not walk them on every execution.
    pairs = [(name, _json_value(name, dialect)) for name in names]
    built = json_object(dialect, pairs)
    if names[: len(STORED_ROW_NAMES)] == STORED_ROW_NAMES:
        # the stored object (every observation has one, written by the database), else built
        extra = pairs[len(STORED_ROW_NAMES) :]
        built = func.coalesce(_stored_row(dialect, extra), built, type_=built.type)
    return Prebuilt(("observation row", names, dialect), built)


#: The columns whose row is stored as JSON (db/tables.py, ``observation_json``): the MAST
#: API's default columns, in their order.
STORED_ROW_NAMES = (*STORED_JSON_HEAD, "dataRights", *STORED_JSON_TAIL)


def _stored_row(
    dialect: str, extra: Sequence[tuple[str, ColumnElement]] = ()
) -> ColumnElement[str]:
    """An observation's stored JSON row with its ``dataRights`` at the search's time
    (the ``now`` parameter) put in, read by primary key; NULL where no row is stored.
    ``extra``: columns after the stored ones (``objID1`` of a search with a position), built
    as their own object whose members are joined on."""
    separator = ", " if dialect == "postgresql" else ","  # as the database writes members
    colon = " : " if dialect == "postgresql" else ":"

    def member(right: str) -> ColumnElement[str]:
        return literal_column(f"""'{separator}"dataRights"{colon}"{right}"'""")

    released = bindparam("now", type_=Float)
    rights = case(
        (released_clause(observations.c.t_obs_release, released), member(PUBLIC)),
        else_=member(EXCLUSIVE_ACCESS),
    )
    stored = observation_json.c
    tail: ColumnElement[str] = stored.tail
    if extra:
        # each value is a scalar, so the braces trimmed are the objects' own
        more = func.ltrim(json_object(dialect, extra), literal_column("'{'"), type_=Text)
        tail = func.rtrim(tail, literal_column("'}'"), type_=Text)
        tail = tail.concat(literal_column(f"'{separator}'")).concat(more)
    return (
        select(stored.head.concat(rights).concat(tail))
        .where(stored.obsid == observations.c.obsid)
        .correlate(observations)
        .scalar_subquery()
    )


def _json_value(name: str, dialect: str) -> ColumnElement:
    if name == "dataRights":
        # Constant strings inline: PostgreSQL cannot type a bound parameter inside
        # json_build_object's variadic arguments.
        public: ColumnElement[str] = literal_column(f"'{PUBLIC}'")
        exclusive: ColumnElement[str] = literal_column(f"'{EXCLUSIVE_ACCESS}'")
        now = bindparam("now", type_=Float)
        return case((released_clause(observations.c.t_obs_release, now), public), else_=exclusive)
    if name in ("obsid", "objID", "objID1"):
        return as_text(observations.c["objID" if name == "objID1" else name])
    if observation_column(name).type == "boolean":
        return json_boolean(dialect, observations.c[name])
    return observations.c[name]


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
            row["dataRights"] = data_rights(values[self.release], now=self.now)
        if self.distance:
            row["distance"] = distance
        return row


def collection_counts(conn: Connection) -> list[tuple[str, int]]:
    """How many observations each collection (mission) holds, by collection name."""
    o = observations
    query = select(o.c.obs_collection, func.count()).group_by(o.c.obs_collection)
    return [(name, int(n)) for name, n in conn.execute(query.order_by(o.c.obs_collection))]
