"""``/hips/...``: the archive's HiPS (built by ``skyarchive hips build``) as static files.

Only names a HiPS has are served (``properties``, ``Moc.fits``, ``Norder{k}/Allsky.png``,
``Norder{k}/Dir{d}/Npix{n}.png``): the path is matched whole against that pattern before it
touches the disk, so nothing else under the HiPS directory, and nothing outside it, can be
asked for. The tiles hold public data only (ingest/hips.py), so they may be cached by anyone
for an hour and read from other sites (Aladin Lite on another origin needs CORS).
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from skyarchive.errors import NotFound

HIPS_PATH = "/hips"
_NAME = re.compile(
    r"properties|Moc\.fits|Norder(?P<order>\d{1,2})/(?:Allsky\.png|Dir(?P<dir>\d{1,12})/Npix(?P<npix>\d{1,14})\.png)"
)
_MEDIA = {
    "properties": "text/plain; charset=utf-8",
    "Moc.fits": "application/fits",
    "png": "image/png",
}
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
        name = _served_name(path)
        root = request.app.state.archive.settings.resolved_hips_path
        target = root / name if name else None
        if target is None or not target.is_file():
            raise NotFound(
                f"No HiPS file {path!r} here."
                + ("" if (root / "properties").is_file() else " Run `skyarchive hips build`.")
            )
        media = _MEDIA.get(path, _MEDIA["png"])
        stat = target.stat()
        # a rebuild writes new files (new mtime), so size and mtime name this version
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        headers = {"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*", "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return FileResponse(target, media_type=media, headers=headers, stat_result=stat)

    app.add_api_route(
        f"{HIPS_PATH}/{{path:path}}", hips_file, methods=["GET", "HEAD"], include_in_schema=False
    )
