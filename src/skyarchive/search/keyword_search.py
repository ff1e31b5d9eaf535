"""JWST instrument-keyword search: FITS files found by their primary-header keywords.

What MAST's ``Mast.Jwst.Filtered.<Instrument>`` services answer: one row per FITS file of
that instrument (or per guide-star file), with every primary-header keyword as a column.
Like MAST, an exposure shows only its files at the highest product level it reached
(``rate`` files disappear once ``cal`` files exist; ``crf`` files are never listed), and
every level-3 file is listed; which table lists a file is decided once, at ingest
(:mod:`keyword_store`), and stored with its keywords. Criteria work as for CAOM searches
(:mod:`criteria`); keywords kept in typed columns use them, the others are read from the
stored header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    TIMESTAMP,
    Column,
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    select,
)
from sqlalchemy import Float as SQLFloat
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import visitors

from skyarchive.access.rights import restricted_clause
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.streaming import stream_rows
from skyarchive.db.tables import EXPOSURE_NAME_LENGTH as _EXPOSURE_NAME
from skyarchive.db.tables import observations, product_keywords, products
from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.kept import Kept
from skyarchive.search.columns import ColumnInfo, did_you_mean
from skyarchive.search.cone import Cone, cone_matches
from skyarchive.search.criteria import (
    Bound,
    Criterion,
    CriterionShape,
    criterion_clause,
    criterion_shape,
    shaped_clause,
)
from skyarchive.search.criteria_shapes import MOST_SHAPES, lists_too_many
from skyarchive.search.keyword_columns import (
    DATES,
    GUIDE_STAR_SUBGROUP,
    GUIDE_STAR_SUFFIXES,
    LEVEL_2A,
    LEVEL_2C,
    KeywordColumn,
    columns_by_name,
    table_columns,
)
from skyarchive.search.keyword_rows import MJD_OF_UNIX_EPOCH, RowShape, value_as_shown
from skyarchive.search.keyword_store import (
    FOLDED,
    stored_count,
    stored_exp_type_counts,
)
from skyarchive.search.paging import total_from_page

TABLES = ("Nircam", "Niriss", "Nirspec", "Miri", "Fgs", "GuideStar")  # as MAST spells them
SERVICES = {name.lower(): name.upper() for name in TABLES}
_TYPED = {c.name for c in product_keywords.c} - {"product_id", "header", "s_region", "listed_in"}

p, k, o = products, product_keywords, observations


@dataclass(frozen=True)
class KeywordTable:
    """One service's table: the instrument (or ``GUIDESTAR``) and its columns."""

    instrument: str
    columns: tuple[KeywordColumn, ...]

    @classmethod
    def for_service(cls, service: str) -> KeywordTable:
        instrument = SERVICES.get(service.rsplit(".", 1)[-1].lower())
        if instrument is None:
            known = ", ".join(f"Mast.Jwst.Filtered.{name}" for name in TABLES)
            raise BadQuery(f"Unknown keyword table in {service!r}; known: {known}.")
        return cls(instrument, table_columns(instrument))

    def column(self, name: str) -> ColumnInfo:
        return self._column(name).info

    def _column(self, name: str) -> KeywordColumn:
        found = columns_by_name(self.instrument).get(str(name).strip().lower())
        if found is None:
            raise UnknownColumn(self._unknown(name))
        return found

    def _unknown(self, name: str) -> str:
        """Names the closest keyword of this table, and the tables that do have ``name``."""
        key = str(name).strip().lower()
        hint = did_you_mean(key, [column.info.name for column in self.columns])
        tables = [
            f"Mast.Jwst.Filtered.{t}" for t in TABLES if key in columns_by_name(SERVICES[t.lower()])
        ]
        if tables:
            hint += f" '{key}' is a keyword of {', '.join(tables)}."
        return (f"Unknown keyword '{name}' in the {self.instrument} keyword table.{hint}"
                " The Keyword Dictionary (/keywords) lists every keyword.")  # fmt: skip

    def chosen(self, columns: str) -> Sequence[KeywordColumn]:
        text = columns.strip()
        if text in ("*", "c.*", ""):
            return self.columns
        return [self._column(name) for name in text.split(",") if name.strip()]


@dataclass
class KeywordPage:
    """One page of keyword rows (dicts, or JSON text). ``rows`` is a list for a page of up to
    :data:`FIRST_ROWS` rows, else an iterable read from the database as it is consumed
    (once, while the connection is open), so a long page never sits in memory."""

    rows: list[Any] | Iterable[Any]
    total: Callable[[], int]


#: Rows read by one plain query; a longer page goes on in a streamed query (flat memory).
#: A row of every keyword is ~15 kB as a dict, so the first query stays small.
FIRST_ROWS = 1000
_STREAM_BATCH = 2000
#: Streamed rows shaped together (:class:`RowShape` works a column of a batch at a time).
_SHAPED_BATCH = 100


def search_keywords(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    columns: Sequence[KeywordColumn],
    page: int,
    pagesize: int,
    now: float,
    cone: Cone | None = None,
    with_owner: bool = False,
    as_json: bool = False,
) -> KeywordPage:
    """One page of the files matching ``criteria`` (and touching ``cone``: the footprint of
    the file's observation), in the table's column order; ``with_owner`` adds, after the
    table's columns, what the portal marks and guards rows by (:data:`OWNER_FIELDS`). With
    ``as_json`` each row is a JSON object as text (:meth:`RowShape.texts`; for a whole
    table, from the files' stored forms, :meth:`RowShape.stored_texts`)."""
    first = (page - 1) * pagesize
    row_shape = RowShape(columns, now, with_owner=with_owner)
    stored = as_json and row_shape.writes_stored  # read in its stored form (_stored_rows)
    shape: _Shaping = row_shape.texts if as_json else row_shape
    if stored:
        shape = functools.partial(row_shape.stored_texts, full_rows=_full_rows_of(conn))
    head_size = min(pagesize, FIRST_ROWS)
    found = _page_head(conn, table, criteria, now, cone, rows=head_size, start=first,
                       stored=stored)  # fmt: skip
    head: list[Any] = shape(found)
    read = _ReadCount(len(head), finished=len(head) < head_size or head_size == pagesize)
    rows: list[Any] | Iterable[Any] = head
    if not read.finished:  # the rest after the last file read, streamed
        where = _where(conn, table, criteria, now, cone)
        ordered = _rows_query(where, stored=stored).order_by(k.c.product_id)
        rest = ordered.where(k.c.product_id > found[-1][0])  # either form: the id comes first
        rows = _streamed(conn, head, rest.limit(pagesize - head_size), shape, read)
    del found

    def total() -> int:
        known = total_from_page(page, pagesize, read.count) if read.finished else None
        return known if known is not None else count_keywords(conn, table, criteria, now=now,
                                                               cone=cone)  # fmt: skip

    return KeywordPage(rows, total)


def _page_head(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    now: float,
    cone: Cone | None,
    *,
    rows: int,
    start: int,
    stored: bool,
) -> Sequence[Sequence[Any]]:
    """The first query of a page: ``rows`` files from the ``start``-th on (database rows of
    :func:`_file_rows`, or of :func:`_stored_rows` when ``stored``). Its statement is kept
    per shape of the criteria, its values bound at execution, as the observations' criteria
    are (``criteria_shapes.py``): built per search, the statement and SQLAlchemy's cache key
    walk of it cost a fifth of a keyword search. Built per search still: with a cone (its
    observations are written in) or a criterion of many values (a one-off)."""
    shaped = _shaped_criteria(conn.dialect.name, table, criteria, stored) if cone is None else None
    if shaped is not None:
        shape, params = shaped
        kept = _KEPT_PAGES.get(shape, lambda: DriverRows(_kept_page(shape)))
        return kept.tuples(conn, {**params, "now": now, "page_rows": rows, "page_start": start})
    where = _where(conn, table, criteria, now, cone)
    query = _rows_query(where, stored=stored).order_by(k.c.product_id)
    return conn.execute(query.limit(rows).offset(start)).all()


#: Page statements kept, one per shape of criteria (:func:`_shaped_criteria`).
_KEPT_PAGES: Kept[DriverRows] = Kept(MOST_SHAPES)


class _PageShape(NamedTuple):
    """What a page statement's SQL depends on (its values apart): the dialect, the table,
    per criterion its column and :func:`~skyarchive.search.criteria.criterion_shape`, and
    the form of its rows (stored or not)."""

    dialect: str
    instrument: str
    criteria: tuple[tuple[KeywordColumn, CriterionShape], ...]
    stored: bool


def _shaped_criteria(
    dialect: str, table: KeywordTable, criteria: list[Criterion], stored: bool
) -> tuple[_PageShape, dict[str, Any]] | None:
    """The criteria's shape and the parameters of their values; None when a criterion lists
    too many values to be kept (:func:`~skyarchive.search.criteria_shapes.lists_too_many`)."""
    parts: list[tuple[KeywordColumn, CriterionShape]] = []
    params: dict[str, Any] = {}
    for criterion in criteria:
        if criterion.empty:  # no values: it matches every file (criterion_clause)
            continue
        if lists_too_many(criterion):
            return None
        column = table._column(criterion.column.name)
        parts.append((column, criterion_shape(criterion, f"c{len(parts)}_", params)))
    return _PageShape(dialect, table.instrument, tuple(parts), stored), params


def _kept_page(shape: _PageShape) -> Select:
    """The page statement of a shape of criteria, its values, the time (``now``), the rows
    and the first row (``page_rows``, ``page_start``) bound at execution."""
    expression = _Expressions(shape.dialect, bindparam("now", type_=SQLFloat))
    clauses = []
    for i, (column, criterion) in enumerate(shape.criteria):
        expr = expression.of(column)
        clauses.append(shaped_clause(criterion, expr, Bound(), f"c{i}_", folded=_folded(column)))
    where = and_(k.c.listed_in == shape.instrument, *clauses)
    return (
        _rows_query(where, stored=shape.stored).order_by(k.c.product_id)
        .limit(bindparam("page_rows")).offset(bindparam("page_start"))
    )  # fmt: skip


@dataclass
class _ReadCount:
    count: int
    finished: bool


#: Rows of a page from database rows: dicts (:class:`RowShape`) or JSON text (its ``texts``).
_Shaping = Callable[[Sequence[Any]], list[Any]]


def _streamed(conn: Connection, head: list[Any], rest: Select,
              shape: _Shaping, read: _ReadCount) -> Iterator[Any]:  # fmt: skip
    yield from head
    head.clear()  # the first rows are not held while the rest streams
    streamed = stream_rows(conn, rest, batch=_STREAM_BATCH)
    for batch in streamed.partitions(_SHAPED_BATCH):
        read.count += len(batch)
        yield from shape(batch)
    read.finished = True


def page_query(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    page: int,
    pagesize: int,
    now: float,
    cone: Cone | None = None,
) -> Select:
    """The SQL of one page (tests read its plan: the indexes it uses)."""
    where = _where(conn, table, criteria, now, cone)
    return _rows_query(where).order_by(k.c.product_id).limit(pagesize).offset((page - 1) * pagesize)


def _rows_query(where: ColumnElement[bool], *, stored: bool = False) -> Select:
    return (_stored_rows() if stored else _file_rows()).where(where)


def _full_rows_of(conn: Connection) -> Callable[[list[int]], Sequence[Any]]:
    """What reads the rows of :func:`_file_rows` of given files, in the order given (a sorted
    page's files; for :meth:`RowShape.stored_texts`, the files without their stored members)."""

    def full_rows(ids: list[int]) -> Sequence[Any]:
        found = {row[0]: row for row in conn.execute(_rows_query(_among(ids)))}
        return [found[product_id] for product_id in ids]

    return full_rows


@cache  # a select is immutable (where() makes a new one): its columns are coerced once
def _file_rows() -> Select:
    """A file's row: :class:`RowShape` reads its columns by position, in this order (by
    name, a row's attribute costs ~0.4 µs, and a page reads a dozen per file)."""
    return select(
        p.c.product_id,  # FileFacts
        p.c.productFilename,
        p.c.calib_level,
        p.c.productSubGroupDescription,
        o.c.obs_id,
        p.c.size,
        p.c.sha256,
        p.c.dataURI,
        p.c.ingested_at,
        p.c.owner_obsid,
        p.c.proposal_id,
        p.c.obs_collection,
        o.c.t_obs_release,
        k.c.header,
        k.c.keyword_columns,
        k.c.keyword_column_set,
        k.c.keyword_columns_stamp,
    ).select_from(_joined())  # fmt: skip


@cache
def _stored_rows() -> Select:
    """A file's row as the stored forms of its columns: :meth:`RowShape.stored_texts` reads
    them by position (:data:`~skyarchive.search.keyword_rows.S_ID` ...)."""
    return select(
        k.c.product_id,
        k.c.archive_members,
        o.c.t_obs_release,
        k.c.keyword_columns,
        k.c.keyword_column_set,
        k.c.keyword_columns_stamp,
    ).select_from(_joined())  # fmt: skip


def count_keywords(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    now: float,
    cone: Cone | None = None,
) -> int:
    """How many files match ``criteria`` (and ``cone``): read from the counts kept at ingest
    when the criteria are exposure types only, else counted."""
    exp_types = _exposure_types_only(criteria) if cone is None else False
    if exp_types is not False:
        return stored_count(conn, table.instrument, exp_types)
    return int(conn.scalar(count_query(conn, table, criteria, now=now, cone=cone)) or 0)


def _exposure_types_only(criteria: list[Criterion]) -> list[str] | None | Literal[False]:
    """The stored exposure types every criterion allows, None when there is no criterion,
    False when a criterion is anything but a list of exposure types (or there is a cone)."""
    allowed: set[str] | None = None
    for criterion in criteria:
        if criterion.empty:  # no values: it matches every file (criterion_clause)
            continue
        if criterion.column.name != "exp_type" or criterion.ranges or criterion.patterns:
            return False
        values = {str(value) for value in criterion.values}  # lower-case, as stored
        allowed = values if allowed is None else allowed & values
    return None if allowed is None else sorted(allowed)


def count_query(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    now: float,
    cone: Cone | None = None,
) -> Select:
    """The count's SQL: from the keyword table's indexes alone when every criterion is on a
    typed keyword column (joining products and observations changes no count: each keyword
    row has exactly one product, and the observation is an outer join)."""
    where = _where(conn, table, criteria, now, cone)
    return select(func.count()).select_from(_source(where)).where(where)


def _source(where: ColumnElement[bool]):  # type: ignore[no-untyped-def]
    """The keyword table alone when ``where`` names no other table, else the whole join."""
    named = {column.table for column in visitors.iterate(where) if isinstance(column, Column)}
    return k if named <= {k} else _joined()


@cache  # a join is immutable: built once, not on every query
def _joined():  # type: ignore[no-untyped-def]
    return p.join(k, k.c.product_id == p.c.product_id).outerjoin(o, o.c.obsid == p.c.owner_obsid)


def _where(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    now: float,
    cone: Cone | None = None,
) -> ColumnElement[bool]:
    scope = k.c.listed_in == table.instrument  # stored at ingest (keyword_store.py)
    expression = _Expressions(conn.dialect.name, now)
    clauses = []
    for criterion in criteria:
        column = table._column(criterion.column.name)
        clauses.append(criterion_clause(criterion, expression.of(column), folded=_folded(column)))
    if cone is not None:
        clauses.append(_in_cone(conn, cone))
    return and_(scope, *clauses)


def _folded(column: KeywordColumn) -> bool:
    """Whether the column's text is stored lower-case (criteria compare it as it is)."""
    return column.info.name in FOLDED and column.info.type == "string"


def _in_cone(conn: Connection, cone: Cone) -> ColumnElement[bool]:
    """Files whose observation's footprint the cone touches: the observations come from the
    CAOM cone search (footprint cells, then the exact test), the files from the indexed
    ``owner_obsid``. Ids are written into the SQL (integers only), so a large cone is not
    held to a backend's limit on bound parameters."""
    obsids = [obsid for obsid, _ in cone_matches(conn, cone)]
    if not obsids:
        return false()
    return p.c.owner_obsid.in_(bindparam("cone_obsids", obsids, expanding=True,
                                         literal_execute=True))  # fmt: skip


def sorted_ids_query(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    sort: str,
    descending: bool,
    page: int,
    pagesize: int,
    now: float,
    cone: Cone | None = None,
) -> Select:
    """The ids of one page ordered by column ``sort``, files without a value last, ties in
    file order; from the keyword table alone (its indexes) when the criteria and the sort
    are typed keywords (tests read its plan)."""
    expr = _Expressions(conn.dialect.name, now).of(table._column(sort))
    where = _where(conn, table, criteria, now, cone)
    return (
        select(k.c.product_id).select_from(_source(and_(where, expr.is_(None))))
        .where(where).order_by(expr.is_(None), expr.desc() if descending else expr.asc(),
                               k.c.product_id)
        .limit(pagesize).offset((page - 1) * pagesize)
    )  # fmt: skip


def _among(ids: list[int]) -> ColumnElement[bool]:
    # Integers written into the SQL: a page of any size stays within every backend's limit
    # on bound parameters.
    return k.c.product_id.in_(bindparam("page_ids", ids, expanding=True, literal_execute=True))


def _exposure_name(table) -> ColumnElement:  # type: ignore[no-untyped-def]
    # Written as literals, not bound values: SQLite uses an expression index (schema 0009)
    # only for the very same expression.
    one: ColumnElement[int] = literal_column("1")
    length: ColumnElement[int] = literal_column(str(_EXPOSURE_NAME))
    return func.substr(table.c.productFilename, one, length)


class _Expressions:
    """SQL for a column of the keyword table, on SQLite or PostgreSQL."""

    def __init__(self, dialect: str, now: float | ColumnElement[float]) -> None:
        """``now``: the time, or the parameter a kept statement is given it in."""
        self._postgres = dialect == "postgresql"
        self._now = now

    def of(self, column: KeywordColumn) -> ColumnElement:
        name, kind = column.info.name, column.info.type
        fixed = self._archive(name)
        if fixed is not None:
            return fixed
        if column.keyword is None:
            raise UnknownColumn(f"Column '{name}' cannot be searched.")
        if name in _TYPED and kind != "boolean":  # typed flags hold only true booleans, not 'T'
            return k.c[name]
        if column.date_of is not None:
            return self._mjd(self._date_text(column))
        value = self._header(column.keyword)
        if kind in ("int", "float"):
            return self._number(value)
        if kind == "boolean":
            return self._flag(value)
        return value

    def _archive(self, name: str) -> ColumnElement | None:
        released = o.c.t_obs_release
        # Built only when asked for: the set of them costs milliseconds per query.
        make: Callable[[], ColumnElement] | None = {
            "ArchiveFileID": lambda: p.c.product_id,
            "filename": lambda: p.c.productFilename,
            "fileSetName": lambda: file_set_name_sql(),
            "productLevel": lambda: product_level_sql(),
            "fileSize": lambda: p.c.size,
            "checksum": lambda: p.c.sha256,
            "dataURI": lambda: p.c.dataURI,
            "publicReleaseDate_mjd": lambda: released,
            "isRestricted": lambda: restricted_clause(released, self._now),
            "isItar": false,
            "isStale": false,
            "ingestStartDate_mjd": lambda: self._mjd(p.c.ingested_at),
            "ingestCompletionDate_mjd": lambda: self._mjd(p.c.ingested_at),
        }.get(name)
        return None if make is None else make()

    def _header(self, keyword: str) -> ColumnElement:
        if self._postgres:
            return cast(k.c.header, JSONB).op("->>")(literal(keyword))
        return func.json_extract(k.c.header, f'$."{keyword}"')

    def _date_text(self, column: KeywordColumn) -> ColumnElement:
        date = self._header(column.keyword or "")
        if column.date_of == "date_obs":  # DATE-OBS holds the day, TIME-OBS the time
            return date + literal("T") + func.coalesce(self._header("TIME-OBS"), "00:00:00")
        return date

    def _mjd(self, text: ColumnElement) -> ColumnElement:
        if self._postgres:  # the date and time, any offset left out (header times are UTC)
            iso = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"
            stamp = cast(func.substring(text, literal(iso)), TIMESTAMP)
            seconds = func.extract("epoch", stamp)
            return case((text.op("~")(iso), seconds / 86400.0 + MJD_OF_UNIX_EPOCH), else_=null())
        return func.julianday(text) - 2400000.5

    def _number(self, value: ColumnElement) -> ColumnElement:
        if self._postgres:
            pattern = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
            return case((value.op("~")(pattern), cast(value, SQLFloat)), else_=null())
        kind = func.typeof(value)
        numeric_text = and_(kind == "text", value.op("GLOB")("*[0-9]*"),
                            not_(value.op("GLOB")("*[^0-9.eE+ -]*")))  # fmt: skip
        return case(
            (kind.in_(_constants("integer", "real")), value),
            (numeric_text, cast(value, SQLFloat)),
            else_=null(),
        )

    def _flag(self, value: ColumnElement) -> ColumnElement:
        if self._postgres:
            text = func.lower(value)
            return case((text.in_(_constants("true", "t")), True),
                        (text.in_(_constants("false", "f")), False),
                        else_=null())  # fmt: skip
        return case((value.in_(_constants(1, "T", "t")), True),
                    (value.in_(_constants(0, "F", "f")), False),
                    else_=null())  # fmt: skip


def _constants(*values: Any) -> list[ColumnElement[Any]]:
    """What an ``IN`` of fixed values compares with: a bound value each. A plain list would
    be one expanding parameter, rendered again per execution, and a statement holding one
    is not read on the driver's cursor (:class:`~skyarchive.db.driver_rows.DriverRows`)."""
    return [literal(value) for value in values]


@cache
def file_set_name_sql() -> ColumnElement:
    """A file's file-set name in SQL, for criteria: :func:`keyword_columns.file_set_name`.

    Its tests compare text case by case, as Python does, on both databases: SQLite's ``LIKE``
    ignores the case of ASCII letters (PostgreSQL's does not), so a guide-star test written
    with it would pick other files on SQLite."""
    name = p.c.productFilename
    guide_star = [
        (_ends_with(name, f"_{suffix}.fits"),
         func.substr(name, 1, func.length(name) - len(suffix) - len("_.fits")))
        for suffix in GUIDE_STAR_SUFFIXES
    ]  # fmt: skip
    return case(
        (p.c.calib_level == 3, o.c.obs_id),
        (guide_star_sql(), case(*guide_star, else_=name)),
        else_=_exposure_name(p),
    )


@cache
def guide_star_sql() -> ColumnElement[bool]:
    """Whether a file is a guide star's, in SQL: :func:`keyword_columns.is_guide_star`, as
    the keyword listing (schema 0014) also tests it. A file without a subgroup (a manifest
    may give none) is no guide star's: false, not NULL, so that its negation keeps it."""
    subgroup = func.coalesce(p.c.productSubGroupDescription, "")
    return _starts_with(subgroup, GUIDE_STAR_SUBGROUP)


def _starts_with(text: ColumnElement[str], head: str) -> ColumnElement[bool]:
    """``text.startswith(head)`` in SQL, case by case on both databases (not ``LIKE``)."""
    return func.substr(text, 1, len(head)) == head


def _ends_with(text: ColumnElement[str], tail: str) -> ColumnElement[bool]:
    """``text.endswith(tail)`` in SQL, case by case on both databases (not ``LIKE``). The
    start is counted from the left: a negative one means the right end on SQLite, the text's
    start on PostgreSQL; past the left end either way the part read is shorter than ``tail``."""
    return func.substr(text, func.length(text) - (len(tail) - 1)) == tail


@cache
def product_level_sql() -> ColumnElement:
    """A file's JWST product level in SQL, for criteria: :func:`keyword_columns.product_level`."""
    subgroup = func.upper(p.c.productSubGroupDescription)
    return case(
        (p.c.calib_level == 3, "3"),
        (p.c.calib_level == 1, "1b"),
        (subgroup.in_(_constants(*LEVEL_2A)), "2a"),
        (subgroup.in_(_constants(*LEVEL_2C)), "2c"),
        else_="2b",
    )


def wire_fields(columns: Sequence[KeywordColumn]) -> list[dict[str, str]]:
    """Field types as MAST declares them: keyword flags and dates are strings."""
    fields = []
    for column in columns:
        kind = column.info.type
        if kind == "boolean" and column.keyword is not None:
            kind = "string"
        if column.info.name in DATES:
            kind = "string"
        fields.append({"name": column.info.name, "type": kind})
    return fields


MAX_FACET_VALUES = 500


def value_counts(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    column_name: str,
    *,
    now: float,
    limit: int = MAX_FACET_VALUES,
    cone: Cone | None = None,
) -> dict[str, Any]:
    """One column's values with their counts among the files the other criteria leave.

    What the portal's filter dialogs show ("NIS_SOSS (200 Total)"). The criterion on the
    column itself is left out, so the dialog offers every choice; numbers and dates give their
    range instead. Folded keywords are stored lower-case; their values are shown upper-case,
    as JWST headers write them (target names, written freely, are shown as stored).
    """
    column = table._column(column_name)
    name, kind = column.info.name, column.info.type
    others = [c for c in criteria if c.column.name != name]
    if name == "exp_type" and not others and cone is None:  # kept at ingest
        stored = stored_exp_type_counts(conn, table.instrument)
        ordered = sorted(stored, key=lambda pair: (-pair[1], pair[0] is None, pair[0] or ""))
        return _counted_values(name, kind, ordered, limit)
    query = value_count_query(conn, table, criteria, name, now=now, cone=cone)
    if kind in ("int", "float") or column.date_of is not None:
        matching, low, high = conn.execute(query).one()
        return {"column": name, "matching": int(matching), "min": low, "max": high}
    # One pass gives both: the files that match are those of every group, NULL's included.
    return _counted_values(name, kind, conn.execute(query), limit)


def _counted_values(name: str, kind: str, counts: Iterable[Any], limit: int) -> dict[str, Any]:
    """The answer of :func:`value_counts` from (value, count) pairs, most frequent first,
    NULL's among them."""
    shown = _facet_display(name)
    matching, values = 0, list[dict[str, Any]]()
    for value, count in counts:
        matching += int(count)
        if value is not None and len(values) < limit:
            values.append({"value": shown(value_as_shown(value, kind)), "count": int(count)})
    return {"column": name, "matching": matching, "values": values}


def value_count_query(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    column_name: str,
    *,
    now: float,
    cone: Cone | None = None,
) -> Select:
    """The SQL of :func:`value_counts`: each value with its count, NULL too, most frequent
    first (or, for a number or date, the count of files and the range): from the covering
    index of the typed keywords when the column and criteria are typed keywords."""
    column = table._column(column_name)
    name, kind = column.info.name, column.info.type
    others = [c for c in criteria if c.column.name != name]
    where = _where(conn, table, others, now, cone)
    expr = _Expressions(conn.dialect.name, now).of(column)
    source = _source(and_(where, expr.is_not(None)))
    if kind in ("int", "float") or column.date_of is not None:
        counts = (func.count(), func.min(expr), func.max(expr))
        return select(*counts).select_from(source).where(where)
    counted = func.count().label("count")
    return (
        select(expr.label("value"), counted)
        .select_from(source)
        .where(where)
        .group_by(expr)
        .order_by(counted.desc(), expr)
    )


def _facet_display(name: str) -> Callable[[Any], Any]:
    if name in FOLDED and name != "targname":
        return lambda value: value.upper() if isinstance(value, str) else value
    return lambda value: value


def observation_ids(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    now: float,
    cone: Cone | None = None,
) -> list[int]:
    """The CAOM observations (obsid) that own the files matching ``criteria``.

    The archive knows each file's observation, so this needs no guess from file names
    (MAST users derive obs_ids from names, which fails for association-tagged files).
    """
    query = owning_observations(conn, table, criteria, now=now, cone=cone)
    return [int(obsid) for obsid in conn.execute(query.order_by(p.c.owner_obsid)).scalars()]


def owning_observations(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    now: float,
    cone: Cone | None = None,
) -> Select:
    """The SQL of :func:`observation_ids`, unordered: a subquery for an observation search,
    so the database joins the two however many observations match."""
    return (
        select(p.c.owner_obsid)
        .select_from(_joined())
        .where(_where(conn, table, criteria, now, cone), p.c.owner_obsid.is_not(None))
        .distinct()
    )


def sorted_keywords(
    conn: Connection,
    table: KeywordTable,
    criteria: list[Criterion],
    *,
    columns: Sequence[KeywordColumn],
    sort: str,
    descending: bool = False,
    page: int,
    pagesize: int,
    now: float,
    cone: Cone | None = None,
    with_owner: bool = False,
) -> KeywordPage:
    """One page as :func:`search_keywords` gives it, ordered by column ``sort``.

    Files without a value come last either way; ties keep file order, so pages never overlap.
    (The portal's grid sorts on the server: a keyword table is too big to sort in a browser.)
    """
    # The page's files first, by a query whose sort carries only the value and the id, then
    # their rows: a sort of whole rows would carry every header of the match set.
    sorted_ids = sorted_ids_query(conn, table, criteria, sort=sort, descending=descending,
                                  page=page, pagesize=pagesize, now=now, cone=cone)  # fmt: skip
    ids = list(conn.execute(sorted_ids).scalars())
    shape = RowShape(columns, now, with_owner=with_owner)
    rows = shape(_full_rows_of(conn)(ids)) if ids else []

    def total() -> int:
        known = total_from_page(page, pagesize, len(rows))
        return known if known is not None else count_keywords(conn, table, criteria, now=now,
                                                               cone=cone)  # fmt: skip

    return KeywordPage(rows, total)
