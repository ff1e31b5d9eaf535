"""MAST download endpoints: single files (HEAD/GET with ranges).

Bundles, cURL scripts and staging live in :mod:`skyarchive.api.mast.bundles`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.delivery.files import authorise, byte_range, find_product, read_bytes
from skyarchive.delivery.readahead import read_ahead

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
    with archive.engine.connect() as conn:
        product = find_product(conn, uri)
    authorise(caller, product, now=now_mjd())
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": product.etag,
        "Content-Disposition": f'attachment; filename="{product.filename}"',
        "Digest": f"sha-256={product.sha256}",
    }
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range and if_range.strip() != product.etag:
        wanted = None  # the client's partial copy is of another version: send it whole
    span = byte_range(wanted, product.size)
    first, last = span if span else (0, product.size - 1)
    headers["Content-Length"] = str(last - first + 1 if product.size else 0)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{product.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=product.media_type)
    body = read_bytes(archive.storage, product, first, last) if product.size else iter(())
    return StreamingResponse(read_ahead(body), status_code=status, headers=headers,
                             media_type=product.media_type)  # fmt: skip
