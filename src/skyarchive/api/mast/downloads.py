"""MAST download endpoints: single files (HEAD/GET with ranges).

Bundles, cURL scripts and staging live in :mod:`skyarchive.api.mast.bundles`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import copy_context
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from skyarchive.access.caller import Credential
from skyarchive.access.policy import Caller
from skyarchive.api.delivery_responses import ranged_response
from skyarchive.api.deps import ArchiveDep, get_caller, presented_credential
from skyarchive.api.file_headers import file_headers
from skyarchive.archive import Archive
from skyarchive.delivery.service import file_answer, file_bytes, file_redirect
from skyarchive.delivery.telemetry import is_telemetry_uri, telemetry_csv

router = APIRouter(tags=["MAST downloads"])
_REDIRECT_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


#: The headers read by hand below, described for the OpenAPI schema (and so for fuzzing).
_RANGE_HEADERS = {
    "parameters": [
        {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "bytes=first-last, bytes=first- or bytes=-suffix"},
        {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "The ETag of the partial copy the client holds"},
    ]
}  # fmt: skip


# One route per method: a GET+HEAD route gives both operations one OpenAPI id.
@router.get("/api/v0.1/Download/file", openapi_extra=_RANGE_HEADERS)
@router.head("/api/v0.1/Download/file", openapi_extra=_RANGE_HEADERS)
async def download_file(
    request: Request,
    archive: ArchiveDep,
    uri: Annotated[
        str,
        Query(
            description="Data URI, e.g. mast:JWST/product/<file>, or engineering telemetry: "
            "mast:jwstedb/<MNEMONIC>-<YYYYMMDDThhmmss>-<YYYYMMDDThhmmss>.csv"
        ),
    ] = "",
) -> Response:
    # The look-up blocks (the file's row, the caller's; a small file's bytes): it runs in
    # the app's file threads, a standard thread pool, whose hand-off costs a third of the
    # one FastAPI makes for a synchronous route, anyio's (api/search_threads.py): about a
    # tenth of a small download's CPU, served (docs/performance.md). As many threads as
    # anyio's, so as many downloads wait for storage at once; in the request's context, as
    # anyio runs them.
    work = partial(copy_context().run, _download, request, archive, uri)
    threads = request.app.state.file_threads
    return await asyncio.get_running_loop().run_in_executor(threads, work)


def _download(request: Request, archive: Archive, uri: str) -> Response:
    # The caller is looked up here, in the route's worker thread, and only when the answer
    # depends on it (a file still exclusive, telemetry), rather than as a dependency
    # (CallerDep), which would take a thread of its own and the catalogue's time for every
    # token: a small download's cost was mostly such work (docs/performance.md).
    # With a token or a session, the caller is read with the file's row, in one statement
    # (presented_credential).
    if is_telemetry_uri(uri):
        return telemetry_response(request, archive, get_caller(request), uri)
    credential = presented_credential(request)
    return file_response(request, archive, lambda: get_caller(request), uri, credential)


def telemetry_response(request: Request, archive: Archive, caller: Caller, uri: str) -> Response:
    """The CRLF CSV of an EDB window, as the jwst pipeline's EngdbMast client reads it."""
    answer = telemetry_csv(archive, caller=caller, uri=uri)
    headers = file_headers(answer.filename, "text/csv")
    if request.method == "HEAD":
        return Response(media_type="text/csv", headers=headers)
    return StreamingResponse(answer.chunks, media_type="text/csv", headers=headers)


def file_response(
    request: Request,
    archive: Archive,
    caller: Caller | Callable[[], Caller],
    uri: str,
    credential: Credential | None = None,
) -> Response:
    """One file for ``caller``, or for the caller ``credential`` stands for when given (the
    access rule is in :func:`file_answer`), ranges honoured."""
    answer = file_answer(
        archive, caller=caller, uri=uri, range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"), credential=credential,
    )  # fmt: skip
    product = answer.product
    if request.method == "GET":  # HEAD is answered here: a presigned URL is for GET only
        url = file_redirect(
            archive, answer, response_headers=file_headers(product.filename, product.media_type)
        )
        if url is not None:  # signed for whoever holds it: never cached, never sent on
            return RedirectResponse(url, status_code=307, headers=_REDIRECT_HEADERS)
    return ranged_response(
        request, filename=product.filename, media_type=product.media_type, size=product.size,
        span=(answer.first, answer.last) if answer.partial else None,
        read=lambda _first, _last: file_bytes(archive, answer),
        headers={"ETag": product.etag, "Digest": f"sha-256={product.sha256}"},
    )  # fmt: skip
