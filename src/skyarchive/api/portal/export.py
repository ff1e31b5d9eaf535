"""Exports of a portal search's result table: CSV, VOTable (units, UCDs) or a FITS table.

``GET /api/portal/export?format=csv&collection=position&q=m57&...`` takes the search page's own
URL parameters (``collection``, ``q``, ``filters``, ``facets``, ``sort``, ``desc``; see
``portal/static/url-state.js``), the ``columns`` to write (comma-separated; the grid's default
columns when absent) and optionally ``obsids``, the selected rows. Every matching row is
written, in the grid's order, streamed; a link works in a browser, curl or a script alike.
CSV and VOTable are the writers of the MAST invoke service's ``format`` (one writer per format).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep
from skyarchive.api.file_headers import file_headers
from skyarchive.api.fits_table import MEDIA_TYPE as FITS_MEDIA_TYPE
from skyarchive.api.fits_table import fits_table_pieces
from skyarchive.api.mast.formats import MEDIA_TYPES, table_pieces
from skyarchive.api.mast.registry import Fields, TableResult
from skyarchive.api.portal.search import SearchRequest, portal_query
from skyarchive.api.streaming import chunked
from skyarchive.errors import BadQuery
from skyarchive.search.columns import OBSERVATION_COLUMNS, ColumnInfo, observation_column
from skyarchive.search.portal_search import matching_rows

router = APIRouter(prefix="/api/portal", tags=["Portal"])

FORMATS = {"csv": "csv", "votable": "xml", "fits": "fits"}
#: Selected rows a link may name; a larger selection is exported by its search instead.
MAX_SELECTED = 5_000
# The parameters' lengths keep a whole export link, percent-encoded (up to 12 bytes a character),
# within the request head the server reads (web.MAX_REQUEST_HEAD_BYTES): a longer one would be
# cut off with a reset connection instead of an answer. 5,000 obsids fit in 60,000 characters.


@router.get("/export")
def export(
    archive: ArchiveDep,
    format: Annotated[str, Query(description="csv, votable or fits")] = "csv",  # noqa: A002
    collection: Annotated[str, Query(max_length=20)] = "position",
    q: Annotated[str, Query(max_length=5_000)] = "",
    filters: Annotated[str, Query(max_length=20_000, description="JSON list")] = "[]",
    facets: Annotated[str, Query(max_length=10_000, description="JSON object")] = "{}",
    sort: Annotated[str | None, Query(max_length=100)] = None,
    desc: Annotated[str, Query(max_length=5)] = "",
    columns: Annotated[str, Query(max_length=2_000, description="comma-separated")] = "",
    obsids: Annotated[
        str, Query(max_length=60_000, pattern=r"^[0-9, ]*$", description="selected rows")
    ] = "",
) -> StreamingResponse:
    """The whole result table (or the selected rows) in ``format``, streamed as a file."""
    fmt = format.strip().lower()
    if fmt not in FORMATS:
        raise BadQuery(f"Unknown export format {format!r}; choose csv, votable or fits.")
    chosen = _columns(columns)
    body = _search_request(collection, q, filters, facets, sort, desc, obsids)
    query, _doi = portal_query(body, archive, with_facets=False)
    names = [c.name for c in chosen]
    conn = archive.read_engine.connect()
    try:
        now = now_mjd()
        first = matching_rows(conn, query, now=now, columns=names)
        head = next(first, None)  # a bad query fails here, as a clean 400, not mid-stream
    except BaseException:
        conn.close()
        raise

    def rows() -> Iterator[dict[str, Any]]:
        return matching_rows(conn, query, now=now, columns=names)

    def pieces() -> Iterator[bytes]:
        try:
            if fmt == "fits":
                yield from fits_table_pieces(chosen, rows)
            else:
                result = TableResult(
                    fields=Fields.of(chosen), rows=(),
                    total=0, page=1, pagesize=1, columns=chosen,
                )  # fmt: skip
                yield from table_pieces(fmt, result, _again(head, first))
        finally:
            conn.close()

    media = FITS_MEDIA_TYPE if fmt == "fits" else MEDIA_TYPES[fmt]
    filename = f"skyarchive-observations.{FORMATS[fmt]}"
    return StreamingResponse(chunked(pieces()), headers=file_headers(filename, media))


def _again(head: dict[str, Any] | None, rest: Iterator[dict[str, Any]]) -> Iterable[dict]:
    if head is not None:
        yield head
        yield from rest


def _columns(text: str) -> list[ColumnInfo]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        return [c for c in OBSERVATION_COLUMNS if c.visible]
    return list(dict.fromkeys(observation_column(n) for n in names))


def _json(text: str, name: str, kind: type) -> Any:
    try:
        value = orjson.loads(text or ("[]" if kind is list else "{}"))
    except orjson.JSONDecodeError as exc:
        raise BadQuery(f"{name} is not valid JSON ({exc}).") from None
    if not isinstance(value, kind):
        raise BadQuery(f"{name} must be a JSON {'list' if kind is list else 'object'}.")
    return value


def _search_request(
    collection: str, q: str, filters: str, facets: str, sort: str | None, desc: str, obsids: str
) -> SearchRequest:
    chosen_filters = _json(filters, "filters", list)
    selected = [i.strip() for i in obsids.split(",") if i.strip()]
    if len(selected) > MAX_SELECTED:
        raise BadQuery(f"At most {MAX_SELECTED:,} selected rows per export (got "
                       f"{len(selected):,}); export the whole search instead.")  # fmt: skip
    if selected:
        chosen_filters.append({"paramName": "obsid", "values": selected})
    try:
        return SearchRequest(
            collection=collection, text=q, filters=chosen_filters,
            facets=_json(facets, "facets", dict), sort=sort or None,
            descending=desc in ("1", "true"),
        )  # fmt: skip
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadQuery(problems) from None
