"""Portal pages (HTML). The search page's data come from the JSON endpoints in api/portal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.routing import Match

from skyarchive.access.policy import Caller
from skyarchive.api.deps import CallerDep
from skyarchive.api.errors import PageRoute
from skyarchive.doi.datasets import MAX_OBSERVATIONS
from skyarchive.ingest import hips_store
from skyarchive.search.keyword_dictionary import keyword_dictionary, parse_instrument
from skyarchive.search.keyword_portal import INSTRUMENTS as KEYWORD_INSTRUMENTS
from skyarchive.search.portal_search import column_facts
from skyarchive.search.summary import archive_summary

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False, route_class=PageRoute)
_COLLECTIONS = ("position", "program", "keywords", "filters", "doi")


def caller_facts(caller: Caller) -> dict[str, Any]:
    """What the page scripts may know about the caller (the server still decides access)."""
    return {
        "anonymous": caller.anonymous,
        "name": caller.display_name or caller.email,
        "is_admin": caller.is_admin,
        "programs": sorted(caller.programs),
        "csrf_token": caller.csrf_token,
    }


def has_route(request: Request, path: str) -> bool:
    """Whether the app serves ``path`` (pages link to optional faces only when present).

    Asks each route whether it matches, so routers FastAPI includes lazily (FastAPI 0.16x
    lists them as one ``_IncludedRouter`` without a ``path``) count too.
    """
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET", "headers": []}
    return any(route.matches(scope)[0] != Match.NONE for route in request.app.router.routes)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, caller: CallerDep) -> HTMLResponse:
    summary = archive_summary(request.app.state.archive.engine)
    context = {"summary": summary, "caller": caller, **_panel("position", "", "")}
    return templates.TemplateResponse(request, "home.html", context)


def _panel(collection: str, q: str, instrument: str) -> dict[str, Any]:
    """What the search panel (_search_panel.html) shows chosen."""
    chosen = instrument.strip().upper()
    return {
        "collection": collection, "q": q, "keyword_instruments": KEYWORD_INSTRUMENTS,
        "instrument": chosen if chosen in KEYWORD_INSTRUMENTS else "NIRCAM",
    }  # fmt: skip


@router.get("/basket", response_class=HTMLResponse)
def basket_page(request: Request, caller: CallerDep) -> HTMLResponse:
    """The download basket (its file tree and delivery choices come with the delivery API)."""
    context = {"caller": caller, "basket_api": has_route(request, "/api/portal/basket")}
    return templates.TemplateResponse(request, "basket.html", context)


def _hips_layers(request: Request) -> list[dict[str, object]]:
    """The HiPS the sky view draws, bottom first: the operator's external one (if set), then
    the archive's own (once `skyarchive hips build` has run)."""
    settings = request.app.state.archive.settings
    layers: list[dict[str, object]] = []
    if settings.external_hips_url:
        layers.append({
            "url": settings.external_hips_url, "order": settings.external_hips_order,
            "width": 512, "format": settings.external_hips_format, "external": True,
        })  # fmt: skip
    archive = request.app.state.archive
    properties = hips_store.hips_properties(archive.engine, archive.storage)
    try:
        if properties:
            layers.append({
                "url": "/hips", "order": int(properties["hips_order"]),
                "width": int(properties["hips_tile_width"]),
                "format": properties.get("hips_tile_format", "png").split()[0],
            })  # fmt: skip
    except (KeyError, ValueError):  # a properties file without these is no HiPS to draw
        pass
    return layers


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    caller: CallerDep,
    collection: str = "position",
    q: str = "",
    instrument: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The search page; its script runs the search the URL describes (for the keyword
    collection also ``instrument``, ``filters`` and ``keyword``, whose dialog it opens)."""
    collection = collection if collection in _COLLECTIONS else "position"
    page_data = {
        "caller": caller_facts(caller),
        "columns": column_facts(),
        "basket_api": has_route(request, "/api/portal/basket"),
        "hips": _hips_layers(request),
        "doi_limit": MAX_OBSERVATIONS,
    }
    context = {"caller": caller, "page_data": page_data, **_panel(collection, q, instrument)}
    return templates.TemplateResponse(request, "search.html", context)


@router.get("/Portal.html")
@router.get("/portal/Mashup/Clients/Mast/Portal.html")
def mast_permalink(request: Request) -> RedirectResponse:
    """MAST portal permalinks (``?searchQuery=...``, e.g. a DOIOBS search) open our search."""
    query = request.url.query
    return RedirectResponse(f"/search?{query}" if query else "/search", status_code=303)


@router.get("/keywords", response_class=HTMLResponse)
def keywords_page(
    request: Request,
    caller: CallerDep,
    q: Annotated[str, Query(max_length=200)] = "",
    descriptions: bool = False,
    instrument: Annotated[str, Query(max_length=20)] = "",
    mode: Annotated[str, Query(max_length=60)] = "",
) -> HTMLResponse:
    """The JWST Keyword Dictionary: every keyword, by instrument and mode, filtered as the
    URL asks."""
    chosen = parse_instrument(instrument)
    dictionary = keyword_dictionary()
    chosen_mode = dictionary.parse_mode(chosen, mode)
    found = dictionary.search(q, descriptions=descriptions, instrument=chosen, mode=chosen_mode)
    context = {
        "caller": caller,
        "q": q,
        "descriptions": descriptions,
        "instrument": chosen,
        "mode": chosen_mode,
        "instruments": dictionary.instrument_groups(),
        "entries": [k.as_json(chosen) for k in found],
        "total": len(dictionary.keywords),
        "source": dictionary.source,
    }
    return templates.TemplateResponse(request, "keywords.html", context)


@router.get("/edb", response_class=HTMLResponse, response_model=None)
def edb_page(
    request: Request,
    caller: CallerDep,
    mnemonic: Annotated[str, Query(max_length=64)] = "",
    start: Annotated[str, Query(max_length=40)] = "",
    end: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse | RedirectResponse:
    """Engineering telemetry: mnemonic, time range, plot, CSV. Signed-in users, as at MAST;
    others are sent to log in and back here with the same range."""
    if caller.anonymous:
        here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
    page_data = {"mnemonic": mnemonic, "start": start, "end": end}
    context = {"caller": caller, "page_data": page_data}
    return templates.TemplateResponse(request, "edb.html", context)


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(request: Request, caller: CallerDep) -> HTMLResponse:
    """The signed-in user's delivery requests; the page script keeps running ones fresh."""
    return _deliveries(request, caller, None)


@router.get("/deliveries/{request_id}", response_class=HTMLResponse)
def delivery_page(request: Request, caller: CallerDep, request_id: str) -> HTMLResponse:
    """One delivery request (its owner, signed in or the browser whose basket made it)."""
    return _deliveries(request, caller, request_id[:40])


def _deliveries(request: Request, caller: Caller, request_id: str | None) -> HTMLResponse:
    page_data = {
        "caller": caller_facts(caller),
        "request_id": request_id,
        "basket_api": has_route(request, "/api/portal/basket"),
    }
    context = {"caller": caller, "request_id": request_id, "page_data": page_data}
    return templates.TemplateResponse(request, "deliveries.html", context)
