"""The portal's keyword-search endpoints (JSON, under ``/api/portal/keyword-search``).

Thin translations onto :mod:`skyarchive.search.keyword_portal`: one page of files, a column's
values with counts, the live count, and the observations of the matching files. Errors take
the one shape of :mod:`skyarchive.api.errors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep
from skyarchive.api.portal.search import filter_values_text
from skyarchive.archive import Archive
from skyarchive.search.keyword_portal import (
    INSTRUMENTS,
    MAX_PAGE_SIZE,
    KeywordQuery,
    keyword_column_facts,
    keyword_count,
    keyword_observations,
    keyword_table,
    keyword_values,
    search_keyword_files,
)
from skyarchive.search.portal_query import parse_position_text

router = APIRouter(prefix="/api/portal/keyword-search", tags=["Portal"])

#: A catalog id: a 64-bit integer.
ProductId = Annotated[int, Field(ge=0, le=2**63 - 1)]


class KeywordBody(BaseModel):
    instrument: str = Field(..., max_length=40, description="NIRCam, NIRISS, NIRSpec, MIRI or FGS")
    text: str = Field("", max_length=300, description="Optional name or coordinates, 'r=' radius")
    filters: list[dict[str, Any]] = Field(default_factory=list, description="MAST-style filters")
    product_ids: list[ProductId] = Field(
        default_factory=list, max_length=10_000, description="Only these files (selected rows)"
    )


class SearchBody(KeywordBody):
    sort: str | None = Field(None, max_length=60, description="Column to sort by")
    descending: bool = False
    page: int = Field(1, ge=1, le=1_000_000)
    pagesize: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ValuesBody(KeywordBody):
    column: str = Field(..., max_length=60)


def _query(body: KeywordBody, archive: Archive, **paging: Any) -> KeywordQuery:
    text = body.text.strip()
    position = parse_position_text(text, archive.resolver) if text else None
    return KeywordQuery(body.instrument, body.filters, position, tuple(body.product_ids), **paging)


@router.get("/columns")
def columns(
    instrument: Annotated[str, Query(max_length=40, description="NIRCam, NIRISS, ...")],
) -> dict[str, Any]:
    """The columns of an instrument's keyword table, as the grid and filter dialog use them."""
    table = keyword_table(instrument)
    return {
        "instrument": table.instrument,
        "label": INSTRUMENTS[table.instrument],
        "columns": keyword_column_facts(table),
    }


@router.post("/search")
def search(body: SearchBody, archive: ArchiveDep) -> dict[str, Any]:
    """One page of files matching the filters (and cone), sorted as asked, with facets."""
    query = _query(body, archive, sort=body.sort, descending=body.descending, page=body.page,
                   pagesize=body.pagesize)  # fmt: skip
    with archive.search_engine.connect() as conn:
        found = search_keyword_files(conn, query, now=now_mjd())
    position = query.position
    return {
        **found,
        "instrument": keyword_table(body.instrument).instrument,
        "page": body.page,
        "pagesize": body.pagesize,
        "display": _display(query),
        "position": None if position is None else {
            "ra": position.ra, "dec": position.dec, "radius": position.radius,
            "canonical_name": position.canonical_name,
        },
    }  # fmt: skip


def _display(query: KeywordQuery) -> str:
    """``NIRISS keywords; WASP-39, radius: 0.05°; exp_type: NIS_SOSS; date_obs_mjd: a..b``."""
    parts = [f"{INSTRUMENTS[query.instrument.strip().upper()]} keywords"]
    if query.position is not None:
        parts.append(query.position.display)
    for entry in query.filters:
        parts.append(f"{entry.get('paramName')}: {filter_values_text(entry)}")
    if query.product_ids:
        parts.append(f"{len(query.product_ids)} selected files")
    return "; ".join(parts)


@router.post("/values")
def values(body: ValuesBody, archive: ArchiveDep) -> dict[str, Any]:
    """A keyword's values with counts over all matching files (numbers and dates: the range)."""
    query = _query(body, archive)
    with archive.search_engine.connect() as conn:
        return keyword_values(conn, query, body.column, now=now_mjd())


@router.post("/count")
def count(body: KeywordBody, archive: ArchiveDep) -> dict[str, int]:
    """How many files match (the filter dialog's live count)."""
    query = _query(body, archive)
    with archive.search_engine.connect() as conn:
        return {"count": keyword_count(conn, query, now=now_mjd())}


@router.post("/observations")
def observations(body: KeywordBody, archive: ArchiveDep) -> dict[str, Any]:
    """The observations (obsid) owning the matching or the selected files."""
    query = _query(body, archive)
    with archive.search_engine.connect() as conn:
        obsids = keyword_observations(conn, query, now=now_mjd())
    return {"obsids": [str(obsid) for obsid in obsids], "count": len(obsids)}
