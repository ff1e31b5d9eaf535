"""The invoke services astroquery.mast sends, each translating MAST params to a service call."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

from skyarchive.api.mast.registry import (
    Fields,
    MastRequest,
    ServiceContext,
    TableResult,
    mast_service,
)
from skyarchive.errors import BadQuery
from skyarchive.kept import Kept
from skyarchive.products.listing import parse_obsids, product_json_batches
from skyarchive.search.columns import PRODUCT_COLUMNS, ColumnInfo, observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_columns import KeywordColumn
from skyarchive.search.keyword_dictionary import keyword_dictionary
from skyarchive.search.keyword_search import SERVICES as KEYWORD_SERVICES
from skyarchive.search.keyword_search import TABLES as KEYWORD_TABLES
from skyarchive.search.keyword_search import (
    KeywordTable,
    count_keywords,
    owning_observations,
    search_keywords,
    wire_fields,
)
from skyarchive.search.observations import (
    ObservationQuery,
    collection_counts,
    count_observations,
    search_observations,
)
from skyarchive.sky.angles import MAX_RADIUS_DEG

COUNT_COLUMNS = "COUNT_BIG(*)"
DEFAULT_RADIUS_DEG = 0.2


#: The one field of a count's answer, as MAST names it.
_COUNT_FIELDS = Fields([{"name": "Column1", "type": "string"}])
_PRODUCT_FIELDS = Fields.of(PRODUCT_COLUMNS)


def count_answer(total: int, request: MastRequest) -> TableResult:
    """The answer to ``columns=COUNT_BIG(*)``: one row of one field, the count."""
    return TableResult(_COUNT_FIELDS, [{"Column1": total}], 1, 1, request.pagesize)


@functools.lru_cache(maxsize=64)  # a choice of columns is a tuple of the table's own columns
def _keyword_fields(columns: tuple[KeywordColumn, ...]) -> Fields:
    return Fields(wire_fields(columns))


@mast_service("Mast.Caom.Cone", cached=True)
def caom_cone(ctx: ServiceContext, request: MastRequest) -> TableResult:
    params = request.params
    cone = _cone(params.get("ra"), params.get("dec"), params.get("radius", DEFAULT_RADIUS_DEG))
    return _observation_page(ctx, request, ObservationQuery(cone=cone))


@mast_service("Mast.Caom.Filtered", "Mast.Caom.Filtered.Position", cached=True)
def caom_filtered(ctx: ServiceContext, request: MastRequest) -> TableResult:
    params = request.params
    criteria = parse_criteria(params.get("filters", []), observation_column)
    cone = _optional_cone(request)
    query = ObservationQuery(criteria=criteria, cone=cone, positional_extras=cone is not None)
    return _chosen_observations(ctx, request, query)


@mast_service("Skyarchive.Jwst.Filtered.Observations", cached=True)
def jwst_keyword_observations(ctx: ServiceContext, request: MastRequest) -> TableResult:
    """The CAOM observations owning the JWST files whose header keywords match.

    Params: ``table`` (a keyword table: ``Nircam``, ``Niriss``, ``Nirspec``, ``Miri``, ``Fgs``
    or ``GuideStar``), ``filters`` as ``Mast.Jwst.Filtered.<table>`` takes them, ``columns``
    as ``Mast.Caom.Filtered`` takes them (``*``, a list, or ``COUNT_BIG(*)``). Rows are those of
    ``Mast.Caom.Filtered``, so ``Observations.get_product_list`` reads them. Each file's
    observation comes from the catalogue, not from its name.
    """
    params = request.params
    name = str(params.get("table") or "").strip()
    if name.lower() not in KEYWORD_SERVICES:
        known = ", ".join(KEYWORD_TABLES)
        raise BadQuery(f"'table' {name!r} is not a keyword table; give one of: {known}.")
    table = KeywordTable.for_service(f"Mast.Jwst.Filtered.{name}")
    criteria = parse_criteria(params.get("filters", []), table.column)
    owners = owning_observations(ctx.conn, table, criteria, now=ctx.now)
    return _chosen_observations(ctx, request, ObservationQuery(obsids=owners))


def _chosen_observations(
    ctx: ServiceContext, request: MastRequest, query: ObservationQuery
) -> TableResult:
    """The answer to ``query`` with the request's ``columns``: a page of rows, or the count."""
    columns = str(request.params.get("columns", "*") or "*").strip()
    if columns.upper().replace(" ", "") == COUNT_COLUMNS:
        total = count_observations(ctx.conn, criteria=query.criteria, cone=query.cone,
                                   obsids=query.obsids, now=ctx.now)  # fmt: skip
        return count_answer(total, request)
    if columns != "*":
        query.columns = [c.strip() for c in columns.split(",") if c.strip()]
    return _observation_page(ctx, request, query)


@mast_service("Mast.Caom.Products", cached=True)
def caom_products(ctx: ServiceContext, request: MastRequest) -> TableResult:
    obsids = parse_obsids(request.params.get("obsid"), limit=ctx.archive.settings.max_obsids)
    start = (request.page - 1) * request.pagesize
    batches = product_json_batches(ctx.conn, obsids, now=ctx.now)
    page = _PageOfBatches(batches, start, request.pagesize)
    return TableResult(
        _PRODUCT_FIELDS,
        page,
        page.total,
        request.page,
        request.pagesize,
        encoded=True,
        columns=PRODUCT_COLUMNS,
    )


class _PageOfBatches:
    """Rows ``start`` to ``start + size`` of a stream of lists of rows, counting the rows as
    the lists pass, so a page of a long list is served without holding the list, and with no
    Python step per row. ``total`` is known once the rows have been read to the end."""

    def __init__(self, batches: Iterator[list[Any]], start: int, size: int) -> None:
        self._batches, self._start, self._stop = batches, start, start + size
        self._count = 0

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(self._windows())

    def _windows(self) -> Iterator[list[Any]]:
        for batch in self._batches:
            first, self._count = self._count, self._count + len(batch)
            if self._start <= first and self._count <= self._stop:
                yield batch
            elif first < self._stop and self._start < self._count:
                yield batch[max(self._start - first, 0) : self._stop - first]

    def total(self) -> int:
        return self._count


@mast_service("Mast.Caom.All")
def caom_all(ctx: ServiceContext, request: MastRequest) -> dict[str, Any]:
    """Holdings by mission, in the ExtJS shape ``Observations.list_missions`` reads."""
    counts = collection_counts(ctx.conn)
    hist = {name: {"count": n, "key": name} for name, n in counts}
    hist_obj = {**hist, "hist": [{"key": name, "count": n} for name, n in counts]}
    column = {"text": "obs_collection", "dataIndex": "obs_collection", "type": "string",
              "ExtendedProperties": {"histObj": hist_obj}}  # fmt: skip
    table = {"name": "Mast.Caom.All", "ExtendedProperties": {}, "Columns": [column],
             "Fields": [{"name": "obs_collection", "type": "string"}],
             "Rows": [[name] for name, _ in counts]}  # fmt: skip
    return {"status": "COMPLETE", "msg": "", "data": {"name": "Mast.Caom.All", "Tables": [table]}}


@mast_service(*(f"Mast.Jwst.Filtered.{name}" for name in KEYWORD_TABLES), cached=True)
def jwst_keywords(ctx: ServiceContext, request: MastRequest) -> TableResult:
    """The JWST instrument-keyword tables: one row per FITS file, a column per keyword."""
    table = KeywordTable.for_service(request.service)
    params = request.params
    criteria = parse_criteria(params.get("filters", []), table.column)
    cone = _optional_cone(request)  # as Mast.Caom.Filtered: the files' observations' footprints
    columns = str(params.get("columns", "*") or "*")
    if columns.upper().replace(" ", "") == COUNT_COLUMNS:
        total = count_keywords(ctx.conn, table, criteria, now=ctx.now, cone=cone)
        return count_answer(total, request)
    chosen = table.chosen(columns)
    # As JSON text: a row of some 250 keywords is ~4 kB as text but ~15 kB as a dict, and the
    # route holds the first rows to decide whether to stream.
    page = search_keywords(ctx.conn, table, criteria, columns=chosen, page=request.page,
                           pagesize=request.pagesize, now=ctx.now, cone=cone,
                           as_json=True)  # fmt: skip
    return TableResult(
        _keyword_fields(tuple(chosen)),
        page.rows,
        page.total,
        request.page,
        request.pagesize,
        encoded=True,
        columns=[column.info for column in chosen],
    )


@mast_service("Mast.Jwst.Keywords")
def jwst_keyword_dictionary(ctx: ServiceContext, request: MastRequest) -> dict[str, Any]:
    """The whole Keyword Dictionary as MAST serves it: one JSON document per schema file."""
    return {**keyword_dictionary().documents(), "status": "COMPLETE", "msg": ""}


@mast_service("Mast.Name.Lookup")
def name_lookup(ctx: ServiceContext, request: MastRequest) -> dict[str, Any]:
    from skyarchive.api.mast.resolver import resolved_entries

    text = str(request.params.get("input", "")).strip()
    return {"resolvedCoordinate": resolved_entries(ctx.archive, text, resolve_all=False),
            "status": ""}  # fmt: skip


def _observation_page(ctx: ServiceContext, request: MastRequest, query: ObservationQuery):  # type: ignore[no-untyped-def]
    query.page, query.pagesize = request.page, request.pagesize
    page = search_observations(ctx.conn, query, now=ctx.now, as_json=True)
    return TableResult(
        _observation_fields(page.columns), page.rows, lambda: page.total, page.page,
        page.pagesize, encoded=True, columns=page.columns,
    )  # fmt: skip


#: The fields of each choice of observation columns, by the identity of the search layer's
#: tuple of them (the same choice is the same tuple from one search to the next), kept with
#: the tuple, so that no other tuple can take its identity while it is kept. Hashing the
#: tuple by value cost as much as writing the fields again (some 40 columns: ~6 µs a search).
_OBSERVATION_FIELDS: Kept[tuple[Sequence[ColumnInfo], Fields]] = Kept(512)


def _observation_fields(columns: Sequence[ColumnInfo]) -> Fields:
    return _OBSERVATION_FIELDS.get(id(columns), lambda: (columns, Fields.of(columns)))[1]


def _optional_cone(request: MastRequest) -> Cone | None:
    """The cone of a filtered request: ``position`` ("ra, dec, radius" in degrees, as
    astroquery forwards it) or ``ra``/``dec``/``radius``; a ``.Position`` service needs one."""
    params = request.params
    if params.get("position") not in (None, ""):
        return _position(params["position"])
    if params.get("ra") is not None and params.get("dec") is not None:
        return _cone(params["ra"], params["dec"], params.get("radius", DEFAULT_RADIUS_DEG))
    if request.service.lower().endswith(".position"):
        raise BadQuery(f"{request.service} needs 'position': \"ra, dec, radius\".")
    return None


def _cone(ra: Any, dec: Any, radius: Any) -> Cone:
    ra_deg, dec_deg, radius_deg = (_degrees(v, name) for v, name in
                                   ((ra, "ra"), (dec, "dec"), (radius, "radius")))  # fmt: skip
    if not -90.0 <= dec_deg <= 90.0:
        raise BadQuery(f"Dec {dec_deg} deg is outside [-90, 90] deg.")
    if not 0.0 <= radius_deg <= MAX_RADIUS_DEG:
        raise BadQuery(f"Radius {radius_deg} deg is outside [0, {MAX_RADIUS_DEG:g}] deg.")
    return Cone(ra_deg % 360.0, dec_deg, radius_deg)


def _position(text: Any) -> Cone:
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise BadQuery(f"position {text!r} must be 'ra, dec, radius' in degrees.")
    return _cone(*parts)


def _degrees(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadQuery(f"{name} {value!r} is not a number of degrees.") from None
    if not math.isfinite(number):
        raise BadQuery(f"{name} {value!r} is not a finite number of degrees.")
    return number
