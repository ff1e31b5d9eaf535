"""Delivery requests for the portal, MRP downloads, and staged files over HTTP.

* ``GET /api/portal/deliveries`` (signed in): the caller's requests, newest first;
* ``GET /api/portal/deliveries/{id}``: one request's status and progress;
* ``GET /api/portal/deliveries/{id}/download``: the zip/tar/tar.gz stream or cURL script;
* ``GET /api/portal/observations/{obsid}/mrp.zip``: an observation's MRP as one zip;
* ``GET /staging/{id}/...``: a staging area, with HTML indexes ``wget -r`` can walk.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from skyarchive.access.policy import Caller, check_retrieval, may_retrieve
from skyarchive.access.rights import now_mjd
from skyarchive.api.delivery_responses import bundle_response, mrp_response, script_response
from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep, UserDep
from skyarchive.api.errors import PageRoute
from skyarchive.archive import Archive
from skyarchive.db.tables import delivery_files, observations, products
from skyarchive.delivery import basket as basket_service
from skyarchive.delivery.curl_script import curl_script
from skyarchive.delivery.requests import (
    EXPIRED,
    describe,
    finish_download,
    list_requests,
    owned_request,
    request_product_ids,
)
from skyarchive.delivery.scripts import script_entry
from skyarchive.delivery.selection import require_deliverable, resolve_selection
from skyarchive.errors import BadQuery, NotFound

router = APIRouter(tags=["Portal delivery"])
#: Staging areas are browsed by people (from the notice e-mail): their errors are pages.
staging = APIRouter(tags=["Portal delivery"], route_class=PageRoute)


def install(app: FastAPI) -> None:
    """Mount every delivery endpoint: bundles and scripts, the basket, requests, staging."""
    from skyarchive.api.mast import bundles
    from skyarchive.api.portal import basket

    for module_router in (bundles.router, basket.router, router, staging):
        app.include_router(module_router)


def _basket_id(archive: Archive, caller: Caller, request: Request) -> int | None:
    with archive.engine.connect() as conn:
        return basket_service.find_basket(
            conn, caller=caller, cookie=request.cookies.get(basket_service.BASKET_COOKIE)
        )


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
    """The files of a zip/tar/tar.gz/curl request, checked against the caller again."""
    basket_id = _basket_id(archive, caller, request)
    now = now_mjd()
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=basket_id)
        if found.method == "staging":
            return RedirectResponse(f"/staging/{found.request_id}/", status_code=303)
        ids = request_product_ids(conn, found.request_id)
        check_storage = found.method != "curl"
        selection = resolve_selection(
            conn, archive.storage if check_storage else None, caller=caller, now=now,
            product_ids=ids,
        )  # fmt: skip
    require_deliverable(selection, caller, now=now)

    def completed() -> None:
        with archive.engine.begin() as conn:
            finish_download(conn, found.request_id)
            if found.remove_completed and found.basket_id is not None:
                basket_service.remove_products(
                    conn, basket_id=found.basket_id,
                    product_ids=[item.product_id for item in selection.items],
                )  # fmt: skip

    if found.method == "curl":
        entries = [script_entry(item, allowed=True) for item in selection.items] + [
            f"not included ({e.reason}): {e.path or e.name}" for e in selection.excluded
        ]

        def pieces():  # type: ignore[no-untyped-def]
            yield from curl_script(entries, base_url=base)
            completed()

        return script_response(pieces())
    return bundle_response(
        archive, caller, fmt=found.method, selection=selection, base_url=base,
        on_complete=completed,
    )  # fmt: skip


@router.get("/api/portal/observations/{obsid}/mrp.zip")
def observation_mrp(
    obsid: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep
) -> Response:
    """The observation's Minimum Recommended Products as one streamed zip."""
    return mrp_response(archive, caller, obsid=obsid, fmt="zip", base_url=base)


def _area(archive: Archive, request_id: str) -> Path:
    if not request_id.replace("-", "").replace("_", "").isalnum() or len(request_id) > 40:
        raise NotFound("No such staging area.")
    with archive.engine.connect() as conn:
        from skyarchive.delivery.requests import get_request

        found = get_request(conn, request_id)
    if found.method != "staging" or found.status == EXPIRED:
        raise NotFound(f"Staging area {request_id} does not exist or has expired.")
    if found.expires_at is not None and found.expires_at < time.time():
        raise NotFound(f"Staging area {request_id} has expired.")
    area = archive.settings.resolved_staging_path / request_id
    if not area.is_dir():
        raise NotFound(f"Staging area {request_id} is not ready yet.")
    return area


@staging.get("/staging/{request_id}")
def staging_root(request_id: str) -> Response:
    return RedirectResponse(f"/staging/{quote(request_id)}/", status_code=301)


# One route per method: a GET+HEAD route gives both operations one OpenAPI id.
@staging.get("/staging/{request_id}/{path:path}")
@staging.head("/staging/{request_id}/{path:path}")
def staging_files(request_id: str, path: str, archive: ArchiveDep, caller: CallerDep) -> Response:
    """A staged file (ranges supported) or a directory's HTML index."""
    parts = [p for p in path.split("/") if p]
    if any(p.startswith(".") or "\\" in p or not p.isprintable() for p in parts):
        raise BadQuery(
            f"Invalid path {path[:80]!r}: no hidden names, backslashes or control characters."
        )
    area = _area(archive, request_id)
    target = area.joinpath(*parts)
    if not target.resolve().is_relative_to(area.resolve()):
        raise NotFound("No such file.")
    if target.is_dir():
        if path and not path.endswith("/"):
            return RedirectResponse(f"/staging/{request_id}/{path}/", status_code=301)
        return HTMLResponse(_index(request_id, path, target))
    if not target.is_file():
        raise NotFound(f"No file {path!r} in staging area {request_id}.")
    if parts and parts[-1] != "MANIFEST.HTML":
        _check_staged_file(archive, caller, request_id, "/".join(parts))
    return FileResponse(target, filename=parts[-1], content_disposition_type="inline")


def _check_staged_file(archive: Archive, caller: Caller, request_id: str, rel: str) -> None:
    query = (
        select(products.c.productFilename, products.c.proposal_id, observations.c.t_obs_release)
        .join(delivery_files, delivery_files.c.product_id == products.c.product_id)
        .outerjoin(observations, observations.c.obsid == products.c.owner_obsid)
        .where(delivery_files.c.request_id == request_id, delivery_files.c.path == rel)
    )
    with archive.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"No file {rel!r} in staging area {request_id}.")
    now = now_mjd()
    if not may_retrieve(caller, proposal_id=row.proposal_id, t_obs_release=row.t_obs_release,
                        now=now):  # fmt: skip
        check_retrieval(caller, filename=row.productFilename, proposal_id=row.proposal_id,
                        t_obs_release=row.t_obs_release, now=now)  # fmt: skip


def _index(request_id: str, path: str, folder: Path) -> str:
    title = escape(f"/staging/{request_id}/{path}")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    links = ['<li><a href="../">../</a></li>'] if path else []
    for entry in entries:
        name = entry.name + ("/" if entry.is_dir() else "")
        size = "" if entry.is_dir() else f" ({entry.stat().st_size:,} bytes)"
        links.append(f'<li><a href="{quote(name)}">{escape(name)}</a>{size}</li>')
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>\n<ul>\n" + "\n".join(links) + "\n</ul></body></html>\n"
    )
