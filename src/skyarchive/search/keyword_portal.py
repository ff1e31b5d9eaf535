"""The portal's "JWST Instrument Keywords" collection: keyword searches as the portal runs them.

Like :mod:`portal_search` for CAOM observations, but a keyword table can hold millions of
files, so the server pages and sorts and the browser holds one page. Filters are MAST filter
dicts read as ``Mast.Jwst.Filtered.<Instrument>`` reads them (:mod:`keyword_search`), with two
portal conveniences: date ranges on the ``_mjd`` columns may be typed as dates
(``2022-08-01``), and a target name or coordinates with a radius limits the files to those of
the observations whose footprints the cone touches (the same cone as the CAOM collections).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from skyarchive.errors import BadQuery
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import Criterion, parse_criteria, parse_mjd
from skyarchive.search.keyword_columns import DATES
from skyarchive.search.keyword_search import (
    KeywordTable,
    count_keywords,
    observation_ids,
    search_keywords,
    sorted_keywords,
    value_counts,
)
from skyarchive.search.portal_query import PositionQuery

#: The instruments of the collection's pull-down, by the name their keyword table uses.
INSTRUMENTS = {"NIRCAM": "NIRCam", "NIRISS": "NIRISS", "NIRSPEC": "NIRSpec", "MIRI": "MIRI",
               "FGS": "FGS"}  # fmt: skip
#: Columns the grid shows until the user chooses others (those the table has, in this order).
DEFAULT_COLUMNS = ("filename", "productLevel", "program", "targname", "exp_type", "detector",
                   "filter", "pupil", "grating", "subarray", "readpatt", "tsovisit", "date_obs",
                   "effexptm", "fileSize")  # fmt: skip
#: Facets beside the grid, counted over the whole match set.
FACETS = ("productLevel",)
MAX_PAGE_SIZE = 500
#: Observations "Show observations" may open in the observation grid.
MAX_OBSERVATIONS = 5_000
_NO_FILE = 0  # no file has product id 0: an empty choice of files matches nothing


def keyword_table(instrument: Any) -> KeywordTable:
    """The keyword table of ``instrument`` (``NIRCam``, ``NIRISS``, ... in any case).

    Raises
    ------
    BadQuery
        For any other instrument, naming the ones there are.
    """
    key = str(instrument or "").strip().upper()
    if key not in INSTRUMENTS:
        known = ", ".join(INSTRUMENTS.values())
        shown = str(instrument)[:40]
        raise BadQuery(f"Unknown instrument {shown!r} for keyword search; choose one of {known}.")
    return KeywordTable.for_service(f"Mast.Jwst.Filtered.{key}")


def keyword_column_facts(table: KeywordTable) -> list[dict[str, Any]]:
    """What the grid, the column chooser and the filter dialog need to know of each column.

    ``continuous`` columns (numbers, and dates through their ``_mjd`` twin) are filtered by
    ranges, the others by value lists; ``isDate`` columns hold an MJD and take dates as bounds.
    Date columns themselves (``date_obs``) are shown, not filtered: their twins are.
    """
    facts = []
    for column in table.columns:
        info = column.info
        date = column.date_of is not None
        facts.append({
            "name": info.name, "label": info.name, "type": info.type,
            "unit": "MJD" if date else None, "description": _description(column.keyword, date),
            "visible": info.name in DEFAULT_COLUMNS, "facet": info.name in FACETS,
            "separator": None, "continuous": info.type in ("int", "float"), "isDate": date,
            "filterable": info.name not in DATES,
        })  # fmt: skip
    return facts


def _description(keyword: str | None, date: bool) -> str:
    if keyword is None:
        return "Archive column"
    if date:
        return f"FITS keyword {keyword} as MJD (filter with dates, e.g. 2022-08-01)"
    return f"FITS keyword {keyword}"


@dataclass
class KeywordQuery:
    """One keyword search of the portal."""

    instrument: str
    filters: list[dict[str, Any]] = field(default_factory=list)
    position: PositionQuery | None = None
    product_ids: Sequence[int] = ()  # only these files (the rows a user selected)
    sort: str | None = None
    descending: bool = False
    page: int = 1
    pagesize: int = 50


def keyword_criteria(table: KeywordTable, query: KeywordQuery) -> list[Criterion]:
    """The criteria of ``query``: its filters and its chosen files (its cone: :func:`cone_of`).

    Raises
    ------
    BadQuery, UnknownColumn
        For a filter the table cannot take (the message names the nearest keyword).
    """
    criteria = parse_criteria(_dates_as_mjd(table, query.filters), table.column)
    if query.product_ids:
        criteria.append(_files_criterion(table, query.product_ids))
    return criteria


def _dates_as_mjd(table: KeywordTable, filters: Any) -> Any:
    """Range bounds of ``_mjd`` columns typed as dates, turned into MJD numbers."""
    if not isinstance(filters, list):
        return filters  # parse_criteria names the problem
    out = []
    for entry in filters:
        if isinstance(entry, Mapping) and _is_date(table, entry.get("paramName")):
            values = entry.get("values", [])
            values = [_mjd_range(entry["paramName"], v) if isinstance(v, Mapping) else v
                      for v in (values if isinstance(values, list) else [values])]  # fmt: skip
            entry = {**entry, "values": values}
        out.append(entry)
    return out


def _is_date(table: KeywordTable, name: Any) -> bool:
    return any(c.info.name == str(name).strip().lower() and c.date_of for c in table.columns)


def _mjd_range(name: str, bounds: Mapping[str, Any]) -> dict[str, Any]:
    low, high = bounds.get("min"), bounds.get("max")
    low = None if low in (None, "") else parse_mjd(low, name)
    high = None if high in (None, "") else parse_mjd(high, name)
    if high is not None and isinstance(bounds.get("max"), str) and _is_day(bounds["max"]):
        high += 1 - 1e-9  # "to 2022-08-01" includes that whole day
    if low is not None and high is not None and low > high:
        raise BadQuery(f"{name}: the range starts after it ends ({bounds.get('min')!s} > "
                       f"{bounds.get('max')!s}); give the earlier date first.")  # fmt: skip
    return {"min": low, "max": high}


def _is_day(text: str) -> bool:
    try:
        datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _files_criterion(table: KeywordTable, product_ids: Sequence[int]) -> Criterion:
    ids = list(dict.fromkeys(int(i) for i in product_ids)) or [_NO_FILE]
    return parse_criteria([{"paramName": "ArchiveFileID", "values": ids}], table.column)[0]


def cone_of(query: KeywordQuery) -> Cone | None:
    """The query's cone: the keyword search keeps the files of the observations it touches,
    as the CAOM collections find them."""
    position = query.position
    return None if position is None else Cone(position.ra, position.dec, position.radius)


def search_keyword_files(conn: Connection, query: KeywordQuery, *, now: float) -> dict[str, Any]:
    """One page of files (every column, plus what the grid needs), the total and the facets.

    Besides the table's columns each row carries ``obsid`` (the observation that owns the
    file), ``proposal_id``, ``obs_collection`` and ``dataRights``, so it is marked, guarded and
    subscribed to as other rows are.
    """
    if query.page < 1 or not 1 <= query.pagesize <= MAX_PAGE_SIZE:
        raise BadQuery(f"page must be >= 1 and pagesize between 1 and {MAX_PAGE_SIZE}; got "
                       f"page {query.page}, pagesize {query.pagesize}.")  # fmt: skip
    table = keyword_table(query.instrument)
    criteria, cone = keyword_criteria(table, query), cone_of(query)
    columns, number, size = table.columns, query.page, query.pagesize
    if query.sort:
        page = sorted_keywords(conn, table, criteria, columns=columns, sort=query.sort,
                               descending=query.descending, page=number, pagesize=size,
                               now=now, cone=cone, with_owner=True)  # fmt: skip
    else:  # file order: the table's own index serves it
        page = search_keywords(conn, table, criteria, columns=columns, page=number,
                               pagesize=size, now=now, cone=cone, with_owner=True)  # fmt: skip
    rows = _dates_as_text(list(page.rows))  # a grid page: at most MAX_PAGE_SIZE
    facets = {name: value_counts(conn, table, criteria, name, now=now, cone=cone)
              for name in FACETS}  # fmt: skip
    return {"rows": rows, "total": page.total(), "facets": facets}


def _dates_as_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the grid shows them: dates as text (the owner fields came with the page).

    The rows are this page's own, so only their date columns are rewritten, in place (a row
    rebuilt column by column cost more than the rest of the search), each distinct date
    written once."""
    written: dict[Any, str | None] = {}
    for row in rows:
        for name, twin in _DATE_TWINS:
            if name in row:
                mjd = row.get(twin)
                if mjd not in written:
                    written[mjd] = _iso(mjd)
                row[name] = written[mjd]
    return rows


#: Each date column with its ``_mjd`` twin, the value the grid writes as text.
_DATE_TWINS = tuple((name, f"{name}_mjd") for name in sorted(DATES))


_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)


def _iso(mjd: Any) -> str | None:
    """A date column as the portal shows it: ``2022-08-05 16:42:03`` (UTC)."""
    if not isinstance(mjd, int | float):
        return None
    return (_MJD_EPOCH + timedelta(days=float(mjd))).strftime("%Y-%m-%d %H:%M:%S")


def keyword_values(
    conn: Connection, query: KeywordQuery, column: str, *, now: float
) -> dict[str, Any]:
    """A column's values with counts over every file the other filters match (or its range)."""
    table = keyword_table(query.instrument)
    criteria = keyword_criteria(table, query)
    return value_counts(conn, table, criteria, column, now=now, cone=cone_of(query))


def keyword_count(conn: Connection, query: KeywordQuery, *, now: float) -> int:
    """How many files the query matches (the filter dialog's live count)."""
    table = keyword_table(query.instrument)
    criteria = keyword_criteria(table, query)
    return count_keywords(conn, table, criteria, now=now, cone=cone_of(query))


def keyword_observations(conn: Connection, query: KeywordQuery, *, now: float) -> list[int]:
    """The observations (obsid) owning the matching files: "Show observations".

    Raises
    ------
    BadQuery
        When they are more than :data:`MAX_OBSERVATIONS` (the message says how to narrow).
    """
    table = keyword_table(query.instrument)
    criteria = keyword_criteria(table, query)
    found = observation_ids(conn, table, criteria, now=now, cone=cone_of(query))
    if len(found) > MAX_OBSERVATIONS:
        raise BadQuery(
            f"These files belong to {len(found):,} observations, more than the "
            f"{MAX_OBSERVATIONS:,} the observation grid shows; select files or add filters."
        )
    return found
