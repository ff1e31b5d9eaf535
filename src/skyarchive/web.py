"""The ASGI application: every face of the archive mounted over one :class:`Archive`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from skyarchive import __version__
from skyarchive.archive import Archive

STATIC_DIR = Path(__file__).parent / "portal" / "static"


def create_app(archive: Archive) -> FastAPI:
    from skyarchive.api.mast import routes as mast_routes
    from skyarchive.portal import routes as portal_routes

    app = FastAPI(title="skyarchive", version=__version__, docs_url="/api/docs")
    app.state.archive = archive
    mast_routes.install(app)
    app.include_router(portal_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
