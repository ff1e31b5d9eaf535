"""``/vo/datalink/links`` (DataLink) and ``/vo/soda/sync`` (SODA cutouts): the services are
:mod:`skyarchive.vo.datalink` and :mod:`skyarchive.vo.soda`; the caller decides what they may
follow and fetch, as on the MAST API (an API token, or the portal's session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep
from skyarchive.api.errors import VoRoute
from skyarchive.api.file_headers import file_headers
from skyarchive.api.vo.params import DaliParams, add_dali_route, dali_params
from skyarchive.api.vo.vosi import add_vosi_routes
from skyarchive.vo import datalink, soda
from skyarchive.vo.identifiers import DATALINK_PATH, SODA_PATH
from skyarchive.vo.votables import serialisation

router = APIRouter(tags=["Virtual Observatory"], route_class=VoRoute)
Params = Annotated[DaliParams, Depends(dali_params)]


def links(
    archive: ArchiveDep, caller: CallerDep, base_url: PublicUrlDep, params: Params
) -> Response:
    """The links of each ``ID`` (a product's publisher DID or MAST data URI; repeatable):
    the file, its MAST URI, previews, a cutout service for images, the other levels."""
    fmt = serialisation(params.first("RESPONSEFORMAT"), (datalink.DATALINK_MEDIA_TYPE,))
    with archive.engine.connect() as conn:  # the primary: it decides link_authorized
        found = datalink.links(
            conn, params.all("ID"), authority=archive.settings.vo_authority,
            base_url=base_url, caller=caller, now=now_mjd(),
        )  # fmt: skip
    document = datalink.links_votable(found, base_url=base_url, fmt=fmt)
    return Response(document, media_type=datalink.DATALINK_MEDIA_TYPE)


def soda_sync(archive: ArchiveDep, caller: CallerDep, params: Params) -> Response:
    """A FITS cutout (with its WCS) of the image ``ID`` around ``CIRCLE`` or ``POS``."""
    made = soda.sync_cutout(
        archive, caller=caller, ids=params.all("ID"), circles=params.all("CIRCLE"),
        positions=params.all("POS"),
    )  # fmt: skip
    return Response(made.content, headers=file_headers(made.filename, made.media_type))


add_dali_route(
    router, DATALINK_PATH, links, summary="DataLink links of products", name="datalink_links"
)
add_dali_route(router, SODA_PATH, soda_sync, summary="SODA cutout of an image", name="soda_sync")
add_vosi_routes(router, DATALINK_PATH, lambda _archive: datalink.capabilities())
add_vosi_routes(router, SODA_PATH, lambda _archive: soda.capabilities())
