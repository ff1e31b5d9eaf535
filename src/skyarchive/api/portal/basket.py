"""The download basket's JSON API (under /api/portal/basket); see docs/delivery.md.

A signed-in user's basket follows the account; an anonymous browser's basket is found by the
``skyarchive_basket`` cookie (random, HttpOnly, SameSite=Lax) set when it first adds something.
Thin routes over :mod:`skyarchive.delivery.basket`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
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
from skyarchive.delivery import basket as service
from skyarchive.delivery.requests import describe, owned_request, record_download, start_staging
from skyarchive.errors import BadQuery
from skyarchive.products.listing import parse_obsids

router = APIRouter(prefix="/api/portal/basket", tags=["Portal basket"])


#: A catalog id: a 64-bit integer (larger values would fail in the database, not here).
ProductId = Annotated[int, Field(ge=0, le=2**63 - 1)]


class FiltersBody(BaseModel):
    mrp: bool | None = Field(None, description="true: only MRP; false: only non-MRP")
    productType: list[str] = Field(default_factory=list)
    productSubGroupDescription: list[str] = Field(default_factory=list)
    calib_level: list[int] = Field(default_factory=list)
    extension: list[str] = Field(default_factory=list)

    def filters(self) -> service.Filters:
        return service.Filters(
            mrp=self.mrp, productType=tuple(self.productType),
            productSubGroupDescription=tuple(self.productSubGroupDescription),
            calib_level=tuple(self.calib_level),
            extension=tuple(e.lower().lstrip(".") for e in self.extension),
        )  # fmt: skip


class ObservationsBody(BaseModel):
    obsids: list[str] = Field(..., max_length=service.MAX_OBSERVATIONS)


class FilesBody(BaseModel):
    product_ids: list[ProductId] = Field(..., min_length=1, max_length=service.MAX_FILES)


class RemoveBody(BaseModel):
    obsids: list[str] = Field(default_factory=list, max_length=service.MAX_OBSERVATIONS)
    product_ids: list[ProductId] = Field(default_factory=list, max_length=1_000_000)


class DeliveryBody(BaseModel):
    method: Literal["zip", "tar", "tar.gz", "curl", "urls", "staging"]
    filters: FiltersBody = Field(default_factory=FiltersBody)
    product_ids: list[ProductId] | None = Field(
        None, description="Explicit files (else: the filters)"
    )
    remove_completed: bool = False
    email: str | None = Field(
        None, max_length=254, description="Staging: where the notice goes (anonymous callers)"
    )


def _obsids(values: list[str]) -> list[int]:
    return parse_obsids(values, limit=service.MAX_OBSERVATIONS)


def _with_cookie(archive: Archive, response: Response, cookie: str | None) -> Response:
    if cookie:
        response.set_cookie(
            service.BASKET_COOKIE, cookie, httponly=True, samesite="lax",
            secure=archive.settings.secure_cookies, path="/",
            max_age=round(archive.settings.anonymous_basket_days * 86_400),
        )  # fmt: skip
    return response


def _tree(archive: Archive, caller: Caller, basket_id: int | None, filters: service.Filters):  # type: ignore[no-untyped-def]
    now = now_mjd()
    with archive.engine.connect() as conn:
        files = service.basket_files(conn, basket_id=basket_id, now=now)
    return service.basket_tree(files, filters=filters, caller=caller, now=now)


@router.get("")
def show_basket(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    mrp: bool | None = None,
    productType: Annotated[list[str], Query()] = [],  # noqa: B006, N803
    productSubGroupDescription: Annotated[list[str], Query()] = [],  # noqa: B006, N803
    calib_level: Annotated[list[int], Query()] = [],  # noqa: B006
    extension: Annotated[list[str], Query()] = [],  # noqa: B006
) -> dict[str, Any]:
    """The basket as Mission > Observation > File with facet counts for the given filters."""
    filters = FiltersBody(
        mrp=mrp, productType=productType, productSubGroupDescription=productSubGroupDescription,
        calib_level=calib_level, extension=extension,
    ).filters()  # fmt: skip
    with archive.engine.connect() as conn:
        basket_id = service.find_basket(
            conn, caller=caller, cookie=request.cookies.get(service.BASKET_COOKIE),
            anonymous_days=archive.settings.anonymous_basket_days,
        )  # fmt: skip
    return _tree(archive, caller, basket_id, filters)


def _open(archive: Archive, caller: Caller, request: Request, conn) -> tuple[int, str | None]:  # type: ignore[no-untyped-def]
    check_csrf(caller, request.headers.get(CSRF_HEADER))
    return service.open_basket(
        conn, caller=caller, cookie=request.cookies.get(service.BASKET_COOKIE),
        anonymous_days=archive.settings.anonymous_basket_days,
    )  # fmt: skip


def _changed(
    archive: Archive, caller: Caller, request: Request, change: Callable[[Connection, int], Any]
) -> Response:
    """Open the caller's basket, apply ``change(conn, basket_id)``; answer the summary."""
    with archive.engine.begin() as conn:
        basket_id, cookie = _open(archive, caller, request, conn)
        change(conn, basket_id)
    tree = _tree(archive, caller, basket_id, service.Filters())
    return _with_cookie(archive, JSONResponse({"summary": tree["summary"]}), cookie)


@router.post("/observations")
def add_observations(
    body: ObservationsBody, request: Request, archive: ArchiveDep, caller: CallerDep
) -> Response:
    """Add observations (by obsid); answers the basket summary."""
    return _changed(archive, caller, request, lambda conn, basket_id: service.add_observations(
        conn, basket_id=basket_id, obsids=_obsids(body.obsids)))  # fmt: skip


@router.post("/files")
def add_files(
    body: FilesBody, request: Request, archive: ArchiveDep, caller: CallerDep
) -> Response:
    """Add single files (by product id, e.g. keyword-search rows); answers the basket summary."""
    return _changed(archive, caller, request, lambda conn, basket_id: service.add_products(
        conn, basket_id=basket_id, product_ids=body.product_ids))  # fmt: skip


@router.post("/remove")
def remove(body: RemoveBody, request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    """Remove observations and/or single files from the basket."""

    def change(conn: Connection, basket_id: int) -> None:
        if body.obsids:
            service.remove_observations(conn, basket_id=basket_id, obsids=_obsids(body.obsids))
        if body.product_ids:
            service.remove_products(conn, basket_id=basket_id, product_ids=body.product_ids)

    return _changed(archive, caller, request, change)


@router.delete("")
def clear(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    """Empty the basket."""
    with archive.engine.begin() as conn:
        basket_id, cookie = _open(archive, caller, request, conn)
        service.clear_basket(conn, basket_id=basket_id)
    return _with_cookie(archive, Response(status_code=204), cookie)


@router.post("/deliveries")
def deliver(
    body: DeliveryBody,
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    base: PublicUrlDep,
    enqueue: StagingQueueDep,
    client: ClientAddressDep,
) -> Response:
    """Deliver the selected files: a download link (zip, tar, tar.gz, curl, urls: a list of
    download URLs) or staging (202)."""
    now = now_mjd()
    with archive.engine.begin() as conn:
        basket_id, cookie = _open(archive, caller, request, conn)
        files = service.basket_files(conn, basket_id=basket_id, now=now)
        chosen = service.select_files(
            files, filters=body.filters.filters(), product_ids=body.product_ids
        )
        ids = [f.item.product_id for f in chosen]
        if not ids:
            raise BadQuery("No file of the basket is selected.")
        if body.method != "staging":
            request_id = record_download(
                conn, archive, caller=caller, method=body.method, product_ids=ids,
                basket_id=basket_id, remove_completed=body.remove_completed,
            )  # fmt: skip
    if body.method == "staging":
        info = start_staging(archive, caller, base_url=base, enqueue=enqueue, email=body.email,
                             product_ids=ids, basket_id=basket_id,
                             remove_completed=body.remove_completed,
                             client=client)  # fmt: skip
        return _with_cookie(archive, JSONResponse(info, status_code=202), cookie)
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=basket_id)
        info = describe(conn, found, base_url=base)
    return _with_cookie(archive, JSONResponse(info, status_code=201), cookie)
