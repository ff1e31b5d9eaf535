"""The one JSON error shape of skyarchive's HTTP API, built in one place.

``{"error": {"status": 404, "type": "NotFound", "message": "..."}}`` for every face except the
MAST invoke service, whose clients expect ``{"status": "ERROR", "msg": "..."}`` with HTTP 200.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyarchive.errors import SkyArchiveError


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "type": kind, "message": message}}


def error_response(exc: SkyArchiveError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.status, type(exc).__name__, exc.message),
        status_code=exc.status,
        headers={"WWW-Authenticate": 'token realm="skyarchive"'} if exc.status == 401 else None,
    )


def mast_error_body(message: str) -> dict[str, Any]:
    return {"status": "ERROR", "msg": message, "data": [], "fields": []}


_TITLES = {400: "That did not work", 401: "Please log in", 403: "Not allowed",
           404: "Not found", 413: "Too large", 416: "Range not satisfiable"}  # fmt: skip


def wants_html(request: Request) -> bool:
    """Portal pages (not API calls) answer errors with a readable page."""
    path = request.url.path
    api = path.startswith(("/api/", "/portal/Mashup/", "/whoami", "/Santa-war/", "/search/"))
    return not api and "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SkyArchiveError)
    async def _ours(request: Request, exc: SkyArchiveError) -> Response:
        if wants_html(request):
            from skyarchive.portal.account_routes import templates

            context = {"status": exc.status, "title": _TITLES.get(exc.status, "Error"),
                       "message": exc.message}  # fmt: skip
            return templates.TemplateResponse(request, "error.html", context,
                                               status_code=exc.status)  # fmt: skip
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return JSONResponse(error_body(400, "BadQuery", problems), status_code=400)

    install_fallback_handlers(app)


_KINDS = {400: "BadQuery", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
          405: "MethodNotAllowed", 413: "PayloadTooLarge", 415: "UnsupportedMediaType"}  # fmt: skip


def install_fallback_handlers(app: FastAPI) -> None:
    """Errors raised outside our own tree still answer in the one shape.

    Starlette's HTTP errors (unknown route, wrong method, a JSON body FastAPI could not read)
    keep their status; anything unexpected is a 500 that names no internals (the traceback
    goes to the server log). The MAST invoke endpoint answers in MAST's shape.
    """

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):
            message = "The JSON body is nested too deeply."
        kind = _KINDS.get(exc.status_code, "HTTPError")
        body = (mast_error_body(message) if _is_mast(request)
                else error_body(exc.status_code, kind, message))  # fmt: skip
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(UnexpectedErrorMiddleware)


class UnexpectedErrorMiddleware:
    """Any exception no handler took becomes a 500 in the one shape, logged with its traceback.

    A plain ASGI middleware rather than an ``Exception`` handler: Starlette re-raises after such
    a handler answers, and uvicorn then drops the client's keep-alive connection. An error after
    the answer has started cannot be turned into another answer; it is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            _log.exception("Unexpected error on %s %s", scope.get("method"), scope.get("path"))
            message = "The server failed on this request; the error has been logged."
            path = scope.get("path", "")
            body = (mast_error_body(message) if path.startswith(_MAST_INVOKE)
                    else error_body(500, "ServerError", message))  # fmt: skip
            await JSONResponse(body, status_code=500)(scope, receive, send)


_MAST_INVOKE = "/api/v0/invoke"
_log = logging.getLogger("skyarchive.api")


def _is_mast(request: Request) -> bool:
    return request.url.path.startswith(_MAST_INVOKE)
