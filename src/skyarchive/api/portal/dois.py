"""DOIs for data sets over HTTP; see docs/dois.md.

JSON for the portal's scripts (under ``/api/portal/dois``):

* ``POST /api/portal/dois`` (signed in, CSRF-checked): a data set from obsids (a search
  result) or from the caller's basket, described, with its DOI reserved; 201;
* ``GET /api/portal/dois``: the caller's data sets.

Files of a DOI (errors are pages for a browser):

* ``GET /doi/<prefix>/<suffix>/datacite.json``: the DataCite JSON:API document, for
  registration by hand when no agency is configured;
* ``GET /doi/<prefix>/<suffix>/bundle.zip[?mrp=true]``: the data set's files as one
  streamed zip, through the delivery façade (the one access rule decides per file);
* ``GET /doi/<prefix>/<suffix>/download.sh[?mrp=true]``: the same as a cURL script.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from skyarchive.api.delivery_responses import bundle_response, script_response
from skyarchive.api.deps import (
    CSRF_HEADER,
    ArchiveDep,
    CallerDep,
    PublicUrlDep,
    UserDep,
    check_csrf,
)
from skyarchive.api.errors import PageRoute
from skyarchive.api.file_headers import file_headers
from skyarchive.delivery import basket as baskets
from skyarchive.delivery.curl_script import curl_script
from skyarchive.delivery.scripts import script_entries
from skyarchive.delivery.service import NamedBundle, bundle
from skyarchive.doi.datasets import MAX_OBSERVATIONS, Dataset, DatasetDraft, datasets_of
from skyarchive.doi.service import (
    datacite_export,
    landing_url,
    observations_of_doi,
    reserve_doi,
)

router = APIRouter(prefix="/api/portal/dois", tags=["Portal DOIs"])
files = APIRouter(prefix="/doi", tags=["DOI files"], route_class=PageRoute)

MrpQuery = Annotated[bool, Query(description="true: only Minimum Recommended Products")]


class DatasetBody(BaseModel):
    title: str = Field(..., max_length=2000)
    creators: list[str] = Field(..., max_length=1000, description="'Family, Given' per person")
    description: str = Field(..., max_length=50_000)
    related: str = Field("", max_length=400, description="The paper's DOI or ADS bibcode")
    source: Literal["obsids", "basket"] = Field(
        "obsids", description="obsids: the list given (a search result); basket: your basket"
    )
    # One past the limit is let through, so the service's message names the limit.
    obsids: list[int | str] = Field(default_factory=list, max_length=MAX_OBSERVATIONS + 1)


def describe(dataset: Dataset, base: str) -> dict[str, Any]:
    return {
        "doi": dataset.doi, "title": dataset.title, "creators": list(dataset.creators),
        "state": dataset.state, "agency": dataset.agency,
        "observations": dataset.observation_count, "year": dataset.publication_year,
        "landing": landing_url(base, dataset.doi),
        "datacite": f"{landing_url(base, dataset.doi)}/datacite.json",
    }  # fmt: skip


@router.post("", status_code=201)
def create(
    body: DatasetBody, request: Request, archive: ArchiveDep, caller: UserDep, base: PublicUrlDep
) -> JSONResponse:
    """Build a data set and reserve its DOI (a local draft, or a DataCite draft)."""
    check_csrf(caller, request.headers.get(CSRF_HEADER))
    obsids: list[object] = list(body.obsids)
    if body.source == "basket":
        with archive.engine.connect() as conn:
            basket_id = baskets.find_basket(
                conn, caller=caller, cookie=None,
                anonymous_days=archive.settings.anonymous_basket_days,
            )  # fmt: skip
            obsids = list(baskets.basket_obsids(conn, basket_id=basket_id))
    draft = DatasetDraft(body.title, tuple(body.creators), body.description, body.related)
    dataset = reserve_doi(archive.engine, archive.settings, caller=caller, draft=draft,
                          obsids=obsids, base_url=base)  # fmt: skip
    return JSONResponse(describe(dataset, base), status_code=201)


@router.get("")
def mine(archive: ArchiveDep, caller: UserDep, base: PublicUrlDep) -> dict[str, Any]:
    """The caller's data sets, newest first."""
    with archive.engine.connect() as conn:
        found = datasets_of(conn, user_id=int(caller.user_id or 0))
    return {"dois": [describe(dataset, base) for dataset in found]}


@files.get("/{prefix}/{suffix}/datacite.json")
def datacite_json(prefix: str, suffix: str, archive: ArchiveDep, base: PublicUrlDep) -> Response:
    """The DataCite JSON:API document of the DOI (for ``POST /dois`` by hand)."""
    document = datacite_export(archive.engine, archive.settings, doi=f"{prefix}/{suffix}",
                               base_url=base)  # fmt: skip
    headers = file_headers(f"{suffix}.datacite.json", "application/json")
    return JSONResponse(document, headers=headers)


@files.get("/{prefix}/{suffix}/bundle.zip")
def dataset_bundle(
    prefix: str, suffix: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
    mrp: MrpQuery = False,
) -> Response:  # fmt: skip
    """The data set's files (or its recommended ones) that the caller may have, as one zip."""
    dataset, obsids = observations_of_doi(archive.engine, f"{prefix}/{suffix}")
    named = bundle(archive, caller=caller, fmt="zip", base_url=base, obsids=obsids,
                   mrp_only=mrp)  # fmt: skip
    name = f"{dataset.doi.replace('/', '_')}{'_mrp' if mrp else ''}.zip"
    return bundle_response(NamedBundle(named.bundle, name))


@files.get("/{prefix}/{suffix}/download.sh")
def dataset_script(
    prefix: str, suffix: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
    mrp: MrpQuery = False,
) -> Response:  # fmt: skip
    """A cURL script of the data set's files; exclusive ones need the runner's token."""
    _dataset, obsids = observations_of_doi(archive.engine, f"{prefix}/{suffix}")
    entries = script_entries(archive.engine, caller, uris=[], obsids=obsids, mrp_only=mrp)
    return script_response(curl_script(entries, base_url=base))
