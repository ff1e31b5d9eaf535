"""VOSI ``capabilities`` and ``availability`` under each VO service's base path.

A service module calls :func:`add_vosi_routes` once with its base path and the function that
lists its capabilities (documents written by :mod:`skyarchive.vo.vosi`). Both endpoints are
anonymous, as VOSI requires, and name absolute URLs from the request's public base URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter
from fastapi.responses import Response

from skyarchive.api.deps import ArchiveDep, PublicUrlDep
from skyarchive.archive import Archive
from skyarchive.vo.vosi import (
    VOSI_MEDIA_TYPE,
    Capability,
    availability_xml,
    capabilities_xml,
    catalogue_availability,
)

#: Lists a service's capabilities (its VOSI endpoints included) for an archive.
CapabilityList = Callable[[Archive], Sequence[Capability]]


def add_vosi_routes(router: APIRouter, base_path: str, capabilities: CapabilityList) -> None:
    """Add ``GET {base_path}/capabilities`` and ``GET {base_path}/availability`` to ``router``."""

    def vosi_capabilities(archive: ArchiveDep, base_url: PublicUrlDep) -> Response:
        document = capabilities_xml(base_url, capabilities(archive))
        return Response(document, media_type=VOSI_MEDIA_TYPE)

    def vosi_availability(archive: ArchiveDep) -> Response:
        # The primary decides: a download's access check needs it, a replica may lag.
        state = catalogue_availability(archive.engine)
        return Response(availability_xml(state), media_type=VOSI_MEDIA_TYPE)

    name = base_path.strip("/").replace("/", "_")
    for resource, endpoint in (("capabilities", vosi_capabilities),
                               ("availability", vosi_availability)):  # fmt: skip
        router.add_api_route(
            f"{base_path}/{resource}", endpoint, methods=["GET"],
            name=f"{name}_{resource}", summary=f"VOSI {resource}",
        )  # fmt: skip
