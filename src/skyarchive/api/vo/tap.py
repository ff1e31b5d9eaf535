"""``/vo/tap``: TAP 1.1 synchronous queries and the service's VOSI and examples documents.

Parameters come as a query string (GET) or a form body (POST), names in any case, as DALI
says. The query runs in :func:`skyarchive.vo.tap.execute_adql`; ``/vo/tap/async`` is the UWS
module's (``api/vo/uws.py``). Errors are DALI VOTables (:class:`VoRoute`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep
from skyarchive.api.errors import VoRoute
from skyarchive.api.vo.params import add_dali_route
from skyarchive.api.vo.vosi import add_vosi_routes
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.vo import tap
from skyarchive.vo.identifiers import TAP_PATH
from skyarchive.vo.tap_schema import all_tables
from skyarchive.vo.tap_tables import KEYS, SCHEMAS
from skyarchive.vo.tap_vosi import examples_html, tables_xml, tap_capabilities
from skyarchive.vo.vosi import VOSI_MEDIA_TYPE, Capability

router = APIRouter(route_class=VoRoute, tags=["VO: TAP"])
#: Parameters a sync query takes (others are ignored, as DALI allows).
LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")


async def _parameters(request: Request) -> dict[str, str]:
    """The request's parameters by upper-case name (the last value of a repeated one)."""
    given = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        given += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return {name.upper(): value for name, value in given}


def _maxrec(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise BadQuery(f"MAXREC {value[:40]!r} is not a whole number of rows.") from exc


async def sync(
    request: Request, archive: ArchiveDep, caller: CallerDep, base_url: PublicUrlDep
) -> Response:
    params = await _parameters(request)
    request_kind = params.get("REQUEST")
    if request_kind is not None and request_kind.lower() != "doquery":
        raise BadQuery(f"REQUEST {request_kind[:40]!r} is not offered; use doQuery (or omit it).")
    lang = params.get("LANG")
    if lang is None:
        raise BadQuery("LANG is missing: give LANG=ADQL.")
    if lang.upper() not in LANGUAGES:
        raise BadQuery(f"LANG {lang[:40]!r} is not offered; use LANG=ADQL.")
    query = params.get("QUERY")
    if query is None:
        raise BadQuery("QUERY is missing: give an ADQL SELECT statement.")
    if params.get("UPLOAD"):
        raise BadQuery("UPLOAD is not offered by this service.")
    response_format = params.get("RESPONSEFORMAT") or params.get("FORMAT")
    maxrec = _maxrec(params.get("MAXREC"))
    answer = await run_in_threadpool(
        tap.execute_adql, archive, caller, query, maxrec=maxrec,
        response_format=response_format, base_url=base_url,
    )  # fmt: skip
    return Response(answer.body, media_type=answer.media_type)


add_dali_route(router, f"{TAP_PATH}/sync", sync, summary="Run an ADQL query", name="tap_sync")


def _capabilities(archive: Archive) -> list[Capability]:
    return tap_capabilities(
        default_maxrec=tap.DEFAULT_MAXREC, hard_maxrec=archive.settings.tap_sync_maxrec
    )


add_vosi_routes(router, TAP_PATH, _capabilities)


@router.get(f"{TAP_PATH}/tables", summary="VOSI tables: every table and column")
def tables() -> Response:
    return Response(tables_xml(all_tables(), SCHEMAS, keys=KEYS), media_type=VOSI_MEDIA_TYPE)


@router.get(f"{TAP_PATH}/examples", summary="DALI examples of ADQL queries")
def examples(base_url: PublicUrlDep) -> Response:
    return Response(examples_html(base_url), media_type="application/xhtml+xml")
