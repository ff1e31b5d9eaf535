"""How each face puts its routes on the app: in the app's own route table, as they are."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def include(app: FastAPI, *routers: APIRouter) -> None:
    """The routes of ``routers`` on ``app``, in their order, after those already there.

    Not ``app.include_router``: since FastAPI 0.137 it keeps each included router as a node
    of the route tree that is walked again for every request (each router before the one
    that answers cost 4-5 us; a VO request walked ~150 us of routers, a static file ~200 us:
    docs/performance.md). Our routers add nothing at inclusion (no prefix, dependency, tag or
    lifespan given to ``include_router``), and their routes carry their own prefix, tags,
    route class and schema flag, so the routes stand in the app's table directly, as they
    did in every FastAPI before 0.137.
    """
    for router in routers:
        app.router.routes.extend(router.routes)
