"""``/vo/sia/query``: SIAv2 (GET or POST), with VOSI ``capabilities`` and ``availability``
under ``/vo/sia``. The query is ``vo/sia.py``'s; errors are DALI VOTables (``VoRoute``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep
from skyarchive.api.errors import VoRoute
from skyarchive.api.vo.params import DaliParams, add_dali_route, dali_params
from skyarchive.api.vo.vosi import add_vosi_routes
from skyarchive.archive import Archive
from skyarchive.vo import sia
from skyarchive.vo.identifiers import SIA_PATH
from skyarchive.vo.tap_output import VOTABLE
from skyarchive.vo.vosi import SIA2_ID, Capability, Interface, vosi_capabilities

#: The service's base: VOSI endpoints sit beside the query endpoint.
SIA_BASE = SIA_PATH.rsplit("/", 1)[0]
router = APIRouter(tags=["VO: SIAv2"], route_class=VoRoute)


def capabilities(archive: Archive) -> list[Capability]:
    query = Capability(
        SIA2_ID,
        (Interface(SIA_PATH, version="2.0", result_type=VOTABLE),),  # GET: pyvo warns on two
        description="Images and cubes of the archive's ObsCore table, by position, band, "
        "time and the other SIAv2 parameters.",
    )
    return [query, *vosi_capabilities(SIA_BASE)]


def query(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
          given: Annotated[DaliParams, Depends(dali_params)]) -> Response:  # fmt: skip
    answer = sia.search(archive, caller, given.items(), base_url=base)
    return Response(answer.body, media_type=answer.media_type)


add_dali_route(router, SIA_PATH, query, summary="SIAv2 query (ObsCore rows)", name="sia_query")
add_vosi_routes(router, SIA_BASE, capabilities)
