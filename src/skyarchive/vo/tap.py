"""The TAP service's queries: ADQL in, a VOTable (or CSV, TSV) out.

:func:`execute_adql` is the one way an ADQL query runs, for the synchronous endpoint
(``api/vo/tap.py``) and for the asynchronous jobs' worker (``vo/uws_run.py``) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, Select, bindparam
from sqlalchemy.exc import DBAPIError, OperationalError

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.db.deadline import statement_deadline, timed_out
from skyarchive.errors import BadQuery, PayloadTooLarge
from skyarchive.vo.adql_grammar import check_length
from skyarchive.vo.adql_shapes import Mismatch, ParameterPlan, ShapeCache, shape_of
from skyarchive.vo.adql_sql import translate
from skyarchive.vo.adql_values import OutputColumn
from skyarchive.vo.tap_columns import QueryContext
from skyarchive.vo.tap_output import converted_rows, output_format, write
from skyarchive.vo.tap_schema import all_tables

if TYPE_CHECKING:
    from skyarchive.archive import Archive

#: Rows an answer holds when the query gives no MAXREC. (The most a synchronous answer holds,
#: and how long it may run, are settings: ``tap_sync_maxrec``, ``tap_sync_timeout_seconds``.)
DEFAULT_MAXREC = 10_000


@dataclass(frozen=True)
class TapAnswer:
    """A query's answer: the body (as chunks), its media type, the rows and whether MAXREC
    cut it short."""

    chunks: tuple[bytes, ...]
    media_type: str
    rows: int | None
    overflow: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def execute_adql(
    archive: Archive,
    caller: Caller,
    adql: str,
    *,
    maxrec: int | None,
    response_format: str | None,
    base_url: str,
    hard_maxrec: int | None = None,
    timeout_seconds: float | None = None,
) -> TapAnswer:
    """Run one ADQL query against the archive and write its answer.

    Parameters
    ----------
    archive : Archive
        The archive; searches read its ``read_engine``.
    caller : Caller
        Who asks. Every caller sees every row's metadata, as in the portal (a row still in
        its exclusive-access period says so in ``data_rights``); retrieving files is
        DataLink's and the delivery's business, with the same rule as the MAST API.
    adql : str
        The ADQL 2.1 query (``LANG=ADQL``).
    maxrec : int or None
        Most rows wanted; None gives :data:`DEFAULT_MAXREC`; capped at ``hard_maxrec``.
        0 answers the columns alone (the query is checked, not run). A longer answer is cut
        and marked with DALI's ``OVERFLOW`` INFO.
    response_format : str or None
        ``votable`` (BINARY2, the default), ``votable/td`` (TABLEDATA), ``csv``, ``tsv`` or
        their MIME types.
    base_url : str
        The public base URL of the archive: ``access_url`` (DataLink) is made from it.
    hard_maxrec : int, optional
        The service's row limit; the setting ``tap_sync_maxrec`` unless given (the
        asynchronous jobs pass theirs).
    timeout_seconds : float, optional
        The query is stopped after this long (a 413 that suggests narrowing it); the setting
        ``tap_sync_timeout_seconds`` unless given.

    Returns
    -------
    TapAnswer

    Raises
    ------
    BadQuery
        Bad ADQL (syntax, unsupported construct, type misuse), a bad MAXREC or format.
    UnknownColumn
        A table, column or function that does not exist; names the nearest.
    PayloadTooLarge
        The query ran longer than ``timeout_seconds``, or a footprint test matched too many.
    """
    del caller  # the same rows for everyone (see above); kept for the rule's sake
    fmt = output_format(response_format)
    limit = DEFAULT_MAXREC if maxrec is None else maxrec
    if limit < 0:
        raise BadQuery(f"MAXREC {maxrec} must be 0 or more.")
    limit = min(limit, archive.settings.tap_sync_maxrec if hard_maxrec is None else hard_maxrec)
    if timeout_seconds is None:
        timeout_seconds = archive.settings.tap_sync_timeout_seconds
    context = QueryContext(now_mjd(), archive.settings.vo_authority)
    with archive.read_engine.connect() as conn, statement_deadline(conn, timeout_seconds):
        try:
            prepared, values = _prepare(adql, context, conn)
            rows = _fetch(conn, prepared, values, limit, context) if limit > 0 else []
        except OperationalError as exc:
            if timed_out(exc):
                raise PayloadTooLarge(
                    f"The query ran longer than {timeout_seconds:g} s and was stopped; narrow "
                    "it (a cone, TOP, fewer joins) or run it as an asynchronous job."
                ) from exc
            raise BadQuery(f"The query could not run: {_first_line(exc)}") from exc
        except DBAPIError as exc:
            raise BadQuery(f"The query could not run: {_first_line(exc)}") from exc
    overflow = len(rows) > limit
    rows = rows[:limit]
    body = write(
        fmt, prepared.columns, converted_rows(prepared.columns, rows, base_url),
        overflow=overflow,
    )  # fmt: skip
    return TapAnswer((body,), fmt.media_type, len(rows), overflow)


#: The bound parameter that carries the number of rows fetched (the statement's LIMIT).
_ROWS_PARAMETER = "tap_rows"

#: Translations kept for reuse by query shape (``vo/adql_shapes``), shared by every caller of
#: this process: a statement holds nothing of its caller, and its moment is a parameter.
SHAPES = ShapeCache()


@dataclass(frozen=True)
class _Prepared:
    """A translated query ready to run again: the statement (its LIMIT a parameter, so the
    same object, whose SQLAlchemy cache key is memoized, serves every MAXREC), the answer's
    columns, TOP, and how the bound values follow from the query's numbers."""

    statement: Select[Any]
    columns: list[OutputColumn]
    limit: int | None
    plan: ParameterPlan


def _prepare(
    adql: str, context: QueryContext, conn: Connection
) -> tuple[_Prepared, dict[str, Any]]:
    """The statement of a query and the values to bind it with: a statement kept for its shape
    when one takes these numbers, else a new translation (kept when it may be reused)."""
    check_length(adql)
    shape = shape_of(adql)
    tables = all_tables()  # module constants: their ids name them as long as the process runs
    key = (shape.key, tuple(id(t) for t in tables), context.authority)
    for prepared in SHAPES.get(key):
        try:
            return prepared, prepared.plan.values(shape.numbers)
        except Mismatch:
            continue  # another variant of the shape (e.g. a cone with more cell ranges)
        except Exception:  # noqa: BLE001  (bad numbers: the translation says what is wrong)
            break
    plan = ParameterPlan(shape)
    translation = translate(adql, tables=tables, context=context, conn=conn, plan=plan)
    statement = translation.statement.limit(bindparam(_ROWS_PARAMETER, type_=Integer()))
    prepared = _Prepared(statement, translation.columns, translation.limit, plan)
    if plan.reusable:
        SHAPES.put(key, prepared)
    return prepared, {}  # the translation holds this query's own values


def _fetch(
    conn: Connection,
    prepared: _Prepared,
    values: dict[str, Any],
    limit: int,
    context: QueryContext,
) -> list[Any]:
    wanted = limit + 1  # one more than asked tells an overflow
    if prepared.limit is not None:
        wanted = min(wanted, prepared.limit)
    parameters = {**values, **context.parameters, _ROWS_PARAMETER: wanted}
    result = conn.execute(prepared.statement, parameters)
    try:
        return [tuple(row) for row in result.fetchmany(wanted)]
    finally:
        result.close()  # the statement is finished here, not whenever the result is collected


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0][:300]
