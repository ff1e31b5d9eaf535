"""Delivery requests for the portal, MRP downloads, and staged files over HTTP.

* ``GET /api/portal/deliveries`` (signed in): the caller's requests, newest first;
* ``GET /api/portal/deliveries/{id}``: one request's status and progress;
* ``GET /api/portal/deliveries/{id}/download``: the zip/tar/tar.gz stream, cURL script or
  list of download URLs;
* ``GET /api/portal/observations/{obsid}/mrp.zip``: an observation's MRP as one zip;
* ``GET /staging/{id}/...``: a staging area, with HTML indexes ``wget -r`` can walk.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.delivery_responses import (
    bundle_response,
    mrp_response,
    ranged_response,
    script_response,
    url_list_response,
)
from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep, UserDep
from skyarchive.api.errors import PageRoute
from skyarchive.api.routing import include
from skyarchive.archive import Archive
from skyarchive.delivery import basket as basket_service
from skyarchive.delivery.files import byte_range, media_type_of
from skyarchive.delivery.requests import (
    describe,
    finish_download,
    list_requests,
    owned_request,
    request_product_ids,
)
from skyarchive.delivery.service import (
    FolderMoved,
    StagedFolder,
    bundle,
    request_listing,
    staged_bytes,
    staged_file,
)

router = APIRouter(tags=["Portal delivery"])
#: The answer of each listing method: a bash script or a text list of URLs, as attachments.
_LISTING_RESPONSES = {"curl": script_response, "urls": url_list_response}
#: Staging areas are browsed by people (from the notice e-mail): their errors are pages.
staging = APIRouter(tags=["Portal delivery"], route_class=PageRoute)


def install(app: FastAPI) -> None:
    """Mount every delivery endpoint: bundles and scripts, the basket, requests, staging."""
    from skyarchive.api.mast import bundles
    from skyarchive.api.portal import basket

    for module_router in (bundles.router, basket.router, router, staging):
        include(app, module_router)


def _basket_id(archive: Archive, caller: Caller, request: Request) -> int | None:
    with archive.engine.connect() as conn:
        return basket_service.find_basket(
            conn, caller=caller, cookie=request.cookies.get(basket_service.BASKET_COOKIE),
            anonymous_days=archive.settings.anonymous_basket_days,
        )  # fmt: skip


@router.get("/api/portal/deliveries")
def my_deliveries(archive: ArchiveDep, caller: UserDep, base: PublicUrlDep) -> dict[str, Any]:
    """The signed-in caller's delivery requests (newest first) with their status."""
    with archive.engine.connect() as conn:
        found = list_requests(conn, user_id=int(caller.user_id or 0))
        return {"deliveries": [describe(conn, r, base_url=base) for r in found]}


@router.get("/api/portal/deliveries/{request_id}")
def delivery_status(
    request_id: str, request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> dict[str, Any]:
    """One request: method, status (queued, running, done, failed, expired), progress."""
    basket_id = _basket_id(archive, caller, request)
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=basket_id)
        return describe(conn, found, base_url=base)


@router.get("/api/portal/deliveries/{request_id}/download")
def delivery_download(
    request_id: str, request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> Response:
    """The files of a zip/tar/tar.gz/curl/urls request, checked against the caller again."""
    basket_id = _basket_id(archive, caller, request)
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=basket_id)
        if found.method == "staging":
            return RedirectResponse(f"/staging/{found.request_id}/", status_code=303)
        ids = request_product_ids(conn, found.request_id)

    def completed(sent: list[int]) -> None:
        with archive.engine.begin() as conn:
            finish_download(conn, found.request_id)
            if found.remove_completed and found.basket_id is not None:
                basket_service.remove_products(conn, basket_id=found.basket_id, product_ids=sent)

    if found.method in _LISTING_RESPONSES:
        listing = request_listing(archive, caller=caller, product_ids=ids, base_url=base,
                                  fmt=found.method, left_out=found.excluded,
                                  on_complete=completed)  # fmt: skip
        return _LISTING_RESPONSES[found.method](listing)
    return bundle_response(bundle(archive, caller=caller, fmt=found.method, base_url=base,
                                  product_ids=ids, on_complete=completed))  # fmt: skip


@router.get("/api/portal/observations/{obsid}/mrp.zip")
def observation_mrp(
    obsid: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> Response:
    """The observation's Minimum Recommended Products as one streamed zip."""
    return mrp_response(archive, caller, obsid=obsid, fmt="zip", base_url=base)


@staging.get("/staging/{request_id}")
def staging_root(request_id: str) -> Response:
    return RedirectResponse(f"/staging/{quote(request_id)}/", status_code=301)


# One route per method: a GET+HEAD route gives both operations one OpenAPI id.
@staging.get("/staging/{request_id}/{path:path}")
@staging.head("/staging/{request_id}/{path:path}")
def staging_files(
    request_id: str, path: str, request: Request, archive: ArchiveDep, caller: CallerDep
) -> Response:
    """A staged file (ranges supported) or a folder's HTML index; rights checked per file."""
    found = staged_file(archive, caller=caller, request_id=request_id, path=path)
    if isinstance(found, FolderMoved):
        return RedirectResponse(f"/staging/{quote(request_id)}/{quote(found.path)}", 301)
    if isinstance(found, StagedFolder):
        return HTMLResponse(_index(found))
    if found.is_manifest:  # the archive's own page: shown in place, under the page policy
        return HTMLResponse(found.local_path.read_text(encoding="utf-8"))
    return ranged_response(
        request, filename=found.filename, media_type=media_type_of(found.filename),
        size=found.size, span=byte_range(request.headers.get("range"), found.size),
        read=lambda first, last: staged_bytes(found, first=first, last=last),
    )  # fmt: skip


def _index(folder: StagedFolder) -> str:
    title = escape(f"/staging/{folder.request_id}/{folder.path}")
    links = ['<li><a href="../">../</a></li>'] if folder.path else []
    for entry in folder.entries:
        name = entry.name + ("/" if entry.is_dir else "")
        size = "" if entry.size is None else f" ({entry.size:,} bytes)"
        links.append(f'<li><a href="{quote(name)}">{escape(name)}</a>{size}</li>')
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>\n<ul>\n" + "\n".join(links) + "\n</ul></body></html>\n"
    )
