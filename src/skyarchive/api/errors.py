"""The one error path of skyarchive's HTTP faces: every failure becomes one of our errors
(``skyarchive.errors``) and is answered here, in the shape its client reads.

* API routes answer ``{"error": {"status": 404, "type": "NotFound", "message": "..."}}``,
  built by :func:`error_body`; the MAST invoke service keeps MAST's
  ``{"status": "ERROR", "msg": "..."}`` (:func:`mast_error_body`); the VO services
  (:class:`VoRoute`) answer DALI error VOTables.
* Portal pages (routes of class :class:`PageRoute`) and paths no route serves answer the
  portal's error page to a client that prefers HTML to JSON (a browser does), and the JSON
  shape to any other (astroquery, curl, wget, scripts).
* Starlette's own HTTP errors (no such path, wrong method) and request validation errors are
  translated into the tree; an unexpected exception is logged once, with its traceback, and
  answered as an :class:`~skyarchive.errors.InternalError` that shows none of it; a database
  that could not be reached (a lost connection, one refused) is answered
  :class:`~skyarchive.errors.ServiceUnavailable`, with a time to retry.

The face is told by the route, not by the URL; the portal renders its page through the
function handed to :func:`install_error_handlers`, so this module never imports the portal.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyarchive import errors
from skyarchive.errors import InternalError, SkyArchiveError, StreamInterrupted
from skyarchive.vo.votable_errors import MEDIA_TYPE as VOTABLE_ERROR_MEDIA_TYPE
from skyarchive.vo.votable_errors import error_votable

log = logging.getLogger("skyarchive.errors")

#: Seconds a client is asked to wait when the database could not be reached (a restart or a
#: fail-over takes a few).
DATABASE_RETRY_AFTER = 5

#: Renders the portal's error page for a browser: ``render(request, error) -> Response``.
PageRenderer = Callable[[Request, SkyArchiveError], Response]


class PageRoute(APIRoute):
    """A route that answers people with pages: its errors are pages too, for a browser."""

    face = "page"


class MastRoute(APIRoute):
    """A MAST invoke route: its errors keep MAST's ``{"status": "ERROR", "msg": ...}``."""

    face = "mast"


class VoRoute(APIRoute):
    """A Virtual Observatory route (cone search, DataLink, SODA, ...): its errors are DALI
    error documents, a VOTable whose ``QUERY_STATUS`` INFO says ERROR and why, with the
    error's own HTTP status. A protocol whose clients read errors elsewhere (the cone search)
    gives its own ``error_document``."""

    face = "vo"
    error_document: Callable[[str], bytes] = staticmethod(error_votable)


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "type": kind, "message": message}}


def mast_error_body(message: str) -> dict[str, Any]:
    return {"status": "ERROR", "msg": message, "data": [], "fields": []}


def error_response(exc: SkyArchiveError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The API's JSON answer for ``exc`` (401 tells how to authenticate)."""
    headers = dict(headers or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'token realm="skyarchive"')
    return JSONResponse(
        error_body(exc.status, _kind(exc), exc.message), status_code=exc.status, headers=headers
    )


def mast_error_response(
    exc: SkyArchiveError, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """MAST's error answer; ``status`` defaults to the error's own HTTP status, ``headers`` to
    the error's own (a time to retry)."""
    return JSONResponse(
        mast_error_body(exc.message),
        status_code=status or exc.status,
        headers={**exc.headers, **(headers or {})},
    )


def vo_error_response(
    exc: SkyArchiveError,
    headers: Mapping[str, str] | None = None,
    document: Callable[[str], bytes] = error_votable,
) -> Response:
    """The VO services' answer for ``exc``: an error VOTable (401 tells how to authenticate)."""
    headers = dict(headers or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'token realm="skyarchive"')
    return Response(
        document(exc.message), status_code=exc.status, headers=headers,
        media_type=VOTABLE_ERROR_MEDIA_TYPE,
    )  # fmt: skip


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header ranks HTML above JSON (a browser's does; ``*/*`` does not)."""
    html = _quality(accept, "text", "html")
    return html > 0 and html > _quality(accept, "application", "json")


def _quality(accept: str, kind: str, subtype: str) -> float:
    """The q-value the most specific matching media range of ``accept`` gives a media type."""
    best_specificity, best_q = -1, 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        wanted_kind, _, wanted_sub = media.lower().partition("/")
        if wanted_kind == kind and wanted_sub == subtype:
            specificity = 2
        elif wanted_kind == kind and wanted_sub == "*":
            specificity = 1
        elif wanted_kind == "*" and wanted_sub == "*":
            specificity = 0
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
    return best_q


def face_of(request: Request) -> str:
    """``page``, ``mast``, ``vo`` or ``api``: who reads this request's errors. A path no
    route serves is a page (for a client that prefers HTML)."""
    route = request.scope.get("route")
    face = getattr(route, "face", None)
    if face is not None:
        return face
    return "api" if isinstance(route, APIRoute) else "page"


def install_error_handlers(app: FastAPI, render_page: PageRenderer | None = None) -> None:
    """Answer every failure of ``app`` in its face's shape (pages through ``render_page``)."""

    def answer(
        request: Request, exc: SkyArchiveError, headers: Mapping[str, str] | None = None
    ) -> Response:
        face = face_of(request)
        merged = {**exc.headers, **(headers or {})}
        if face == "page":  # the same URL answers a page or JSON: caches must keep both
            merged.setdefault("Vary", "Accept")
        accept = request.headers.get("accept", "")
        if face == "page" and render_page is not None and prefers_html(accept):
            try:
                response = render_page(request, exc)
            except Exception:  # the page itself failing must not hide the first error
                log.exception("The error page for %s failed; answering JSON", request.url.path)
                return error_response(exc, merged)
            response.headers.update(merged)
            return response
        if face == "mast":
            return mast_error_response(exc, headers=merged)
        if face == "vo":
            route = request.scope.get("route")
            return vo_error_response(exc, merged, getattr(route, "error_document", error_votable))
        return error_response(exc, merged)

    @app.exception_handler(SkyArchiveError)
    async def _ours(request: Request, exc: SkyArchiveError) -> Response:
        return answer(request, exc)

    @app.exception_handler(HTTPException)
    async def _starlette(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail
        if isinstance(exc.__cause__, RecursionError):  # FastAPI's JSON body parser gave up
            detail = "The JSON body is nested too deeply."
        error = from_http_status(exc.status_code, request, detail)
        return answer(request, error, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{_where(e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return answer(request, errors.BadQuery(problems))

    app.add_middleware(UnexpectedErrors, answer=answer)


_BY_STATUS: dict[int, type[SkyArchiveError]] = {
    cls.status: cls
    for cls in (errors.BadQuery, errors.Unauthorized, errors.Forbidden, errors.NotFound,
                errors.MethodNotAllowed, errors.PayloadTooLarge, errors.RangeNotSatisfiable)
}  # fmt: skip


def from_http_status(status: int, request: Request, detail: Any = None) -> SkyArchiveError:
    """Starlette's HTTP error (no route for the path, a method the path does not take, a body
    its parser refused...) as the error of our tree with that status."""
    if status == 404:
        return errors.NotFound(f"Nothing here at {request.url.path}.")
    if status == 405:
        return errors.MethodNotAllowed(f"{request.url.path} does not take {request.method}.")
    cls = _BY_STATUS.get(status, SkyArchiveError)
    message = detail if isinstance(detail, str) and detail else f"HTTP status {status}."
    error = cls(message)
    error.status = status
    return error


def _kind(exc: SkyArchiveError) -> str:
    """The name of the error's kind in the one vocabulary (``skyarchive.errors``): a backend's
    own subclass (the S3 store's ``S3Error``) is named by the kind it belongs to."""
    for cls in type(exc).__mro__:
        if cls.__module__ == errors.__name__:
            return cls.__name__ if cls is not SkyArchiveError else "Error"
    return "Error"


class UnexpectedErrors:
    """ASGI middleware: an exception no handler knows is logged once, with its traceback and a
    short reference, and answered as an InternalError in the request's face.

    A response that has already started (a stream failing half-way) cannot be replaced: the
    exception goes on to the server, which logs it and drops the connection, except a
    :class:`StreamInterrupted`, already logged as one line: the connection is dropped without
    a traceback.
    """

    def __init__(self, app: ASGIApp, answer: Callable[[Request, SkyArchiveError], Response]):
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except StreamInterrupted:
            if started:  # logged as one line where it failed; the server drops the connection
                return
            raise
        except Exception as exc:
            if started:
                raise
            if database_unreachable(exc):  # not ours to mend: the client may retry soon
                log.warning(
                    "The database could not be reached answering %s %s: %s",
                    scope.get("method"), scope.get("path"), type(exc).__name__,
                )  # fmt: skip
                unreachable = errors.ServiceUnavailable(
                    "The archive's database cannot be reached just now; try again in a few "
                    "seconds.", retry_after=DATABASE_RETRY_AFTER,
                )  # fmt: skip
                await self.answer(Request(scope), unreachable)(scope, receive, send)
                return
            reference = secrets.token_hex(4)
            log.exception(
                "Unexpected error [%s] answering %s %s",
                reference, scope.get("method"), scope.get("path"),
            )  # fmt: skip
            error = InternalError(
                f"Something went wrong on our side (reference {reference}). It has been "
                "logged; try again later, or tell the archive's operators the reference."
            )
            await self.answer(Request(scope), error)(scope, receive, send)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached, which the moment, not our code,
    is to blame for: a connection it dropped while in use (SQLAlchemy has invalidated it; one
    dropped while idle in the pool is replaced before use, ``db/engine.py``), or one that could
    not be opened (an error with no statement: the connect itself failed). A statement's own
    failure is not ("no such table" is a fault of ours)."""
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or (isinstance(exc, OperationalError) and not exc.statement)


def _where(loc: Any) -> str:
    """``body.filters.0`` -> ``filters.0``; the body itself (missing, not an object) -> ``body``."""
    inside = ".".join(str(part) for part in tuple(loc)[1:])
    return inside or (str(loc[0]) if loc else "request")
