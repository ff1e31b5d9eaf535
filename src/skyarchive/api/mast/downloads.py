"""MAST download endpoints: single files (HEAD/GET with ranges).

Bundles, cURL scripts and staging live in :mod:`skyarchive.api.mast.bundles`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.file_headers import file_headers
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.service import file_answer, file_bytes

router = APIRouter(tags=["MAST downloads"])


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
def download_file(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    uri: Annotated[str, Query(description="Data URI, e.g. mast:JWST/product/<file>")] = "",
) -> Response:
    answer = file_answer(
        archive, caller=caller, uri=uri, range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
    )  # fmt: skip
    product = answer.product
    headers = {
        **file_headers(product.filename, product.media_type),
        "Accept-Ranges": "bytes",
        "ETag": product.etag,
        "Digest": f"sha-256={product.sha256}",
        "Content-Length": str(answer.length),
    }
    status = 206 if answer.partial else 200
    if answer.partial:
        headers["Content-Range"] = f"bytes {answer.first}-{answer.last}/{product.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = read_ahead(file_bytes(archive, answer), name=product.filename)
    return StreamingResponse(body, status_code=status, headers=headers)
