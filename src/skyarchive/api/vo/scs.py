"""``/vo/scs``: Simple Cone Search over observations (the service: :mod:`skyarchive.vo.scs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep
from skyarchive.api.errors import VoRoute
from skyarchive.api.vo.params import DaliParams, dali_params
from skyarchive.api.vo.vosi import add_vosi_routes
from skyarchive.vo import scs
from skyarchive.vo.identifiers import CONE_PATH
from skyarchive.vo.votables import VOTABLE_MEDIA_TYPE, serialisation


class ConeSearchRoute(VoRoute):
    error_document = staticmethod(scs.scs_error_votable)


router = APIRouter(tags=["Virtual Observatory"], route_class=ConeSearchRoute)


@router.get(CONE_PATH, summary="Simple Cone Search over observations")
def cone_search(
    archive: ArchiveDep, params: Annotated[DaliParams, Depends(dali_params)]
) -> Response:
    """Observations whose footprint the cone (``RA``, ``DEC``, ``SR`` in degrees) touches,
    nearest first, as a VOTable; ``VERB`` 1–3 chooses the columns, ``MAXREC`` the most rows,
    ``RESPONSEFORMAT`` the serialisation (``votable`` TABLEDATA, ``votable/b2`` BINARY2)."""
    fmt = serialisation(params.first("RESPONSEFORMAT"))
    request = scs.parse_request(
        params.first("RA"), params.first("DEC"), params.first("SR"),
        params.first("VERB"), params.first("MAXREC"),
    )  # fmt: skip
    with archive.search_engine.connect() as conn:
        document = scs.cone_search(conn, request, now=now_mjd(), fmt=fmt)
    return Response(document, media_type=VOTABLE_MEDIA_TYPE)


add_vosi_routes(router, CONE_PATH, lambda _archive: scs.capabilities())
