"""MAST-compatible HTTP endpoints: thin translations onto the service layer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import Connection

from skyarchive import loop_budget
from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.api.answer_cache import (
    AnswerCache,
    CachedAnswer,
    KeptAnswer,
    answer_cache_of,
    kept_answer,
)
from skyarchive.api.deps import CallerDep, caller_known, get_caller
from skyarchive.api.errors import MastRoute, mast_error_response
from skyarchive.api.mast import (
    edb_services,  # noqa: F401  (registers the EDB's invoke services)
    formats,
    services,  # noqa: F401  (registers the invoke services)
    wss_services,  # noqa: F401  (registers Mast.Jwst.Filtered.Wss)
)
from skyarchive.api.mast import services as _services  # noqa: F401  (registers each service)
from skyarchive.api.mast.columns_config import column_config
from skyarchive.api.mast.registry import (
    MastRequest,
    ServiceContext,
    TableResult,
    is_cached,
    request_key,
    service_handler,
)
from skyarchive.api.mast.resolver import resolved_entries
from skyarchive.api.request_body import form_field, read_body
from skyarchive.api.routing import include
from skyarchive.api.search_threads import SearchThreads, take_over
from skyarchive.api.streaming import chunked
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery, PayloadTooLarge, SkyArchiveError
from skyarchive.search.paging import parse_paging

router = APIRouter(tags=["MAST"])
#: The invoke service answers even unexpected errors in MAST's shape.
invoke_router = APIRouter(tags=["MAST"], route_class=MastRoute)


def install(app: FastAPI, *, next_most_asked: Sequence[APIRouter] = ()) -> None:
    """Mount the MAST endpoints on ``app``: the searches and the file downloads, then
    ``next_most_asked`` (another face's routes asked about as often), then the others."""
    from skyarchive.api.mast import cutouts, downloads, missions

    # The most asked first: the app tries its routes in order (web.create_app).
    include(app, invoke_router, downloads.router, *next_most_asked)
    include(app, router, cutouts.router, missions.router)


def _archive(request: Request) -> Archive:
    return request.app.state.archive


#: The form astroquery posts; parsed by hand below, described here for the OpenAPI schema.
_INVOKE_FORM = {
    "type": "object",
    "properties": {
        "request": {
            "type": "string",
            "description": 'A JSON service request: {"service": "Mast.Caom.Cone", "params": {...},'
            ' "format": "json", "page": 1, "pagesize": 5000}',
        }
    },
    "required": ["request"],
}
_INVOKE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": _INVOKE_FORM}
            for media in ("application/x-www-form-urlencoded", "multipart/form-data")
        },
    }
}


@invoke_router.post("/api/v0/invoke", openapi_extra=_INVOKE_BODY)
async def invoke_post(request: Request) -> Response:
    """Run a MAST service request (``Mast.Caom.Cone``, ``Mast.Caom.Filtered``, ...)."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raw: Any = (await request.form()).get("request")
    else:
        try:
            raw = await read_body(request, limit=MAX_INVOKE_BYTES)
        except PayloadTooLarge as exc:
            return mast_error_response(exc, status=200)
    archive = _archive(request)
    looked_up = answer_kept(archive, raw, answer_cache_of(request))
    if isinstance(looked_up, Response):
        return looked_up

    def caller_of() -> Caller:
        return get_caller(request)

    # The search is blocking work. A request the cache has just missed goes on parsed, under
    # the epoch it was looked up in. The searches share a few threads of their own
    # (settings.search_threads): with a thread per waiting request, a dozen threads pass the
    # GIL round and each search pays for the switches. On SQLite a short search is tried on
    # the loop first, on the loop's own connection (loop_budget.py); not a caller's whose token
    # or session is still to be looked up (on the shared pool, which the loop must not wait
    # for).
    threads: SearchThreads = request.app.state.search_threads
    if looked_up is None or not caller_known(request):
        return await threads.run_search(
            lambda conn: invoke(archive, raw, caller_of, looked_up, conn=conn)
        )
    parsed = looked_up
    return await threads.run_short(
        parsed.request.service.lower(),  # as the registry reads it: one name per service
        lambda conn: invoke(archive, raw, caller_of, parsed, conn=conn),
    )


def answer_kept(archive: Archive, raw: Any, cache: AnswerCache | None) -> Response | _Parsed | None:
    """The kept answer of a repeated request, looked up on the event loop: its response, or
    the request parsed with where to keep its answer once computed (:class:`_Parsed`; with
    nowhere to keep it when there is no cache), or None when the request does not parse
    (``invoke`` answers the error).

    A hit costs a parse, a look at the generation's watch and a dictionary look-up (a
    primary-key read instead where no watch can tell): less than handing the request to a
    worker thread and back, which under load, with the GIL passed between threads, cost a
    kept answer several times its own work. A read uses the loop's own engine, so it never
    waits for a connection a search holds.
    """
    if isinstance(raw, bytes):
        raw = form_field(raw, "request")
    try:
        mast_request = parse_request(raw, max_page_size=archive.settings.max_page_size)
    except SkyArchiveError:
        return None  # answered, in the right shape, by invoke()
    if cache is None or not is_cached(mast_request.service) \
            or mast_request.format not in formats.MEDIA_TYPES:  # fmt: skip
        return _Parsed(mast_request)  # nothing to keep, but parsed once only
    kept = _kept_answer(cache, archive.loop_read_engine.connect, now_mjd(), mast_request)
    found = kept.answer
    if found is None:
        return _Parsed(mast_request, kept)
    return found.response()


#: Largest url-encoded invoke body read (a product list at the obsid limit is about 60 kB).
MAX_INVOKE_BYTES = 8 * 1024 * 1024


@invoke_router.get("/api/v0/invoke")
def invoke_get(request: Request, request_: Annotated[str | None, Query(alias="request")] = None):  # type: ignore[no-untyped-def]
    return invoke(_archive(request), request_, lambda: get_caller(request),
                  cache=answer_cache_of(request))  # fmt: skip


def invoke(
    archive: Archive,
    raw: Any,
    caller_of: Callable[[], Caller] | None = None,
    missed: _Parsed | None = None,
    cache: AnswerCache | None = None,
    conn: Connection | None = None,
) -> Response:
    """Run one MAST service request; errors become ``status: ERROR`` as MAST answers them.

    A JSON client (astroquery) reads the error from the body under HTTP 200, as MAST sends
    it; a client that asked for CSV or VOTable cannot, so its errors carry their 4xx status.
    ``missed``: the answer cache's miss for this very request (:func:`answer_kept`), which
    carries the request parsed and the epoch it was looked up in. ``cache``: the app's answer
    cache (:func:`answer_cache_of`), where ``missed`` was not looked up already. ``conn``:
    the connection to search on, left open (the event loop's own, for a search tried there:
    :mod:`skyarchive.loop_budget`; a search thread's, which a streamed answer takes over:
    ``api/search_threads.take_over``); else one of the archive's
    :attr:`~Archive.search_engine`, closed once the answer is made.
    """
    parsed = missed.request if missed is not None else None
    if isinstance(raw, bytes) and parsed is None:  # a url-encoded body, not yet parsed
        raw = form_field(raw, "request")
    fmt = "json"
    try:
        mast_request = (
            parsed
            if parsed is not None
            else parse_request(raw, max_page_size=archive.settings.max_page_size)
        )
        fmt = mast_request.format
        formats.check_format(fmt)
        handler = service_handler(mast_request.service)
    except SkyArchiveError as exc:
        return _mast_error(exc, fmt)
    cache = cache if is_cached(mast_request.service) else None
    # The invoke services only read, each statement on its own: a replica, in autocommit.
    done: Callable[[], None] = _left_open  # a connection given is its giver's to close
    if conn is None:
        conn = archive.search_engine.connect()
        done = conn.close
    try:
        context = ServiceContext(archive, conn, now_mjd())
        kept = (
            missed.kept
            if missed is not None
            else _kept_answer(cache, lambda: nullcontext(conn), context.now, mast_request)
        )
        if kept.answer is not None:
            done()
            return kept.answer.response()
        if caller_of is not None:
            context.caller_of = caller_of
        with kept.computing():  # notes what the answer rests on besides the rows: keep()
            result = handler(context, mast_request)
            if isinstance(result, TableResult):
                # Reading the first rows now turns a query error into a clean ERROR answer,
                # and tells whether the answer is small enough to send whole (streaming costs
                # a thread hand-off per chunk).
                rows = loop_budget.checked(result.rows)
                head = list(islice(rows, _BUFFERED_ROWS + 1))
                media_type = formats.MEDIA_TYPES[fmt]
                if len(head) <= _BUFFERED_ROWS:
                    body = _whole_table(fmt, result, head, done)
                    loop_budget.raise_if_interrupted()
                    kept.keep(CachedAnswer(body, media_type))
                    return Response(body, media_type=media_type)
                loop_budget.must_not_wait()  # a stream waits for its client, and holds conn
                if done is _left_open:  # lent by a search thread: the stream's own from now on
                    done = take_over(conn)
                return StreamingResponse(
                    _stream_table(fmt, result, chain(head, rows), done), media_type=media_type
                )
        done()
        if fmt in formats.TABLE_FORMATS:
            raise BadQuery(
                f"{mast_request.service} answers JSON only; format {fmt!r} is for table services."
            )
        return JSONResponse(result)
    except SkyArchiveError as exc:
        done()
        return _mast_error(exc, fmt)
    except BaseException:
        done()
        raise


def _left_open() -> None:
    """What is done with a connection :func:`invoke` was given, once it answered: nothing."""


@dataclass
class _Parsed:
    """A request parsed on the event loop, with its place in the answer cache (none when its
    service is not cached), handed to :func:`invoke` so it is parsed and looked up once."""

    request: MastRequest
    kept: KeptAnswer = field(default_factory=KeptAnswer)


def _kept_answer(
    cache: AnswerCache | None,
    connect: Callable[[], AbstractContextManager[Connection]],
    now: float,
    request: MastRequest,
) -> KeptAnswer:
    """The answer kept for ``request`` (:func:`kept_answer`), its key made only when there is a
    cache to look in."""
    if cache is None:
        return KeptAnswer()
    return kept_answer(cache, connect, now, request_key(request))


def _mast_error(exc: SkyArchiveError, fmt: str) -> Response:
    return mast_error_response(exc, status=200 if fmt in formats.JSON_FORMATS else None)


def parse_request(raw: Any, *, max_page_size: int) -> MastRequest:
    if not raw:
        raise BadQuery("Missing 'request': send request=<JSON service request>.")
    if not isinstance(raw, str | bytes):  # e.g. a file part of a multipart form
        raise BadQuery("'request' must be a text field holding the JSON request, not a file.")
    try:
        # orjson refuses nesting deeper than 1024 levels and numbers beyond a double, where
        # the json module would exhaust the stack or read 1e400 as infinity.
        body = orjson.loads(raw)
    except (TypeError, ValueError) as exc:
        raise BadQuery(f"'request' is not valid JSON ({exc}).") from None
    if not isinstance(body, dict) or not isinstance(body.get("service"), str):
        raise BadQuery("The request must be a JSON object with a 'service' name.")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise BadQuery("'params' must be a JSON object.")
    page, pagesize = parse_paging(
        body.get("page", 1), body.get("pagesize", 50_000), max_page_size=max_page_size
    )
    return MastRequest(
        service=body["service"], params=params, format=formats.requested_format(body.get("format")),
        page=page, pagesize=pagesize, page_given="page" in body,
    )  # fmt: skip


_BUFFERED_ROWS = 5_000


def _whole_table(fmt: str, result: TableResult, rows: list, done: Callable[[], None]) -> bytes:
    """The table answer of rows read already, as one body (not in chunks joined again), then
    ``done()`` (which closes the connection the rows came from, if it is to be closed)."""
    try:
        return b"".join(_checked_pieces(fmt, result, rows))
    finally:
        done()


def _stream_table(
    fmt: str, result: TableResult, rows: Iterable, done: Callable[[], None]
) -> Iterator[bytes]:
    """The table answer in chunks of about 256 KiB, then ``done()`` (:func:`_whole_table`).

    Each chunk of a synchronous stream costs a hop to a worker thread, so rows are encoded and
    sent in batches rather than one by one; memory stays flat however many rows there are.
    """
    try:
        yield from chunked(_checked_pieces(fmt, result, rows))
    finally:
        done()


def _checked_pieces(fmt: str, result: TableResult, rows: Iterable) -> Iterator[bytes]:
    """The table answer's pieces, each checked against the budget of a search tried on the
    event loop (skyarchive.loop_budget): pieces, not a stream's chunks, since most answers
    are one chunk, encoded whole before a chunk's check could come."""
    return loop_budget.checked(formats.table_pieces(fmt, result, rows))


@router.get("/api/")
def api_root() -> JSONResponse:
    """The API's front door: a 200 here is the liveness check of the jwst pipeline's EDB client."""
    return JSONResponse(
        {
            "service": "skyarchive",
            "invoke": "/api/v0/invoke",
            "download": "/api/v0.1/Download/file?uri=<dataURI>",
            "docs": "/api/docs",
        }
    )


@router.post("/portal/Mashup/Mashup.asmx/columnsconfig")
def columns_config(colConfigId: Annotated[str, Form()] = "") -> JSONResponse:  # noqa: N803
    return JSONResponse(column_config(colConfigId))


@router.get("/whoami")
def whoami(caller: CallerDep) -> JSONResponse:
    """Who the caller is, in MAST's shape (astroquery's login() and session_info() read it)."""
    if caller.anonymous:
        anonymous: dict[str, object] = {
            "eppn": None,
            "ezid": "anonymous",
            "anon": True,
            "scopes": [],
            "session": None,
            "token": None,
            "attrib": {"display_name": "anonymous"},
        }
        return JSONResponse(anonymous)  # fmt: skip
    first, _, last = (caller.display_name or "").partition(" ")
    attrib = {"uuid": str(caller.user_id), "first_name": first, "last_name": last,
              "display_name": caller.display_name, "email": caller.email,
              "internal": "1" if caller.is_admin else "0"}  # fmt: skip
    return JSONResponse(
        {
            "eppn": caller.email,
            "ezid": (caller.email or "").split("@")[0],
            "anon": False,
            "scopes": ["mast:user:info", "mast:exclusive_access"],
            "session": None,
            "token": "(valid)" if caller.via_token else None,
            "attrib": attrib,
        }  # fmt: skip
    )


@router.get("/Santa-war/query")
def santa_resolver(
    request: Request,
    name: Annotated[list[str], Query()] = [],  # noqa: B006
    resolveAll: str = "False",  # noqa: N803
    resolver: Annotated[list[str], Query()] = [],  # noqa: B006
) -> JSONResponse:
    """The SANTA name resolver astroquery 0.4.11 calls (reached through HTTP_PROXY)."""
    archive = _archive(request)
    every = resolveAll.strip().lower() == "true" or bool(resolver)
    entries = [e for n in name for e in resolved_entries(archive, n, resolve_all=every)]
    return JSONResponse({"resolvedCoordinate": entries, "status": ""})


@router.get("/api/v0.1/Download/bundle.sh", include_in_schema=False)
def bundle_help() -> PlainTextResponse:
    return PlainTextResponse("POST uri=<dataURI> fields (repeated) to get a cURL script.\n")
