"""``/hips/...``: the archive's HiPS (built by ``skyarchive hips build``) as static files.

Only names a HiPS has are served (``properties``, ``Norder{k}/Allsky.png``,
``Norder{k}/Dir{d}/Npix{n}.png``): the path is matched whole against that pattern before it
becomes a storage key, so nothing else of the HiPS build, and nothing outside it, can be asked
for. The files are read through the storage seam (:mod:`skyarchive.ingest.hips_store`), so an
archive on S3 serves its sky as a local one does. The tiles hold public data only
(ingest/hips.py), so they may be cached by anyone for an hour and read from other sites
(Aladin Lite on another origin needs CORS).
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from skyarchive.archive import Archive
from skyarchive.errors import NotFound
from skyarchive.ingest import hips_store

HIPS_PATH = "/hips"
_NAME = re.compile(
    r"properties|Norder(?P<order>\d{1,2})/(?:Allsky\.png|Dir(?P<dir>\d{1,12})/Npix(?P<npix>\d{1,14})\.png)"
)
_MEDIA = {"properties": "text/plain; charset=utf-8", "png": "image/png"}
CACHE_CONTROL = "public, max-age=3600"


def _served_name(path: str) -> str | None:
    """``path`` if it names a HiPS file in its canonical form, else None."""
    match = _NAME.fullmatch(path)
    if not match:
        return None
    if match["npix"] is not None and int(match["dir"]) != int(match["npix"]) // 10000 * 10000:
        return None
    return path


def install(app: FastAPI) -> None:
    """Serve the HiPS of ``app.state.archive`` under :data:`HIPS_PATH`."""

    def hips_file(path: str, request: Request) -> Response:
        archive = request.app.state.archive
        name = _served_name(path)
        found = hips_store.hips_file(archive.engine, archive.storage, name) if name else None
        if found is None:
            raise NotFound(f"No HiPS file {path!r} here.{_why_none(archive)}")
        media = _MEDIA["properties" if found.name == "properties" else "png"]
        # a build's files never change (a rebuild is a new build), so the build names the bytes
        etag = f'"{found.build}"'
        headers = {"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*", "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if found.local_path is not None:
            return FileResponse(found.local_path, media_type=media, headers=headers)
        body = b"".join(archive.storage.open_range(found.key))  # tiles are small: one read
        return Response(body, media_type=media, headers=headers)

    app.add_api_route(
        f"{HIPS_PATH}/{{path:path}}", hips_file, methods=["GET", "HEAD"], include_in_schema=False
    )


def _why_none(archive: Archive) -> str:
    stale = hips_store.stale_reason(archive.engine)
    if stale:
        return f" The sky is withheld until `skyarchive hips build` runs again: {stale}."
    if hips_store.served_build(archive.engine) is None:
        return " Run `skyarchive hips build`."
    return ""
