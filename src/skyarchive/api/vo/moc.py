"""``/vo/moc``: the archive's coverage as a MOC (the service: :mod:`skyarchive.vo.moc`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from skyarchive.api.deps import ArchiveDep
from skyarchive.api.errors import VoRoute
from skyarchive.vo.identifiers import MOC_PATH
from skyarchive.vo.moc import FORMATS, MOCS, Coverage, parse_format

router = APIRouter(tags=["Virtual Observatory"], route_class=VoRoute)


@router.get(MOC_PATH, summary="MOC coverage of the archive")
def coverage(
    archive: ArchiveDep,
    collection: Annotated[str | None, Query(description="Only this collection, e.g. JWST")] = None,
    instrument: Annotated[
        str | None, Query(description="Only this instrument, e.g. NIRCAM or MIRI/IMAGE")
    ] = None,
    format: Annotated[str | None, Query(description="fits (MOC 2.0), ascii or json")] = None,  # noqa: A002
) -> Response:
    """The sky the archive's executed observations cover (footprints, about 3.4' cells); the
    FITS file loads in Aladin and TOPCAT as it is. Public: coverage is metadata."""
    fmt = parse_format(format)
    with archive.search_engine.connect() as conn:
        made = MOCS.answer(conn, Coverage(collection, instrument), fmt)
    headers = {"Access-Control-Allow-Origin": "*"}  # Aladin Lite on another site loads it
    if fmt == "fits":
        headers["Content-Disposition"] = 'attachment; filename="skyarchive-moc.fits"'
    return Response(made, media_type=FORMATS[fmt], headers=headers)
