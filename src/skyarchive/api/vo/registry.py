"""``/vo/registry``: the archive's IVOA registry record (:mod:`skyarchive.vo.registry`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from skyarchive.api.deps import ArchiveDep, PublicUrlDep
from skyarchive.api.errors import VoRoute
from skyarchive.vo.identifiers import REGISTRY_PATH
from skyarchive.vo.moc import MOCS, Coverage
from skyarchive.vo.registry import registry_record
from skyarchive.vo.vosi import VOSI_MEDIA_TYPE

router = APIRouter(tags=["Virtual Observatory"], route_class=VoRoute)


@router.get(REGISTRY_PATH, summary="The archive's IVOA registry record")
def record(archive: ArchiveDep, base_url: PublicUrlDep) -> Response:
    """A VOResource (VODataService ``CatalogService``) document: publisher, contact, every VO
    service's address and the sky the archive covers, for a publishing registry to harvest."""
    with archive.search_engine.connect() as conn:
        moc = MOCS.answer(conn, Coverage(), "ascii").decode("utf-8")
    document = registry_record(archive.settings, base_url=base_url, moc_ascii=moc)
    return Response(document, media_type=VOSI_MEDIA_TYPE)
