"""MastMissions (``astroquery.mast.MastMissions(mission='jwst')``): column list, dataset
search, product lists and file retrieval, translated onto the service layer.

Bad input answers 400 in the API's error shape (astroquery turns 400 into
``InvalidQueryError``); files go through the one download path and its access rule.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.mast.downloads import file_response
from skyarchive.api.request_body import read_body
from skyarchive.errors import BadQuery
from skyarchive.products.missions import dataset_products, parse_dataset_ids
from skyarchive.search import missions
from skyarchive.search.mission_columns import described_column_list
from skyarchive.search.missions import Cone, MissionColumn, MissionQuery
from skyarchive.sky.angles import parse_coordinates

router = APIRouter(tags=["MastMissions"])
MAX_BODY_BYTES = 1024 * 1024
_INFO_TYPES = {"integer": "integer", "float": "float", "ra": "float", "dec": "float"}
_RADIUS_UNITS = {"arcseconds": 1.0, "arcsec": 1.0, "arcminutes": 60.0, "arcmin": 60.0,
                 "degrees": 3600.0, "deg": 3600.0}  # fmt: skip
_NAMES = {"type": "array", "items": {"type": "string"}}
#: The JSON bodies, read by hand below, described for the OpenAPI schema (and so for fuzzing).
_SEARCH_BODY = {
    "type": "object",
    "properties": {
        "conditions": {
            "type": "array",
            "items": {"type": "object"},
            "description": 'One-key objects, e.g. [{"program": "1073,1558"}]',
        },
        "target": {**_NAMES, "description": 'Positions "<ra> <dec>" in degrees'},
        "radius": {"type": "number"},
        "radius_units": {"type": "string", "enum": list(_RADIUS_UNITS)},
        "select_cols": {**_NAMES, "nullable": True},
        "sort_by": _NAMES,
        "sort_desc": {"type": "array", "items": {"type": "boolean"}},
        "limit": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "skip_count": {"type": "boolean"},
    },
}
_PRODUCTS_BODY = {
    "type": "object",
    "properties": {"dataset_ids": {**_NAMES, "description": "fileSetName values"}},
    "required": ["dataset_ids"],
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}  # fmt: skip


@router.get("/search/util/api/v0.1/column_list")
def column_list(mission: Annotated[str, Query(max_length=40)] = "") -> JSONResponse:
    """The mission's columns: ``column_name``, ``qual_type``, ``description`` and more."""
    missions.check_mission(mission)
    return JSONResponse(described_column_list())


@router.post("/search/{mission}/api/v0.1/search", openapi_extra=_json_body(_SEARCH_BODY))
async def search(mission: str, request: Request, archive: ArchiveDep) -> JSONResponse:
    """Datasets matching ``conditions`` (and ``target`` + ``radius``), one page."""
    missions.check_mission(mission)
    body = await _json_object(request)
    query, echo = _query(body)

    def run() -> missions.MissionPage:
        with archive.search_engine.connect() as conn:
            return missions.search_datasets(conn, query, now=now_mjd())

    page = await run_in_threadpool(run)
    return JSONResponse({
        "messages": [],
        "info": [_info(c) for c in page.columns],
        "search_params": echo,
        "totalResults": page.total,
        "results": page.rows,
    })  # fmt: skip


@router.post(
    "/search/{mission}/api/v0.1/post_list_products", openapi_extra=_json_body(_PRODUCTS_BODY)
)
async def post_list_products(mission: str, request: Request, archive: ArchiveDep) -> JSONResponse:
    """The files of the datasets named in ``dataset_ids``."""
    missions.check_mission(mission)
    ids = parse_dataset_ids((await _json_object(request)).get("dataset_ids"))

    def run() -> list[dict[str, Any]]:
        with archive.search_engine.connect() as conn:
            return dataset_products(conn, ids, now=now_mjd())

    return JSONResponse({"products": await run_in_threadpool(run)})


@router.get("/search/{mission}/api/v0.1/retrieve_product")
def retrieve_product(
    mission: str,
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    product_name: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    """One file, named ``<file>`` or ``<dataset>/<file>``: for exclusive-access files only
    to the program's PI, those the PI authorised, and admins."""
    missions.check_mission(mission)
    filename = product_name.strip().rsplit("/", 1)[-1]
    if not filename:
        raise BadQuery("Give product_name=<file name> or <dataset>/<file name>.")
    return file_response(request, archive, caller, filename)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await read_body(request, limit=MAX_BODY_BYTES)
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise BadQuery("The request body is not JSON.") from None
    if not isinstance(body, dict):
        raise BadQuery("The request body must be a JSON object.")
    return body


def _query(body: dict[str, Any]) -> tuple[MissionQuery, dict[str, Any]]:
    select_cols = _names(body.get("select_cols"), "select_cols")
    cones = _cones(body)
    columns = missions.output_columns(select_cols, positional=bool(cones))
    sort_by = [missions.column(n) for n in _names(body.get("sort_by"), "sort_by") or []]
    sort_desc = body.get("sort_desc") or []
    if isinstance(sort_desc, bool):
        sort_desc = [sort_desc]
    if not isinstance(sort_desc, list) or not all(isinstance(d, bool) for d in sort_desc):
        raise BadQuery("'sort_desc' must be a list of true/false, one per sort_by column.")
    sort_desc = sort_desc + [False] * (len(sort_by) - len(sort_desc))
    query = MissionQuery(
        conditions=missions.parse_conditions(body.get("conditions")),
        cones=cones,
        columns=columns,
        sort_by=sort_by,
        sort_desc=sort_desc[: len(sort_by)],
        limit=_whole(body.get("limit", 5000), "limit"),
        offset=_whole(body.get("offset", 0), "offset"),
    )
    echo = {
        **{key: body[key] for key in ("target", "radius", "radius_units") if key in body},
        "conditions": body.get("conditions") or [],
        "limit": query.limit,
        "offset": query.offset,
        "select_cols": [c.name for c in columns],
        "sort_by": [c.name for c in sort_by] or [missions.DATASET_COLUMN],
        "sort_desc": list(query.sort_desc) or [False],
        "skip_count": bool(body.get("skip_count", False)),
        "search_key": body.get("search_key") or [],
        "user_fields": body.get("user_fields") or [],
    }
    return query, echo


def _names(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadQuery(f"'{name}' must be a list of column names.")
    return [v.strip() for v in value]


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**7:
        raise BadQuery(f"'{name}' must be a whole number from 0 to 10000000; got {value!r:.40}.")
    return value


def _cones(body: dict[str, Any]) -> list[Cone]:
    targets = body.get("target")
    if targets in (None, [], ""):
        return []
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise BadQuery("'target' must be a list of \"<ra> <dec>\" strings (degrees).")
    if len(targets) > missions.MAX_TARGETS:
        raise BadQuery(f"At most {missions.MAX_TARGETS} targets per search (got {len(targets)}).")
    radius = _radius(body)
    return [Cone(*parse_coordinates(t), radius_arcsec=radius, text=t) for t in targets]


def _radius(body: dict[str, Any]) -> float:
    units = body.get("radius_units", "arcminutes")
    scale = _RADIUS_UNITS.get(units) if isinstance(units, str) else None
    if scale is None:
        raise BadQuery(f"radius_units {units!r:.40} is not one of {', '.join(_RADIUS_UNITS)}.")
    value = body.get("radius", 3.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadQuery(f"radius {value!r:.40} is not a number.")
    arcsec = float(value) * scale
    if not 0 <= arcsec <= missions.MAX_RADIUS_ARCSEC:
        raise BadQuery(f"radius {value} {units} is outside [0, 30] arcmin.")
    return arcsec


def _info(column: MissionColumn) -> dict[str, str]:
    return {"name": column.name, "type": _INFO_TYPES.get(column.qual_type, "string")}
