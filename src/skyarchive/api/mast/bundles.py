"""Bundle endpoints: zip/tar streams, cURL scripts, URL lists, MRP downloads, batch staging.

Every endpoint takes the same selection fields, as a form (POST) or a query string (GET):
repeated ``uri=<data URI>``, repeated (or comma-separated) ``obsid=<obsid>``, and ``mrp=true``
to keep only Minimum Recommended Products. Thin routes over :mod:`skyarchive.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.delivery_responses import (
    bundle_response,
    mrp_response,
    script_response,
    url_list_response,
)
from skyarchive.api.deps import (
    CSRF_HEADER,
    ArchiveDep,
    CallerDep,
    ClientAddressDep,
    PublicUrlDep,
    StagingQueueDep,
    check_csrf,
)
from skyarchive.archive import Archive
from skyarchive.delivery.bundles import FORMATS
from skyarchive.delivery.curl_script import ScriptEntry, curl_script
from skyarchive.delivery.requests import describe, owned_request, start_staging
from skyarchive.delivery.scripts import script_entries
from skyarchive.delivery.service import bundle
from skyarchive.delivery.url_list import url_list
from skyarchive.errors import BadQuery
from skyarchive.products.listing import parse_obsids

router = APIRouter(tags=["MAST downloads"])
_MAX_URIS = 1_000_000
_TRUE = {"1", "true", "yes", "on", "y"}


async def form_fields(request: Request) -> tuple[list[str], list[str], str | None, str | None]:
    """(uri, obsid, mrp, csrf_token) fields of a posted form of any size.

    Parsed here rather than by FastAPI, whose default form parser refuses more than 1000
    fields: a cURL script or bundle for tens of thousands of files is a normal request.
    """
    form = await request.form(max_fields=_MAX_URIS + 100)
    return (
        [str(v) for v in form.getlist("uri")],
        [str(v) for v in form.getlist("obsid")],
        str(form["mrp"]) if "mrp" in form else None,
        str(form["csrf_token"]) if "csrf_token" in form else None,
    )


#: The selection form every POST endpoint here reads by hand (:func:`form_fields`), described
#: for the OpenAPI schema.
_SELECTION_FORM = {
    "type": "object",
    "properties": {
        "uri": {"type": "array", "items": {"type": "string"}, "description": "Data URIs"},
        "obsid": {"type": "array", "items": {"type": "string"}, "description": "obsids"},
        "mrp": {"type": "string", "description": "true: only Minimum Recommended Products"},
        "csrf_token": {"type": "string", "description": "For signed-in browsers"},
    },
}
SELECTION_BODY = {
    "requestBody": {
        "content": {
            media: {"schema": _SELECTION_FORM}
            for media in ("application/x-www-form-urlencoded", "multipart/form-data")
        }
    }
}

UriQuery = Annotated[list[str], Query(description="Data URI (repeat the parameter)")]
ObsidQuery = Annotated[list[str], Query(description="obsid (repeat, or comma-separated)")]
MrpQuery = Annotated[str | None, Query(description="true: only Minimum Recommended Products")]


def selection_fields(
    uri: list[str], obsid: list[str], mrp: str | None, *, max_obsids: int
) -> tuple[list[str], list[int], bool]:
    """Validated (uris, obsids, mrp_only) from request fields."""
    uris = list(dict.fromkeys(u.strip() for u in uri if u and u.strip()))
    if len(uris) > _MAX_URIS:
        raise BadQuery(f"At most {_MAX_URIS} uri fields per request.")
    obsids = (
        parse_obsids(",".join(obsid), limit=max_obsids) if any(o.strip() for o in obsid) else []
    )
    if not uris and not obsids:
        raise BadQuery("Select something: give uri=<data URI> and/or obsid=<obsid> fields.")
    return uris, obsids, (mrp or "").strip().lower() in _TRUE


def _bundle(
    archive: Archive, caller: Caller, base: str, fmt: str,
    uri: list[str], obsid: list[str], mrp: str | None,
) -> Response:  # fmt: skip
    uris, obsids, mrp_only = selection_fields(
        uri, obsid, mrp, max_obsids=archive.settings.max_obsids
    )
    named = bundle(archive, caller=caller, fmt=fmt, base_url=base, uris=uris, obsids=obsids,
                   mrp_only=mrp_only)  # fmt: skip
    return bundle_response(named)


def _add_bundle_routes(fmt: str) -> None:
    async def post(
        request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
    ) -> Response:
        uri, obsid, mrp, _ = await form_fields(request)
        return await run_in_threadpool(_bundle, archive, caller, base, fmt, uri, obsid, mrp)

    def get(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep, uri: UriQuery = [],  # noqa: B006
            obsid: ObsidQuery = [], mrp: MrpQuery = None) -> Response:  # noqa: B006  # fmt: skip
        return _bundle(archive, caller, base, fmt, uri, obsid, mrp)

    path = f"/api/v0.1/Download/bundle.{fmt}"
    doc = f"A {fmt} of the selection, streamed while it is built, with MANIFEST.HTML."
    router.add_api_route(path, post, methods=["POST"], description=doc, name=f"bundle_{fmt}",
                         openapi_extra=SELECTION_BODY)  # fmt: skip
    router.add_api_route(path, get, methods=["GET"], description=doc, name=f"bundle_{fmt}_get")


for _fmt in FORMATS:
    _add_bundle_routes(_fmt)


@router.get("/api/v0.1/Download/mrp")
def download_mrp(
    archive: ArchiveDep,
    caller: CallerDep,
    base: PublicUrlDep,
    obsid: Annotated[str, Query(description="The observation's obsid")] = "",
    format: Annotated[str, Query(description="zip, tar or tar.gz")] = "zip",  # noqa: A002
) -> Response:
    """The Minimum Recommended Products of one observation as one streamed bundle."""
    return mrp_response(archive, caller, obsid=obsid, fmt=format, base_url=base)


@router.post("/api/v0.1/Download/bundle.sh", openapi_extra=SELECTION_BODY)
async def bundle_script(
    request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> Response:
    """A bash cURL script fetching the selection (astroquery's ``curl_flag=True``)."""
    lines = await _listed_entries(request, archive, caller)
    return script_response(curl_script(lines, base_url=base))


@router.post("/api/v0.1/Download/urls", openapi_extra=SELECTION_BODY)
async def bundle_url_list(
    request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> Response:
    """The selection's download URLs, one a line (``text/uri-list``): the files the cURL script
    of the same selection fetches, with the same note on exclusive-access files."""
    lines = await _listed_entries(request, archive, caller)
    return url_list_response(url_list(lines, base_url=base))


async def _listed_entries(
    request: Request, archive: Archive, caller: Caller
) -> Iterator[ScriptEntry | str]:
    """The posted selection's entries for a cURL script or a URL list (streamed)."""
    uri, obsid, mrp, _ = await form_fields(request)
    uris, obsids, mrp_only = selection_fields(
        uri, obsid, mrp, max_obsids=archive.settings.max_obsids
    )
    return script_entries(archive.engine, caller, uris=uris, obsids=obsids, mrp_only=mrp_only)


@router.post("/api/v0.1/Download/stage", status_code=202, openapi_extra=SELECTION_BODY)
async def stage(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    base: PublicUrlDep,
    enqueue: StagingQueueDep,
    client: ClientAddressDep,
) -> JSONResponse:
    """Queue a batch staging request; the answer says where its status is shown.

    Signed-in callers get the notice at their account's address (or ``email``); anonymous
    callers give ``email`` and may stage public files only.
    """
    uri, obsid, mrp, csrf_token = await form_fields(request)
    check_csrf(caller, request.headers.get(CSRF_HEADER) or csrf_token)
    email = (await request.form()).get("email")
    uris, obsids, mrp_only = selection_fields(
        uri, obsid, mrp, max_obsids=archive.settings.max_obsids
    )
    info = await run_in_threadpool(
        partial(start_staging, archive, caller, base_url=base, enqueue=enqueue,
                email=str(email) if email else None, uris=uris, obsids=obsids,
                mrp_only=mrp_only, client=client)
    )  # fmt: skip
    return JSONResponse(info, status_code=202)


@router.get("/api/v0.1/Download/stage/{request_id}")
def stage_status(
    request_id: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> dict[str, Any]:
    """Status of a staging request: queued, running, done, failed or expired."""
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=None)
        return describe(conn, found, base_url=base)
