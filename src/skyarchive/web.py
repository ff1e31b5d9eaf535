"""The ASGI application: every face of the archive mounted over one :class:`Archive`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from skyarchive import __version__
from skyarchive.api.errors import install_error_handlers
from skyarchive.api.forwarded import ForwardedHeadersMiddleware
from skyarchive.api.proxy_target import AbsoluteTargetMiddleware
from skyarchive.api.routing import include
from skyarchive.api.search_threads import SearchThreads
from skyarchive.api.security_headers import SecurityHeadersMiddleware
from skyarchive.archive import Archive
from skyarchive.server_socket import REUSE_PORT, ListenerPerProcess

STATIC_DIR = Path(__file__).parent / "portal" / "static"

#: uvicorn's HTTP parser. h11 keeps an absolute-form request target (``GET http://host/...``)
#: whole, which the resolver stand-in needs (api/proxy_target.py); httptools, which uvicorn
#: would pick when installed, reduces it to the path and so hides the requested host.
HTTP_PARSER = "h11"
#: The longest request head (request line and headers) the parser reads before answering. h11's
#: own 16 KiB cap met a longer line by closing the connection mid-request, which a client sees
#: as "connection reset" instead of an answer; with room for every parameter's declared
#: length, percent-encoded, the application answers over-long values with a 4xx itself.
MAX_REQUEST_HEAD_BYTES = 1024 * 1024

#: How long an idle keep-alive connection stays open (seconds). Longer than the idle timeout of
#: what keeps connections to it: a proxy's or load balancer's pool (60 s is common) and
#: clients that expire theirs (httpx, 5 s). At uvicorn's 5 s a client sending on a connection
#: as the server closed it got "connection reset" instead of an answer (a test did, on a slow
#: machine, after an ingest of 5 s between two requests).
KEEP_ALIVE_SECONDS = 65

#: The uvicorn options every skyarchive server runs with, in one process or several. uvicorn's
#: own proxy-header handling is off: by default it would believe X-Forwarded-* from 127.0.0.1
#: behind our back; :class:`ForwardedHeadersMiddleware` and the ``trusted_proxies`` setting are
#: the one rule.
SERVER_OPTIONS: dict[str, Any] = {
    "http": HTTP_PARSER,
    "proxy_headers": False,
    "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
}

#: Threads for Download/file's look-ups: anyio's default capacity, which ran them before.
FILE_THREADS = 40

if TYPE_CHECKING:
    import uvicorn

#: The environment variable through which ``serve --workers N`` hands its settings to the worker
#: processes: uvicorn starts each one from an import string, so the app cannot be passed.
SETTINGS_ENV = "SKYARCHIVE_SERVE_SETTINGS_JSON"
APP_FACTORY = "skyarchive.web:app_from_environment"


def create_app(archive: Archive) -> FastAPI:
    from skyarchive.api import docs as api_docs
    from skyarchive.api import hips as hips_routes
    from skyarchive.api.answer_cache import open_answer_cache
    from skyarchive.api.mast import routes as mast_routes
    from skyarchive.api.portal import delivery as delivery_routes
    from skyarchive.api.portal import dois as doi_api
    from skyarchive.api.portal import edb as edb_routes
    from skyarchive.api.portal import export as portal_export
    from skyarchive.api.portal import keyword_search as keyword_search_routes
    from skyarchive.api.portal import keywords as keyword_routes
    from skyarchive.api.portal import search as portal_search
    from skyarchive.api.vo import datalink as datalink_routes
    from skyarchive.api.vo import moc as moc_routes
    from skyarchive.api.vo import registry as registry_routes
    from skyarchive.api.vo import scs as scs_routes
    from skyarchive.api.vo import sia as sia_routes
    from skyarchive.api.vo import tap as tap_routes
    from skyarchive.api.vo import uws as uws_routes
    from skyarchive.jobs.queue import enqueue_staging, enqueue_tap_job
    from skyarchive.notify.links import SeenUrl
    from skyarchive.portal import (
        account_routes,
        doi_routes,
        notice_routes,
        password_routes,
        subscription_routes,
        unsubscribe_routes,
        wss_routes,
    )
    from skyarchive.portal import routes as portal_routes
    from skyarchive.portal.error_pages import error_page

    @contextlib.asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        # The name indexes are read in threads of their own as the server starts: startup is
        # not delayed, a database that is down does not stop it, and the first name search
        # no longer pays for the reads (a request sooner than they end waits for them).
        archive.start_name_indexes()
        yield
        running.state.search_threads.close()  # the connections its loop and threads keep

    # FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: api/docs.py serves ours.
    app = FastAPI(title="skyarchive", version=__version__, docs_url=None, redoc_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.archive = archive
    # Recent search answers of this process (MAST API and portal), emptied by catalogue writes.
    # Its watch of the catalogue's generation is the archive's, shared by every app over it.
    app.state.answer_cache = open_answer_cache(archive)
    # The searches those answers do not spare share a few threads (settings.search_threads):
    # with a thread per waiting request, a dozen threads pass the GIL round and each search
    # pays for the switches (a portal search: 1.2 ms of CPU one at a time, 4.1 ms at 16
    # connections on anyio's 40 threads). api/search_threads.py says why not anyio's hand-off.
    # A short search is tried on the loop first (loop_budget.py); on PostgreSQL only when the
    # operator asks (the loop waits for its statements: Archive.search_on_loop_ms).
    app.state.search_threads = SearchThreads(
        archive.settings.search_threads,
        loop_budget_ms=archive.search_on_loop_ms,
        loop_connections=archive.loop_connections,
        thread_connections=archive.search_connections,
    )
    # Download/file's blocking look-ups (api/mast/downloads.py): as many threads as anyio's
    # limiter allowed when it ran them.
    app.state.file_threads = ThreadPoolExecutor(FILE_THREADS, thread_name_prefix="skyarchive-files")
    # The composition root binds staging to the job queue, so delivery/ never imports jobs/.
    app.state.enqueue_staging = partial(enqueue_staging, archive.settings)
    app.state.enqueue_tap_job = partial(enqueue_tap_job, archive.settings)
    # The worker's e-mails link to where the server is reached (notify/links.py).
    app.state.seen_url = SeenUrl()
    install_error_handlers(app, render_page=error_page)
    app.add_middleware(AbsoluteTargetMiddleware)
    external = archive.settings.external_hips_origin
    app.add_middleware(SecurityHeadersMiddleware, image_origins=(external,) if external else ())
    # Added last, so it runs first and rewrites the very scope dict uvicorn logs from.
    app.add_middleware(ForwardedHeadersMiddleware, trusted=archive.settings.trusted_proxy_networks,
                       kind=archive.settings.proxy_headers)  # fmt: skip
    # The routes asked most often come first (MAST searches and files, the portal's search,
    # the static files every page loads): a request is tried against the routes in order,
    # ~0.85 us each (matching the portal search took 27 us with it eighth of the routers,
    # a static file 200 us at the end), and no earlier path overlaps theirs.
    mast_routes.install(app, next_most_asked=[portal_search.router])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    include(app, portal_routes.router, wss_routes.router, portal_export.router,
            keyword_routes.router, edb_routes.router, keyword_search_routes.router,
            account_routes.router)  # fmt: skip
    password_routes.install(app)
    include(app, subscription_routes.router, notice_routes.router, doi_api.router,
            doi_api.files, doi_routes.router)  # fmt: skip
    unsubscribe_routes.install(app)
    delivery_routes.install(app)
    api_docs.install(app)
    hips_routes.install(app)
    include(app, tap_routes.router, uws_routes.router, sia_routes.router, scs_routes.router,
            datalink_routes.router, moc_routes.router, registry_routes.router)  # fmt: skip
    return app


def server_config(
    archive: Archive, *, host: str, port: int, app: FastAPI | None = None, **options: Any
) -> uvicorn.Config:
    """The uvicorn configuration of a one-process skyarchive server (CLI, demo, tests), serving
    ``app`` (the benchmarks' floor of ``create_app(archive)``) or else ``create_app(archive)``,
    with :data:`SERVER_OPTIONS`.
    """
    import uvicorn

    return uvicorn.Config(
        app or create_app(archive), host=host, port=port, **SERVER_OPTIONS, **options
    )


def app_from_environment() -> FastAPI:
    """The app of one server worker process (uvicorn's factory for ``serve --workers N``).

    Each worker opens the archive itself (its own engine and connection pool; nothing is
    shared between processes but the database, Redis and the files), from the settings the
    parent left in :data:`SETTINGS_ENV`, else from ``SKYARCHIVE_*`` variables. The parent has
    migrated the catalog already, so workers never race to upgrade it.
    """
    import os

    from skyarchive.config import Settings

    given = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(given) if given else Settings()
    return create_app(Archive.open(settings, migrate=False))


def run_server(archive: Archive, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """Serve ``archive`` until interrupted: in this process, or in ``workers`` processes.

    With several workers, uvicorn's supervisor starts them and restarts one that dies; each
    is a whole server over the same catalogue, so no request depends on which one answers
    (sessions, baskets, CSRF, rate limits and login delays live in the database). Each worker
    listens on a socket of its own on the same port (``SO_REUSEPORT``), so the kernel spreads
    new connections evenly over them (:class:`ListenerPerProcess`).
    """
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers <= 1:
        uvicorn.Server(server_config(archive, host=host, port=port, **options)).run()
        return
    os.environ[SETTINGS_ENV] = archive.settings.model_dump_json()
    config = uvicorn.Config(
        APP_FACTORY, factory=True, workers=workers, host=host, port=port,
        **SERVER_OPTIONS, **options,
    )  # fmt: skip
    listener: Any = ListenerPerProcess(host, port) if REUSE_PORT else config.bind_socket()
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[listener]).run()
