"""``GET /api/v0.1/cutout``: a cutout of a calibrated image around a position, for scripts and
the portal's Show Cutout (the service and its access rule: :mod:`skyarchive.delivery.cutouts`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.file_headers import file_headers
from skyarchive.delivery.cutouts import MAX_SIZE_ARCSEC, cutout

router = APIRouter(tags=["MAST downloads"])


@router.get("/api/v0.1/cutout")
def image_cutout(
    archive: ArchiveDep,
    caller: CallerDep,
    uri: Annotated[str, Query(description="Data URI of a _cal or _i2d FITS image")] = "",
    ra: Annotated[float, Query(description="Centre, ICRS right ascension (deg)")] = float("nan"),
    dec: Annotated[float, Query(description="Centre, ICRS declination (deg)")] = float("nan"),
    size: Annotated[
        float, Query(description=f"Side of the cutout (arcsec, at most {MAX_SIZE_ARCSEC:g})")
    ] = 10.0,
    format: Annotated[str, Query(description="fits (with WCS) or png")] = "fits",  # noqa: A002
) -> Response:
    """The cutout as a FITS file (attachment) or a PNG image (shown in place)."""
    made = cutout(archive, caller=caller, uri=uri, ra=ra, dec=dec, size_arcsec=size, fmt=format)
    return Response(made.content, headers=file_headers(made.filename, made.media_type))
