"""The portal's search endpoints (JSON): searches, column facts, value counts, one observation.

Thin translations onto :mod:`skyarchive.search.portal_query` and
:mod:`skyarchive.search.portal_search`; errors take the one shape of :mod:`skyarchive.api.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from orjson import Fragment
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from skyarchive import loop_budget
from skyarchive.access.policy import Caller, may_retrieve, retrieval_scope
from skyarchive.access.rights import now_mjd
from skyarchive.api.answer_cache import CachedAnswer, KeptAnswer, answer_cache_of, kept_answer
from skyarchive.api.deps import ArchiveDep, CallerDep, caller_dependency, get_archive
from skyarchive.api.json_answer import JsonAnswer
from skyarchive.api.search_threads import SearchThreads
from skyarchive.delivery.cutouts import CUTTABLE_SUFFIXES
from skyarchive.doi.service import observations_of_doi
from skyarchive.errors import UnknownColumn
from skyarchive.products.details import observation_details
from skyarchive.search.columns import observation_column
from skyarchive.search.observations import carried_index, with_members
from skyarchive.search.portal_query import parse_position_text, parse_program_ids
from skyarchive.search.portal_search import (
    CARRIED,
    DEFAULT_LIMIT,
    FACETS,
    PortalQuery,
    column_facts,
    column_values,
    count_matching,
    run_search,
)

#: Largest page the portal's grid asks for.
MAX_PAGE_SIZE = 500

router = APIRouter(prefix="/api/portal", tags=["Portal"])


class SearchRequest(BaseModel):
    collection: Literal["position", "program", "filters", "doi"] = "position"
    # Long enough for a list of program IDs beyond the limit, so the answer can name the limit.
    text: str = Field(
        "",
        max_length=100_000,
        description="'m57 r=1m', '283.396 33.029', '1073, 1558', or a DOI '10.17909/...'",
    )
    filters: list[dict[str, Any]] = Field(default_factory=list, description="MAST-style filters")
    facets: dict[str, list[str | int]] = Field(
        default_factory=dict, description="chosen facet values: {column: [values]}"
    )
    sort: str | None = Field(None, max_length=100, description="column to sort by")
    descending: bool = False
    page: int = Field(1, ge=1, le=10**9)
    pagesize: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE, description="rows per page")
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=50_000, description="rows of the one page when no pagesize"
    )


class ValuesRequest(BaseModel):
    column: str
    filters: list[dict[str, Any]] = Field(default_factory=list)


def portal_query(
    body: SearchRequest, archive: Any, *, with_facets: bool = True
) -> tuple[PortalQuery, Any]:
    """The service's query for a request body (the search text read as a position, programs
    or a DOI), and the DOI it names (None for other collections)."""
    position = None
    programs: list[str] = []
    text = body.text.strip()
    filters, limit, doi = body.filters, body.limit, None
    if body.collection == "position" and (text or not body.filters):
        position = parse_position_text(text, archive.resolver)
    elif body.collection == "program" and (text or not body.filters):
        programs = parse_program_ids(text)
    elif body.collection == "doi":  # MAST's DOIOBS: the observations a DOI names
        doi, obsids = observations_of_doi(archive.engine, text)
        filters = [{"paramName": "obsid", "values": [str(o) for o in obsids]}, *filters]
        limit = max(limit, len(obsids))
    pagesize = body.pagesize or min(limit, archive.settings.max_page_size)
    query = PortalQuery(
        position=position, programs=programs, filters=filters, facets=body.facets,
        sort=body.sort, descending=body.descending, page=body.page, pagesize=pagesize,
        with_facets=with_facets,
    )  # fmt: skip
    return query, doi


class _KeptSearchRoute(APIRoute):
    """The portal search's route: a repeated search is answered from the answer cache before
    FastAPI reads its body as a :class:`SearchRequest` (the JSON parse, the validation and
    the solving of the body were two thirds of a repeated search's own work on the app); a
    new one goes on to the endpoint, with where to keep its answer (:class:`_LookedUp`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            looked_up = await _look_up(request)
            found = looked_up.kept.answer
            if found is not None:
                return found.response()
            request.state.portal_search = looked_up
            return await endpoint(request)

        return handler


@dataclass(frozen=True)
class _LookedUp:
    """What the route learnt before the endpoint runs: the time the search is computed at
    (the epoch's) and the search's place in the answer cache (the caller it read is the
    request's own, ``get_caller``'s)."""

    now: float
    kept: KeptAnswer


async def _look_up(request: Request) -> _LookedUp:
    """The search's place in the answer cache. Its answer depends on the request and, through
    each row's ``mayRetrieve`` and ``preview``, on what the caller may retrieve: the key holds
    both (the caller as :func:`retrieval_scope`, so a PI's answer is never another's). The
    body is keyed as sent, bytes and content type, before it is read: equal bytes are an
    equal request (the answer echoes its filters in their order), and a body FastAPI would
    refuse was never answered, so nothing is kept under it."""
    # The archive and the caller are read here, not as dependencies (ArchiveDep, CallerDep):
    # FastAPI's solving of two more dependencies was ~15% of a repeated search on the app.
    archive, caller, now = get_archive(request), await caller_dependency(request), now_mjd()
    cache = answer_cache_of(request)
    if cache is None:
        return _LookedUp(now, KeptAnswer())
    asked = orjson.dumps(
        ["portal/search", retrieval_scope(caller), request.headers.get("content-type")]
    )
    key = asked + b"\n" + await request.body()  # the JSON before it holds no raw newline
    return _LookedUp(now, kept_answer(cache, archive.loop_read_engine.connect, now, key))


async def search(body: SearchRequest, request: Request) -> Response:
    """One page of a portal search (nearest first for positions, or by ``sort``), every column,
    with the total and the facet counts over the whole match set. Each row tells whether the
    caller may retrieve its files (``mayRetrieve``) and, if so, its ``preview`` image's URL.

    A repeated search is answered from the answer cache on the event loop, without a hand-off
    to a worker thread (as the MAST API's, ``api/mast/routes.py``), by its route
    (:class:`_KeptSearchRoute`), before this runs."""
    archive, caller = get_archive(request), await caller_dependency(request)  # read already
    looked_up: _LookedUp = request.state.portal_search  # by the route, before this ran
    now, kept = looked_up.now, looked_up.kept
    # the uncached searches' few threads, shared with the MAST API's (web.create_app); on
    # SQLite a short search is tried on the loop first, with the loop's own engine
    # (loop_budget.py), but for a DOI's, which reads the primary's pool. DOI searches are
    # not kept: a DOI's observations are not catalogue tables, whose writes move the
    # generation.
    threads: SearchThreads = request.app.state.search_threads
    if body.collection == "doi":
        return await threads.run(search_answer, body, archive, caller, now)
    answer = await threads.run_short(
        _PORTAL_SEARCH,
        lambda conn: kept.computed(search_answer, body, archive, caller, now, conn=conn),
    )
    kept.keep(CachedAnswer(bytes(answer.body), JsonAnswer.media_type))
    return answer


router.add_api_route(
    "/search", search, methods=["POST"], response_class=JsonAnswer,
    route_class_override=_KeptSearchRoute,
)  # fmt: skip


#: The portal search's name among the services whose searches are tried on the loop first.
_PORTAL_SEARCH = "portal search"


def search_answer(
    body: SearchRequest, archive: Any, caller: Caller, now: float, conn: Connection | None = None
) -> JsonAnswer:
    """The search's answer, computed (blocking: run it in a worker thread, or on the loop under
    a budget, :mod:`skyarchive.loop_budget`), on ``conn``, left open (the loop's), or else on a
    connection of the archive's :attr:`~skyarchive.archive.Archive.search_engine`."""
    query, doi = portal_query(body, archive)
    position, programs, text = query.position, list(query.programs), body.text.strip()
    with nullcontext(conn) if conn is not None else archive.search_engine.connect() as searched:
        result = run_search(searched, query, now=now)
    rows = [
        _with_retrieval(text, values, caller, now)
        for text, values in loop_budget.checked(result.rows)
    ]
    display = _display(result.position, programs, body.filters)
    if doi is not None:
        display = "; ".join(part for part in (f"DOI {doi.doi}: {doi.title}", display) if part)
    return JsonAnswer({
        "query": {
            "collection": body.collection,
            "text": text,
            "display": display,
            "position": None if position is None else {
                "ra": position.ra, "dec": position.dec, "radius": position.radius,
                "name": position.name, "canonical_name": position.canonical_name,
                "resolver": position.resolver,
            },
            "programs": programs,
            "filters": body.filters,
        },
        "columns": column_facts(result.columns),
        "rows": rows,
        "total": result.total,
        "matched": result.matched,
        "page": query.page,
        "pagesize": query.pagesize,
        "sort": body.sort,
        "descending": body.descending,
        "facets": result.facets,
        "returned": len(result.rows),
        "message": _nothing_found(position, programs, body.filters) if not result.total else "",
    })  # fmt: skip


#: Where the columns the caller's members are decided by lie beside a row's JSON text.
_CARRIED_AT = carried_index(CARRIED)
_PROPOSAL, _RELEASE, _PREVIEW = (
    _CARRIED_AT[n] for n in ("proposal_id", "t_obs_release", "jpegURL")
)


def _with_retrieval(text: str, values: Sequence[Any], caller: Caller, now: float) -> Fragment:
    """A row's JSON text with what its caller may do joined on: ``mayRetrieve`` (the one
    access rule) and, if so, its ``preview`` image's URL."""
    allowed = may_retrieve(caller, proposal_id=values[_PROPOSAL],
                           t_obs_release=values[_RELEASE], now=now)  # fmt: skip
    preview = values[_PREVIEW]
    members = orjson.dumps(
        {"mayRetrieve": allowed, "preview": file_url(preview) if allowed and preview else None}
    )
    return Fragment(with_members(text, members.decode()[1:-1]))


def _nothing_found(position: Any, programs: list[str], filters: list[dict[str, Any]]) -> str:
    """What the portal says when a search matches nothing."""
    also = " with these filters" if filters else ""
    if programs:
        label = "programs " if len(programs) > 1 else "program "
        return f"No observations found for {label}{', '.join(programs)}{also}"
    if position is not None:
        return f"No observations found for {position.display}{also}"
    return "No observations match these filters"


def _display(position: Any, programs: list[str], filters: list[dict[str, Any]]) -> str:
    parts = []
    if position is not None:
        parts.append(position.display)
    if programs:
        parts.append(("Programs " if len(programs) > 1 else "Program ") + ", ".join(programs))
    for entry in filters:
        try:
            label = observation_column(str(entry.get("paramName"))).label
        except UnknownColumn:
            label = str(entry.get("paramName"))
        parts.append(f"{label}: {filter_values_text(entry)}")
    return "; ".join(parts)


def filter_values_text(entry: dict[str, Any]) -> str:
    """A filter's values as the status line shows them: ``F1000W, F770W``, ``59700..59800``.

    MAST lets ``values`` be one value instead of a list; it is shown as such.
    """
    values = entry.get("values", [])
    values = values if isinstance(values, list) else [values]
    shown = [
        f"{v.get('min') if v.get('min') is not None else ''}.."
        f"{v.get('max') if v.get('max') is not None else ''}"
        if isinstance(v, dict) else str(v)
        for v in values
    ]  # fmt: skip
    if entry.get("freeText"):
        shown.append(str(entry["freeText"]))
    return ", ".join(shown)


@router.get("/columns")
def columns() -> dict[str, Any]:
    """The observation columns: labels, types, which are shown and faceted by default."""
    return {"columns": column_facts(), "facets": list(FACETS)}


@router.post("/values")
def values(body: ValuesRequest, archive: ArchiveDep) -> dict[str, Any]:
    """Values of a column with counts (or its range), under the other filters."""
    with archive.search_engine.connect() as conn:
        return column_values(conn, body.column, now=now_mjd(), filters=body.filters)


class CountRequest(BaseModel):
    filters: list[dict[str, Any]] = Field(default_factory=list)


@router.post("/count")
def count(body: CountRequest, archive: ArchiveDep) -> dict[str, int]:
    """How many observations the filters match (the Advanced Search dialog's live count)."""
    with archive.search_engine.connect() as conn:
        return {"count": count_matching(conn, now=now_mjd(), filters=body.filters)}


@router.get("/observations/{obsid}")
def observation(obsid: str, archive: ArchiveDep, caller: CallerDep) -> dict[str, Any]:
    """One observation, its products and the links to preview and download them.

    The preview link and the images Show Cutout cuts are given only to a caller who may
    retrieve the observation's files; otherwise ``previewRestricted`` says a preview exists
    behind the exclusive-access period.
    """
    with archive.engine.connect() as conn:  # the primary: it decides who gets the preview
        details = observation_details(conn, obsid, caller=caller, now=now_mjd())
    row = details["observation"]
    allowed = details["mayRetrieve"]
    for product in details["products"]:
        product["download"] = file_url(product["dataURI"])
    has_preview = bool(row.get("jpegURL"))
    details["previewRestricted"] = has_preview and not details["mayRetrieve"]
    details["links"] = {
        "preview": file_url(row["jpegURL"]) if has_preview and allowed else None,
        # Images Show Cutout cuts: only of files the caller may retrieve (the rule of cutouts).
        "cutouts": [
            p["dataURI"]
            for p in details["products"]
            if allowed and str(p.get("productFilename", "")).endswith(CUTTABLE_SUFFIXES)
        ],
        "mrp": mrp_url(row["obsid"]),
        "data": file_url(row["dataURL"]) if row.get("dataURL") else None,
    }
    return details


#: What ``quote(uri, safe=":/")`` leaves as it is: its always-safe ASCII and the two safe marks.
_QUOTED_AS_IS = re.compile(r"[A-Za-z0-9_.~:/-]*")


def file_url(uri: str) -> str:
    # a row or two per row of a page: the common URI, already plain, is not quoted again
    shown = uri if _QUOTED_AS_IS.fullmatch(uri) else quote(uri, safe=":/")
    return f"/api/v0.1/Download/file?uri={shown}"


def mrp_url(obsid: str) -> str:
    return f"/api/v0.1/Download/mrp?obsid={obsid}"
